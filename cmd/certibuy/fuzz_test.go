package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/domain/strictjson"
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
	f.Add([]byte(`{"entity":"event","event":"payment.failed","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_1","amount":129900,"order_id":"`+gw+`"}}}}`), "evt_4")
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

// checkoutKey is one object key of validCheckout: where it is in the text and what it names.
type checkoutKey struct {
	name       string
	start, end int // the quoted key's bytes
	path       jsontext.Pointer
}

// checkoutKeys lists the keys of validCheckout in order.
func checkoutKeys(tb testing.TB) []checkoutKey {
	dec := jsontext.NewDecoder(strings.NewReader(validCheckout))
	var keys []checkoutKey
	for {
		tok, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return keys
		}
		if err != nil {
			tb.Fatal(err)
		}
		// A string read where the object's member count became odd is a key.
		if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 && tok.Kind() == '"' {
			end := int(dec.InputOffset())
			keys = append(keys, checkoutKey{name: tok.String(), start: end - len(tok.String()) - 2, end: end, path: dec.StackPointer()})
		}
	}
}

// FuzzJSONKeys re-cases one key of a valid checkout (by a bit mask over its letters) and may give it
// twice, first with another value. A body whose key is not exactly the field's is a 400
// unknown_field naming it; one that gives a key twice is a 400 naming it (duplicate_key, or
// invalid_input when the first value is of the wrong type); neither appends anything. The body as
// it was places an order.
//
//	go test ./cmd/certibuy -run '^$' -fuzz FuzzJSONKeys -fuzztime 30s
func FuzzJSONKeys(f *testing.F) {
	s := startService(f, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0"})
	keys := checkoutKeys(f)
	f.Add(uint8(0), uint64(0), false, "")            // the body as it is
	f.Add(uint8(0), uint64(0b1), false, "")          // "Customer"
	f.Add(uint8(0), uint64(0xff), false, "")         // "CUSTOMER"
	f.Add(uint8(1), uint64(0), true, "Mallory")      // customer.name twice
	f.Add(uint8(7), uint64(0), true, "1")            // items[0].quantity twice, first a string
	f.Add(uint8(12), uint64(0b100000001), true, "x") // "Unit_price_paise" twice
	f.Add(uint8(200), uint64(1<<63|1), false, "")    // shipping_address.line1 as "Line1"
	f.Fuzz(func(t *testing.T, which uint8, mask uint64, twice bool, second string) {
		k := keys[int(which)%len(keys)]
		recased := []byte(k.name)
		for i := range recased {
			if mask&(1<<(i%64)) != 0 && recased[i] >= 'a' && recased[i] <= 'z' {
				recased[i] -= 'a' - 'A'
			}
		}
		quoted := `"` + string(recased) + `"`
		var body bytes.Buffer
		body.WriteString(validCheckout[:k.start])
		if twice {
			v, _ := json.Marshal(second) // a JSON string, whatever the text
			body.WriteString(quoted + ": " + string(v) + ", ")
		}
		body.WriteString(quoted + validCheckout[k.end:])

		before := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'order-%'`)
		res := s.do(t, "POST", "/api/v1/checkout", body.Bytes(), nil)
		after := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'order-%'`)
		if string(recased) == k.name && !twice {
			if res.status != http.StatusCreated || after != before+2 {
				t.Fatalf("the valid checkout: %d %s", res.status, res.body)
			}
			return
		}
		if res.status != http.StatusBadRequest || after != before {
			t.Fatalf("%s: %d (%d events appended) %s", body.Bytes(), res.status, after-before, res.body)
		}
		code, field, _ := apiError(t, res)
		want := strictjson.Field(k.path.Parent().AppendToken(string(recased)))
		switch {
		case string(recased) != k.name && (code != "unknown_field" || field != want):
			t.Fatalf("key %s: %s on %q, want unknown_field on %q: %s", quoted, code, field, want, body.Bytes())
		case string(recased) == k.name && (code != "duplicate_key" && code != "invalid_input" || field != want):
			t.Fatalf("key %s twice: %s on %q, want duplicate_key on %q: %s", quoted, code, field, want, body.Bytes())
		}
	})
}
