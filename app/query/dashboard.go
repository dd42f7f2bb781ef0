package query

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/notification"
)

// Dashboard asks what needs attention: the orders of one day (the shop's today), and everything
// waiting on someone.
type Dashboard struct {
	DayStart, DayEnd time.Time
}

// StatusCount is how many orders are in a status.
type StatusCount struct {
	Status string `json:"status"`
	Count  int    `json:"count"`
}

// OwedRefund is an order that owes a refund nobody has asked the gateway for, or the gateway refused.
type OwedRefund struct {
	OrderID     uuid.UUID `json:"order_id"`
	OrderNumber string    `json:"order_number"`
	Status      string    `json:"status"`
	Since       time.Time `json:"since"`
}

// ConsumerLag is how far one outbox consumer group is behind.
type ConsumerLag struct {
	Group  string        `json:"group"`
	Behind int           `json:"behind"`
	Oldest time.Duration `json:"oldest"`
}

// ProjectionLag is how far one read model is behind the event store.
type ProjectionLag struct {
	Projection string    `json:"projection"`
	Events     int64     `json:"events"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// QueueState is the notification delivery queue.
type QueueState struct {
	Queued int        `json:"queued"`
	Due    int        `json:"due"` // ready for a worker now
	Oldest *time.Time `json:"oldest,omitempty"`
}

// PoisonCount is how many messages a poison topic holds: messages that failed for good.
type PoisonCount struct {
	Topic  string     `json:"topic"`
	Count  int        `json:"count"`
	Newest *time.Time `json:"newest,omitempty"`
}

// Operations is what the database says needs attention.
type Operations struct {
	Today []StatusCount `json:"today"`
	// WaitingToShip counts confirmed orders; OldestWaiting is when the longest-waiting one was confirmed.
	WaitingToShip int        `json:"waiting_to_ship"`
	OldestWaiting *time.Time `json:"oldest_waiting,omitempty"`
	// FailedNotifications counts the notifications that failed for good and were not resent;
	// Undelivered the SMS of the last 7 days their provider reported did not reach the phone.
	FailedNotifications int `json:"failed_notifications"`
	Undelivered         int `json:"undelivered"`
	// RefundsOwed are refunds not asked for or refused; RefundsPending counts orders whose refund the
	// gateway has not reported done.
	RefundsOwed    []OwedRefund    `json:"refunds_owed"`
	RefundsPending int             `json:"refunds_pending"`
	Outbox         []ConsumerLag   `json:"outbox"`
	Projections    []ProjectionLag `json:"projections"`
	Queue          QueueState      `json:"queue"`
	Poison         []PoisonCount   `json:"poison"`
	// Delivery is what the SMS providers reported of the last 7 days' SMS, by provider and type;
	// RejectedTemplates the types whose SMS an operator rejected as not matching their template.
	Delivery          []DeliveryRate     `json:"delivery"`
	RejectedTemplates []RejectedTemplate `json:"rejected_templates"`
}

// DeliveryRate is how many of a provider's SMS of one type reached the phone, did not, or are not
// reported yet.
type DeliveryRate struct {
	Provider    string `json:"provider"`
	Type        string `json:"notification_type"`
	Delivered   int    `json:"delivered"`
	Undelivered int    `json:"undelivered"`
	Unreported  int    `json:"unreported"`
}

// Rate is the share of the reported SMS that were delivered, in per cent; -1 when none was reported.
func (d DeliveryRate) Rate() float64 {
	if d.Delivered+d.Undelivered == 0 {
		return -1
	}
	return 100 * float64(d.Delivered) / float64(d.Delivered+d.Undelivered)
}

// RejectedTemplate is how often a provider's operators rejected a type's SMS as not matching its
// registered template: a setting to fix.
type RejectedTemplate struct {
	Type     string    `json:"notification_type"`
	Provider string    `json:"provider"`
	Count    int       `json:"count"`
	Last     time.Time `json:"last"`
}

// DashboardView is Operations and the latest failed notifications.
type DashboardView struct {
	Operations
	RecentFailed []NotificationEntry `json:"recent_failed"`
}

// OperationsReader reads what needs attention.
type OperationsReader interface {
	Operations(ctx context.Context, dayStart, dayEnd time.Time) (Operations, error)
}

// DashboardHandler answers Dashboard.
type DashboardHandler struct {
	ops OperationsReader
	log NotificationLogReader
}

// NewDashboardHandler wires the handler.
func NewDashboardHandler(ops OperationsReader, log NotificationLogReader) DashboardHandler {
	return DashboardHandler{ops: ops, log: log}
}

// Handle returns the day's figures and what waits on someone.
func (h DashboardHandler) Handle(ctx context.Context, q Dashboard) (DashboardView, error) {
	ops, err := h.ops.Operations(ctx, q.DayStart, q.DayEnd)
	if err != nil {
		return DashboardView{}, fmt.Errorf("dashboard: %w", err)
	}
	failed, err := h.log.List(ctx, NotificationFilter{Status: string(notification.StatusFailed), Limit: 10})
	if err != nil {
		return DashboardView{}, fmt.Errorf("dashboard: %w", err)
	}
	return DashboardView{Operations: ops, RecentFailed: failed.Notifications}, nil
}

// StreamLabel says what a stream is about: its order, and for a notification's stream, which message.
type StreamLabel struct {
	OrderID     uuid.UUID
	OrderNumber string
	// Channel and Type are set for a notification's stream.
	Channel, Type string
}

// StreamLabeler labels streams; a stream it cannot label is left out.
type StreamLabeler interface {
	StreamLabels(ctx context.Context, streams []string) (map[string]StreamLabel, error)
}

// StreamLabelsHandler labels the streams a page shows.
type StreamLabelsHandler struct {
	labeler StreamLabeler
}

// NewStreamLabelsHandler wires the handler.
func NewStreamLabelsHandler(l StreamLabeler) StreamLabelsHandler {
	return StreamLabelsHandler{labeler: l}
}

// Handle labels each stream it can.
func (h StreamLabelsHandler) Handle(ctx context.Context, streams []string) (map[string]StreamLabel, error) {
	if len(streams) == 0 {
		return map[string]StreamLabel{}, nil
	}
	return h.labeler.StreamLabels(ctx, streams)
}
