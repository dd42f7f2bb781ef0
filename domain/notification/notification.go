package notification

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Status is where a notification stands.
type Status string

// The statuses.
const (
	StatusPending Status = "pending" // requested, or waiting for its next attempt
	StatusSent    Status = "sent"
	StatusFailed  Status = "failed"
)

// Stored event types.
const (
	TypeRequested         = "notification.requested.v1"
	TypeDeliveryStarted   = "notification.delivery_started.v1"
	TypeDeliveryAttempted = "notification.delivery_attempted.v1"
	TypeSent              = "notification.sent.v1"
	TypeFailed            = "notification.failed.v1"
	TypeResent            = "notification.resent.v1"
)

// Attempt outcomes.
const (
	OutcomeSent      = "sent"
	OutcomeFailed    = "failed"
	OutcomeAmbiguous = "ambiguous" // the provider may have sent it: retry the same provider, never another
	// OutcomeUnknown is an attempt whose worker stopped before it heard from the provider: like an
	// ambiguous one, it may have been sent.
	OutcomeUnknown = "unknown"
)

// The providers that stand in for real ones where none is configured, in development: the "log"
// SMS sender writes the text to the service's log and the "file" mail sender writes an .eml file.
// A message they handled is "sent" as far as the notifier is concerned, but it reached no one, so
// everything that shows a notification to a person says "simulated (not sent)" instead.
const (
	ProviderLog  = "log"
	ProviderFile = "file"
)

// Simulated reports whether provider only stands in for a real one: what it sent reached no one.
func Simulated(provider string) bool { return provider == ProviderLog || provider == ProviderFile }

// ErrWorkerStopped is the error recorded for an attempt whose outcome is unknown: its worker stopped
// before it recorded the answer, or could not record it (the database went away mid-send).
const ErrWorkerStopped = "outcome unknown: the worker stopped, or could not record the answer"

// Event is a fact on a notification's stream.
type Event interface{ EventType() string }

// Requested opens a notification: one per order event and channel.
type Requested struct {
	OrderID        uuid.UUID   `json:"order_id"`
	OrderNumber    string      `json:"order_number"`
	OrderEventID   uuid.UUID   `json:"order_event_id"`
	OrderEventType string      `json:"order_event_type"`
	Type           Type        `json:"notification_type"`
	Channel        Channel     `json:"channel"`
	Recipient      string      `json:"recipient"`
	Data           MessageData `json:"data"`
}

// DeliveryAttempted records what a provider answered. Attempt numbers count every time a provider
// was called, also those that never reported (their process stopped mid-send): a gap in the numbers
// is such an attempt.
type DeliveryAttempted struct {
	Attempt  int    `json:"attempt"`
	Provider string `json:"provider"`
	// ProviderMessageID is the provider's id of the message it took (an SMS's request id): its
	// delivery reports name it.
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	Outcome           string `json:"outcome"`
	Response          string `json:"response,omitempty"`
	Error             string `json:"error,omitempty"`
	DurationMS        int64  `json:"duration_ms"`
	// RefusedBy names the providers that refused the message in this attempt (an SMS MSG91 refused
	// before Fast2SMS took it: "msg91"), so that a later reroute does not send it back to them.
	// Added later: events recorded before it have none, and read as no refusal known.
	RefusedBy []string `json:"refused_by,omitempty"`
}

// Sent records the message accepted by a provider.
type Sent struct {
	Provider          string `json:"provider"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	MessageID         string `json:"message_id,omitempty"`
	Attempts          int    `json:"attempts"`
}

// Failed records that the retry budget ran out, or that the failure cannot be retried.
type Failed struct {
	LastError string `json:"last_error"`
	Attempts  int    `json:"attempts"`
}

// Resent records an admin asking a failed notification to be sent again.
type Resent struct {
	By string `json:"by"`
}

func (Requested) EventType() string         { return TypeRequested }
func (DeliveryAttempted) EventType() string { return TypeDeliveryAttempted }
func (Sent) EventType() string              { return TypeSent }
func (Failed) EventType() string            { return TypeFailed }
func (Resent) EventType() string            { return TypeResent }

// Errors of the rules.
var (
	ErrAlreadySent   = errors.New("the notification was already sent")
	ErrAlreadyFailed = errors.New("the notification has failed; an admin can resend it")
	ErrNotFailed     = errors.New("only a failed notification, or one reported undelivered, can be resent")
	ErrNoAttempt     = errors.New("no delivery attempt is in progress")
)

// StreamID is the stream of the notification of an order event on a channel. Because the name
// follows from the event, a redelivered order event finds the stream there and requests nothing twice.
func StreamID(orderEventID uuid.UUID, ch Channel) string {
	return fmt.Sprintf("notification-%s-%s", orderEventID, ch)
}

// Notification is the aggregate.
type Notification struct {
	req       Requested
	status    Status
	attempts  int // the highest attempt number recorded
	roundBase int // attempts before the last resend
	current   int // the attempt in progress, not stored
	provider  string
	sent      Sent
	lastErr   string
	// lastOutcome and lastProvider are those of the last attempt that reported.
	lastOutcome, lastProvider string
	// refused holds the providers that refused it since it was requested or last resent.
	refused  []string
	delivery delivery

	version int
	changes []Event
}

// Request opens a notification.
func Request(r Requested) (*Notification, error) {
	switch {
	case r.OrderEventID == uuid.Nil:
		return nil, errors.New("request notification: no order event")
	case r.Recipient == "":
		return nil, fmt.Errorf("request %s notification: no recipient", r.Channel)
	}
	if _, err := ParseChannel(string(r.Channel)); err != nil {
		return nil, err
	}
	if _, err := ParseType(string(r.Type)); err != nil {
		return nil, err
	}
	n := &Notification{}
	n.record(r)
	return n, nil
}

// FromHistory rebuilds a notification from its events. It checks no rules: they were checked when
// the events were recorded.
func FromHistory(events []Event) (*Notification, error) {
	if len(events) == 0 {
		return nil, errors.New("rebuild notification: no events")
	}
	if _, ok := events[0].(Requested); !ok {
		return nil, fmt.Errorf("rebuild notification: stream starts with %s", events[0].EventType())
	}
	n := &Notification{}
	for _, e := range events {
		n.apply(e)
	}
	return n, nil
}

// Attempt begins an attempt through provider and returns its number. delivery is how many times the
// delivery queue has handed this notification out since it was requested or resent, this time
// included: the queue's lease, taken and committed before the handler runs, is what marks a
// notification as being sent. An earlier delivery that never reported (its worker stopped mid-send)
// is recorded first as an attempt whose outcome is unknown, so that the history says so and the
// retry stays with the same provider.
func (n *Notification) Attempt(delivery int, provider string) (int, error) {
	switch n.status {
	case StatusSent:
		return 0, ErrAlreadySent
	case StatusFailed:
		return 0, ErrAlreadyFailed
	}
	n.current = max(n.roundBase+delivery, n.attempts+1)
	for lost := n.attempts + 1; lost < n.current; lost++ {
		n.record(DeliveryAttempted{Attempt: lost, Provider: provider, Outcome: OutcomeUnknown, Error: ErrWorkerStopped})
	}
	return n.current, nil
}

// Succeed records the provider's acceptance of the attempt in progress: the notification is sent, once.
func (n *Notification) Succeed(a DeliveryAttempted, providerMessageID, messageID string) error {
	if n.current == 0 {
		return ErrNoAttempt
	}
	a.Attempt, a.Outcome = n.current, OutcomeSent
	n.record(a)
	n.record(Sent{Provider: a.Provider, ProviderMessageID: providerMessageID, MessageID: messageID, Attempts: a.Attempt})
	n.current = 0
	return nil
}

// Fail records a failed attempt. The notification fails for good when the failure is permanent or
// the attempts since the last resend reach maxAttempts; otherwise it waits for its next attempt.
// It reports whether the notification failed for good.
func (n *Notification) Fail(a DeliveryAttempted, permanent bool, maxAttempts int) (bool, error) {
	if n.current == 0 {
		return false, ErrNoAttempt
	}
	a.Attempt = n.current
	if a.Outcome == "" {
		a.Outcome = OutcomeFailed
	}
	n.record(a)
	n.current = 0
	if permanent || n.Round() >= maxAttempts {
		n.record(Failed{LastError: a.Error, Attempts: n.attempts})
		return true, nil
	}
	return false, nil
}

// Resend lets an admin retry a failed notification, or one its provider reported undelivered, with
// a fresh budget.
func (n *Notification) Resend(by string) error {
	if n.status != StatusFailed && (n.status != StatusSent || n.delivery.status != DeliveryUndelivered) {
		return ErrNotFailed
	}
	n.record(Resent{By: by})
	return nil
}

func (n *Notification) record(e Event) {
	n.apply(e)
	n.changes = append(n.changes, e)
}

func (n *Notification) apply(e Event) {
	n.version++
	switch e := e.(type) {
	case Requested:
		n.req, n.status = e, StatusPending
	case DeliveryAttempted:
		n.attempts = max(n.attempts, e.Attempt)
		n.provider, n.lastOutcome, n.lastProvider = e.Provider, e.Outcome, e.Provider
		for _, p := range e.RefusedBy {
			if !slices.Contains(n.refused, p) {
				n.refused = append(n.refused, p)
			}
		}
		if e.Outcome != OutcomeSent {
			n.lastErr, n.status = e.Error, StatusPending
		}
	case Sent:
		n.sent, n.status = e, StatusSent
		n.delivery.status, n.delivery.reason = "", "" // a new attempt sent it: no report of it yet
	case Failed:
		n.lastErr, n.status = e.LastError, StatusFailed
	case Resent:
		// A resend usually follows a fix (a template, an account), so earlier refusals no longer
		// rule a provider out.
		n.roundBase, n.status, n.refused = n.attempts, StatusPending, nil
	case Rerouted:
		n.roundBase = n.attempts // the other provider gets a budget of its own
		n.applyReport(e)
	case Delivered, Undelivered:
		n.applyReport(e)
	}
}

// Request returns what was asked.
func (n *Notification) Request() Requested { return n.req }

// Status returns where the notification stands.
func (n *Notification) Status() Status { return n.status }

// Attempts is the number of the last attempt recorded: attempts in all, those whose outcome is
// unknown included.
func (n *Notification) Attempts() int { return n.attempts }

// Round counts the attempts since the last resend.
func (n *Notification) Round() int { return n.attempts - n.roundBase }

// Provider is the provider of the last attempt.
func (n *Notification) Provider() string { return n.provider }

// SentAs returns what the provider said when it accepted the message.
func (n *Notification) SentAs() Sent { return n.sent }

// LastOutcome is the outcome of the last attempt recorded: sent, failed, ambiguous or unknown.
func (n *Notification) LastOutcome() string { return n.lastOutcome }

// LastProvider is the provider of the last attempt that reported.
func (n *Notification) LastProvider() string { return n.lastProvider }

// RefusedBy lists the providers that refused the message since it was requested or last resent.
func (n *Notification) RefusedBy() []string { return slices.Clone(n.refused) }

// LastError is the error of the last failed attempt.
func (n *Notification) LastError() string { return n.lastErr }

// Version is the number of events, recorded ones included.
func (n *Notification) Version() int { return n.version }

// StoredVersion is the version before the recorded changes.
func (n *Notification) StoredVersion() int { return n.version - len(n.changes) }

// Changes returns the events recorded since loading.
func (n *Notification) Changes() []Event { return append([]Event(nil), n.changes...) }

// ClearChanges forgets recorded events once stored.
func (n *Notification) ClearChanges() { n.changes = nil }

// DecodeEvent turns a stored payload back into its event.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	switch eventType {
	case TypeRequested:
		return decode[Requested](eventType, data)
	case TypeDeliveryAttempted:
		return decode[DeliveryAttempted](eventType, data)
	case TypeSent:
		return decode[Sent](eventType, data)
	case TypeFailed:
		return decode[Failed](eventType, data)
	case TypeResent:
		return decode[Resent](eventType, data)
	case TypeDelivered:
		return decode[Delivered](eventType, data)
	case TypeUndelivered:
		return decode[Undelivered](eventType, data)
	case TypeRerouted:
		return decode[Rerouted](eventType, data)
	}
	return nil, fmt.Errorf("decode notification event: unknown type %q", eventType)
}

func decode[T Event](eventType string, data []byte) (Event, error) {
	var e T
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return e, nil
}

// ErrNotFound is returned for an unknown notification.
var ErrNotFound = errors.New("notification not found")
