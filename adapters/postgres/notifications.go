package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
)

// QueueChannel is the LISTEN/NOTIFY channel that wakes delivery workers when a notification is queued.
const QueueChannel = "notification_queue"

// NotificationRepository stores notifications as event streams and queues them for delivery.
type NotificationRepository struct {
	store *EventStore
	// settles joins the saves made outside a transaction (the deliveries' outcomes) into groups.
	settles *appendGroup
}

// NotificationOption configures a NotificationRepository.
type NotificationOption func(*NotificationRepository)

// WithSaveGroups sets how long the first of a group of saves waits for others to join it, and how
// many a group takes at most.
func WithSaveGroups(window time.Duration, max int) NotificationOption {
	return func(r *NotificationRepository) { r.settles = newAppendGroup(r.store, window, max) }
}

// NewNotificationRepository returns the repository over store. Saves outside a transaction are
// grouped for 5 ms, up to 64 at a time: the e-mail has been accepted by then, so the wait delays
// only the message's ack, and larger groups cost fewer commits (in the notify bench, 1.73–1.80 write
// transactions per shipped order against 1.81–1.89 with 2 ms and 32).
func NewNotificationRepository(store *EventStore, opts ...NotificationOption) *NotificationRepository {
	r := &NotificationRepository{store: store}
	r.settles = newAppendGroup(store, 5*time.Millisecond, 64)
	for _, o := range opts {
		o(r)
	}
	return r
}

var _ command.NotificationStore = (*NotificationRepository)(nil)

// Create stores new notifications and queues their delivery, in one round trip and one transaction
// (the one in ctx, in a savepoint that a failure rolls back, or its own): all of them or none.
// Those whose stream exists already are left alone: the order event they answer was delivered
// before. It returns how many it created.
func (r *NotificationRepository) Create(ctx context.Context, ns ...command.NewNotification) (int, error) {
	if len(ns) == 0 {
		return 0, nil
	}
	appends, queued, err := newNotificationAppends(ns)
	if err != nil {
		return 0, err
	}
	// The new notifications are queued by one statement, after their events.
	appends[len(appends)-1].After = []Statement{enqueueNew(queued)}
	out, err := r.store.AppendManyInSavepoint(ctx, appends...)
	if err != nil {
		return 0, fmt.Errorf("create notifications: %w", err)
	}
	created := 0
	for i, n := range ns {
		n.Notification.ClearChanges()
		if out[i] != nil {
			created++
		}
	}
	return created, nil
}

// newNotificationAppends returns the appends that open new notifications, each only if its stream is
// absent, and their rows of the queue, for enqueueNew (which the caller runs after the appends).
func newNotificationAppends(ns []command.NewNotification) ([]StreamAppend, []queuedNew, error) {
	appends := make([]StreamAppend, len(ns))
	queued := make([]queuedNew, len(ns))
	for i, n := range ns {
		events, err := encodeEvents(n.Notification.Changes())
		if err != nil {
			return nil, nil, fmt.Errorf("create %s: %w", n.Stream, err)
		}
		events[0].ID = es.NewID()
		appends[i] = StreamAppend{Stream: n.Stream, Expected: NoStream, IfAbsent: true, Events: events}
		queued[i] = queuedNew{stream: n.Stream, delivery: n.Delivery, requestID: events[0].ID}
	}
	return appends, queued, nil
}

// queuedNew is a new notification's row of the queue, queued only if its request event, requestID,
// was stored (the notification is new).
type queuedNew struct {
	stream    string
	delivery  command.Delivery
	requestID uuid.UUID
}

// enqueueNew queues new notifications and, once they commit, wakes the delivery workers of their
// topics: the wake-up is the insert's RETURNING, so a notification already queued wakes nobody.
func enqueueNew(qs []queuedNew) Statement {
	n := len(qs)
	streams, topics, orders, ids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, q := range qs {
		streams[i], topics[i], orders[i], ids[i] = q.stream, q.delivery.Topic, q.delivery.OrderID.String(), q.requestID.String()
	}
	return Statement{SQL: enqueueNewSQL, Args: []any{streams, topics, orders, ids, QueueChannel}}
}

// enqueueStatement queues a notification for delivery again (after a resend) at the version its
// stream has with the resend, and, once it commits, wakes the delivery workers of its topic.
func enqueueStatement(stream string, q command.Delivery) Statement {
	return Statement{SQL: `INSERT INTO notification_queue (stream_id, topic, order_id, stream_version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (stream_id) DO UPDATE SET due_at = now(), lease_until = NULL, stream_version = excluded.stream_version
		RETURNING pg_notify($5, topic)`,
		Args: []any{stream, q.Topic, q.OrderID, q.Version, QueueChannel}}
}

// enqueueNewSQL queues the notifications whose request event is stored, at version 1.
const enqueueNewSQL = `INSERT INTO notification_queue (stream_id, topic, order_id)
	SELECT q.stream_id, q.topic, q.order_id
	FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[]) AS q(stream_id, topic, order_id, event_id)
	WHERE EXISTS (SELECT 1 FROM events WHERE events.event_id = q.event_id)
	ON CONFLICT (stream_id) DO NOTHING
	RETURNING pg_notify($5, topic)`

// settleStatements take settled notifications' messages out of the queue, those of a group of saves
// in one statement.
func settleStatements(streams []string) []Statement {
	return []Statement{{SQL: byKeySettings}, {SQL: settleSQL, Args: []any{streams}}}
}

// settleSQL is the delete of settleStatements. It runs after byKeySettings: planned while the queue held a page or two, its cached plan
// otherwise scanned the whole table for each delete (133 pages of dead rows between two vacuums in
// the notify bench).
const settleSQL = `DELETE FROM notification_queue WHERE stream_id = ANY($1::text[])`

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
		before = append(before, enqueueStatement(stream, *q))
	}
	// Settled: it leaves the queue with the events that settle it, so a crash before the worker's
	// ack cannot bring it back.
	st := n.Status()
	settled := st == notification.StatusSent || st == notification.StatusFailed
	a := StreamAppend{Stream: stream, Expected: n.StoredVersion(), Before: before, Events: events}
	if _, inTx := TxFrom(ctx); inTx {
		if settled {
			a.Before = append(a.Before, settleStatements([]string{stream})...)
		}
		_, err = r.store.AppendMany(ctx, a)
	} else {
		// A delivery's outcome: committed with the outcomes of the deliveries that finish with it.
		settle := ""
		if settled {
			settle = stream
		}
		_, err = r.settles.append(ctx, a, settle)
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", stream, err)
	}
	if settled {
		if _, inTx := TxFrom(ctx); !inTx {
			markSettled(ctx, stream) // committed: the queue's ack has nothing left to delete
		}
	}
	n.ClearChanges()
	return nil
}

// IsNotificationStream reports whether a stream is a notification's.
func IsNotificationStream(stream string) bool {
	return strings.HasPrefix(stream, notificationStreamPrefix)
}

// notificationStreamPrefix begins the id of every notification's stream (notification.StreamID).
const notificationStreamPrefix = "notification-"
