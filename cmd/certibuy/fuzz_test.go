package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/razorpay"
)

// FuzzCheckout throws request bodies at POST /api/v1/checkout on a running service. Whatever the
// body, the answer is never a 5xx, and unless it is a 201 nothing is appended.
//
//	go test ./cmd/certibuy -run '^$' -fuzz FuzzCheckout -fuzztime 30s
func FuzzCheckout(f *testing.F) {
	s := startService(f, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0"})
	f.Add([]byte(validCheckout))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"customer": {"name": "A", "email": "a@b.in", "phone": "9876543210"}, "items": [{"sku": "x", "name": "y", "quantity": 1, "unit_price_paise": 9223372036854775807}, {"sku": "x", "name": "y", "quantity": 2, "unit_price_paise": 9223372036854775807}], "shipping_address": {"line1": "1", "city": "c", "state": "s", "pincode": "110001"}}`))
	f.Add([]byte(`{"items": null, "customer": null}`))
	f.Add([]byte(`[1, 2, 3]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		before := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'order-%'`)
		res := s.do(t, "POST", "/api/v1/checkout", body, nil)
		if res.status >= 500 {
			t.Fatalf("checkout answered %d to %q: %s", res.status, body, res.body)
		}
		after := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'order-%'`)
		switch {
		case res.status == http.StatusCreated && after != before+2:
			t.Fatalf("a placed order appended %d events", after-before)
		case res.status != http.StatusCreated && after != before:
			t.Fatalf("refused input (%d) appended %d events: %q", res.status, after-before, body)
		}
	})
}

// Both targets count order events only: the notifier appends notification events in the background.

// FuzzWebhook throws correctly signed bodies at POST /api/v1/webhooks/razorpay, plus one real order
// to aim at. The answer is never a 5xx, and an answer other than 200 never comes with an event.
//
//	go test ./cmd/certibuy -run '^$' -fuzz FuzzWebhook -fuzztime 30s
func FuzzWebhook(f *testing.F) {
	s := startService(f, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0"})
	res := s.do(f, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	gw := res.json(f)["payment"].(map[string]any)["gateway_order_id"].(string)
	f.Add([]byte(`{"entity":"event","account_id":"acc_1","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_1","amount":129900,"currency":"INR","status":"captured","order_id":"`+gw+`","method":"upi","captured":true}}},"created_at":1}`), "evt_1")
	f.Add([]byte(`{"entity":"event","event":"payment.failed","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_2","amount":5,"order_id":"`+gw+`","error_code":"BAD_REQUEST_ERROR"}}}}`), "evt_2")
	f.Add([]byte(`{"entity":"event","event":"refund.processed","contains":["refund","payment"],"payload":{"refund":{"entity":{"id":"rfnd_1","amount":129900,"payment_id":"pay_1"}},"payment":{"entity":{"id":"pay_1","order_id":"`+gw+`"}}}}`), "evt_3")
	f.Add([]byte(`not json`), "")
	f.Fuzz(func(t *testing.T, body []byte, eventID string) {
		// A header value cannot hold control characters: keep what an HTTP client can send.
		eventID = strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return -1
			}
			return r
		}, eventID)
		before := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'order-%'`)
		res := s.do(t, "POST", "/api/v1/webhooks/razorpay", body, map[string]string{
			"X-Razorpay-Signature": razorpay.SignWebhook(razorpay.SimulatorWebhookSecret, body), "X-Razorpay-Event-Id": eventID})
		if res.status >= 500 {
			t.Fatalf("webhook answered %d to %q: %s", res.status, body, res.body)
		}
		if after := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'order-%'`); res.status != http.StatusOK && after != before {
			t.Fatalf("refused webhook (%d) appended %d events: %q", res.status, after-before, body)
		}
	})
}
