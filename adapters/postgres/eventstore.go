package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// Expected versions with a special meaning for Append.
const (
	// AnyVersion appends after whatever the stream holds.
	AnyVersion = -1
	// NoStream appends only when the stream does not exist yet.
	NoStream = 0
)

// OrderEventsTopic is the outbox topic that order events are published on.
const OrderEventsTopic = "order_events"

// NewEvent is an event about to be appended.
type NewEvent struct {
	ID            uuid.UUID // generated when zero
	Type          string
	SchemaVersion int             // 1 when zero
	Data          json.RawMessage // the payload, JSON
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	Position      int64
	TxID          uint64
	StreamID      string
	StreamVersion int
	EventID       uuid.UUID
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      es.Metadata
	RecordedAt    time.Time
}

// Checkpoint is a place in the commit-safe order of all events: (transaction id, position).
type Checkpoint struct {
	TxID     uint64
	Position int64
}

// Checkpoint returns the place of e in the commit-safe order.
func (e RecordedEvent) Checkpoint() Checkpoint { return Checkpoint{TxID: e.TxID, Position: e.Position} }

// EventStore appends events to streams and publishes them to the outbox in the same transaction.
type EventStore struct {
	db     *DB
	now    func() time.Time
	topic  func(streamID string) string
	schema wsql.DefaultPostgreSQLSchema
	logger watermill.LoggerAdapter
}

// EventStoreOption configures an EventStore.
type EventStoreOption func(*EventStore)

// WithClock sets the clock that stamps occurred_at (tests fix it).
func WithClock(now func() time.Time) EventStoreOption { return func(s *EventStore) { s.now = now } }

// WithTopics sets which outbox topic a stream's events go to; "" keeps them out of the outbox.
func WithTopics(topic func(streamID string) string) EventStoreOption {
	return func(s *EventStore) { s.topic = topic }
}

// WithWatermillLogger sets the logger the outbox publisher uses.
func WithWatermillLogger(l watermill.LoggerAdapter) EventStoreOption {
	return func(s *EventStore) { s.logger = l }
}

// DefaultTopics sends order streams to OrderEventsTopic and keeps everything else out of the outbox.
func DefaultTopics(streamID string) string {
	if strings.HasPrefix(streamID, order.StreamPrefix) {
		return OrderEventsTopic
	}
	return ""
}

// NewEventStore returns a store on db.
func NewEventStore(db *DB, opts ...EventStoreOption) *EventStore {
	s := &EventStore{db: db, now: time.Now, topic: DefaultTopics, logger: watermill.NopLogger{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// DB returns the store's database, for adapters that write in the same transaction.
func (s *EventStore) DB() *DB { return s.db }

// appendSQL inserts n events with a multi-row VALUES list: cheaper for the server than unnest over
// arrays, and pgx keeps one prepared statement per n (n is small: one to three events per decision).
func appendSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, metadata) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		p := 2 + i*6
		fmt.Fprintf(&b, "($1, $%d, $%d, $%d, $%d, $%d, $%d)", p, p+1, p+2, p+3, p+4, p+5)
	}
	b.WriteString(` RETURNING position, tx_id::text::bigint, recorded_at`)
	return b.String()
}

// Statement is SQL to run in the same round trip and transaction as an append.
type Statement struct {
	SQL  string
	Args []any
	// OnUniqueViolation, when set, is returned in place of a unique violation this statement raises.
	OnUniqueViolation error
	// Setting marks a statement that only sets something for the rest of the transaction (a
	// set_config(…, true)). A batch runs each distinct one once, before every append's statements,
	// however many appends ask for it.
	Setting bool
}

// hoistSettings takes the Setting statements out of the appends' Before statements and returns them
// once each, in the order first asked for, with copies of the appends without them.
func hoistSettings(appends []StreamAppend) ([]Statement, []StreamAppend) {
	var settings []Statement
	seen := map[string]bool{}
	out, copied := appends, false
	for i, a := range appends {
		var before []Statement
		for _, st := range a.Before {
			if !st.Setting {
				before = append(before, st)
				continue
			}
			if !seen[st.SQL] {
				seen[st.SQL] = true
				settings = append(settings, st)
			}
		}
		if len(before) != len(a.Before) {
			if !copied {
				out, copied = append([]StreamAppend(nil), appends...), true
			}
			out[i].Before = before
		}
	}
	return settings, out
}

// Append writes events to the end of stream, which must be at version expected (or AnyVersion), and
// publishes one outbox message per event in the same transaction. It joins the transaction in ctx;
// without one, the events and their messages go in one pipelined batch, which PostgreSQL runs as one
// implicit transaction. A stale expected version is an es.ConflictError and writes nothing. Appending
// events whose ids are all stored in the stream already returns them as stored and writes nothing.
func (s *EventStore) Append(ctx context.Context, stream string, expected int, events ...NewEvent) ([]RecordedEvent, error) {
	return s.AppendWith(ctx, stream, expected, nil, events...)
}

// AppendWith is Append with statements that run first, in the same transaction and round trip, such
// as the claim of a unique order number.
func (s *EventStore) AppendWith(ctx context.Context, stream string, expected int, before []Statement, events ...NewEvent) ([]RecordedEvent, error) {
	out, err := s.AppendMany(ctx, StreamAppend{Stream: stream, Expected: expected, Before: before, Events: events})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// StreamAppend is one stream's part of AppendMany.
type StreamAppend struct {
	Stream   string
	Expected int
	// Cause, when set, is the causation of the events in place of the one in the context: appends
	// made for several callers in one call each keep their own.
	Cause *es.Causation
	// IfAbsent, with Expected NoStream, appends only when the stream does not exist yet; otherwise
	// the append does nothing instead of failing with a conflict.
	IfAbsent bool
	// Before are statements run just before this stream's events, in the same round trip.
	Before []Statement
	// After are statements run just after them, whether or not they went in: with IfAbsent, give the
	// events ids and look for them to tell.
	After  []Statement
	Events []NewEvent
}

// AppendMany appends to several streams in one round trip and one transaction (the one in ctx, or
// the batch's own): all of them or none.
func (s *EventStore) AppendMany(ctx context.Context, appends ...StreamAppend) ([][]RecordedEvent, error) {
	return s.appendMany(ctx, false, appends)
}

// AppendManyInSavepoint is AppendMany for a caller that goes on using its transaction when the
// appends fail (to retry, or to record the failure): in the caller's transaction they run in a
// savepoint, sent in the same round trip, that a failure rolls back.
func (s *EventStore) AppendManyInSavepoint(ctx context.Context, appends ...StreamAppend) ([][]RecordedEvent, error) {
	return s.appendMany(ctx, true, appends)
}

// appendSavepoint is the savepoint of AppendManyInSavepoint. It is released in the same round trip,
// so one name serves every call.
const appendSavepoint = "append_many"

func (s *EventStore) appendMany(ctx context.Context, savepoint bool, appends []StreamAppend) (_ [][]RecordedEvent, err error) {
	q := s.db.Q(ctx)
	if _, inTx := TxFrom(ctx); !inTx {
		savepoint = false // the batch is its own transaction
	}
	settings, appends := hoistSettings(appends)
	batch := &pgx.Batch{}
	if savepoint {
		batch.Queue("SAVEPOINT " + appendSavepoint)
		defer func() {
			if err == nil {
				return
			}
			// The context may be cancelled already; the rollback must still reach the server.
			if _, rerr := q.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+appendSavepoint+"; RELEASE SAVEPOINT "+appendSavepoint); rerr != nil {
				err = errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
			}
		}()
	}
	for _, st := range settings {
		batch.Queue(st.SQL, st.Args...)
	}
	parts := make([]prepared, 0, len(appends))
	for _, a := range appends {
		if len(a.Events) == 0 {
			parts = append(parts, prepared{a: a})
			continue
		}
		if a.Expected == AnyVersion {
			if err := q.QueryRow(ctx, `SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1`, a.Stream).Scan(&a.Expected); err != nil {
				return nil, fmt.Errorf("append to %s: read version: %w", a.Stream, err)
			}
		}
		p, err := s.prepare(ctx, batch, a)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	if savepoint {
		batch.Queue("RELEASE SAVEPOINT " + appendSavepoint)
	}
	failed, err := s.send(ctx, q, batch, len(settings), parts, savepoint)
	if err == nil {
		out := make([][]RecordedEvent, len(parts))
		for i, p := range parts {
			out[i] = p.recs
		}
		return out, nil
	}
	a := parts[failed].a
	var dup errDuplicateEventID
	if errors.As(err, &dup) && len(parts) == 1 {
		if _, inTx := TxFrom(ctx); !inTx {
			// A retried append: answer with what the first one stored.
			recs, err := s.alreadyAppended(ctx, q, a.Stream, parts[0].recs)
			if err != nil {
				return nil, err
			}
			return [][]RecordedEvent{recs}, nil
		}
	}
	if isConstraint(err, "events_stream_id_stream_version_key") {
		return nil, fmt.Errorf("append to %s: %w", a.Stream, &es.ConflictError{Stream: a.Stream, Expected: a.Expected, Actual: -1})
	}
	return nil, fmt.Errorf("append to %s: %w", a.Stream, err)
}

type errDuplicateEventID struct{ error }

// prepared is one stream's statements in a batch: its Before statements, one INSERT of its events,
// and its outbox INSERTs.
type prepared struct {
	a       StreamAppend
	recs    []RecordedEvent
	nOutbox int
}

// prepare queues a stream's statements on batch.
func (s *EventStore) prepare(ctx context.Context, batch *pgx.Batch, a StreamAppend) (prepared, error) {
	stream, expected, events := a.Stream, a.Expected, a.Events
	cause := es.CausationFrom(ctx)
	if a.Cause != nil {
		cause = *a.Cause
	}
	if cause.CorrelationID == "" {
		cause.CorrelationID = es.NewID().String()
	}
	now := s.now().UTC()
	n := len(events)
	ids := make([]string, n)
	types := make([]string, n)
	versions := make([]int32, n)
	datas := make([]string, n)
	metas := make([]string, n)
	recs := make([]RecordedEvent, n)
	for i, e := range events {
		if e.ID == uuid.Nil {
			e.ID = es.NewID()
		}
		if e.SchemaVersion == 0 {
			e.SchemaVersion = 1
		}
		if e.Type == "" {
			return prepared{}, fmt.Errorf("append to %s: event %d has no type", stream, i)
		}
		if !json.Valid(e.Data) {
			return prepared{}, fmt.Errorf("append %s to %s: data is not JSON", e.Type, stream)
		}
		md := es.Metadata{EventID: e.ID, CorrelationID: cause.CorrelationID, CausationID: cause.CausationID,
			Actor: cause.Actor, OccurredAt: now, SchemaVersion: e.SchemaVersion}
		mdJSON, err := json.Marshal(md)
		if err != nil {
			return prepared{}, fmt.Errorf("append %s to %s: metadata: %w", e.Type, stream, err)
		}
		ids[i], types[i], versions[i], datas[i], metas[i] = e.ID.String(), e.Type, int32(e.SchemaVersion), string(e.Data), string(mdJSON)
		recs[i] = RecordedEvent{StreamID: stream, StreamVersion: expected + i + 1, EventID: e.ID, Type: e.Type,
			SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: md}
	}
	for _, st := range a.Before {
		batch.Queue(st.SQL, st.Args...)
	}
	args := make([]any, 0, 1+6*n)
	args = append(args, stream)
	for i := range recs {
		args = append(args, recs[i].StreamVersion, ids[i], types[i], versions[i], datas[i], metas[i])
	}
	sql := appendSQL(n)
	if a.IfAbsent {
		sql = strings.Replace(sql, " RETURNING ", " ON CONFLICT (stream_id, stream_version) DO NOTHING RETURNING ", 1)
	}
	batch.Queue(sql, args...)
	for _, st := range a.After {
		batch.Queue(st.SQL, st.Args...)
	}
	before := batch.Len()
	if topic := s.topic(stream); topic != "" {
		if err := s.publish(ctx, batch, topic, recs); err != nil {
			return prepared{}, fmt.Errorf("append to %s: outbox: %w", stream, err)
		}
	}
	return prepared{a: a, recs: recs, nOutbox: batch.Len() - before}, nil
}

// send runs the batch and fills in what the database assigned: positions, transaction id, time. On
// failure it says which stream's statements failed. With savepoint, the batch begins and ends with
// the savepoint's statements.
func (s *EventStore) send(ctx context.Context, q Querier, batch *pgx.Batch, settings int, parts []prepared, savepoint bool) (failed int, err error) {
	br := q.SendBatch(ctx, batch)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = classify(cerr)
		}
	}()
	if savepoint {
		if _, err := br.Exec(); err != nil {
			return 0, fmt.Errorf("savepoint: %w", err)
		}
		defer func() {
			if err == nil {
				if _, rerr := br.Exec(); rerr != nil {
					err = fmt.Errorf("release savepoint: %w", rerr)
				}
			}
		}()
	}
	for range settings {
		if _, err := br.Exec(); err != nil {
			return 0, fmt.Errorf("settings: %w", err)
		}
	}
	for pi, p := range parts {
		if len(p.a.Events) == 0 {
			continue
		}
		for _, st := range p.a.Before {
			if _, err := br.Exec(); err != nil {
				if st.OnUniqueViolation != nil && isCode(err, "23505") {
					return pi, st.OnUniqueViolation
				}
				return pi, err
			}
		}
		rows, err := br.Query()
		if err != nil {
			return pi, classify(err)
		}
		i := 0
		for rows.Next() {
			var txID int64
			if i >= len(p.recs) {
				rows.Close()
				return pi, fmt.Errorf("more rows than events")
			}
			if err := rows.Scan(&p.recs[i].Position, &txID, &p.recs[i].RecordedAt); err != nil {
				rows.Close()
				return pi, fmt.Errorf("scan: %w", err)
			}
			p.recs[i].TxID = uint64(txID)
			i++
		}
		if err := rows.Err(); err != nil {
			return pi, classify(err)
		}
		if i < len(p.recs) {
			parts[pi].recs = nil // IfAbsent: the stream was there, nothing went in
		}
		for range p.a.After {
			if _, err := br.Exec(); err != nil {
				return pi, err
			}
		}
		for j := 0; j < p.nOutbox; j++ {
			if _, err := br.Exec(); err != nil {
				return pi, fmt.Errorf("outbox: %w", err)
			}
		}
	}
	return 0, nil
}

func classify(err error) error {
	if isConstraint(err, "events_event_id_key") {
		return errDuplicateEventID{err}
	}
	return err
}

// alreadyAppended answers a retried append whose events are all stored: it returns them as stored.
func (s *EventStore) alreadyAppended(ctx context.Context, q Querier, stream string, want []RecordedEvent) ([]RecordedEvent, error) {
	ids := make([]string, len(want))
	for i, r := range want {
		ids[i] = r.EventID.String()
	}
	rows, err := q.Query(ctx, selectEvents+` WHERE event_id = ANY($1::uuid[]) ORDER BY position`, ids)
	if err != nil {
		return nil, fmt.Errorf("append to %s: read stored events: %w", stream, err)
	}
	recs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", stream, err)
	}
	if len(recs) != len(want) {
		return nil, fmt.Errorf("append to %s: %d of %d event ids were stored before", stream, len(recs), len(want))
	}
	for _, r := range recs {
		if r.StreamID != stream {
			return nil, fmt.Errorf("append to %s: event %s is already stored in %s", stream, r.EventID, r.StreamID)
		}
	}
	return recs, nil
}

// publish queues one Watermill message per event into the batch through watermill-sql's publisher,
// so that the outbox rows are written in the same transaction and round trip as the events.
func (s *EventStore) publish(ctx context.Context, batch *pgx.Batch, topic string, recs []RecordedEvent) error {
	pub, err := wsql.NewPublisher(batchExecutor{batch}, wsql.PublisherConfig{SchemaAdapter: s.schema}, s.logger)
	if err != nil {
		return fmt.Errorf("new publisher: %w", err)
	}
	msgs := make([]*message.Message, len(recs))
	for i, r := range recs {
		msgs[i] = EventMessage(ctx, r)
	}
	return pub.Publish(topic, msgs...)
}

// batchExecutor gives watermill-sql's publisher a place to put its INSERT: the batch that also writes
// the events. The statement runs when the batch is sent; its result is read there.
type batchExecutor struct{ batch *pgx.Batch }

func (b batchExecutor) ExecContext(_ context.Context, query string, args ...any) (wsql.Result, error) {
	b.batch.Queue(query, args...)
	return queuedResult{}, nil
}

func (b batchExecutor) QueryContext(context.Context, string, ...any) (wsql.Rows, error) {
	return nil, errors.New("outbox batch: queries are not supported, only inserts")
}

type queuedResult struct{}

func (queuedResult) RowsAffected() (int64, error) { return 0, errors.New("outbox batch: not sent yet") }

// EventMessage is the outbox message of a recorded event.
func EventMessage(ctx context.Context, r RecordedEvent) *message.Message {
	msg := message.NewMessage(r.EventID.String(), message.Payload(r.Data))
	msg.Metadata = message.Metadata{
		es.MsgType:          r.Type,
		es.MsgStream:        r.StreamID,
		es.MsgStreamVersion: strconv.Itoa(r.StreamVersion),
		es.MsgCorrelationID: r.Metadata.CorrelationID,
		es.MsgActor:         string(r.Metadata.Actor),
		es.MsgOccurredAt:    r.Metadata.OccurredAt.Format(time.RFC3339Nano),
		es.MsgSchemaVersion: strconv.Itoa(r.SchemaVersion),
	}
	if r.Metadata.CausationID != "" {
		msg.Metadata[es.MsgCausationID] = r.Metadata.CausationID
	}
	msg.SetContext(ctx)
	return msg
}

// selectEvents reads events with their metadata fields extracted by the server: cheaper than sending
// the metadata document and decoding it again for every event of a long replay.
const selectEvents = `SELECT position, tx_id::text::bigint AS tx_num, stream_id, stream_version, event_id, type, schema_version,
	data, ` + selectEventsTail

// selectEventsDataOf is selectEvents reading the data only of the events of streams whose id starts
// with $4; the others come with none.
const selectEventsDataOf = `SELECT position, tx_id::text::bigint AS tx_num, stream_id, stream_version, event_id, type, schema_version,
	CASE WHEN starts_with(stream_id, $4) THEN data END, ` + selectEventsTail

const selectEventsTail = `metadata->>'correlation_id', coalesce(metadata->>'causation_id', ''), metadata->>'actor',
	metadata->>'occurred_at', recorded_at FROM events`

func scanEvents(rows pgx.Rows) ([]RecordedEvent, error) {
	defer rows.Close()
	var out []RecordedEvent
	for rows.Next() {
		var (
			r          RecordedEvent
			txID       int64
			actor, occ string
			data       []byte // not json.RawMessage: pgx would validate it through json.Unmarshal
		)
		if err := rows.Scan(&r.Position, &txID, &r.StreamID, &r.StreamVersion, &r.EventID, &r.Type,
			&r.SchemaVersion, &data, &r.Metadata.CorrelationID, &r.Metadata.CausationID, &actor, &occ, &r.RecordedAt); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		r.TxID, r.Data = uint64(txID), data
		at, err := time.Parse(time.RFC3339Nano, occ)
		if err != nil {
			return nil, fmt.Errorf("event %d occurred_at: %w", r.Position, err)
		}
		r.Metadata.EventID, r.Metadata.Actor, r.Metadata.OccurredAt, r.Metadata.SchemaVersion = r.EventID, es.Actor(actor), at, r.SchemaVersion
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// Load returns a stream's events in version order; an unknown stream has none.
func (s *EventStore) Load(ctx context.Context, stream string) ([]RecordedEvent, error) {
	rows, err := s.db.Q(ctx).Query(ctx, selectEvents+` WHERE stream_id = $1 ORDER BY stream_version`, stream)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", stream, err)
	}
	recs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", stream, err)
	}
	return recs, nil
}

// ReadAll returns up to limit events after cp in commit-safe order. It stops before any event whose
// transaction started before the oldest one still running, so that a transaction committing late is
// read in its place rather than skipped: a reader that saves the last event's checkpoint and reads on
// from there sees every committed event exactly once.
func (s *EventStore) ReadAll(ctx context.Context, after Checkpoint, limit int) ([]RecordedEvent, error) {
	rows, err := s.db.Q(ctx).Query(ctx, selectEvents+readAllWhere, strconv.FormatUint(after.TxID, 10), after.Position, limit)
	if err != nil {
		return nil, fmt.Errorf("read all after %d/%d: %w", after.TxID, after.Position, err)
	}
	return scanEvents(rows)
}

const readAllWhere = `
		WHERE (tx_id, position) > ($1::text::xid8, $2)
		  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY events.tx_id, events.position
		LIMIT $3`

// ReadAllDataOf is ReadAll for a reader that applies the events of one kind of stream only: the
// events of streams whose id does not start with prefix come without their data, which the server
// then neither prints nor sends. They still come, so that the reader's checkpoint moves past them.
func (s *EventStore) ReadAllDataOf(ctx context.Context, after Checkpoint, limit int, prefix string) ([]RecordedEvent, error) {
	rows, err := s.db.Q(ctx).Query(ctx, selectEventsDataOf+readAllWhere, strconv.FormatUint(after.TxID, 10), after.Position, limit, prefix)
	if err != nil {
		return nil, fmt.Errorf("read all after %d/%d: %w", after.TxID, after.Position, err)
	}
	return scanEvents(rows)
}
