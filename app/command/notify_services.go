package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// Delivery topics: the queues the e-mail and SMS workers take notifications from.
const (
	EmailTopic = "notify_email"
	SMSTopic   = "notify_sms"
)

// TopicFor is the delivery topic of a channel.
func TopicFor(ch notification.Channel) string {
	if ch == notification.SMS {
		return SMSTopic
	}
	return EmailTopic
}

// Delivery is a notification queued for its worker. The message its worker is handed is the
// notification's request, the first event of its stream, which the store already holds: a queued
// notification says where it belongs, not what it says.
type Delivery struct {
	Topic   string
	OrderID uuid.UUID
	// Version is the version of the notification's stream as it is queued: 1 for a new one, the
	// resend's (or reroute's) event for one queued again. The message carries that event's
	// correlation id, so that the attempts it leads to are traced to what queued it.
	Version int
}

// NewNotification is a notification to store and queue.
type NewNotification struct {
	Stream       string
	Notification *notification.Notification
	Delivery     Delivery
}

// NotificationStore keeps notifications as event streams and queues their delivery.
type NotificationStore interface {
	// Create stores new notifications and queues them, all at once, leaving out those that exist
	// already; it returns how many it stored. When it fails, it has stored nothing, and a
	// transaction in ctx can still be used.
	Create(ctx context.Context, ns ...NewNotification) (int, error)
	Get(ctx context.Context, stream string) (*notification.Notification, error)
	// Save appends what was recorded on n; with d it also queues the notification again. A
	// notification that is settled (sent or failed) leaves the queue in the same transaction.
	Save(ctx context.Context, stream string, n *notification.Notification, d *Delivery) error
}

// Email is a rendered e-mail.
type Email struct {
	To, Subject, Text, HTML string
	// MessageID is stable per notification, so a retry is recognisably the same message.
	MessageID string
	// OrderNumber and Type say what the message is about (the .eml files of development are named
	// after them).
	OrderNumber string
	Type        notification.Type
}

// SMS is a rendered text message, with the data it was rendered from for providers that fill in
// their own registered templates.
type SMS struct {
	To   order.Phone
	Type notification.Type
	Text string
	Data notification.MessageData
	// Reference names the notification and attempt (SMSReference), for providers that carry a
	// client reference into their reports.
	Reference string
}

// SendResult is what a provider answered to a message it accepted.
type SendResult struct {
	Provider          string
	ProviderMessageID string
	Response          string
	// Refused names the providers that refused the message before Provider took it (a fallback's).
	Refused []string
}

// SendError is a provider's refusal, or a failure to reach it.
type SendError struct {
	Provider string
	Response string // the provider's raw answer, kept in the notification log
	// Permanent failures are not retried: the message can never go (bad address, account problem).
	Permanent bool
	// Ambiguous failures may have sent the message (a timeout after the request went out); the retry
	// goes to the same provider, never to another one.
	Ambiguous bool
	// Refused names the providers that refused the message in this attempt.
	Refused []string
	Err     error
}

func (e *SendError) Error() string { return WithProvider(e.Provider, e.Err.Error()) }

// WithProvider is msg prefixed with "provider: ", unless it already is: the adapters' errors name
// their provider, and "msg91: msg91: …" reached the console.
func WithProvider(provider, msg string) string {
	if provider == "" || strings.HasPrefix(msg, provider+":") {
		return msg
	}
	return provider + ": " + msg
}
func (e *SendError) Unwrap() error { return e.Err }

// Mailer sends e-mail.
type Mailer interface {
	Name() string
	Send(ctx context.Context, m Email) (SendResult, error)
}

// SMSSender sends text messages, falling back from one provider to another where it can.
type SMSSender interface {
	Name() string
	// Send sends m; with only set, through that provider alone (the retry of an ambiguous attempt
	// must not move to another provider, or the customer could get two messages).
	Send(ctx context.Context, m SMS, only string) (SendResult, error)
}

// Renderer turns message data into the text of a message.
type Renderer interface {
	RenderEmail(t notification.Type, d notification.MessageData) (subject, text, html string, err error)
	SMS(t notification.Type, d notification.MessageData) (string, error)
}

// RetryPolicy is the delivery budget: MaxAttempts tries per notification (since its last resend),
// waiting Backoff after the first failure and twice as long after each further one.
type RetryPolicy struct {
	MaxAttempts int
	Backoff     time.Duration
}

// DefaultRetryPolicy tries three times over five minutes: at once, after 100 s, after 200 s more.
func DefaultRetryPolicy() RetryPolicy { return RetryPolicy{MaxAttempts: 3, Backoff: 100 * time.Second} }

// Delay is the wait before the attempt after round failed ones.
func (p RetryPolicy) Delay(round int) time.Duration {
	d := p.Backoff
	for i := 1; i < round && d < 24*time.Hour; i++ {
		d *= 2
	}
	return d
}

// RetryLaterError asks for the delivery to be tried again after a while.
type RetryLaterError struct {
	After time.Duration
	Err   error
}

func (e *RetryLaterError) Error() string { return fmt.Sprintf("retry in %s: %v", e.After, e.Err) }
func (e *RetryLaterError) Unwrap() error { return e.Err }

// ErrNotificationFailed is returned when a notification failed for good: its message belongs in the
// poison queue, and an admin may resend it.
var ErrNotificationFailed = errors.New("notification failed for good")
