package main

import (
	"net/http"
	"strings"
	"testing"
)

// A body is read one way only: a key given twice, or in another case than the field's, is refused
// with the key named, on every JSON body, and nothing changes.
func TestJSONBodiesWithARepeatedOrRecasedKeyAreRefused(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0", "LOGIN_RATE_PER_MINUTE": "0"})
	o := paidOrder(t, s)
	token, _ := s.adminToken(t, "ops@certibuy.in")
	edit := func(from, to string) []byte {
		if !strings.Contains(validCheckout, from) {
			t.Fatalf("test input has no %q", from)
		}
		return []byte(strings.Replace(validCheckout, from, to, 1))
	}
	before := s.count(t, `SELECT count(*) FROM events`)
	for _, c := range []struct {
		name, path   string
		body         []byte
		header       map[string]string
		code, field  string
		messageHolds string
	}{
		{"a second customer", "/api/v1/checkout", edit(`"items": [`, `"customer": {"name": "Mallory", "email": "m@example.in", "phone": "9876543211"}, "items": [`), nil,
			"duplicate_key", "customer", `"customer" is given twice`},
		{"a second price", "/api/v1/checkout", edit(`"unit_price_paise": 34950`, `"unit_price_paise": 1, "unit_price_paise": 34950`), nil,
			"duplicate_key", "items[0].unit_price_paise", "given twice"},
		{"an upper-case key", "/api/v1/checkout", edit(`"customer":`, `"CUSTOMER":`), nil, "unknown_field", "CUSTOMER", "case included"},
		{"a re-cased nested key", "/api/v1/checkout", edit(`"unit_price_paise": 60000`, `"Unit_Price_Paise": 60000`), nil,
			"unknown_field", "items[1].Unit_Price_Paise", "unknown field"},
		{"a NUL in a string", "/api/v1/checkout", edit(`"Assam tea 500g"`, `"Assam tea\u0000"`), nil, "invalid_input", "items[0].name", "U+0000"},
		{"a second password", "/api/v1/admin/login", []byte(`{"email": "ops@certibuy.in", "password": "x", "password": "correct horse battery"}`), nil,
			"duplicate_key", "password", "given twice"},
		{"a NUL in a login e-mail", "/api/v1/admin/login", []byte(`{"email": "ops\u0000@certibuy.in", "password": "x"}`), nil,
			"invalid_input", "email", "U+0000"},
		{"a second version", "/api/v1/admin/orders/" + o.id + "/ship", []byte(`{"expected_version": 1, "carrier": "Delhivery", "tracking_id": "DLV1", "expected_version": 4}`),
			bearerHeader(token), "duplicate_key", "expected_version", "given twice"},
		{"a re-cased carrier", "/api/v1/admin/orders/" + o.id + "/ship", []byte(`{"expected_version": 4, "Carrier": "Delhivery", "tracking_id": "DLV1"}`),
			bearerHeader(token), "unknown_field", "Carrier", "unknown field"},
		{"a second reason", "/api/v1/orders/" + o.id + "/cancel", []byte(`{"reason": "a", "reason": "b"}`), bearerHeader(o.token),
			"duplicate_key", "reason", "given twice"},
		{"a second payment id", "/api/v1/payments/razorpay/callback", []byte(`{"razorpay_order_id": "` + o.gatewayOrder + `", "razorpay_payment_id": "pay_1", "razorpay_payment_id": "pay_2", "razorpay_signature": "00"}`),
			nil, "duplicate_key", "razorpay_payment_id", "given twice"},
		{"a NUL in a gateway order id", "/api/v1/payments/razorpay/callback", []byte(`{"razorpay_order_id": "order_\u0000", "razorpay_payment_id": "pay_1", "razorpay_signature": "00"}`),
			nil, "invalid_input", "razorpay_order_id", "U+0000"},
	} {
		res := s.do(t, "POST", c.path, c.body, c.header)
		if res.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", c.name, res.status, res.body)
			continue
		}
		if code, field, msg := apiError(t, res); code != c.code || field != c.field || !strings.Contains(msg, c.messageHolds) {
			t.Errorf("%s: %s on %q: %q", c.name, code, field, msg)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM events`); n != before {
		t.Fatalf("refused bodies appended %d events", n-before)
	}

	// A webhook, correctly signed, that two readers could read two ways, is refused before anything
	// is applied or its delivery id is taken; one in another case than Razorpay's is not Razorpay's.
	b := s.checkout(t)
	pay, _ := s.rzp.Pay(b.gatewayOrder, "upi")
	captured := string(s.rzp.CapturedWebhook(pay))
	for _, c := range []struct{ name, from, to string }{
		{"a second event name", `"event":"payment.captured"`, `"event":"payment.failed","event":"payment.captured"`},
		{"a second amount", `"amount":129900`, `"amount":100,"amount":129900`},
		{"an upper-case event key", `"event":"payment.captured"`, `"EVENT":"payment.captured"`},
		{"a NUL in the payment id", `"id":"` + pay + `"`, `"id":"` + pay + `\u0000"`},
	} {
		if !strings.Contains(captured, c.from) {
			t.Fatalf("%s: the webhook has no %s: %s", c.name, c.from, captured)
		}
		res := s.webhook(t, []byte(strings.Replace(captured, c.from, c.to, 1)), "evt_"+strings.ReplaceAll(c.name, " ", "_"))
		if _, field, _ := apiError(t, res); res.status != http.StatusBadRequest || field != "body" {
			t.Errorf("webhook with %s: %d %s", c.name, res.status, res.body)
		}
	}
	recased := strings.Replace(captured, `"order_id":"`+b.gatewayOrder+`"`, `"ORDER_ID":"`+b.gatewayOrder+`"`, 1)
	if res := s.webhook(t, []byte(recased), "evt_recased"); res.status != http.StatusOK || res.json(t)["outcome"] != "ignored" {
		t.Errorf("webhook with ORDER_ID: %d %s", res.status, res.body)
	}
	if got := s.events(t, b.id); len(got) != 2 {
		t.Fatalf("refused webhooks changed the order: %v", got)
	}
	if n := s.count(t, `SELECT count(*) FROM webhook_events`); n != 0 {
		t.Fatalf("refused webhooks took %d delivery ids", n)
	}
	if res := s.webhook(t, []byte(captured), "evt_ok"); res.status != http.StatusOK || res.json(t)["outcome"] != "applied" {
		t.Fatalf("the webhook as sent: %d %s", res.status, res.body)
	}
}
