package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/notification"
)

// NotificationDetail asks for one notification: what it was, every attempt to send it, and the
// message it carried.
type NotificationDetail struct {
	ID string // the notification's stream, notification-<order event id>-<channel>
}

// AttemptView is one call to a provider and what it answered.
type AttemptView struct {
	Attempt  int    `json:"attempt"`
	Provider string `json:"provider"`
	// Outcome is sent, failed, ambiguous (the provider may have taken it) or unknown (the worker
	// stopped before it heard).
	Outcome string `json:"outcome"`
	// Simulated is set when a stand-in provider took it: nothing reached the customer.
	Simulated  bool      `json:"simulated"`
	Response   string    `json:"response,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	At         time.Time `json:"at"`
	// Report is the provider's last delivery report about this attempt's SMS, when one came.
	Report *AttemptReport `json:"report,omitempty"`
}

// AttemptReport is what a provider reported about an SMS it took: delivered or undelivered, why.
type AttemptReport struct {
	Delivery    string    `json:"delivery"` // delivered or undelivered
	Rejected    bool      `json:"rejected,omitempty"`
	Status      string    `json:"status"` // the provider's own code
	Description string    `json:"description,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	ReportedAt  time.Time `json:"reported_at"`
}

// RenderedMessage is the message rendered again from the request the notification stored, with the
// templates of this build. Its links are made with the token left out: a token opens the order and
// is made only for the message sent.
type RenderedMessage struct {
	// An e-mail's subject, plain text and HTML parts.
	Subject, Text, HTML string
	// An SMS's text, its encoding, length and parts.
	SMS       string
	Encoding  string
	Length    int
	Parts     int
	RenderErr string // why it could not be rendered, if it could not
}

// NotificationDetailView is a notification as its console page shows it.
type NotificationDetailView struct {
	ID          string    `json:"id"`
	OrderID     uuid.UUID `json:"order_id"`
	OrderNumber string    `json:"order_number"`
	Channel     string    `json:"channel"`
	Type        string    `json:"notification_type"`
	EventType   string    `json:"event_type"`
	Recipient   string    `json:"recipient"`
	Status      string    `json:"status"`
	// Simulated is set when a stand-in provider "sent" it: it reached no one.
	Simulated         bool   `json:"simulated"`
	Provider          string `json:"provider,omitempty"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	MessageID         string `json:"message_id,omitempty"`
	LastError         string `json:"last_error,omitempty"`
	// Delivery is what the provider reported of the attempt that sent it (delivered or
	// undelivered, with the reason), when it reported.
	Delivery       string `json:"delivery,omitempty"`
	DeliveryReason string `json:"delivery_reason,omitempty"`
	// Resendable is set when an admin may send it again: it failed, or its SMS did not arrive.
	Resendable  bool          `json:"resendable"`
	RequestedAt time.Time     `json:"requested_at"`
	SentAt      *time.Time    `json:"sent_at,omitempty"`
	Attempts    []AttemptView `json:"attempts"`
	// Events are the notification's own events, each with who caused it (a resend names the admin).
	Events  []AuditEvent    `json:"events"`
	Message RenderedMessage `json:"-"`
}

// MessageRenderer renders a notification's message from its data, as the delivery worker does.
type MessageRenderer interface {
	RenderEmail(t notification.Type, d notification.MessageData) (subject, text, html string, err error)
	SMS(t notification.Type, d notification.MessageData) (string, error)
	// SMSParts says how an SMS text is encoded and how many parts it takes.
	SMSParts(text string) (encoding string, parts int)
}

// ShownLinks makes the links of a message about an order with the token left out, for showing.
type ShownLinks interface {
	ShownLinks(orderID uuid.UUID, number string) notification.Links
}

// NotificationDetailHandler answers NotificationDetail.
type NotificationDetailHandler struct {
	auditor  EventAuditor
	renderer MessageRenderer
	links    ShownLinks
}

// NewNotificationDetailHandler wires the handler.
func NewNotificationDetailHandler(auditor EventAuditor, renderer MessageRenderer, links ShownLinks) NotificationDetailHandler {
	return NotificationDetailHandler{auditor: auditor, renderer: renderer, links: links}
}

// Handle reads the notification's events (not the log, which may lag an attempt made a moment ago)
// and renders its message again from the stored request.
func (h NotificationDetailHandler) Handle(ctx context.Context, q NotificationDetail) (NotificationDetailView, error) {
	if !strings.HasPrefix(q.ID, "notification-") || len(q.ID) > 100 {
		return NotificationDetailView{}, fmt.Errorf("%w: %s", notification.ErrNotFound, q.ID)
	}
	events, err := h.auditor.StreamEvents(ctx, q.ID)
	if err != nil {
		return NotificationDetailView{}, fmt.Errorf("notification %s: %w", q.ID, err)
	}
	if len(events) == 0 {
		return NotificationDetailView{}, fmt.Errorf("%w: %s", notification.ErrNotFound, q.ID)
	}
	history := make([]notification.Event, 0, len(events))
	v := NotificationDetailView{ID: q.ID, Events: events, Attempts: []AttemptView{}}
	for _, e := range events {
		ev, err := notification.DecodeEvent(e.Type, e.Data)
		if err != nil {
			return NotificationDetailView{}, fmt.Errorf("notification %s v%d: %w", q.ID, e.StreamVersion, err)
		}
		history = append(history, ev)
		switch ev := ev.(type) {
		case notification.Requested:
			v.RequestedAt = e.OccurredAt
		case notification.DeliveryAttempted:
			v.Attempts = append(v.Attempts, AttemptView{Attempt: ev.Attempt, Provider: ev.Provider, Outcome: ev.Outcome,
				Simulated: ev.Outcome == notification.OutcomeSent && notification.Simulated(ev.Provider),
				Response:  ev.Response, Error: ev.Error, DurationMS: ev.DurationMS, At: e.OccurredAt})
		case notification.Sent:
			at := e.OccurredAt
			v.SentAt = &at
		case notification.Delivered:
			v.report(ev.Report, notification.DeliveryDelivered, false)
		case notification.Undelivered:
			v.report(ev.Report, notification.DeliveryUndelivered, ev.Rejected)
		}
	}
	n, err := notification.FromHistory(history)
	if err != nil {
		return NotificationDetailView{}, err
	}
	req := n.Request()
	v.OrderID, v.OrderNumber, v.Channel, v.Type, v.EventType = req.OrderID, req.OrderNumber, string(req.Channel), string(req.Type), req.OrderEventType
	v.Recipient, v.Status, v.Provider = req.Recipient, string(n.Status()), n.Provider()
	v.Simulated = n.Status() == notification.StatusSent && notification.Simulated(n.SentAs().Provider)
	v.ProviderMessageID, v.MessageID = n.SentAs().ProviderMessageID, n.SentAs().MessageID
	if n.Status() != notification.StatusSent {
		v.LastError = n.LastError()
	}
	v.Delivery, v.DeliveryReason = n.DeliveryStatus()
	v.Resendable = n.Status() == notification.StatusFailed || n.Status() == notification.StatusSent && v.Delivery == notification.DeliveryUndelivered
	v.Message = h.render(req)
	return v, nil
}

// report puts a delivery report on the attempt it names.
func (v *NotificationDetailView) report(r notification.Report, delivery string, rejected bool) {
	for i := range v.Attempts {
		if v.Attempts[i].Attempt == r.Attempt {
			v.Attempts[i].Report = &AttemptReport{Delivery: delivery, Rejected: rejected, Status: r.Status,
				Description: r.Description, Reason: r.Reason, ReportedAt: r.ReportedAt}
		}
	}
}

// render renders the request's message again, links without their tokens.
func (h NotificationDetailHandler) render(req notification.Requested) RenderedMessage {
	data := req.Data.WithLinks(h.links.ShownLinks(req.OrderID, req.OrderNumber))
	var m RenderedMessage
	var err error
	switch req.Channel {
	case notification.Email:
		m.Subject, m.Text, m.HTML, err = h.renderer.RenderEmail(req.Type, data)
	case notification.SMS:
		if m.SMS, err = h.renderer.SMS(req.Type, data); err == nil {
			m.Encoding, m.Parts = h.renderer.SMSParts(m.SMS)
			m.Length = len([]rune(m.SMS))
		}
	default:
		err = fmt.Errorf("unknown channel %q", req.Channel)
	}
	if err != nil {
		m.RenderErr = err.Error()
	}
	return m
}
