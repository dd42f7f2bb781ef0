package command

import (
	"context"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// RetryRefund is an admin asking the gateway again for the refund of a cancelled, paid order whose
// refund request failed (the gateway was down, or refused it: refund.failed).
type RetryRefund struct {
	OrderID uuid.UUID
	AdminID string
}

// RetryRefundHandler retries outstanding refunds.
type RetryRefundHandler struct {
	repo    order.Repository
	gateway PaymentGateway
}

// NewRetryRefundHandler wires the handler.
func NewRetryRefundHandler(repo order.Repository, gateway PaymentGateway) RetryRefundHandler {
	return RetryRefundHandler{repo: repo, gateway: gateway}
}

// Handle asks the gateway for the refund with the admin as the actor. An order with nothing to refund
// is order.ErrNotRefundable.
func (h RetryRefundHandler) Handle(ctx context.Context, cmd RetryRefund) (CancelOrderResult, error) {
	o, err := h.repo.Get(ctx, cmd.OrderID)
	if err != nil {
		return CancelOrderResult{}, err
	}
	if !o.NeedsRefund() {
		return CancelOrderResult{}, order.ErrNotRefundable
	}
	ctx = withActor(ctx, es.Admin(cmd.AdminID))
	if err := RefundOrder(ctx, h.repo, h.gateway, cmd.OrderID); err != nil {
		return CancelOrderResult{}, err
	}
	if o, err = h.repo.Get(ctx, cmd.OrderID); err != nil {
		return CancelOrderResult{}, err
	}
	return CancelOrderResult{OrderID: o.ID(), Status: string(o.Status()), RefundID: o.Refund().ID}, nil
}
