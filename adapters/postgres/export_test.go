package postgres

import (
	"context"
	"strings"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ExplainClaim returns the plan of a claim of n messages of topic, run as claim runs it, and rolls
// the claim back.
func ExplainClaim(ctx context.Context, pool *pgxpool.Pool, topic string, n int) (string, error) {
	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	batch.Queue(claimSettings)
	batch.Queue(`EXPLAIN (ANALYZE, COSTS OFF) `+claimSQL, topic, n, "1 minute")
	batch.Queue(`ROLLBACK`)
	br := pool.SendBatch(ctx, batch)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return "", err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	_, err = br.Exec()
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
