package nats

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// storedTypeNames finds every event type name written in the domain's source: a new event type
// appears there first, and must be classified before it can be published.
func storedTypeNames(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`"((?:order|notification)\.[a-z_]+\.v[0-9]+)"`)
	var names []string
	for _, dir := range []string{"../../domain/order", "../../domain/notification"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				if !slices.Contains(names, m[1]) {
					names = append(names, m[1])
				}
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("found only %d event type names in the domain's source: %v", len(names), names)
	}
	return names
}

// jsonFields lists the top-level JSON keys of v's struct type, embedded structs flattened.
func jsonFields(typ reflect.Type) []string {
	var out []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

func TestEveryEventTypeAndFieldIsClassifiedAsPublishedOrWithheld(t *testing.T) {
	contract := Contract()
	for _, name := range storedTypeNames(t) {
		fields, ok := contract[name]
		if !ok {
			t.Errorf("event type %s is not in the contract (adapters/nats/contract.go): say which of its fields other services may see", name)
			continue
		}
		var decoded any
		var err error
		switch {
		case strings.HasPrefix(name, "order."):
			if order.CurrentType(name) != name {
				continue // read as its current version, classified on its own
			}
			decoded, err = order.DecodeEvent(name, []byte(`{}`))
		default:
			if name == notification.TypeDeliveryStarted {
				continue // no longer written, and no longer decoded
			}
			decoded, err = notification.DecodeEvent(name, []byte(`{}`))
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		have := jsonFields(reflect.TypeOf(decoded))
		for _, f := range have {
			if !slices.Contains(fields.Published, f) && !slices.Contains(fields.Withheld, f) {
				t.Errorf("%s: field %q is neither published nor withheld in the contract", name, f)
			}
		}
		for _, f := range append(slices.Clone(fields.Published), fields.Withheld...) {
			if !slices.Contains(have, f) {
				t.Errorf("%s: the contract names field %q, which the event does not have", name, f)
			}
		}
		for _, f := range fields.Published {
			if slices.Contains(fields.Withheld, f) {
				t.Errorf("%s: field %q is both published and withheld", name, f)
			}
		}
	}
}

func TestPublishedEventsCarryNoPersonalData(t *testing.T) {
	placed := order.OrderPlaced{OrderNumber: "CB-7K3M9Q2X",
		Customer:        order.CustomerData{ID: "c-1", Name: "Asha Rao", Email: "asha@example.in", Phone: "+919876543210"},
		Items:           []order.ItemData{{SKU: "TEA-1", Name: "Assam tea", Quantity: 2, UnitPricePaise: 34950}},
		TotalPaise:      69900,
		Currency:        "INR",
		ShippingAddress: order.AddressData{Name: "Asha Rao", Line1: "12 MG Road", City: "Bengaluru", State: "Karnataka", Pincode: "560001"}}
	requested := notification.Requested{OrderNumber: "CB-7K3M9Q2X", Channel: "sms", Recipient: "+919876543210",
		Data: notification.MessageData{CustomerName: "Asha Rao"}}
	attempted := notification.DeliveryAttempted{Attempt: 1, Provider: "msg91", Outcome: "failed",
		Response: `{"message":"invalid mobile +919876543210"}`, Error: "asha@example.in refused"}
	cancelled := order.OrderCancelled{Reason: "call me on 9876543210"}
	cases := []struct {
		name string
		typ  string
		ev   any
	}{
		{"an order placed keeps its lines and total", order.TypeOrderPlaced, placed},
		{"a notification request names the order, not the recipient", notification.TypeRequested, requested},
		{"a delivery attempt keeps the outcome, not the provider's words", notification.TypeDeliveryAttempted, attempted},
		{"a cancellation leaves out the reason a person typed", order.TypeOrderCancelled, cancelled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := json.Marshal(c.ev)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := PublicEvent(Contract(), c.typ, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"Asha", "asha@example.in", "9876543210", "MG Road", "560001", "Bengaluru"} {
				if strings.Contains(string(pub.Body), secret) {
					t.Errorf("published body %s contains %q", pub.Body, secret)
				}
			}
			if c.typ == order.TypeOrderPlaced && !strings.Contains(string(pub.Body), `"total_paise":69900`) {
				t.Errorf("published body %s lost the total", pub.Body)
			}
		})
	}
}

func TestAnOldEventIsPublishedAsItsCurrentVersion(t *testing.T) {
	pub, err := PublicEvent(Contract(), order.TypeOrderShippedV1, []byte(`{"carrier":"DTDC","tracking_id":"D1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if pub.Type != order.TypeOrderShipped {
		t.Errorf("type %s, want %s", pub.Type, order.TypeOrderShipped)
	}
	var body map[string]string
	if err := json.Unmarshal(pub.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["tracking_id"] != "D1" || body["tracking_url"] == "" {
		t.Errorf("body %s: want the tracking id and the URL the upcast adds", pub.Body)
	}
}

func TestSubjects(t *testing.T) {
	cases := []struct{ stream, typ, want string }{
		{"order-0193f7c2-5b1e-7c4a-9d2e-3f4a5b6c7d8e", order.TypeOrderShipped, "certibuy.order.order_shipped"},
		{"order-x", order.TypePaymentRequested, "certibuy.order.order_payment_requested"},
		{"notification-0193f7c2-sms", notification.TypeSent, "certibuy.notification.notification_sent"},
		{"odd stream", "Weird.Type", "certibuy.odd_stream.weird_type"},
	}
	for _, c := range cases {
		if got := Subject("certibuy", c.stream, c.typ); got != c.want {
			t.Errorf("Subject(%q, %q) = %q, want %q", c.stream, c.typ, got, c.want)
		}
	}
}

func TestAHeaderValueStaysOnItsLine(t *testing.T) {
	fw := NewForwarder(Config{Stream: "S", SubjectPrefix: "certibuy"})
	_, msg, err := fw.Message(postgres.RecordedEvent{StreamID: "order-1", StreamVersion: 1, Type: order.TypeOrderConfirmed,
		Data: []byte(`{}`), Metadata: es.Metadata{CorrelationID: "abc\r\nNats-Msg-Id: forged"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Metadata.Get(HeaderCorrelationID); strings.ContainsAny(got, "\r\n") {
		t.Errorf("correlation id header %q spans lines", got)
	}
}
