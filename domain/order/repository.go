package order

import (
	"context"

	"github.com/google/uuid"
)

// Repository stores orders as their event streams.
type Repository interface {
	// Create stores a newly placed order; its number must not be taken.
	Create(ctx context.Context, o *Order) error
	// Get loads an order, or returns a NotFoundError.
	Get(ctx context.Context, id uuid.UUID) (*Order, error)
	// Update loads the order, runs fn on it and stores what fn recorded, all or nothing. When another
	// writer got there first it returns es.ErrConcurrencyConflict and stores nothing.
	Update(ctx context.Context, id uuid.UUID, fn func(o *Order) error) error
}
