package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
)

// ReportInbox keeps SMS delivery reports in sms_delivery_reports until they fold into their
// notification (migration 012).
type ReportInbox struct {
	db *DB
}

var _ command.ReportInbox = (*ReportInbox)(nil)

// NewReportInbox returns the inbox on db.
func NewReportInbox(db *DB) *ReportInbox { return &ReportInbox{db: db} }

// Add inserts the reports, leaving out those stored before, and returns the new ones.
func (in *ReportInbox) Add(ctx context.Context, reports []command.ProviderReport) ([]command.InboxReport, error) {
	var out []command.InboxReport
	for _, r := range reports {
		var reportedAt *time.Time
		if !r.ReportedAt.IsZero() {
			reportedAt = &r.ReportedAt
		}
		var ir command.InboxReport
		err := in.db.Q(ctx).QueryRow(ctx, `INSERT INTO sms_delivery_reports (provider, request_id, number, status, description,
				reason, reference, delivered, rejected, reported_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (provider, request_id, number, status) DO NOTHING
			RETURNING id, received_at`, r.Provider, r.RequestID, r.Number, r.Status, r.Description, r.Reason, r.Reference,
			r.Delivered, r.Rejected, reportedAt).Scan(&ir.ID, &ir.ReceivedAt)
		if isNoRows(err) {
			continue // posted before
		}
		if err != nil {
			return out, fmt.Errorf("keep delivery report %s: %w", r.RequestID, err)
		}
		ir.ProviderReport = r
		out = append(out, ir)
	}
	return out, nil
}

const selectReports = `SELECT id, provider, request_id, number, status, description, reason, reference,
	delivered, rejected, coalesce(reported_at, received_at), received_at FROM sms_delivery_reports`

func (in *ReportInbox) reports(ctx context.Context, sql string, args ...any) ([]command.InboxReport, error) {
	rows, err := in.db.Q(ctx).Query(ctx, selectReports+sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (command.InboxReport, error) {
		var r command.InboxReport
		err := row.Scan(&r.ID, &r.Provider, &r.RequestID, &r.Number, &r.Status, &r.Description, &r.Reason, &r.Reference,
			&r.Delivered, &r.Rejected, &r.ReportedAt, &r.ReceivedAt)
		return r, err
	})
}

// Pending returns the reports not settled yet, oldest first.
func (in *ReportInbox) Pending(ctx context.Context, limit int) ([]command.InboxReport, error) {
	out, err := in.reports(ctx, ` WHERE settled_at IS NULL ORDER BY received_at LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending delivery reports: %w", err)
	}
	return out, nil
}

// attemptOfSQL finds the latest attempt answered with request id $1 by provider $2. The type is
// written out, not a parameter: events_provider_message_id holds the attempts alone, and only a
// plan that knows the type is an attempt's may read it (a generic plan of a parameter read the whole
// table).
const attemptOfSQL = `SELECT stream_id, (data->>'attempt')::int FROM events
	WHERE type = '` + notification.TypeDeliveryAttempted + `' AND data->>'provider_message_id' = $1 AND data->>'provider' = $2
	ORDER BY position DESC LIMIT 1`

// AttemptOf finds the attempt a provider answered with requestID, from the attempts' events.
func (in *ReportInbox) AttemptOf(ctx context.Context, provider, requestID string) (string, int, bool, error) {
	var stream string
	var attempt int
	err := in.db.Q(ctx).QueryRow(ctx, attemptOfSQL, requestID, provider).Scan(&stream, &attempt)
	if isNoRows(err) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("find the attempt of %s request %s: %w", provider, requestID, err)
	}
	return stream, attempt, true, nil
}

// Settle marks a report folded into stream, or unknown when stream is "".
func (in *ReportInbox) Settle(ctx context.Context, id int64, stream string) error {
	outcome, s := "applied", &stream
	if stream == "" {
		outcome, s = "unknown", nil
	}
	if _, err := in.db.Q(ctx).Exec(ctx, `UPDATE sms_delivery_reports SET settled_at = now(), outcome = $2, stream_id = $3 WHERE id = $1`,
		id, outcome, s); err != nil {
		return fmt.Errorf("settle delivery report %d: %w", id, err)
	}
	return nil
}

// ReportsOf returns the reports received for a provider's request id, oldest first: what notify-test
// waits for.
func (in *ReportInbox) ReportsOf(ctx context.Context, provider, requestID string) ([]command.InboxReport, error) {
	out, err := in.reports(ctx, ` WHERE provider = $1 AND request_id = $2 ORDER BY received_at`, provider, requestID)
	if err != nil {
		return nil, fmt.Errorf("reports of %s: %w", requestID, err)
	}
	return out, nil
}

// RejectedTemplates lists the templates rejected since a time, most rejected first: a setting to
// fix, which doctor and the console point at.
func (in *ReportInbox) RejectedTemplates(ctx context.Context, since time.Time) ([]query.RejectedTemplate, error) {
	rows, err := in.db.Q(ctx).Query(ctx, `SELECT l.notification_type, r.provider, count(*), max(r.received_at)
		FROM sms_delivery_reports r JOIN notification_log l ON l.notification_id = r.stream_id
		WHERE r.rejected AND r.received_at > $1 GROUP BY 1, 2 ORDER BY 3 DESC, 1`, since)
	if err != nil {
		return nil, fmt.Errorf("rejected templates: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (query.RejectedTemplate, error) {
		var t query.RejectedTemplate
		err := row.Scan(&t.Type, &t.Provider, &t.Count, &t.Last)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("rejected templates: %w", err)
	}
	return out, nil
}
