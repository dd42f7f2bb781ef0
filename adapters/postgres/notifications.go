package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

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

// Create stores new notifications and queues their delivery, in one round trip and one transaction
// (the one in ctx, or its own). Those whose stream exists already are left out: the order event they
// answer was delivered before.
func (r *NotificationRepository) Create(ctx context.Context, ns ...command.NewNotification) (int, error) {
	if len(ns) == 0 {
		return 0, nil
	}
	streams := make([]string, len(ns))
	for i, n := range ns {
		streams[i] = n.Stream
	}
	rows, err := r.store.db.Q(ctx).Query(ctx, `SELECT stream_id FROM events WHERE stream_id = ANY($1) AND stream_version = 1`, streams)
	if err != nil {
		return 0, fmt.Errorf("create notifications: %w", err)
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("create notifications: %w", err)
	}
	var appends []StreamAppend
	for _, n := range ns {
		if slices.Contains(existing, n.Stream) {
			continue
		}
		events, err := encodeEvents(n.Notification.Changes())
		if err != nil {
			return 0, fmt.Errorf("create %s: %w", n.Stream, err)
		}
		enqueue, err := enqueueStatements(n.Stream, n.Delivery)
		if err != nil {
			return 0, err
		}
		appends = append(appends, StreamAppend{Stream: n.Stream, Expected: NoStream, Before: enqueue, Events: events})
	}
	if len(appends) == 0 {
		return 0, nil
	}
	if _, err := r.store.AppendMany(ctx, appends...); err != nil {
		return 0, fmt.Errorf("create notifications: %w", err)
	}
	for _, n := range ns {
		n.Notification.ClearChanges()
	}
	return len(appends), nil
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
	events, err := encodeEvents(changes)
	if err != nil {
		return fmt.Errorf("save %s: %w", stream, err)
	}
	var before []Statement
	if q != nil {
		if before, err = enqueueStatements(stream, *q); err != nil {
			return err
		}
	}
	if st := n.Status(); st == notification.StatusSent || st == notification.StatusFailed {
		// Settled: it leaves the queue with the events that settle it, so a crash before the
		// worker's ack cannot bring it back.
		before = append(before, Statement{SQL: `DELETE FROM notification_queue WHERE stream_id = $1`, Args: []any{stream}})
	}
	if _, err := r.store.AppendWith(ctx, stream, n.StoredVersion(), before, events...); err != nil {
		return fmt.Errorf("save %s: %w", stream, err)
	}
	n.ClearChanges()
	return nil
}

// IsNotificationStream reports whether a stream is a notification's.
func IsNotificationStream(stream string) bool { return strings.HasPrefix(stream, "notification-") }
