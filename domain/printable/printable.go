// Package printable decides which characters text from outside may hold, and shows the others
// visibly. Refused are control characters (Unicode category Cc, U+0085 included), format characters
// (Cf: bidirectional overrides and isolates, zero-width spaces, the byte-order mark, …) and the
// line and paragraph separators U+2028 and U+2029: they move a terminal's cursor, reorder what a
// reader sees, or hide text. A zero-width joiner or non-joiner (U+200D, U+200C) is kept right after a
// letter or a mark, where Indian scripts use it (क्‍ष, a Malayalam chillu such as ന്‍ at the end of
// a word); anywhere else it only hides.
//
// The domain refuses such text on the way in (FirstRefused); whatever prints stored or outside text
// (the CLI, the admin console) passes it through Escape, for what was stored before the rule.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	zwnj = '\u200C'
	zwj  = '\u200D'
)

// refused reports whether r, following prev (utf8.RuneError at the start), is refused.
func refused(prev, r rune) bool {
	switch {
	case r == zwj || r == zwnj:
		return !(unicode.IsLetter(prev) || unicode.IsMark(prev))
	case r == '\u2028' || r == '\u2029':
		return true
	}
	return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)
}

// FirstRefused returns the first refused character of s and its byte offset; ok is false when s
// holds none. A byte that is not UTF-8 is refused, as utf8.RuneError.
func FirstRefused(s string) (r rune, at int, ok bool) {
	prev := utf8.RuneError
	for i, c := range s {
		if c == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return c, i, true
			}
		}
		if refused(prev, c) {
			return c, i, true
		}
		prev = c
	}
	return 0, 0, false
}

// Name is how a refusal names a character: U+202E.
func Name(r rune) string { return fmt.Sprintf("U+%04X", r) }

// Escape returns s with each refused character written out: \x1b for an ASCII control character,
// \u202e (\U000e0001 above U+FFFF) for any other, and \xff for a byte that is not UTF-8. Text
// without them is returned as is.
func Escape(s string) string { return escape(s, "") }

// EscapeKeepingLayout is Escape, except that tabs, line feeds and carriage returns stay: for a whole
// page or document, whose own layout uses them. The text put into it must not rely on them to stay
// on one line.
func EscapeKeepingLayout(s string) string { return escape(s, "\t\n\r") }

func escape(s, keep string) string {
	if _, _, ok := FirstRefused(s); !ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	prev := utf8.RuneError
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case refused(prev, c) && !strings.ContainsRune(keep, c):
			switch {
			case c < 0x80:
				fmt.Fprintf(&b, `\x%02x`, c)
			case c > 0xFFFF:
				fmt.Fprintf(&b, `\U%08x`, c)
			default:
				fmt.Fprintf(&b, `\u%04x`, c)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		prev = c
		i += n
	}
	return b.String()
}

// EscapeJSON writes each refused character of JSON text as a JSON escape (\u202e; a surrogate pair
// above U+FFFF), which decodes to the same string. encoding/json escapes the ASCII control
// characters and U+2028/2029 itself, but leaves DEL, C1 controls and format characters as they are.
// js must be valid UTF-8, as encoding/json writes it; outside strings it holds none of them, only
// whitespace, which stays.
func EscapeJSON(js []byte) []byte {
	s := string(js)
	if _, _, ok := FirstRefused(s); !ok {
		return js
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	prev := utf8.RuneError
	for _, c := range s {
		switch {
		case !refused(prev, c) || c == '\t' || c == '\n' || c == '\r':
			b.WriteRune(c) // tabs and line breaks: JSON's own whitespace, written escaped inside strings
		case c > 0xFFFF:
			r1, r2 := utf16.EncodeRune(c)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, c)
		}
		prev = c
	}
	return []byte(b.String())
}
