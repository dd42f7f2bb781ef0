package razorpay

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/certibuy/orders/domain/strictjson"
)

// Webhook headers.
const (
	// HeaderSignature carries hex(HMAC_SHA256(webhook_secret, raw body)).
	HeaderSignature = "X-Razorpay-Signature"
	// HeaderEventID is unique per event and repeated on every redelivery: dedupe on it.
	HeaderEventID = "X-Razorpay-Event-Id"
)

// Webhook events this service acts on. Others arrive too and parse all the same.
const (
	EventPaymentAuthorized = "payment.authorized"
	EventPaymentCaptured   = "payment.captured"
	EventPaymentFailed     = "payment.failed"
	EventOrderPaid         = "order.paid"
	EventRefundCreated     = "refund.created"
	EventRefundProcessed   = "refund.processed"
	EventRefundFailed      = "refund.failed"
)

// ErrInvalidWebhook is wrapped by every ParseWebhook error.
var ErrInvalidWebhook = errors.New("invalid razorpay webhook")

// WebhookEvent is the envelope Razorpay posts to a webhook.
type WebhookEvent struct {
	Entity    string         `json:"entity"` // always "event"
	AccountID string         `json:"account_id"`
	Event     string         `json:"event"`    // payment.captured, refund.processed, …
	Contains  []string       `json:"contains"` // which payload entities are present
	Payload   WebhookPayload `json:"payload"`
	CreatedAt int64          `json:"created_at"` // Unix seconds
}

// WebhookPayload holds the entities the event names in Contains; the others are nil.
type WebhookPayload struct {
	Payment *PaymentPayload `json:"payment,omitempty"`
	Refund  *RefundPayload  `json:"refund,omitempty"`
	Order   *OrderPayload   `json:"order,omitempty"`
}

// PaymentPayload wraps the payment entity, as {"entity": {…}}.
type PaymentPayload struct {
	Entity PaymentEntity `json:"entity"`
}

// RefundPayload wraps the refund entity, as {"entity": {…}}.
type RefundPayload struct {
	Entity RefundEntity `json:"entity"`
}

// OrderPayload wraps the order entity (order.paid carries it), as {"entity": {…}}.
type OrderPayload struct {
	Entity Order `json:"entity"`
}

// ParseWebhook decodes a webhook body. Verify its signature first, over the same raw bytes.
//
// It refuses what is not a Razorpay event: not JSON, an entity other than "event", no event name,
// or a payment.*/refund.* event (or a Contains entry) without the entity it promises. Unknown
// fields are ignored, because Razorpay adds fields without notice. The body is read one way only
// (strictjson): a key given twice, a key in another case than Razorpay's, a U+0000 in a string are
// refused, before anything is applied. Errors never quote the body, which holds the customer's
// contact details.
func ParseWebhook(raw []byte) (WebhookEvent, error) {
	var ev WebhookEvent
	if err := strictjson.Unmarshal(raw, &ev, false); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %w", ErrInvalidWebhook, describeJSONError(err))
	}
	if ev.Entity != "event" {
		return WebhookEvent{}, fmt.Errorf("%w: entity %q, want \"event\"", ErrInvalidWebhook, clip(ev.Entity))
	}
	if ev.Event == "" {
		return WebhookEvent{}, fmt.Errorf("%w: no event name", ErrInvalidWebhook)
	}
	prefix, _, _ := strings.Cut(ev.Event, ".")
	needPayment := prefix == "payment" || slices.Contains(ev.Contains, "payment")
	needRefund := prefix == "refund" || slices.Contains(ev.Contains, "refund")
	if needPayment && (ev.Payload.Payment == nil || ev.Payload.Payment.Entity.ID == "") {
		return WebhookEvent{}, fmt.Errorf("%w: %s without a payment entity", ErrInvalidWebhook, clip(ev.Event))
	}
	if needRefund && (ev.Payload.Refund == nil || ev.Payload.Refund.Entity.ID == "") {
		return WebhookEvent{}, fmt.Errorf("%w: %s without a refund entity", ErrInvalidWebhook, clip(ev.Event))
	}
	return ev, nil
}

// describeJSONError keeps the decoder's location and types but drops anything it quotes from the
// input, so no customer data ends up in an error. Key names are Razorpay's (or the sender's), not
// customer data; they are clipped all the same.
func describeJSONError(err error) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	var nul *strictjson.NULError
	switch {
	case errors.As(err, &nul):
		return fmt.Errorf("field %s holds the character U+0000", clip(strictjson.Field(nul.Pointer)))
	case errors.As(err, &syn) && errors.Is(err, jsontext.ErrDuplicateName):
		return fmt.Errorf("key %s is given twice", clip(strictjson.Field(syn.JSONPointer)))
	case errors.As(err, &syn):
		return fmt.Errorf("not JSON (syntax error at byte %d)", syn.ByteOffset)
	case errors.As(err, &sem):
		f := strictjson.Field(sem.JSONPointer)
		if f == "" {
			return fmt.Errorf("the body must be %s", strictjson.KindOf(sem.GoType))
		}
		return fmt.Errorf("field %s must be %s", clip(f), strictjson.KindOf(sem.GoType))
	}
	return errors.New("does not match the Razorpay webhook shape")
}

// clip bounds how much of an untrusted string goes into an error.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
