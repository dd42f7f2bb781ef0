package query

import (
	"context"

	"github.com/google/uuid"
)

// GatewayOrderFinder finds the order a gateway order belongs to.
type GatewayOrderFinder interface {
	OrderIDByGatewayOrder(ctx context.Context, gatewayOrderID string) (uuid.UUID, error)
}

// PaymentPageHandler answers what the development payment page shows for a gateway order.
type PaymentPageHandler struct {
	finder GatewayOrderFinder
	orders OrderLoader
}

// NewPaymentPageHandler wires the handler.
func NewPaymentPageHandler(finder GatewayOrderFinder, orders OrderLoader) PaymentPageHandler {
	return PaymentPageHandler{finder: finder, orders: orders}
}

// Handle returns the order a gateway order pays for.
func (h PaymentPageHandler) Handle(ctx context.Context, gatewayOrderID string) (OrderView, error) {
	id, err := h.finder.OrderIDByGatewayOrder(ctx, gatewayOrderID)
	if err != nil {
		return OrderView{}, err
	}
	o, err := h.orders.Get(ctx, id)
	if err != nil {
		return OrderView{}, err
	}
	return ViewOf(o), nil
}
