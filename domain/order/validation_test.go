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

// Texts hold no character that controls a terminal or hides or reorders text; names have a letter.
func TestNamesAndTextsRefuseControlAndFormatCharacters(t *testing.T) {
	fields := map[string]func(in *order.PlaceInput, s string){
		"customer.name":          func(in *order.PlaceInput, s string) { in.Customer.Name = s },
		"shipping_address.name":  func(in *order.PlaceInput, s string) { in.Address.Name = s },
		"shipping_address.line1": func(in *order.PlaceInput, s string) { in.Address.Line1 = s },
		"shipping_address.city":  func(in *order.PlaceInput, s string) { in.Address.City = s },
		"items[0].name":          func(in *order.PlaceInput, s string) { in.Lines[0].Name = s },
	}
	for _, bad := range []struct{ what, s string }{
		{"a next line (U+0085)", "Asha\u0085Rao"},
		{"a line separator", "Asha\u2028Rao"},
		{"a paragraph separator", "Asha Rao\u2029"},
		{"a right-to-left override", "Asha \u202eoaR"},
		{"a left-to-right embedding", "\u202aAsha Rao"},
		{"an isolate", "Asha \u2067Rao\u2069"},
		{"zero-width spaces only", "\u200b\u200b\u200b"},
		{"a zero-width joiner only", "\u200d"},
		{"a joiner after a space", "Asha \u200dRao"},
		{"two joiners", "क्\u200d\u200dष"},
		{"a byte-order mark", "\ufeffAsha"},
		{"an escape sequence", "Asha\x1b[31m"},
		{"a tab", "Asha\tRao"},
	} {
		for field, set := range fields {
			in := validInput(t)
			set(&in, bad.s)
			placeRefuses(t, in, field, "control or invisible formatting character")
		}
	}
	for _, field := range []string{"customer.name", "shipping_address.name", "shipping_address.city"} {
		for _, s := range []string{"1234", "...", "\u0301", "-- --"} {
			in := validInput(t)
			fields[field](&in, s)
			placeRefuses(t, in, field, "has no letter")
		}
	}
}

func TestNamesInIndianScriptsKeepTheirJoiners(t *testing.T) {
	for _, name := range []string{
		"क्\u200dषमा शर्मा",     // Devanagari: the half form of ka through a ZWJ
		"अर्\u200cजुन",          // Devanagari: a ZWNJ keeps the virama visible
		"கிருஷ்\u200cணன்",       // Tamil with a ZWNJ after the virama
		"മോഹന്\u200dലാല്\u200d", // Malayalam: chillus written with ZWJ, one ending the name
		"ശ്രീ\u200cകുമാർ",       // Malayalam with a ZWNJ
		"Asha Rao",
	} {
		in := validInput(t)
		in.Customer.Name, in.Address.Name, in.Address.City = name, name, name
		o, err := order.Place(in)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if got := o.Customer().Name; got != name {
			t.Fatalf("stored %q, sent %q", got, name)
		}
	}
}
