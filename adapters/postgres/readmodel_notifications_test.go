package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
)

func notificationEvent(t *testing.T, e notification.Event) postgres.NewEvent {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return postgres.NewEvent{Type: e.EventType(), Data: data}
}

// applyLog applies the notification log projection to the want events after cp in one transaction
// and returns how many of its rows the transaction updated, and how many of those updates were
// heap-only.
func applyLog(t *testing.T, db *postgres.DB, store *postgres.EventStore, cp postgres.Checkpoint, want int) (postgres.Checkpoint, int, int) {
	t.Helper()
	ctx := context.Background()
	var events []postgres.RecordedEvent
	// Reads stop at the oldest transaction running on the server, which another test may hold back.
	for deadline := time.Now().Add(10 * time.Second); len(events) < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events readable", len(events), want)
		}
		var err error
		if events, err = store.ReadAll(ctx, cp, want); err != nil {
			t.Fatal(err)
		}
	}
	var updated, hot int
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if err := (postgres.NotificationLog{}).Apply(ctx, tx, postgres.Tables{}, events); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT pg_stat_get_xact_tuples_updated('notification_log'::regclass),
			pg_stat_get_xact_tuples_hot_updated('notification_log'::regclass)`).Scan(&updated, &hot)
	})
	if err != nil {
		t.Fatal(err)
	}
	return events[len(events)-1].Checkpoint(), updated, hot
}

// A send updates its log row in place (a heap-only update), also when the rows were inserted
// together and fill their pages and are all updated in one transaction: no index holds a column the
// send changes, and each page keeps room for the sent versions of its rows. The filter for failed notifications still finds them, and only
// while they have failed.
func TestTheLogRecordsSendsWithoutNewIndexEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, db := newStore(t, 4)
	const orders = 150
	var streams []string
	for i := range orders {
		orderID, eventID := uuid.New(), uuid.New()
		for _, ch := range notification.Channels() {
			stream := notification.StreamID(eventID, ch)
			req := notification.Requested{OrderID: orderID, OrderNumber: fmt.Sprintf("CB-%08d", i), OrderEventID: eventID,
				OrderEventType: "order.shipped.v2", Type: notification.Types()[2], Channel: ch, Recipient: "asha.rao@example.in"}
			if _, err := store.Append(ctx, stream, postgres.NoStream, notificationEvent(t, req)); err != nil {
				t.Fatal(err)
			}
			streams = append(streams, stream)
		}
	}
	cp, _, _ := applyLog(t, db, store, postgres.Checkpoint{}, len(streams))
	failedStream := streams[7]
	for i, stream := range streams {
		a := notification.DeliveryAttempted{Attempt: 1, Provider: "smtp", Outcome: notification.OutcomeSent,
			Response: "250 2.0.0 Ok: queued as 4F1B2C3D4E", DurationMS: 21}
		var done notification.Event = notification.Sent{Provider: "smtp", MessageID: "<" + stream + "@certibuy.local>", Attempts: 1}
		if stream == failedStream {
			a.Outcome, a.Response, a.Error = notification.OutcomeFailed, "", "554 5.7.1 rejected"
			done = notification.Failed{LastError: "554 5.7.1 rejected", Attempts: 1}
		}
		if _, err := store.Append(ctx, stream, 1, notificationEvent(t, a), notificationEvent(t, done)); err != nil {
			t.Fatalf("notification %d: %v", i, err)
		}
	}
	cp, updated, hot := applyLog(t, db, store, cp, 2*len(streams))
	// A row whose page filled up anyway may move; nearly all stay.
	if updated != len(streams) || hot < updated*95/100 {
		t.Errorf("%d of %d log rows updated, %d of them heap-only; want all, at least 95%% heap-only", updated, len(streams), hot)
	}
	var pages int
	if err := db.Pool.QueryRow(ctx, `SELECT pg_relation_size('notification_log') / current_setting('block_size')::int`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages < 3 {
		t.Errorf("the log's rows fit in %d pages: too few to show that full pages keep room", pages)
	}

	reader := postgres.NewNotificationLogReader(db)
	failed, err := reader.List(ctx, query.NotificationFilter{Status: string(notification.StatusFailed), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed.Notifications) != 1 || failed.Notifications[0].ID != failedStream {
		t.Fatalf("the failed filter found %v, want only %s", failed.Notifications, failedStream)
	}
	if _, err := store.Append(ctx, failedStream, 3, notificationEvent(t, notification.Resent{By: "admin:ops"})); err != nil {
		t.Fatal(err)
	}
	applyLog(t, db, store, cp, 1)
	if failed, err = reader.List(ctx, query.NotificationFilter{Status: string(notification.StatusFailed), Limit: 10}); err != nil || len(failed.Notifications) != 0 {
		t.Fatalf("after the resend the failed filter found %v, %v; want none", failed.Notifications, err)
	}
	pending, err := reader.List(ctx, query.NotificationFilter{Status: string(notification.StatusPending), Limit: 10})
	if err != nil || len(pending.Notifications) != 1 || pending.Notifications[0].ID != failedStream {
		t.Fatalf("after the resend the pending filter found %v, %v; want %s", pending.Notifications, err, failedStream)
	}
}

// A notification's row is the same whether its events come in one batch, as in a replay, or one by
// one, as they happened. A send used to clear the error for the whole batch, so a failure after it
// (a resend that failed) lost its reason in a rebuild, and `replay --verify` found a difference.
func TestTheLogIsTheSameInOneBatchAsEventByEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, db := newStore(t, 4)
	orderID, eventID := uuid.New(), uuid.New()
	history := func(i int) []postgres.NewEvent {
		req := notification.Requested{OrderID: orderID, OrderNumber: fmt.Sprintf("CB-%08d", i), OrderEventID: eventID,
			OrderEventType: "order.shipped.v2", Type: notification.Types()[2], Channel: notification.Email, Recipient: "asha.rao@example.in"}
		return []postgres.NewEvent{
			notificationEvent(t, req),
			notificationEvent(t, notification.DeliveryAttempted{Attempt: 1, Provider: "smtp", Outcome: notification.OutcomeSent, Response: "250 ok"}),
			notificationEvent(t, notification.Sent{Provider: "smtp", MessageID: "<m@shop>", Attempts: 1}),
			notificationEvent(t, notification.Resent{By: "admin:ops"}),
			notificationEvent(t, notification.DeliveryAttempted{Attempt: 2, Provider: "smtp", Outcome: notification.OutcomeFailed, Error: "smtp: 550 mailbox gone"}),
			notificationEvent(t, notification.Failed{LastError: "smtp: 550 mailbox gone", Attempts: 2}),
		}
	}
	batch, single := notification.StreamID(eventID, notification.Email), notification.StreamID(uuid.New(), notification.Email)
	if _, err := store.Append(ctx, batch, postgres.NoStream, history(1)...); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, single, postgres.NoStream, history(2)...); err != nil {
		t.Fatal(err)
	}
	cp, _, _ := applyLog(t, db, store, postgres.Checkpoint{}, 6)
	for range 6 {
		cp, _, _ = applyLog(t, db, store, cp, 1)
	}
	row := func(id string) string {
		var status, errMsg, provider string
		var attempts int
		if err := db.Pool.QueryRow(ctx, `SELECT status, coalesce(error_message, '<none>'), provider, attempts FROM notification_log WHERE notification_id = $1`, id).
			Scan(&status, &errMsg, &provider, &attempts); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return fmt.Sprintf("%s, %s, %s, %d attempts", status, errMsg, provider, attempts)
	}
	want := "failed, smtp: 550 mailbox gone, smtp, 2 attempts"
	if got := row(batch); got != want {
		t.Errorf("applied in one batch: %s, want %s", got, want)
	}
	if got := row(single); got != want {
		t.Errorf("applied event by event: %s, want %s", got, want)
	}
}
