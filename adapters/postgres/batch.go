package postgres

import (
	"context"
	"fmt"
	"sync/atomic"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/domain/es"
)

// batchTx is the transaction in which an outbox subscriber hands out one batch of messages, one at a
// time. The request handlers each loaded their message's order and wrote its notifications: two
// round trips and five statements a message. In a batchTx the first load of one of the batch's orders
// reads them all, and the notifications are written when the batch commits, those of every message
// in one AppendMany. Both stay in the transaction that moves the offset, so a message's writes still
// commit with it or not at all.
type batchTx struct {
	pgx.Tx
	state *batchState
	// direct makes this batch write as it goes: the last batch's deferred writes failed.
	direct bool
	// streams are the order streams of the batch's messages, as the subscriber read them.
	streams []string
	loaded  map[string][]RecordedEvent
	// store is the event store the deferred writes go to; all of a batch's go to one.
	store   *EventStore
	pending []deferredWrite
}

// batchState is what a subscriber's transactions pass on to the next one.
type batchState struct {
	// prefetch picks the messages whose streams the handlers load (SubscriberConfig.Prefetch).
	prefetch func(*message.Message) bool
	// direct is set when a batch's deferred writes failed: the batch comes again, and then each
	// message writes in its own savepoint, so that one that cannot be written fails alone, goes
	// through the router's retries and, if it must, to the poison topic.
	direct atomic.Bool
}

// deferredWrite is what one message's handler asked to append.
type deferredWrite struct {
	msg     string
	appends []StreamAppend
}

func newBatchTx(tx pgx.Tx, state *batchState) *batchTx {
	return &batchTx{Tx: tx, state: state, direct: state.direct.Swap(false)}
}

// Query returns rows that the outbox schema can tell the batch about (see noteMessage).
func (b *batchTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := b.Tx.Query(ctx, sql, args...)
	if err != nil {
		return rows, err
	}
	return batchRows{Rows: rows, tx: b}, nil
}

// Commit writes what the batch's handlers deferred, then commits. When the writes fail, it rolls back:
// no message of the batch is acked, and the batch comes again with direct writes.
func (b *batchTx) Commit(ctx context.Context) error {
	if len(b.pending) > 0 {
		var all []StreamAppend
		for _, w := range b.pending {
			all = append(all, w.appends...)
		}
		if _, err := b.store.appendMany(WithTx(ctx, b.Tx), false, all); err != nil {
			b.state.direct.Store(true)
			_ = b.Tx.Rollback(context.WithoutCancel(ctx))
			return fmt.Errorf("the writes of a batch of %d messages (the batch comes again, each message writing on its own): %w", len(b.pending), err)
		}
	}
	return b.Tx.Commit(ctx)
}

// batchRows are the rows of a query in a batchTx.
type batchRows struct {
	pgx.Rows
	tx *batchTx
}

// noteMessage tells the batch whose transaction read msg about its stream, when the handlers load it.
func noteMessage(scanner wsql.Scanner, msg *message.Message) {
	rows, ok := scanner.(wsql.PgxRows)
	if !ok {
		return
	}
	if br, ok := rows.Rows.(batchRows); ok && br.tx.state.prefetch != nil && br.tx.state.prefetch(msg) {
		br.tx.streams = append(br.tx.streams, msg.Metadata.Get(es.MsgStream))
	}
}

// batchFrom returns the batch transaction in ctx, unless the handler opened a savepoint of its own.
func batchFrom(ctx context.Context) (*batchTx, bool) {
	tx, ok := TxFrom(ctx)
	if !ok {
		return nil, false
	}
	b, ok := tx.(*batchTx)
	return b, ok
}

// load returns one of the batch's streams, reading all of them the first time; ok is false for a
// stream outside the batch. The transaction is repeatable read, so the streams are what separate
// loads in it would have read.
func (b *batchTx) load(ctx context.Context, stream string) (_ []RecordedEvent, ok bool, _ error) {
	if b.loaded == nil {
		found := false
		for _, s := range b.streams {
			found = found || s == stream
		}
		if !found {
			return nil, false, nil
		}
		rows, err := b.Tx.Query(ctx, selectEvents+` WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`, b.streams)
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
	recs, ok := b.loaded[stream]
	return recs, ok, nil
}

// appended forgets what the batch loaded: something was written in its transaction.
func (b *batchTx) appended() { b.loaded = nil }

// messageKey marks a context as the handling of one message of a batch (see JoinDeliveryTx).
type messageKey struct{}

// deferWrites keeps appends for the batch's commit when ctx is a message's handling in a batch
// transaction that defers its writes; it reports whether it did.
func deferWrites(ctx context.Context, store *EventStore, appends []StreamAppend) bool {
	b, ok := batchFrom(ctx)
	msg, isMsg := ctx.Value(messageKey{}).(string)
	if !ok || !isMsg || b.direct || (b.store != nil && b.store != store) {
		return false
	}
	cause := es.CausationFrom(ctx)
	for i := range appends {
		if appends[i].Cause == nil {
			appends[i].Cause = &cause
		}
	}
	b.store = store
	b.pending = append(b.pending, deferredWrite{msg: msg, appends: appends})
	return true
}

// forget drops what a message's handling deferred: that attempt failed.
func (b *batchTx) forget(msg string) {
	kept := b.pending[:0]
	for _, w := range b.pending {
		if w.msg != msg {
			kept = append(kept, w)
		}
	}
	clear(b.pending[len(kept):])
	b.pending = kept
}
