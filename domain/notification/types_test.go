package notification_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/certibuy/orders/domain/notification"
)

// oldRequested is a NotificationRequested as the service stored it before MessageData had JSON names:
// the data under its Go field names.
const oldRequested = `{"order_id":"0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9d","order_number":"CB-7K3M9Q2X",
"order_event_id":"0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9e","order_event_type":"order.refund_processed.v1",
"notification_type":"refund_processed","channel":"email","recipient":"asha@example.in",
"data":{"ShopName":"CertiBuy","SupportEmail":"support@certibuy.in","CustomerName":"Asha Rao","OrderNumber":"CB-7K3M9Q2X",
"OrderURL":"http://localhost:8080/orders/0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9d",
"Items":[{"Name":"Assam tea 500g","Quantity":2,"UnitPrice":"₹649.50","LineTotal":"₹1,299.00"}],
"Total":"₹1,299.00","TotalDigits":"1,299.00","PaymentID":"pay_29QQoUBi66xm2f","PaymentMethod":"upi",
"Carrier":"Delhivery","TrackingID":"DLV99887766","ReviewURL":"http://localhost:8080/orders/0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9d/review",
"RefundAmount":"₹1,299.00","RefundDigits":"1,299.00","RefundExpectation":"5-7 working days"}}`

func TestAnOldRequestStillDecodes(t *testing.T) {
	e, err := notification.DecodeEvent(notification.TypeRequested, []byte(oldRequested))
	if err != nil {
		t.Fatal(err)
	}
	got := e.(notification.Requested).Data
	want := notification.MessageData{
		ShopName: "CertiBuy", SupportEmail: "support@certibuy.in", CustomerName: "Asha Rao", OrderNumber: "CB-7K3M9Q2X",
		Items: []notification.MessageItem{{Name: "Assam tea 500g", Quantity: 2, UnitPrice: "₹649.50", LineTotal: "₹1,299.00"}},
		Total: "₹1,299.00", TotalDigits: "1,299.00", PaymentID: "pay_29QQoUBi66xm2f", PaymentMethod: "upi",
		Carrier: "Delhivery", TrackingID: "DLV99887766",
		// The stored links are dropped: they led nowhere, and the message gets fresh ones as it is sent.
		RefundAmount: "₹1,299.00", RefundDigits: "1,299.00", RefundExpectation: "5-7 working days",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("old data decoded as\n%+v\nwant\n%+v", got, want)
	}
}

// TestMessageDataIsStoredUnderItsJSONNames pins the stored schema: renaming a Go field must not
// change what is written, or a resend of an older notification would lose that field. The links,
// whose tokens open the order, are never written.
func TestMessageDataIsStoredUnderItsJSONNames(t *testing.T) {
	d := notification.MessageData{
		ShopName: "CertiBuy", SupportEmail: "support@certibuy.in", CustomerName: "Asha Rao", OrderNumber: "CB-7K3M9Q2X",
		Items: []notification.MessageItem{{Name: "Assam tea 500g", Quantity: 2, UnitPrice: "₹649.50", LineTotal: "₹1,299.00"}},
		Total: "₹1,299.00", TotalDigits: "1,299.00", PaymentID: "pay_1", PaymentMethod: "upi", Carrier: "Delhivery",
		TrackingID: "DLV1", TrackingURL: "https://www.delhivery.com/track/package/DLV1",
		RefundAmount: "₹1,299.00", RefundDigits: "1,299.00", RefundExpectation: "5-7 working days",
	}
	b, err := json.Marshal(d.WithLinks(notification.Links{OrderURL: "https://shop.in/o?t=SECRET", ReviewURL: "https://shop.in/r?t=SECRET",
		SMSOrderURL: "https://s.in/o/CB-1/SECRET", SMSReviewURL: "https://s.in/r/CB-1/SECRET"}))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"shop_name":"CertiBuy","support_email":"support@certibuy.in","customer_name":"Asha Rao",` +
		`"order_number":"CB-7K3M9Q2X","items":[{"name":"Assam tea 500g","quantity":2,"unit_price":"₹649.50",` +
		`"line_total":"₹1,299.00"}],"total":"₹1,299.00","total_digits":"1,299.00","payment_id":"pay_1",` +
		`"payment_method":"upi","carrier":"Delhivery","tracking_id":"DLV1",` +
		`"tracking_url":"https://www.delhivery.com/track/package/DLV1","refund_amount":"₹1,299.00",` +
		`"refund_digits":"1,299.00","refund_expectation":"5-7 working days"}`
	if string(b) != want {
		t.Fatalf("stored as\n%s\nwant\n%s", b, want)
	}
	var back notification.MessageData
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, d) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

// oldAttempted is a DeliveryAttempted as the service stored it before refused_by was added.
const oldAttempted = `{"attempt":1,"provider":"fast2sms","provider_message_id":"f2s-1","outcome":"sent",` +
	`"response":"msg91: {\"type\":\"error\",\"message\":\"Template not approved\",\"code\":\"211\"} (msg91 rejected the SMS: HTTP 200, code 211: Template not approved)\nfast2sms: {\"return\":true,\"request_id\":\"f2s-1\"}",` +
	`"duration_ms":42}`

// An attempt stored before refused_by still decodes, knows of no refusal, and writes back as it was
// stored: a replay of it is unchanged.
func TestAnOldDeliveryAttemptedStillDecodes(t *testing.T) {
	e, err := notification.DecodeEvent(notification.TypeDeliveryAttempted, []byte(oldAttempted))
	if err != nil {
		t.Fatal(err)
	}
	a := e.(notification.DeliveryAttempted)
	if a.Attempt != 1 || a.Provider != "fast2sms" || a.Outcome != notification.OutcomeSent || a.RefusedBy != nil {
		t.Fatalf("decoded as %+v", a)
	}
	again, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var stored, rewritten map[string]any
	if err := json.Unmarshal([]byte(oldAttempted), &stored); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &rewritten); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, rewritten) {
		t.Fatalf("written back as %s", again)
	}
	req, err := notification.DecodeEvent(notification.TypeRequested, []byte(`{"order_id":"0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9d",`+
		`"order_number":"CB-7K3M9Q2X","order_event_id":"0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9e","order_event_type":"order.payment_succeeded.v1",`+
		`"notification_type":"payment_successful","channel":"sms","recipient":"+919876543210","data":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	n, err := notification.FromHistory([]notification.Event{req, a, notification.Sent{Provider: "fast2sms", ProviderMessageID: "f2s-1", Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if n.Status() != notification.StatusSent || n.Attempts() != 1 || len(n.RefusedBy()) != 0 {
		t.Fatalf("rebuilt: %s after %d attempts, refused by %v", n.Status(), n.Attempts(), n.RefusedBy())
	}
}
