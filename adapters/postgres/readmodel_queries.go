package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/order"
)

// OrderReadModel answers queries on order_summary and order_status_history.
type OrderReadModel struct {
	db *DB
}

var _ query.OrderReadModel = (*OrderReadModel)(nil)

// NewOrderReadModel returns the read side on db.
func NewOrderReadModel(db *DB) *OrderReadModel { return &OrderReadModel{db: db} }

// ListOrders returns a page of summaries, newest first, after the cursor.
func (r *OrderReadModel) ListOrders(ctx context.Context, f query.OrderFilter) (query.OrderList, error) {
	var w where
	w.addIf("status = ?", f.Status)
	w.addIf("order_number = ?", f.OrderNumber)
	w.addIf("lower(customer_email) = ?", f.Email)
	w.addIf("customer_phone = ?", f.Phone)
	w.addIf("placed_at >= ?", f.From)
	w.addIf("placed_at < ?", f.To)
	if f.After != "" {
		at, id, err := parseListCursor(f.After)
		if err != nil {
			return query.OrderList{}, &order.FieldError{Field: "after", Err: fmt.Errorf("%w: %v", order.ErrInvalidInput, err)}
		}
		w.add("(placed_at, order_id) < (?, "+w.next(id)+")", at)
	}
	sql := `SELECT order_id, order_number, customer_name, customer_email, customer_phone, status, total_paise,
		item_count, coalesce(carrier, ''), coalesce(tracking_id, ''), placed_at, updated_at, version FROM order_summary` +
		w.sql() + " ORDER BY placed_at DESC, order_id DESC LIMIT " + w.next(f.Limit)
	args := w.args
	rows, err := r.db.Q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return query.OrderList{}, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	var out query.OrderList
	for rows.Next() {
		var s query.OrderSummary
		if err := rows.Scan(&s.ID, &s.Number, &s.CustomerName, &s.CustomerEmail, &s.CustomerPhone, &s.Status, &s.TotalPaise,
			&s.ItemCount, &s.Carrier, &s.TrackingID, &s.PlacedAt, &s.UpdatedAt, &s.Version); err != nil {
			return query.OrderList{}, fmt.Errorf("list orders: %w", err)
		}
		m, _ := order.NewMoney(s.TotalPaise)
		s.Total = m.String()
		out.Orders = append(out.Orders, s)
	}
	if err := rows.Err(); err != nil {
		return query.OrderList{}, fmt.Errorf("list orders: %w", err)
	}
	if out.Orders == nil {
		out.Orders = []query.OrderSummary{}
	}
	if len(out.Orders) == f.Limit {
		last := out.Orders[len(out.Orders)-1]
		out.Next = fmt.Sprintf("%d_%s", last.PlacedAt.UnixMicro(), last.ID)
	}
	return out, nil
}

func parseListCursor(s string) (time.Time, uuid.UUID, error) {
	a, b, ok := strings.Cut(s, "_")
	us, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := uuid.Parse(b)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, uuid.Nil, fmt.Errorf("cursor %q is not one this API returned", s)
	}
	return time.UnixMicro(us), id, nil
}

// StatusHistory returns an order's status changes, oldest first.
func (r *OrderReadModel) StatusHistory(ctx context.Context, orderID uuid.UUID) ([]query.StatusChange, error) {
	rows, err := r.db.Q(ctx).Query(ctx, `SELECT coalesce(from_status, ''), to_status, at, actor, event_id, coalesce(note, '')
		FROM order_status_history WHERE order_id = $1 ORDER BY position`, orderID)
	if err != nil {
		return nil, fmt.Errorf("status history: %w", err)
	}
	defer rows.Close()
	out := []query.StatusChange{}
	for rows.Next() {
		var c query.StatusChange
		var at time.Time
		var id uuid.UUID
		if err := rows.Scan(&c.From, &c.To, &at, &c.Actor, &id, &c.Note); err != nil {
			return nil, fmt.Errorf("status history: %w", err)
		}
		c.At, c.EventID = at.UTC().Format(time.RFC3339Nano), id.String()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status history: %w", err)
	}
	return out, nil
}

var _ command.OutstandingRefunds = (*OrderReadModel)(nil)

// refundWindow is how far back the refund sweep looks: a refund still owed after a month is for a
// person to look into, and the sweep then reads a month of cancellations, not all of them.
const refundWindow = "30 days"

// OutstandingRefunds returns the orders that owe a refund and have not asked for it for more than
// olderThan, oldest first: paid orders whose summary has said cancelled that long, whose refund the
// gateway refused fewer than maxRefused times (paid and refused are read from the order's stream),
// and orders holding a payment they could not take whose refund is not pending (received and refused
// count against asked; a refusal of the request itself, with no refund id, was never asked, so it
// counts for nothing), refused fewer than maxRefused times. A summary behind its events may name an
// order whose refund is no longer owed; the sweep loads each order and checks.
func (r *OrderReadModel) OutstandingRefunds(ctx context.Context, olderThan time.Duration, maxRefused, limit int) ([]uuid.UUID, error) {
	rows, err := r.db.Q(ctx).Query(ctx, `SELECT order_id FROM (
		SELECT s.order_id, s.updated_at AS since FROM order_summary s
		WHERE s.status = $1 AND s.updated_at < now() - $2::interval AND s.placed_at > now() - $3::interval
		  AND EXISTS (SELECT 1 FROM events e WHERE e.stream_id = $8 || s.order_id::text AND e.type = $4)
		  AND (SELECT count(*) FROM events e WHERE e.stream_id = $8 || s.order_id::text AND e.type = $5) < $6
		UNION ALL
		SELECT substr(e.stream_id, length($8) + 1)::uuid, max(e.recorded_at) FROM events e
		WHERE e.type IN ($9, $10, $11) AND `+typeIndexed+` AND e.recorded_at > now() - $3::interval
		GROUP BY e.stream_id
		HAVING sum(CASE WHEN e.type = $10 THEN -1 WHEN e.type = $11 AND coalesce(e.data->>'refund_id', '') = '' THEN 0 ELSE 1 END) > 0
		   AND max(e.recorded_at) < now() - $2::interval
		   AND count(*) FILTER (WHERE e.type = $11) < $6
		) owed
		GROUP BY order_id
		ORDER BY min(since)
		LIMIT $7`, string(order.StatusCancelled), olderThan.String(), refundWindow,
		order.TypePaymentSucceeded, order.TypeRefundFailed, maxRefused, limit, order.StreamPrefix,
		order.TypeUnexpectedPaymentReceived, order.TypeUnexpectedRefundInitiated, order.TypeUnexpectedRefundFailed)
	if err != nil {
		return nil, fmt.Errorf("outstanding refunds: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("outstanding refunds: %w", err)
	}
	return ids, nil
}
