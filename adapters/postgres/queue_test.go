package postgres_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/migrations"
)

// A claim must read a handful of index entries, not the whole queue, even when the statistics were
// taken while the queue was empty: the usual state after a quiet spell, just before a burst.
func TestClaimWalksTheDueIndexEvenWithStatisticsOfAnEmptyQueue(t *testing.T) {
	t.Parallel()
	// A long queue, and a short one whose pages are full of the dead rows of delivered messages:
	// either way the claim reads the rows it leases by index, and no more.
	for _, c := range []struct {
		name         string
		queued, dead int
		vacuum       bool
	}{{"long queue", 2000, 0, false}, {"short queue after many deliveries", 60, 3000, false}, {"short queue", 60, 0, false},
		{"short queue vacuumed after many deliveries", 60, 3000, true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, db := newStore(t, 4)
			if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE notification_queue`); err != nil {
				t.Fatal(err)
			}
			// Deleted while a transaction is open, the delivered messages stay as dead rows.
			hold, err := db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer hold.Rollback(ctx)
			if _, err := hold.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
				SELECT 'notification-' || g || '-' || t, 'notify_' || t, gen_random_uuid()
				FROM generate_series(1, $1::int) g, (VALUES ('email'), ('sms')) v(t)`, c.dead+c.queued/2); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Pool.Exec(ctx, `DELETE FROM notification_queue WHERE id IN (SELECT id FROM notification_queue ORDER BY id LIMIT $1)`, 2*c.dead); err != nil {
				t.Fatal(err)
			}
			if c.vacuum {
				// The statistics then count a few rows in many pages: the planner takes the table
				// for a row or two.
				if err := hold.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Pool.Exec(ctx, `VACUUM notification_queue`); err != nil {
					t.Fatal(err)
				}
			}
			plan, err := postgres.ExplainClaim(ctx, db.Pool, "notify_email", 8)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(plan, "Sort") || strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index Scan using notification_queue_due") {
				t.Fatalf("the claim does not walk notification_queue_due in order:\n%s", plan)
			}
			// Each candidate's earlier messages are looked up by order, not by walking the topic.
			if strings.Count(plan, "notification_queue_due") != 1 || !strings.Contains(plan, "using notification_queue_order") {
				t.Fatalf("the claim does not look up earlier messages by order:\n%s", plan)
			}
			if !strings.Contains(plan, "Update on notification_queue u (actual time") || !strings.Contains(plan, "rows=8 loops=1") {
				t.Fatalf("the claim did not lease 8 messages:\n%s", plan)
			}
			// Each message's request is read by its stream's key.
			if !strings.Contains(plan, "Index Cond: ((stream_id = c.stream_id) AND (stream_version = 1))") {
				t.Fatalf("the claim does not read the requests by key:\n%s", plan)
			}
		})
	}
}

// A claim changes only the lease and the delivery count, which no index holds: each message it hands
// out is a heap-only update, with no new entry in any of the queue's indexes. The messages in flight
// stay where they were in the due index, and a claim steps over them on their lease alone, without
// looking up their orders.
func TestAClaimIsAHeapOnlyUpdateAndStepsOverTheMessagesInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// One connection: the statistics it flushes are the claim's own.
	_, db := newStore(t, 1)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
		SELECT 'notification-' || g || '-email', 'notify_email', gen_random_uuid() FROM generate_series(1, 200) g`); err != nil {
		t.Fatal(err)
	}
	if n, err := postgres.Claim(ctx, db.Pool, "notify_email", 64); err != nil || n != 64 {
		t.Fatalf("claimed %d, %v; want 64", n, err)
	}
	if _, err := db.Pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatal(err)
	}
	var updated, hot int
	if err := db.Pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'notification_queue'`).
		Scan(&updated, &hot); err != nil {
		t.Fatal(err)
	}
	if updated != 64 || hot != 64 {
		t.Fatalf("the claim updated %d messages, %d of them heap-only; want 64 and 64", updated, hot)
	}
	// The console and doctor count the messages in flight as queued, not as ready for a worker.
	if q, err := postgres.QueueState(ctx, db.Pool); err != nil || q.Queued != 200 || q.Due != 136 {
		t.Fatalf("queue state %+v, %v; want 200 queued, 136 ready", q, err)
	}
	plan, err := postgres.ExplainClaim(ctx, db.Pool, "notify_email", 8)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "rows=8 loops=1") || !strings.Contains(plan, "Rows Removed by Filter: 64") ||
		!strings.Contains(plan, "Index Only Scan using notification_queue_order on notification_queue p (actual time") ||
		!strings.Contains(plan, "rows=0 loops=8)") {
		t.Fatalf("the claim did not step over the 64 messages in flight on their lease alone:\n%s", plan)
	}
	// A lease that runs out makes its message due again.
	if _, err := db.Pool.Exec(ctx, `UPDATE notification_queue SET lease_until = now() - interval '1 second'
		WHERE stream_id = 'notification-1-email'`); err != nil {
		t.Fatal(err)
	}
	if n, err := postgres.Claim(ctx, db.Pool, "notify_email", 200); err != nil || n != 137 {
		t.Fatalf("claimed %d, %v; want the 136 never handed out and the one whose lease ran out", n, err)
	}
}

// A message behind an earlier one of its order (waiting for its retry, or in a worker's hands) is
// queued, not ready for a worker: it goes when that one settles, so counting it would read as a
// message no worker takes.
func TestAMessageHeldBehindItsOrdersRetryIsNotReadyForAWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newStore(t, 1)
	orderID := uuid.New()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id, due_at)
		VALUES ('notification-a-sms', 'notify_sms', $1, now() + interval '1 minute')`, orderID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
		VALUES ('notification-b-sms', 'notify_sms', $1), ('notification-c-sms', 'notify_sms', gen_random_uuid())`, orderID); err != nil {
		t.Fatal(err)
	}
	if q, err := postgres.QueueState(ctx, db.Pool); err != nil || q.Queued != 3 || q.Due != 1 {
		t.Fatalf("queue state %+v, %v; want 3 queued, 1 ready (the other order's)", q, err)
	}
	if n, err := postgres.Claim(ctx, db.Pool, "notify_sms", 10); err != nil || n != 1 {
		t.Fatalf("claimed %d, %v; want the one the state called ready", n, err)
	}
}

// A settled notification's message is deleted by key, even when the delete was planned while the
// queue was a page: the usual state after a quiet spell.
func TestSettlingDeletesTheMessageByKeyEvenWithAnEmptyQueuesPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newStore(t, 4)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
		VALUES ('notification-a-email', 'notify_email', gen_random_uuid())`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE notification_queue`); err != nil {
		t.Fatal(err)
	}
	plan, err := postgres.ExplainSettle(ctx, db.Pool, "notification-a-email")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index Scan using notification_queue_pkey") {
		t.Fatalf("the delete does not find the message by its stream:\n%s", plan)
	}
	if !strings.Contains(plan, "Delete on notification_queue (actual time") || !strings.Contains(plan, "rows=1 loops=1") {
		t.Fatalf("the delete did not find the message:\n%s", plan)
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
		if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
			VALUES ($1, 'notify_email', $2)`, stream, orderID); err != nil {
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
	if got := second.Metadata.Get(es.MsgStream); got != "notification-b-email" {
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

// A subscriber's select reads the batch it returns, not the whole backlog after its offset, even when
// the statistics were taken while the outbox was empty.
func TestOutboxSelectReadsOnlyItsBatchOfABacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newStore(t, 4)
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO watermill_offsets_order_events (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ('backlog', 0, '0')`); err != nil {
		t.Fatal(err)
	}
	// A backlog written by many transactions, as appends write it.
	for range 20 {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, data, topic, stream_hash, correlation_id, actor, occurred_at)
			SELECT 'order-' || gen_random_uuid(), 1, gen_random_uuid(), 'test.a.v1', '{}', 'order_events', 0, '', 'system', '2026-12-01T00:00:00Z'
			FROM generate_series(1, 100)`); err != nil {
			t.Fatal(err)
		}
	}
	// Subscribers read only rows older than every running transaction, and transaction ids are
	// cluster-wide: wait until whatever other tests had running when the backlog was written is over.
	deadline := time.Now().Add(10 * time.Second)
	for count(t, db, `SELECT count(*) FROM events WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())`) < 2000 {
		if time.Now().After(deadline) {
			t.Fatal("the backlog never became visible to subscribers")
		}
		time.Sleep(10 * time.Millisecond)
	}
	plan, err := postgres.ExplainOutboxSelect(ctx, db.Pool, "backlog", 10)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index Scan using events_topic_commit_order") ||
		!strings.Contains(plan, "rows=10 loops=1") {
		t.Fatalf("the select does not read 10 rows in key order:\n%s", plan)
	}
}

// When the router stops (it cancels the subscription's context, then closes the subscriber), a
// handler in the middle of a send keeps a live context, finishes, and its ack still counts.
func TestAClosingQueueLetsTheHandlerInHandFinish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newStore(t, 4)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
		VALUES ('notification-c-sms', 'notify_sms', $1)`, uuid.New()); err != nil {
		t.Fatal(err)
	}
	sub := postgres.NewQueueSubscriber(db.Pool, postgres.QueueConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	subCtx, stopRouter := context.WithCancel(ctx)
	msgs, err := sub.Subscribe(subCtx, "notify_sms")
	if err != nil {
		t.Fatal(err)
	}
	msg := <-msgs
	stopRouter()
	closed := make(chan error, 1)
	go func() { closed <- sub.Close() }()
	time.Sleep(100 * time.Millisecond) // the send goes on while the subscriber closes
	if err := msg.Context().Err(); err != nil {
		t.Fatalf("the handler's context ended as the router stopped: %v", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a handler still running", err)
	default:
	}
	msg.Ack()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM notification_queue`); n != 0 {
		t.Fatalf("the acked message is still queued (%d rows)", n)
	}
}

// Queuing a notification wakes its topic's delivery workers when it commits; the same order event
// delivered again queues nothing and wakes no one.
func TestQueuingNotificationsWakesTheirTopicsWorkersOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, db := newStore(t, 4)
	repo := postgres.NewNotificationRepository(store)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listener := conn.Hijack()
	defer listener.Close(context.Background())
	if _, err := listener.Exec(ctx, "LISTEN "+postgres.QueueChannel); err != nil {
		t.Fatal(err)
	}
	eventID := uuid.New()
	create := func() int {
		var ns []command.NewNotification
		for _, ch := range notification.Channels() {
			req := notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-TEST1", OrderEventID: eventID,
				OrderEventType: "order.shipped.v1", Type: notification.OrderShipped, Channel: ch, Recipient: "asha@example.in"}
			n, err := notification.Request(req)
			if err != nil {
				t.Fatal(err)
			}
			stream := notification.StreamID(eventID, ch)
			d := command.DeliveryOf(req, 1)
			ns = append(ns, command.NewNotification{Stream: stream, Notification: n, Delivery: d})
		}
		created, err := repo.Create(ctx, ns...)
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	next := func() string {
		n, err := listener.WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("no wake-up: %v", err)
		}
		return n.Payload
	}
	if created := create(); created != 2 {
		t.Fatalf("created %d notifications, want 2", created)
	}
	woken := map[string]bool{next(): true, next(): true}
	if !woken[command.EmailTopic] || !woken[command.SMSTopic] {
		t.Fatalf("woke %v, want the e-mail and the SMS topics", woken)
	}
	if created := create(); created != 0 {
		t.Fatalf("the same order event again created %d notifications, want none", created)
	}
	// A marker sent after the second create must be the next thing the listener hears.
	if _, err := db.Pool.Exec(ctx, `SELECT pg_notify($1, 'marker')`, postgres.QueueChannel); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "marker" {
		t.Fatalf("the same order event again woke %q", got)
	}
}

// A message whose save took it out of the queue (sent, or failed for good) is acked without a
// delete of its own: there is nothing left to delete. The queue still ends empty.
func TestAnAckDeletesNothingWhenTheSaveSettledTheMessage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, db := newStore(t, 4)
	repo := postgres.NewNotificationRepository(store)
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE queue_deletes (query TEXT);
		CREATE FUNCTION log_queue_delete() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN INSERT INTO queue_deletes VALUES (current_query()); RETURN NULL; END $$;
		CREATE TRIGGER log_queue_delete AFTER DELETE ON notification_queue FOR EACH STATEMENT EXECUTE FUNCTION log_queue_delete();`); err != nil {
		t.Fatal(err)
	}
	notifications := map[string]*notification.Notification{}
	for i := range 3 {
		req := notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-1000" + string(rune('0'+i)), OrderEventID: uuid.New(),
			OrderEventType: "order.shipped.v2", Type: notification.Types()[2], Channel: notification.Email, Recipient: "asha@example.in"}
		n, err := notification.Request(req)
		if err != nil {
			t.Fatal(err)
		}
		stream := notification.StreamID(req.OrderEventID, notification.Email)
		notifications[stream] = n
		if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
			VALUES ($1, 'notify_email', $2)`, stream, req.OrderID); err != nil {
			t.Fatal(err)
		}
	}
	sub := postgres.NewQueueSubscriber(db.Pool, postgres.QueueConfig{Concurrency: 4, PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	msgs, err := sub.Subscribe(ctx, "notify_email")
	if err != nil {
		t.Fatal(err)
	}
	for range notifications {
		var m *message.Message
		select {
		case m = <-msgs:
		case <-ctx.Done():
			t.Fatal("the queued notifications were not all handed out")
		}
		stream := m.Metadata.Get(es.MsgStream)
		n := notifications[stream]
		if _, err := n.Attempt(1, "smtp"); err != nil {
			t.Fatal(err)
		}
		if err := n.Succeed(notification.DeliveryAttempted{Provider: "smtp", DurationMS: 20}, "", "<"+stream+"@certibuy.local>"); err != nil {
			t.Fatal(err)
		}
		if err := repo.Save(m.Context(), stream, n, nil); err != nil {
			t.Fatal(err)
		}
		m.Ack()
	}
	// Claims go on after the acks: an ack's delete would run with the next one.
	time.Sleep(100 * time.Millisecond)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM notification_queue`); n != 0 {
		t.Fatalf("%d messages left in the queue", n)
	}
	rows, err := db.Pool.Query(ctx, `SELECT query FROM queue_deletes`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	saves := 0
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(q, "USING unnest") {
			t.Errorf("an ack deleted again what its save had taken out of the queue: %s", strings.Join(strings.Fields(q), " "))
		} else {
			saves++
		}
	}
	if saves == 0 {
		t.Error("no save took its message out of the queue")
	}
}

// A consumer group that reads one partition of a topic gets the messages of that partition's
// streams only; the lag report counts only what the group reads, so it falls to zero once the
// group has read them all.
func TestAPartitionsSubscriberReadsItsOwnMessages(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, db := newStore(t, 8)
	want := map[string]bool{}
	for range 40 {
		stream := "order-" + uuid.NewString()
		if _, err := store.Append(ctx, stream, postgres.NoStream, ev("test.placed.v1", `{}`)); err != nil {
			t.Fatal(err)
		}
		if es.StreamHash(stream)%4 == 1 {
			want[stream] = true
		}
	}
	sub, err := postgres.NewSubscriber(db.Pool, "requests_p1", postgres.SubscriberConfig{Wait: postgres.WaitConfig{SafetyPoll: 20 * time.Millisecond},
		AckDeadline: 10 * time.Second, BatchSize: 5, Partition: &postgres.Partition{Index: 1, Of: 4}}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, postgres.OrderEventsTopic)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < len(want) {
		select {
		case m := <-msgs:
			stream := m.Metadata.Get(es.MsgStream)
			if !want[stream] {
				t.Fatalf("partition 1 of 4 got a message of %s (hash %d)", stream, es.StreamHash(stream)%4)
			}
			got[stream] = true
			m.Ack()
		case <-ctx.Done():
			t.Fatalf("partition 1 of 4 got %d of its %d messages", len(got), len(want))
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lags, err := postgres.OutboxLag(ctx, db.Pool)
		if err != nil {
			t.Fatal(err)
		}
		behind := -1
		for _, l := range lags {
			if l.Group == "requests_p1" {
				behind = l.Behind
			}
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lag report says requests_p1 is %d messages behind after reading all its own", behind)
		}
	}
	select {
	case m := <-msgs:
		t.Fatalf("partition 1 of 4 got a message of %s after its own", m.Metadata.Get(es.MsgStream))
	case <-time.After(200 * time.Millisecond):
	}
}

// A message whose handler runs longer than the lease keeps it: the lease is renewed while the
// handler runs, so a second worker does not take the message and send it again; once the handler
// stops renewing (its worker died), the message is handed out again after one lease.
func TestALeaseIsRenewedWhileItsHandlerRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, db := newStore(t, 8)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
		VALUES ('notification-slow-sms', 'notify_sms', $1)`, uuid.New()); err != nil {
		t.Fatal(err)
	}
	cfg := postgres.QueueConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond, Lease: 600 * time.Millisecond}
	first := postgres.NewQueueSubscriber(db.Pool, cfg, watermill.NopLogger{})
	second := postgres.NewQueueSubscriber(db.Pool, cfg, watermill.NopLogger{})
	defer second.Close()
	inHand, err := first.Subscribe(ctx, "notify_sms")
	if err != nil {
		t.Fatal(err)
	}
	msg := <-inHand
	other, err := second.Subscribe(ctx, "notify_sms")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-other:
		t.Fatalf("a second worker took the message while the first was still sending it (delivery %s)", m.Metadata.Get(postgres.MsgDeliveries))
	case <-time.After(5 * cfg.Lease):
	}
	msg.Ack()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM notification_queue`); n != 0 {
		t.Fatalf("the acked message is still queued (%d rows)", n)
	}
}

// A message claimed but never handed to a handler (the subscriber closed first) goes back without
// counting as a delivery, so the next attempt is not mistaken for one after a lost attempt.
func TestAReleasedMessageDoesNotCountAsADelivery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, db := newStore(t, 4)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
		VALUES ('notification-r-email', 'notify_email', $1)`, uuid.New()); err != nil {
		t.Fatal(err)
	}
	sub := postgres.NewQueueSubscriber(db.Pool, postgres.QueueConfig{Concurrency: 1, PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	if _, err := sub.Subscribe(ctx, "notify_email"); err != nil {
		t.Fatal(err)
	}
	// Nobody reads the channel: the claimed message waits to be handed out until the close.
	for count(t, db, `SELECT count(*) FROM notification_queue WHERE deliveries = 1`) != 1 {
		if ctx.Err() != nil {
			t.Fatal("the message was never claimed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM notification_queue WHERE deliveries = 0 AND lease_until IS NULL`); n != 1 {
		t.Fatalf("the released message counts %d deliveries", count(t, db, `SELECT max(deliveries) FROM notification_queue`))
	}
}

// A notification queued before the queue stopped copying requests (migration 014) is still
// delivered after the upgrade, with its request.
func TestANotificationQueuedBeforeTheUpgradeIsDeliveredWithItsRequest(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := poolAtMigration(ctx, t, 13, 4)
	req := notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-UPGRADE", OrderEventID: uuid.New(),
		OrderEventType: "order.shipped.v2", Type: notification.OrderShipped, Channel: notification.Email, Recipient: "asha@example.in"}
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	stream := notification.StreamID(req.OrderEventID, notification.Email)
	// As the store wrote them before: the request event, and a queue row with a copy of it.
	if _, err := pool.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata, stream_hash)
		VALUES ($1, 1, gen_random_uuid(), $2, $3, '{"actor": "system"}', 0)`, stream, notification.TypeRequested, string(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id, payload, metadata) VALUES ($1, $2, $3, $4, $5)`,
		stream, command.EmailTopic, req.OrderID, string(data), `{"stream":"`+stream+`"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	sub := postgres.NewQueueSubscriber(pool, postgres.QueueConfig{Concurrency: 1, PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, command.EmailTopic)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		var got notification.Requested
		if err := json.Unmarshal(m.Payload, &got); err != nil || !reflect.DeepEqual(got, req) || m.Metadata.Get(es.MsgStream) != stream {
			t.Fatalf("delivered %s %s (%v), want the request %+v of %s", m.Metadata, m.Payload, err, req, stream)
		}
		m.Ack()
	case <-ctx.Done():
		t.Fatal("the notification queued before the upgrade was never handed out")
	}
}

// A notification queued again (a resend) is handed out at the version that queued it, with that
// event's correlation id and as that event (its id is the message's), so that its attempts are
// traced to the resend; one queued by its request carries the request's. Rows queued before
// migration 017 kept both in a JSON copy, and keep them.
func TestAQueuedMessageCarriesTheVersionAndCorrelationOfTheEventThatQueuedIt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := poolAtMigration(ctx, t, 16, 4)
	want := map[string][3]string{} // stream → version, correlation id, id of the event that queued it
	for i, c := range []struct {
		events      []string
		correlation string
	}{
		{[]string{notification.TypeRequested}, "checkout-queued"},
		{[]string{notification.TypeRequested, notification.TypeFailed, notification.TypeResent}, "admin-resend"},
	} {
		req := notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-QUEUED" + strconv.Itoa(i), OrderEventID: uuid.New(),
			OrderEventType: "order.shipped.v2", Type: notification.OrderShipped, Channel: notification.Email, Recipient: "asha@example.in"}
		data, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		stream := notification.StreamID(req.OrderEventID, notification.Email)
		var queuedBy string
		for v, typ := range c.events {
			// Each event its own correlation id, so that the message's names the one it was read from.
			md := `{"actor": "system", "correlation_id": "` + stream + `-v` + strconv.Itoa(v+1) + `"}`
			if v+1 == len(c.events) {
				md = `{"actor": "system", "correlation_id": "` + c.correlation + `"}`
			}
			if err := pool.QueryRow(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata, stream_hash)
				VALUES ($1, $2, gen_random_uuid(), $3, $4, $5, 0) RETURNING event_id::text`, stream, v+1, typ, string(data), md).Scan(&queuedBy); err != nil {
				t.Fatal(err)
			}
		}
		version := strconv.Itoa(len(c.events))
		if _, err := pool.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id, metadata) VALUES ($1, $2, $3, $4)`,
			stream, command.EmailTopic, req.OrderID, `{"correlation_id":"`+c.correlation+`","stream_version":"`+version+`"}`); err != nil {
			t.Fatal(err)
		}
		want[stream] = [3]string{version, c.correlation, queuedBy}
	}
	if _, err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	sub := postgres.NewQueueSubscriber(pool, postgres.QueueConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond}, watermill.NopLogger{})
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, command.EmailTopic)
	if err != nil {
		t.Fatal(err)
	}
	for range want {
		select {
		case m := <-msgs:
			stream := m.Metadata.Get(es.MsgStream)
			got := [3]string{m.Metadata.Get(es.MsgStreamVersion), m.Metadata.Get(es.MsgCorrelationID), m.UUID}
			if got != want[stream] || m.Metadata.Get(es.MsgType) != notification.TypeRequested {
				t.Errorf("%s handed out as %v (version, correlation id, id) of a %s, want %v of a request",
					stream, got, m.Metadata.Get(es.MsgType), want[stream])
			}
			m.Ack()
		case <-ctx.Done():
			t.Fatal("the queued notifications were not all handed out")
		}
	}
}
