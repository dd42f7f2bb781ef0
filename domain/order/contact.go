package order

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/certibuy/orders/domain/printable"
)

// Phone is an Indian mobile number in E.164 form: +91 and ten digits, the first 6–9.
type Phone struct {
	e164 string
}

// NewPhone accepts 9876543210, 09876543210, 919876543210, +919876543210 and the same with spaces,
// dashes or brackets, and returns it as E.164.
func NewPhone(s string) (Phone, error) {
	digits := make([]byte, 0, len(s))
	plus := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == '+' && len(digits) == 0 && !plus:
			plus = true
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return Phone{}, fmt.Errorf("%w: %q has a character a phone number cannot have", ErrInvalidPhone, s)
		}
	}
	n := string(digits)
	switch {
	case len(n) == 10:
	case len(n) == 11 && n[0] == '0':
		n = n[1:]
	case len(n) == 12 && strings.HasPrefix(n, "91"):
		n = n[2:]
	default:
		return Phone{}, fmt.Errorf("%w: want a 10-digit Indian mobile number", ErrInvalidPhone)
	}
	if n[0] < '6' {
		return Phone{}, fmt.Errorf("%w: an Indian mobile number starts with 6, 7, 8 or 9", ErrInvalidPhone)
	}
	return Phone{e164: "+91" + n}, nil
}

// String returns the number in E.164 form (+919876543210).
func (p Phone) String() string { return p.e164 }

// National returns the ten digits without the country code, as Fast2SMS wants them.
func (p Phone) National() string { return strings.TrimPrefix(p.e164, "+91") }

// WithCountryCode returns 91 followed by the ten digits, without +, as MSG91 wants them.
func (p Phone) WithCountryCode() string { return strings.TrimPrefix(p.e164, "+") }

// Masked hides all but the last four digits, for logs.
func (p Phone) Masked() string { return MaskPhone(p.e164) }

// IsZero reports whether no number is set.
func (p Phone) IsZero() bool { return p.e164 == "" }

// MaskPhone hides all but the last four characters of a phone number.
func MaskPhone(s string) string {
	if len(s) <= 4 {
		return strings.Repeat("*", len(s))
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}

// Email is a single plain e-mail address, such as asha@example.in.
type Email struct {
	addr string
}

// NewEmail accepts a bare address (no display name, no angle brackets) and lower-cases its domain.
func NewEmail(s string) (Email, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Email{}, fmt.Errorf("%w: empty", ErrInvalidEmail)
	}
	if len(s) > 254 {
		return Email{}, fmt.Errorf("%w: longer than 254 characters", ErrInvalidEmail)
	}
	// Unlike a name, an address has no use for invisible characters, not even a joiner: one would
	// make a look-alike of another address, or an order that staff's search does not find.
	for at, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Zs) {
			return Email{}, fmt.Errorf("%w: has a space, control or invisible formatting character (%s at byte %d)", ErrInvalidEmail, printable.Name(r), at)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return Email{}, fmt.Errorf("%w: %q is not a plain address like name@example.in", ErrInvalidEmail, s)
	}
	local, domain, _ := strings.Cut(a.Address, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return Email{}, fmt.Errorf("%w: %q needs a domain such as example.in", ErrInvalidEmail, s)
	}
	for _, r := range domain {
		if unicode.IsSpace(r) {
			return Email{}, fmt.Errorf("%w: %q has a space in its domain", ErrInvalidEmail, s)
		}
	}
	return Email{addr: local + "@" + strings.ToLower(domain)}, nil
}

// String returns the address.
func (e Email) String() string { return e.addr }
