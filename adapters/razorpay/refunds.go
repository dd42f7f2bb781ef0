package razorpay

import (
	"context"
	"fmt"
	"net/http"
)

// HeaderRefundIdempotency makes a refund request safe to retry.
const HeaderRefundIdempotency = "X-Refund-Idempotency"

// Idempotency key bounds. Razorpay asks for at least 10 characters; the upper bound is ours, to
// keep keys to something a log line and a database column hold comfortably.
const (
	MinIdempotencyKeyLength = 10
	MaxIdempotencyKeyLength = 64
)

// RefundRequest is a refund of (part of) a captured payment.
type RefundRequest struct {
	AmountPaise int64  // 0 refunds what is left of the payment
	Speed       string // normal (default) or optimum
	Receipt     string // optional, at most 40 characters
	Notes       map[string]string

	// IdempotencyKey is sent as X-Refund-Idempotency: 10 to 64 of [A-Za-z0-9_-]. A retry must
	// send the same key and the same request, and then gets the first refund back, not a second
	// one. Derive it from something stable, such as our refund's id.
	IdempotencyKey string
}

type refundBody struct {
	Amount  int64             `json:"amount,omitempty"` // omitted: full refund
	Speed   string            `json:"speed"`
	Receipt string            `json:"receipt,omitempty"`
	Notes   map[string]string `json:"notes,omitempty"`
}

// Refund refunds a captured payment. The answer's Status is usually pending; the refund.processed
// (or refund.failed) webhook settles it.
//
// After an error wrapping ErrUnreachable, or a temporary *APIError (a 409 means the first request
// with this key is still being processed), call Refund again with the same request: the same key
// and the same body give back the same refund.
func (c *Client) Refund(ctx context.Context, paymentID string, req RefundRequest) (Refund, error) {
	const op = OpRefund
	if err := checkID(op, "payment_id", paymentID); err != nil {
		return Refund{}, err
	}
	if req.Speed == "" {
		req.Speed = SpeedNormal
	}
	switch {
	case req.AmountPaise < 0:
		return Refund{}, invalid(op, "amount", "%d paise is negative", req.AmountPaise)
	case req.Speed != SpeedNormal && req.Speed != SpeedOptimum:
		return Refund{}, invalid(op, "speed", "%q: want normal or optimum", clip(req.Speed))
	}
	if err := checkReceipt(op, req.Receipt, false); err != nil {
		return Refund{}, err
	}
	if err := checkNotes(op, req.Notes); err != nil {
		return Refund{}, err
	}
	if err := checkIdempotencyKey(op, req.IdempotencyKey); err != nil {
		return Refund{}, err
	}
	// json.Marshal writes struct fields in order and map keys sorted, so a retry sends the very same
	// bytes, as the idempotency contract asks.
	body := refundBody{Amount: req.AmountPaise, Speed: req.Speed, Receipt: req.Receipt, Notes: req.Notes}
	header := http.Header{HeaderRefundIdempotency: {req.IdempotencyKey}}
	status, raw, err := c.call(ctx, op, http.MethodPost, "/v1/payments/"+paymentID+"/refund", nil, body, header)
	if err != nil {
		return Refund{}, err
	}
	var r Refund
	if err := decode(op, status, raw, &r); err != nil {
		return Refund{}, err
	}
	if r.Entity != "refund" || r.ID == "" {
		return Refund{}, &ResponseError{Op: op, StatusCode: status, Body: raw, Err: errEntity("refund", r.Entity)}
	}
	r.Raw = raw
	return r, nil
}

func checkIdempotencyKey(op, key string) error {
	if len(key) < MinIdempotencyKeyLength || len(key) > MaxIdempotencyKeyLength {
		return invalid(op, "idempotency_key", "%d characters, want %d to %d", len(key), MinIdempotencyKeyLength, MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(key); i++ {
		b := key[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return invalid(op, "idempotency_key", "character %d is not one of [A-Za-z0-9_-]", i+1)
		}
	}
	return nil
}

func errEntity(want, got string) error {
	return fmt.Errorf("entity %q, want %q", clip(got), want)
}
