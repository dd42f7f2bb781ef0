package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/domain/es"
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
	if len(streamID) > 6 && streamID[:6] == "order-" {
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

const appendSQL = `
INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, metadata)
SELECT $1, base.v + e.ord, e.event_id, e.type, e.schema_version, e.data, e.metadata
FROM unnest($3::uuid[], $4::text[], $5::int[], $6::text[]::jsonb[], $7::text[]::jsonb[])
     WITH ORDINALITY AS e(event_id, type, schema_version, data, metadata, ord),
     (SELECT CASE WHEN $2::int >= 0 THEN $2::int
                  ELSE (SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1) END AS v) AS base
ORDER BY e.ord
ON CONFLICT (event_id) DO NOTHING
RETURNING position, tx_id::text::bigint, stream_version, event_id, recorded_at`

// Append writes events to the end of stream, which must be at version expected (or AnyVersion), and
// publishes one outbox message per event in the same transaction. It joins the transaction in ctx or
// opens its own. A stale expected version is an es.ConflictError and writes nothing. Appending events
// whose ids are already stored in the stream returns them as they were and writes nothing.
func (s *EventStore) Append(ctx context.Context, stream string, expected int, events ...NewEvent) ([]RecordedEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var out []RecordedEvent
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx, _ := TxFrom(ctx)
		var err error
		out, err = s.appendTx(ctx, tx, stream, expected, events)
		return err
	})
	return out, err
}

func (s *EventStore) appendTx(ctx context.Context, tx pgx.Tx, stream string, expected int, events []NewEvent) ([]RecordedEvent, error) {
	cause := es.CausationFrom(ctx)
	if cause.CorrelationID == "" {
		cause.CorrelationID = uuid.NewString()
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
			e.ID = uuid.New()
		}
		if e.SchemaVersion == 0 {
			e.SchemaVersion = 1
		}
		if e.Type == "" {
			return nil, fmt.Errorf("append to %s: event %d has no type", stream, i)
		}
		if !json.Valid(e.Data) {
			return nil, fmt.Errorf("append %s to %s: data is not JSON", e.Type, stream)
		}
		md := es.Metadata{EventID: e.ID, CorrelationID: cause.CorrelationID, CausationID: cause.CausationID,
			Actor: cause.Actor, OccurredAt: now, SchemaVersion: e.SchemaVersion}
		mdJSON, err := json.Marshal(md)
		if err != nil {
			return nil, fmt.Errorf("append %s to %s: metadata: %w", e.Type, stream, err)
		}
		ids[i], types[i], versions[i], datas[i], metas[i] = e.ID.String(), e.Type, int32(e.SchemaVersion), string(e.Data), string(mdJSON)
		recs[i] = RecordedEvent{StreamID: stream, EventID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: md}
	}

	rows, err := tx.Query(ctx, appendSQL, stream, expected, ids, types, versions, datas, metas)
	if err != nil {
		return nil, s.appendError(stream, expected, err)
	}
	inserted := 0
	byID := make(map[uuid.UUID]int, n)
	for i, r := range recs {
		byID[r.EventID] = i
	}
	for rows.Next() {
		var (
			pos, txID int64
			version   int
			id        uuid.UUID
			at        time.Time
		)
		if err := rows.Scan(&pos, &txID, &version, &id, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("append to %s: scan: %w", stream, err)
		}
		r := &recs[byID[id]]
		r.Position, r.TxID, r.StreamVersion, r.RecordedAt = pos, uint64(txID), version, at
		inserted++
	}
	if err := rows.Err(); err != nil {
		return nil, s.appendError(stream, expected, err)
	}
	switch {
	case inserted == 0:
		return s.alreadyAppended(ctx, tx, stream, ids)
	case inserted < n:
		return nil, fmt.Errorf("append to %s: %d of %d event ids were stored before", stream, n-inserted, n)
	}
	if topic := s.topic(stream); topic != "" {
		if err := s.publish(ctx, tx, topic, recs); err != nil {
			return nil, fmt.Errorf("append to %s: outbox: %w", stream, err)
		}
	}
	return recs, nil
}

func (s *EventStore) appendError(stream string, expected int, err error) error {
	if isCode(err, "23505") { // unique_violation on (stream_id, stream_version)
		return fmt.Errorf("append to %s: %w", stream, &es.ConflictError{Stream: stream, Expected: expected, Actual: -1})
	}
	return fmt.Errorf("append to %s: %w", stream, err)
}

// alreadyAppended answers a retried append whose events are all stored: it returns them as stored.
func (s *EventStore) alreadyAppended(ctx context.Context, tx pgx.Tx, stream string, ids []string) ([]RecordedEvent, error) {
	rows, err := tx.Query(ctx, selectEvents+` WHERE event_id = ANY($1::uuid[]) ORDER BY position`, ids)
	if err != nil {
		return nil, fmt.Errorf("append to %s: read stored events: %w", stream, err)
	}
	recs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", stream, err)
	}
	for _, r := range recs {
		if r.StreamID != stream {
			return nil, fmt.Errorf("append to %s: event %s is already stored in %s", stream, r.EventID, r.StreamID)
		}
	}
	return recs, nil
}

// publish writes one Watermill message per event into the outbox table through watermill-sql, on the
// same transaction as the events.
func (s *EventStore) publish(ctx context.Context, tx pgx.Tx, topic string, recs []RecordedEvent) error {
	pub, err := wsql.NewPublisher(wsql.TxFromPgx(tx), wsql.PublisherConfig{SchemaAdapter: s.schema}, s.logger)
	if err != nil {
		return fmt.Errorf("new publisher: %w", err)
	}
	msgs := make([]*message.Message, len(recs))
	for i, r := range recs {
		msgs[i] = EventMessage(ctx, r)
	}
	return pub.Publish(topic, msgs...)
}

// EventMessage is the outbox message of a recorded event.
func EventMessage(ctx context.Context, r RecordedEvent) *message.Message {
	msg := message.NewMessage(r.EventID.String(), message.Payload(r.Data))
	msg.Metadata = message.Metadata{
		es.MsgType:          r.Type,
		es.MsgStream:        r.StreamID,
		es.MsgStreamVersion: strconv.Itoa(r.StreamVersion),
		es.MsgPosition:      strconv.FormatInt(r.Position, 10),
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

const selectEvents = `SELECT position, tx_id::text::bigint, stream_id, stream_version, event_id, type, schema_version,
	data, metadata, recorded_at FROM events`

func scanEvents(rows pgx.Rows) ([]RecordedEvent, error) {
	defer rows.Close()
	var out []RecordedEvent
	for rows.Next() {
		var (
			r    RecordedEvent
			txID int64
			md   []byte
		)
		if err := rows.Scan(&r.Position, &txID, &r.StreamID, &r.StreamVersion, &r.EventID, &r.Type,
			&r.SchemaVersion, &r.Data, &md, &r.RecordedAt); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		r.TxID = uint64(txID)
		if err := json.Unmarshal(md, &r.Metadata); err != nil {
			return nil, fmt.Errorf("event %d metadata: %w", r.Position, err)
		}
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
	rows, err := s.db.Q(ctx).Query(ctx, selectEvents+`
		WHERE (tx_id, position) > ($1::text::xid8, $2)
		  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY tx_id, position
		LIMIT $3`, strconv.FormatUint(after.TxID, 10), after.Position, limit)
	if err != nil {
		return nil, fmt.Errorf("read all after %d/%d: %w", after.TxID, after.Position, err)
	}
	return scanEvents(rows)
}
