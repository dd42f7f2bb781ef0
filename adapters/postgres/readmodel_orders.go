package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

// Projection names.
const (
	OrderSummaryProjection  = "order_summary"
	StatusHistoryProjection = "order_status_history"
)

// orderEvent is an order-stream event with the fields the order projections need.
type orderEvent struct {
	RecordedEvent
	orderID uuid.UUID
	event   order.Event
}

// orderEvents decodes the order-stream events of a batch, skipping other streams.
func orderEvents(events []RecordedEvent) ([]orderEvent, error) {
	out := make([]orderEvent, 0, len(events))
	for _, e := range events {
		if !strings.HasPrefix(e.StreamID, "order-") {
			continue
		}
		id, err := order.IDFromStream(e.StreamID)
		if err != nil {
			return nil, err
		}
		ev, err := order.DecodeEvent(e.Type, e.Data)
		if err != nil {
			return nil, fmt.Errorf("%s v%d: %w", e.StreamID, e.StreamVersion, err)
		}
		out = append(out, orderEvent{RecordedEvent: e, orderID: id, event: ev})
	}
	return out, nil
}

// OrderSummary is the order_summary projection: one row per order for the admin lists.
type OrderSummary struct{}

// Name is the projection's name.
func (OrderSummary) Name() string { return OrderSummaryProjection }

// Tables lists the tables it owns.
func (OrderSummary) Tables() []string { return []string{"order_summary"} }

type summaryRow struct {
	id                         uuid.UUID
	number, name, email, phone string
	status, currency           string
	total                      int64
	items                      int
	carrier, tracking          *string
	placed, updated            time.Time
	version                    int
	statusChanged, isNew       bool
}

// Apply folds the batch into one change per order: new orders are inserted, known ones updated. The
// update only moves a row forward (version guard), so a batch applied twice changes nothing.
func (OrderSummary) Apply(ctx context.Context, q Querier, t Tables, events []RecordedEvent) error {
	evs, err := orderEvents(events)
	if err != nil {
		return err
	}
	rows := map[uuid.UUID]*summaryRow{}
	var order_ []uuid.UUID
	for _, e := range evs {
		r, ok := rows[e.orderID]
		if !ok {
			r = &summaryRow{id: e.orderID}
			rows[e.orderID] = r
			order_ = append(order_, e.orderID)
		}
		at := e.Metadata.OccurredAt
		switch ev := e.event.(type) {
		case order.OrderPlaced:
			*r = summaryRow{id: e.orderID, number: ev.OrderNumber, name: ev.Customer.Name, email: ev.Customer.Email,
				phone: ev.Customer.Phone, currency: ev.Currency, total: ev.TotalPaise, items: len(ev.Items),
				placed: at, isNew: true}
		case order.OrderShipped:
			r.carrier, r.tracking = &ev.Carrier, &ev.TrackingID
		}
		if s, ok := order.StatusAfter(e.Type); ok {
			r.status, r.statusChanged = string(s), true
		}
		r.updated, r.version = at, e.StreamVersion
	}

	var ins, upd []*summaryRow
	for _, id := range order_ {
		if r := rows[id]; r.isNew {
			ins = append(ins, r)
		} else {
			upd = append(upd, r)
		}
	}
	if len(ins) > 0 {
		cols := newColumns(len(ins))
		for _, r := range ins {
			cols.add(r.id, r.number, r.name, r.email, r.phone, r.status, r.total, r.currency, r.items, r.carrier, r.tracking, r.placed, r.updated, r.version)
		}
		_, err := q.Exec(ctx, `INSERT INTO `+t.Ident("order_summary")+` (order_id, order_number, customer_name, customer_email,
			customer_phone, status, total_paise, currency, item_count, carrier, tracking_id, placed_at, updated_at, version)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
				$8::text[], $9::int[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::int[])
			ON CONFLICT (order_id) DO NOTHING`, cols.args()...)
		if err != nil {
			return fmt.Errorf("insert order summaries: %w", err)
		}
	}
	if len(upd) > 0 {
		cols := newColumns(len(upd))
		for _, r := range upd {
			var status *string
			if r.statusChanged {
				status = &r.status
			}
			cols.add(r.id, status, r.carrier, r.tracking, r.updated, r.version)
		}
		_, err := q.Exec(ctx, `UPDATE `+t.Ident("order_summary")+` s SET
				status = coalesce(u.status, s.status), carrier = coalesce(u.carrier, s.carrier),
				tracking_id = coalesce(u.tracking, s.tracking_id), updated_at = u.updated, version = u.version
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[])
				AS u(id, status, carrier, tracking, updated, version)
			WHERE s.order_id = u.id AND s.version < u.version`, cols.args()...)
		if err != nil {
			return fmt.Errorf("update order summaries: %w", err)
		}
	}
	return nil
}

// StatusHistory is the order_status_history projection: one row per status change.
type StatusHistory struct{}

// Name is the projection's name.
func (StatusHistory) Name() string { return StatusHistoryProjection }

// Tables lists the tables it owns.
func (StatusHistory) Tables() []string { return []string{"order_status_history"} }

type orderState struct {
	status, number string
}

// Apply writes a row per status-changing event. The status before it comes from the batch or, for an
// order placed in an earlier batch, from the order's last row; rows are keyed by event id, so a batch
// applied twice changes nothing.
func (StatusHistory) Apply(ctx context.Context, q Querier, t Tables, events []RecordedEvent) error {
	evs, err := orderEvents(events)
	if err != nil {
		return err
	}
	state := map[uuid.UUID]*orderState{}
	var unknown []uuid.UUID
	for _, e := range evs {
		if _, ok := state[e.orderID]; ok {
			continue
		}
		if p, ok := e.event.(order.OrderPlaced); ok {
			state[e.orderID] = &orderState{number: p.OrderNumber}
			continue
		}
		state[e.orderID] = &orderState{}
		unknown = append(unknown, e.orderID)
	}
	if len(unknown) > 0 {
		rows, err := q.Query(ctx, `SELECT DISTINCT ON (order_id) order_id, to_status, order_number FROM `+t.Ident("order_status_history")+`
			WHERE order_id = ANY($1) ORDER BY order_id, position DESC`, unknown)
		if err != nil {
			return fmt.Errorf("read last statuses: %w", err)
		}
		for rows.Next() {
			var id uuid.UUID
			var st orderState
			if err := rows.Scan(&id, &st.status, &st.number); err != nil {
				rows.Close()
				return fmt.Errorf("scan last status: %w", err)
			}
			*state[id] = st
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read last statuses: %w", err)
		}
	}

	cols := newColumns(len(evs))
	for _, e := range evs {
		to, ok := order.StatusAfter(e.Type)
		if !ok {
			continue
		}
		st := state[e.orderID]
		var from *string
		if st.status != "" {
			f := st.status
			from = &f
		}
		cols.add(e.EventID, e.orderID, st.number, from, string(to), e.Metadata.OccurredAt, string(e.Metadata.Actor), historyNote(e.event), e.Position)
		st.status = string(to)
	}
	if cols.n == 0 {
		return nil
	}
	_, err = q.Exec(ctx, `INSERT INTO `+t.Ident("order_status_history")+` (event_id, order_id, order_number, from_status, to_status, at, actor, note, position)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::bigint[])
		ON CONFLICT (event_id) DO NOTHING`, cols.args()...)
	if err != nil {
		return fmt.Errorf("insert status history: %w", err)
	}
	return nil
}

// historyNote is the detail worth showing beside a status change.
func historyNote(e order.Event) *string {
	var s string
	switch ev := e.(type) {
	case order.PaymentSucceeded:
		s = fmt.Sprintf("payment %s", ev.PaymentID)
		if ev.Method != "" {
			s += " by " + ev.Method
		}
	case order.OrderShipped:
		s = fmt.Sprintf("%s, tracking %s", ev.Carrier, ev.TrackingID)
	case order.OrderCancelled:
		s = ev.Reason
	case order.RefundInitiated:
		s = fmt.Sprintf("refund %s of %d paise", ev.RefundID, ev.AmountPaise)
	case order.RefundProcessed:
		s = fmt.Sprintf("refund %s processed", ev.RefundID)
		if ev.ARN != "" {
			s += ", ARN " + ev.ARN
		}
	case order.RefundFailed:
		s = fmt.Sprintf("refund %s failed: %s", ev.RefundID, ev.Reason)
	}
	if s == "" {
		return nil
	}
	return &s
}

// columns collects rows column by column, for INSERT ... SELECT FROM unnest($1, $2, ...): one
// statement per batch, whatever its size.
type columns struct {
	n    int
	cols [][]any
}

func newColumns(capacity int) *columns { return &columns{} }

func (c *columns) add(values ...any) {
	if c.cols == nil {
		c.cols = make([][]any, len(values))
	}
	for i, v := range values {
		c.cols[i] = append(c.cols[i], v)
	}
	c.n++
}

func (c *columns) args() []any {
	out := make([]any, len(c.cols))
	for i, col := range c.cols {
		out[i] = col
	}
	return out
}
