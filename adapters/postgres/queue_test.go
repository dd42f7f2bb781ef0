package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

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

// An acked message leaves the queue, and the next message of its order is handed out after it, not
// before.
func TestAckedMessagesLeaveTheQueueAndUnblockTheirOrder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, db := newStore(t, 4)
	orderID := uuid.New()
	for _, stream := range []string{"notification-a-email", "notification-b-email"} {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id, payload, metadata)
			VALUES ($1, 'notify_email', $2, '{}', $3)`, stream, orderID, `{"stream":"`+stream+`"}`); err != nil {
			t.Fatal(err)
		}
	}
	sub := postgres.NewQueueSubscriber(db.Pool, postgres.QueueConfig{Concurrency: 4, PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	msgs, err := sub.Subscribe(ctx, "notify_email")
	if err != nil {
		t.Fatal(err)
	}
	first := <-msgs
	select {
	case m := <-msgs:
		t.Fatalf("the second message of the order was handed out while the first was in hand: %v", m.Metadata)
	case <-time.After(200 * time.Millisecond):
	}
	first.Ack()
	var second *message.Message
	select {
	case second = <-msgs:
	case <-ctx.Done():
		t.Fatal("the second message never came after the first was acked")
	}
	if got := second.Metadata.Get("stream"); got != "notification-b-email" {
		t.Fatalf("second message is %q, want notification-b-email", got)
	}
	second.Ack()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM notification_queue`); n != 0 {
		t.Fatalf("%d messages left in the queue after both were acked", n)
	}
}
