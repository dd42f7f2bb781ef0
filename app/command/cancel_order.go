package command

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// AccessChecker says whether a customer's access token opens an order.
type AccessChecker interface {
	Opens(ctx context.Context, orderID uuid.UUID, token string) (bool, error)
}

// CancelOrder is a customer's cancellation, with the access token from checkout.
type CancelOrder struct {
	OrderID     uuid.UUID
	AccessToken string
	Reason      string
}

// CancelOrderResult says where the order stands.
type CancelOrderResult struct {
	OrderID  uuid.UUID `json:"order_id"`
	Status   string    `json:"status"`
	RefundID string    `json:"refund_id,omitempty"`
}

// CancelOrderHandler cancels orders and refunds paid ones.
type CancelOrderHandler struct {
	repo    order.Repository
	access  AccessChecker
	gateway PaymentGateway
}

// NewCancelOrderHandler wires the handler.
func NewCancelOrderHandler(repo order.Repository, access AccessChecker, gateway PaymentGateway) CancelOrderHandler {
	return CancelOrderHandler{repo: repo, access: access, gateway: gateway}
}

// Handle cancels the order (allowed until it ships) and, when it was paid, asks the gateway for a
// refund and records RefundInitiated; the gateway's refund.processed webhook completes it. The refund
// call happens after the cancellation is stored, outside any transaction; if it fails, cancelling
// again retries it with the same idempotency key, so the customer is never refunded twice.
func (h CancelOrderHandler) Handle(ctx context.Context, cmd CancelOrder) (CancelOrderResult, error) {
	ok, err := h.access.Opens(ctx, cmd.OrderID, cmd.AccessToken)
	if err != nil {
		return CancelOrderResult{}, fmt.Errorf("cancel order: %w", err)
	}
	if !ok {
		return CancelOrderResult{}, &order.NotFoundError{ID: cmd.OrderID}
	}
	ctx = withActor(ctx, es.Customer("guest"))
	var needsRefund bool
	err = retryOnConflict(func() error {
		return h.repo.Update(ctx, cmd.OrderID, func(o *order.Order) error {
			if o.NeedsRefund() {
				needsRefund = true // cancelled before, refund not yet asked: ask again
				return nil
			}
			if err := o.Cancel(cmd.Reason); err != nil {
				return err
			}
			needsRefund = o.NeedsRefund()
			return nil
		})
	})
	if err != nil {
		return CancelOrderResult{}, err
	}
	if needsRefund {
		if err := RefundOrder(ctx, h.repo, h.gateway, cmd.OrderID); err != nil {
			return CancelOrderResult{}, err
		}
	}
	o, err := h.repo.Get(ctx, cmd.OrderID)
	if err != nil {
		return CancelOrderResult{}, err
	}
	return CancelOrderResult{OrderID: o.ID(), Status: string(o.Status()), RefundID: o.Refund().ID}, nil
}

// ErrRefundFailed is returned when the gateway would not take the refund request; the order stays
// cancelled with its refund outstanding, and cancelling again (or an admin) asks again.
var ErrRefundFailed = errors.New("the order is cancelled, but the payment gateway did not take the refund request; try again shortly (cancelling again asks again, with the same refund)")

// RefundOrder asks the gateway to refund a cancelled, paid order in full and records the answer. The
// idempotency key follows from the order and how many refunds failed before, so a retry of the same
// attempt is the same refund at the gateway.
func RefundOrder(ctx context.Context, repo order.Repository, gateway PaymentGateway, id uuid.UUID) error {
	o, err := repo.Get(ctx, id)
	if err != nil {
		return err
	}
	if !o.NeedsRefund() {
		return nil
	}
	key := refundKey(o)
	amount := o.Payment().Amount
	refund, err := gateway.Refund(ctx, o.Payment().PaymentID, amount.Paise(), key, o.Number().String())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRefundFailed, err)
	}
	return retryOnConflict(func() error {
		return repo.Update(ctx, id, func(o *order.Order) error {
			if !o.NeedsRefund() {
				return nil // another request recorded it first
			}
			if err := o.InitiateRefund(refund.ID, amount); err != nil {
				return err
			}
			switch refund.Status {
			case "processed":
				return o.CompleteRefund(order.RefundProcessed{RefundID: refund.ID, AmountPaise: refund.AmountPaise, ARN: refund.ARN})
			case "failed":
				return o.FailRefund(order.RefundFailed{RefundID: refund.ID, Reason: "the gateway refused the refund"})
			}
			return nil
		})
	})
}

// refundKey is the X-Refund-Idempotency key of the order's next refund attempt: stable across
// retries of one attempt, new after a failed refund.
func refundKey(o *order.Order) string {
	return fmt.Sprintf("rfnd-%s-%d", strings.ReplaceAll(o.ID().String(), "-", ""), o.FailedRefunds())
}
