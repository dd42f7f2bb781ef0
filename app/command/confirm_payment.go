package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// ConfirmPayment is the browser's checkout callback after the customer paid.
type ConfirmPayment struct {
	GatewayOrderID string
	PaymentID      string
	Signature      string
}

// ConfirmPaymentResult says where the order stands after the callback.
type ConfirmPaymentResult struct {
	OrderID     string `json:"order_id"`
	OrderNumber string `json:"order_number"`
	Status      string `json:"status"`
}

// ErrBadSignature is returned when a callback or webhook signature does not verify.
var ErrBadSignature = errors.New("the signature does not match")

// ConfirmPaymentHandler records a paid order and confirms it.
type ConfirmPaymentHandler struct {
	repo    order.Repository
	finder  OrderFinder
	gateway PaymentGateway
}

// NewConfirmPaymentHandler wires the handler.
func NewConfirmPaymentHandler(repo order.Repository, finder OrderFinder, gateway PaymentGateway) ConfirmPaymentHandler {
	return ConfirmPaymentHandler{repo: repo, finder: finder, gateway: gateway}
}

// Handle verifies the signature against the gateway order id stored on the order (never the one the
// callback names alone), then records PaymentSucceeded and OrderConfirmed. A callback for a payment
// already recorded (the webhook came first) changes nothing and succeeds.
func (h ConfirmPaymentHandler) Handle(ctx context.Context, cmd ConfirmPayment) (ConfirmPaymentResult, error) {
	switch {
	case cmd.GatewayOrderID == "":
		return ConfirmPaymentResult{}, &order.FieldError{Field: "razorpay_order_id", Err: fmt.Errorf("%w: missing", order.ErrInvalidInput)}
	case cmd.PaymentID == "":
		return ConfirmPaymentResult{}, &order.FieldError{Field: "razorpay_payment_id", Err: fmt.Errorf("%w: missing", order.ErrInvalidInput)}
	case cmd.Signature == "":
		return ConfirmPaymentResult{}, &order.FieldError{Field: "razorpay_signature", Err: fmt.Errorf("%w: missing", order.ErrInvalidInput)}
	}
	id, err := h.finder.OrderIDByGatewayOrder(ctx, cmd.GatewayOrderID)
	if err != nil {
		return ConfirmPaymentResult{}, err
	}
	var res ConfirmPaymentResult
	ctx = withActor(ctx, es.Gateway(h.gateway.Name()))
	err = retryOnConflict(func() error {
		return h.repo.Update(ctx, id, func(o *order.Order) error {
			stored := o.Payment().GatewayOrderID
			if !h.gateway.VerifyPayment(stored, cmd.PaymentID, cmd.Signature) {
				return ErrBadSignature
			}
			if err := o.SucceedPayment(order.PaymentSucceeded{Gateway: h.gateway.Name(), GatewayOrderID: stored,
				PaymentID: cmd.PaymentID, AmountPaise: o.Total().Paise()}); err != nil {
				return err
			}
			if o.Status() == order.StatusPaid {
				if err := o.Confirm(); err != nil {
					return err
				}
			}
			res = ConfirmPaymentResult{OrderID: o.ID().String(), OrderNumber: o.Number().String(), Status: string(o.Status())}
			return nil
		})
	})
	return res, err
}

// withActor sets the actor of the events about to be appended, keeping the correlation id.
func withActor(ctx context.Context, a es.Actor) context.Context {
	c := es.CausationFrom(ctx)
	c.Actor = a
	return es.WithCausation(ctx, c)
}

// retryOnConflict runs fn again when another writer changed the order between read and append. Only
// for commands whose decision is safe to make again on the newer state (gateway reports, not admin
// actions made against a version the admin saw).
func retryOnConflict(fn func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = fn(); !errors.Is(err, es.ErrConcurrencyConflict) {
			return err
		}
	}
	return err
}
