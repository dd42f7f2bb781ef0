// Package query holds the use cases that read: one file per query, with its input, its handler and
// the ports it needs.
package query

import (
	"context"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

// OrderLoader loads an order aggregate.
type OrderLoader interface {
	Get(ctx context.Context, id uuid.UUID) (*order.Order, error)
}

// AccessChecker says whether a customer's access token opens an order.
type AccessChecker interface {
	Opens(ctx context.Context, orderID uuid.UUID, token string) (bool, error)
}
