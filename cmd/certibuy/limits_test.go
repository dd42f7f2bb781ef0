package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/razorpay"
)

// checkoutWith is validCheckout with one line, of quantity × price.
func checkoutWith(quantity, pricePaise string) []byte {
	return []byte(`{"customer": {"name": "Asha Rao", "email": "asha@example.in", "phone": "+91 98765 43210"},
  "items": [{"sku": "GOLD-1", "name": "Gold coin", "quantity": ` + quantity + `, "unit_price_paise": ` + pricePaise + `}],
  "shipping_address": {"line1": "12 MG Road", "city": "Bengaluru", "state": "Karnataka", "pincode": "560001"}}`)
}

// apiError is the error envelope of an answer.
func apiError(t *testing.T, res response) (code, field, message string) {
	t.Helper()
	var env struct {
		Error struct{ Code, Field, Message string }
	}
	if err := json.Unmarshal(res.body, &env); err != nil || env.Error.Code == "" {
		t.Fatalf("%d %s is not an error envelope", res.status, res.body)
	}
	return env.Error.Code, env.Error.Field, env.Error.Message
}

func TestCheckoutRefusesAnOrderAboveMaxOrderTotal(t *testing.T) {
	t.Parallel()
	s := startService(t, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0"})
	for _, c := range []struct {
		name, quantity, price, field string
	}{
		{"the largest int64 price", "1", "9223372036854775807", "items[0].unit_price_paise"},
		{"a price JavaScript cannot read exactly", "1", "9007199254740993", "items[0].unit_price_paise"},
		{"a price a paisa over ₹10,00,000", "1", "100000001", "items[0].unit_price_paise"},
		{"a total over ₹10,00,000", "1000", "100001", "items"},
	} {
		res := s.do(t, "POST", "/api/v1/checkout", checkoutWith(c.quantity, c.price), nil)
		if res.status != http.StatusBadRequest {
			t.Fatalf("%s: %d %s", c.name, res.status, res.body)
		}
		if _, field, msg := apiError(t, res); field != c.field || !strings.Contains(msg, "₹10,00,000.00") {
			t.Fatalf("%s: field %q, message %q", c.name, field, msg)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("refused orders appended %d events", n)
	}
	res := s.do(t, "POST", "/api/v1/checkout", checkoutWith("2", "50000000"), nil)
	if res.status != http.StatusCreated || res.json(t)["total_paise"] != float64(100_000_000) || res.json(t)["total"] != "₹10,00,000.00" {
		t.Fatalf("an order of exactly ₹10,00,000: %d %s", res.status, res.body)
	}

	// The cap is a setting.
	low := startService(t, map[string]string{"MAX_ORDER_TOTAL_PAISE": strconv.Itoa(129899)})
	res = low.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	if _, field, msg := apiError(t, res); res.status != http.StatusBadRequest || field != "items" || !strings.Contains(msg, "₹1,298.99") {
		t.Fatalf("₹1,299.00 under a cap of ₹1,298.99: %d %s", res.status, res.body)
	}
	for _, bad := range []string{"99", "9007199254740992", "ten lakh", "-1"} {
		if _, err := LoadConfig(func(k string) string {
			if k == "MAX_ORDER_TOTAL_PAISE" {
				return bad
			}
			return ""
		}, nil); err == nil || !strings.Contains(err.Error(), "MAX_ORDER_TOTAL_PAISE") {
			t.Errorf("MAX_ORDER_TOTAL_PAISE=%s: %v", bad, err)
		}
	}
}

// A client's X-Request-ID names the request and becomes the correlation id of its events. One too
// long for the correlation index failed the append with a 500; it is refused with a 400 naming the
// header, and nothing is appended. An ordinary one still names the order's events.
func TestCheckoutRefusesARequestIDTheEventsCannotCarry(t *testing.T) {
	t.Parallel()
	s := startService(t, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0"})
	// Varied characters: a run of one character would compress into the index.
	long := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 130)
	for name, id := range map[string]string{"8 kB": long, "201 characters": long[:201], "a space": "trace 1", "a non-ASCII letter": "trace-é"} {
		res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), map[string]string{"X-Request-ID": id})
		if code, field, msg := apiError(t, res); res.status != http.StatusBadRequest || code != "invalid_input" || field != "X-Request-ID" ||
			!strings.Contains(msg, "at most 200") {
			t.Fatalf("X-Request-ID of %s: %d %s", name, res.status, res.body)
		}
		if own := res.header.Get("X-Request-ID"); own == "" || own == id {
			t.Fatalf("the refusal of an X-Request-ID of %s is answered with X-Request-ID %.40q, want one of our own", name, own)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("refused checkouts appended %d events", n)
	}
	// Each refusal is in the access log, under the id it was answered with, and no client's id is.
	if refused := strings.Count(s.logs.String(), `"route":"/api/v1/checkout","status":400`); refused != 4 {
		t.Fatalf("the access log has %d refused checkouts, want 4:\n%s", refused, grepLines(s.logs.String(), "http request"))
	}
	if strings.Contains(s.logs.String(), long[:201]) || strings.Contains(s.logs.String(), "trace 1") {
		t.Fatal("a refused X-Request-ID is in the log")
	}
	id := "trace-" + long[:194]
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), map[string]string{"X-Request-ID": id})
	if res.status != http.StatusCreated {
		t.Fatalf("X-Request-ID of 200 characters: %d %s", res.status, res.body)
	}
	var n int
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE correlation_id = $1`, id).Scan(&n); err != nil || n == 0 {
		t.Fatal("the order's events do not carry the request's id")
	}

	// A provider would send its webhook again and again: it is taken, under an id of our own.
	gw := res.json(t)["payment"].(map[string]any)["gateway_order_id"].(string)
	body := []byte(`{"entity":"event","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_rid1","amount":129900,"currency":"INR","status":"captured","order_id":"` + gw + `","method":"upi","captured":true}}},"created_at":1}`)
	res = s.do(t, "POST", "/api/v1/webhooks/razorpay", body, map[string]string{"X-Request-ID": long,
		"X-Razorpay-Signature": razorpay.SignWebhook(razorpay.SimulatorWebhookSecret, body), "X-Razorpay-Event-Id": "evt_rid1"})
	if own := res.header.Get("X-Request-ID"); res.status != http.StatusOK || own == "" || own == long {
		t.Fatalf("a webhook with a long X-Request-ID: %d, answered with X-Request-ID %.40q: %s", res.status, own, res.body)
	}
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE type = 'order.payment_succeeded.v1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the webhook recorded %d payments (%v), want 1", n, err)
	}

	// Nor is the payment callback a customer's browser posts: the customer would see an error page
	// for a payment that went through.
	res = s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	gw = res.json(t)["payment"].(map[string]any)["gateway_order_id"].(string)
	pay, sig := razorpay.Simulator{}.Pay(gw)
	body, _ = json.Marshal(map[string]string{"razorpay_order_id": gw, "razorpay_payment_id": pay, "razorpay_signature": sig})
	res = s.do(t, "POST", "/api/v1/payments/razorpay/callback", body, map[string]string{"X-Request-ID": "trace 2"})
	if own := res.header.Get("X-Request-ID"); res.status != http.StatusOK || own == "" || own == "trace 2" {
		t.Fatalf("a payment callback with a space in its X-Request-ID: %d, answered with X-Request-ID %q: %s", res.status, own, res.body)
	}
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE type = 'order.payment_succeeded.v1'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("after the callback %d payments are recorded (%v), want 2", n, err)
	}
}

// Which gateway takes payments follows from the settings, and keys without the webhook secret stop
// the service with a message naming it: it chose Razorpay, then failed to build it, filed under the
// database in `doctor`.
func TestThePaymentGatewayFollowsItsSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		env  map[string]string
		want string // the gateway, or what the error names
	}{
		{"nothing set", nil, "simulator"},
		{"one key", map[string]string{"RAZORPAY_KEY_ID": "rzp_test_1"}, "simulator"},
		{"all three", map[string]string{"RAZORPAY_KEY_ID": "rzp_test_1", "RAZORPAY_KEY_SECRET": "s", "RAZORPAY_WEBHOOK_SECRET": "w"}, "razorpay"},
		{"keys without the webhook secret", map[string]string{"RAZORPAY_KEY_ID": "rzp_test_1", "RAZORPAY_KEY_SECRET": "s"}, "error: RAZORPAY_WEBHOOK_SECRET"},
		{"razorpay asked, a key missing", map[string]string{"PAYMENT_GATEWAY": "razorpay", "RAZORPAY_KEY_ID": "rzp_test_1"}, "error: RAZORPAY_KEY_SECRET"},
		{"the simulator asked, with keys", map[string]string{"PAYMENT_GATEWAY": "simulator", "RAZORPAY_KEY_ID": "rzp_test_1", "RAZORPAY_KEY_SECRET": "s"}, "simulator"},
	} {
		cfg, err := LoadConfig(func(k string) string { return c.env[k] }, nil)
		if names, ok := strings.CutPrefix(c.want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), names) {
				t.Errorf("%s: gateway %q, error %v; want an error naming %s", c.name, cfg.PaymentGateway, err, names)
			}
		} else if err != nil || cfg.PaymentGateway != c.want {
			t.Errorf("%s: gateway %q, error %v; want %s", c.name, cfg.PaymentGateway, err, c.want)
		}
	}
}
