package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// NotificationLogProjection is the name of the notification log projection.
const NotificationLogProjection = "notification_log"

// NotificationLog is the notification_log projection: one row per notification with every
// provider answer, built from the notification events.
type NotificationLog struct{}

// Name is the projection's name.
func (NotificationLog) Name() string { return NotificationLogProjection }

// Tables lists the tables it owns.
func (NotificationLog) Tables() []string { return []string{"notification_log"} }

// StreamPrefix: the log applies notification events only.
func (NotificationLog) StreamPrefix() string { return notificationStreamPrefix }

type logRow struct {
	id                                      string
	isNew                                   bool
	req                                     notification.Requested
	status, provider, errMsg, msgID, provID *string
	attempts                                *int32
	responses                               []json.RawMessage
	sentAt                                  *time.Time
	created, updated                        time.Time
	version                                 int32
	clearError                              bool
	// What the provider reported of the attempt that sent it: set by a report of that attempt,
	// reset by a new attempt.
	deliveryStatus, deliveryReason *string
	deliveryAt                     *time.Time
	reportAttempt                  *int32
	resetDelivery                  bool
}

// Apply folds the batch into one change per notification. Rows only move forward (version guard),
// so a batch applied twice changes nothing.
func (NotificationLog) Apply(ctx context.Context, q Querier, t Tables, events []RecordedEvent) error {
	rows := map[string]*logRow{}
	var order_ []string
	for _, e := range events {
		if !IsNotificationStream(e.StreamID) {
			continue
		}
		r, ok := rows[e.StreamID]
		if !ok {
			r = &logRow{id: e.StreamID}
			rows[e.StreamID] = r
			order_ = append(order_, e.StreamID)
		}
		ev, err := notification.DecodeEvent(e.Type, e.Data)
		if err != nil {
			return fmt.Errorf("%s v%d: %w", e.StreamID, e.StreamVersion, err)
		}
		at := e.Metadata.OccurredAt
		set := func(p **string, v string) { *p = &v }
		switch ev := ev.(type) {
		case notification.Requested:
			r.isNew, r.req, r.created = true, ev, at
			set(&r.status, string(notification.StatusPending))
		case notification.DeliveryAttempted:
			n := int32(ev.Attempt)
			r.attempts = &n
			entry, _ := json.Marshal(map[string]any{"attempt": ev.Attempt, "provider": ev.Provider, "outcome": ev.Outcome,
				"response": ev.Response, "error": ev.Error, "duration_ms": ev.DurationMS, "at": at})
			r.responses = append(r.responses, entry)
			r.deliveryStatus, r.deliveryReason, r.deliveryAt, r.reportAttempt, r.resetDelivery = nil, nil, nil, nil, true
			set(&r.provider, ev.Provider)
			if ev.Outcome != notification.OutcomeSent {
				set(&r.status, string(notification.StatusPending))
				r.fail(ev.Error)
			}
		case notification.Sent:
			set(&r.status, string(notification.StatusSent))
			set(&r.provider, ev.Provider)
			set(&r.msgID, ev.MessageID)
			set(&r.provID, ev.ProviderMessageID)
			sent := at
			r.sentAt, r.clearError = &sent, true
		case notification.Failed:
			set(&r.status, string(notification.StatusFailed))
			r.fail(ev.LastError)
		case notification.Resent:
			set(&r.status, string(notification.StatusPending))
		case notification.Delivered:
			r.report(ev.Report, notification.DeliveryDelivered, false)
		case notification.Undelivered:
			r.report(ev.Report, notification.DeliveryUndelivered, ev.Rejected)
		case notification.Rerouted:
			set(&r.status, string(notification.StatusPending))
			entry, _ := json.Marshal(map[string]any{"rerouted_to": ev.To, "from": ev.From, "at": at})
			r.responses = append(r.responses, entry)
		}
		r.updated, r.version = at, int32(e.StreamVersion)
	}
	// One INSERT for the new notifications and one UPDATE for the others, whatever the batch's size.
	var ins, upd struct {
		id, orderNumber, channel, typ, eventType, recipient, responses []string
		orderID, orderEventID                                          [][16]byte
		status, provider, errMsg, msgID, provID                        []*string
		attempts                                                       []*int32
		sentAt, failedAt                                               []*time.Time
		created, updated                                               []time.Time
		version                                                        []int32
		clearError                                                     []bool
		deliveryStatus, deliveryReason                                 []*string
		deliveryAt                                                     []*time.Time
		reportAttempt                                                  []*int32
		resetDelivery                                                  []bool
	}
	for _, id := range order_ {
		r := rows[id]
		responses := "[]"
		if len(r.responses) > 0 {
			b, _ := json.Marshal(r.responses)
			responses = string(b)
		}
		if r.isNew {
			attempts := int32(0)
			if r.attempts != nil {
				attempts = *r.attempts
			}
			ins.id, ins.orderID, ins.orderNumber = append(ins.id, r.id), append(ins.orderID, r.req.OrderID), append(ins.orderNumber, r.req.OrderNumber)
			ins.channel, ins.typ, ins.eventType = append(ins.channel, string(r.req.Channel)), append(ins.typ, string(r.req.Type)), append(ins.eventType, r.req.OrderEventType)
			ins.orderEventID, ins.recipient, ins.status = append(ins.orderEventID, r.req.OrderEventID), append(ins.recipient, r.req.Recipient), append(ins.status, r.status)
			ins.provider, ins.attempts, ins.responses = append(ins.provider, r.provider), append(ins.attempts, &attempts), append(ins.responses, responses)
			ins.errMsg, ins.msgID, ins.provID = append(ins.errMsg, nullIf(r.errMsg, r.clearError)), append(ins.msgID, r.msgID), append(ins.provID, r.provID)
			ins.sentAt, ins.created, ins.updated, ins.version = append(ins.sentAt, r.sentAt), append(ins.created, r.created), append(ins.updated, r.updated), append(ins.version, r.version)
			var failedAt *time.Time
			if r.status != nil && *r.status == string(notification.StatusFailed) {
				failedAt = &r.updated
			}
			ins.failedAt = append(ins.failedAt, failedAt)
			ins.deliveryStatus, ins.deliveryReason, ins.deliveryAt = append(ins.deliveryStatus, r.deliveryStatus), append(ins.deliveryReason, r.deliveryReason), append(ins.deliveryAt, r.deliveryAt)
			continue
		}
		upd.id, upd.status, upd.provider, upd.attempts = append(upd.id, r.id), append(upd.status, r.status), append(upd.provider, r.provider), append(upd.attempts, r.attempts)
		upd.responses, upd.clearError, upd.errMsg = append(upd.responses, responses), append(upd.clearError, r.clearError), append(upd.errMsg, r.errMsg)
		upd.msgID, upd.provID, upd.sentAt = append(upd.msgID, r.msgID), append(upd.provID, r.provID), append(upd.sentAt, r.sentAt)
		upd.updated, upd.version = append(upd.updated, r.updated), append(upd.version, r.version)
		upd.deliveryStatus, upd.deliveryReason, upd.deliveryAt = append(upd.deliveryStatus, r.deliveryStatus), append(upd.deliveryReason, r.deliveryReason), append(upd.deliveryAt, r.deliveryAt)
		upd.reportAttempt, upd.resetDelivery = append(upd.reportAttempt, r.reportAttempt), append(upd.resetDelivery, r.resetDelivery)
	}
	if len(ins.id) > 0 {
		_, err := q.Exec(ctx, `INSERT INTO `+t.Ident("notification_log")+` (notification_id, order_id, order_number, channel,
			notification_type, event_type, order_event_id, recipient, status, provider, attempts, response_log, error_message,
			message_id, provider_message_id, sent_at, created_at, updated_at, version, failed_at,
			delivery_status, delivery_reason, delivery_reported_at)
			SELECT id, order_id, order_number, channel, typ, event_type, order_event_id, recipient, status, provider, attempts,
				responses::jsonb, err, msg_id, prov_id, sent_at, created, updated, version, failed_at, d_status, d_reason, d_at
			FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::text[], $9::text[],
				$10::text[], $11::int[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[],
				$18::timestamptz[], $19::int[], $20::timestamptz[], $21::text[], $22::text[], $23::timestamptz[])
				AS u(id, order_id, order_number, channel, typ, event_type, order_event_id, recipient, status, provider, attempts,
				responses, err, msg_id, prov_id, sent_at, created, updated, version, failed_at, d_status, d_reason, d_at)
			ON CONFLICT (notification_id) DO NOTHING`,
			ins.id, ins.orderID, ins.orderNumber, ins.channel, ins.typ, ins.eventType, ins.orderEventID, ins.recipient, ins.status,
			ins.provider, ins.attempts, ins.responses, ins.errMsg, ins.msgID, ins.provID, ins.sentAt, ins.created, ins.updated, ins.version,
			ins.failedAt, ins.deliveryStatus, ins.deliveryReason, ins.deliveryAt)
		if err != nil {
			return fmt.Errorf("insert notification log: %w", err)
		}
	}
	if len(upd.id) > 0 {
		_, err := q.Exec(ctx, `UPDATE `+t.Ident("notification_log")+` l SET
				status = coalesce(u.status, l.status), provider = coalesce(u.provider, l.provider), attempts = coalesce(u.attempts, l.attempts),
				response_log = l.response_log || u.responses::jsonb,
				error_message = CASE WHEN u.clear_error THEN NULL ELSE coalesce(u.err, l.error_message) END,
				message_id = coalesce(u.msg_id, l.message_id), provider_message_id = coalesce(u.prov_id, l.provider_message_id),
				sent_at = coalesce(u.sent_at, l.sent_at), updated_at = u.updated, version = u.version,
				-- Set while it has failed. A send leaves it null as it was, so that the update stays
				-- heap-only: no index holds a column it changes.
				failed_at = CASE WHEN u.status = 'failed' THEN coalesce(l.failed_at, u.updated)
					WHEN u.status IS NULL THEN l.failed_at END,
				-- A report of the attempt that sent it is its delivery status; a new attempt clears it.
				delivery_status = CASE WHEN u.report_attempt = coalesce(u.attempts, l.attempts) THEN u.d_status
					WHEN u.reset_delivery THEN NULL ELSE l.delivery_status END,
				delivery_reason = CASE WHEN u.report_attempt = coalesce(u.attempts, l.attempts) THEN u.d_reason
					WHEN u.reset_delivery THEN NULL ELSE l.delivery_reason END,
				delivery_reported_at = CASE WHEN u.report_attempt = coalesce(u.attempts, l.attempts) THEN u.d_at
					WHEN u.reset_delivery THEN NULL ELSE l.delivery_reported_at END
			FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::text[],
				$10::timestamptz[], $11::timestamptz[], $12::int[], $13::text[], $14::text[], $15::timestamptz[], $16::int[], $17::bool[])
				AS u(id, status, provider, attempts, responses, clear_error, err, msg_id, prov_id, sent_at, updated, version,
				d_status, d_reason, d_at, report_attempt, reset_delivery)
			WHERE l.notification_id = u.id AND l.version < u.version`,
			upd.id, upd.status, upd.provider, upd.attempts, upd.responses, upd.clearError, upd.errMsg, upd.msgID, upd.provID,
			upd.sentAt, upd.updated, upd.version, upd.deliveryStatus, upd.deliveryReason, upd.deliveryAt, upd.reportAttempt, upd.resetDelivery)
		if err != nil {
			return fmt.Errorf("update notification log: %w", err)
		}
	}
	return nil
}

// report notes a delivery report in the row's history and, when it is about the attempt that sent
// the notification (or may be, in which case the UPDATE decides), as its delivery status.
func (r *logRow) report(rep notification.Report, status string, rejected bool) {
	entry, _ := json.Marshal(map[string]any{"attempt": rep.Attempt, "provider": rep.Provider, "report": status,
		"status": rep.Status, "description": rep.Description, "reason": rep.Reason, "rejected": rejected, "at": rep.ReportedAt})
	r.responses = append(r.responses, entry)
	if r.attempts != nil && *r.attempts != int32(rep.Attempt) {
		return // a late report of an earlier attempt: its history only
	}
	reason := rep.Reason
	if reason == "" && status == notification.DeliveryUndelivered {
		reason = rep.Description
	}
	n, at := int32(rep.Attempt), rep.ReportedAt
	r.deliveryStatus, r.deliveryReason, r.deliveryAt, r.reportAttempt = &status, &reason, &at, &n
}

// fail records why the notification has not been sent, over a send earlier in the batch (a resend
// or a reroute after it): the row then ends with this error, as it would event by event.
func (r *logRow) fail(why string) { r.errMsg, r.clearError = &why, false }

func nullIf(s *string, clear bool) *string {
	if clear {
		return nil
	}
	return s
}

// NotificationLogReader answers queries on notification_log.
type NotificationLogReader struct {
	db *DB
}

var _ query.NotificationLogReader = (*NotificationLogReader)(nil)

// NewNotificationLogReader returns the reader on db.
func NewNotificationLogReader(db *DB) *NotificationLogReader { return &NotificationLogReader{db: db} }

const selectLog = `SELECT notification_id, order_id, order_number, channel, notification_type, event_type, recipient, status,
	coalesce(provider, ''), attempts, response_log::text, coalesce(error_message, ''), coalesce(message_id, ''),
	coalesce(provider_message_id, ''), sent_at, coalesce(delivery_status, ''), coalesce(delivery_reason, ''), delivery_reported_at,
	created_at, updated_at FROM notification_log`

// List returns a page of log entries, newest first.
func (r *NotificationLogReader) List(ctx context.Context, f query.NotificationFilter) (query.NotificationPage, error) {
	var w where
	w.addIf("channel = ?", f.Channel)
	w.addIf("status = ?", f.Status)
	if f.Status == string(notification.StatusFailed) {
		// The index for this filter holds the rows with a failed_at.
		w.conds = append(w.conds, "failed_at IS NOT NULL")
	}
	w.addIf("notification_type = ?", f.Type)
	w.addIf("event_type = ?", f.EventType)
	if f.Delivery == query.DeliveryNone {
		w.conds = append(w.conds, "delivery_status IS NULL")
	} else {
		w.addIf("delivery_status = ?", f.Delivery)
	}
	// The log has no index of its own on the number (migration 016): the order's summary has.
	w.addIf("order_id = (SELECT order_id FROM order_summary WHERE order_number = ?)", f.OrderNumber)
	w.addIf("lower(recipient) = ?", strings.ToLower(f.Recipient))
	w.addIf("order_id = ?", f.OrderID)
	if f.After != "" {
		a, b, ok := strings.Cut(f.After, "_")
		us, err := strconv.ParseInt(a, 10, 64)
		if !ok || err != nil {
			return query.NotificationPage{}, &order.FieldError{Field: "after", Err: fmt.Errorf("%w: not a cursor this API returned", order.ErrInvalidInput)}
		}
		w.add("(created_at, notification_id) < (?, "+w.next(b)+")", time.UnixMicro(us))
	}
	sql := selectLog + w.sql() + " ORDER BY created_at DESC, notification_id DESC LIMIT " + w.next(f.Limit)
	args := w.args
	entries, err := r.scan(ctx, sql, args...)
	if err != nil {
		return query.NotificationPage{}, err
	}
	page := query.NotificationPage{Notifications: entries}
	if len(entries) == f.Limit {
		last := entries[len(entries)-1]
		page.Next = fmt.Sprintf("%d_%s", last.CreatedAt.UnixMicro(), last.ID)
	}
	return page, nil
}

// Get returns one log entry.
func (r *NotificationLogReader) Get(ctx context.Context, id string) (query.NotificationEntry, error) {
	entries, err := r.scan(ctx, selectLog+` WHERE notification_id = $1`, id)
	if err != nil {
		return query.NotificationEntry{}, err
	}
	if len(entries) == 0 {
		return query.NotificationEntry{}, fmt.Errorf("%w: %s", notification.ErrNotFound, id)
	}
	return entries[0], nil
}

func (r *NotificationLogReader) scan(ctx context.Context, sql string, args ...any) ([]query.NotificationEntry, error) {
	rows, err := r.db.Q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("notification log: %w", err)
	}
	defer rows.Close()
	out := []query.NotificationEntry{}
	for rows.Next() {
		var e query.NotificationEntry
		var responses string
		if err := rows.Scan(&e.ID, &e.OrderID, &e.OrderNumber, &e.Channel, &e.Type, &e.EventType, &e.Recipient, &e.Status,
			&e.Provider, &e.Attempts, &responses, &e.ErrorMessage, &e.MessageID, &e.ProviderMessageID, &e.SentAt,
			&e.Delivery, &e.DeliveryReason, &e.DeliveryReportedAt, &e.CreatedAt, &e.UpdatedAt); err != nil {
			return nil, fmt.Errorf("notification log: %w", err)
		}
		e.ResponseLog = json.RawMessage(responses)
		e.Simulated = e.Status == string(notification.StatusSent) && notification.Simulated(e.Provider)
		out = append(out, e)
	}
	return out, rows.Err()
}
