package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// GivenUp is an order event whose notifications the request handlers gave up on: a message of the
// order_events_poison topic, with the event as stored and whether its notifications exist now.
type GivenUp struct {
	// MessageID is the poison message's id, which is the order event's id.
	MessageID string
	At        time.Time // when the handlers gave up
	Reason    string    // the handler's last error
	// Event is the stored event; nil when no stored event has the message's id.
	Event *RecordedEvent
	// OrderNumber is the number of the event's order, when its summary has it.
	OrderNumber string
	// Requested is set when the event's notifications exist: they were requested since.
	Requested bool
}

// GivenUpOrderEvents lists the messages of order_events_poison, oldest first. The topic keeps every
// message it got; Requested tells the ones dealt with since.
func GivenUpOrderEvents(ctx context.Context, q Querier) ([]GivenUp, error) {
	// created_at is watermill-sql's timestamp without a time zone, written in the session's.
	rows, err := q.Query(ctx, `SELECT uuid, created_at AT TIME ZONE current_setting('TimeZone'), coalesce(metadata->>'reason_poisoned', '')
		FROM watermill_order_events_poison ORDER BY "offset"`)
	if err != nil {
		return nil, fmt.Errorf("order events given up on: %w", err)
	}
	var out []GivenUp
	for rows.Next() {
		var g GivenUp
		if err := rows.Scan(&g.MessageID, &g.At, &g.Reason); err != nil {
			rows.Close()
			return nil, fmt.Errorf("order events given up on: %w", err)
		}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("order events given up on: %w", err)
	}
	var ids []uuid.UUID
	var streams []string
	for _, g := range out {
		if id, err := uuid.Parse(g.MessageID); err == nil {
			ids = append(ids, id)
			for _, ch := range notification.Channels() {
				streams = append(streams, notification.StreamID(id, ch))
			}
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	stored, err := q.Query(ctx, selectEvents+` WHERE event_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("order events given up on: %w", err)
	}
	recs, err := scanEvents(stored)
	if err != nil {
		return nil, fmt.Errorf("order events given up on: %w", err)
	}
	byID := map[string]*RecordedEvent{}
	for i := range recs {
		byID[recs[i].EventID.String()] = &recs[i]
	}
	rows, err = q.Query(ctx, `SELECT stream_id FROM events WHERE stream_id = ANY($1) AND stream_version = 1`, streams)
	if err != nil {
		return nil, fmt.Errorf("notifications of order events given up on: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("notifications of order events given up on: %w", err)
	}
	requested := map[string]bool{}
	for _, s := range found {
		requested[s] = true
	}
	numbers, err := orderNumbers(ctx, q, recs)
	if err != nil {
		return nil, err
	}
	for i, g := range out {
		id, err := uuid.Parse(g.MessageID)
		if err != nil {
			continue
		}
		out[i].Event = byID[id.String()]
		if out[i].Event != nil {
			out[i].OrderNumber = numbers[out[i].Event.StreamID]
		}
		for _, ch := range notification.Channels() {
			out[i].Requested = out[i].Requested || requested[notification.StreamID(id, ch)]
		}
	}
	return out, nil
}

// orderNumbers maps the order streams of events to their orders' numbers.
func orderNumbers(ctx context.Context, q Querier, events []RecordedEvent) (map[string]string, error) {
	var ids []uuid.UUID
	for _, e := range events {
		if id, err := order.IDFromStream(e.StreamID); err == nil {
			ids = append(ids, id)
		}
	}
	out := map[string]string{}
	rows, err := q.Query(ctx, `SELECT order_id, order_number FROM order_summary WHERE order_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("order numbers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var number string
		if err := rows.Scan(&id, &number); err != nil {
			return nil, fmt.Errorf("order numbers: %w", err)
		}
		out[order.StreamID(id)] = number
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("order numbers: %w", err)
	}
	return out, nil
}
