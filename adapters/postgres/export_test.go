package postgres

import (
	"context"
	"fmt"
	"strings"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ExplainClaim returns the plan of a claim of n messages of topic, run as claim runs it, and rolls
// the claim back. The plan is the generic one: pgx prepares the claim, and PostgreSQL switches a
// prepared statement to its generic plan after a few runs.
func ExplainClaim(ctx context.Context, pool *pgxpool.Pool, topic string, n int) (string, error) {
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
	for _, sql := range []string{claimSettings, `SET LOCAL plan_cache_mode = force_generic_plan`,
		`PREPARE explained_claim(text, int, interval) AS ` + claimSQL} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return "", err
		}
	}
	defer conn.Exec(context.WithoutCancel(ctx), `DEALLOCATE explained_claim`)
	rows, err := tx.Query(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, COSTS OFF) EXECUTE explained_claim('%s', %d, '1 minute')`,
		strings.ReplaceAll(topic, "'", "''"), n))
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
	sql := outboxSelect(next.Query, wsql.DefaultPostgreSQLSchema{}.MessagesTable(OrderEventsTopic), n)
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) "+sql, next.Args...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
