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

// CancelOrder is a cancellation: a customer's, with their access token or the token of a link in
// their messages, or an admin's (AdminID set instead), who gives a reason and may give the version
// of the order they saw.
type CancelOrder struct {
	OrderID     uuid.UUID
	AccessToken string
	Reason      string

	AdminID         string
	ExpectedVersion int
}

// CancelOrderResult says where the order stands.
type CancelOrderResult struct {
	OrderID  uuid.UUID `json:"order_id"`
	Status   string    `json:"status"`
	Version  int       `json:"version"`
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
// call happens after the cancellation is stored, outside any transaction; if the gateway cannot be
// reached, cancelling again (or the refund sweep) retries it with the same idempotency key, so the
// customer is never refunded twice, and if the gateway refuses it, the refusal is recorded
// (RefundOwed). A customer's wrong token is the order's NotFoundError; an admin's stale version is
// an es.ConflictError carrying the current one.
func (h CancelOrderHandler) Handle(ctx context.Context, cmd CancelOrder) (CancelOrderResult, error) {
	admin := cmd.AdminID != ""
	if admin {
		if strings.TrimSpace(cmd.Reason) == "" {
			return CancelOrderResult{}, &order.FieldError{Field: "reason", Err: fmt.Errorf("%w: say why the order is cancelled; the customer is told", order.ErrInvalidInput)}
		}
		if cmd.ExpectedVersion < 0 {
			return CancelOrderResult{}, &order.FieldError{Field: "expected_version", Err: fmt.Errorf("%w: must be positive", order.ErrInvalidInput)}
		}
		ctx = withActor(ctx, es.Admin(cmd.AdminID))
	} else {
		ok, err := h.access.Opens(ctx, cmd.OrderID, cmd.AccessToken)
		if err != nil {
			return CancelOrderResult{}, fmt.Errorf("cancel order: %w", err)
		}
		if !ok {
			return CancelOrderResult{}, &order.NotFoundError{ID: cmd.OrderID}
		}
		ctx = withActor(ctx, es.Customer("guest"))
	}
	var owes bool
	cancel := func() error {
		return h.repo.Update(ctx, cmd.OrderID, func(o *order.Order) error {
			if admin && cmd.ExpectedVersion > 0 && o.Version() != cmd.ExpectedVersion {
				return &es.ConflictError{Stream: order.StreamID(o.ID()), Expected: cmd.ExpectedVersion, Actual: o.Version()}
			}
			if o.Status() == order.StatusCancelled && len(o.OwedRefunds()) > 0 {
				owes = true // cancelled before, refund not yet asked: ask again
				return nil
			}
			if err := o.Cancel(cmd.Reason); err != nil {
				return err
			}
			owes = len(o.OwedRefunds()) > 0
			return nil
		})
	}
	var err error
	if admin && cmd.ExpectedVersion > 0 {
		err = cancel() // the admin decided on the version they saw: a newer one is theirs to look at
	} else {
		err = retryOnConflict(cancel)
	}
	if err != nil {
		return CancelOrderResult{}, err
	}
	if owes {
		// A customer cancelling again does not ask for a refund handed over to staff: they fix the
		// cause of the refusals first.
		if _, errs := refundOwed(ctx, h.repo, h.gateway, cmd.OrderID, !admin); len(errs) > 0 {
			return CancelOrderResult{}, errors.Join(errs...)
		}
	}
	o, err := h.repo.Get(ctx, cmd.OrderID)
	if err != nil {
		return CancelOrderResult{}, err
	}
	return CancelOrderResult{OrderID: o.ID(), Status: string(o.Status()), Version: o.Version(), RefundID: o.Refund().ID}, nil
}

// AnyAccess opens an order when any of its checkers does: the access token issued at checkout, or the
// token of a link in the customer's messages.
type AnyAccess []AccessChecker

// Opens asks each checker in turn.
func (a AnyAccess) Opens(ctx context.Context, orderID uuid.UUID, token string) (bool, error) {
	for _, c := range a {
		ok, err := c.Opens(ctx, orderID, token)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// ErrRefundFailed is wrapped by the error of every refund that could not be asked for (the gateway
// was unreachable or failed) or that the gateway refused (a *RefundRefusedError). Either way the
// refund is still owed: the refund sweep asks again, or staff do (RetryRefund).
var ErrRefundFailed = errors.New("the payment gateway did not take the refund request")

// RefundRefusedError is a refund the gateway refused when asked for it; the refusal is recorded on
// the order (RefundFailed, or UnexpectedRefundFailed) and counts toward order.MaxRefusedRefunds.
type RefundRefusedError struct {
	PaymentID string
	// Reason is the gateway's, as recorded.
	Reason string
	// Refusals counts this refund's refusals so far, this one included.
	Refusals int
	// Err is the gateway's error, for the log.
	Err error
}

func (e *RefundRefusedError) Error() string {
	return fmt.Sprintf("the payment gateway refused the refund of payment %s (refusal %d of %d before staff take over): %s",
		e.PaymentID, e.Refusals, order.MaxRefusedRefunds, e.Reason)
}

// Is makes every RefundRefusedError an ErrRefundFailed.
func (e *RefundRefusedError) Is(target error) bool { return target == ErrRefundFailed }

func (e *RefundRefusedError) Unwrap() error { return e.Err }

// HandedOver reports whether this refusal was the last the service takes: the refund sweep no
// longer asks for this refund, staff do.
func (e *RefundRefusedError) HandedOver() bool { return e.Refusals >= order.MaxRefusedRefunds }

// RefundOwed asks the gateway for every refund the order owes (its own payment once cancelled, and
// each payment it could not take) and records the answers. Each refund's idempotency key follows from
// what it refunds and how many refunds of it the gateway refused before, so a retry of the same
// attempt is the same refund at the gateway. A refund the gateway refused is recorded as refused
// (a *RefundRefusedError); one that could not be asked for is still owed as it was. Either way the
// refund sweep asks again, until the gateway has refused it order.MaxRefusedRefunds times.
func RefundOwed(ctx context.Context, repo order.Repository, gateway PaymentGateway, id uuid.UUID) error {
	_, errs := refundOwed(ctx, repo, gateway, id, false)
	return errors.Join(errs...)
}

// refundOwed asks for the order's owed refunds, but for those handed over to staff when
// skipHandedOver (the sweep, a customer), and returns how many the gateway took and the error of
// each it did not.
func refundOwed(ctx context.Context, repo order.Repository, gateway PaymentGateway, id uuid.UUID, skipHandedOver bool) (int, []error) {
	o, err := repo.Get(ctx, id)
	if err != nil {
		return 0, []error{err}
	}
	asked := 0
	var errs []error
	for _, owed := range o.OwedRefunds() {
		if skipHandedOver && owed.HandedOver() {
			continue // refused too often: a person has to fix the cause first
		}
		if err := refundOne(ctx, repo, gateway, o, owed); err != nil {
			errs = append(errs, err)
			continue
		}
		asked++
	}
	return asked, errs
}

func refundOne(ctx context.Context, repo order.Repository, gateway PaymentGateway, o *order.Order, owed order.OwedRefund) error {
	key := RefundKey(o.ID(), o.Payment().PaymentID, owed)
	refund, err := gateway.Refund(ctx, owed.PaymentID, owed.Amount.Paise(), key, o.Number().String())
	var refusal *GatewayRefusal
	if errors.As(err, &refusal) {
		if rerr := recordRefusal(ctx, repo, o.ID(), owed, refusal.Reason); rerr != nil {
			return fmt.Errorf("%w: %w (and recording the refusal: %w)", ErrRefundFailed, err, rerr)
		}
		return &RefundRefusedError{PaymentID: owed.PaymentID, Reason: refusal.Reason, Refusals: owed.Attempt + 1, Err: err}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRefundFailed, err)
	}
	return retryOnConflict(func() error {
		return repo.Update(ctx, o.ID(), func(o *order.Order) error {
			still := false
			for _, r := range o.OwedRefunds() {
				still = still || r.PaymentID == owed.PaymentID
			}
			if !still {
				return nil // another request recorded it first
			}
			if err := o.InitiateRefund(owed.PaymentID, refund.ID, owed.Amount); err != nil {
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

// recordRefusal records the gateway's refusal of one attempt at a refund, once: a second process
// refused the same attempt (same key) finds the attempt counted already and records nothing.
func recordRefusal(ctx context.Context, repo order.Repository, id uuid.UUID, owed order.OwedRefund, reason string) error {
	return retryOnConflict(func() error {
		return repo.Update(ctx, id, func(o *order.Order) error {
			for _, r := range o.OwedRefunds() {
				if r.PaymentID == owed.PaymentID && r.Attempt == owed.Attempt {
					return o.RefuseRefund(owed.PaymentID, reason)
				}
			}
			return nil
		})
	})
}

// RefundKey is the X-Refund-Idempotency key of a refund attempt: stable across retries of one
// attempt, new after the gateway refused one. The order's own payment keys by the order (as refunds
// asked before payments it could not take existed did); any other payment by its payment id.
func RefundKey(orderID uuid.UUID, ownPaymentID string, owed order.OwedRefund) string {
	if owed.PaymentID == ownPaymentID {
		return fmt.Sprintf("rfnd-%s-%d", strings.ReplaceAll(orderID.String(), "-", ""), owed.Attempt)
	}
	// Razorpay takes letters, digits, - and _ in the key; payment ids are pay_ and letters and digits.
	safe := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, owed.PaymentID)
	return fmt.Sprintf("rfnd-%s-%d", safe, owed.Attempt)
}
