package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/migrations"
)

// subscribe subscribes a consumer group to the order events; cfg's zero fields take test defaults.
func subscribe(t *testing.T, ctx context.Context, db *postgres.DB, group string, cfg postgres.SubscriberConfig) <-chan *message.Message {
	t.Helper()
	return subscribeLogging(t, ctx, db, group, cfg, watermill.NopLogger{})
}

// subscribeLogging is subscribe with the subscriber logging to logger.
func subscribeLogging(t *testing.T, ctx context.Context, db *postgres.DB, group string, cfg postgres.SubscriberConfig, logger watermill.LoggerAdapter) <-chan *message.Message {
	t.Helper()
	if cfg.Wait.SafetyPoll == 0 {
		cfg.Wait.SafetyPoll = 10 * time.Millisecond
	}
	if cfg.AckDeadline == 0 {
		cfg.AckDeadline = 10 * time.Second
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 3
	}
	sub, err := postgres.NewSubscriber(db.Pool, group, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	msgs, err := sub.Subscribe(ctx, postgres.OrderEventsTopic)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// receive returns the next message, or fails the test when ctx ends first.
func receive(t *testing.T, ctx context.Context, msgs <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-ctx.Done():
		t.Fatal("no message came")
		return nil
	}
}

// An append held open while later ones commit is read in its place: a group reads events in commit-
// safe order and stops below the oldest transaction still running, so it neither skips the late
// one nor reads it after the later ones.
func TestAGroupReadsAnAppendHeldOpenInItsPlace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, db := newStore(t, 8)
	first, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.first.v1", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	msgs := subscribe(t, ctx, db, "late", postgres.SubscriberConfig{})
	if m := receive(t, ctx, msgs); m.UUID != first[0].EventID.String() {
		t.Fatalf("first message %s, want %s", m.UUID, first[0].EventID)
	} else {
		m.Ack()
	}

	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	held, err := store.Append(postgres.WithTx(ctx, tx), "order-"+uuid.NewString(), postgres.NoStream, ev("test.held.v1", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	var later []string
	for range 3 {
		recs, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.later.v1", `{}`))
		if err != nil {
			t.Fatal(err)
		}
		later = append(later, recs[0].EventID.String())
	}
	// Let the group select while the held append is open (it finds nothing it may read); the
	// assertion below does not depend on this pause, only what it exercises does.
	time.Sleep(100 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := append([]string{held[0].EventID.String()}, later...)
	for i, id := range want {
		m := receive(t, ctx, msgs)
		if m.UUID != id {
			t.Fatalf("message %d is %s (%s), want %s", i, m.UUID, m.Metadata.Get(es.MsgType), id)
		}
		m.Ack()
	}
}

// newWakingStore is newStore whose commits notify the readers, with a waker listening for them.
func newWakingStore(t *testing.T, maxConns int32) (*postgres.EventStore, *postgres.DB, *postgres.Waker) {
	t.Helper()
	db := pgtest.NewDB(t, maxConns)
	db.Commits = postgres.NewCommitNotifier(db.Pool, watermill.NopLogger{})
	t.Cleanup(db.Commits.Close)
	waker := postgres.NewWaker(db.Pool, watermill.NopLogger{}, db.Commits)
	t.Cleanup(waker.Close)
	return postgres.NewEventStore(db), db, waker
}

// hourly is a wait whose only way out is a wake: the safety-net poll and the rechecks are an hour.
var hourly = postgres.WaitConfig{SafetyPoll: time.Hour, Recheck: time.Hour}

// nudge appends an event to a stream of its own every 100 ms until ctx ends: a reader stops below the
// oldest running transaction of the whole server (other tests' too), so a woken read may find
// nothing and wait for the next wake; each nudge is one.
func nudge(ctx context.Context, t *testing.T, store *postgres.EventStore) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := store.Append(ctx, "nudge-"+uuid.NewString(), postgres.NoStream, ev("test.nudge.v1", `{}`)); err != nil && ctx.Err() == nil {
				t.Errorf("nudge: %v", err)
			}
		}
	}()
}

// A commit that appends events wakes a group waiting for them, with its safety-net poll and its
// rechecks set to an hour: only wakes can bring the messages.
func TestACommitWakesAWaitingGroup(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, db, waker := newWakingStore(t, 8)
	msgs := subscribe(t, ctx, db, "woken", postgres.SubscriberConfig{Waker: waker, Wait: hourly, Commits: db.Commits})
	nctx, stopNudging := context.WithCancel(ctx)
	defer stopNudging()
	nudge(nctx, t, store)
	for i := range 2 {
		recs, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.a.v1", `{}`))
		if err != nil {
			t.Fatal(err)
		}
		if m := receive(t, ctx, msgs); m.UUID != recs[0].EventID.String() {
			t.Fatalf("message %d is %s, want %s", i, m.UUID, recs[0].EventID)
		} else {
			m.Ack()
		}
	}
}

// Queuing a notification wakes its topic's claimers, and appending events wakes the projections,
// with their safety-net polls set to an hour.
func TestANotificationWakesItsConsumerWithoutAPoll(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, db, waker := newWakingStore(t, 8)
	queue := postgres.NewQueueSubscriber(db.Pool, postgres.QueueConfig{Concurrency: 2, PollInterval: time.Hour, Waker: waker}, watermill.NopLogger{})
	defer queue.Close()
	deliveries, err := queue.Subscribe(ctx, command.EmailTopic)
	if err != nil {
		t.Fatal(err)
	}
	runner := postgres.NewRunner(store, slog.New(slog.NewTextHandler(io.Discard, nil)), []postgres.Projection{postgres.NotificationLog{}}, postgres.WithWait(hourly))
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx, waker) }()
	defer func() { stop(); <-done }()
	// Both make their first read and wait; what follows is for a woken read to find.
	time.Sleep(200 * time.Millisecond)

	eventID := uuid.New()
	req := notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-TEST1", OrderEventID: eventID,
		OrderEventType: "order.shipped.v1", Type: notification.OrderShipped, Channel: notification.Email, Recipient: "asha@example.in"}
	n, err := notification.Request(req)
	if err != nil {
		t.Fatal(err)
	}
	stream := notification.StreamID(eventID, notification.Email)
	d := command.DeliveryOf(req, 1)
	requested := es.WithCausation(ctx, es.Causation{Actor: es.System, CorrelationID: "checkout-outbox-test"})
	if _, err := postgres.NewNotificationRepository(store).Create(requested, command.NewNotification{Stream: stream, Notification: n, Delivery: d}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-deliveries:
		if got := m.Metadata.Get(es.MsgStream); got != stream {
			t.Fatalf("delivered %s, want %s", got, stream)
		}
		// The message is the request, read from its stream: the queue keeps no copy.
		var got notification.Requested
		if err := json.Unmarshal(m.Payload, &got); err != nil || !reflect.DeepEqual(got, req) {
			t.Fatalf("delivered the payload %s (%v), want the request %+v", m.Payload, err, req)
		}
		if typ := m.Metadata.Get(es.MsgType); typ != notification.TypeRequested {
			t.Fatalf("delivered a message of type %q, want %s", typ, notification.TypeRequested)
		}
		// Its version and correlation id are the request's: the row keeps the version alone, and the
		// claim reads the correlation id from the request.
		if v, c := m.Metadata.Get(es.MsgStreamVersion), m.Metadata.Get(es.MsgCorrelationID); v != "1" || c != "checkout-outbox-test" {
			t.Fatalf("delivered at version %q with correlation id %q, want 1 and checkout-outbox-test", v, c)
		}
		if n := count(t, db, `SELECT count(*) FROM notification_queue q WHERE q::text LIKE '%checkout-outbox-test%' OR q::text LIKE '%' || $1 || '%'`,
			notification.TypeRequested); n != 0 {
			t.Fatalf("%d queue rows copy their message's correlation id or type", n)
		}
		m.Ack()
	case <-ctx.Done():
		t.Fatal("the queued notification was never handed out")
	}
	// The projection of notifications shows it once a woken step can read it.
	nudge(rctx, t, store)
	for count(t, db, `SELECT count(*) FROM notification_log WHERE order_event_id = $1`, eventID) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the notification log never showed the notification")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// An upgrade from the outbox table (migration 012) loses and repeats nothing: each consumer group
// gets, from the events table, exactly the messages it had not acked, in order.
func TestAnUpgradeFromTheOutboxTableLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := poolAtMigration(ctx, t, 12, 8)

	// Five transactions as the old event store wrote them: two order events each, with their outbox
	// messages, and a notification's event that had none.
	type written struct {
		id     string
		stream string
		tx     string
		offset int64
	}
	var all []written
	for i := range 5 {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stream := "order-" + uuid.NewString()
		for v := 1; v <= 2; v++ {
			id := uuid.NewString()
			md := fmt.Sprintf(`{"correlation_id": "c-%d", "actor": "system", "occurred_at": "2026-11-30T10:00:00Z"}`, i)
			if _, err := tx.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata)
				VALUES ($1, $2, $3, 'test.old.v1', '{"n": 1}', $4)`, stream, v, id, md); err != nil {
				t.Fatal(err)
			}
			w := written{id: id, stream: stream}
			if err := tx.QueryRow(ctx, `INSERT INTO watermill_order_events (uuid, payload, metadata, transaction_id, stream_hash)
				VALUES ($1, '{"n": 1}', $2, pg_current_xact_id(), $3) RETURNING transaction_id::text, "offset"`,
				id, fmt.Sprintf(`{"stream_id": %q, "type": "test.old.v1"}`, stream), int64(es.StreamHash(stream))).Scan(&w.tx, &w.offset); err != nil {
				t.Fatal(err)
			}
			all = append(all, w)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata)
			VALUES ($1, 1, $2, 'test.note.v1', '{}', '{"occurred_at": "2026-11-30T10:00:00Z"}')`, "notification-"+uuid.NewString(), uuid.NewString()); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Groups that had read nothing, up to the middle of the third transaction, and everything.
	acked := map[string]int{"none": -1, "middle": 4, "all": len(all) - 1}
	for group, upTo := range acked {
		tx, off := "0", int64(0)
		if upTo >= 0 {
			tx, off = all[upTo].tx, all[upTo].offset
		}
		if _, err := pool.Exec(ctx, `INSERT INTO watermill_offsets_order_events (consumer_group, offset_acked, last_processed_transaction_id)
			VALUES ($1, $2, $3::xid8)`, group, off, tx); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	db := &postgres.DB{Pool: pool}
	rows, err := pool.Query(ctx, `SELECT stream_id, stream_hash FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var stream string
		var hash int64
		if err := rows.Scan(&stream, &hash); err != nil {
			t.Fatal(err)
		}
		if hash != int64(es.StreamHash(stream)) {
			t.Errorf("the migration hashed %s to %d, the store hashes it to %d", stream, hash, es.StreamHash(stream))
		}
	}
	rows.Close()
	// An event appended after the upgrade marks the end: each group gets what it had not acked, in
	// order, then this one, and nothing in between.
	last, err := postgres.NewEventStore(db).Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.new.v1", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	for group, upTo := range acked {
		var want []string
		for _, w := range all[upTo+1:] {
			want = append(want, w.id)
		}
		want = append(want, last[0].EventID.String())
		msgs := subscribe(t, ctx, db, group, postgres.SubscriberConfig{})
		var got []string
		for len(got) < len(want) {
			m := receive(t, ctx, msgs)
			got = append(got, m.UUID)
			m.Ack()
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("group %s got\n%v\nwant\n%v", group, got, want)
		}
	}
}

// A subscription whose context ends, as a stopping service's does, logs no error: its reads cut
// short by the cancellation are how it stops.
func TestAStoppingGroupLogsNoError(t *testing.T) {
	t.Parallel()
	_, db := newStore(t, 4)
	logs := watermill.NewCaptureLogger()
	ctx, cancel := context.WithCancel(context.Background())
	msgs := subscribeLogging(t, ctx, db, "stopping", postgres.SubscriberConfig{Wait: postgres.WaitConfig{SafetyPoll: time.Millisecond}}, logs)
	time.Sleep(100 * time.Millisecond) // reading, then polling every millisecond
	cancel()
	for range msgs { // the subscriber closes its channel once it has stopped
	}
	if errs := logs.Captured()[watermill.ErrorLogLevel]; len(errs) > 0 {
		t.Fatalf("stopping logged %d errors, the first: %s: %v", len(errs), errs[0].Msg, errs[0].Err)
	}
}

// migrationsUpTo returns the migrations numbered up to last: a database as a release before the
// next one left it.
// poolAtMigration returns a pool of maxConns on a new database migrated up to migration last, for
// an upgrade test to fill as an older version left it; the pool closes with the test.
func poolAtMigration(ctx context.Context, t *testing.T, last int, maxConns int32) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Connect(ctx, pgtest.NewDatabaseAt(t, migrationsUpTo(t, last)), postgres.PoolOptions{MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func migrationsUpTo(t *testing.T, last int) fstest.MapFS {
	t.Helper()
	old := fstest.MapFS{}
	entries, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range entries {
		if v, _ := strconv.Atoi(name[:3]); v <= last {
			body, err := fs.ReadFile(migrations.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			old[name] = &fstest.MapFile{Data: body}
		}
	}
	return old
}

// A commit wakes the readers of its own process at once, and its notification through PostgreSQL
// wakes the other processes' readers only: the process's own comes back and wakes no one again.
func TestACommitWakesItsProcessAtOnceAndTheOthersThroughPostgreSQL(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 8)
	var notifiers []*postgres.CommitNotifier
	var woken []<-chan struct{}
	for range 2 { // two processes on one database
		n := postgres.NewCommitNotifier(db.Pool, watermill.NopLogger{})
		t.Cleanup(n.Close)
		w := postgres.NewWaker(db.Pool, watermill.NopLogger{}, n)
		t.Cleanup(w.Close)
		ch, unsubscribe := w.Events()
		t.Cleanup(unsubscribe)
		notifiers, woken = append(notifiers, n), append(woken, ch)
	}
	// A waker wakes everyone once it listens (what committed before has woken no one): let both
	// listen, and take those tokens.
	time.Sleep(300 * time.Millisecond)
	for _, ch := range woken {
		select {
		case <-ch:
		default:
		}
	}
	notifiers[0].Committed()
	for i, ch := range woken {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("process %d's reader was not woken by process 0's commit", i)
		}
	}
	// Process 1 was woken by the notification, so it has gone round; process 0's reader was woken
	// at the commit, and the same notification must not wake it again.
	select {
	case <-woken[0]:
		t.Fatal("process 0's own notification woke its reader a second time")
	case <-time.After(300 * time.Millisecond):
	}
}

// An upgrade that moves the metadata from its jsonb document to columns (migration 021) keeps what
// every event said: its actor, correlation and causation ids and the time it occurred, as the store
// loads them, as a consumer group receives them, and as the audit finds them by actor and by
// correlation id.
func TestAnUpgradeKeepsEveryEventsMetadata(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := poolAtMigration(ctx, t, 20, 4)
	stream := "order-" + uuid.NewString()
	at := func(s int, ns int) time.Time { return time.Date(2026, 11, 30, 10, 0, s, ns, time.UTC) }
	stored := []struct {
		metadata string
		want     es.Metadata
	}{
		{`{"actor": "admin:7", "causation_id": "cause-1", "occurred_at": "2026-11-30T10:00:00.123456Z", "correlation_id": "corr-1"}`,
			es.Metadata{Actor: "admin:7", CorrelationID: "corr-1", CausationID: "cause-1", OccurredAt: at(0, 123456000)}},
		// An event with no cause, as a webhook's first event.
		{`{"actor": "gateway:razorpay", "occurred_at": "2026-11-30T10:00:01Z", "correlation_id": "corr-2"}`,
			es.Metadata{Actor: "gateway:razorpay", CorrelationID: "corr-2", OccurredAt: at(1, 0)}},
		// As the store wrote them before migration 016: with copies of the event id and schema version.
		{`{"actor": "system", "event_id": "` + uuid.NewString() + `", "causation_id": "cause-3", "occurred_at": "2026-11-30T10:00:02.5+05:30", "correlation_id": "corr-3", "schema_version": 1}`,
			es.Metadata{Actor: es.System, CorrelationID: "corr-3", CausationID: "cause-3", OccurredAt: time.Date(2026, 11, 30, 4, 30, 2, 500000000, time.UTC)}},
	}
	for i, s := range stored {
		if _, err := pool.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata, topic, stream_hash)
			VALUES ($1, $2, $3, 'test.old.v1', '{"n": 1}', $4, 'order_events', $5)`,
			stream, i+1, es.NewID(), s.metadata, int64(es.StreamHash(stream))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	db := &postgres.DB{Pool: pool}
	store := postgres.NewEventStore(db)

	loaded, err := store.Load(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != len(stored) {
		t.Fatalf("loaded %d events, want %d", len(loaded), len(stored))
	}
	for i, l := range loaded {
		got, want := l.Metadata, stored[i].want
		if got.Actor != want.Actor || got.CorrelationID != want.CorrelationID || got.CausationID != want.CausationID || !got.OccurredAt.Equal(want.OccurredAt) {
			t.Errorf("event %d loaded with %+v, want %+v", i+1, got, want)
		}
	}

	msgs := subscribe(t, ctx, db, "after-upgrade", postgres.SubscriberConfig{})
	for i, s := range stored {
		m := receive(t, ctx, msgs)
		want := map[string]string{es.MsgActor: string(s.want.Actor), es.MsgCorrelationID: s.want.CorrelationID,
			es.MsgCausationID: s.want.CausationID, es.MsgOccurredAt: s.want.OccurredAt.Format(time.RFC3339Nano)}
		for k, v := range want {
			if m.Metadata.Get(k) != v {
				t.Errorf("message %d: %s = %q, want %q", i+1, k, m.Metadata.Get(k), v)
			}
		}
		m.Ack()
	}

	auditor := postgres.NewAuditor(store)
	for _, f := range []query.AuditFilter{{Stream: stream, Actor: "gateway:razorpay", Limit: 10}, {Stream: stream, CorrelationID: "corr-3", Limit: 10}} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			page, err := auditor.Audit(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Events) == 1 {
				break
			}
			if len(page.Events) > 1 || time.Now().After(deadline) {
				t.Fatalf("audit %+v found %d events, want 1", f, len(page.Events))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// A database replayed before migration 022 has read-model tables whose indexes are named after the
// replay's copies (order_summary_rebuild_placed_at_idx); 022 gives them back the names the
// migrations use, as a fresh database has them.
func TestAnUpgradeNamesTheIndexesOfTablesAnOlderReplaySwappedIn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	names := func(pool *pgxpool.Pool) string { return readModelIndexNames(ctx, t, pool) }
	fresh := poolAtMigration(ctx, t, 1000, 2)
	want := names(fresh)

	pool := poolAtMigration(ctx, t, 21, 2)
	// What `certibuy replay` did before 022: a copy made with LIKE … INCLUDING ALL, swapped in.
	for _, table := range []string{"order_summary", "order_status_history", "notification_log"} {
		if _, err := pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %[1]s_rebuild (LIKE %[1]s INCLUDING ALL);
			ALTER TABLE %[1]s RENAME TO %[1]s_old; ALTER TABLE %[1]s_rebuild RENAME TO %[1]s; DROP TABLE %[1]s_old`, table)); err != nil {
			t.Fatal(err)
		}
	}
	if got := names(pool); got == want || !strings.Contains(got, "_rebuild_") {
		t.Fatalf("the older replay's swap left the names %s", got)
	}
	if _, err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		t.Fatal(err)
	}
	if got := names(pool); got != want {
		t.Fatalf("after the upgrade the read models' indexes and constraints are\n  %s\nnot, as on a fresh database,\n  %s", got, want)
	}
	// A later migration that names an index finds it.
	if _, err := pool.Exec(ctx, `BEGIN; DROP INDEX order_summary_placed; DROP INDEX notification_log_created; ROLLBACK`); err != nil {
		t.Fatal(err)
	}
}

// readModelIndexNames lists the names of the read models' indexes and constraints, sorted: the names
// migrations use to drop or replace them.
func readModelIndexNames(ctx context.Context, t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(ctx, `SELECT string_agg(n, ' ' ORDER BY n) FROM (
		SELECT indexrelid::regclass::text AS n FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relname IN
			('order_summary', 'order_status_history', 'notification_log'))
		UNION ALL SELECT conname FROM pg_constraint WHERE conrelid IN (SELECT oid FROM pg_class WHERE relname IN
			('order_summary', 'order_status_history', 'notification_log'))) x`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
