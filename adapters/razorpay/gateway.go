package razorpay

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/certibuy/orders/app/command"
)

// Gateway is the payment gateway port backed by the Razorpay API.
type Gateway struct {
	client *Client
	keyID  string
}

var _ command.PaymentGateway = (*Gateway)(nil)

// NewGateway returns the Razorpay gateway; cfg must hold the key pair and the webhook secret.
func NewGateway(cfg Config) (*Gateway, error) {
	if cfg.WebhookSecret == "" {
		return nil, errors.New("razorpay: RAZORPAY_WEBHOOK_SECRET is required (it is not the key secret)")
	}
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Gateway{client: c, keyID: cfg.KeyID}, nil
}

// Name is "razorpay".
func (g *Gateway) Name() string { return "razorpay" }

// KeyID is the public key id.
func (g *Gateway) KeyID() string { return g.keyID }

// CreateOrder creates the Razorpay order. Razorpay has no idempotency header for orders: after an
// answer that never came, the unique receipt finds the order the first call may have made.
func (g *Gateway) CreateOrder(ctx context.Context, receipt string, amountPaise int64, notes map[string]string) (command.GatewayOrder, error) {
	req := CreateOrderRequest{AmountPaise: amountPaise, Currency: "INR", Receipt: receipt, Notes: notes}
	o, err := g.client.CreateOrder(ctx, req)
	if err == nil {
		return command.GatewayOrder{ID: o.ID}, nil
	}
	if !IsTemporary(err) && !IsTimeout(err) && !errors.Is(err, ErrUnreachable) {
		return command.GatewayOrder{}, err
	}
	found, ferr := g.client.FindOrderByReceipt(ctx, receipt)
	if ferr != nil {
		return command.GatewayOrder{}, fmt.Errorf("%w (and looking it up by receipt: %w)", err, ferr)
	}
	if found != nil {
		return command.GatewayOrder{ID: found.ID}, nil
	}
	o, err = g.client.CreateOrder(ctx, req)
	if err != nil {
		return command.GatewayOrder{}, err
	}
	return command.GatewayOrder{ID: o.ID}, nil
}

// VerifyPayment checks a checkout callback signature.
func (g *Gateway) VerifyPayment(storedGatewayOrderID, paymentID, signature string) bool {
	return g.client.VerifyPayment(storedGatewayOrderID, paymentID, signature)
}

// VerifyWebhook checks a webhook signature over the raw body with the webhook secret.
func (g *Gateway) VerifyWebhook(rawBody []byte, signature string) bool {
	return g.client.VerifyWebhook(rawBody, signature)
}

// ParseWebhook reads a webhook into the fields orders care about.
func (g *Gateway) ParseWebhook(rawBody []byte) (command.WebhookEvent, error) {
	return parseWebhook(rawBody)
}

// Refund asks Razorpay for a refund with an idempotency key, so a retry never refunds twice. A 4xx
// that asking again would not change (all but 429 and a refund's 409) is Razorpay refusing the
// refund: a *command.GatewayRefusal with its description.
func (g *Gateway) Refund(ctx context.Context, paymentID string, amountPaise int64, key, receipt string) (command.GatewayRefund, error) {
	r, err := g.client.Refund(ctx, paymentID, RefundRequest{AmountPaise: amountPaise, Speed: "normal", Receipt: receipt, IdempotencyKey: key})
	if ae := (*APIError)(nil); errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && !ae.Temporary() {
		return command.GatewayRefund{}, &command.GatewayRefusal{Reason: refusalReason(ae), Err: err}
	}
	if err != nil {
		return command.GatewayRefund{}, err
	}
	return command.GatewayRefund{ID: r.ID, AmountPaise: r.Amount, Status: r.Status, ARN: r.AcquirerData.ARN}, nil
}

// refusalReason is what the order records of a refusal: Razorpay's description (phone-like digit
// runs masked, as in its error line), or the HTTP status when it sent none.
func refusalReason(ae *APIError) string {
	if d := strings.TrimSpace(maskDigitRuns(ae.Description)); d != "" {
		return d
	}
	return fmt.Sprintf("HTTP %d %s", ae.StatusCode, http.StatusText(ae.StatusCode))
}

func parseWebhook(raw []byte) (command.WebhookEvent, error) {
	ev, err := ParseWebhook(raw)
	if err != nil {
		return command.WebhookEvent{}, err
	}
	out := command.WebhookEvent{Event: ev.Event}
	if p := ev.Payload.Payment; p != nil {
		e := p.Entity
		out.GatewayOrderID, out.PaymentID, out.AmountPaise, out.Currency, out.Method = e.OrderID, e.ID, e.Amount, e.Currency, e.Method
		out.ErrorCode, out.ErrorReason = e.ErrorCode, e.ErrorDescription
	}
	if r := ev.Payload.Refund; r != nil {
		e := r.Entity
		out.RefundID, out.RefundAmount, out.ARN = e.ID, e.Amount, e.AcquirerData.ARN
		if out.PaymentID == "" {
			out.PaymentID = e.PaymentID
		}
	}
	return out, nil
}

// Simulator is the development gateway: it makes gateway orders up locally, signs payments with a
// fixed, public key pair, and refunds at once. No money moves; everything it answers says so.
type Simulator struct{}

var _ command.PaymentGateway = Simulator{}

// Simulator's key pair. They are not secrets: the simulator exists so anyone can pay a local order.
const (
	SimulatorKeyID         = "rzp_test_simulator"
	SimulatorKeySecret     = "simulator-key-secret-not-a-secret"
	SimulatorWebhookSecret = "simulator-webhook-secret-not-a-secret"
)

// Name is "simulator".
func (Simulator) Name() string { return command.SimulatorGateway }

// KeyID is the simulator's public key id.
func (Simulator) KeyID() string { return SimulatorKeyID }

// CreateOrder makes up a gateway order id.
func (Simulator) CreateOrder(_ context.Context, _ string, amountPaise int64, _ map[string]string) (command.GatewayOrder, error) {
	if amountPaise < MinAmountPaise {
		return command.GatewayOrder{}, &ValidationError{Op: OpCreateOrder, Field: "amount", Reason: "at least 100 paise"}
	}
	return command.GatewayOrder{ID: "order_sim" + randomID()}, nil
}

// Pay returns what Razorpay's checkout would post back after a successful payment of the order.
func (Simulator) Pay(gatewayOrderID string) (paymentID, signature string) {
	paymentID = "pay_sim" + randomID()
	return paymentID, SignPayment(SimulatorKeySecret, gatewayOrderID, paymentID)
}

// VerifyPayment checks a signature made with the simulator's key secret.
func (Simulator) VerifyPayment(storedGatewayOrderID, paymentID, signature string) bool {
	return VerifyPaymentSignature(SimulatorKeySecret, storedGatewayOrderID, paymentID, signature)
}

// VerifyWebhook checks a signature made with the simulator's webhook secret.
func (Simulator) VerifyWebhook(rawBody []byte, signature string) bool {
	return VerifyWebhookSignature(SimulatorWebhookSecret, rawBody, signature)
}

// ParseWebhook reads a Razorpay-shaped webhook.
func (Simulator) ParseWebhook(rawBody []byte) (command.WebhookEvent, error) {
	return parseWebhook(rawBody)
}

// Refund refunds at once: the answer is already processed.
func (Simulator) Refund(_ context.Context, _ string, amountPaise int64, key, _ string) (command.GatewayRefund, error) {
	// The refund id follows from the idempotency key, so a retried refund is the same refund.
	sum := sha256.Sum256([]byte(key))
	return command.GatewayRefund{ID: "rfnd_sim" + hex.EncodeToString(sum[:7]), AmountPaise: amountPaise, Status: RefundProcessed, ARN: "SIMULATED"}, nil
}

func randomID() string {
	b := make([]byte, 7)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux; a zero id would still be unique enough for a simulator
	return hex.EncodeToString(b)
}
