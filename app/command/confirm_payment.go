package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// ConfirmPayment is the browser's checkout callback after the customer paid.
type ConfirmPayment struct {
	GatewayOrderID string
	PaymentID      string
	Signature      string
}

// ConfirmPaymentResult says where the order stands after the callback. Unexpected is set when the
// order could not take the payment (it was cancelled, or paid by another payment): the money is
// being refunded. OrderURL opens the order's page for the customer, who has just shown a payment
// for it signed by the gateway.
type ConfirmPaymentResult struct {
	OrderID     string `json:"order_id"`
	OrderNumber string `json:"order_number"`
	Status      string `json:"status"`
	Unexpected  bool   `json:"refunding_payment,omitempty"`
	OrderURL    string `json:"order_url"`
}

// CustomerLinks makes the link that opens an order for its customer.
type CustomerLinks interface {
	// CustomerOrderURL is a link with a fresh token that opens the order's page.
	CustomerOrderURL(orderID uuid.UUID, number string) string
}

// ErrBadSignature is returned when a callback or webhook signature does not verify.
var ErrBadSignature = errors.New("the signature does not match")

// ConfirmPaymentHandler records a paid order and confirms it.
type ConfirmPaymentHandler struct {
	repo    order.Repository
	finder  OrderFinder
	gateway PaymentGateway
	links   CustomerLinks
	logger  *slog.Logger
}

// NewConfirmPaymentHandler wires the handler.
func NewConfirmPaymentHandler(repo order.Repository, finder OrderFinder, gateway PaymentGateway, links CustomerLinks, logger *slog.Logger) ConfirmPaymentHandler {
	return ConfirmPaymentHandler{repo: repo, finder: finder, gateway: gateway, links: links, logger: logger}
}

// Handle verifies the signature against the gateway order id stored on the order (never the one the
// callback names alone), then records PaymentSucceeded and OrderConfirmed. A callback for a payment
// already recorded (the webhook came first) changes nothing and succeeds. A payment the order cannot
// take is recorded and refunded at once (see ReceivePayment).
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
	var refund bool
	ctx = withActor(ctx, es.Gateway(h.gateway.Name()))
	err = retryOnConflict(func() error {
		return h.repo.Update(ctx, id, func(o *order.Order) error {
			stored := o.Payment().GatewayOrderID
			if !h.gateway.VerifyPayment(stored, cmd.PaymentID, cmd.Signature) {
				return ErrBadSignature
			}
			// The callback does not say the amount: the signature ties the payment to our gateway
			// order, which fixes its amount and currency (asked in INR, no partial payments). So it is
			// the amount the order requested, checked by ReceivePayment as the webhook's is; a
			// webhook that says otherwise later is logged (HandleWebhookHandler).
			var err error
			refund, err = receivePayment(o, order.PaymentSucceeded{Gateway: h.gateway.Name(), GatewayOrderID: stored,
				PaymentID: cmd.PaymentID, AmountPaise: o.RequestedAmount().Paise(), Currency: order.Currency})
			if err != nil {
				return err
			}
			res = ConfirmPaymentResult{OrderID: o.ID().String(), OrderNumber: o.Number().String(), Status: string(o.Status()),
				Unexpected: isUnexpected(o, cmd.PaymentID)}
			return nil
		})
	})
	if err != nil {
		return res, err
	}
	if refund {
		refundNow(ctx, h.repo, h.gateway, h.logger, id)
	}
	res.OrderURL = h.links.CustomerOrderURL(id, res.OrderNumber)
	return res, nil
}

// receivePayment records a captured payment and confirms the order it pays. It reports whether the
// order could not take the payment and recorded it as unexpected just now: its refund is to be asked
// for once the event is stored.
func receivePayment(o *order.Order, p order.PaymentSucceeded) (refund bool, err error) {
	before := o.Version()
	if err := o.ReceivePayment(p); err != nil {
		return false, err
	}
	if o.Status() == order.StatusPaid {
		if err := o.Confirm(); err != nil {
			return false, err
		}
	}
	return o.Version() > before && isUnexpected(o, p.PaymentID), nil
}

func isUnexpected(o *order.Order, paymentID string) bool {
	for _, u := range o.UnexpectedPayments() {
		if u.PaymentID == paymentID {
			return true
		}
	}
	return false
}

// refundNow asks for the refunds the order owes right after a payment it could not take was
// recorded. The payment is recorded whatever happens here: a refund that cannot be asked for now is
// asked again by the refund sweep, so the gateway's report is still acknowledged.
func refundNow(ctx context.Context, repo order.Repository, gateway PaymentGateway, logger *slog.Logger, id uuid.UUID) {
	if err := RefundOwed(ctx, repo, gateway, id); err != nil {
		logger.WarnContext(ctx, "refund of a payment the order could not take failed; the refund sweep asks again",
			"order_id", id, "err", err)
	}
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
