package templates

import (
	"strings"
	"testing"
)

func TestSMSParts(t *testing.T) {
	cases := []struct {
		name  string
		s     string
		enc   string
		parts int
	}{
		{"empty", "", EncodingGSM7, 0},
		{"short", "CertiBuy: your order CB-7K3M9Q2X is confirmed", EncodingGSM7, 1},
		{"160 plain", strings.Repeat("a", 160), EncodingGSM7, 1},
		{"161 plain", strings.Repeat("a", 161), EncodingGSM7, 2},
		{"306 plain", strings.Repeat("a", 306), EncodingGSM7, 2},
		{"307 plain", strings.Repeat("a", 307), EncodingGSM7, 3},
		{"GSM accents are one septet", strings.Repeat("é", 160), EncodingGSM7, 1},
		{"80 braces are 160 septets", strings.Repeat("{", 80), EncodingGSM7, 1},
		{"81 braces are 162 septets", strings.Repeat("{", 81), EncodingGSM7, 2},
		{"euro counts double", strings.Repeat("a", 159) + "€", EncodingGSM7, 2},
		{"every extension char", "^{}\\[~]|€", EncodingGSM7, 1},
		// 152 a then an escape pair: the pair does not fit the first part's last septet.
		{"escape pair not split", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 152), EncodingGSM7, 3},
		{"Rs stays GSM-7", "Paid Rs 1,29,900.00", EncodingGSM7, 1},
		{"rupee sign makes UCS-2", "Paid ₹1,29,900.00", EncodingUCS2, 1},
		{"70 with rupee sign", "₹" + strings.Repeat("a", 69), EncodingUCS2, 1},
		{"71 with rupee sign", "₹" + strings.Repeat("a", 70), EncodingUCS2, 2},
		{"134 with rupee sign", "₹" + strings.Repeat("a", 133), EncodingUCS2, 2},
		{"135 with rupee sign", "₹" + strings.Repeat("a", 134), EncodingUCS2, 3},
		{"emoji is two units", strings.Repeat("😀", 35), EncodingUCS2, 1},
		{"36 emoji", strings.Repeat("😀", 36), EncodingUCS2, 2},
		// 66 units then an emoji: the surrogate pair would straddle parts, so it starts part two.
		{"surrogate pair not split", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 66), EncodingUCS2, 3},
		{"Devanagari", "आपका ऑर्डर भेज दिया गया है", EncodingUCS2, 1},
		{"a 120-character SMS with one emoji", strings.Repeat("a", 119) + "🎉", EncodingUCS2, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc, parts := SMSParts(c.s)
			if enc != c.enc || parts != c.parts {
				t.Errorf("SMSParts = %s, %d; want %s, %d", enc, parts, c.enc, c.parts)
			}
		})
	}
}

func TestIsGSM7(t *testing.T) {
	for s, want := range map[string]bool{
		"Rs 1,29,900.00": true,
		"@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r": true,
		"{braces} [brackets] ~^|\\€": true,
		"₹100":                       false,
		"ok 👍":                       false,
		"café":                       true,
		"naïve":                      false, // ï is not in the GSM alphabet
		"“quoted”":                   false,
		"tab\there":                  false,
	} {
		if got := IsGSM7(s); got != want {
			t.Errorf("IsGSM7(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestToGSM7(t *testing.T) {
	for in, want := range map[string]string{
		"Rs 1,299.00":          "Rs 1,299.00",
		"₹1,299.00":            "Rs1,299.00",
		"5–7 working days":     "5-7 working days",
		"it’s “here”…":         `it's "here"...`,
		"Blue\u00a0Dart":       "Blue Dart",
		"zero\u200bwidth":      "zerowidth",
		"राम":                  "???",
		"{keep} the € and [~]": "{keep} the € and [~]",
	} {
		got := ToGSM7(in)
		if got != want {
			t.Errorf("ToGSM7(%q) = %q, want %q", in, got, want)
		}
		if !IsGSM7(got) {
			t.Errorf("ToGSM7(%q) = %q is not GSM-7", in, got)
		}
	}
}

func TestSMSName(t *testing.T) {
	for in, want := range map[string]string{
		"Asha Rao": "Asha",
		"  asha  ": "asha",
		"Venkatanarasimha Raghavendra Subramaniam": "Venkatanarasimha",
		"K. Srinivasan":             "Srinivasan",
		"A R Rahman":                "Rahman",
		"Dr. Meera Iyer":            "Meera",
		"Smt Lakshmi Devi":          "Lakshmi",
		"Chakravarthyvenkatesh Rao": "there", // 21 letters: longer than MaxSMSName
		"राहुल शर्मा":               "there",
		"Zoë Fernandes":             "there", // ë is not GSM-7
		"José D'Souza":              "José",
		"":                          "there",
		"K.":                        "there",
	} {
		if got := SMSName(in); got != want {
			t.Errorf("SMSName(%q) = %q, want %q", in, got, want)
		}
	}
}
