// Package command holds the use cases that change orders: one file per command, with its input,
// its handler and the ports it needs.
package command

import (
	"context"

	"github.com/google/uuid"
)

// TxRunner runs fn in one database transaction; repositories and stores called with the context fn
// receives join it.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// StoredResponse is a response kept under an idempotency key.
type StoredResponse struct {
	RequestHash []byte
	StatusCode  int
	Body        []byte
}

// IdempotencyStore keeps the first response to a request made with an Idempotency-Key.
type IdempotencyStore interface {
	// Get returns the response stored under key, or nil.
	Get(ctx context.Context, scope, key string) (*StoredResponse, error)
	// Save stores resp under key in the transaction in ctx. When the key is already taken it stores
	// nothing and returns the response that was stored first (waiting for its transaction if needed).
	Save(ctx context.Context, scope, key string, resp StoredResponse) (*StoredResponse, error)
}

// AccessTokens issues the secret that lets a customer see and cancel their own order.
type AccessTokens interface {
	// Issue stores a hash of a new random token for the order and returns the token.
	Issue(ctx context.Context, orderID uuid.UUID) (string, error)
}
