package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/notification"
)

// QueueChannel is the LISTEN/NOTIFY channel that wakes delivery workers when a notification is queued.
const QueueChannel = "notification_queue"

// NotificationRepository stores notifications as event streams and queues them for delivery.
type NotificationRepository struct {
	store *EventStore
}

// NewNotificationRepository returns the repository over store.
func NewNotificationRepository(store *EventStore) *NotificationRepository {
	return &NotificationRepository{store: store}
}

var _ command.NotificationStore = (*NotificationRepository)(nil)

// Create stores a new notification and queues its delivery, in one transaction (the one in ctx, or
// its own). It reports false, and stores nothing, when the notification exists already: the order
// event it answers was delivered before.
func (r *NotificationRepository) Create(ctx context.Context, stream string, n *notification.Notification, q command.Delivery) (bool, error) {
	var exists bool
	if err := r.store.db.Q(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
		return false, fmt.Errorf("create %s: %w", stream, err)
	}
	if exists {
		return false, nil
	}
	events, err := encodeNotificationEvents(n.Changes())
	if err != nil {
		return false, fmt.Errorf("create %s: %w", stream, err)
	}
	enqueue, err := enqueueStatements(stream, q)
	if err != nil {
		return false, err
	}
	if _, err := r.store.AppendWith(ctx, stream, NoStream, enqueue, events...); err != nil {
		return false, fmt.Errorf("create %s: %w", stream, err)
	}
	n.ClearChanges()
	return true, nil
}

func enqueueStatements(stream string, q command.Delivery) ([]Statement, error) {
	md, err := json.Marshal(q.Metadata)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", stream, err)
	}
	return []Statement{
		{SQL: `INSERT INTO notification_queue (stream_id, topic, order_id, payload, metadata) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (stream_id) DO UPDATE SET due_at = now(), lease_until = NULL`,
			Args: []any{stream, q.Topic, q.OrderID, string(q.Payload), string(md)}},
		{SQL: `SELECT pg_notify($1, $2)`, Args: []any{QueueChannel, q.Topic}},
	}, nil
}

// Get loads a notification.
func (r *NotificationRepository) Get(ctx context.Context, stream string) (*notification.Notification, error) {
	recs, err := r.store.Load(ctx, stream)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: %s", notification.ErrNotFound, stream)
	}
	events := make([]notification.Event, len(recs))
	for i, rec := range recs {
		if events[i], err = notification.DecodeEvent(rec.Type, rec.Data); err != nil {
			return nil, fmt.Errorf("%s v%d: %w", stream, rec.StreamVersion, err)
		}
	}
	return notification.FromHistory(events)
}

// Save appends what was recorded on n since it was loaded, at the version it was loaded at; with q it
// also queues the notification for delivery again (after a resend), in the same transaction.
func (r *NotificationRepository) Save(ctx context.Context, stream string, n *notification.Notification, q *command.Delivery) error {
	changes := n.Changes()
	if len(changes) == 0 {
		return nil
	}
	events, err := encodeNotificationEvents(changes)
	if err != nil {
		return fmt.Errorf("save %s: %w", stream, err)
	}
	var before []Statement
	if q != nil {
		if before, err = enqueueStatements(stream, *q); err != nil {
			return err
		}
	}
	if _, err := r.store.AppendWith(ctx, stream, n.StoredVersion(), before, events...); err != nil {
		return fmt.Errorf("save %s: %w", stream, err)
	}
	n.ClearChanges()
	return nil
}

func encodeNotificationEvents(events []notification.Event) ([]NewEvent, error) {
	out := make([]NewEvent, len(events))
	for i, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		out[i] = NewEvent{Type: e.EventType(), SchemaVersion: SchemaVersionOf(e.EventType()), Data: data}
	}
	return out, nil
}

// IsNotificationStream reports whether a stream is a notification's.
func IsNotificationStream(stream string) bool { return strings.HasPrefix(stream, "notification-") }
