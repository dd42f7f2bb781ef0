package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// HandleWebhook is a webhook delivery as received: its id header, signature header and raw body.
type HandleWebhook struct {
	EventID   string
	Signature string
	Body      []byte
}

// Webhook outcomes.
const (
	WebhookApplied   = "applied"   // the order changed
	WebhookNoChange  = "no_change" // the order already knew (the callback came first, or a late report)
	WebhookDuplicate = "duplicate" // this delivery id was handled before
	WebhookIgnored   = "ignored"   // an event type or order we do not act on
)

// HandleWebhookResult says what the delivery did.
type HandleWebhookResult struct {
	Outcome string `json:"outcome"`
	Event   string `json:"event,omitempty"`
}

// HandleWebhookHandler applies payment and refund webhooks to orders.
type HandleWebhookHandler struct {
	repo    order.Repository
	finder  OrderFinder
	gateway PaymentGateway
	log     WebhookLog
	tx      TxRunner
	logger  *slog.Logger
}

// NewHandleWebhookHandler wires the handler.
func NewHandleWebhookHandler(repo order.Repository, finder OrderFinder, gateway PaymentGateway, log WebhookLog, tx TxRunner, logger *slog.Logger) HandleWebhookHandler {
	return HandleWebhookHandler{repo: repo, finder: finder, gateway: gateway, log: log, tx: tx, logger: logger}
}

// Handle checks the signature over the raw body, then applies the event. The delivery id is claimed
// in the same transaction as the order's events, so a repeat (or ten at once) changes the order once,
// and a delivery that failed can be retried.
func (h HandleWebhookHandler) Handle(ctx context.Context, cmd HandleWebhook) (HandleWebhookResult, error) {
	if !h.gateway.VerifyWebhook(cmd.Body, cmd.Signature) {
		return HandleWebhookResult{}, ErrBadSignature
	}
	if cmd.EventID == "" {
		return HandleWebhookResult{}, &order.FieldError{Field: "X-Razorpay-Event-Id", Err: fmt.Errorf("%w: missing", order.ErrInvalidInput)}
	}
	ev, err := h.gateway.ParseWebhook(cmd.Body)
	if err != nil {
		return HandleWebhookResult{}, &order.FieldError{Field: "body", Err: fmt.Errorf("%w: %v", order.ErrInvalidInput, err)}
	}
	res := HandleWebhookResult{Event: ev.Event}
	if !actsOn(ev) {
		res.Outcome = WebhookIgnored
		return res, nil
	}
	id, err := h.finder.OrderIDByGatewayOrder(ctx, ev.GatewayOrderID)
	if errors.Is(err, order.ErrNotFound) {
		res.Outcome = WebhookIgnored // a payment on the account that is not one of our orders
		return res, nil
	}
	if err != nil {
		return res, err
	}
	ctx = withActor(ctx, es.Gateway(h.gateway.Name()))
	var refund, disagrees bool
	err = retryOnConflict(func() error {
		refund, disagrees = false, false // what a conflicting attempt decided is not what this one does
		return h.tx.InTx(ctx, func(ctx context.Context) error {
			fresh, err := h.log.Claim(ctx, h.gateway.Name(), cmd.EventID)
			if err != nil {
				return err
			}
			if !fresh {
				res.Outcome = WebhookDuplicate
				return nil
			}
			return h.repo.Update(ctx, id, func(o *order.Order) error {
				before := o.Version()
				disagrees = capturedDisagrees(o, ev)
				var err error
				if refund, err = applyWebhook(h.gateway.Name(), o, ev); err != nil {
					return err
				}
				res.Outcome = WebhookNoChange
				if o.Version() > before {
					res.Outcome = WebhookApplied
				}
				return nil
			})
		})
	})
	if err != nil {
		return res, err
	}
	if refund {
		refundNow(ctx, h.repo, h.gateway, h.logger, id)
	}
	if disagrees {
		// The callback recorded the payment first, with the amount the gateway order fixes; it is
		// kept, and a person compares it with the gateway's dashboard.
		h.logger.WarnContext(ctx, "payment.captured reports another amount or currency than the payment recorded from the callback",
			"order_id", id, "payment_id", ev.PaymentID, "amount", ev.AmountPaise, "currency", ev.Currency)
	}
	return res, nil
}

// capturedDisagrees reports whether ev is a payment.captured for the order's own payment whose
// amount or currency is not what the order recorded.
func capturedDisagrees(o *order.Order, ev WebhookEvent) bool {
	p := o.Payment()
	if ev.Event != "payment.captured" || p.PaymentID == "" || ev.PaymentID != p.PaymentID {
		return false
	}
	return ev.AmountPaise != p.Amount.Paise() || (ev.Currency != "" && ev.Currency != p.Currency)
}

// actsOn reports whether a webhook event is one the order acts on.
func actsOn(ev WebhookEvent) bool {
	switch ev.Event {
	case "payment.captured", "payment.failed", "refund.processed", "refund.failed":
		return ev.GatewayOrderID != ""
	}
	return false
}

// applyWebhook calls the order method the event asks for. It reports whether the order recorded a
// payment it could not take, whose refund is to be asked for once stored. A report about a refund
// the order never asked for (the gateway refunds an authorised payment it never captured on its own)
// changes nothing.
func applyWebhook(gateway string, o *order.Order, ev WebhookEvent) (refund bool, err error) {
	switch ev.Event {
	case "payment.captured":
		return receivePayment(o, order.PaymentSucceeded{Gateway: gateway, GatewayOrderID: ev.GatewayOrderID,
			PaymentID: ev.PaymentID, AmountPaise: ev.AmountPaise, Method: ev.Method, Currency: ev.Currency})
	case "payment.failed":
		return false, o.FailPayment(order.PaymentFailed{GatewayOrderID: ev.GatewayOrderID, PaymentID: ev.PaymentID,
			Code: ev.ErrorCode, Reason: ev.ErrorReason})
	case "refund.processed":
		if !o.AskedForRefund(ev.RefundID) {
			return false, nil
		}
		return false, o.CompleteRefund(order.RefundProcessed{RefundID: ev.RefundID, AmountPaise: ev.RefundAmount, ARN: ev.ARN})
	case "refund.failed":
		if !o.AskedForRefund(ev.RefundID) {
			return false, nil
		}
		return false, o.FailRefund(order.RefundFailed{RefundID: ev.RefundID, Reason: ev.ErrorReason})
	}
	return false, nil
}
