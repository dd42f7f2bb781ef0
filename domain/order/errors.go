package order

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Input errors: the request itself is wrong (HTTP 400).
var (
	ErrInvalidInput  = errors.New("invalid input")
	ErrInvalidAmount = fmt.Errorf("%w: invalid amount", ErrInvalidInput)
	ErrInvalidPhone  = fmt.Errorf("%w: invalid phone number", ErrInvalidInput)
	ErrInvalidEmail  = fmt.Errorf("%w: invalid e-mail address", ErrInvalidInput)
)

// State errors: the request is well formed but the order is not in a state that allows it (HTTP 409).
var (
	ErrIllegalTransition   = errors.New("illegal order transition")
	ErrCancelAfterShipping = fmt.Errorf("%w: an order cannot be cancelled once it has shipped", ErrIllegalTransition)
	ErrNotRefundable       = fmt.Errorf("%w: only a cancelled, paid order can be refunded", ErrIllegalTransition)
	ErrPaymentNotRequested = fmt.Errorf("%w: no payment was requested for this order", ErrIllegalTransition)
	// Why a refund asked for again has nothing to ask (Order.CheckRefundOwed).
	ErrNoRefundOwed    = fmt.Errorf("%w: no refund is outstanding", ErrIllegalTransition)
	ErrAlreadyRefunded = fmt.Errorf("%w: the order was already refunded", ErrNoRefundOwed)
	ErrRefundPending   = fmt.Errorf("%w: its refund was asked for and is waiting for the gateway", ErrNoRefundOwed)
)

// Mismatch errors: a payment or refund report does not belong to this order as we know it.
var (
	ErrPaymentMismatch = errors.New("payment does not match the order")
	ErrRefundMismatch  = errors.New("refund does not match the order")
)

// ErrNotFound is returned when no order has the given id.
var ErrNotFound = errors.New("order not found")

// FieldError says which input field is wrong and why. It wraps the reason, so errors.Is(err,
// ErrInvalidInput) holds for every FieldError.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

func invalid(field, format string, args ...any) error {
	return fieldErr(field, fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...))
}

// TransitionError says which action the order's status forbids.
type TransitionError struct {
	Action string
	From   Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s an order that is %s", e.Action, e.From)
}

// Is makes every TransitionError an ErrIllegalTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// NotFoundError names the order that was not found.
type NotFoundError struct {
	ID uuid.UUID
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("order %s not found", e.ID) }

// Is makes every NotFoundError an ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// NotYetError is an order asked for as it stood at a time before it was placed: it exists, but did
// not then. It is an ErrNotFound too, since as of that time there was no such order.
type NotYetError struct {
	ID       uuid.UUID
	Number   string    // the order's number, when it was asked for by number: the message names it so
	At       time.Time // the time asked about
	PlacedAt time.Time // when its first event was recorded
}

func (e *NotYetError) Error() string {
	ref := e.ID.String()
	if e.Number != "" {
		ref = e.Number
	}
	return fmt.Sprintf("order %s did not exist yet at %s: it was placed later, at %s", ref,
		e.At.Format(time.RFC3339), e.PlacedAt.In(e.At.Location()).Format(time.RFC3339))
}

// Is makes every NotYetError an ErrNotFound.
func (e *NotYetError) Is(target error) bool { return target == ErrNotFound }

// ErrNumberTaken is returned by Repository.Create when another order has the number; draw another.
var ErrNumberTaken = errors.New("order number already taken")
