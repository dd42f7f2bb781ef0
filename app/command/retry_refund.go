package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// RetryRefund is an admin asking the gateway again for the refunds an order owes whose request failed
// (the gateway was down) or was refused (refund.failed, or a 4xx when asked), however many times.
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
// is the error of order.CheckRefundOwed, which says why (already refunded, waiting for the gateway,
// never paid).
func (h RetryRefundHandler) Handle(ctx context.Context, cmd RetryRefund) (CancelOrderResult, error) {
	o, err := h.repo.Get(ctx, cmd.OrderID)
	if err != nil {
		return CancelOrderResult{}, err
	}
	if err := o.CheckRefundOwed(); err != nil {
		return CancelOrderResult{}, err
	}
	ctx = withActor(ctx, es.Admin(cmd.AdminID))
	if err := RefundOwed(ctx, h.repo, h.gateway, cmd.OrderID); err != nil {
		return CancelOrderResult{}, err
	}
	if o, err = h.repo.Get(ctx, cmd.OrderID); err != nil {
		return CancelOrderResult{}, err
	}
	return CancelOrderResult{OrderID: o.ID(), Status: string(o.Status()), Version: o.Version(), RefundID: o.Refund().ID}, nil
}

// MaxRefusedRefunds is how many refunds the gateway may refuse (refund.failed, or a refusal of the
// request) before the sweep stops asking for an order's refund on its own; an admin can still ask
// (RetryRefund).
const MaxRefusedRefunds = order.MaxRefusedRefunds

// OutstandingRefunds finds the orders whose refund is owed and not asked for.
type OutstandingRefunds interface {
	// OutstandingRefunds returns up to limit paid orders cancelled (or refused a refund) more than
	// olderThan ago and no refund pending since, whose refund the gateway refused fewer than
	// maxRefused times, oldest first.
	OutstandingRefunds(ctx context.Context, olderThan time.Duration, maxRefused, limit int) ([]uuid.UUID, error)
}

// SweepRefunds asks the gateway again, as the system, for the refunds still owed: those whose request
// failed (the gateway was down) and those the gateway refused (refund.failed, or a 4xx when asked),
// until it has refused one MaxRefusedRefunds times. An order is left alone for olderThan after its
// cancellation or refusal, so that the sweep does not race the request the cancellation makes.
type SweepRefunds struct {
	OlderThan time.Duration
}

// SweepRefundsHandler runs the sweep.
type SweepRefundsHandler struct {
	finder  OutstandingRefunds
	repo    order.Repository
	gateway PaymentGateway
}

// NewSweepRefundsHandler wires the handler.
func NewSweepRefundsHandler(finder OutstandingRefunds, repo order.Repository, gateway PaymentGateway) SweepRefundsHandler {
	return SweepRefundsHandler{finder: finder, repo: repo, gateway: gateway}
}

// SweptRefunds is what a sweep did.
type SweptRefunds struct {
	// Asked is how many refunds the gateway accepted the request for.
	Asked int
	// Refused are the refunds the gateway refused, each recorded on its order; one refused
	// MaxRefusedRefunds times is not asked for again by the sweep.
	Refused []RefusedRefund
	// Failed is how many requests failed otherwise (the gateway unreachable, a 5xx); they are asked
	// again at the next sweep, as they were.
	Failed int
}

// RefusedRefund is a refund the gateway refused during a sweep.
type RefusedRefund struct {
	OrderID uuid.UUID
	Err     *RefundRefusedError
}

// sweepBatch bounds one sweep; what is left waits for the next.
const sweepBatch = 100

// Handle sweeps once. The gateway request is idempotent per refund attempt, so two processes sweeping
// at once ask for one refund. A refusal is an answer, recorded, not an error of the sweep: the error
// joins the requests that failed otherwise.
func (h SweepRefundsHandler) Handle(ctx context.Context, cmd SweepRefunds) (SweptRefunds, error) {
	ids, err := h.finder.OutstandingRefunds(ctx, cmd.OlderThan, MaxRefusedRefunds, sweepBatch)
	if err != nil {
		return SweptRefunds{}, fmt.Errorf("sweep refunds: %w", err)
	}
	ctx = withActor(ctx, es.System)
	var out SweptRefunds
	var errs []error
	for _, id := range ids {
		asked, failures := refundOwed(ctx, h.repo, h.gateway, id, true)
		out.Asked += asked
		for _, err := range failures {
			var refused *RefundRefusedError
			if errors.As(err, &refused) {
				out.Refused = append(out.Refused, RefusedRefund{OrderID: id, Err: refused})
				continue
			}
			out.Failed++
			errs = append(errs, fmt.Errorf("refund of order %s: %w", id, err))
		}
	}
	return out, errors.Join(errs...)
}
