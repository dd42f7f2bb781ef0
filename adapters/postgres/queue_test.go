package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/postgres"
)

// A claim must read a handful of index entries, not the whole queue, even when the statistics were
// taken while the queue was empty: the usual state after a quiet spell, just before a burst.
func TestClaimWalksTheDueIndexEvenWithStatisticsOfAnEmptyQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newStore(t, 4)
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE notification_queue`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id, payload, metadata)
		SELECT 'notification-' || g || '-' || t, 'notify_' || t, gen_random_uuid(), '{}', '{}'
		FROM generate_series(1, 2000) g, (VALUES ('email'), ('sms')) v(t)`); err != nil {
		t.Fatal(err)
	}
	plan, err := postgres.ExplainClaim(ctx, db.Pool, "notify_email", 8)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index Scan using notification_queue_due") {
		t.Fatalf("the claim does not walk notification_queue_due in order:\n%s", plan)
	}
	if !strings.Contains(plan, "Update on notification_queue q (actual time") || !strings.Contains(plan, "rows=8 loops=1") {
		t.Fatalf("the claim did not lease 8 messages:\n%s", plan)
	}
}
