package postgres

import (
	"context"
	"fmt"
	"github.com/ThreeDotsLabs/watermill"
	"strings"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ExplainClaim returns the plan of a claim of n messages of topic, run as claim runs it, and rolls
// the claim back. The plan is the generic one: pgx prepares the claim, and PostgreSQL switches a
// prepared statement to its generic plan after a few runs.
func ExplainClaim(ctx context.Context, pool *pgxpool.Pool, topic string, n int) (string, error) {
	return explainGeneric(ctx, pool, claimSettings, claimSQL, "text, int, interval",
		fmt.Sprintf("'%s', %d, '1 minute'", strings.ReplaceAll(topic, "'", "''"), n))
}

// Claim leases up to n due messages of topic as a consumer's claim does, and commits.
func Claim(ctx context.Context, pool *pgxpool.Pool, topic string, n int) (int, error) {
	s := &QueueSubscriber{pool: pool, cfg: QueueConfig{Lease: time.Minute}}
	got, err := s.claim(ctx, topic, n, &pendingAcks{})
	return len(got), err
}

// ExplainSettle returns the generic plan of the delete that takes a settled notification's message
// out of the queue, run as Save runs it, and rolls it back.
func ExplainSettle(ctx context.Context, pool *pgxpool.Pool, stream string) (string, error) {
	return explainGeneric(ctx, pool, byKeySettings, settleSQL, "text[]", "ARRAY['"+strings.ReplaceAll(stream, "'", "''")+"']")
}

// explainGeneric explains the generic plan of sql, prepared with parameters of types and run with
// args after settings, in a transaction it rolls back.
func explainGeneric(ctx context.Context, pool *pgxpool.Pool, settings, sql, types, args string) (string, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	for _, s := range []string{settings, `SET LOCAL plan_cache_mode = force_generic_plan`,
		`PREPARE explained(` + types + `) AS ` + sql} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return "", err
		}
	}
	defer conn.Exec(context.WithoutCancel(ctx), `DEALLOCATE explained`)
	rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF) EXECUTE explained(`+args+`)`)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// ExplainOutboxSelect returns the plan of a subscriber's select of a batch of n order events for
// consumerGroup, run in a transaction begun as the subscriber begins its own.
func ExplainOutboxSelect(ctx context.Context, pool *pgxpool.Pool, consumerGroup string, n int) (string, error) {
	tx, err := subscriberConn{Pool: pool}.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadWrite})
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	next, err := wsql.DefaultPostgreSQLOffsetsAdapter{}.NextOffsetQuery(wsql.NextOffsetQueryParams{Topic: OrderEventsTopic, ConsumerGroup: consumerGroup})
	if err != nil {
		return "", err
	}
	args := append(next.Args, OrderEventsTopic)
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) "+eventsSelect(next.Query, len(args), n, nil), args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// GroupedAppender returns appends that join groups as NotificationRepository's saves do.
func GroupedAppender(store *EventStore, window time.Duration, max int) func(context.Context, StreamAppend) ([]RecordedEvent, error) {
	g := newAppendGroup(store, window, max)
	return func(ctx context.Context, a StreamAppend) ([]RecordedEvent, error) { return g.append(ctx, a, "") }
}

// ExplainAuditByType returns the generic plan of what an audit by one event type reads, with the
// condition Audit adds for that type, and sequential scans off: the plan says whether events_type
// can serve the audit.
func ExplainAuditByType(ctx context.Context, pool *pgxpool.Pool, typ string) (string, error) {
	cond := ""
	if typeIndexedFor(typ) {
		cond = " AND " + typeIndexed
	}
	return explainGeneric(ctx, pool, `SELECT set_config('enable_seqscan', 'off', true)`,
		`SELECT position FROM events WHERE type = $1`+cond+` ORDER BY tx_id, position LIMIT 50`,
		"text", "'"+strings.ReplaceAll(typ, "'", "''")+"'")
}

// ExplainAuditByCorrelation returns the generic plan of what an audit by one correlation id reads,
// with sequential scans off: the plan says whether the indexes can serve it.
func ExplainAuditByCorrelation(ctx context.Context, pool *pgxpool.Pool, correlation string) (string, error) {
	var w where
	w.add(correlated(), correlation)
	return explainGeneric(ctx, pool, `SELECT set_config('enable_seqscan', 'off', true)`,
		`SELECT position FROM events`+w.sql()+` ORDER BY tx_id, position LIMIT 50`,
		"text", "'"+strings.ReplaceAll(correlation, "'", "''")+"'")
}

// ExplainAttemptOf returns the generic plan of the look-up of the attempt a delivery report names.
func ExplainAttemptOf(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	return explainGeneric(ctx, pool, `SELECT set_config('enable_seqscan', 'off', true)`, attemptOfSQL, "text, text", "'req-1', 'msg91'")
}

// NewWakerEvery is NewWaker with the wait before each reconnection and the interval of its reminders
// while down, so that a test sees them in seconds.
func NewWakerEvery(pool *pgxpool.Pool, logger watermill.LoggerAdapter, retryEvery, remindEvery time.Duration) *Waker {
	return newWaker(pool, logger, nil, retryEvery, remindEvery)
}

// WithFailureReminder sets how often a projection whose steps keep failing says so again, so that
// a test sees the reminders in seconds.
func WithFailureReminder(d time.Duration) RunnerOption { return func(r *Runner) { r.remind = d } }
