package query

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// ListNotifications asks for a page of the notification log, newest first.
type ListNotifications struct {
	Channel   string
	Status    string
	Type      string
	EventType string
	// Delivery is what the provider reported: delivered, undelivered, or none (no report yet).
	Delivery string
	Search   string // a recipient (e-mail or phone) or an order number
	After    string
	Limit    int
}

// NotificationFilter is ListNotifications after its search term was understood.
type NotificationFilter struct {
	Channel, Status, Type, EventType string
	// Delivery is delivered, undelivered or none.
	Delivery               string
	OrderNumber, Recipient string
	OrderID                uuid.UUID
	After                  string
	Limit                  int
}

// NotificationEntry is one row of the notification log: the fields of the system it replaced, and
// every provider answer.
type NotificationEntry struct {
	ID          string    `json:"id"`
	OrderID     uuid.UUID `json:"order_id"`
	OrderNumber string    `json:"order_number"`
	Channel     string    `json:"channel"`
	Type        string    `json:"notification_type"`
	EventType   string    `json:"event_type"`
	Recipient   string    `json:"recipient"`
	Status      string    `json:"status"`
	// Simulated is set on a notification a stand-in provider handled (the log SMS sender, the .eml
	// file sender): its status says sent, but it reached no one.
	Simulated         bool            `json:"simulated"`
	Provider          string          `json:"provider,omitempty"`
	Attempts          int             `json:"attempts"`
	ResponseLog       json.RawMessage `json:"response_log"`
	ErrorMessage      string          `json:"error_message,omitempty"`
	MessageID         string          `json:"message_id,omitempty"`
	ProviderMessageID string          `json:"provider_message_id,omitempty"`
	SentAt            *time.Time      `json:"sent_at,omitempty"`
	// Delivery is what the provider reported of the attempt that sent it (delivered or
	// undelivered, with the reason), when it reported.
	Delivery           string     `json:"delivery,omitempty"`
	DeliveryReason     string     `json:"delivery_reason,omitempty"`
	DeliveryReportedAt *time.Time `json:"delivery_reported_at,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// DeliveryNone filters the notifications no delivery report has come for.
const DeliveryNone = "none"

// NotificationPage is a page of the log; Next is the cursor of the following page.
type NotificationPage struct {
	Notifications []NotificationEntry `json:"notifications"`
	Next          string              `json:"next,omitempty"`
}

// NotificationLogReader reads the notification log projection.
type NotificationLogReader interface {
	List(ctx context.Context, f NotificationFilter) (NotificationPage, error)
	Get(ctx context.Context, id string) (NotificationEntry, error)
}

// ListNotificationsHandler answers ListNotifications.
type ListNotificationsHandler struct {
	read NotificationLogReader
}

// NewListNotificationsHandler wires the handler.
func NewListNotificationsHandler(read NotificationLogReader) ListNotificationsHandler {
	return ListNotificationsHandler{read: read}
}

// Handle checks the filter and returns one page.
func (h ListNotificationsHandler) Handle(ctx context.Context, q ListNotifications) (NotificationPage, error) {
	f := NotificationFilter{EventType: q.EventType, After: q.After, Limit: q.Limit}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > 200 {
		return NotificationPage{}, invalidField("limit", "must be between 1 and 200")
	}
	if q.Channel != "" {
		ch, err := notification.ParseChannel(q.Channel)
		if err != nil {
			return NotificationPage{}, &order.FieldError{Field: "channel", Err: err}
		}
		f.Channel = string(ch)
	}
	if q.EventType != "" && !slices.ContainsFunc(order.EventTypes(), func(t order.EventType) bool { return t.Name == q.EventType }) {
		// A name no event has would list nothing, as if no message had been sent.
		return NotificationPage{}, invalidField("event_type", fmt.Sprintf("unknown order event type %q; want one such as %s", q.EventType, order.TypeOrderShipped))
	}
	if q.Type != "" {
		t, err := notification.ParseType(q.Type)
		if err != nil {
			return NotificationPage{}, &order.FieldError{Field: "type", Err: err}
		}
		f.Type = string(t)
	}
	switch q.Delivery {
	case "", notification.DeliveryDelivered, notification.DeliveryUndelivered, DeliveryNone:
		f.Delivery = q.Delivery
	default:
		return NotificationPage{}, invalidField("delivery", "want delivered, undelivered or none")
	}
	switch notification.Status(q.Status) {
	case "", notification.StatusPending, notification.StatusSent, notification.StatusFailed:
		f.Status = q.Status
	default:
		return NotificationPage{}, invalidField("status", "want pending, sent or failed")
	}
	number, email, phone, err := parseSearch(q.Search)
	if err != nil {
		return NotificationPage{}, err
	}
	f.OrderNumber, f.Recipient = number, email+phone // a recipient is an e-mail address or a phone number
	return h.read.List(ctx, f)
}
