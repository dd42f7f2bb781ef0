package command

import (
	"context"
	"errors"
	"fmt"

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
}

// NewHandleWebhookHandler wires the handler.
func NewHandleWebhookHandler(repo order.Repository, finder OrderFinder, gateway PaymentGateway, log WebhookLog, tx TxRunner) HandleWebhookHandler {
	return HandleWebhookHandler{repo: repo, finder: finder, gateway: gateway, log: log, tx: tx}
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
	apply, known := webhookAppliers[ev.Event]
	if !known || ev.GatewayOrderID == "" {
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
	err = retryOnConflict(func() error {
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
				if err := apply(h.gateway.Name(), o, ev); err != nil {
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
	return res, err
}

type webhookApplier func(gateway string, o *order.Order, ev WebhookEvent) error

// webhookAppliers maps the events we act on to the order method each calls. It is a fixed table,
// never changed at run time.
var webhookAppliers = map[string]webhookApplier{
	"payment.captured": func(gw string, o *order.Order, ev WebhookEvent) error {
		if err := o.SucceedPayment(order.PaymentSucceeded{Gateway: gw, GatewayOrderID: ev.GatewayOrderID,
			PaymentID: ev.PaymentID, AmountPaise: ev.AmountPaise, Method: ev.Method}); err != nil {
			return err
		}
		if o.Status() == order.StatusPaid {
			return o.Confirm()
		}
		return nil
	},
	"payment.failed": func(_ string, o *order.Order, ev WebhookEvent) error {
		return o.FailPayment(order.PaymentFailed{GatewayOrderID: ev.GatewayOrderID, PaymentID: ev.PaymentID,
			Code: ev.ErrorCode, Reason: ev.ErrorReason})
	},
	"refund.processed": func(_ string, o *order.Order, ev WebhookEvent) error {
		return o.CompleteRefund(order.RefundProcessed{RefundID: ev.RefundID, AmountPaise: ev.RefundAmount, ARN: ev.ARN})
	},
	"refund.failed": func(_ string, o *order.Order, ev WebhookEvent) error {
		return o.FailRefund(order.RefundFailed{RefundID: ev.RefundID, Reason: ev.ErrorReason})
	},
}
