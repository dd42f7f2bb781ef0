package razorpay_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/adapters/razorpay/razorpaytest"
)

func newFake(t *testing.T) *razorpaytest.Server {
	return razorpaytest.NewServer(t, testKeyID, testKeySecret)
}

func newClient(t *testing.T, s *razorpaytest.Server, change ...func(*razorpay.Config)) *razorpay.Client {
	t.Helper()
	cfg := razorpay.Config{KeyID: testKeyID, KeySecret: testKeySecret, WebhookSecret: testWebhookSecret, BaseURL: s.URL(), Timeout: 5 * time.Second}
	for _, f := range change {
		f(&cfg)
	}
	c, err := razorpay.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createOrder(t *testing.T, c *razorpay.Client, amount int64, receipt string) razorpay.Order {
	t.Helper()
	o, err := c.CreateOrder(context.Background(), razorpay.CreateOrderRequest{AmountPaise: amount, Receipt: receipt})
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	return o
}

func TestCreateOrderRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		req       razorpay.CreateOrderRequest
		wantBody  string
		wantNotes razorpay.Notes
	}{
		{
			name: "with notes",
			req: razorpay.CreateOrderRequest{AmountPaise: 129900, Receipt: "CB-7K3M9Q2X",
				Notes: map[string]string{"order_id": "0b9c7f7e", "customer": "Asha Rao"}},
			wantBody:  `{"amount":129900,"currency":"INR","receipt":"CB-7K3M9Q2X","notes":{"customer":"Asha Rao","order_id":"0b9c7f7e"}}`,
			wantNotes: razorpay.Notes{"order_id": "0b9c7f7e", "customer": "Asha Rao"},
		},
		{
			// The fake, like Razorpay, answers an empty notes set with [].
			name:      "without notes",
			req:       razorpay.CreateOrderRequest{AmountPaise: 100, Currency: "INR", Receipt: "CB-2"},
			wantBody:  `{"amount":100,"currency":"INR","receipt":"CB-2"}`,
			wantNotes: razorpay.Notes{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			c := newClient(t, s)
			before := time.Now().Unix()
			o, err := c.CreateOrder(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(o.ID, "order_") || o.Entity != "order" || o.Amount != tt.req.AmountPaise || o.AmountPaid != 0 ||
				o.AmountDue != tt.req.AmountPaise || o.Currency != "INR" || o.Receipt != tt.req.Receipt ||
				o.Status != razorpay.OrderCreated || o.Attempts != 0 || o.CreatedAt < before || o.CreatedAt > before+60 {
				t.Errorf("order = %+v", o)
			}
			if !reflect.DeepEqual(o.Notes, tt.wantNotes) {
				t.Errorf("notes = %#v, want %#v", o.Notes, tt.wantNotes)
			}
			var raw map[string]any
			if err := json.Unmarshal(o.Raw, &raw); err != nil || raw["id"] != o.ID {
				t.Errorf("raw = %s (%v)", o.Raw, err)
			}
			if stored, ok := s.Order(o.ID); !ok || stored.Receipt != tt.req.Receipt || stored.Amount != tt.req.AmountPaise {
				t.Errorf("fake holds %+v", stored)
			}

			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			id, secret, ok := (&http.Request{Header: r.Header}).BasicAuth()
			if !ok || id != testKeyID || secret != testKeySecret {
				t.Errorf("basic auth = %q, %q, %v", id, secret, ok)
			}
			if r.Method != "POST" || r.Path != "/v1/orders" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request = %s %s %v", r.Method, r.Path, r.Header)
			}
			if string(r.Body) != tt.wantBody {
				t.Errorf("body = %s\nwant   %s", r.Body, tt.wantBody)
			}
		})
	}
}

func TestFindOrderByReceipt(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	ctx := context.Background()
	odd := createOrder(t, c, 500, "CB 1&receipt=x/#?")
	plain := createOrder(t, c, 700, "CB-2")

	tests := []struct {
		name    string
		receipt string
		want    string // order id, or "" for none
	}{
		{"found", "CB-2", plain.ID},
		{"receipt that needs escaping", "CB 1&receipt=x/#?", odd.ID},
		{"not found", "CB-3", ""},
		{"prefix is not a match", "CB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.FindOrderByReceipt(ctx, tt.receipt)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if got != nil {
					t.Fatalf("found %+v, want none", got)
				}
				return
			}
			if got == nil || got.ID != tt.want || got.Receipt != tt.receipt {
				t.Fatalf("found %+v, want %s", got, tt.want)
			}
			if !strings.Contains(string(got.Raw), `"entity":"collection"`) {
				t.Errorf("raw = %s, want the collection", got.Raw)
			}
		})
	}
	reqs := s.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != "GET" || last.Path != "/v1/orders" || last.Query.Get("receipt") != "CB" {
		t.Errorf("last request = %s %s %v", last.Method, last.Path, last.Query)
	}
}

func TestFindOrderByReceiptDistrustsTheFilter(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	ctx := context.Background()

	// An answer that ignored the filter: another receipt's order must not be taken for ours.
	s.FailNext(1, 200, `{"entity":"collection","count":1,"items":[{"id":"order_other","entity":"order","receipt":"CB-9","created_at":5}]}`)
	if got, err := c.FindOrderByReceipt(ctx, "CB-1"); err != nil || got != nil {
		t.Fatalf("found %+v, %v; want none", got, err)
	}
	// Two orders with our receipt (Razorpay itself does not forbid it): the earliest, every time.
	s.FailNext(1, 200, `{"entity":"collection","count":2,"items":[
		{"id":"order_new","entity":"order","receipt":"CB-1","created_at":200,"notes":[]},
		{"id":"order_old","entity":"order","receipt":"CB-1","created_at":100,"notes":[]}]}`)
	if got, err := c.FindOrderByReceipt(ctx, "CB-1"); err != nil || got == nil || got.ID != "order_old" {
		t.Fatalf("found %+v, %v; want order_old", got, err)
	}
	// Not a collection at all.
	s.FailNext(1, 200, `{"id":"order_1","entity":"order","receipt":"CB-1"}`)
	_, err := c.FindOrderByReceipt(ctx, "CB-1")
	var re *razorpay.ResponseError
	if !errors.As(err, &re) || !errors.Is(err, razorpay.ErrUnexpectedResponse) || string(re.Body) != `{"id":"order_1","entity":"order","receipt":"CB-1"}` {
		t.Fatalf("err = %v, want a ResponseError with the body", err)
	}
}

func TestFetchOrder(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	ctx := context.Background()
	o := createOrder(t, c, 25000, "CB-1")
	s.FailedWebhook(o.ID, "BAD_REQUEST_ERROR", "Payment failed")

	got, err := c.FetchOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != o.ID || got.Status != razorpay.OrderAttempted || got.Attempts != 1 || got.AmountPaid != 0 {
		t.Errorf("after a failed attempt: %+v", got)
	}
	s.Pay(o.ID, "upi")
	got, err = c.FetchOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != razorpay.OrderPaid || got.Attempts != 2 || got.AmountPaid != 25000 || got.AmountDue != 0 || !strings.Contains(string(got.Raw), o.ID) {
		t.Errorf("after paying: %+v", got)
	}
	if r := s.Requests(); r[len(r)-1].Method != "GET" || r[len(r)-1].Path != "/v1/orders/"+o.ID {
		t.Errorf("request = %+v", r[len(r)-1])
	}

	_, err = c.FetchOrder(ctx, "order_doesnotexist")
	var ae *razorpay.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != "BAD_REQUEST_ERROR" || ae.Description != "The id provided does not exist" ||
		ae.Field != "id" || ae.Op != razorpay.OpFetchOrder || ae.Temporary() {
		t.Fatalf("unknown order: %#v", err)
	}
}

func TestAPIErrors(t *testing.T) {
	const envelope400 = `{"error":{"code":"BAD_REQUEST_ERROR","description":"The amount must be atleast INR 1.00","source":"business","step":"payment_initiation","reason":"input_validation_failed","metadata":{"order_id":"order_X"},"field":"amount"}}`
	type want struct {
		status                           int
		code, description, field, reason string
		temporary                        bool
	}
	createCall := func(c *razorpay.Client, _ string) error {
		_, err := c.CreateOrder(context.Background(), razorpay.CreateOrderRequest{AmountPaise: 100, Receipt: "CB-1"})
		return err
	}
	refundCall := func(c *razorpay.Client, paymentID string) error {
		_, err := c.Refund(context.Background(), paymentID, razorpay.RefundRequest{IdempotencyKey: "refund_key_1"})
		return err
	}
	fetchCall := func(c *razorpay.Client, _ string) error {
		_, err := c.FetchOrder(context.Background(), "order_1")
		return err
	}
	tests := []struct {
		name   string
		status int    // answer FailNext gives; 0: the fake answers for real
		body   string // FailNext body
		call   func(*razorpay.Client, string) error
		secret string // client's key secret, when not the right one
		want   want
	}{
		{"400 full envelope", 400, envelope400, createCall, "",
			want{400, "BAD_REQUEST_ERROR", "The amount must be atleast INR 1.00", "amount", "input_validation_failed", false}},
		{"401 from the fake", 0, "", createCall, "wrongWrongWrongSecret",
			want{401, "BAD_REQUEST_ERROR", "The api key/secret provided is invalid", "", "NA", false}},
		{"404", 404, `{"error":{"code":"BAD_REQUEST_ERROR","description":"The requested URL was not found on the server.","source":"NA","step":"NA","reason":"NA","metadata":{}}}`, fetchCall, "",
			want{404, "BAD_REQUEST_ERROR", "The requested URL was not found on the server.", "", "NA", false}},
		{"409 on a refund is in flight", 409, `{"error":{"code":"BAD_REQUEST_ERROR","description":"A request with the same idempotency key is being processed","source":"NA","step":"NA","reason":"NA","metadata":{}}}`, refundCall, "",
			want{409, "BAD_REQUEST_ERROR", "A request with the same idempotency key is being processed", "", "NA", true}},
		{"409 on an order is not", 409, `{"error":{"code":"BAD_REQUEST_ERROR","description":"conflict","metadata":{}}}`, createCall, "",
			want{409, "BAD_REQUEST_ERROR", "conflict", "", "", false}},
		{"429", 429, `{"error":{"code":"BAD_REQUEST_ERROR","description":"Too many requests","source":"NA","step":"NA","reason":"NA","metadata":{}}}`, createCall, "",
			want{429, "BAD_REQUEST_ERROR", "Too many requests", "", "NA", true}},
		{"500", 500, `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error. The incident has been reported to admins.","source":"NA","step":"NA","reason":"NA","metadata":{}}}`, refundCall, "",
			want{500, "SERVER_ERROR", "The server encountered an error. The incident has been reported to admins.", "", "NA", true}},
		{"502 from a proxy, HTML", 502, `<html><body>502 Bad Gateway</body></html>`, createCall, "",
			want{502, "", "", "", "", true}},
		{"503, empty body", 503, ``, fetchCall, "",
			want{503, "", "", "", "", true}},
		{"metadata as []", 400, `{"error":{"code":"BAD_REQUEST_ERROR","description":"bad","source":"business","step":"x","reason":"r","metadata":[],"field":"receipt"}}`, createCall, "",
			want{400, "BAD_REQUEST_ERROR", "bad", "receipt", "r", false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			c := newClient(t, s)
			o := createOrder(t, c, 1000, "setup")
			paymentID, _ := s.Pay(o.ID, "card")
			if tt.secret != "" {
				c = newClient(t, s, func(cfg *razorpay.Config) { cfg.KeySecret = tt.secret })
			}
			if tt.status != 0 {
				s.FailNext(1, tt.status, tt.body)
			}
			err := tt.call(c, paymentID)
			var ae *razorpay.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			got := want{ae.StatusCode, ae.Code, ae.Description, ae.Field, ae.Reason, ae.Temporary()}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if razorpay.IsTemporary(err) != tt.want.temporary {
				t.Errorf("IsTemporary = %v", !tt.want.temporary)
			}
			if errors.Is(err, razorpay.ErrUnreachable) {
				t.Error("an answer from Razorpay is not ErrUnreachable")
			}
			if tt.status != 0 && string(ae.Body) != tt.body {
				t.Errorf("body = %q, want the raw %q", ae.Body, tt.body)
			}
			msg := err.Error()
			if !strings.Contains(msg, ae.Op) || !strings.Contains(msg, http.StatusText(tt.want.status)) && !strings.Contains(msg, tt.want.description) {
				t.Errorf("Error() = %q, not readable", msg)
			}
			for _, secret := range []string{testKeySecret, tt.secret} {
				if secret != "" && strings.Contains(msg, secret) {
					t.Errorf("Error() holds the key secret: %s", msg)
				}
			}
		})
	}
	t.Run("metadata", func(t *testing.T) {
		s := newFake(t)
		s.FailNext(1, 400, envelope400)
		_, err := newClient(t, s).FetchOrder(context.Background(), "order_1")
		var ae *razorpay.APIError
		if !errors.As(err, &ae) || !reflect.DeepEqual(ae.Metadata, map[string]any{"order_id": "order_X"}) || ae.Source != "business" || ae.Step != "payment_initiation" {
			t.Fatalf("err = %#v", err)
		}
		if want := "razorpay fetch order: HTTP 400 BAD_REQUEST_ERROR: The amount must be atleast INR 1.00 (field amount, reason input_validation_failed)"; err.Error() != want {
			t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
		}
	})
}

// An answer echoing a secret or a phone number must not carry them into errors or logs.
func TestAPIErrorRedaction(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	body := `{"error":{"code":"BAD_REQUEST_ERROR","description":"key ` + testKeySecret + ` rejected for contact +919876543210","field":"contact","metadata":{"hook":"` + testWebhookSecret + `"}}}`
	s.FailNext(1, 400, body)
	_, err := c.FetchOrder(context.Background(), "order_1")
	var ae *razorpay.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, leak := range []string{testKeySecret, testWebhookSecret, "9876543210"} {
		if strings.Contains(msg, leak) || strings.Contains(string(ae.Body), testKeySecret) || strings.Contains(string(ae.Body), testWebhookSecret) {
			t.Errorf("%q leaked: Error() = %s, Body = %s", leak, msg, ae.Body)
		}
	}
	if !strings.Contains(msg, "*******3210") || !strings.Contains(msg, "[redacted]") {
		t.Errorf("Error() = %s, want the masked number and the redaction visible", msg)
	}
}

func TestUnexpectedSuccessBody(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not JSON", `<html>ok</html>`},
		{"another entity", `{"id":"rfnd_1","entity":"refund"}`},
		{"no id", `{"entity":"order"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			s.FailNext(1, 200, tt.body)
			_, err := newClient(t, s).CreateOrder(context.Background(), razorpay.CreateOrderRequest{AmountPaise: 100, Receipt: "CB-1"})
			var re *razorpay.ResponseError
			if !errors.As(err, &re) || !errors.Is(err, razorpay.ErrUnexpectedResponse) || re.StatusCode != 200 || string(re.Body) != tt.body {
				t.Fatalf("err = %v, want a ResponseError with the body", err)
			}
			if errors.Is(err, razorpay.ErrUnreachable) || razorpay.IsTemporary(err) {
				t.Errorf("a 2xx was applied; it is not unreachable or temporary: %v", err)
			}
		})
	}
}

func TestOversizedAnswer(t *testing.T) {
	s := newFake(t)
	huge := `{"entity":"collection","count":0,"items":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	s.FailNext(1, 200, huge)
	_, err := newClient(t, s).FindOrderByReceipt(context.Background(), "CB-1")
	var re *razorpay.ResponseError
	if !errors.As(err, &re) || len(re.Body) != 1<<20 || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v, want a ResponseError with the first MiB", err)
	}
}

// A timed-out create may have gone through: the error says so, and the receipt finds the order.
func TestTimeoutIsAmbiguous(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s, func(cfg *razorpay.Config) { cfg.Timeout = 50 * time.Millisecond })
	ctx := context.Background()
	s.Delay(2 * time.Second)

	start := time.Now()
	_, err := c.CreateOrder(ctx, razorpay.CreateOrderRequest{AmountPaise: 49900, Receipt: "CB-T1"})
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("the call took %s; the 50ms timeout did not apply", elapsed)
	}
	var ae *razorpay.APIError
	if !errors.Is(err, razorpay.ErrUnreachable) || !razorpay.IsTimeout(err) || !razorpay.IsTemporary(err) || errors.As(err, &ae) {
		t.Fatalf("err = %v; want ErrUnreachable, a timeout, temporary, no APIError", err)
	}
	if !strings.Contains(err.Error(), razorpay.OpCreateOrder) || strings.Contains(err.Error(), testKeySecret) {
		t.Errorf("Error() = %s", err)
	}

	s.Delay(0)
	found, err := c.FindOrderByReceipt(ctx, "CB-T1")
	if err != nil || found == nil || found.Amount != 49900 {
		t.Fatalf("look-up after the timeout = %+v, %v; want the order the timed-out call created", found, err)
	}
	// Which is why a blind retry is wrong: the receipt is taken.
	_, err = c.CreateOrder(ctx, razorpay.CreateOrderRequest{AmountPaise: 49900, Receipt: "CB-T1"})
	if !errors.As(err, &ae) || ae.Field != "receipt" {
		t.Fatalf("second create = %v, want the receipt refused", err)
	}
}

func TestUnreachable(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, s *razorpaytest.Server) (context.Context, *razorpay.Client)
		wantTimeout bool
		wantIs      error
	}{
		{"caller's deadline", func(t *testing.T, s *razorpaytest.Server) (context.Context, *razorpay.Client) {
			s.Delay(2 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			t.Cleanup(cancel)
			return ctx, newClient(t, s)
		}, true, context.DeadlineExceeded},
		{"http.Client timeout", func(t *testing.T, s *razorpaytest.Server) (context.Context, *razorpay.Client) {
			s.Delay(2 * time.Second)
			return context.Background(), newClient(t, s, func(c *razorpay.Config) { c.HTTPClient = &http.Client{Timeout: 30 * time.Millisecond} })
		}, true, nil},
		{"caller cancelled", func(t *testing.T, s *razorpaytest.Server) (context.Context, *razorpay.Client) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, newClient(t, s)
		}, false, context.Canceled},
		{"connection refused", func(t *testing.T, s *razorpaytest.Server) (context.Context, *razorpay.Client) {
			c := newClient(t, s)
			s.Close()
			return context.Background(), c
		}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, c := tt.setup(t, newFake(t))
			_, err := c.FetchOrder(ctx, "order_1")
			if !errors.Is(err, razorpay.ErrUnreachable) || razorpay.IsTimeout(err) != tt.wantTimeout || !razorpay.IsTemporary(err) {
				t.Fatalf("err = %v; want ErrUnreachable with IsTimeout %v", err, tt.wantTimeout)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestRefundIdempotency(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	ctx := context.Background()
	o := createOrder(t, c, 10000, "CB-R1")
	paymentID, _ := s.Pay(o.ID, "card")
	req := razorpay.RefundRequest{AmountPaise: 4000, Notes: map[string]string{"reason": "cancelled"}, IdempotencyKey: "refund_CB-R1_0001"}

	first, err := c.Refund(ctx, paymentID, req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.ID, "rfnd_") || first.Entity != "refund" || first.Amount != 4000 || first.Currency != "INR" ||
		first.PaymentID != paymentID || first.Status != razorpay.RefundPending || first.SpeedRequested != "normal" ||
		first.SpeedProcessed != "normal" || first.AcquirerData.ARN != "" || first.Notes["reason"] != "cancelled" {
		t.Errorf("refund = %+v", first)
	}
	if !strings.Contains(string(first.Raw), first.ID) {
		t.Errorf("raw = %s", first.Raw)
	}

	again, err := c.Refund(ctx, paymentID, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Amount != 4000 {
		t.Errorf("retry gave %+v, want refund %s again", again, first.ID)
	}
	if n := len(s.Refunds(paymentID)); n != 1 {
		t.Errorf("%d refunds after a retry, want 1", n)
	}
	reqs := s.Requests()
	a, b := reqs[len(reqs)-2], reqs[len(reqs)-1]
	const wantBody = `{"amount":4000,"speed":"normal","notes":{"reason":"cancelled"}}`
	for _, r := range []razorpaytest.Request{a, b} {
		if r.Method != "POST" || r.Path != "/v1/payments/"+paymentID+"/refund" ||
			r.Header.Get(razorpay.HeaderRefundIdempotency) != "refund_CB-R1_0001" || string(r.Body) != wantBody {
			t.Errorf("request = %s %s %q %s", r.Method, r.Path, r.Header.Get(razorpay.HeaderRefundIdempotency), r.Body)
		}
	}

	changed := req
	changed.AmountPaise = 5000
	_, err = c.Refund(ctx, paymentID, changed)
	var ae *razorpay.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Field != razorpay.HeaderRefundIdempotency || ae.Temporary() {
		t.Fatalf("same key, other amount: %v", err)
	}
	if n := len(s.Refunds(paymentID)); n != 1 {
		t.Errorf("%d refunds, want still 1", n)
	}

	t.Run("full refund omits the amount", func(t *testing.T) {
		r, err := c.Refund(ctx, paymentID, razorpay.RefundRequest{IdempotencyKey: "refund_CB-R1_full"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Amount != 6000 {
			t.Errorf("full refund of what is left = %d, want 6000", r.Amount)
		}
		if reqs := s.Requests(); string(reqs[len(reqs)-1].Body) != `{"speed":"normal"}` {
			t.Errorf("body = %s", reqs[len(reqs)-1].Body)
		}
	})
	t.Run("nothing left", func(t *testing.T) {
		_, err := c.Refund(ctx, paymentID, razorpay.RefundRequest{AmountPaise: 100, IdempotencyKey: "refund_CB-R1_more"})
		var ae *razorpay.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Field != "amount" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown payment", func(t *testing.T) {
		_, err := c.Refund(ctx, "pay_doesnotexist", razorpay.RefundRequest{IdempotencyKey: "refund_unknown"})
		var ae *razorpay.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Description != "The id provided does not exist" {
			t.Fatalf("err = %v", err)
		}
	})
}

// A refund whose answer was lost is retried with the same key and body, and no second refund is
// made.
func TestRefundRetryAfterTimeout(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s, func(cfg *razorpay.Config) { cfg.Timeout = 50 * time.Millisecond })
	ctx := context.Background()
	s.Delay(0)
	o := createOrder(t, c, 10000, "CB-R2")
	paymentID, _ := s.Pay(o.ID, "upi")
	req := razorpay.RefundRequest{AmountPaise: 10000, IdempotencyKey: "refund_CB-R2_0001"}

	s.Delay(2 * time.Second)
	if _, err := c.Refund(ctx, paymentID, req); !razorpay.IsTimeout(err) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	s.Delay(0)
	// The fake may still be holding the first answer when the retry comes: Razorpay says 409 then,
	// which is temporary, and a client tries again.
	var r razorpay.Refund
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err = c.Refund(ctx, paymentID, req)
		if err == nil || !razorpay.IsTemporary(err) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	got := s.Refunds(paymentID)
	if len(got) != 1 || got[0].ID != r.ID || r.Amount != 10000 {
		t.Fatalf("refunds = %+v, retry gave %+v; want the one refund", got, r)
	}
}

// While the first request with a key is being processed, a second one is told 409, which is
// temporary; once the first is answered, the retry gets its refund.
func TestRefundInFlightConflict(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	ctx := context.Background()
	o := createOrder(t, c, 10000, "CB-R3")
	paymentID, _ := s.Pay(o.ID, "card")
	req := razorpay.RefundRequest{AmountPaise: 2500, IdempotencyKey: "refund_CB-R3_0001"}
	before := len(s.Requests())

	s.Delay(1500 * time.Millisecond)
	type result struct {
		r   razorpay.Refund
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := c.Refund(ctx, paymentID, req)
		done <- result{r, err}
	}()
	for deadline := time.Now().Add(2 * time.Second); len(s.Requests()) == before; {
		if time.Now().After(deadline) {
			t.Fatal("the first refund never reached the fake")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := c.Refund(ctx, paymentID, req)
	var ae *razorpay.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 409 || !ae.Temporary() || !razorpay.IsTemporary(err) {
		t.Fatalf("second request while the first is in flight: %v", err)
	}
	first := <-done
	if first.err != nil {
		t.Fatal(first.err)
	}
	s.Delay(0)
	retry, err := c.Refund(ctx, paymentID, req)
	if err != nil || retry.ID != first.r.ID {
		t.Fatalf("retry = %+v, %v; want refund %s", retry, err, first.r.ID)
	}
	if n := len(s.Refunds(paymentID)); n != 1 {
		t.Errorf("%d refunds, want 1", n)
	}
}

func TestRefundSettledByWebhook(t *testing.T) {
	tests := []struct {
		name     string
		settle   func(*razorpaytest.Server, string) []byte
		event    string
		status   string
		wantARN  bool
		refunded int64
	}{
		{"processed", (*razorpaytest.Server).RefundProcessedWebhook, razorpay.EventRefundProcessed, razorpay.RefundProcessed, true, 3000},
		{"failed", (*razorpaytest.Server).RefundFailedWebhook, razorpay.EventRefundFailed, razorpay.RefundFailed, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			c := newClient(t, s)
			o := createOrder(t, c, 10000, "CB-W1")
			paymentID, _ := s.Pay(o.ID, "card")
			r, err := c.Refund(context.Background(), paymentID, razorpay.RefundRequest{AmountPaise: 3000, IdempotencyKey: "refund_CB-W1_0001"})
			if err != nil || r.Status != razorpay.RefundPending {
				t.Fatalf("refund = %+v, %v; want it pending", r, err)
			}
			body := tt.settle(s, r.ID)
			if !c.VerifyWebhook(body, razorpay.SignWebhook(testWebhookSecret, body)) {
				t.Error("webhook signed with the webhook secret does not verify")
			}
			if c.VerifyWebhook(body, razorpay.SignWebhook(testKeySecret, body)) {
				t.Error("webhook signed with the key secret verifies")
			}
			ev, err := razorpay.ParseWebhook(body)
			if err != nil {
				t.Fatal(err)
			}
			got := ev.Payload.Refund.Entity
			if ev.Event != tt.event || ev.AccountID != s.AccountID() || got.ID != r.ID || got.Status != tt.status ||
				got.Amount != 3000 || (got.AcquirerData.ARN != "") != tt.wantARN {
				t.Errorf("event %s, refund %+v", ev.Event, got)
			}
			if p := ev.Payload.Payment.Entity; p.ID != paymentID || p.AmountRefunded != tt.refunded {
				t.Errorf("payment = %+v, want %d refunded", p, tt.refunded)
			}
			if after := s.Refunds(paymentID); len(after) != 1 || after[0].Status != tt.status {
				t.Errorf("fake refunds = %+v", after)
			}
		})
	}
}

func TestPaymentWebhooksAndCheckoutSignature(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s)
	cheap := createOrder(t, c, 100, "CB-CHEAP")
	dear := createOrder(t, c, 1299900, "CB-DEAR")

	failed := s.FailedWebhook(dear.ID, "BAD_REQUEST_ERROR", "Payment failed due to incorrect OTP")
	cheapPay, cheapSig := s.Pay(cheap.ID, "upi")
	dearPay, dearSig := s.Pay(dear.ID, "card")

	if !c.VerifyPayment(dear.ID, dearPay, dearSig) || !c.VerifyPayment(cheap.ID, cheapPay, cheapSig) {
		t.Fatal("the fake's checkout signatures do not verify")
	}
	// The callback for the dear order claims the cheap order's payment: checked against the order
	// id we stored for the dear order, it fails.
	if c.VerifyPayment(dear.ID, cheapPay, cheapSig) {
		t.Error("another order's payment and signature verify")
	}
	wrong := newClient(t, s, func(cfg *razorpay.Config) { cfg.KeySecret = "anotherKeySecret0000" })
	if wrong.VerifyPayment(dear.ID, dearPay, dearSig) {
		t.Error("a signature verifies under another key secret")
	}
	if c.VerifyPayment(dear.ID, dearPay, razorpay.SignPayment(testWebhookSecret, dear.ID, dearPay)) {
		t.Error("a checkout signature made with the webhook secret verifies")
	}

	captured := s.CapturedWebhook(dearPay)
	sig := razorpay.SignWebhook(testWebhookSecret, captured)
	if !c.VerifyWebhook(captured, sig) || c.VerifyWebhook(failed, sig) {
		t.Error("webhook signature does not tell the bodies apart")
	}
	ev, err := razorpay.ParseWebhook(captured)
	if err != nil {
		t.Fatal(err)
	}
	p := ev.Payload.Payment.Entity
	if ev.Event != razorpay.EventPaymentCaptured || p.ID != dearPay || p.OrderID != dear.ID || p.Amount != 1299900 ||
		!p.Captured || p.Status != "captured" || p.Method != "card" || p.ErrorCode != "" || p.Contact == "" {
		t.Errorf("payment.captured = %+v", p)
	}
	ev, err = razorpay.ParseWebhook(failed)
	if err != nil {
		t.Fatal(err)
	}
	p = ev.Payload.Payment.Entity
	if ev.Event != razorpay.EventPaymentFailed || p.OrderID != dear.ID || p.Captured || p.Status != "failed" ||
		p.ErrorCode != "BAD_REQUEST_ERROR" || p.ErrorDescription != "Payment failed due to incorrect OTP" {
		t.Errorf("payment.failed = %+v", p)
	}

	noSecret := newClient(t, s, func(cfg *razorpay.Config) { cfg.WebhookSecret = "" })
	if noSecret.VerifyWebhook(captured, razorpay.SignWebhook("", captured)) {
		t.Error("a client without a webhook secret verifies a webhook")
	}
}
