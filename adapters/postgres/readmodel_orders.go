package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/domain/order"
)

// Projection names.
const (
	OrderSummaryProjection  = "order_summary"
	StatusHistoryProjection = "order_status_history"
)

// orderEvent is an order-stream event with the order's id. Its payload is decoded only when a
// projection asks: most events move a status and need nothing from their payload.
type orderEvent struct {
	RecordedEvent
	orderID uuid.UUID
}

func (e orderEvent) payload() (order.Event, error) {
	ev, err := order.DecodeEvent(e.Type, e.Data)
	if err != nil {
		return nil, fmt.Errorf("%s v%d: %w", e.StreamID, e.StreamVersion, err)
	}
	return ev, nil
}

// orderEvents picks the order-stream events of a batch.
func orderEvents(events []RecordedEvent) ([]orderEvent, error) {
	out := make([]orderEvent, 0, len(events))
	for _, e := range events {
		if !strings.HasPrefix(e.StreamID, order.StreamPrefix) {
			continue
		}
		id, err := uuid.Parse(e.StreamID[len(order.StreamPrefix):])
		if err != nil {
			return nil, fmt.Errorf("%q is not an order stream: %w", e.StreamID, err)
		}
		out = append(out, orderEvent{RecordedEvent: e, orderID: id})
	}
	return out, nil
}

// OrderSummary is the order_summary projection: one row per order for the admin lists.
type OrderSummary struct{}

// Name is the projection's name.
func (OrderSummary) Name() string { return OrderSummaryProjection }

// Tables lists the tables it owns.
func (OrderSummary) Tables() []string { return []string{"order_summary"} }

// StreamPrefix: the summary applies order events only.
func (OrderSummary) StreamPrefix() string { return order.StreamPrefix }

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
		switch order.CurrentType(e.Type) {
		case order.TypeOrderPlaced, order.TypeOrderShipped:
			payload, err := e.payload()
			if err != nil {
				return err
			}
			switch ev := payload.(type) {
			case order.OrderPlaced:
				*r = summaryRow{id: e.orderID, number: ev.OrderNumber, name: ev.Customer.Name, email: ev.Customer.Email,
					phone: ev.Customer.Phone, currency: ev.Currency, total: ev.TotalPaise, items: len(ev.Items),
					placed: at, isNew: true}
			case order.OrderShipped:
				r.carrier, r.tracking = &ev.Carrier, &ev.TrackingID
			}
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
		var c struct {
			id                                           [][16]byte
			number, name, email, phone, status, currency []string
			total                                        []int64
			items, version                               []int32
			carrier, tracking                            []*string
			placed, updated                              []time.Time
		}
		for _, r := range ins {
			c.id = append(c.id, r.id)
			c.number, c.name, c.email, c.phone = append(c.number, r.number), append(c.name, r.name), append(c.email, r.email), append(c.phone, r.phone)
			c.status, c.currency, c.total = append(c.status, r.status), append(c.currency, r.currency), append(c.total, r.total)
			c.items, c.version = append(c.items, int32(r.items)), append(c.version, int32(r.version))
			c.carrier, c.tracking = append(c.carrier, r.carrier), append(c.tracking, r.tracking)
			c.placed, c.updated = append(c.placed, r.placed), append(c.updated, r.updated)
		}
		_, err := q.Exec(ctx, `INSERT INTO `+t.Ident("order_summary")+` (order_id, order_number, customer_name, customer_email,
			customer_phone, status, total_paise, currency, item_count, carrier, tracking_id, placed_at, updated_at, version)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
				$8::text[], $9::int[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::int[])
			ON CONFLICT (order_id) DO NOTHING`, c.id, c.number, c.name, c.email, c.phone, c.status, c.total,
			c.currency, c.items, c.carrier, c.tracking, c.placed, c.updated, c.version)
		if err != nil {
			return fmt.Errorf("insert order summaries: %w", err)
		}
	}
	if len(upd) > 0 {
		var c struct {
			id                        [][16]byte
			status, carrier, tracking []*string
			updated                   []time.Time
			version                   []int32
		}
		for _, r := range upd {
			var status *string
			if r.statusChanged {
				status = &r.status
			}
			c.id, c.status, c.carrier, c.tracking = append(c.id, r.id), append(c.status, status), append(c.carrier, r.carrier), append(c.tracking, r.tracking)
			c.updated, c.version = append(c.updated, r.updated), append(c.version, int32(r.version))
		}
		_, err := q.Exec(ctx, `UPDATE `+t.Ident("order_summary")+` s SET
				status = coalesce(u.status, s.status), carrier = coalesce(u.carrier, s.carrier),
				tracking_id = coalesce(u.tracking, s.tracking_id), updated_at = u.updated, version = u.version
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[])
				AS u(id, status, carrier, tracking, updated, version)
			WHERE s.order_id = u.id AND s.version < u.version`, c.id, c.status, c.carrier, c.tracking, c.updated, c.version)
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

// StreamPrefix: the history applies order events only.
func (StatusHistory) StreamPrefix() string { return order.StreamPrefix }

type orderState struct {
	status, number string
}

// Apply writes a row per status-changing event. The status before it comes from the batch or, for an
// order placed in an earlier batch, from the order's last row; rows are keyed by the event's position, so a batch
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
		if e.Type == order.TypeOrderPlaced {
			payload, err := e.payload()
			if err != nil {
				return err
			}
			state[e.orderID] = &orderState{number: payload.(order.OrderPlaced).OrderNumber}
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

	var c struct {
		eventID, orderID  [][16]byte
		number, to, actor []string
		from, note        []*string
		at                []time.Time
		position          []int64
	}
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
		note, err := historyNote(e)
		if err != nil {
			return err
		}
		c.eventID, c.orderID, c.number, c.from = append(c.eventID, e.EventID), append(c.orderID, e.orderID), append(c.number, st.number), append(c.from, from)
		c.to, c.at, c.actor = append(c.to, string(to)), append(c.at, e.Metadata.OccurredAt), append(c.actor, string(e.Metadata.Actor))
		c.note, c.position = append(c.note, note), append(c.position, e.Position)
		st.status = string(to)
	}
	if len(c.eventID) == 0 {
		return nil
	}
	if t.Bulk {
		_, err := q.CopyFrom(ctx, pgx.Identifier{t.Name("order_status_history")},
			[]string{"event_id", "order_id", "order_number", "from_status", "to_status", "at", "actor", "note", "position"},
			pgx.CopyFromSlice(len(c.eventID), func(i int) ([]any, error) {
				return []any{c.eventID[i], c.orderID[i], c.number[i], c.from[i], c.to[i], c.at[i], c.actor[i], c.note[i], c.position[i]}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy status history: %w", err)
		}
		return nil
	}
	_, err = q.Exec(ctx, `INSERT INTO `+t.Ident("order_status_history")+` (event_id, order_id, order_number, from_status, to_status, at, actor, note, position)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::bigint[])
		ON CONFLICT (order_id, position) DO NOTHING`, c.eventID, c.orderID, c.number, c.from, c.to, c.at, c.actor, c.note, c.position)
	if err != nil {
		return fmt.Errorf("insert status history: %w", err)
	}
	return nil
}

// historyNote is the detail worth showing beside a status change (order.HistoryNote); only the
// events that have one are decoded.
func historyNote(e orderEvent) (*string, error) {
	switch order.CurrentType(e.Type) {
	case order.TypePaymentSucceeded, order.TypeOrderShipped, order.TypeOrderCancelled,
		order.TypeRefundInitiated, order.TypeRefundProcessed, order.TypeRefundFailed:
	default:
		return nil, nil
	}
	payload, err := e.payload()
	if err != nil {
		return nil, err
	}
	s := order.HistoryNote(payload)
	if s == "" {
		return nil, nil
	}
	return &s, nil
}
