// Package sms sends the notification SMS through MSG91 (primary) and Fast2SMS (fallback), or writes
// them to the log when no provider is configured. The errors say whether the SMS certainly did not
// go (RejectedError, UnreachableError, ConfigError: safe to try another provider) or may have gone
// (AmbiguousError: retry the same provider later, never switch).
package sms

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// Message is one SMS to one customer.
type Message struct {
	To   order.Phone
	Type notification.Type
	// Text is the rendered GSM-7 text, as providers that take free text (Fast2SMS route q) send it.
	Text string
	// Vars are the template variables for providers that fill in their own registered template
	// (MSG91 Flow, Fast2SMS route dlt); see VarsFor.
	Vars map[string]string
	// Reference is the client reference MSG91 returns in its delivery reports (CRQID): letters,
	// digits, "_", "." and "-", at most 80.
	Reference string
}

// Result is what a provider said, for the notification log.
type Result struct {
	// Provider is "msg91", "fast2sms" or "log".
	Provider string
	// RequestID is the provider's id for the SMS; delivery reports refer to it.
	RequestID string
	// Response is the raw response body, kept also on failure.
	Response string
	// Ambiguous is set when the provider may have sent the SMS but did not say so (a timeout).
	Ambiguous bool
	// Refused is set when the provider answered and refused this SMS (IsRefused).
	Refused bool
	// Error says why this attempt failed; empty on success.
	Error string
	// Attempts lists every provider tried, in order, when the SMS went through a Fallback; each
	// response belongs in the notification log.
	Attempts []Result
}

// AllAttempts returns Attempts, or the result itself when it came straight from one provider.
func (r Result) AllAttempts() []Result {
	if len(r.Attempts) > 0 {
		return r.Attempts
	}
	return []Result{r}
}

// Sender sends one SMS.
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
	// Name is the provider's name as Result.Provider gives it.
	Name() string
}

// ErrInvalidMessage is wrapped by the error for a message no provider can send: no phone number, no
// text. It is not worth retrying nor switching providers.
var ErrInvalidMessage = errors.New("invalid SMS message")

// RejectedError is a definite refusal: the provider answered, with a non-2xx status or a body that
// says failure. The SMS did not go, so another provider may be tried.
type RejectedError struct {
	Provider   string
	StatusCode int
	// Code is the provider's error code: MSG91's "code", Fast2SMS's "status_code".
	Code    string
	Message string
	// Body is the raw response body.
	Body string
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s rejected the SMS: HTTP %d", e.Provider, e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, ", code %s", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return maskNumbers(b.String())
}

// Permanent reports whether retrying is pointless until someone fixes the account or configuration
// (alert instead): for Fast2SMS the codes 412, 413, 414, 416, 500 and 996–999; for MSG91 a 4xx
// status other than 408 and 429 (bad key, bad template, bad request).
func (e *RejectedError) Permanent() bool {
	switch e.Provider {
	case ProviderFast2SMS:
		switch e.Code {
		case "412", "413", "414", "416", "500", "996", "997", "998", "999":
			return true
		}
		return false
	case ProviderMSG91:
		return e.StatusCode >= 400 && e.StatusCode < 500 && e.StatusCode != 408 && e.StatusCode != 429
	}
	return false
}

// SpamDetected reports Fast2SMS's 995: a repeat to the same number looked like spam, and a resend
// soon may be refused again.
func (e *RejectedError) SpamDetected() bool {
	return e.Provider == ProviderFast2SMS && e.Code == "995"
}

// AmbiguousError says the request reached the provider but no clear answer came back (a timeout,
// a reset connection, an unreadable 2xx body): the SMS may have been sent. Retry the same provider
// later; sending through another one risks a second SMS.
type AmbiguousError struct {
	Provider string
	Err      error
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s: no clear answer after the request was sent, the SMS may have gone: %v", e.Provider, e.Err)
}
func (e *AmbiguousError) Unwrap() error { return e.Err }

// UnreachableError says the request never fully reached the provider (DNS failure, connection
// refused, TLS failure): the SMS certainly did not go, so another provider may be tried.
type UnreachableError struct {
	Provider string
	Err      error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s unreachable, the SMS was not sent: %v", e.Provider, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// ConfigError says this provider is not set up to send this message (no template id for the type):
// nothing was sent. Another provider may be tried; someone should fix the settings.
type ConfigError struct {
	Provider string
	Err      error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s is not configured: %v", e.Provider, e.Err)
}
func (e *ConfigError) Unwrap() error { return e.Err }

// NotSent reports whether err proves the SMS did not go out, so that a Fallback may try the other
// provider: a rejection, an unreachable provider or a missing template. It is false for an
// AmbiguousError, an invalid message and a cancelled context.
func NotSent(err error) bool {
	var r *RejectedError
	var u *UnreachableError
	var c *ConfigError
	return errors.As(err, &r) || errors.As(err, &u) || errors.As(err, &c)
}

// IsRefused reports whether err is the provider's answer refusing the SMS: a *RejectedError, but
// not a throttling one (HTTP 408 or 429), which says "not now" rather than "not this SMS". A
// notification whose SMS a provider refused is not rerouted back to that provider.
func IsRefused(err error) bool {
	var r *RejectedError
	return errors.As(err, &r) && r.StatusCode != 408 && r.StatusCode != 429
}

// IsAmbiguous reports whether err says the SMS may have been sent.
func IsAmbiguous(err error) bool {
	var a *AmbiguousError
	return errors.As(err, &a)
}

// IsPermanent reports whether retrying the same message is pointless: an invalid message, a missing
// template, or a rejection for an account or configuration problem.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var c *ConfigError
	if errors.As(err, &c) {
		return true
	}
	var f *FallbackError
	if errors.As(err, &f) {
		return IsPermanent(f.Primary) && IsPermanent(f.Secondary)
	}
	var r *RejectedError
	return errors.As(err, &r) && r.Permanent()
}

// The provider names, as Result.Provider and Sender.Name give them.
const (
	ProviderMSG91    = "msg91"
	ProviderFast2SMS = "fast2sms"
	ProviderLog      = notification.ProviderLog // logged, not sent: shown as simulated
)

// VarNames lists the variables of type t's registered SMS template in the order its text uses them,
// as the notification catalogue gives them (notification.Kind.SMSVars).
func VarNames(t notification.Type) []string {
	k, ok := notification.KindOf(t)
	if !ok {
		return nil
	}
	names := make([]string, len(k.SMSVars))
	for i, v := range k.SMSVars {
		names[i] = string(v)
	}
	return names
}

// VarsFor returns the template variables of type t's SMS (see VarNames), GSM-7 only, like the
// rendered text. It returns nil for an unknown type.
func VarsFor(t notification.Type, d notification.MessageData) map[string]string {
	k, ok := notification.KindOf(t)
	if !ok {
		return nil
	}
	d = k.Keep(notification.SMS, d) // so that "amount" is the refund only in a message about one
	vars := make(map[string]string, len(k.SMSVars))
	for _, v := range k.SMSVars {
		vars[string(v)] = templates.ToGSM7(strings.TrimSpace(varValue(v, d)))
	}
	return vars
}

// varValue is the value of one variable; "" for a name it does not know (a test checks every name the
// catalogue uses).
func varValue(v notification.SMSVar, d notification.MessageData) string {
	switch v {
	case notification.VarName:
		return templates.SMSName(d.CustomerName)
	case notification.VarOrder:
		return d.OrderNumber
	case notification.VarAmount:
		if d.RefundDigits != "" {
			return d.RefundDigits
		}
		return d.TotalDigits
	case notification.VarPayment:
		return d.PaymentID
	case notification.VarCarrier:
		if d.Carrier == "" {
			return "courier" // as templates/sms/order_shipped.txt words it
		}
		return d.Carrier
	case notification.VarTracking:
		return d.TrackingID
	case notification.VarLink:
		return d.SMSOrderURL
	case notification.VarReview:
		return d.SMSReviewURL
	case notification.VarDays:
		return refundDays(d)
	case notification.VarRefund:
		// One sentence, so that one registered template serves paid and unpaid orders; the words
		// are those of templates/sms/order_cancelled.txt.
		if d.RefundDigits == "" {
			return NoRefundSentence
		}
		return "Rs " + d.RefundDigits + " will be refunded in " + refundDays(d) + "."
	}
	return ""
}

// NoRefundSentence is what the cancellation of an unpaid order says about money.
const NoRefundSentence = "No payment was taken, so there is nothing to refund."

func refundDays(d notification.MessageData) string {
	if d.RefundExpectation == "" {
		return "a few working days"
	}
	return d.RefundExpectation
}

// longNumber finds digit runs long enough to be a phone number.
var longNumber = regexp.MustCompile(`\+?\d{10,}`)

// maskNumbers hides all but the last four digits of anything that looks like a phone number, for
// error texts that quote a provider (which may echo the number back).
func maskNumbers(s string) string {
	return longNumber.ReplaceAllStringFunc(s, order.MaskPhone)
}

// validate checks what every provider needs.
func validate(m Message) error {
	if m.To.IsZero() {
		return fmt.Errorf("%w: no phone number", ErrInvalidMessage)
	}
	if _, err := notification.ParseType(string(m.Type)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	return nil
}
