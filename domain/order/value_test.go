package order_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/certibuy/orders/domain/order"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func TestMoneyIsWrittenTheIndianWay(t *testing.T) {
	cases := map[int64]string{
		0:              "₹0.00",
		5:              "₹0.05",
		99900:          "₹999.00",
		100000:         "₹1,000.00",
		12990000:       "₹1,29,900.00",
		1234567891:     "₹1,23,45,678.91",
		10000000000050: "₹1,00,00,00,00,000.50",
	}
	for paise, want := range cases {
		m, err := order.NewMoney(paise)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.String(); got != want {
			t.Errorf("%d paise = %s, want %s", paise, got, want)
		}
		if got := m.Digits(); "₹"+got != want {
			t.Errorf("%d paise digits = %s", paise, got)
		}
	}
	if _, err := order.NewMoney(-1); !errors.Is(err, order.ErrInvalidAmount) {
		t.Fatalf("negative money: err = %v", err)
	}
}

func TestPhoneNumbersAreNormalisedToE164(t *testing.T) {
	for _, in := range []string{"9876543210", "09876543210", "919876543210", "+919876543210", "+91 98765 43210", "+91-98765-43210", "(+91) 98765 43210"} {
		p, err := order.NewPhone(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if p.String() != "+919876543210" || p.National() != "9876543210" || p.WithCountryCode() != "919876543210" {
			t.Errorf("%q → %s / %s / %s", in, p, p.National(), p.WithCountryCode())
		}
		if p.Masked() != "*********3210" {
			t.Errorf("masked = %s", p.Masked())
		}
	}
	for _, in := range []string{"", "12345", "5876543210", "+1 415 555 0100", "98765432100", "98765x3210", "+9198765432+10", "0919876543210"} {
		if _, err := order.NewPhone(in); !errors.Is(err, order.ErrInvalidPhone) {
			t.Errorf("%q: err = %v, want ErrInvalidPhone", in, err)
		}
	}
}

func TestEmailAddressesAreValidated(t *testing.T) {
	good := map[string]string{"asha@example.in": "asha@example.in", " Ravi.K+orders@Mail.Example.COM ": "Ravi.K+orders@mail.example.com"}
	for in, want := range good {
		e, err := order.NewEmail(in)
		if err != nil || e.String() != want {
			t.Errorf("%q → %q, %v; want %q", in, e, err, want)
		}
	}
	for _, in := range []string{"", "asha", "asha@", "@example.in", "Asha <asha@example.in>", "asha@localhost", "a b@example.in", strings.Repeat("a", 250) + "@x.in"} {
		if _, err := order.NewEmail(in); !errors.Is(err, order.ErrInvalidEmail) {
			t.Errorf("%q: err = %v, want ErrInvalidEmail", in, err)
		}
	}
}

// An address with an invisible character would look like another one, in a reply or a forwarded
// event, and hide its order from staff searching for the address they see.
func TestAnEmailAddressWithAnInvisibleCharacterIsRefusedNamingIt(t *testing.T) {
	for in, name := range map[string]string{
		"moc.elpmaxe\u202e@example.in": "U+202E", "asha\u200b@example.in": "U+200B", "\ufeffasha@example.in": "U+FEFF",
		"asha\u00ad@example.in": "U+00AD", "asha\u2066@example.in": "U+2066", "asha@exam\u200dple.in": "U+200D",
		"asha\u00a0rao@example.in": "U+00A0",
	} {
		_, err := order.NewEmail(in)
		if !errors.Is(err, order.ErrInvalidEmail) || !strings.Contains(err.Error(), "invisible formatting character ("+name) {
			t.Errorf("%q: err = %v, want ErrInvalidEmail naming %s", in, err, name)
		}
	}
}

func TestOrderNumbers(t *testing.T) {
	seen := map[string]bool{}
	src := bytes.NewReader(bytes.Repeat([]byte{0, 1, 2, 3, 250, 29, 7, 200, 100, 45, 66, 91}, 100))
	for i := 0; i < 50; i++ {
		n, err := order.NewNumber(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := order.ParseNumber(strings.ToLower(n.String())); err != nil {
			t.Fatalf("%s does not parse: %v", n, err)
		}
		seen[n.String()] = true
	}
	if len(seen) < 2 {
		t.Fatalf("numbers do not vary: %v", seen)
	}
	for _, bad := range []string{"", "CB-", "CB-0000000O", "XX-7K3M9Q2X", "CB-7K3M9Q2XY"} {
		if _, err := order.ParseNumber(bad); !errors.Is(err, order.ErrInvalidInput) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestShippedV1IsReadAsV2(t *testing.T) {
	e, err := order.DecodeEvent(order.TypeOrderShippedV1, []byte(`{"carrier":"Blue Dart","tracking_id":"BD 42"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := e.(order.OrderShipped)
	if !ok || s.Carrier != "Blue Dart" || s.TrackingID != "BD 42" || s.TrackingURL != "https://www.bluedart.com/tracking?trackFor=0&trackNo=BD+42" {
		t.Fatalf("upcast v1 = %#v", e)
	}
	if st, ok := order.StatusAfter(order.TypeOrderShippedV1); !ok || st != order.StatusShipped {
		t.Fatalf("a v1 shipped event moves the order to %q", st)
	}
	unknown, err := order.DecodeEvent(order.TypeOrderShippedV1, []byte(`{"carrier":"Local courier","tracking_id":"X1"}`))
	if err != nil || unknown.(order.OrderShipped).TrackingURL != "" {
		t.Fatalf("unknown carrier: %#v %v", unknown, err)
	}
	// The current version passes through untouched.
	typ, data, err := order.Upcast(order.TypeOrderShipped, []byte(`{"carrier":"DTDC","tracking_id":"D1","tracking_url":"u"}`))
	if err != nil || typ != order.TypeOrderShipped || string(data) != `{"carrier":"DTDC","tracking_id":"D1","tracking_url":"u"}` {
		t.Fatalf("v2 upcast: %s %s %v", typ, data, err)
	}
	if _, err := order.DecodeEvent(order.TypeOrderShippedV1, []byte(`{`)); err == nil {
		t.Fatal("broken v1 payload decoded")
	}
	seen := map[string]bool{}
	for _, et := range order.EventTypes() {
		if seen[et.Name] || order.CurrentType(et.Name) != et.Current || et.Version < 1 {
			t.Fatalf("registry entry %+v", et)
		}
		seen[et.Name] = true
	}
}
