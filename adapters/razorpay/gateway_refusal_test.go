package razorpay_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/app/command"
)

// The gateway tells a refusal (a 4xx asking again would not change) from an answer that never came
// or may change (5xx, 429, a refund's 409, an unreachable Razorpay): only the first is a
// *command.GatewayRefusal, carrying Razorpay's description.
func TestGatewayRefundRefusals(t *testing.T) {
	s := newFake(t)
	g, err := razorpay.NewGateway(razorpay.Config{KeyID: testKeyID, KeySecret: testKeySecret, WebhookSecret: testWebhookSecret,
		BaseURL: s.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	o := createOrder(t, newClient(t, s), 10000, "CB-RF1")
	paymentID, _ := s.Pay(o.ID, "upi")
	ctx := context.Background()
	const balance = "The balance in your account is insufficient to process the refund. Please add funds and try again."

	s.RefuseRefunds(balance)
	_, err = g.Refund(ctx, paymentID, 10000, "rfnd-test-key-0", "CB-RF1")
	var refusal *command.GatewayRefusal
	if !errors.As(err, &refusal) || refusal.Reason != balance {
		t.Fatalf("a 400 with Razorpay's envelope: %v (%T), want a refusal with its description", err, err)
	}
	s.RefuseRefunds("")
	s.FailNext(1, 400, `<html>Bad Request</html>`)
	if _, err = g.Refund(ctx, paymentID, 10000, "rfnd-test-key-0", "CB-RF1"); !errors.As(err, &refusal) || refusal.Reason != "HTTP 400 Bad Request" {
		t.Fatalf("a 400 without an envelope: %v, want a refusal naming the status", err)
	}
	for _, c := range []struct {
		status int
		body   string
	}{
		{500, `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error."}}`},
		{502, `<html>Bad Gateway</html>`},
		{429, `{"error":{"code":"BAD_REQUEST_ERROR","description":"Too many requests"}}`},
		{409, `{"error":{"code":"BAD_REQUEST_ERROR","description":"A request with the same idempotency key is being processed"}}`},
	} {
		s.FailNext(1, c.status, c.body)
		if _, err := g.Refund(ctx, paymentID, 10000, "rfnd-test-key-0", "CB-RF1"); err == nil || errors.As(err, &refusal) {
			t.Fatalf("HTTP %d: %v, want an error that is not a refusal", c.status, err)
		}
	}
	r, err := g.Refund(ctx, paymentID, 10000, "rfnd-test-key-0", "CB-RF1")
	if err != nil || r.ID == "" {
		t.Fatalf("once Razorpay takes it: %+v %v", r, err)
	}
	s.Close()
	if _, err := g.Refund(ctx, paymentID, 10000, "rfnd-test-key-1", "CB-RF1"); err == nil || errors.As(err, &refusal) || !errors.Is(err, razorpay.ErrUnreachable) {
		t.Fatalf("Razorpay unreachable: %v, want ErrUnreachable and no refusal", err)
	}
}
