package order_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/certibuy/orders/domain/order"
)

// placeRefuses places in and wants a FieldError on field whose message holds want.
func placeRefuses(t *testing.T, in order.PlaceInput, field, want string) {
	t.Helper()
	o, err := order.Place(in)
	var fe *order.FieldError
	if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, order.ErrInvalidInput) || o != nil {
		t.Fatalf("err = %v, want invalid input on %s", err, field)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
}

// Every amount stays below 2^53, and under the shop's cap when it has one.
func TestAnOrderAboveTheCapIsRefused(t *testing.T) {
	in := validInput(t) // 2 × ₹349.50 + ₹600.00 = ₹1,299.00
	in.Lines[0].UnitPrice = mustMoney(t, order.MaxPaise+1)
	placeRefuses(t, in, "items[0].unit_price_paise", "at most 9007199254740991 paise")

	in = validInput(t)
	in.Lines[0].UnitPrice = mustMoney(t, 1<<62)
	in.Lines[0].Quantity = 4
	placeRefuses(t, in, "items[0].unit_price_paise", "at most")

	in = validInput(t)
	in.MaxTotal = mustMoney(t, 34949)
	placeRefuses(t, in, "items[0].unit_price_paise", "at most 34949 paise (₹349.49")

	in = validInput(t)
	in.MaxTotal = mustMoney(t, 129899)
	placeRefuses(t, in, "items", "more than ₹1,298.99")

	// Quantities add up: 1000 of a price under the cap can still pass it.
	in = validInput(t)
	in.MaxTotal = mustMoney(t, 100_000_000) // ₹10,00,000, the default
	in.Lines = in.Lines[:1]
	in.Lines[0].UnitPrice, in.Lines[0].Quantity = mustMoney(t, 100_001), 1000
	placeRefuses(t, in, "items", "more than ₹10,00,000.00")

	in = validInput(t)
	in.MaxTotal = mustMoney(t, 129900)
	o, err := order.Place(in)
	if err != nil || o.Total().Paise() != 129900 {
		t.Fatalf("an order of exactly the cap: %v", err)
	}
}
