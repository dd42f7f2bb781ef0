package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// typeIndexed is the predicate of events_type (migration 016), word for word: the index leaves out
// the three events of every notification sent, most of the table. A query for another type adds it
// so that the planner may use the index.
const typeIndexed = `type NOT IN ('` + notification.TypeRequested + `', '` + notification.TypeDeliveryAttempted + `', '` +
	notification.TypeSent + `')`

// typeIndexedFor reports whether events_type holds the events of type t.
func typeIndexedFor(t string) bool {
	switch t {
	case notification.TypeRequested, notification.TypeDeliveryAttempted, notification.TypeSent:
		return false
	}
	return true
}

// correlated is the condition that an event carries the correlation id ? (for where.add). Like
// events_type, events_correlation (migration 019) leaves out the three events of every notification
// sent, so those are looked up by stream, in the streams where they can carry the id: the
// notification streams of the order events that carry it (a request carries its order event's
// correlation id, and so do the attempts it queues), and the streams of the other events that carry
// it (a resend or a reroute, whose correlation id the attempts it queues carry). The service's
// tests compare it with a full scan for every correlation id (assertAuditFindsEveryEventByItsCorrelation).
func correlated() string {
	return `correlation_id = ? AND (` + typeIndexed + ` OR stream_id = ANY(ARRAY(
		SELECT s FROM events h, LATERAL (VALUES (h.stream_id)` + notificationStreamsOf("h.event_id") + `) v(s)
		WHERE h.correlation_id = ? AND h.` + typeIndexed + `)))`
}

// notificationStreamsOf lists, as VALUES rows, the SQL for the notification streams of the order
// event whose id is the SQL expression id: notification.StreamID for each channel.
func notificationStreamsOf(id string) string {
	var b strings.Builder
	for _, ch := range notification.Channels() {
		fmt.Fprintf(&b, ", ('%s' || %s || '-%s')", notificationStreamPrefix, id, ch)
	}
	return b.String()
}

// Auditor answers audit queries on the event store.
type Auditor struct {
	store *EventStore
}

var _ query.EventAuditor = (*Auditor)(nil)

// NewAuditor returns an auditor over store.
func NewAuditor(store *EventStore) *Auditor { return &Auditor{store: store} }

// Audit returns one page of events matching f in commit order. Pages follow the commit-safe order and
// stop at the oldest running transaction, so a page boundary is never crossed by an event that
// commits later: paging on while appends go on never skips or repeats an event. With f.Newest the
// pages go the other way, from the latest committed event back.
func (a *Auditor) Audit(ctx context.Context, f query.AuditFilter) (query.AuditPage, error) {
	after, err := parseCursor(f.After)
	if err != nil {
		return query.AuditPage{}, &order.FieldError{Field: "after", Err: fmt.Errorf("%w: %v", order.ErrInvalidInput, err)}
	}
	var w where
	direction := "ASC"
	switch {
	case f.Newest:
		direction = "DESC"
		if f.After != "" {
			w.add("(tx_id, position) < (?::text::xid8, "+w.next(after.Position)+")", strconv.FormatUint(after.TxID, 10))
		}
	default:
		w.add("(tx_id, position) > (?::text::xid8, "+w.next(after.Position)+")", strconv.FormatUint(after.TxID, 10))
	}
	w.conds = append(w.conds, "tx_id < pg_snapshot_xmin(pg_current_snapshot())")
	if f.OrderID != uuid.Nil {
		w.add("stream_id = ?", order.StreamID(f.OrderID))
	}
	w.addIf("stream_id = ?", f.Stream)
	w.addIf("type = ?", f.Type)
	if f.Type != "" && typeIndexedFor(f.Type) {
		w.conds = append(w.conds, typeIndexed) // said in so many words, the planner may use events_type
	}
	w.addIf("actor = ?", f.Actor)
	if f.Actor != "" && f.Actor != string(es.System) {
		// What events_actor holds (it leaves out the system's events): said in so many words, the
		// planner may use it.
		w.conds = append(w.conds, "actor <> 'system'")
	}
	if f.CorrelationID != "" {
		w.add(correlated(), f.CorrelationID)
	}
	w.addIf("recorded_at >= ?", f.From)
	w.addIf("recorded_at < ?", f.To)
	sql := selectEvents + w.sql() + ` ORDER BY events.tx_id ` + direction + `, events.position ` + direction + ` LIMIT ` + w.next(f.Limit)
	args := w.args
	rows, err := a.store.db.Q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return query.AuditPage{}, fmt.Errorf("audit: %w", err)
	}
	recs, err := scanEvents(rows)
	if err != nil {
		return query.AuditPage{}, fmt.Errorf("audit: %w", err)
	}
	page := query.AuditPage{Events: make([]query.AuditEvent, len(recs))}
	for i, r := range recs {
		page.Events[i] = auditEvent(r)
	}
	if len(recs) > 0 {
		page.Next = formatCursor(recs[len(recs)-1].Checkpoint())
		page.HasMore = len(recs) == f.Limit
	} else {
		page.Next = f.After
	}
	return page, nil
}

func auditEvent(r RecordedEvent) query.AuditEvent {
	return query.AuditEvent{Position: r.Position, Stream: r.StreamID, StreamVersion: r.StreamVersion, EventID: r.EventID,
		Type: r.Type, SchemaVersion: r.SchemaVersion, Data: r.Data, Actor: string(r.Metadata.Actor),
		CorrelationID: r.Metadata.CorrelationID, CausationID: r.Metadata.CausationID,
		OccurredAt: r.Metadata.OccurredAt, RecordedAt: r.RecordedAt}
}

// OrderEvents returns every event of the order's stream, in version order, the latest included: a
// page showing an order right after a change shows the change.
func (a *Auditor) OrderEvents(ctx context.Context, id uuid.UUID) ([]query.AuditEvent, error) {
	recs, err := a.store.Load(ctx, order.StreamID(id))
	if err != nil {
		return nil, err
	}
	out := make([]query.AuditEvent, len(recs))
	for i, r := range recs {
		out[i] = auditEvent(r)
	}
	return out, nil
}

// StreamEvents returns every event of the stream, in version order, the latest included.
func (a *Auditor) StreamEvents(ctx context.Context, stream string) ([]query.AuditEvent, error) {
	recs, err := a.store.Load(ctx, stream)
	if err != nil {
		return nil, err
	}
	out := make([]query.AuditEvent, len(recs))
	for i, r := range recs {
		out[i] = auditEvent(r)
	}
	return out, nil
}

// OrderAsOf folds the order's events recorded up to t.
func (a *Auditor) OrderAsOf(ctx context.Context, id uuid.UUID, t time.Time) (*order.Order, error) {
	rows, err := a.store.db.Q(ctx).Query(ctx, selectEvents+` WHERE stream_id = $1 AND recorded_at <= $2 ORDER BY stream_version`, order.StreamID(id), t)
	if err != nil {
		return nil, fmt.Errorf("order %s as of %s: %w", id, t.Format(time.RFC3339), err)
	}
	recs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("order %s as of %s: %w", id, t.Format(time.RFC3339), err)
	}
	if len(recs) == 0 {
		return nil, a.notAsOf(ctx, id, t)
	}
	return OrderFromEvents(recs)
}

// notAsOf says why the order has no events up to t: placed later (NotYetError), or never.
func (a *Auditor) notAsOf(ctx context.Context, id uuid.UUID, t time.Time) error {
	var placed time.Time
	err := a.store.db.Q(ctx).QueryRow(ctx, `SELECT recorded_at FROM events WHERE stream_id = $1 ORDER BY stream_version LIMIT 1`,
		order.StreamID(id)).Scan(&placed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &order.NotFoundError{ID: id}
	case err != nil:
		return fmt.Errorf("order %s as of %s: %w", id, t.Format(time.RFC3339), err)
	}
	return &order.NotYetError{ID: id, At: t, PlacedAt: placed}
}

// OrderIDByNumber finds an order's id from its number.
func (a *Auditor) OrderIDByNumber(ctx context.Context, n order.Number) (uuid.UUID, error) {
	return NewOrderRepository(a.store, nil).IDByNumber(ctx, n)
}

// A cursor is "<tx id>-<position>" of the last event of the previous page.
func formatCursor(c Checkpoint) string { return fmt.Sprintf("%d-%d", c.TxID, c.Position) }

// CheckAuditCursor refuses a cursor Audit would refuse, without a database: the CLI checks --after
// before it opens (and perhaps creates) one.
func CheckAuditCursor(s string) error {
	_, err := parseCursor(s)
	return err
}

func parseCursor(s string) (Checkpoint, error) {
	if s == "" {
		return Checkpoint{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	tx, err1 := strconv.ParseUint(a, 10, 64)
	pos, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || pos < 0 {
		return Checkpoint{}, fmt.Errorf("cursor %q is not one this API returned", s)
	}
	return Checkpoint{TxID: tx, Position: pos}, nil
}
