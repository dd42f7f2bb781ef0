package notification

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Delivery reports: a provider that accepted an SMS later says whether it reached the phone. They
// are folded into the notification's stream, against the attempt they name.

// Stored event types of delivery reports.
const (
	TypeDelivered   = "notification.delivered.v1"
	TypeUndelivered = "notification.undelivered.v1"
	TypeRerouted    = "notification.rerouted.v1"
)

// Delivery statuses, as the log shows them beside sent.
const (
	DeliveryDelivered   = "delivered"
	DeliveryUndelivered = "undelivered"
)

// Report is what a provider reported about one attempt.
type Report struct {
	Attempt  int    `json:"attempt"`
	Provider string `json:"provider"`
	// RequestID is the provider's id of the SMS, as it answered the send.
	RequestID string `json:"request_id,omitempty"`
	// Status and Description are the provider's own ("1", "DELIVRD"; "16", "Rejected").
	Status      string `json:"status"`
	Description string `json:"description,omitempty"`
	// Reason says why it did not arrive, in the provider's words when it gave some.
	Reason     string    `json:"reason,omitempty"`
	ReportedAt time.Time `json:"reported_at"`
}

// Delivered records that the SMS of an attempt reached the phone.
type Delivered struct {
	Report
}

// Undelivered records that the SMS of an attempt did not reach the phone. Rejected marks an SMS the
// operator refused because its text does not match the template registered for it: a setting to
// fix, not a phone to wait for.
type Undelivered struct {
	Report
	Rejected bool `json:"rejected,omitempty"`
}

// Rerouted records that a notification rejected by one provider's template goes once through the
// other provider.
type Rerouted struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (Delivered) EventType() string   { return TypeDelivered }
func (Undelivered) EventType() string { return TypeUndelivered }
func (Rerouted) EventType() string    { return TypeRerouted }

// ErrUnknownAttempt is returned for a report about an attempt the notification never made.
var ErrUnknownAttempt = errors.New("the report names an attempt the notification never made")

// delivery is what the notification knows of the reports.
type delivery struct {
	// reported holds the reports recorded, by attempt and status, so that a repeat folds once.
	reported map[reportKey]bool
	// status and reason are those of the last report about the attempt that sent the notification.
	status, reason string
	at             time.Time
	// rerouted is the provider a rejected notification was sent through again; only once.
	rerouted string
}

type reportKey struct {
	attempt int
	status  string
}

// ReportDelivery folds a provider's report into the notification: Delivered or Undelivered against
// the attempt it names, once however often the provider sends it. A rejection (the text does not
// match its registered template) is not sent again through the same provider: with fallback set, the
// notification goes once through that provider instead, and ReportDelivery says so (reroute): the
// caller queues it. When that provider refused this notification already (since its last resend),
// none is left, and the notification fails for good instead. A failure (the phone was off, out of
// coverage) is only recorded: the customer may still receive it, and an admin can resend.
func (n *Notification) ReportDelivery(r Report, delivered, rejected bool, fallback string) (reroute bool, err error) {
	if r.Attempt < 1 || r.Attempt > n.attempts {
		return false, ErrUnknownAttempt
	}
	key := reportKey{r.Attempt, r.Status}
	if n.delivery.reported[key] {
		return false, nil
	}
	if delivered {
		n.record(Delivered{Report: r})
		return false, nil
	}
	n.record(Undelivered{Report: r, Rejected: rejected})
	if !rejected || fallback == "" || fallback == r.Provider || n.delivery.rerouted != "" || n.status != StatusSent ||
		r.Attempt != n.sent.Attempts {
		return false, nil
	}
	if slices.Contains(n.refused, fallback) {
		// The other provider refused this very SMS already (it is why this one sent it): sending it
		// there again would only be refused again, so no provider is left.
		n.record(Failed{LastError: allRefused(r, fallback), Attempts: n.attempts})
		return false, nil
	}
	n.record(Rerouted{From: r.Provider, To: fallback})
	return true, nil
}

// ReasonAllRefused begins the error of a notification failed because every SMS provider refused it.
const ReasonAllRefused = "every SMS provider refused it"

// allRefused says why a rejected SMS was not rerouted.
func allRefused(r Report, refusedBy string) string {
	why := r.Reason
	if why == "" {
		why = r.Description
	}
	if why == "" {
		why = "status " + r.Status
	}
	return fmt.Sprintf("%s: %s reported its text rejected (%s), and %s had refused it already, so it was not rerouted",
		ReasonAllRefused, r.Provider, why, refusedBy)
}

// DeliveryStatus is what the last report about the attempt that sent the notification said:
// DeliveryDelivered, DeliveryUndelivered (with the reason), or "" when none came.
func (n *Notification) DeliveryStatus() (status, reason string) {
	return n.delivery.status, n.delivery.reason
}

// ReroutedTo is the provider a rejected notification is to go through instead, or "".
func (n *Notification) ReroutedTo() string { return n.delivery.rerouted }

func (n *Notification) applyReport(e Event) {
	if n.delivery.reported == nil {
		n.delivery.reported = map[reportKey]bool{}
	}
	switch e := e.(type) {
	case Delivered:
		n.delivery.reported[reportKey{e.Attempt, e.Status}] = true
		if e.Attempt == n.sent.Attempts {
			n.delivery.status, n.delivery.reason, n.delivery.at = DeliveryDelivered, "", e.ReportedAt
		}
	case Undelivered:
		n.delivery.reported[reportKey{e.Attempt, e.Status}] = true
		if e.Attempt == n.sent.Attempts {
			reason := e.Reason
			if reason == "" {
				reason = e.Description
			}
			n.delivery.status, n.delivery.reason, n.delivery.at = DeliveryUndelivered, reason, e.ReportedAt
		}
	case Rerouted:
		n.delivery.rerouted, n.status = e.To, StatusPending
	}
}
