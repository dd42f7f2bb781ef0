// Package command holds the use cases that change orders: one file per command, with its input,
// its handler and the ports it needs.
package command

import (
	"context"

	"github.com/google/uuid"
)

// TxRunner runs fn in one database transaction; repositories and stores called with the context fn
// receives join it.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// StoredResponse is a response kept under an idempotency key.
type StoredResponse struct {
	RequestHash []byte
	StatusCode  int
	Body        []byte
}

// IdempotencyStore keeps the first response to a request made with an Idempotency-Key.
type IdempotencyStore interface {
	// Get returns the response stored under key, or nil.
	Get(ctx context.Context, scope, key string) (*StoredResponse, error)
	// Save stores resp under key in the transaction in ctx. When the key is already taken it stores
	// nothing and returns the response that was stored first (waiting for its transaction if needed).
	Save(ctx context.Context, scope, key string, resp StoredResponse) (*StoredResponse, error)
}

// AccessTokens issues the secret that lets a customer see and cancel their own order.
type AccessTokens interface {
	// Issue stores a hash of a new random token for the order and returns the token.
	Issue(ctx context.Context, orderID uuid.UUID) (string, error)
}

// PaymentGateway is Razorpay, or the local simulator that stands in for it in development.
type PaymentGateway interface {
	// Name is how events record the gateway: "razorpay" or "simulator".
	Name() string
	// KeyID is the public key the browser's checkout script needs.
	KeyID() string
	// CreateOrder asks the gateway for an order to pay; receipt is our order number, unique per order.
	CreateOrder(ctx context.Context, receipt string, amountPaise int64, notes map[string]string) (GatewayOrder, error)
	// VerifyPayment checks a checkout callback's signature against the gateway order id we stored.
	VerifyPayment(storedGatewayOrderID, paymentID, signature string) bool
	// VerifyWebhook checks a webhook's signature over its raw body.
	VerifyWebhook(rawBody []byte, signature string) bool
	// ParseWebhook reads a webhook body whose signature was checked.
	ParseWebhook(rawBody []byte) (WebhookEvent, error)
	// Refund asks for a refund of a captured payment. The same idempotency key with the same amount
	// never refunds twice. When the gateway answers that it will not make the refund (Razorpay's 4xx
	// but the temporary ones), the error is a *GatewayRefusal; any other error leaves the outcome
	// unknown, to be asked again with the same key.
	Refund(ctx context.Context, paymentID string, amountPaise int64, idempotencyKey, receipt string) (GatewayRefund, error)
}

// GatewayRefusal is a gateway's answer that it will not do what was asked, and that asking the same
// again would not change that: nothing was made at the gateway.
type GatewayRefusal struct {
	// Reason is the gateway's own words, as its error's description says them.
	Reason string
	// Err is the gateway's error, for the log.
	Err error
}

func (e *GatewayRefusal) Error() string {
	if e.Err != nil {
		return "the gateway refused: " + e.Err.Error()
	}
	return "the gateway refused: " + e.Reason
}

func (e *GatewayRefusal) Unwrap() error { return e.Err }

// GatewayOrder is the order the customer pays at the gateway.
type GatewayOrder struct {
	ID string
}

// GatewayRefund is a refund as the gateway reported it.
type GatewayRefund struct {
	ID          string
	AmountPaise int64
	Status      string // pending, processed or failed
	ARN         string
}

// WebhookEvent is what a gateway webhook says, reduced to what the order cares about.
type WebhookEvent struct {
	Event          string // payment.captured, payment.failed, refund.processed, refund.failed, …
	GatewayOrderID string
	PaymentID      string
	AmountPaise    int64
	Currency       string
	Method         string
	ErrorCode      string
	ErrorReason    string
	RefundID       string
	RefundAmount   int64
	ARN            string
}

// WebhookLog remembers which webhook deliveries were handled, so that a repeat is a no-op.
type WebhookLog interface {
	// Claim records the delivery id in the transaction in ctx and reports whether it is new. A
	// concurrent claim of the same id waits for the first transaction and then reports false.
	Claim(ctx context.Context, gateway, eventID string) (bool, error)
}

// OrderFinder finds orders by the ids gateways know them by.
type OrderFinder interface {
	OrderIDByGatewayOrder(ctx context.Context, gatewayOrderID string) (uuid.UUID, error)
}

// SimulatorGateway is the name of the development gateway.
const SimulatorGateway = "simulator"
