package razorpay_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/razorpay"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookPaymentCaptured(t *testing.T) {
	ev, err := razorpay.ParseWebhook(readFile(t, "testdata/payment_captured.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Entity != "event" || ev.Event != razorpay.EventPaymentCaptured || ev.AccountID != "acc_BFQ7uQEaa7j2z7" || ev.CreatedAt != 1567674606 {
		t.Errorf("envelope = %+v", ev)
	}
	if !reflect.DeepEqual(ev.Contains, []string{"payment"}) {
		t.Errorf("contains = %v", ev.Contains)
	}
	if ev.Payload.Refund != nil || ev.Payload.Order != nil {
		t.Errorf("payload has entities the event does not contain: %+v", ev.Payload)
	}
	want := razorpay.PaymentEntity{
		ID: "pay_DESlfW9H8K9uqM", Entity: "payment", Amount: 100, Currency: "INR", Status: "captured",
		OrderID: "order_DESlLckIVRkHWj", Method: "netbanking", Captured: true,
		Email: "gaurav.kumar@example.com", Contact: "+919876543210", Notes: razorpay.Notes{}, CreatedAt: 1567674599,
	}
	if got := ev.Payload.Payment.Entity; !reflect.DeepEqual(got, want) {
		t.Errorf("payment =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseWebhookRefundProcessed(t *testing.T) {
	ev, err := razorpay.ParseWebhook(readFile(t, "testdata/refund_processed.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Payload.Refund.Entity
	if r.ID != "rfnd_LDZ2vBnEMAJF6V" || r.Status != razorpay.RefundProcessed || r.Amount != 50000 ||
		r.PaymentID != "pay_LDZ1w3nScBnEzR" || r.AcquirerData.ARN != "10000000000000" || r.SpeedProcessed != "normal" {
		t.Errorf("refund = %+v", r)
	}
	// A number in notes (set through the dashboard) decodes as its JSON text.
	if want := (razorpay.Notes{"certibuy_order": "CB-7K3M9Q2X", "lines": "3"}); !reflect.DeepEqual(r.Notes, want) {
		t.Errorf("notes = %#v, want %#v", r.Notes, want)
	}
	if p := ev.Payload.Payment.Entity; p.AmountRefunded != 50000 || p.RefundStatus != "partial" {
		t.Errorf("payment = %+v", p)
	}
}

func TestParseWebhookRejects(t *testing.T) {
	const payment = `{"entity":{"id":"pay_1","contact":"+919876543210"}}`
	tests := []struct {
		name string
		body string
		says string // what the error says, where it matters
	}{
		{"empty", ``, ""},
		{"not JSON", `entity=event&event=payment.captured`, ""},
		{"JSON null", `null`, ""},
		{"an array", `[{"entity":"event"}]`, "the body must be a JSON object"},
		{"a string", `"event"`, ""},
		{"truncated", `{"entity":"event","event":"payment.captured","payload":{"payment":` + payment, ""},
		{"trailing data", `{"entity":"event","event":"payment.captured","payload":{"payment":` + payment + `}} {}`, ""},
		{"entity collection", `{"entity":"collection","event":"payment.captured","payload":{"payment":` + payment + `}}`, ""},
		{"no entity", `{"event":"payment.captured","payload":{"payment":` + payment + `}}`, ""},
		{"no event name", `{"entity":"event","payload":{"payment":` + payment + `}}`, ""},
		{"payment event without payment", `{"entity":"event","event":"payment.captured","contains":["payment"],"payload":{}}`, ""},
		{"payment without id", `{"entity":"event","event":"payment.failed","payload":{"payment":{"entity":{"amount":100}}}}`, ""},
		{"refund event without refund", `{"entity":"event","event":"refund.processed","contains":["refund","payment"],"payload":{"payment":` + payment + `}}`, ""},
		{"contains refund without refund", `{"entity":"event","event":"order.paid","contains":["refund"],"payload":{}}`, ""},
		{"amount as a string", `{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1","amount":"100","contact":"+919876543210"}}}}`, "field payload.payment.entity.amount must be a whole number"},
		{"notes as a string", `{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1","notes":"+919876543210"}}}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := razorpay.ParseWebhook([]byte(tt.body))
			if !errors.Is(err, razorpay.ErrInvalidWebhook) {
				t.Fatalf("ParseWebhook = %+v, %v; want ErrInvalidWebhook", ev, err)
			}
			if !strings.Contains(err.Error(), tt.says) || strings.Contains(err.Error(), "razorpay.") {
				t.Errorf("the error says %q, want %q and no Go type", err, tt.says)
			}
			if strings.Contains(err.Error(), "9876543210") {
				t.Errorf("error quotes the contact number: %v", err)
			}
			if !reflect.DeepEqual(ev, razorpay.WebhookEvent{}) {
				t.Errorf("event = %+v, want the zero event with an error", ev)
			}
		})
	}
}

func TestParseWebhookToleratesUnknownFields(t *testing.T) {
	body := `{"entity":"event","account_id":"acc_1","event":"payment.captured","contains":["payment"],
		"new_top_level":{"x":[1,2]},"payload":{"payment":{"entity":{"id":"pay_1","amount":100,
		"upi":{"payer_account_type":"bank_account","vpa":"a@okaxis"},"notes":{"k":"v"},"acquirer_data":[]}},
		"something_new":{"entity":{}}},"created_at":1}`
	ev, err := razorpay.ParseWebhook([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if p := ev.Payload.Payment.Entity; p.ID != "pay_1" || p.Amount != 100 || p.Notes["k"] != "v" {
		t.Errorf("payment = %+v", p)
	}
}

func TestPaymentEntityLogValueMasksContact(t *testing.T) {
	ev, err := razorpay.ParseWebhook(readFile(t, "testdata/payment_captured.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("webhook", "payment", ev.Payload.Payment.Entity)
	out := buf.String()
	if strings.Contains(out, "9876543210") || strings.Contains(out, "gaurav.kumar@") {
		t.Errorf("log line holds the contact details: %s", out)
	}
	if !strings.Contains(out, "3210") || !strings.Contains(out, "pay_DESlfW9H8K9uqM") || !strings.Contains(out, "@example.com") {
		t.Errorf("log line lost what identifies the payment: %s", out)
	}
}
