package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// ConsoleReader answers what the admin console needs besides the read models: admins' names,
// what a stream is about, and what needs attention (the console's home page).
type ConsoleReader struct {
	db     *DB
	runner *Runner
}

var (
	_ query.AdminDirectory   = (*ConsoleReader)(nil)
	_ query.StreamLabeler    = (*ConsoleReader)(nil)
	_ query.OperationsReader = (*ConsoleReader)(nil)
)

// NewConsoleReader returns the reader on db; runner reports the projections' lags.
func NewConsoleReader(db *DB, runner *Runner) *ConsoleReader {
	return &ConsoleReader{db: db, runner: runner}
}

// AdminNames returns the names and e-mails of the admins of ids, disabled ones included.
func (r *ConsoleReader) AdminNames(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]query.AdminName, error) {
	rows, err := r.db.Q(ctx).Query(ctx, `SELECT id, name, email FROM admin_users WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("admin names: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]query.AdminName, len(ids))
	for rows.Next() {
		var id uuid.UUID
		var n query.AdminName
		if err := rows.Scan(&id, &n.Name, &n.Email); err != nil {
			return nil, fmt.Errorf("admin names: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// StreamLabels names the order of each order stream (from order_summary) and the order and message
// of each notification stream (from notification_log); a stream they do not hold yet is left out.
func (r *ConsoleReader) StreamLabels(ctx context.Context, streams []string) (map[string]query.StreamLabel, error) {
	out := map[string]query.StreamLabel{}
	var orders []uuid.UUID
	var notifications []string
	for _, s := range streams {
		if id, err := order.IDFromStream(s); err == nil {
			orders = append(orders, id)
		} else if IsNotificationStream(s) {
			notifications = append(notifications, s)
		}
	}
	if len(orders) > 0 {
		rows, err := r.db.Q(ctx).Query(ctx, `SELECT order_id, order_number FROM order_summary WHERE order_id = ANY($1)`, orders)
		if err != nil {
			return nil, fmt.Errorf("stream labels: %w", err)
		}
		labels, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (query.StreamLabel, error) {
			var l query.StreamLabel
			return l, row.Scan(&l.OrderID, &l.OrderNumber)
		})
		if err != nil {
			return nil, fmt.Errorf("stream labels: %w", err)
		}
		for _, l := range labels {
			out[order.StreamID(l.OrderID)] = l
		}
	}
	if len(notifications) > 0 {
		rows, err := r.db.Q(ctx).Query(ctx, `SELECT notification_id, order_id, order_number, channel, notification_type
			FROM notification_log WHERE notification_id = ANY($1)`, notifications)
		if err != nil {
			return nil, fmt.Errorf("stream labels: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var l query.StreamLabel
			if err := rows.Scan(&id, &l.OrderID, &l.OrderNumber, &l.Channel, &l.Type); err != nil {
				return nil, fmt.Errorf("stream labels: %w", err)
			}
			out[id] = l
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("stream labels: %w", err)
		}
	}
	return out, nil
}

// poisonTopics are the watermill-sql tables of the poison topics: messages that failed for good.
func poisonTopics() []struct{ topic, table string } {
	return []struct{ topic, table string }{
		{"order_events_poison", "watermill_order_events_poison"},
		{"notifications_poison", "watermill_notifications_poison"},
	}
}

// Operations reads the console home page's figures. Each query reads an index or a small table.
func (r *ConsoleReader) Operations(ctx context.Context, dayStart, dayEnd time.Time) (query.Operations, error) {
	q := r.db.Q(ctx)
	ops, err := r.attention(ctx)
	if err != nil {
		return ops, err
	}
	rows, err := q.Query(ctx, `SELECT status, count(*) FROM order_summary WHERE placed_at >= $1 AND placed_at < $2
		GROUP BY status`, dayStart, dayEnd)
	if err != nil {
		return ops, fmt.Errorf("orders of the day: %w", err)
	}
	if ops.Today, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (query.StatusCount, error) {
		var c query.StatusCount
		return c, row.Scan(&c.Status, &c.Count)
	}); err != nil {
		return ops, fmt.Errorf("orders of the day: %w", err)
	}
	lags, err := OutboxLag(ctx, q)
	if err != nil {
		return ops, fmt.Errorf("outbox lag: %w", err)
	}
	for _, g := range lags {
		ops.Outbox = append(ops.Outbox, query.ConsumerLag{Group: g.Group, Behind: g.Behind, Oldest: g.Oldest})
	}
	plags, err := r.runner.Lags(ctx)
	if err != nil {
		return ops, fmt.Errorf("projection lags: %w", err)
	}
	for _, l := range plags {
		ops.Projections = append(ops.Projections, query.ProjectionLag{Projection: l.Projection, Events: l.Events, UpdatedAt: l.UpdatedAt})
	}
	if ops.Queue, err = QueueState(ctx, q); err != nil {
		return ops, err
	}
	if ops.Delivery, err = r.deliveryRates(ctx); err != nil {
		return ops, err
	}
	if ops.RejectedTemplates, err = NewReportInbox(r.db).RejectedTemplates(ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
		return ops, err
	}
	return ops, nil
}

// deliveryRates reads what the providers reported of the last week's SMS, by provider and type,
// through the index on created_at. SMS the `log` stand-in "sent" reached no one and will never be
// reported on: they are left out, not counted as waiting for a report.
func (r *ConsoleReader) deliveryRates(ctx context.Context) ([]query.DeliveryRate, error) {
	rows, err := r.db.Q(ctx).Query(ctx, `SELECT coalesce(provider, ''), notification_type,
			count(*) FILTER (WHERE delivery_status = $1), count(*) FILTER (WHERE delivery_status = $2),
			count(*) FILTER (WHERE delivery_status IS NULL)
		FROM notification_log WHERE created_at > now() - interval '7 days' AND channel = 'sms' AND status = 'sent'
		  AND coalesce(provider, '') <> ALL($3)
		GROUP BY 1, 2 ORDER BY 1, 2`, notification.DeliveryDelivered, notification.DeliveryUndelivered,
		[]string{notification.ProviderLog, notification.ProviderFile})
	if err != nil {
		return nil, fmt.Errorf("delivery rates: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (query.DeliveryRate, error) {
		var d query.DeliveryRate
		return d, row.Scan(&d.Provider, &d.Type, &d.Delivered, &d.Undelivered, &d.Unreported)
	})
	if err != nil {
		return nil, fmt.Errorf("delivery rates: %w", err)
	}
	return out, nil
}

// attention reads what waits on a person: orders to ship, failed notifications, refunds owed and
// pending, and the poison topics (the home page's figures and OperationsCollector's).
func (r *ConsoleReader) attention(ctx context.Context) (query.Operations, error) {
	q := r.db.Q(ctx)
	var ops query.Operations
	if err := q.QueryRow(ctx, `SELECT count(*), min(updated_at) FROM order_summary WHERE status = $1`,
		string(order.StatusConfirmed)).Scan(&ops.WaitingToShip, &ops.OldestWaiting); err != nil {
		return ops, fmt.Errorf("orders waiting to ship: %w", err)
	}
	if err := q.QueryRow(ctx, `SELECT count(*) FROM notification_log WHERE failed_at IS NOT NULL`).Scan(&ops.FailedNotifications); err != nil {
		return ops, fmt.Errorf("failed notifications: %w", err)
	}
	// The last week's, read through the index on created_at: no index holds the delivery status.
	if err := q.QueryRow(ctx, `SELECT count(*) FROM notification_log WHERE created_at > now() - interval '7 days' AND delivery_status = $1`,
		notification.DeliveryUndelivered).Scan(&ops.Undelivered); err != nil {
		return ops, fmt.Errorf("undelivered notifications: %w", err)
	}
	var err error
	if ops.RefundsOwed, err = r.owedRefunds(ctx); err != nil {
		return ops, err
	}
	if err := q.QueryRow(ctx, `SELECT count(*) FROM order_summary WHERE status = $1`,
		string(order.StatusRefundPending)).Scan(&ops.RefundsPending); err != nil {
		return ops, fmt.Errorf("refunds pending: %w", err)
	}
	for _, p := range poisonTopics() {
		c := query.PoisonCount{Topic: p.topic}
		// watermill-sql keeps created_at without a zone, in the server's: read back in the same one.
		if err := q.QueryRow(ctx, `SELECT count(*), max(created_at)::timestamptz FROM `+pgx.Identifier{p.table}.Sanitize()).
			Scan(&c.Count, &c.Newest); err != nil {
			return ops, fmt.Errorf("poison topic %s: %w", p.topic, err)
		}
		ops.Poison = append(ops.Poison, c)
	}
	return ops, nil
}

// owedRefunds are the orders that owe a refund the gateway was not asked for or refused, as the
// refund sweep finds them (the ones it gave up on, after three refusals, included), oldest first.
func (r *ConsoleReader) owedRefunds(ctx context.Context) ([]query.OwedRefund, error) {
	ids, err := NewOrderReadModel(r.db).OutstandingRefunds(ctx, 0, 1<<30, 50)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return []query.OwedRefund{}, nil
	}
	rows, err := r.db.Q(ctx).Query(ctx, `SELECT order_id, order_number, status, updated_at FROM order_summary WHERE order_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("owed refunds: %w", err)
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (query.OwedRefund, error) {
		var o query.OwedRefund
		return o, row.Scan(&o.OrderID, &o.OrderNumber, &o.Status, &o.Since)
	})
	if err != nil {
		return nil, fmt.Errorf("owed refunds: %w", err)
	}
	byID := make(map[uuid.UUID]query.OwedRefund, len(found))
	for _, o := range found {
		byID[o.OrderID] = o
	}
	out := make([]query.OwedRefund, 0, len(ids))
	for _, id := range ids { // in the sweep's order: oldest first
		if o, ok := byID[id]; ok {
			out = append(out, o)
		}
	}
	return out, nil
}
