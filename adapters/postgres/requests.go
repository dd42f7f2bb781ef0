package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// RequestBatches is the writer of the notification request handlers (command.RequestWriter), and it
// works a consumer group's batch of messages at a time. Loading an order and writing its
// notifications one message at a time took two round trips and a savepoint a message, and about two
// write transactions per backlog order. The request groups' subscribers are given the same
// RequestBatches (SubscriberConfig.Batches), and each of their delivering transactions then keeps a
// batch: the first order the handlers load reads the orders of every message of the batch, in one
// query, and the notifications the handlers create are written when the transaction commits, those of
// every message in one AppendMany, with the offset. Outside such a transaction it reads and writes
// through the repositories, one message at a time.
type RequestBatches struct {
	store         *EventStore
	orders        *OrderRepository
	notifications *NotificationRepository
	// loads picks the order events whose order the handlers load (those the catalogue answers).
	loads func(eventType string) bool
}

var _ command.RequestWriter = (*RequestBatches)(nil)

// NewRequestBatches returns the writer over store and its repositories; loads says which order
// events' orders a batch reads in advance.
func NewRequestBatches(store *EventStore, orders *OrderRepository, notifications *NotificationRepository, loads func(eventType string) bool) *RequestBatches {
	return &RequestBatches{store: store, orders: orders, notifications: notifications, loads: loads}
}

// GetOrder returns an order at version atLeast or later: from this process's recent copy of it when
// that holds as much (the process that shipped the order requests its notifications, and reads
// nothing), else from the batch's one read of its orders when the message is one of a batch, else
// from its own stream.
func (w *RequestBatches) GetOrder(ctx context.Context, id uuid.UUID, atLeast int) (*order.Order, error) {
	if o, ok := w.orders.Recent(id, atLeast); ok {
		return o, nil
	}
	if b, tx, ok := w.batchIn(ctx); ok {
		recs, found, err := b.load(ctx, tx, order.StreamID(id))
		if err != nil {
			return nil, err
		}
		if found {
			if len(recs) == 0 {
				return nil, &order.NotFoundError{ID: id}
			}
			return OrderFromEvents(recs)
		}
	}
	return w.orders.Get(ctx, id)
}

// CreateNotifications stores new notifications and queues them, leaving out those that exist. In a
// batch they are kept for its commit, and the count is of those handed over; when the batch's last
// writes failed, or outside a batch, they are written at once (NotificationRepository.Create).
func (w *RequestBatches) CreateNotifications(ctx context.Context, ns ...command.NewNotification) (int, error) {
	b, _, ok := w.batchIn(ctx)
	msg, isMsg := ctx.Value(messageKey{}).(string)
	if !ok || !isMsg || b.alone || len(ns) == 0 {
		return w.notifications.Create(ctx, ns...)
	}
	appends, queued, err := newNotificationAppends(ns)
	if err != nil {
		return 0, err
	}
	// The commit runs without the handler's context: each append keeps its message's causation.
	cause := es.CausationFrom(ctx)
	for i := range appends {
		appends[i].Cause = &cause
	}
	b.pending = append(b.pending, pendingRequest{msg: msg, appends: appends, queued: queued})
	for _, n := range ns {
		n.Notification.ClearChanges()
	}
	return len(ns), nil
}

// batchIn returns the batch of the delivering transaction in ctx, when this writer's subscriber
// began it; not when a handler opened a savepoint of its own.
func (w *RequestBatches) batchIn(ctx context.Context) (*requestBatch, pgx.Tx, bool) {
	tx, ok := TxFrom(ctx)
	if !ok {
		return nil, nil, false
	}
	dt, ok := tx.(*deliveryTx)
	if !ok || dt.batch == nil || dt.batch.w != w {
		return nil, nil, false
	}
	return dt.batch, dt.Tx, true
}

// requestBatch is what one delivering transaction of a request group keeps: the order streams of its
// messages, as the subscriber read them, those streams once loaded, and the writes its handlers
// asked for. The subscriber hands out one message at a time and waits for its ack, so nothing here is
// used by two goroutines at once.
type requestBatch struct {
	w *RequestBatches
	// alone makes this batch write as it goes: the last batch's writes failed, and its messages come
	// again, each writing in its own savepoint, so that one that cannot be written fails alone, goes
	// through the router's retries and, if it must, to the poison topic.
	alone bool
	// failed tells the subscriber's next transaction to write alone (see subscriberConn).
	failed  *atomic.Bool
	streams []string
	loaded  map[string][]RecordedEvent
	pending []pendingRequest
}

// pendingRequest is what one message's handler asked to write.
type pendingRequest struct {
	msg     string
	appends []StreamAppend
	queued  []queuedNew
}

// note adds a message's order stream to the batch, when the handlers load it and the process has
// no copy of the order as recent as the message's event.
func (b *requestBatch) note(msg *message.Message) {
	if !b.w.loads(msg.Metadata.Get(es.MsgType)) {
		return
	}
	stream := msg.Metadata.Get(es.MsgStream)
	if id, err := order.IDFromStream(stream); err == nil {
		if v, err := strconv.Atoi(msg.Metadata.Get(es.MsgStreamVersion)); err == nil {
			if _, ok := b.w.orders.Recent(id, v); ok {
				return
			}
		}
	}
	b.streams = append(b.streams, stream)
}

// load returns one of the batch's streams, reading all of them the first time; found is false for a
// stream outside the batch. The transaction is repeatable read, and the handlers write notification
// streams only, so the streams are what separate loads in it would have read.
func (b *requestBatch) load(ctx context.Context, tx pgx.Tx, stream string) (_ []RecordedEvent, found bool, _ error) {
	if b.loaded == nil {
		for _, s := range b.streams {
			found = found || s == stream
		}
		if !found {
			return nil, false, nil
		}
		rows, err := tx.Query(ctx, selectEvents+` WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`, b.streams)
		if err != nil {
			return nil, true, fmt.Errorf("load the batch's %d streams: %w", len(b.streams), err)
		}
		recs, err := scanEvents(rows)
		if err != nil {
			return nil, true, fmt.Errorf("load the batch's %d streams: %w", len(b.streams), err)
		}
		b.loaded = make(map[string][]RecordedEvent, len(b.streams))
		for _, s := range b.streams {
			b.loaded[s] = nil
		}
		for i := range recs {
			b.loaded[recs[i].StreamID] = append(b.loaded[recs[i].StreamID], recs[i])
		}
	}
	recs, found := b.loaded[stream]
	return recs, found, nil
}

// forget drops what a message's handling asked to write: that attempt failed, or it is tried again.
func (b *requestBatch) forget(msg string) {
	kept := b.pending[:0]
	for _, p := range b.pending {
		if p.msg != msg {
			kept = append(kept, p)
		}
	}
	clear(b.pending[len(kept):])
	b.pending = kept
}

// write appends what the batch's handlers asked for, in tx: the events in one INSERT, the queue rows
// in one more. When it fails, the subscriber's next transaction writes alone.
func (b *requestBatch) write(ctx context.Context, tx pgx.Tx) error {
	if len(b.pending) == 0 {
		return nil
	}
	var appends []StreamAppend
	var queued []queuedNew
	for _, p := range b.pending {
		appends = append(appends, p.appends...)
		queued = append(queued, p.queued...)
	}
	appends[len(appends)-1].After = []Statement{enqueueNew(queued)}
	if _, err := b.w.store.AppendMany(WithTx(ctx, tx), appends...); err != nil {
		b.failed.Store(true)
		return fmt.Errorf("the notifications of a batch of %d messages (the batch comes again, each message writing on its own): %w", len(b.pending), err)
	}
	return nil
}

// batchRows are the rows of a query in a delivering transaction that keeps a batch.
type batchRows struct {
	pgx.Rows
	batch *requestBatch
}

// noteMessage tells the batch of the transaction that read msg about it.
func noteMessage(scanner wsql.Scanner, msg *message.Message) {
	rows, ok := scanner.(wsql.PgxRows)
	if !ok {
		return
	}
	if br, ok := rows.Rows.(batchRows); ok {
		br.batch.note(msg)
	}
}

// messageKey marks a context as the handling of one message (see JoinDeliveryTx): a batch keeps
// what each message's handling wrote apart, to drop it when that handling fails.
type messageKey struct{}
