package notification_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// TestTheCatalogueIsConsistent checks each row on its own terms; the adapters' tests check that
// each has templates, a request handler, SMS variable values and an .env.example line.
func TestTheCatalogueIsConsistent(t *testing.T) {
	current := map[string]bool{}
	for _, et := range order.EventTypes() {
		if et.Current == et.Name {
			current[et.Name] = true
		}
	}
	fields := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[notification.MessageData]()) {
		fields[f.Name] = true
	}
	for _, f := range notification.CommonFields() {
		if !fields[f] {
			t.Errorf("common field %s is not a MessageData field", f)
		}
	}
	for _, f := range notification.SMSCommonFields() {
		if !slices.Contains(notification.CommonFields(), f) {
			t.Errorf("SMS common field %s is not a common field", f)
		}
	}
	types := map[notification.Type]bool{}
	sentBy := map[string]notification.Type{}
	for _, k := range notification.Catalogue() {
		if k.Type == "" || types[k.Type] {
			t.Errorf("type %q is empty or listed twice", k.Type)
		}
		types[k.Type] = true
		if len(k.On) == 0 {
			t.Errorf("%s: no order event sends it", k.Type)
		}
		for _, e := range k.On {
			if !current[e] {
				t.Errorf("%s: %q is not the current name of an order event", k.Type, e)
			}
			// The notifications of an event are named after it: two types would share a stream.
			if other, ok := sentBy[e]; ok {
				t.Errorf("%s sends both %s and %s", e, other, k.Type)
			}
			sentBy[e] = k.Type
			if got, ok := notification.TypeFor(e); !ok || got != k.Type {
				t.Errorf("TypeFor(%s) = %q, %v; want %s", e, got, ok, k.Type)
			}
		}
		for _, f := range k.Fills {
			if !fields[f] || slices.Contains(notification.CommonFields(), f) {
				t.Errorf("%s fills %q: not a MessageData field, or one every message has", k.Type, f)
			}
		}
		if len(k.SMSVars) == 0 || len(slices.Compact(slices.Clone(k.SMSVars))) != len(k.SMSVars) {
			t.Errorf("%s: SMS variables %v are missing or repeated", k.Type, k.SMSVars)
		}
		if p, err := notification.ParseType(string(k.Type)); err != nil || p != k.Type {
			t.Errorf("ParseType(%s) = %q, %v", k.Type, p, err)
		}
	}
	if !slices.Equal(notification.Types(), func() []notification.Type {
		var ts []notification.Type
		for _, k := range notification.Catalogue() {
			ts = append(ts, k.Type)
		}
		return ts
	}()) {
		t.Error("Types is not the catalogue's types in its order")
	}
}

func TestKeepStoresWhatTheTypeSaysAndNothingMore(t *testing.T) {
	full := notification.MessageData{ShopName: "CertiBuy", CustomerName: "Asha Rao", OrderNumber: "CB-7K3M9Q2X",
		Items: []notification.MessageItem{{Name: "Assam tea", Quantity: 1}}, Total: "₹1,299.00", TotalDigits: "1,299.00",
		PaymentID: "pay_1", PaymentMethod: "upi", Carrier: "Delhivery", TrackingID: "DLV1",
		RefundAmount: "₹1,299.00", RefundDigits: "1,299.00", RefundExpectation: "5-7 working days"}
	shipped, _ := notification.KindOf(notification.OrderShipped)
	got := shipped.Keep(notification.Email, full)
	want := notification.MessageData{ShopName: "CertiBuy", CustomerName: "Asha Rao", OrderNumber: "CB-7K3M9Q2X",
		Items: full.Items, Total: "₹1,299.00", TotalDigits: "1,299.00", Carrier: "Delhivery", TrackingID: "DLV1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Keep for an order_shipped e-mail:\n%+v\nwant\n%+v", got, want)
	}
	// An SMS says no lines, no ₹ total and no support address: its request stores none of them.
	got = shipped.Keep(notification.SMS, full)
	want = notification.MessageData{ShopName: "CertiBuy", CustomerName: "Asha Rao", OrderNumber: "CB-7K3M9Q2X",
		TotalDigits: "1,299.00", Carrier: "Delhivery", TrackingID: "DLV1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Keep for an order_shipped SMS:\n%+v\nwant\n%+v", got, want)
	}
	// Nor does it store their names.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); s != `{"shop_name":"CertiBuy","customer_name":"Asha Rao","order_number":"CB-7K3M9Q2X","total_digits":"1,299.00",`+
		`"carrier":"Delhivery","tracking_id":"DLV1"}` {
		t.Fatalf("an order_shipped SMS request stores %s", s)
	}
}
