package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
)

// Metadata keys the queue reads from and writes on its messages.
const (
	// MsgRequeueAfter, set on a message before it is nacked, delays its next delivery (a Go duration).
	MsgRequeueAfter = "requeue_after"
	// MsgDeliveries counts how many times the queue handed the message out, this time included.
	MsgDeliveries = "deliveries"
)

// QueueConfig tunes a QueueSubscriber.
type QueueConfig struct {
	// Concurrency is how many messages of one topic may be in flight at once. Messages of one order
	// are still handed out one at a time, in the order they were queued.
	Concurrency int
	// Lease is how long a handed-out message stays invisible. Past it, a message never acked (its
	// process stopped) is handed out again. It is renewed while the handler runs, so it only bounds
	// how long a dead worker's messages wait.
	Lease time.Duration
	// PollInterval is how often the queue looks for due messages when nothing wakes it: queuing a
	// notification wakes its topic's claimers through Waker, so this is a safety net, and the most
	// a message put back for later (a nack, a lease that ran out) waits past its time.
	PollInterval time.Duration
	// Waker wakes the claimers of a topic when a notification of it is queued; without it they poll.
	Waker *Waker
	// RetryAfter delays a nacked message that does not say how long to wait.
	RetryAfter time.Duration
	// Drain bounds how long closing waits for a handler in hand to ack or nack its message; past it
	// the handler's context ends and the message is left to its lease. Zero is 30 s, the router's
	// own close timeout.
	Drain time.Duration
}

func (c *QueueConfig) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	if c.Lease <= 0 {
		c.Lease = 15 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 10 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 30 * time.Second
	}
}

// QueueSubscriber is a Watermill subscriber over notification_queue. Unlike watermill-sql's
// subscriber it holds no transaction while a handler runs: a message is claimed with a lease in one
// short statement, and deleted (ack) or rescheduled (nack) in another. A handler may therefore wait on
// a slow provider, or many may run at once, without holding back any other reader of the database.
// A message's payload is its notification's request, the first event of the stream its row names,
// read by the claim: the row carries no copy of it.
type QueueSubscriber struct {
	pool   *pgxpool.Pool
	cfg    QueueConfig
	logger watermill.LoggerAdapter

	closing chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// NewQueueSubscriber returns a subscriber on pool.
func NewQueueSubscriber(pool *pgxpool.Pool, cfg QueueConfig, logger watermill.LoggerAdapter) *QueueSubscriber {
	cfg.defaults()
	return &QueueSubscriber{pool: pool, cfg: cfg, logger: logger, closing: make(chan struct{})}
}

// Subscribe starts handing out topic's due messages.
func (s *QueueSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	select {
	case <-s.closing:
		return nil, errors.New("queue subscriber is closed")
	default:
	}
	var wake <-chan struct{}
	unsubscribe := func() {}
	if s.cfg.Waker != nil {
		wake, unsubscribe = s.cfg.Waker.Queue(topic)
	}
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer unsubscribe()
		s.consume(ctx, topic, wake, out)
	}()
	return out, nil
}

// Close stops handing out messages and waits for those in flight to be acked or nacked; a message
// still unanswered is released for the next worker.
func (s *QueueSubscriber) Close() error {
	s.once.Do(func() { close(s.closing) })
	s.wg.Wait()
	return nil
}

type queued struct {
	id         *uuid.UUID // the event that queued it: the request, or a resend
	stream     string
	payload    []byte
	metadata   map[string]string
	deliveries int
}

func (s *QueueSubscriber) consume(ctx context.Context, topic string, wake <-chan struct{}, out chan *message.Message) {
	defer close(out)
	slots := make(chan struct{}, s.cfg.Concurrency)
	released := make(chan struct{}, s.cfg.Concurrency)
	var inflight sync.WaitGroup
	acks := &pendingAcks{}
	defer func() {
		inflight.Wait()
		s.flushAcks(context.WithoutCancel(ctx), acks)
	}()
	failures := 0
	for {
		free := s.cfg.Concurrency - len(slots)
		claimed := 0
		if free > 0 {
			// Not cancelled with ctx: a claim cut short after the server ran it would leave its
			// messages leased to no one until the lease ran out. What it claims as the subscriber
			// closes, deliver releases.
			claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			msgs, err := s.claim(claimCtx, topic, free, acks)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				s.logger.Error("claim from notification queue", err, watermill.LogFields{"topic": topic})
			} else {
				failures = 0
			}
			for _, q := range msgs {
				slots <- struct{}{}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					s.deliver(ctx, q, out, acks)
					<-slots
					select {
					case released <- struct{}{}:
					default:
					}
				}()
			}
			claimed = len(msgs)
		}
		if claimed > 0 && claimed == free {
			continue // there may be more due right now
		}
		wait := s.cfg.PollInterval
		if failures > 0 {
			wait = min(s.cfg.PollInterval*time.Duration(1<<min(failures, 5)), 30*time.Second)
		}
		select {
		case <-s.closing:
			return
		case <-ctx.Done():
			return
		case <-wake:
			continue // a notification was queued: claim it at once
		case <-released:
		case <-time.After(wait):
			continue
		}
		if len(slots) > 0 {
			// A handler finished while others still run: let more finish, and claim for them
			// together. A claim costs about as much for one message as for ten.
			select {
			case <-s.closing:
				return
			case <-ctx.Done():
				return
			case <-time.After(claimGather):
			}
		}
	}
}

// claimGather is how long a busy consumer waits after a handler finishes before it claims for the
// free slot. Claiming at once took one claim for every two messages at 500 e-mails a second. A
// queued notification is claimed at once: the wait would be its latency.
const claimGather = 5 * time.Millisecond

// queueDue is when a queued message is ready for a worker: its time has come and no lease holds it.
const queueDue = `q.due_at <= now() AND (q.lease_until IS NULL OR q.lease_until < now())`

// queueReady is when a queued message is one a worker would claim now: due, and no earlier message
// of its order waits in its topic (for a retry, or in a worker's hands), which it goes after. The
// gauges and doctor count these, so that a message held behind its order's retry does not read as
// one no worker takes.
const queueReady = queueDue + ` AND NOT EXISTS (SELECT 1 FROM notification_queue p
	WHERE p.order_id = q.order_id AND p.topic = q.topic AND p.id < q.id)`

// QueueState counts the queued notifications, those ready for a worker among them, and says when the
// oldest was queued.
func QueueState(ctx context.Context, db Querier) (query.QueueState, error) {
	var s query.QueueState
	err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE `+queueReady+`), min(q.created_at) FROM notification_queue q`).
		Scan(&s.Queued, &s.Due, &s.Oldest)
	if err != nil {
		return s, fmt.Errorf("notification queue: %w", err)
	}
	return s, nil
}

// claimSettings keep the claim on its indexes; see claim. The claim commits in the ordinary way: its
// flush makes durable the (redoable) request of every notification it hands out, before any is sent.
const claimSettings = `SELECT set_config('enable_sort', 'off', true), set_config('enable_seqscan', 'off', true),
	set_config('enable_hashjoin', 'off', true)`

// claimSQL leases up to $2 due messages of topic $1 for $3.
const claimSQL = `
		WITH next AS (
			SELECT q.stream_id FROM notification_queue q
			WHERE q.topic = $1 AND ` + queueDue + `
			  AND NOT EXISTS (SELECT 1 FROM notification_queue p WHERE p.order_id = q.order_id AND p.topic = q.topic AND p.id < q.id
				ORDER BY p.order_id, p.topic, p.id OFFSET 0)
			ORDER BY q.due_at, q.id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		, claimed AS (
			UPDATE notification_queue u SET lease_until = now() + $3::interval, deliveries = u.deliveries + 1
			FROM next WHERE u.stream_id = next.stream_id
			RETURNING u.stream_id, u.stream_version, u.deliveries)
		SELECT c.stream_id, coalesce(r.type, ''), coalesce(r.data, ''), c.stream_version, coalesce(v.correlation, r.correlation, ''), c.deliveries,
			coalesce(v.event_id, r.event_id)
		FROM claimed c LEFT JOIN LATERAL (
			SELECT e.event_id, e.type, e.data::text AS data, e.correlation_id AS correlation FROM events e
			WHERE e.stream_id = c.stream_id AND e.stream_version = 1 OFFSET 0) r ON true
		LEFT JOIN LATERAL (
			SELECT e.event_id, e.correlation_id AS correlation FROM events e
			WHERE c.stream_version > 1 AND e.stream_id = c.stream_id AND e.stream_version = c.stream_version OFFSET 0) v ON true`

// claim leases up to n due messages of topic. A message is due when its time has come, no lease holds
// it, and no earlier message of the same order is left in the topic.
//
// The earlier-message check is a subquery fenced with OFFSET 0, looked up by notification_queue_order
// for each candidate. Its ORDER BY is that index's order: with sorting disabled, the due index
// (topic, due_at, id), which the planner sometimes took for it after a vacuum left a few rows in
// many pages, cannot serve it. As an anti-join, the planner knew p.topic for a constant and, with a table it
// took for a row or two (as a vacuum while the queue is short leaves it), walked every message of the
// topic once per candidate on notification_queue_due instead: 5 ms a claim in the notify bench.
//
// The claim runs with sorting, sequential scans and hash joins disabled, so that the planner walks
// notification_queue_due in order, stops after n rows, and looks up each candidate's earlier messages
// and its row by index. Statistics taken while the queue was empty (after a quiet spell, a VACUUM
// ANALYZE) otherwise make it read and sort every due row on each claim: draining 4,000 queued
// notifications took 20 s instead of 6 s. A short queue, the usual state, otherwise gets a plan that
// reads the whole table once per candidate, dead rows of delivered messages included: a tenth of the
// database's CPU in the notify benchmark.
//
// A leased message is due again when its lease runs out. The claim changes only the lease and the
// delivery count, which no index holds, so that it is a heap-only update (the table's pages keep room
// for it: migration 018). It used to move due_at to the lease's end too, so that the messages in
// flight lay past the due range, but that wrote a new entry into each of the queue's three indexes
// for every message handed out, a twentieth of the WAL of a shipped order. A claim now steps over the
// messages in flight (64 a topic and process by default) on their lease, before it looks up any
// order: a few dozen heap tuples in pages it has just read.
//
// Each claimed message's payload, its notification's request, is looked up by its stream and
// version 1: a lateral subquery, fenced with OFFSET 0 so that the planner cannot make it a join
// (which, with hash joins off, it walked on stream_version alone, every request for each message).
// The message's stream and type are the row's stream and the request's type; its correlation id is
// that of the event at the row's version: the request's, or the event that queued it again (a
// resend, a reroute), looked up the same way only then.
//
// The messages acked since the last claim leave the queue in the same round trip, just before it, so
// that the next message of their order is claimable at once.
func (s *QueueSubscriber) claim(ctx context.Context, topic string, n int, acks *pendingAcks) (out []queued, err error) {
	streams, deliveries := acks.take()
	defer func() {
		if err != nil {
			acks.putBack(streams, deliveries)
		}
	}()
	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	batch.Queue(claimSettings)
	if len(streams) > 0 {
		batch.Queue(ackSQL, streams, deliveries)
	}
	batch.Queue(claimSQL, topic, n, s.cfg.Lease.String())
	batch.Queue(`COMMIT`)
	br := s.pool.SendBatch(ctx, batch)
	defer br.Close()
	for range batch.Len() - 2 {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	}
	if out, err = scanClaimed(br); err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("claim: commit: %w", err)
	}
	return out, nil
}

// ackSQL deletes acked messages, each only if it was not handed out again since.
const ackSQL = `DELETE FROM notification_queue q USING unnest($1::text[], $2::int[]) AS a(stream_id, deliveries)
	WHERE q.stream_id = a.stream_id AND q.deliveries = a.deliveries`

// pendingAcks are messages acked by their handlers and not yet deleted from the queue. Most are gone
// already: a handler that settles a notification deletes its message with the events that settle
// it. Deleting the rest with the next claim saves a round trip per message; if the process stops
// first, the message comes back after its lease, finds its notification settled, and is acked again.
type pendingAcks struct {
	mu         sync.Mutex
	streams    []string
	deliveries []int32
}

func (p *pendingAcks) add(stream string, deliveries int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streams = append(p.streams, stream)
	p.deliveries = append(p.deliveries, int32(deliveries))
}

func (p *pendingAcks) take() ([]string, []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	streams, deliveries := p.streams, p.deliveries
	p.streams, p.deliveries = nil, nil
	return streams, deliveries
}

func (p *pendingAcks) putBack(streams []string, deliveries []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streams = append(p.streams, streams...)
	p.deliveries = append(p.deliveries, deliveries...)
}

// flushAcks deletes the pending acks when the consumer stops.
func (s *QueueSubscriber) flushAcks(ctx context.Context, acks *pendingAcks) {
	streams, deliveries := acks.take()
	if len(streams) == 0 {
		return
	}
	if _, err := s.pool.Exec(ctx, ackSQL, streams, deliveries); err != nil {
		s.logger.Error("ack queued notifications", err, watermill.LogFields{"count": len(streams)})
	}
}

func scanClaimed(br pgx.BatchResults) ([]queued, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer rows.Close()
	var out []queued
	for rows.Next() {
		var q queued
		var typ, payload, correlation string
		var version int
		if err := rows.Scan(&q.stream, &typ, &payload, &version, &correlation, &q.deliveries, &q.id); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		q.metadata = map[string]string{es.MsgStream: q.stream, es.MsgStreamVersion: strconv.Itoa(version)}
		if typ != "" {
			q.metadata[es.MsgType] = typ
		}
		if correlation != "" {
			q.metadata[es.MsgCorrelationID] = correlation
		}
		q.payload = []byte(payload)
		out = append(out, q)
	}
	return out, rows.Err()
}

// deliver hands one message to the router and settles it by its answer.
func (s *QueueSubscriber) deliver(ctx context.Context, q queued, out chan *message.Message, acks *pendingAcks) {
	// The message is the event that queued it: the events its handler records name it as their
	// cause, and each delivery of one message has the same id, as Watermill expects.
	id := watermill.NewUUID() // only for a row whose request is missing, which the handler refuses
	if q.id != nil {
		id = q.id.String()
	}
	msg := message.NewMessage(id, q.payload)
	for k, v := range q.metadata {
		msg.Metadata.Set(k, v)
	}
	msg.Metadata.Set(MsgDeliveries, strconv.Itoa(q.deliveries))
	// The router cancels ctx as soon as it starts closing; a handler sending must rather finish and
	// record what the provider said, within the grace period below.
	msgCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	mark := &settledMark{stream: q.stream}
	msg.SetContext(context.WithValue(msgCtx, settledKey{}, mark))
	settle := context.WithoutCancel(ctx)
	select {
	case out <- msg:
	case <-s.closing:
		s.release(settle, q)
		return
	case <-ctx.Done():
		s.release(settle, q)
		return
	}
	acked, nacked := msg.Acked(), msg.Nacked()
	stopRenewing := s.renewLease(settle, q)
	select {
	case <-acked:
	case <-nacked:
	case <-s.closing:
		// The router waits for its running handlers when it closes; give this one that long, then
		// stop it and leave the message to its lease.
		select {
		case <-acked:
		case <-nacked:
		case <-time.After(s.cfg.Drain):
			stopRenewing()
			return
		}
	}
	stopRenewing()
	select {
	case <-acked:
		if mark.done.Load() {
			break // its handler's save took it out of the queue already
		}
		acks.add(q.stream, q.deliveries)
	case <-nacked:
		after := s.cfg.RetryAfter
		if d, err := time.ParseDuration(msg.Metadata.Get(MsgRequeueAfter)); err == nil && d >= 0 {
			after = d
		}
		if _, err := s.pool.Exec(settle, `UPDATE notification_queue SET due_at = now() + $3::interval, lease_until = NULL
			WHERE stream_id = $1 AND deliveries = $2`, q.stream, q.deliveries, after.String()); err != nil {
			s.logger.Error("requeue notification", err, watermill.LogFields{"stream": q.stream})
		}
	}
}

// settledMark travels in a delivered message's context: NotificationRepository.Save sets it when it
// has taken the message's notification out of the queue (sent, or failed for good), and the ack then
// deletes nothing. The ack's delete found nothing for every message sent, reading 30 to 200 buffers
// a claim in the notify bench.
type settledMark struct {
	stream string
	done   atomic.Bool
}

type settledKey struct{}

// markSettled tells the queue, through ctx, that stream's message left the queue with its save.
func markSettled(ctx context.Context, stream string) {
	if m, ok := ctx.Value(settledKey{}).(*settledMark); ok && m.stream == stream {
		m.done.Store(true)
	}
}

// renewLease keeps a message's lease while its handler runs, a third of the lease before it runs
// out, until the returned stop is called. The lease can then be short: a worker that dies leaves its
// messages to another within one lease, while a slow send keeps its own.
func (s *QueueSubscriber) renewLease(ctx context.Context, q queued) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(s.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				tag, err := s.pool.Exec(ctx, `UPDATE notification_queue SET lease_until = now() + $3::interval
					WHERE stream_id = $1 AND deliveries = $2`, q.stream, q.deliveries, s.cfg.Lease.String())
				switch {
				case err != nil:
					s.logger.Error("renew the lease of a notification being sent", err, watermill.LogFields{"stream": q.stream})
				case tag.RowsAffected() == 0:
					return // settled meanwhile, or taken over after a lease that was not renewed in time
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// release gives a message that was never handed out back to the queue at once. Its delivery is
// taken back too: no handler saw it, so the next one is not an attempt after a lost one.
func (s *QueueSubscriber) release(ctx context.Context, q queued) {
	if _, err := s.pool.Exec(ctx, `UPDATE notification_queue SET lease_until = NULL, deliveries = deliveries - 1
		WHERE stream_id = $1 AND deliveries = $2`, q.stream, q.deliveries); err != nil {
		s.logger.Error("release queued notification", err, watermill.LogFields{"stream": q.stream})
	}
}
