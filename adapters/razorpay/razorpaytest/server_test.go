package razorpaytest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/adapters/razorpay/razorpaytest"
)

const (
	keyID     = "rzp_test_fake0001"
	keySecret = "fake_key_secret_0123456789"
)

type response struct {
	status int
	body   map[string]any
	raw    string
}

// errField reads error.<name> from an error envelope.
func (r response) errField(name string) any {
	e, _ := r.body["error"].(map[string]any)
	return e[name]
}

type call struct {
	method, path, contentType, body string
	header                          map[string]string
	noAuth                          bool
	secret                          string
}

func do(t *testing.T, s *razorpaytest.Server, c call) response {
	t.Helper()
	req, err := http.NewRequest(c.method, s.URL()+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if !c.noAuth {
		secret := keySecret
		if c.secret != "" {
			secret = c.secret
		}
		req.SetBasicAuth(keyID, secret)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	} else if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func createOrder(t *testing.T, s *razorpaytest.Server, body string) response {
	t.Helper()
	return do(t, s, call{method: "POST", path: "/v1/orders", body: body})
}

func TestCreateOrderValidation(t *testing.T) {
	notes16 := map[string]string{}
	for i := range 16 {
		notes16[fmt.Sprint("k", i)] = "v"
	}
	many, _ := json.Marshal(notes16)
	tests := []struct {
		name        string
		c           call
		status      int
		field       string
		description string
	}{
		{"no auth", call{method: "POST", path: "/v1/orders", body: `{"amount":100,"currency":"INR"}`, noAuth: true},
			401, "", "Please provide your api key for authentication purposes."},
		{"wrong secret", call{method: "POST", path: "/v1/orders", body: `{"amount":100,"currency":"INR"}`, secret: "nope"},
			401, "", "The api key/secret provided is invalid"},
		{"form body", call{method: "POST", path: "/v1/orders", body: `amount=100`, contentType: "application/x-www-form-urlencoded"},
			400, "", "Content-Type must be application/json"},
		{"not JSON", call{method: "POST", path: "/v1/orders", body: `{"amount":`}, 400, "", "The request body is not a valid JSON object"},
		{"two objects", call{method: "POST", path: "/v1/orders", body: `{"amount":100,"currency":"INR"}{}`}, 400, "", "The request body is not a valid JSON object"},
		{"no amount", call{method: "POST", path: "/v1/orders", body: `{"currency":"INR"}`}, 400, "amount", "The amount field is required."},
		{"fractional amount", call{method: "POST", path: "/v1/orders", body: `{"amount":100.5,"currency":"INR"}`}, 400, "amount", "The amount must be an integer."},
		{"amount 100.0", call{method: "POST", path: "/v1/orders", body: `{"amount":100.0,"currency":"INR"}`}, 400, "amount", "The amount must be an integer."},
		{"amount as string", call{method: "POST", path: "/v1/orders", body: `{"amount":"100","currency":"INR"}`}, 400, "amount", "The amount must be an integer."},
		{"amount 99", call{method: "POST", path: "/v1/orders", body: `{"amount":99,"currency":"INR"}`}, 400, "amount", "The amount must be atleast INR 1.00"},
		{"no currency", call{method: "POST", path: "/v1/orders", body: `{"amount":100}`}, 400, "currency", "The currency field is required."},
		{"USD", call{method: "POST", path: "/v1/orders", body: `{"amount":100,"currency":"USD"}`}, 400, "currency", "Currency is not supported"},
		{"receipt of 41", call{method: "POST", path: "/v1/orders", body: `{"amount":100,"currency":"INR","receipt":"` + strings.Repeat("r", 41) + `"}`},
			400, "receipt", "The receipt may not be greater than 40 characters."},
		{"16 notes", call{method: "POST", path: "/v1/orders", body: `{"amount":100,"currency":"INR","notes":` + string(many) + `}`},
			400, "notes", "Number of fields in notes should be less than or equal to 15"},
		{"unknown field", call{method: "POST", path: "/v1/orders", body: `{"amount":100,"currency":"INR","amount_paise":100}`},
			400, "amount_paise", "amount_paise is/are not required and should not be sent"},
		{"unknown route", call{method: "GET", path: "/v1/ordrs"}, 404, "", "The requested URL was not found on the server."},
		{"unknown order", call{method: "GET", path: "/v1/orders/order_nope"}, 400, "id", "The id provided does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := razorpaytest.NewServer(t, keyID, keySecret)
			r := do(t, s, tt.c)
			if r.status != tt.status || r.errField("code") != "BAD_REQUEST_ERROR" || r.errField("description") != tt.description {
				t.Fatalf("got %d %s; want %d BAD_REQUEST_ERROR %q", r.status, r.raw, tt.status, tt.description)
			}
			if f, _ := r.errField("field").(string); f != tt.field {
				t.Errorf("field = %q, want %q", f, tt.field)
			}
			for _, k := range []string{"source", "step", "reason", "metadata"} {
				if r.errField(k) == nil {
					t.Errorf("envelope has no %s: %s", k, r.raw)
				}
			}
			if got := do(t, s, call{method: "GET", path: "/v1/orders"}); got.body["count"] != 0.0 {
				t.Errorf("a refused create left an order behind: %s", got.raw)
			}
		})
	}
}

func TestCreateOrderShapeAndUniqueReceipt(t *testing.T) {
	s := razorpaytest.NewServer(t, keyID, keySecret)
	r := createOrder(t, s, `{"amount":49900,"currency":"INR","receipt":"CB-7K3M9Q2X"}`)
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	id, _ := r.body["id"].(string)
	if !strings.HasPrefix(id, "order_") || len(id) != len("order_")+14 {
		t.Errorf("id = %q, want order_ and 14 characters", id)
	}
	want := map[string]any{"id": id, "entity": "order", "amount": 49900.0, "amount_paid": 0.0, "amount_due": 49900.0,
		"currency": "INR", "receipt": "CB-7K3M9Q2X", "offer_id": nil, "status": "created", "attempts": 0.0,
		"notes": []any{}, "created_at": r.body["created_at"]}
	if !reflect.DeepEqual(r.body, want) {
		t.Errorf("order =\n%v\nwant\n%v", r.body, want)
	}
	if ts, _ := r.body["created_at"].(float64); ts < 1.7e9 {
		t.Errorf("created_at = %v", r.body["created_at"])
	}

	again := createOrder(t, s, `{"amount":100,"currency":"INR","receipt":"CB-7K3M9Q2X"}`)
	if again.status != 400 || again.errField("field") != "receipt" {
		t.Errorf("second create with the receipt: %d %s", again.status, again.raw)
	}
	list := do(t, s, call{method: "GET", path: "/v1/orders?receipt=CB-7K3M9Q2X"})
	if items, _ := list.body["items"].([]any); list.body["entity"] != "collection" || list.body["count"] != 1.0 || len(items) != 1 {
		t.Errorf("list by receipt: %s", list.raw)
	}
	none := do(t, s, call{method: "GET", path: "/v1/orders?receipt=other"})
	if items, _ := none.body["items"].([]any); none.body["count"] != 0.0 || items == nil || len(items) != 0 {
		t.Errorf("list by an unused receipt: %s", none.raw)
	}
}

func TestRefundRules(t *testing.T) {
	s := razorpaytest.NewServer(t, keyID, keySecret)
	o := createOrder(t, s, `{"amount":10000,"currency":"INR","receipt":"r1"}`)
	paymentID, _ := s.Pay(o.body["id"].(string), "upi")
	refund := func(body string, header map[string]string) response {
		return do(t, s, call{method: "POST", path: "/v1/payments/" + paymentID + "/refund", body: body, header: header})
	}
	key := func(k string) map[string]string { return map[string]string{"X-Refund-Idempotency": k} }

	tests := []struct {
		name   string
		path   string
		body   string
		header map[string]string
		field  string
	}{
		{"unknown payment", "/v1/payments/pay_nope/refund", `{"amount":100}`, nil, "payment_id"},
		{"over the payment", "", `{"amount":10001}`, nil, "amount"},
		{"under a rupee", "", `{"amount":99}`, nil, "amount"},
		{"amount as string", "", `{"amount":"100"}`, nil, "amount"},
		{"bad speed", "", `{"speed":"instant"}`, nil, "speed"},
		{"unknown field", "", `{"amount":100,"reason":"x"}`, nil, "reason"},
		{"short key", "", `{"amount":100}`, key("short"), "X-Refund-Idempotency"},
		{"key with a space", "", `{"amount":100}`, key("refund key 0001"), "X-Refund-Idempotency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/v1/payments/" + paymentID + "/refund"
			}
			r := do(t, s, call{method: "POST", path: path, body: tt.body, header: tt.header})
			if r.status != 400 || r.errField("code") != "BAD_REQUEST_ERROR" || r.errField("field") != tt.field {
				t.Errorf("got %d %s; want 400 on %s", r.status, r.raw, tt.field)
			}
		})
	}
	if n := len(s.Refunds(paymentID)); n != 0 {
		t.Fatalf("refused refunds left %d refunds", n)
	}

	// Without a key every request is a new refund; with one, a repeat is the first refund again.
	a := refund(`{"amount":1000}`, nil)
	b := refund(`{"amount":1000}`, nil)
	if a.status != 200 || b.status != 200 || a.body["id"] == b.body["id"] {
		t.Fatalf("two keyless refunds: %s / %s", a.raw, b.raw)
	}
	c := refund(`{"amount":1000,"speed":"normal"}`, key("refund_key_0001"))
	d := refund(`{"speed":"normal", "amount":1000}`, key("refund_key_0001")) // same body, other spelling
	if c.status != 200 || d.status != 200 || c.body["id"] != d.body["id"] {
		t.Fatalf("same key, same body: %s / %s", c.raw, d.raw)
	}
	e := refund(`{"amount":2000}`, key("refund_key_0001"))
	if e.status != 400 || e.errField("field") != "X-Refund-Idempotency" {
		t.Fatalf("same key, another body: %d %s", e.status, e.raw)
	}
	if n := len(s.Refunds(paymentID)); n != 3 {
		t.Fatalf("%d refunds, want 3", n)
	}
	// 7000 of 10000 is left: a full refund takes exactly that, and then nothing is left.
	full := refund(`{}`, key("refund_key_0002"))
	if full.status != 200 || full.body["amount"] != 7000.0 {
		t.Fatalf("full refund: %s", full.raw)
	}
	if r := refund(`{}`, key("refund_key_0002")); r.status != 200 || r.body["id"] != full.body["id"] {
		t.Fatalf("repeated full refund: %s", r.raw)
	}
	if r := refund(`{"amount":100}`, nil); r.status != 400 || r.errField("field") != "amount" {
		t.Fatalf("refund of a fully refunded payment: %d %s", r.status, r.raw)
	}
	// A failed refund gives its amount back.
	s.RefundFailedWebhook(a.body["id"].(string))
	if r := refund(`{"amount":1000}`, nil); r.status != 200 {
		t.Fatalf("refund after a failed one: %d %s", r.status, r.raw)
	}
}

func TestWebhookEnvelopes(t *testing.T) {
	s := razorpaytest.NewServer(t, keyID, keySecret)
	o := createOrder(t, s, `{"amount":25000,"currency":"INR","receipt":"r1","notes":{"order":"CB-1"}}`)
	orderID := o.body["id"].(string)
	failed := decode(t, s.FailedWebhook(orderID, "BAD_REQUEST_ERROR", "Payment failed due to insufficient balance"))
	paymentID, sig := s.Pay(orderID, "card")
	captured := decode(t, s.CapturedWebhook(paymentID))

	if !razorpay.VerifyPaymentSignature(keySecret, orderID, paymentID, sig) {
		t.Error("Pay's signature does not verify")
	}
	if got, _ := s.Order(orderID); got.Status != "paid" || got.AmountPaid != 25000 || got.AmountDue != 0 || got.Attempts != 2 {
		t.Errorf("order after a failure and a payment = %+v", got)
	}

	for _, ev := range []map[string]any{failed, captured} {
		if ev["entity"] != "event" || ev["account_id"] != s.AccountID() || !reflect.DeepEqual(ev["contains"], []any{"payment"}) {
			t.Errorf("envelope = %v", ev)
		}
		if ts, _ := ev["created_at"].(float64); ts < 1.7e9 {
			t.Errorf("created_at = %v", ev["created_at"])
		}
	}
	fp := payloadEntity(failed, "payment")
	if failed["event"] != "payment.failed" || fp["status"] != "failed" || fp["captured"] != false ||
		fp["error_code"] != "BAD_REQUEST_ERROR" || fp["error_description"] != "Payment failed due to insufficient balance" || fp["order_id"] != orderID {
		t.Errorf("payment.failed = %v", failed)
	}
	cp := payloadEntity(captured, "payment")
	if captured["event"] != "payment.captured" || cp["id"] != paymentID || cp["status"] != "captured" || cp["captured"] != true ||
		cp["amount"] != 25000.0 || cp["method"] != "card" || cp["error_code"] != nil || !reflect.DeepEqual(cp["notes"], map[string]any{"order": "CB-1"}) {
		t.Errorf("payment.captured = %v", captured)
	}

	r := do(t, s, call{method: "POST", path: "/v1/payments/" + paymentID + "/refund", body: `{"amount":5000}`})
	refundID := r.body["id"].(string)
	if r.body["status"] != "pending" || r.body["acquirer_data"].(map[string]any)["arn"] != nil {
		t.Fatalf("new refund: %s", r.raw)
	}
	processed := decode(t, s.RefundProcessedWebhook(refundID))
	rp := payloadEntity(processed, "refund")
	if processed["event"] != "refund.processed" || !reflect.DeepEqual(processed["contains"], []any{"refund", "payment"}) ||
		rp["id"] != refundID || rp["status"] != "processed" || rp["amount"] != 5000.0 {
		t.Errorf("refund.processed = %v", processed)
	}
	if arn, _ := rp["acquirer_data"].(map[string]any)["arn"].(string); len(arn) != 23 {
		t.Errorf("arn = %v", rp["acquirer_data"])
	}
	if pp := payloadEntity(processed, "payment"); pp["amount_refunded"] != 5000.0 || pp["refund_status"] != "partial" {
		t.Errorf("payment in refund.processed = %v", pp)
	}
	if got := s.Refunds(paymentID); len(got) != 1 || got[0].Status != "processed" {
		t.Errorf("refunds = %+v", got)
	}

	s.SetRefundOutcome(razorpay.RefundProcessed)
	r = do(t, s, call{method: "POST", path: "/v1/payments/" + paymentID + "/refund", body: `{"amount":5000}`})
	if r.body["status"] != "processed" {
		t.Errorf("refund with outcome processed: %s", r.raw)
	}
}

func TestFailNextAndRequests(t *testing.T) {
	s := razorpaytest.NewServer(t, keyID, keySecret)
	s.FailNext(2, 503, `<html>upstream down</html>`)
	for i := range 2 {
		r := createOrder(t, s, `{"amount":100,"currency":"INR","receipt":"r1"}`)
		if r.status != 503 || r.raw != `<html>upstream down</html>` {
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
	if r := createOrder(t, s, `{"amount":100,"currency":"INR","receipt":"r1"}`); r.status != 200 {
		t.Fatalf("third request: %d %s (faulted requests must not create the order)", r.status, r.raw)
	}
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests recorded, want 3", len(reqs))
	}
	for _, r := range reqs {
		id, secret, ok := (&http.Request{Header: r.Header}).BasicAuth()
		if r.Method != "POST" || r.Path != "/v1/orders" || !ok || id != keyID || secret != keySecret ||
			string(r.Body) != `{"amount":100,"currency":"INR","receipt":"r1"}` {
			t.Errorf("recorded %+v", r)
		}
	}
	reqs[0].Body[0] = 'X'
	reqs[0].Header.Set("Authorization", "changed")
	if again := s.Requests(); again[0].Body[0] != '{' || again[0].Header.Get("Authorization") == "changed" {
		t.Error("Requests returns the server's own slices")
	}
}

// Run with -race: requests and helpers at once.
func TestConcurrentUse(t *testing.T) {
	s := razorpaytest.NewServer(t, keyID, keySecret)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r := createOrder(t, s, fmt.Sprintf(`{"amount":100,"currency":"INR","receipt":"r%d"}`, i))
			if r.status != 200 {
				t.Errorf("create %d: %d %s", i, r.status, r.raw)
				return
			}
			s.Pay(r.body["id"].(string), "upi")
			_ = s.Requests()
		})
	}
	wg.Wait()
	list := do(t, s, call{method: "GET", path: "/v1/orders?count=100"})
	if list.body["count"] != 20.0 {
		t.Errorf("count = %v, want 20", list.body["count"])
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("webhook body is not JSON: %v", err)
	}
	return m
}

func payloadEntity(ev map[string]any, name string) map[string]any {
	p, _ := ev["payload"].(map[string]any)
	w, _ := p[name].(map[string]any)
	e, _ := w["entity"].(map[string]any)
	return e
}
