package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// Admin actions on an order.
const (
	ActionShip           = "ship"
	ActionOutForDelivery = "out-for-delivery"
	ActionDeliver        = "deliver"
)

// AdminTransition is an admin moving an order along: ship (with carrier, tracking id and, for a
// carrier outside the table, its tracking page), out for
// delivery, or deliver. ExpectedVersion, when set, is the version the admin saw.
type AdminTransition struct {
	OrderID         uuid.UUID
	AdminID         string
	Action          string
	ExpectedVersion int
	Carrier         string
	TrackingID      string
	// TrackingURL is the tracking page of a carrier outside the table (order.Carriers).
	TrackingURL string
}

// AdminTransitionResult is the order's status and version after the action.
type AdminTransitionResult struct {
	OrderID uuid.UUID `json:"order_id"`
	Status  string    `json:"status"`
	Version int       `json:"version"`
}

// AdminTransitionHandler applies admin actions.
type AdminTransitionHandler struct {
	repo order.Repository
}

// NewAdminTransitionHandler wires the handler.
func NewAdminTransitionHandler(repo order.Repository) AdminTransitionHandler {
	return AdminTransitionHandler{repo: repo}
}

// Handle applies the action with the admin as the events' actor. A stale ExpectedVersion, or another
// writer getting there first, is an es.ConflictError carrying the order's current version: the admin
// decided on a state that is gone, so the action is not retried.
func (h AdminTransitionHandler) Handle(ctx context.Context, cmd AdminTransition) (AdminTransitionResult, error) {
	var act func(o *order.Order) error
	switch cmd.Action {
	case ActionShip:
		act = func(o *order.Order) error { return o.Ship(cmd.Carrier, cmd.TrackingID, cmd.TrackingURL) }
	case ActionOutForDelivery:
		act = func(o *order.Order) error { return o.MarkOutForDelivery() }
	case ActionDeliver:
		act = func(o *order.Order) error { return o.Deliver() }
	default:
		return AdminTransitionResult{}, &order.FieldError{Field: "action", Err: fmt.Errorf("%w: unknown action %q", order.ErrInvalidInput, cmd.Action)}
	}
	if cmd.ExpectedVersion < 0 {
		return AdminTransitionResult{}, &order.FieldError{Field: "expected_version", Err: fmt.Errorf("%w: must be positive", order.ErrInvalidInput)}
	}
	ctx = withActor(ctx, es.Admin(cmd.AdminID))
	var res AdminTransitionResult
	err := h.repo.Update(ctx, cmd.OrderID, func(o *order.Order) error {
		if cmd.ExpectedVersion > 0 && o.Version() != cmd.ExpectedVersion {
			return &es.ConflictError{Stream: order.StreamID(o.ID()), Expected: cmd.ExpectedVersion, Actual: o.Version()}
		}
		if err := act(o); err != nil {
			return err
		}
		res = AdminTransitionResult{OrderID: o.ID(), Status: string(o.Status()), Version: o.Version()}
		return nil
	})
	var ce *es.ConflictError
	if errors.As(err, &ce) && ce.Actual < 0 {
		// Lost a race at the store: report the version that won.
		if o, gerr := h.repo.Get(ctx, cmd.OrderID); gerr == nil {
			return res, &es.ConflictError{Stream: ce.Stream, Expected: ce.Expected, Actual: o.Version()}
		}
	}
	return res, err
}
