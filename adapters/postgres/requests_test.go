package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// statementLog is a pgx tracer that records every statement a pool sends, batched ones included.
type statementLog struct {
	mu   sync.Mutex
	sqls []string
}

func (l *statementLog) add(sql string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sqls = append(l.sqls, sql)
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.add(d.SQL)
	return ctx
}
func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (l *statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (l *statementLog) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	l.add(d.SQL)
}
func (l *statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// count returns how many recorded statements contain each of parts, and forgets them all.
func (l *statementLog) countAndReset(parts ...string) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int, len(parts))
	for _, sql := range l.sqls {
		for i, p := range parts {
			if strings.Contains(sql, p) {
				out[i]++
			}
		}
	}
	l.sqls = nil
	return out
}

// batchFixture is a migrated database whose pool records its statements, with the request writer
// of a request handler, which loads the orders of OrderPlaced messages in advance, and a subscriber
// that is given the same writer.
type batchFixture struct {
	db      *postgres.DB
	log     *statementLog
	orders  *postgres.OrderRepository
	batches *postgres.RequestBatches
	msgs    <-chan *message.Message
}

// newBatchFixture returns the fixture and a context that ends with the test, or after 30 s. Its
// order repository keeps no copies: every order a handler asks for is read.
func newBatchFixture(t *testing.T) (*batchFixture, context.Context) {
	t.Helper()
	return newBatchFixtureWith(t, nil, func(eventType string) bool { return eventType == order.TypeOrderPlaced })
}

// newBatchFixtureWith is newBatchFixture with an order repository that keeps its copies in recent,
// and a request writer that reads in advance the orders of the events loads picks.
func newBatchFixtureWith(t *testing.T, recent *postgres.RecentOrders, loads func(eventType string) bool) (*batchFixture, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	log := &statementLog{}
	cfg.ConnConfig.Tracer = log
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := &postgres.DB{Pool: pool}
	store := postgres.NewEventStore(db)
	orders := postgres.NewOrderRepository(store, recent)
	batches := postgres.NewRequestBatches(store, orders, postgres.NewNotificationRepository(store), loads)
	return &batchFixture{db: db, log: log, orders: orders, batches: batches}, ctx
}

// subscribe starts the subscriber, after the test has written the batch it is to read, once its
// first select will read all of it.
func (f *batchFixture) subscribe(t *testing.T, ctx context.Context) {
	t.Helper()
	// Subscribers read only messages older than every running transaction, and transaction ids are
	// cluster-wide: wait until whatever other tests had running when the messages were written is over.
	f.waitFor(t, ctx, `SELECT count(*) FILTER (WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot())) FROM events`, 0)
	sub, err := postgres.NewSubscriber(f.db.Pool, "requests", postgres.SubscriberConfig{Wait: postgres.WaitConfig{SafetyPoll: 10 * time.Millisecond},
		AckDeadline: 10 * time.Second, BatchSize: 50, Batches: f.batches}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	if f.msgs, err = sub.Subscribe(ctx, postgres.OrderEventsTopic); err != nil {
		t.Fatal(err)
	}
}

// place stores n placed orders; each puts two messages on the topic (placed, payment requested).
func (f *batchFixture) place(t *testing.T, ctx context.Context, n int) []*order.Order {
	t.Helper()
	var out []*order.Order
	for range n {
		o := placedOrder(t)
		if err := f.orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// request is a request handler: for an OrderPlaced message it loads the order and creates its two
// notifications through the writer, as command.RequestNotificationsHandler does.
func (f *batchFixture) request(msg *message.Message) error {
	if msg.Metadata.Get(es.MsgType) != order.TypeOrderPlaced {
		return nil
	}
	ctx := msg.Context()
	o, err := f.orderOf(msg)
	if err != nil {
		return err
	}
	eventID := uuid.MustParse(msg.UUID)
	var ns []command.NewNotification
	for _, ch := range notification.Channels() {
		req := notification.Requested{OrderID: o.ID(), OrderNumber: o.Number().String(), OrderEventID: eventID,
			OrderEventType: order.TypeOrderPlaced, Type: notification.OrderConfirmed, Channel: ch, Recipient: o.Customer().Email.String()}
		n, err := notification.Request(req)
		if err != nil {
			return err
		}
		stream := notification.StreamID(eventID, ch)
		d := command.DeliveryOf(req, 1)
		ns = append(ns, command.NewNotification{Stream: stream, Notification: n, Delivery: d})
	}
	_, err = f.batches.CreateNotifications(ctx, ns...)
	return err
}

// orderOf asks the writer for the order of an order event's message, as a request handler does: at
// least as recent as the event.
func (f *batchFixture) orderOf(msg *message.Message) (*order.Order, error) {
	id, err := order.IDFromStream(msg.Metadata.Get(es.MsgStream))
	if err != nil {
		return nil, err
	}
	version, err := strconv.Atoi(msg.Metadata.Get(es.MsgStreamVersion))
	if err != nil {
		return nil, err
	}
	return f.batches.GetOrder(msg.Context(), id, version)
}

// handle runs h on the next message as the router does, behind JoinDeliveryTx, and acks it unless
// h fails and nack is set.
func (f *batchFixture) handle(t *testing.T, ctx context.Context, h func(*message.Message) error, nack bool) (*message.Message, error) {
	t.Helper()
	select {
	case msg := <-f.msgs:
		_, err := postgres.JoinDeliveryTx(func(m *message.Message) ([]*message.Message, error) { return nil, h(m) })(msg)
		if err != nil && nack {
			msg.Nack()
		} else {
			msg.Ack()
		}
		return msg, err
	case <-ctx.Done():
		t.Fatal("no message")
		return nil, nil
	}
}

// waitFor polls sql until it counts want.
func (f *batchFixture) waitFor(t *testing.T, ctx context.Context, sql string, want int) {
	t.Helper()
	for {
		var n int
		if err := f.db.Pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if n == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d, want %d", sql, n, want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// The request handlers of a batch of order events load the batch's orders in one query and write all
// their notifications, with their queue rows, in one INSERT each when the batch commits: not a load
// and a savepointed write per message. What they write is what separate writes would have.
func TestABatchLoadsItsOrdersOnceAndWritesItsNotificationsAtItsCommit(t *testing.T) {
	t.Parallel()
	f, ctx := newBatchFixture(t)
	placed := f.place(t, ctx, 6)
	f.subscribe(t, ctx)
	f.log.countAndReset()
	for range 2 * len(placed) {
		if _, err := f.handle(t, ctx, f.request, false); err != nil {
			t.Fatal(err)
		}
	}
	f.waitFor(t, ctx, `SELECT count(*) FROM notification_queue`, 12)
	got := f.log.countAndReset("FROM events WHERE stream_id", "INSERT INTO events", "INSERT INTO notification_queue", "SAVEPOINT")
	if got[0] != 1 || got[1] != 1 || got[2] != 1 || got[3] != 0 {
		t.Errorf("a batch of 6 orders: %d loads, %d events INSERTs, %d queue INSERTs, %d savepoint statements; want 1, 1, 1 and 0", got[0], got[1], got[2], got[3])
	}
	for _, o := range placed {
		var n int
		if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notification_queue q JOIN events e ON e.stream_id = q.stream_id AND e.stream_version = 1
			WHERE q.order_id = $1 AND e.data->>'order_number' = $2 AND e.data->>'recipient' = 'asha@example.in'`, o.ID(), o.Number().String()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("order %s: %d queued notifications with its number, want 2", o.Number(), n)
		}
	}
	if n := count(t, f.db, `SELECT count(*) FROM events WHERE type = $1`, notification.TypeRequested); n != 12 {
		t.Errorf("%d notification requests stored, want 12", n)
	}
}

// What a failed attempt deferred is dropped with it: a message whose handler wrote and then failed,
// and then succeeded without writing, leaves nothing behind when the batch commits.
func TestAFailedAttemptLeavesNoDeferredWrites(t *testing.T) {
	t.Parallel()
	f, ctx := newBatchFixture(t)
	placed := f.place(t, ctx, 2)
	f.subscribe(t, ctx)
	first := true
	failAfterWriting := func(msg *message.Message) error {
		if msg.Metadata.Get(es.MsgStream) != order.StreamID(placed[0].ID()) || msg.Metadata.Get(es.MsgType) != order.TypeOrderPlaced {
			return f.request(msg)
		}
		if !first {
			return nil
		}
		first = false
		if err := f.request(msg); err != nil {
			return err
		}
		return errors.New("the handler failed after writing")
	}
	for handled := 0; handled < 4; {
		if _, err := f.handle(t, ctx, failAfterWriting, true); err == nil {
			handled++
		}
	}
	f.waitFor(t, ctx, `SELECT count(*) FROM notification_queue`, 2)
	if n := count(t, f.db, `SELECT count(*) FROM notification_queue WHERE order_id = $1`, placed[0].ID()); n != 0 {
		t.Fatalf("the failed attempt's %d notifications were written", n)
	}
	if n := count(t, f.db, `SELECT count(*) FROM notification_queue WHERE order_id = $1`, placed[1].ID()); n != 2 {
		t.Fatalf("the other order has %d notifications, want 2", n)
	}
}

// When a batch's writes fail at its commit, none of its messages is acked; the batch comes again and
// each message writes on its own, so that the one that cannot be written fails alone (and goes
// through the router's retries to the poison topic) while the others' notifications are stored.
func TestABatchWhoseWritesFailComesAgainWritingEachMessageAlone(t *testing.T) {
	t.Parallel()
	f, ctx := newBatchFixture(t)
	placed := f.place(t, ctx, 3)
	bad := placed[1]
	if _, err := f.db.Pool.Exec(ctx, `CREATE FUNCTION refuse_order() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.order_id = '`+bad.ID().String()+`' THEN RAISE EXCEPTION 'queue refuses this order'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_order BEFORE INSERT ON notification_queue FOR EACH ROW EXECUTE FUNCTION refuse_order()`); err != nil {
		t.Fatal(err)
	}
	f.subscribe(t, ctx)
	handled := map[string]int{}
	var failed []string
	for range 2 * 2 * len(placed) { // each message twice: the batch comes again
		msg, err := f.handle(t, ctx, f.request, false)
		handled[msg.UUID]++
		if err != nil {
			failed = append(failed, msg.Metadata.Get(es.MsgStream))
		}
	}
	for id, n := range handled {
		if n != 2 {
			t.Errorf("message %s handled %d times, want twice", id, n)
		}
	}
	if len(failed) != 1 || failed[0] != order.StreamID(bad.ID()) {
		t.Fatalf("failed handlings: %v, want one, of %s", failed, order.StreamID(bad.ID()))
	}
	f.waitFor(t, ctx, `SELECT count(*) FROM notification_queue`, 4)
	if n := count(t, f.db, `SELECT count(*) FROM events WHERE type = $1`, notification.TypeRequested); n != 4 {
		t.Errorf("%d notification requests stored, want those of the two other orders", n)
	}
	select {
	case msg := <-f.msgs:
		t.Fatalf("message %s came a third time", msg.UUID)
	case <-time.After(300 * time.Millisecond):
	}
}

// An order this process stored is described from its copy: a batch of the events of orders it
// placed reads no order at all. An order another process moved past the copy is read from the store,
// so that the order described holds the event being told about.
func TestABatchReadsNoOrderItHasACopyOfAsRecentAsItsEvent(t *testing.T) {
	t.Parallel()
	f, ctx := newBatchFixtureWith(t, postgres.NewRecentOrders(100), func(string) bool { return true })
	placed := f.place(t, ctx, 3) // copies of each: placed, payment requested
	// getEach asks the writer for the order of every message, as a request handler would, and
	// returns the version of each order it got, against the message's.
	getEach := func(n int) (got, want []int) {
		for range n {
			if _, err := f.handle(t, ctx, func(msg *message.Message) error {
				o, err := f.orderOf(msg)
				if err != nil {
					return err
				}
				v, _ := strconv.Atoi(msg.Metadata.Get(es.MsgStreamVersion))
				got, want = append(got, o.Version()), append(want, v)
				return nil
			}, false); err != nil {
				t.Fatal(err)
			}
		}
		return got, want
	}
	f.subscribe(t, ctx)
	f.log.countAndReset()
	got, want := getEach(2 * len(placed))
	if loads := f.log.countAndReset("FROM events WHERE stream_id")[0]; loads != 0 {
		t.Errorf("a batch of orders this process placed read orders %d times, want none", loads)
	}
	for i := range got {
		if got[i] < want[i] {
			t.Errorf("message %d: described the order at version %d, its event is version %d", i, got[i], want[i])
		}
	}

	// Another process pays for the first order: this one's copy stays at the payment request.
	other := postgres.NewOrderRepository(postgres.NewEventStore(f.db), nil)
	walk(t, other, placed[0].ID(), []func(*order.Order) error{stepPay}, es.Gateway("razorpay"))
	got, want = getEach(1)
	if got[0] < want[0] || want[0] != 3 {
		t.Errorf("the payment (version %d) was described with the order at version %d", want[0], got[0])
	}
}
