package razorpay_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/razorpay"
)

const (
	testKeyID         = "rzp_test_1DP5mmOlF5G5ag"
	testKeySecret     = "thisIsTheKeySecret0123"
	testWebhookSecret = "thisIsTheWebhookSecret9"
)

func TestNewClient(t *testing.T) {
	base := razorpay.Config{KeyID: testKeyID, KeySecret: testKeySecret}
	with := func(f func(*razorpay.Config)) razorpay.Config {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     razorpay.Config
		wantErr string
	}{
		{"defaults", base, ""},
		{"http base URL", with(func(c *razorpay.Config) { c.BaseURL = "http://127.0.0.1:9999" }), ""},
		{"base URL with a path", with(func(c *razorpay.Config) { c.BaseURL = "https://proxy.internal/razorpay/" }), ""},
		{"no key id", with(func(c *razorpay.Config) { c.KeyID = " " }), "key id missing"},
		{"no key secret", with(func(c *razorpay.Config) { c.KeySecret = "" }), "key secret missing"},
		{"ftp base URL", with(func(c *razorpay.Config) { c.BaseURL = "ftp://api.razorpay.com" }), "want an http or https URL"},
		{"no scheme", with(func(c *razorpay.Config) { c.BaseURL = "api.razorpay.com" }), "want an http or https URL"},
		{"no host", with(func(c *razorpay.Config) { c.BaseURL = "https://" }), "want an http or https URL"},
		{"unparsable", with(func(c *razorpay.Config) { c.BaseURL = "https://a b\x7f" }), "base URL"},
		{"credentials in URL", with(func(c *razorpay.Config) { c.BaseURL = "https://k:" + testKeySecret + "@api.razorpay.com" }), "must not hold credentials"},
		{"query in URL", with(func(c *razorpay.Config) { c.BaseURL = "https://api.razorpay.com?x=1" }), "query"},
		{"negative timeout", with(func(c *razorpay.Config) { c.Timeout = -time.Second }), "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := razorpay.NewClient(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("NewClient = %v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewClient error = %v, want one saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testKeySecret) {
				t.Errorf("error holds the key secret: %v", err)
			}
		})
	}
}

func TestSecretsStayOutOfFormatting(t *testing.T) {
	cfg := razorpay.Config{KeyID: testKeyID, KeySecret: testKeySecret, WebhookSecret: testWebhookSecret}
	c, err := razorpay.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg),
		fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", *c),
	} {
		if strings.Contains(s, testKeySecret) || strings.Contains(s, testWebhookSecret) {
			t.Errorf("formatted value holds a secret: %s", s)
		}
		if !strings.Contains(s, testKeyID) {
			t.Errorf("formatted value lost the key id: %s", s)
		}
	}
}

// countingServer answers 200 {} and counts requests: validation must never reach it.
func countingServer(t *testing.T) (*razorpay.Client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	c, err := razorpay.NewClient(razorpay.Config{KeyID: testKeyID, KeySecret: testKeySecret, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

func TestLocalValidationNeverCallsTheAPI(t *testing.T) {
	c, calls := countingServer(t)
	ctx := context.Background()
	sixteen := map[string]string{}
	for i := range 16 {
		sixteen[fmt.Sprint("k", i)] = "v"
	}
	okOrder := razorpay.CreateOrderRequest{AmountPaise: 100, Receipt: "CB-1"}
	order := func(f func(*razorpay.CreateOrderRequest)) func() error {
		r := okOrder
		f(&r)
		return func() error { _, err := c.CreateOrder(ctx, r); return err }
	}
	okRefund := razorpay.RefundRequest{IdempotencyKey: "refund_0001"}
	refund := func(paymentID string, f func(*razorpay.RefundRequest)) func() error {
		r := okRefund
		f(&r)
		return func() error { _, err := c.Refund(ctx, paymentID, r); return err }
	}
	tests := []struct {
		name  string
		call  func() error
		op    string
		field string
	}{
		{"amount 99", order(func(r *razorpay.CreateOrderRequest) { r.AmountPaise = 99 }), razorpay.OpCreateOrder, "amount"},
		{"amount 0", order(func(r *razorpay.CreateOrderRequest) { r.AmountPaise = 0 }), razorpay.OpCreateOrder, "amount"},
		{"negative amount", order(func(r *razorpay.CreateOrderRequest) { r.AmountPaise = -500 }), razorpay.OpCreateOrder, "amount"},
		{"USD", order(func(r *razorpay.CreateOrderRequest) { r.Currency = "USD" }), razorpay.OpCreateOrder, "currency"},
		{"no receipt", order(func(r *razorpay.CreateOrderRequest) { r.Receipt = "" }), razorpay.OpCreateOrder, "receipt"},
		{"receipt of 41", order(func(r *razorpay.CreateOrderRequest) { r.Receipt = strings.Repeat("r", 41) }), razorpay.OpCreateOrder, "receipt"},
		{"receipt of 41 runes", order(func(r *razorpay.CreateOrderRequest) { r.Receipt = strings.Repeat("₹", 41) }), razorpay.OpCreateOrder, "receipt"},
		{"16 notes", order(func(r *razorpay.CreateOrderRequest) { r.Notes = sixteen }), razorpay.OpCreateOrder, "notes"},
		{"note of 257", order(func(r *razorpay.CreateOrderRequest) { r.Notes = map[string]string{"k": strings.Repeat("v", 257)} }), razorpay.OpCreateOrder, "notes"},
		{"find: no receipt", func() error { _, err := c.FindOrderByReceipt(ctx, ""); return err }, razorpay.OpFindOrder, "receipt"},
		{"find: receipt of 41", func() error { _, err := c.FindOrderByReceipt(ctx, strings.Repeat("r", 41)); return err }, razorpay.OpFindOrder, "receipt"},
		{"fetch: no id", func() error { _, err := c.FetchOrder(ctx, ""); return err }, razorpay.OpFetchOrder, "id"},
		{"fetch: path in id", func() error { _, err := c.FetchOrder(ctx, "../payments/pay_1"); return err }, razorpay.OpFetchOrder, "id"},
		{"refund: no payment", refund("", func(r *razorpay.RefundRequest) {}), razorpay.OpRefund, "payment_id"},
		{"refund: payment id with a slash", refund("pay_1/x", func(r *razorpay.RefundRequest) {}), razorpay.OpRefund, "payment_id"},
		{"refund: negative amount", refund("pay_1", func(r *razorpay.RefundRequest) { r.AmountPaise = -1 }), razorpay.OpRefund, "amount"},
		{"refund: bad speed", refund("pay_1", func(r *razorpay.RefundRequest) { r.Speed = "instant" }), razorpay.OpRefund, "speed"},
		{"refund: receipt of 41", refund("pay_1", func(r *razorpay.RefundRequest) { r.Receipt = strings.Repeat("r", 41) }), razorpay.OpRefund, "receipt"},
		{"refund: 16 notes", refund("pay_1", func(r *razorpay.RefundRequest) { r.Notes = sixteen }), razorpay.OpRefund, "notes"},
		{"refund: no key", refund("pay_1", func(r *razorpay.RefundRequest) { r.IdempotencyKey = "" }), razorpay.OpRefund, "idempotency_key"},
		{"refund: key of 9", refund("pay_1", func(r *razorpay.RefundRequest) { r.IdempotencyKey = "123456789" }), razorpay.OpRefund, "idempotency_key"},
		{"refund: key of 65", refund("pay_1", func(r *razorpay.RefundRequest) { r.IdempotencyKey = strings.Repeat("k", 65) }), razorpay.OpRefund, "idempotency_key"},
		{"refund: key with a space", refund("pay_1", func(r *razorpay.RefundRequest) { r.IdempotencyKey = "refund 0001" }), razorpay.OpRefund, "idempotency_key"},
		{"refund: key with a dot", refund("pay_1", func(r *razorpay.RefundRequest) { r.IdempotencyKey = "refund.0001" }), razorpay.OpRefund, "idempotency_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ve *razorpay.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, razorpay.ErrInvalidRequest) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if ve.Field != tt.field || ve.Op != tt.op {
				t.Errorf("op, field = %q, %q; want %q, %q", ve.Op, ve.Field, tt.op, tt.field)
			}
			if razorpay.IsTemporary(err) {
				t.Error("a validation error is temporary")
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d requests reached the API", n)
	}
	// The edges that are allowed do go out.
	for _, call := range []func() error{
		order(func(r *razorpay.CreateOrderRequest) { r.Receipt = strings.Repeat("₹", 40) }),
		refund("pay_1", func(r *razorpay.RefundRequest) { r.IdempotencyKey = "A-z_0-9xyz" + strings.Repeat("k", 54) }),
	} {
		if err := call(); errors.Is(err, razorpay.ErrInvalidRequest) {
			t.Errorf("refused locally: %v", err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d requests reached the API, want 2", n)
	}
}
