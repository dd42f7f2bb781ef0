package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// EventStore appends events to streams and reads them. It is also the outbox: each event is stored
// with its Watermill topic and its stream's hash, and the subscribers read the events table itself
// (see eventsSchema), so publishing an event costs no write of its own.
type EventStore struct {
	db    *DB
	now   func() time.Time
	topic func(streamID string) string
}

// EventStoreOption configures an EventStore.
type EventStoreOption func(*EventStore)

// WithClock sets the clock that stamps occurred_at (tests fix it).
func WithClock(now func() time.Time) EventStoreOption { return func(s *EventStore) { s.now = now } }

// WithTopics sets which topic a stream's events are published on; "" publishes them on none.
func WithTopics(topic func(streamID string) string) EventStoreOption {
	return func(s *EventStore) { s.topic = topic }
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
	s := &EventStore{db: db, now: time.Now, topic: DefaultTopics}
	for _, o := range opts {
		o(s)
	}
	return s
}

// DB returns the store's database, for adapters that write in the same transaction.
func (s *EventStore) DB() *DB { return s.db }

// appendSQL inserts n events, each row with its own stream. The events of all the streams of an
// AppendMany go in one such statement (two when some are IfAbsent): with a statement per stream, a
// group of 30 delivery outcomes cost the server 30 executor runs for 60 rows. Up to
// appendValuesMax rows it is a multi-row VALUES list, cheaper for the server than unnest over
// arrays; pgx prepares one statement per n on each connection, so larger groups take unnest, one
// statement for any n, instead of up to 64 more per connection.
func appendSQL(n int, ifAbsent bool) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, topic, stream_hash,
		correlation_id, causation_id, actor, occurred_at) `)
	if n > appendValuesMax {
		b.WriteString(`SELECT * FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::int[], $6::text[]::jsonb[], $7::text[], $8::bigint[],
			$9::text[], $10::text[], $11::text[], $12::timestamptz[])`)
	} else {
		b.WriteString(`VALUES `)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			p := 1 + i*appendColumns
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", p, p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+11)
		}
	}
	if ifAbsent {
		b.WriteString(` ON CONFLICT (stream_id, stream_version) DO NOTHING`)
	}
	b.WriteString(` RETURNING event_id, position, tx_id::text::bigint, recorded_at`)
	return b.String()
}

// appendArgs are the parameters of appendSQL for rows, appendColumns values per event: as they are
// for a VALUES list, by column for unnest.
func appendArgs(rows []any) []any {
	n := len(rows) / appendColumns
	if n <= appendValuesMax {
		return rows
	}
	streams, ids, types, datas := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	versions, schemas := make([]int32, n), make([]int32, n)
	topics, hashes := make([]*string, n), make([]int64, n)
	correlations, causations, actors, occurred := make([]string, n), make([]*string, n), make([]string, n), make([]time.Time, n)
	for i := range n {
		r := rows[i*appendColumns : (i+1)*appendColumns]
		streams[i], versions[i], ids[i], types[i] = r[0].(string), r[1].(int32), r[2].(string), r[3].(string)
		schemas[i], datas[i], topics[i], hashes[i] = r[4].(int32), r[5].(string), r[6].(*string), r[7].(int64)
		correlations[i], causations[i], actors[i], occurred[i] = r[8].(string), r[9].(*string), r[10].(string), r[11].(time.Time)
	}
	return []any{streams, versions, ids, types, schemas, datas, topics, hashes, correlations, causations, actors, occurred}
}

// appendValuesMax is the most rows appendSQL writes as a VALUES list.
const appendValuesMax = 8

// appendColumns is the number of parameters of one row of appendSQL.
const appendColumns = 12

// Statement is SQL to run in the same round trip and transaction as an append.
type Statement struct {
	SQL  string
	Args []any
	// OnUniqueViolation, when set, is returned in place of a unique violation this statement raises.
	OnUniqueViolation error
}

// Append writes events to the end of stream, which must be at version expected (or AnyVersion); each
// is published on its stream's topic by being stored (see EventStore). It joins the transaction in
// ctx; without one, its statements go in one pipelined batch, which PostgreSQL runs as one implicit
// transaction. A stale expected version is an es.ConflictError and writes nothing. Appending
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
		p, err := s.prepare(ctx, a)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	plan := planBatch(parts)
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
	for _, st := range plan.statements() {
		batch.Queue(st.SQL, st.Args...)
	}
	if savepoint {
		batch.Queue("RELEASE SAVEPOINT " + appendSavepoint)
	}
	failed, err := s.send(ctx, q, batch, plan, parts, savepoint)
	if _, inTx := TxFrom(ctx); err == nil && !inTx {
		s.db.Commits.Committed() // the batch was its own transaction, and has committed
	}
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

// ownedStatement is a statement of a batch with the append it belongs to, so that a failure is put
// down to its append.
type ownedStatement struct {
	Statement
	owner int
}

// batchPlan is the order of an AppendMany's statements: every append's Before statements; one INSERT of the events of the plain appends and one of the IfAbsent appends; every
// append's After statements.
type batchPlan struct {
	before, after []ownedStatement
	// plain and ifAbsent are the appends whose events each INSERT writes.
	plain, ifAbsent []int
	plainArgs       []any
	ifAbsentArgs    []any
}

func planBatch(parts []prepared) batchPlan {
	var p batchPlan
	for pi, part := range parts {
		if len(part.a.Events) == 0 {
			continue
		}
		if part.a.IfAbsent {
			p.ifAbsent = append(p.ifAbsent, pi)
			p.ifAbsentArgs = append(p.ifAbsentArgs, part.rows...)
		} else {
			p.plain = append(p.plain, pi)
			p.plainArgs = append(p.plainArgs, part.rows...)
		}
	}
	p.before = gather(parts, func(a StreamAppend) []Statement { return a.Before })
	p.after = gather(parts, func(a StreamAppend) []Statement { return a.After })
	return p
}

// statements are the plan's statements in the order they run.
func (p batchPlan) statements() []Statement {
	var out []Statement
	for _, st := range p.before {
		out = append(out, st.Statement)
	}
	if len(p.plain) > 0 {
		out = append(out, Statement{SQL: appendSQL(len(p.plainArgs)/appendColumns, false), Args: appendArgs(p.plainArgs)})
	}
	if len(p.ifAbsent) > 0 {
		out = append(out, Statement{SQL: appendSQL(len(p.ifAbsentArgs)/appendColumns, true), Args: appendArgs(p.ifAbsentArgs)})
	}
	for _, st := range p.after {
		out = append(out, st.Statement)
	}
	return out
}

// gather lists the statements pick takes from each append that has events, in order.
func gather(parts []prepared, pick func(StreamAppend) []Statement) []ownedStatement {
	var out []ownedStatement
	for pi, part := range parts {
		if len(part.a.Events) == 0 {
			continue
		}
		for _, st := range pick(part.a) {
			out = append(out, ownedStatement{Statement: st, owner: pi})
		}
	}
	return out
}

type errDuplicateEventID struct{ error }

// prepared is one stream's part of a batch: its events as they will be recorded and their rows of
// the events INSERT.
type prepared struct {
	a    StreamAppend
	recs []RecordedEvent
	rows []any // appendColumns per event
}

// prepare gives a stream's events their ids, versions and metadata.
func (s *EventStore) prepare(ctx context.Context, a StreamAppend) (prepared, error) {
	stream, expected, events := a.Stream, a.Expected, a.Events
	cause := es.CausationFrom(ctx)
	if a.Cause != nil {
		cause = *a.Cause
	}
	if cause.CorrelationID == "" {
		cause.CorrelationID = es.NewID().String()
	}
	now := s.now().UTC().Truncate(time.Microsecond) // as the occurred_at column keeps it
	// topic stays nil (NULL) for a stream on no topic.
	var topic *string
	if t := s.topic(stream); t != "" {
		topic = &t
	}
	hash := int64(es.StreamHash(stream))
	var causation *string // NULL: caused by no event or request of ours
	if cause.CausationID != "" {
		causation = &cause.CausationID
	}
	recs := make([]RecordedEvent, len(events))
	rows := make([]any, 0, appendColumns*len(events))
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
		recs[i] = RecordedEvent{StreamID: stream, StreamVersion: expected + i + 1, EventID: e.ID, Type: e.Type,
			SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: md}
		rows = append(rows, stream, int32(recs[i].StreamVersion), e.ID.String(), e.Type, int32(e.SchemaVersion), string(e.Data), topic, hash,
			md.CorrelationID, causation, string(md.Actor), md.OccurredAt)
	}
	return prepared{a: a, recs: recs, rows: rows}, nil
}

// send runs the batch and fills in what the database assigned: positions, transaction id, time. On
// failure it says which stream's statements failed. With savepoint, the batch begins and ends with
// the savepoint's statements.
func (s *EventStore) send(ctx context.Context, q Querier, batch *pgx.Batch, plan batchPlan, parts []prepared, savepoint bool) (failed int, err error) {
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
	for _, st := range plan.before {
		if _, err := br.Exec(); err != nil {
			if st.OnUniqueViolation != nil && isCode(err, "23505") {
				return st.owner, st.OnUniqueViolation
			}
			return st.owner, err
		}
	}
	stored := map[uuid.UUID]*RecordedEvent{}
	for _, group := range [][]int{plan.plain, plan.ifAbsent} {
		if len(group) == 0 {
			continue
		}
		for _, pi := range group {
			for i := range parts[pi].recs {
				stored[parts[pi].recs[i].EventID] = &parts[pi].recs[i]
			}
		}
		if pi, err := readStored(br, stored); err != nil {
			if pi < 0 {
				pi = failedStream(err, parts, group)
			}
			return pi, err
		}
	}
	for _, pi := range plan.plain {
		for _, r := range parts[pi].recs {
			if r.Position == 0 {
				return pi, fmt.Errorf("event %s was not stored", r.EventID)
			}
		}
	}
	for _, pi := range plan.ifAbsent {
		for _, r := range parts[pi].recs {
			if r.Position == 0 {
				parts[pi].recs = nil // the stream was there, nothing went in
				break
			}
		}
	}
	for _, st := range plan.after {
		if _, err := br.Exec(); err != nil {
			return st.owner, err
		}
	}
	return 0, nil
}

// readStored reads the RETURNING rows of an events INSERT into the events of stored, by event id.
// On failure it returns the index of the append at fault when it knows it, or -1.
func readStored(br pgx.BatchResults, stored map[uuid.UUID]*RecordedEvent) (int, error) {
	rows, err := br.Query()
	if err != nil {
		return -1, classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   uuid.UUID
			txID int64
			pos  int64
			at   time.Time
		)
		if err := rows.Scan(&id, &pos, &txID, &at); err != nil {
			return -1, fmt.Errorf("scan: %w", err)
		}
		r, ok := stored[id]
		if !ok {
			return -1, fmt.Errorf("the insert returned event %s, which it was not given", id)
		}
		r.Position, r.TxID, r.RecordedAt = pos, uint64(txID), at
	}
	if err := rows.Err(); err != nil {
		return -1, classify(err)
	}
	return 0, nil
}

// failedStream finds the append of group that an events INSERT failed for: the stream a unique
// violation names, or the first.
func failedStream(err error, parts []prepared, group []int) int {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Key (stream_id, stream_version)=(order-…, 3) already exists.
		if _, key, ok := strings.Cut(pgErr.Detail, ")=("); ok {
			if i := strings.LastIndex(key, ", "); i > 0 {
				for _, pi := range group {
					if parts[pi].a.Stream == key[:i] {
						return pi
					}
				}
			}
		}
	}
	return group[0]
}

func classify(err error) error {
	if isConstraint(err, "events_pkey") { // the event id (migration 015)
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

// EventMessage is the Watermill message of a recorded event, as a subscriber of its topic receives it.
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

// selectEvents reads events with their metadata.
const selectEvents = `SELECT position, tx_id::text::bigint AS tx_num, stream_id, stream_version, event_id, type, schema_version,
	data, ` + selectEventsTail

// selectEventsDataOf is selectEvents reading the data only of the events of streams whose id starts
// with $4; the others come with none.
const selectEventsDataOf = `SELECT position, tx_id::text::bigint AS tx_num, stream_id, stream_version, event_id, type, schema_version,
	CASE WHEN starts_with(stream_id, $4) THEN data END, ` + selectEventsTail

const selectEventsTail = `correlation_id, coalesce(causation_id, ''), actor, occurred_at, recorded_at FROM events`

func scanEvents(rows pgx.Rows) ([]RecordedEvent, error) {
	defer rows.Close()
	var out []RecordedEvent
	for rows.Next() {
		var (
			r     RecordedEvent
			txID  int64
			actor string
			data  []byte // not json.RawMessage: pgx would validate it through json.Unmarshal
		)
		if err := rows.Scan(&r.Position, &txID, &r.StreamID, &r.StreamVersion, &r.EventID, &r.Type, &r.SchemaVersion, &data,
			&r.Metadata.CorrelationID, &r.Metadata.CausationID, &actor, &r.Metadata.OccurredAt, &r.RecordedAt); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		r.TxID, r.Data = uint64(txID), data
		r.Metadata.EventID, r.Metadata.Actor, r.Metadata.SchemaVersion = r.EventID, es.Actor(actor), r.SchemaVersion
		r.Metadata.OccurredAt = r.Metadata.OccurredAt.UTC()
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
