package razorpay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Operations, as APIError.Op and error messages name them.
const (
	OpCreateOrder = "create order"
	OpFindOrder   = "find order by receipt"
	OpFetchOrder  = "fetch order"
	OpRefund      = "refund"
)

// ErrInvalidRequest is wrapped by every *ValidationError: the request was refused locally and
// never sent.
var ErrInvalidRequest = errors.New("invalid razorpay request")

// ErrUnreachable is wrapped by every error where no complete answer came back: a connection
// error, a timeout, a cancelled context, a response cut short. The request may or may not have been
// applied. Before creating an order again, look it up by its receipt; retry a refund with the same
// idempotency key and the same body.
var ErrUnreachable = errors.New("razorpay unreachable: the request may or may not have been applied")

// ErrUnexpectedResponse is wrapped by *ResponseError: Razorpay answered 2xx, so the request was
// applied, but the body is not what the contract says.
var ErrUnexpectedResponse = errors.New("unexpected razorpay response")

// ValidationError says which request field was refused before calling Razorpay, and why.
type ValidationError struct {
	Op     string
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("razorpay %s: invalid %s: %s", e.Op, e.Field, e.Reason)
}

// Is makes every ValidationError an ErrInvalidRequest.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRequest }

func invalid(op, field, format string, args ...any) error {
	return &ValidationError{Op: op, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// APIError is a non-2xx answer from Razorpay, decoded from its envelope
// {"error": {"code", "description", "source", "step", "reason", "metadata", "field"}}. When the
// body is not such an envelope (a proxy's HTML page, an empty body), only StatusCode and Body are
// set.
type APIError struct {
	Op          string // one of the Op constants
	StatusCode  int
	Code        string // BAD_REQUEST_ERROR, GATEWAY_ERROR, SERVER_ERROR
	Description string
	Source      string
	Step        string
	Reason      string
	Field       string
	Metadata    map[string]any

	// Body is the raw response body, for the provider log.
	Body []byte
}

// Error is one readable line. It never holds the API secrets (the client scrubs them from what
// Razorpay sent) and masks anything that looks like a phone number.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("razorpay")
	if e.Op != "" {
		b.WriteString(" " + e.Op)
	}
	fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	if e.Code == "" && e.Description == "" {
		if t := http.StatusText(e.StatusCode); t != "" {
			b.WriteString(" " + t)
		}
		b.WriteString(" (no error envelope in the response)")
		return b.String()
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + maskDigitRuns(e.Description))
	}
	var detail []string
	if e.Field != "" {
		detail = append(detail, "field "+maskDigitRuns(e.Field))
	}
	if e.Reason != "" && e.Reason != "NA" {
		detail = append(detail, "reason "+maskDigitRuns(e.Reason))
	}
	if len(detail) > 0 {
		b.WriteString(" (" + strings.Join(detail, ", ") + ")")
	}
	return b.String()
}

// Temporary reports whether the same request may succeed later: 5xx and 429 (rate limited), and
// a 409 on a refund, which means the first request with that idempotency key is still being
// processed. Other 4xx answers will not change on a retry.
func (e *APIError) Temporary() bool {
	switch {
	case e.StatusCode >= 500, e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode == http.StatusConflict:
		return e.Op == OpRefund
	}
	return false
}

// ResponseError is a 2xx answer whose body does not decode into the documented entity.
type ResponseError struct {
	Op         string
	StatusCode int
	Body       []byte // the raw response body, for the provider log
	Err        error
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("razorpay %s: HTTP %d with an unexpected body: %v", e.Op, e.StatusCode, e.Err)
}

func (e *ResponseError) Unwrap() error { return e.Err }

// Is makes every ResponseError an ErrUnexpectedResponse.
func (e *ResponseError) Is(target error) bool { return target == ErrUnexpectedResponse }

// IsTimeout reports whether err is a timeout or an expired context deadline. Such a request may
// or may not have been applied; errors.Is(err, ErrUnreachable) holds for it too.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsTemporary reports whether retrying err may help: Razorpay was unreachable, or answered with
// a temporary APIError. Retry a create only after looking the order up by its receipt.
func IsTemporary(err error) bool {
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Temporary()
}

// maskDigitRuns hides all but the last four digits of every run of ten or more digits, so a phone
// number Razorpay echoes in a description does not end up whole in our logs.
func maskDigitRuns(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 10 {
			b.WriteString(strings.Repeat("*", run-4))
			b.WriteString(s[end-4 : end])
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	return b.String()
}
