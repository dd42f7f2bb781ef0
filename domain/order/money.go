package order

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Currency is the only currency the shop sells in.
const Currency = "INR"

// Money is an amount in paise (1/100 rupee). It is never negative.
type Money struct {
	paise int64
}

// NewMoney returns paise as Money, refusing negative amounts.
func NewMoney(paise int64) (Money, error) {
	if paise < 0 {
		return Money{}, fmt.Errorf("%w: amount %d paise is negative", ErrInvalidAmount, paise)
	}
	return Money{paise: paise}, nil
}

// Paise returns the amount in paise.
func (m Money) Paise() int64 { return m.paise }

// IsZero reports whether the amount is nothing.
func (m Money) IsZero() bool { return m.paise == 0 }

// Add returns m+o, or an error if the sum would overflow.
func (m Money) Add(o Money) (Money, error) {
	if m.paise > math.MaxInt64-o.paise {
		return Money{}, fmt.Errorf("%w: sum overflows", ErrInvalidAmount)
	}
	return Money{paise: m.paise + o.paise}, nil
}

// Times returns m*n for a non-negative n, or an error if the product would overflow.
func (m Money) Times(n int64) (Money, error) {
	if n < 0 {
		return Money{}, fmt.Errorf("%w: negative multiplier %d", ErrInvalidAmount, n)
	}
	if n != 0 && m.paise > math.MaxInt64/n {
		return Money{}, fmt.Errorf("%w: product overflows", ErrInvalidAmount)
	}
	return Money{paise: m.paise * n}, nil
}

// String writes the amount the Indian way: ₹1,29,900.00 (lakh and crore grouping).
func (m Money) String() string {
	return "₹" + m.Digits()
}

// Digits is String without the rupee sign, for texts that must stay GSM-7 (SMS write "Rs").
func (m Money) Digits() string {
	rupees := strconv.FormatInt(m.paise/100, 10)
	return groupIndian(rupees) + fmt.Sprintf(".%02d", m.paise%100)
}

// FormatAmount writes an amount in the smallest unit of currency: the rupee way for INR (String),
// otherwise the code and the amount with two decimals ("USD 1299.00"), which most currencies have;
// it is for people reading about a payment in another currency, which the shop never asks for.
func FormatAmount(m Money, currency string) string {
	if currency == "" || currency == Currency {
		return m.String()
	}
	return fmt.Sprintf("%s %d.%02d", currency, m.paise/100, m.paise%100)
}

// groupIndian puts a comma after the last three digits, then after every two.
func groupIndian(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	head, tail := digits[:len(digits)-3], digits[len(digits)-3:]
	var b strings.Builder
	lead := len(head) % 2
	if lead == 1 {
		b.WriteString(head[:1])
	}
	for i := lead; i < len(head); i += 2 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(head[i : i+2])
	}
	return b.String() + "," + tail
}
