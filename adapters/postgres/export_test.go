package postgres

import (
	"context"
	"strings"

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
