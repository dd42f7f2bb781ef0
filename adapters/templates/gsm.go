package templates

import (
	"strings"
	"unicode"
	"unicode/utf16"
)

// The two SMS encodings.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// Part sizes (3GPP TS 23.038/23.040): a long message loses 7 septets (GSM-7) or 3 UCS-2 units of each
// part to the concatenation header.
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// gsmBasic is the GSM 03.38 default alphabet (without the escape code itself).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters sent as escape + code, so each takes two septets.
const gsmExtension = "\f^{}\\[~]|€"

// gsmSeptets returns how many septets r takes in GSM-7, or 0 if GSM-7 cannot encode it.
func gsmSeptets(r rune) int {
	switch {
	case strings.ContainsRune(gsmBasic, r):
		return 1
	case strings.ContainsRune(gsmExtension, r):
		return 2
	}
	return 0
}

// IsGSM7 reports whether every character of s is in the GSM-7 alphabet (basic or extension), so an SMS
// of s is sent 7 bits a character rather than as UCS-2.
func IsGSM7(s string) bool {
	for _, r := range s {
		if gsmSeptets(r) == 0 {
			return false
		}
	}
	return true
}

// SMSParts returns the encoding an SMS of s needs and how many parts it is billed as. GSM-7 fits 160
// septets in one part and 153 in each part of a longer one, the extension characters ^{}\[~]|€
// counting two; one character outside GSM-7 (₹, an emoji, Devanagari) makes the whole message UCS-2:
// 70 UTF-16 units in one part, 67 in each part of a longer one. A character is never split across
// two parts. The empty string is 0 parts.
func SMSParts(s string) (encoding string, parts int) {
	if s == "" {
		return EncodingGSM7, 0
	}
	if IsGSM7(s) {
		return EncodingGSM7, countParts(s, gsmSingle, gsmPart, gsmSeptets)
	}
	return EncodingUCS2, countParts(s, ucs2Single, ucs2Part, func(r rune) int {
		if n := utf16.RuneLen(r); n > 0 {
			return n // 2 for a surrogate pair, as most emoji are
		}
		return 1 // invalid UTF-8 is sent as U+FFFD
	})
}

// countParts returns 1 when the message's total width fits single, else how many parts of at most
// part units each it fills when characters are packed in order without splitting one.
func countParts(s string, single, part int, width func(rune) int) int {
	total := 0
	for _, r := range s {
		total += width(r)
	}
	if total <= single {
		return 1
	}
	parts, used := 1, 0
	for _, r := range s {
		w := width(r)
		if used+w > part {
			parts++
			used = 0
		}
		used += w
	}
	return parts
}

// ToGSM7 returns s with the characters GSM-7 lacks replaced, so that text from outside (a carrier
// name, a refund note) cannot turn an SMS into UCS-2 and triple its cost: ₹ becomes "Rs", typographic
// quotes and dashes become their ASCII forms, other spaces become a space, and anything else "?".
func ToGSM7(s string) string {
	if IsGSM7(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case gsmSeptets(r) > 0:
			b.WriteRune(r)
		case r == '₹':
			b.WriteString("Rs")
		case r == '‘' || r == '’' || r == '′':
			b.WriteByte('\'')
		case r == '“' || r == '”' || r == '″':
			b.WriteByte('"')
		case r == '–' || r == '—' || r == '‐' || r == '‑' || r == '−':
			b.WriteByte('-')
		case r == '…':
			b.WriteString("...")
		case r == '\t' || unicode.IsSpace(r):
			b.WriteByte(' ')
		case r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\ufeff':
			// zero-width characters: drop them
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// The longest values the SMS templates take and still fit one part with the longest realistic order
// data and links (see TestSMSFitOnePartWithLongestValues): the name an SMS greets the customer with,
// the shop's name every SMS begins with (SHOP_NAME) and the words for when a refund arrives
// (REFUND_EXPECTATION), in septets.
const (
	MaxSMSName              = 16
	MaxSMSShopName          = 14
	MaxSMSRefundExpectation = 40
)

// SMSWidth is how many septets s takes in an SMS, once ToGSM7 has replaced what GSM-7 lacks.
func SMSWidth(s string) int {
	n := 0
	for _, r := range ToGSM7(s) {
		n += gsmSeptets(r)
	}
	return n
}

// SMSName returns the name an SMS greets the customer by: their given name (the first word of the
// name that is not an initial such as "K." or a title such as "Dr"), or "there" when that is empty,
// longer than MaxSMSName, not GSM-7 (a Devanagari name would make the SMS UCS-2), or looks like an
// address. The e-mail greets by the full name; the SMS cannot spare the characters. The data is left
// whole so both channels share it.
func SMSName(full string) string {
	words := strings.Fields(full)
	name := ""
	for _, w := range words {
		if !isInitialOrTitle(w) {
			name = w
			break
		}
	}
	name = strings.Trim(name, ",;:")
	// A word with : / @ or an inner dot is no name, and could be read as a link.
	if name == "" || len([]rune(name)) > MaxSMSName || !isGSMBasic(name) ||
		strings.ContainsAny(strings.TrimSuffix(name, "."), ":/@.") {
		return "there"
	}
	return name
}

// isInitialOrTitle reports whether w is an initial ("K", "K.", "A.R.") or a title ("Dr.", "Smt").
func isInitialOrTitle(w string) bool {
	w = strings.TrimSuffix(w, ".")
	switch strings.ToLower(w) {
	case "mr", "mrs", "ms", "miss", "dr", "prof", "shri", "sri", "smt", "kum":
		return true
	}
	n := len([]rune(w))
	return n <= 1 || (strings.Contains(w, ".") && n <= 3)
}

// isGSMBasic reports whether every character of s takes one septet, so a name of n characters costs n.
func isGSMBasic(s string) bool {
	for _, r := range s {
		if gsmSeptets(r) != 1 || r == '\n' || r == '\r' {
			return false
		}
	}
	return true
}
