package printable_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/certibuy/orders/domain/printable"
)

func TestFirstRefused(t *testing.T) {
	for _, s := range []string{
		"Asha Rao",
		"क्\u200dषमा",           // Devanagari: ka, virama, ZWJ, ssa (the half form)
		"மோஹன்\u200cராஜ்",       // Tamil with a ZWNJ after the virama
		"മോഹന്\u200dലാല്\u200d", // Malayalam chillus written with ZWJ, one at the end of the word
		"ശ്രീ\u200cകുമാർ",
		"Zoë O'Brien-Smith",
	} {
		if r, at, ok := printable.FirstRefused(s); ok {
			t.Errorf("%q: refused %s at %d", s, printable.Name(r), at)
		}
	}
	for _, c := range []struct {
		s    string
		want rune
	}{
		{"Asha\x00", 0},
		{"Asha\x1b[31m", 0x1b},
		{"Asha\u0085Rao", 0x85},
		{"Asha\u2028Rao", 0x2028},
		{"Asha\u2029", 0x2029},
		{"\u202eoaR ahsA", 0x202e},
		{"Asha\u202a", 0x202a},
		{"\u2066Asha\u2069", 0x2066},
		{"Asha\u2069", 0x2069},
		{"\u200b\u200b", 0x200b},
		{"\ufeffAsha", 0xfeff},
		{"\u200d", 0x200d},      // a joiner with nothing to join
		{" \u200cAsha", 0x200c}, // after a space
		{"क\u200d\u200dष", 0x200d},
		{"Asha\xffRao", 0xfffd},
	} {
		r, _, ok := printable.FirstRefused(c.s)
		if !ok || r != c.want {
			t.Errorf("%q: refused %v %s, want %s", c.s, ok, printable.Name(r), printable.Name(c.want))
		}
	}
}

func TestEscapeShowsWhatItRefuses(t *testing.T) {
	for in, want := range map[string]string{
		"Asha Rao": "Asha Rao",
		"മോഹന്\u200dലാല്\u200d":     "മോഹന്\u200dലാല്\u200d",
		"customer:x\x1b[2J\nforged": `customer:x\x1b[2J\x0aforged`,
		"\u202eoaR ahsA":            `\u202eoaR ahsA`,
		"a\u200bb\u200dc":           `a\u200bb` + "\u200d" + "c",
		"\u200dAsha":                `\u200dAsha`,
		"bad \xff byte\u0085":       `bad \xff byte\u0085`,
		"line\u2028 two\tcolumns\r": `line\u2028 two\x09columns\x0d`,
	} {
		if got := printable.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := printable.EscapeKeepingLayout("<td>\u202eA\x1b</td>\n\t<td>"); got != `<td>\u202eA\x1b</td>`+"\n\t<td>" {
		t.Errorf("EscapeKeepingLayout = %q", got)
	}
}

func TestEscapeJSONDecodesToTheSameString(t *testing.T) {
	in := "a\u0085\u202e\x7f\U000e0001\u200b" + "क्\u200dष"
	js, err := json.MarshalIndent(map[string]string{"actor": in}, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	out := printable.EscapeJSON(js)
	if _, _, bad := printable.FirstRefused(strings.NewReplacer("\n", "", "\t", "").Replace(string(out))); bad {
		t.Fatalf("EscapeJSON left a refused character: %q", out)
	}
	if !strings.Contains(string(out), `\u202e`) || !strings.Contains(string(out), `\udb40\udc01`) || !strings.Contains(string(out), "\u200d") {
		t.Fatalf("EscapeJSON wrote %s", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["actor"] != in {
		t.Fatalf("decodes to %q (%v), want %q", back["actor"], err, in)
	}
}
