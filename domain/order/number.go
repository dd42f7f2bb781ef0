package order

import (
	"fmt"
	"io"
	"strings"
)

// numberAlphabet leaves out 0, O, 1, I, L and U so that a number read over the phone is not misheard.
const numberAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

const numberLen = 8

// Number is the human order number, such as CB-7K3M9Q2X.
type Number struct {
	s string
}

// NewNumber draws a fresh order number from r (crypto/rand.Reader in production).
func NewNumber(r io.Reader) (Number, error) {
	buf := make([]byte, numberLen)
	out := make([]byte, 0, numberLen)
	for len(out) < numberLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return Number{}, fmt.Errorf("draw order number: %w", err)
		}
		for _, b := range buf {
			// 240 is the largest multiple of 30 below 256: rejecting the rest keeps every letter equally likely.
			if b < 240 && len(out) < numberLen {
				out = append(out, numberAlphabet[int(b)%len(numberAlphabet)])
			}
		}
	}
	return Number{s: "CB-" + string(out)}, nil
}

// ParseNumber checks that s is an order number; it accepts lower case.
func ParseNumber(s string) (Number, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	rest, ok := strings.CutPrefix(s, "CB-")
	if !ok || len(rest) != numberLen || strings.Trim(rest, numberAlphabet) != "" {
		return Number{}, fmt.Errorf("%w: %q is not an order number like CB-7K3M9Q2X", ErrInvalidInput, s)
	}
	return Number{s: s}, nil
}

// String returns the number.
func (n Number) String() string { return n.s }
