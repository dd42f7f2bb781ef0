package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/domain/es"
)

// SubscriberConfig tunes a watermill-sql subscriber.
type SubscriberConfig struct {
	// PollInterval is how long to wait after finding no message.
	PollInterval time.Duration
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
	// Prefetch picks the messages whose stream the handlers load: in a batch, the first load of one
	// of them reads them all, in one query.
	Prefetch func(*message.Message) bool
}

// subscriberConn begins the subscriber's transactions with the settings of outboxSchema's query, and
// as redoable ones when asked.
type subscriberConn struct {
	*pgxpool.Pool
	redoable bool
	batches  *batchState
}

func (c subscriberConn) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	begin := "BEGIN"
	if opts.IsoLevel != "" {
		begin += " ISOLATION LEVEL " + string(opts.IsoLevel)
	}
	if opts.AccessMode != "" {
		begin += " " + string(opts.AccessMode)
	}
	begin += "; " + outboxSelectSetting
	if c.redoable {
		begin = RedoableBegin(begin)
	}
	opts.BeginQuery = begin
	tx, err := c.Pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return newBatchTx(tx, c.batches), nil
}

// outboxSelectSetting keeps outboxSchema's query on the primary key, in order; see outboxSchema.
// The handlers' statements in the same transaction read by key and are not affected.
const outboxSelectSetting = "SET LOCAL enable_sort = off"

// outboxSchema is watermill-sql's PostgreSQL schema with a select that reads only the batch it
// returns. watermill-sql's own select bounds its scan with an OR that no index can take, so each
// query read and sorted every message after the consumer's offset: a backlog of n messages cost
// O(n) per batch, O(n²) in all (2,000 shipped orders took 42 s to drain with batches of one, and
// 40 ms of CPU per order). Here the bound is a row comparison, which walks the primary key from the
// offset; sorting is disabled in the transaction so that stale statistics cannot bring back a plan
// that sorts the whole backlog.
type outboxSchema struct {
	wsql.DefaultPostgreSQLSchema
	partition *Partition
}

// SelectQuery returns the next batch after the consumer group's offset, in commit-safe order.
func (s outboxSchema) SelectQuery(params wsql.SelectQueryParams) (wsql.Query, error) {
	next, err := params.OffsetsAdapter.NextOffsetQuery(wsql.NextOffsetQueryParams{Topic: params.Topic, ConsumerGroup: params.ConsumerGroup})
	if err != nil {
		return wsql.Query{}, err
	}
	batch := max(s.SubscribeBatchSize, 1)
	return wsql.Query{Query: outboxSelect(next.Query, s.MessagesTable(params.Topic), batch, s.partition), Args: next.Args}, nil
}

// UnmarshalMessage reads a message and tells its batch's transaction about it (see batchTx).
func (s outboxSchema) UnmarshalMessage(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	row, err := s.DefaultPostgreSQLSchema.UnmarshalMessage(params)
	if err == nil {
		noteMessage(params.Row, row.Msg)
	}
	return row, err
}

func outboxSelect(nextOffset, table string, batch int, p *Partition) string {
	filter := ""
	if p != nil {
		// Messages written without a hash (before migration 007) belong to every partition.
		filter = fmt.Sprintf(` AND (stream_hash IS NULL OR stream_hash %% %d = %d)`, p.Of, p.Index)
	}
	return `WITH last_processed AS (` + nextOffset + `)
		SELECT "offset", transaction_id, uuid, payload, metadata FROM ` + table + `
		WHERE (transaction_id, "offset") > ((SELECT last_processed_transaction_id FROM last_processed), (SELECT offset_acked FROM last_processed))
		  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())` + filter + `
		ORDER BY transaction_id, "offset"
		LIMIT ` + strconv.Itoa(batch)
}

// Partition is the part of the order_events topic a consumer group reads: the messages of the
// streams whose es.StreamHash is Index modulo Of.
type Partition struct {
	Index, Of int
}

// outboxPublishSchema writes each order_events message with its stream's hash (migration 007), by
// which a partition's select finds its own. Other topics have no such column.
type outboxPublishSchema struct {
	wsql.DefaultPostgreSQLSchema
}

// InsertQuery inserts msgs into topic's table.
func (s outboxPublishSchema) InsertQuery(params wsql.InsertQueryParams) (wsql.Query, error) {
	if params.Topic != OrderEventsTopic {
		return s.DefaultPostgreSQLSchema.InsertQuery(params)
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + s.MessagesTable(params.Topic) + ` (uuid, payload, metadata, transaction_id, stream_hash) VALUES `)
	args := make([]any, 0, 4*len(params.Msgs))
	for i, msg := range params.Msgs {
		md, err := json.Marshal(msg.Metadata)
		if err != nil {
			return wsql.Query{}, fmt.Errorf("metadata of message %s: %w", msg.UUID, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "($%d,$%d,$%d,pg_current_xact_id(),$%d)", 4*i+1, 4*i+2, 4*i+3, 4*i+4)
		args = append(args, msg.UUID, []byte(msg.Payload), md, int64(es.StreamHash(msg.Metadata.Get(es.MsgStream))))
	}
	return wsql.Query{Query: b.String(), Args: args}, nil
}

// NewSubscriber returns a subscriber for one consumer group on the outbox tables. The tables come from
// the migrations, so it never creates schema.
func NewSubscriber(pool *pgxpool.Pool, consumerGroup string, cfg SubscriberConfig, logger watermill.LoggerAdapter) (message.Subscriber, error) {
	deadline := cfg.AckDeadline
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
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(subscriberConn{Pool: pool, redoable: cfg.Redoable, batches: &batchState{prefetch: cfg.Prefetch}}), wsql.SubscriberConfig{
		ConsumerGroup:    consumerGroup,
		PollInterval:     cfg.PollInterval,
		ResendInterval:   cfg.PollInterval,
		RetryInterval:    cfg.PollInterval,
		AckDeadline:      &deadline,
		SchemaAdapter:    outboxSchema{DefaultPostgreSQLSchema: wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: cfg.BatchSize}, partition: cfg.Partition},
		OffsetsAdapter:   wsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: false,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("subscriber %s: %w", consumerGroup, err)
	}
	return &drainingSubscriber{inner: sub, closing: make(chan struct{})}, nil
}

// drainingSubscriber lets the messages in hand finish before it closes the watermill-sql subscriber.
// Watermill's router closes its subscribers while handlers still run, and the watermill-sql
// subscriber then ends the delivering transaction: a handler writing through that transaction would
// find it gone under its feet.
type drainingSubscriber struct {
	inner    message.Subscriber
	closing  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	cancels  []context.CancelFunc
}

// Subscribe subscribes the inner subscriber with a context of its own: the router cancels ctx as soon
// as it starts closing, and watermill-sql would then end the delivering transaction at once. The
// inner context ends only when Close has drained the messages in hand.
func (d *drainingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	innerCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in, err := d.inner.Subscribe(innerCtx, topic)
	if err != nil {
		cancel()
		return nil, err
	}
	d.mu.Lock()
	d.cancels = append(d.cancels, cancel)
	d.mu.Unlock()
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for {
			var msg *message.Message
			var ok bool
			select {
			case <-d.closing:
				return
			case <-ctx.Done():
				// The router stopped without closing its subscribers: drain and stop the inner one
				// before telling the router this subscription ended.
				_ = d.Close()
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
			d.mu.Unlock()
			select {
			case out <- msg:
				go func() {
					defer d.inflight.Done()
					select {
					case <-msg.Acked():
					case <-msg.Nacked():
					}
				}()
			case <-ctx.Done():
				d.inflight.Done()
				_ = d.Close()
				return
			}
		}
	}()
	return out, nil
}

// Close stops handing out messages, waits up to 30 s for those in hand to be acked or nacked, then
// closes the subscriber.
func (d *drainingSubscriber) Close() error {
	d.once.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		close(d.closing)
	})
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	d.mu.Lock()
	for _, cancel := range d.cancels {
		cancel()
	}
	d.mu.Unlock()
	return d.inner.Close()
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
// retry, or the poison queue, still needs. Handlers that write nothing cost nothing. Writes that wait
// for the batch's commit (see batchTx) are dropped with the attempt that made them when it fails.
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
		batch, _ := ptx.Tx.(*batchTx)
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
