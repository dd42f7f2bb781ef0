package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/domain/es"
)

// SubscriberConfig tunes a watermill-sql subscriber.
type SubscriberConfig struct {
	// Wait says how long a group that found nothing waits; with Waker set, a commit that appends
	// events wakes it at once and polling is only a safety net.
	Wait  WaitConfig
	Waker *Waker
	// Commits tells the other readers when a delivering transaction that moved the offset commits.
	Commits *CommitNotifier
	// AckDeadline bounds one message's handling, retries included; past it the message is redelivered.
	// It must be longer than the router's in-handler retry budget.
	AckDeadline time.Duration
	// BatchSize is how many messages one transaction takes; 1 keeps redelivery after a crash to the
	// message in hand.
	BatchSize int
	// Partition, when set, makes the group read that partition of the topic only. NewSubscriber
	// records it for the lag report (outbox_partitions).
	Partition *Partition
	// Redoable lets the delivering transactions commit without waiting for the WAL flush (see
	// DB.InRedoableTx), for handlers whose writes only need to be there before anything acts on them:
	// if the server loses such a commit, it loses the offset with the writes, and the messages come
	// again. Whatever acts on the writes commits in the ordinary way first, which makes them durable.
	Redoable bool
	// Drain bounds how long closing waits for the messages in hand to be acked or nacked; past it
	// their transaction ends (their writes are rolled back, and they come again). Zero is 30 s, the
	// router's own close timeout.
	Drain time.Duration
	// Batches, for a request group, makes each delivering transaction keep a batch for the request
	// handlers' writer: the same RequestBatches they are given.
	Batches *RequestBatches
}

// subscriberConn begins the subscriber's transactions, as redoable ones when asked.
type subscriberConn struct {
	*pgxpool.Pool
	redoable bool
	commits  *CommitNotifier
	batches  *RequestBatches
	// failed is set when a batch's writes failed: the next transaction, which reads the same
	// messages again, writes each alone (see requestBatch).
	failed *atomic.Bool
}

func (c subscriberConn) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if c.redoable {
		begin := "BEGIN"
		if opts.IsoLevel != "" {
			begin += " ISOLATION LEVEL " + string(opts.IsoLevel)
		}
		if opts.AccessMode != "" {
			begin += " " + string(opts.AccessMode)
		}
		opts.BeginQuery = RedoableBegin(begin)
	}
	tx, err := c.Pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	dt := &deliveryTx{Tx: tx, commits: c.commits}
	if c.batches != nil {
		dt.batch = &requestBatch{w: c.batches, failed: c.failed, alone: c.failed.Swap(false)}
	}
	return dt, nil
}

// deliveryTx is a transaction in which the subscriber hands out messages. One that moved its group's
// offset tells the readers when it commits: it may have hidden another commit from them until then
// (readers stop at the oldest transaction still running). One that found nothing tells no one, or
// the groups would wake one another for ever. A request group's keeps the batch of its writer
// (RequestBatches), and writes it as it commits.
type deliveryTx struct {
	pgx.Tx
	commits *CommitNotifier
	acked   bool
	batch   *requestBatch
}

// Query returns rows through which the schema adapter tells the batch about its messages
// (noteMessage).
func (t *deliveryTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := t.Tx.Query(ctx, sql, args...)
	if err != nil || t.batch == nil {
		return rows, err
	}
	return batchRows{Rows: rows, batch: t.batch}, nil
}

func (t *deliveryTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if strings.HasPrefix(sql, offsetsAckPrefix) {
		t.acked = true
	}
	return t.Tx.Exec(ctx, sql, args...)
}

// Commit writes the batch's notifications, then commits. When the writes fail it rolls back: no
// message of the batch is acked, and they come again, each writing alone.
func (t *deliveryTx) Commit(ctx context.Context) error {
	if !t.acked && (t.batch == nil || len(t.batch.pending) == 0) {
		// No message was acked, so none was handled (a nacked one's writes are rolled back to its
		// savepoint): ending the transaction is all a commit would do, and a rollback needs no live
		// context, where a stopping subscription's is cancelled and its commit would fail.
		err := t.Tx.Rollback(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return nil // stopping: pgx may have closed the connection, which ends the transaction too
		}
		return err
	}
	if t.batch != nil {
		if err := t.batch.write(ctx, t.Tx); err != nil {
			_ = t.Tx.Rollback(context.WithoutCancel(ctx))
			return err
		}
	}
	err := t.Tx.Commit(ctx)
	if err == nil && t.acked {
		t.commits.Committed()
	}
	return err
}

// offsetsAckPrefix begins the ack query of watermill-sql's PostgreSQL offsets adapter.
const offsetsAckPrefix = `INSERT INTO "watermill_offsets_`

// eventsSchema is a watermill-sql schema adapter over the events table: the event store is the
// outbox. A topic's messages are the events stored with that topic (EventStore's WithTopics), read
// in commit-safe order, (tx_id, position), and only below the oldest transaction still running, so
// that an append that commits late is read in its place, never skipped. A message's offset is its
// event's position; the consumer groups keep theirs in watermill_offsets_<topic>, through
// watermill-sql's own PostgreSQL offsets adapter. Events are published by being appended, so the
// adapter writes nothing.
type eventsSchema struct {
	batch     int
	partition *Partition
}

var _ wsql.SchemaAdapter = eventsSchema{}

// SelectQuery returns the next batch after the consumer group's offset. The bound is a row
// comparison, which walks events_topic_commit_order from the offset and stops after the batch, even
// with statistics taken while the topic was empty (TestOutboxSelectReadsOnlyItsBatchOfABacklog):
// watermill-sql's own select bounds its scan with an OR that no index can take, and read every
// message after the offset each time (a backlog of n messages cost O(n) per batch).
func (s eventsSchema) SelectQuery(params wsql.SelectQueryParams) (wsql.Query, error) {
	next, err := params.OffsetsAdapter.NextOffsetQuery(wsql.NextOffsetQueryParams{Topic: params.Topic, ConsumerGroup: params.ConsumerGroup})
	if err != nil {
		return wsql.Query{}, err
	}
	args := append(append([]any(nil), next.Args...), params.Topic)
	return wsql.Query{Query: eventsSelect(next.Query, len(args), max(s.batch, 1), s.partition), Args: args}, nil
}

// eventsSelect reads the events of topic (parameter topicParam) after the offset nextOffset reads.
func eventsSelect(nextOffset string, topicParam, batch int, p *Partition) string {
	filter := ""
	if p != nil {
		filter = fmt.Sprintf(` AND stream_hash %% %d = %d`, p.Of, p.Index)
	}
	return `WITH last_processed AS (` + nextOffset + `)
		SELECT position, tx_id, stream_id, stream_version, event_id, type, schema_version, data,
			correlation_id, coalesce(causation_id, ''), actor, occurred_at
		FROM events
		WHERE topic = $` + strconv.Itoa(topicParam) + `
		  AND (tx_id, position) > ((SELECT last_processed_transaction_id FROM last_processed), (SELECT offset_acked FROM last_processed))
		  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())` + filter + `
		ORDER BY topic, tx_id, position
		LIMIT ` + strconv.Itoa(batch)
}

// UnmarshalMessage makes the message of an event row, as EventMessage does.
func (s eventsSchema) UnmarshalMessage(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	var (
		r     RecordedEvent
		txID  wsql.XID8
		data  []byte
		actor string
	)
	if err := params.Row.Scan(&r.Position, &txID, &r.StreamID, &r.StreamVersion, &r.EventID, &r.Type, &r.SchemaVersion, &data,
		&r.Metadata.CorrelationID, &r.Metadata.CausationID, &actor, &r.Metadata.OccurredAt); err != nil {
		return wsql.Row{}, fmt.Errorf("scan event: %w", err)
	}
	r.TxID, r.Data = uint64(txID), data
	r.Metadata.Actor, r.Metadata.OccurredAt = es.Actor(actor), r.Metadata.OccurredAt.UTC()
	msg := EventMessage(context.Background(), r)
	noteMessage(params.Row, msg)
	return wsql.Row{Offset: r.Position, UUID: []byte(msg.UUID), Payload: data, Msg: msg,
		ExtraData: map[string]any{"transaction_id": txID}}, nil
}

// InsertQuery refuses: a topic's messages are events, published by appending them to the store.
func (eventsSchema) InsertQuery(params wsql.InsertQueryParams) (wsql.Query, error) {
	return wsql.Query{}, fmt.Errorf("topic %s is the event store: append the events instead of publishing them", params.Topic)
}

// SchemaInitializingQueries is empty: the migrations own the schema.
func (eventsSchema) SchemaInitializingQueries(wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}

// SubscribeIsolationLevel is repeatable read, as watermill-sql's own PostgreSQL schema uses.
func (eventsSchema) SubscribeIsolationLevel() sql.IsolationLevel { return sql.LevelRepeatableRead }

// Partition is the part of a topic a consumer group reads: the events of the streams whose
// es.StreamHash (the events' stream_hash) is Index modulo Of.
type Partition struct {
	Index, Of int
}

// wakeBackoff is the subscriber's BackoffManager: after a select that found nothing it waits for a
// commit to wake it (or the safety net), then has the subscriber select again at once. It is the
// hook watermill-sql offers for this; its PollInterval alone would make every group poll.
type wakeBackoff struct {
	w     *waiter
	stop  <-chan struct{}
	retry time.Duration
	// failing tracks the queries failing in a row, so that an outage is logged once, then once a
	// minute, and its end once, not at every retry (a second, for every consumer group). Its
	// subscriber calls HandleError from its one reading goroutine.
	failing *failureLog
}

func (b wakeBackoff) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if errors.Is(err, context.Canceled) {
		// The subscription is ending (its context is cancelled before the subscriber closes): a
		// query cut short is no error, and a stopping service must not log one.
		return b.retry
	}
	now := time.Now()
	if err != nil {
		switch began, remind := b.failing.fail(now); {
		case began:
			logger.Error("Error querying for message", err, watermill.LogFields{"wait_time": b.retry})
		case remind:
			n, d := b.failing.failures(now)
			logger.Error("Error querying for message, still", err, watermill.LogFields{"wait_time": b.retry,
				"failing_for": d.Round(time.Second).String(), "failures": n})
		}
		return b.retry
	}
	if n, d := b.failing.succeed(now); n > 0 {
		logger.Info("Querying for messages again", watermill.LogFields{"failed_for": d.Round(100 * time.Millisecond).String(),
			"failures": n})
	}
	if noMsg {
		b.w.wait(b.stop)
	}
	return 0
}

// NewSubscriber returns a subscriber for one consumer group on the events of a topic. The tables come
// from the migrations, so it never creates schema.
func NewSubscriber(pool *pgxpool.Pool, consumerGroup string, cfg SubscriberConfig, logger watermill.LoggerAdapter) (message.Subscriber, error) {
	if p := cfg.Partition; p != nil {
		if p.Of < 1 || p.Index < 0 || p.Index >= p.Of {
			return nil, fmt.Errorf("subscriber %s: partition %d of %d", consumerGroup, p.Index, p.Of)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, `INSERT INTO outbox_partitions (consumer_group, partition, partitions) VALUES ($1, $2, $3)
			ON CONFLICT (consumer_group) DO UPDATE SET partition = excluded.partition, partitions = excluded.partitions`,
			consumerGroup, p.Index, p.Of); err != nil {
			return nil, fmt.Errorf("subscriber %s: record its partition: %w", consumerGroup, err)
		}
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	return &drainingSubscriber{pool: pool, group: consumerGroup, cfg: cfg, logger: logger, closing: make(chan struct{})}, nil
}

// drainingSubscriber lets the messages in hand finish before it closes the watermill-sql subscriber.
// Watermill's router closes its subscribers while handlers still run, and the watermill-sql
// subscriber then ends the delivering transaction: a handler writing through that transaction would
// find it gone under its feet.
//
// Each subscription has a watermill-sql subscriber of its own: the BackoffManager that waits for a
// wake belongs to a watermill-sql subscriber, not to one of its subscriptions, and a wake must reach
// every subscription that waits.
type drainingSubscriber struct {
	pool    *pgxpool.Pool
	group   string
	cfg     SubscriberConfig
	logger  watermill.LoggerAdapter
	closing chan struct{}
	once    sync.Once

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup             // every subscription's messages in hand
	subs     map[*subscription]struct{} // those not ended yet
}

// subscription is what Close ends of one Subscribe.
type subscription struct {
	inner       message.Subscriber
	unsubscribe func() // from the waker
	cancel      context.CancelFunc
}

// end stops the subscription and waits until its watermill-sql subscriber has stopped. Ending twice
// does nothing more.
func (s subscription) end() error {
	s.cancel()
	s.unsubscribe()
	return s.inner.Close()
}

// subscribe starts a watermill-sql subscriber on topic, with a wait of its own.
func (d *drainingSubscriber) subscribe(ctx context.Context, topic string) (<-chan *message.Message, subscription, error) {
	var wake <-chan struct{}
	unsubscribe := func() {}
	if d.cfg.Waker != nil {
		wake, unsubscribe = d.cfg.Waker.Events()
	}
	w := newWaiter(wake, d.cfg.Wait)
	deadline := d.cfg.AckDeadline
	conn := subscriberConn{Pool: d.pool, redoable: d.cfg.Redoable, commits: d.cfg.Commits, batches: d.cfg.Batches, failed: &atomic.Bool{}}
	innerCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	inner, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(conn), wsql.SubscriberConfig{
		ConsumerGroup:    d.group,
		PollInterval:     w.cfg.SafetyPoll,
		ResendInterval:   w.cfg.Recheck,
		RetryInterval:    time.Second,
		BackoffManager:   wakeBackoff{w: w, stop: innerCtx.Done(), retry: time.Second, failing: &failureLog{}},
		AckDeadline:      &deadline,
		SchemaAdapter:    eventsSchema{batch: d.cfg.BatchSize, partition: d.cfg.Partition},
		OffsetsAdapter:   wsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: false,
	}, d.logger)
	if err != nil {
		cancel()
		unsubscribe()
		return nil, subscription{}, fmt.Errorf("subscriber %s: %w", d.group, err)
	}
	in, err := inner.Subscribe(innerCtx, topic)
	if err != nil {
		cancel()
		unsubscribe()
		_ = inner.Close()
		return nil, subscription{}, fmt.Errorf("subscriber %s: %w", d.group, err)
	}
	return in, subscription{inner: inner, unsubscribe: unsubscribe, cancel: cancel}, nil
}

// Subscribe subscribes with a context of its own: the router cancels ctx as soon as it starts
// closing, and watermill-sql would then end the delivering transaction at once. The inner context
// ends once this subscription's messages in hand are done (or the drain bound passed): when ctx
// ends, or when Close has drained every subscription.
func (d *drainingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, sub, err := d.subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		_ = sub.end()
		return nil, wsql.ErrSubscriberClosed
	}
	if d.subs == nil {
		d.subs = map[*subscription]struct{}{}
	}
	d.subs[&sub] = struct{}{}
	d.mu.Unlock()
	out := make(chan *message.Message)
	var mine sync.WaitGroup // this subscription's messages in hand
	// The channel closes once the subscription has stopped (a stopping service's last log line
	// comes before it).
	ended := func() {
		waitAtMost(&mine, d.cfg.Drain)
		if err := sub.end(); err != nil {
			d.logger.Error("End subscription", err, watermill.LogFields{"topic": topic})
		}
		d.mu.Lock()
		delete(d.subs, &sub)
		d.mu.Unlock()
	}
	go func() {
		defer close(out)
		for {
			var msg *message.Message
			var ok bool
			select {
			case <-d.closing:
				return
			case <-ctx.Done():
				ended()
				return
			case msg, ok = <-in:
				if !ok {
					return
				}
			}
			// Counted under the lock that Close takes, so that no message slips out after Close
			// started waiting: a message received as the subscriber closes is not handed out, and
			// the closing subscriber gives it back.
			d.mu.Lock()
			if d.closed {
				d.mu.Unlock()
				return
			}
			d.inflight.Add(1)
			mine.Add(1)
			d.mu.Unlock()
			select {
			case out <- msg:
				go func() {
					defer d.inflight.Done()
					defer mine.Done()
					select {
					case <-msg.Acked():
					case <-msg.Nacked():
					}
				}()
			case <-d.closing:
				// Not handed out: the closing subscriber gives it back.
				d.inflight.Done()
				mine.Done()
				return
			case <-ctx.Done():
				d.inflight.Done()
				mine.Done()
				ended()
				return
			}
		}
	}()
	return out, nil
}

// Close stops handing out messages, waits up to the drain bound for those in hand to be acked or
// nacked, then closes the subscriptions.
func (d *drainingSubscriber) Close() error {
	d.once.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		close(d.closing)
	})
	waitAtMost(&d.inflight, d.cfg.Drain)
	d.mu.Lock()
	subs := d.subs
	d.subs = nil
	d.mu.Unlock()
	var errs []error
	for s := range subs {
		errs = append(errs, s.end())
	}
	return errors.Join(errs...)
}

// waitAtMost waits for wg, or for limit.
func waitAtMost(wg *sync.WaitGroup, limit time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// TxPublisher publishes a message in the transaction that delivered the message it came from, so a
// message moved to the poison queue is written and acked together. Without such a transaction it
// publishes on the pool.
type TxPublisher struct {
	pool   *pgxpool.Pool
	logger watermill.LoggerAdapter
}

// NewTxPublisher returns a publisher for handler output and poison messages.
func NewTxPublisher(pool *pgxpool.Pool, logger watermill.LoggerAdapter) *TxPublisher {
	return &TxPublisher{pool: pool, logger: logger}
}

// Publish writes msgs to topic's table.
func (p *TxPublisher) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx := msgs[0].Context()
	var db wsql.ContextExecutor = wsql.BeginnerFromPgx(p.pool)
	if tx, ok := wsql.TxFromContext(ctx); ok {
		db = tx
	}
	// A handler's timeout middleware leaves a cancelled context on the message; the write must still
	// go through, so it runs on a copy whose context keeps the values but not the cancellation.
	out := make([]*message.Message, len(msgs))
	for i, m := range msgs {
		out[i] = m.Copy()
		out[i].SetContext(context.WithoutCancel(m.Context()))
	}
	msgs = out
	pub, err := wsql.NewPublisher(db, wsql.PublisherConfig{SchemaAdapter: wsql.DefaultPostgreSQLSchema{}}, p.logger)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// Close does nothing: the publisher holds no resources of its own.
func (p *TxPublisher) Close() error { return nil }

// JoinDeliveryTx is handler middleware for watermill-sql subscribers: adapters called with the
// message's context write in the transaction that delivered the message, so a handler's writes commit
// with the message's offset, or not at all (exactly once). A handler wraps its writes in DB.InTx,
// which makes them a savepoint: a failed attempt is undone without spoiling the transaction that the
// retry, or the poison queue, still needs. Handlers that write nothing cost nothing. What a failed
// attempt asked a request batch to write at its commit (RequestBatches) is dropped with it.
func JoinDeliveryTx(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		ctx := msg.Context()
		wtx, ok := wsql.TxFromContext(ctx)
		if !ok {
			return h(msg)
		}
		ptx, ok := wtx.(*wsql.PgxTx)
		if !ok {
			return nil, fmt.Errorf("join delivery transaction: it is a %T, not pgx", wtx)
		}
		var batch *requestBatch
		if dt, ok := ptx.Tx.(*deliveryTx); ok {
			batch = dt.batch
		}
		if batch != nil {
			batch.forget(msg.UUID) // an earlier attempt's, when it ended without an error
		}
		msg.SetContext(context.WithValue(WithTx(ctx, ptx.Tx), messageKey{}, msg.UUID))
		out, err := h(msg)
		msg.SetContext(ctx)
		if err != nil && batch != nil {
			batch.forget(msg.UUID)
		}
		return out, err
	}
}
