package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	cbnats "github.com/certibuy/orders/adapters/nats"
	"github.com/certibuy/orders/adapters/nats/natstest"
	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/domain/order"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// lifecycle is one order's events, from checkout to delivery.
func lifecycle(id uuid.UUID) []postgres.NewEvent {
	ev := func(typ string, v any) postgres.NewEvent {
		data, _ := json.Marshal(v)
		return postgres.NewEvent{Type: typ, Data: data}
	}
	return []postgres.NewEvent{
		ev(order.TypeOrderPlaced, order.OrderPlaced{OrderID: id, OrderNumber: "CB-TEST", TotalPaise: 34950, Currency: "INR",
			Customer:        order.CustomerData{Name: "Asha Rao", Email: "asha@example.in", Phone: "+919876543210"},
			Items:           []order.ItemData{{SKU: "TEA-1", Name: "Assam tea", Quantity: 1, UnitPricePaise: 34950}},
			ShippingAddress: order.AddressData{Line1: "12 MG Road", City: "Bengaluru", State: "Karnataka", Pincode: "560001"}}),
		ev(order.TypePaymentRequested, order.PaymentRequested{Gateway: "razorpay", GatewayOrderID: "order_1", AmountPaise: 34950}),
		ev(order.TypePaymentSucceeded, order.PaymentSucceeded{Gateway: "razorpay", GatewayOrderID: "order_1", PaymentID: "pay_1", AmountPaise: 34950, Method: "upi"}),
		ev(order.TypeOrderConfirmed, order.OrderConfirmed{}),
		ev(order.TypeOrderShippedV1, map[string]string{"carrier": "DTDC", "tracking_id": "D1"}),
		ev(order.TypeOrderOutForDelivery, order.OrderOutForDelivery{}),
		ev(order.TypeOrderDelivered, order.OrderDelivered{}),
	}
}

// appendOrders appends the lifecycles of n orders, the orders' events interleaved, one event per
// transaction from n goroutines; it returns the stream ids.
func appendOrders(t *testing.T, store *postgres.EventStore, n int) []string {
	t.Helper()
	streams := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		id := uuid.New()
		streams[i] = "order-" + id.String()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v, e := range lifecycle(id) {
				expected := v
				if v == 0 {
					expected = postgres.NoStream
				}
				if _, err := store.Append(context.Background(), streams[i], expected, e); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return streams
}

func storeEventIDs(t *testing.T, db *postgres.DB) []string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT event_id::text FROM events ORDER BY tx_id, position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitCount waits until the stream holds want messages, failing after a generous limit: how long it
// takes is not what is tested.
func waitCount(t *testing.T, tg natstest.Target, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for tg.Count(t) < want {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d of %d events", tg.Count(t), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkStream says whether the stream holds each of the store's events exactly once, each order's
// in stream-version order.
func checkStream(t *testing.T, tg natstest.Target, ids []string) []*jetstream.RawStreamMsg {
	t.Helper()
	msgs := tg.Messages(t)
	seen := map[string]int{}
	lastVersion := map[string]int{}
	for _, m := range msgs {
		id := m.Header.Get("Nats-Msg-Id")
		seen[id]++
		if m.Header.Get(cbnats.HeaderEventID) != id {
			t.Errorf("message %d: Nats-Msg-Id %s, event id header %s", m.Sequence, id, m.Header.Get(cbnats.HeaderEventID))
		}
		stream := m.Header.Get(cbnats.HeaderStreamID)
		v, err := strconv.Atoi(m.Header.Get(cbnats.HeaderStreamVersion))
		if err != nil {
			t.Fatalf("message %d: stream version %q", m.Sequence, m.Header.Get(cbnats.HeaderStreamVersion))
		}
		if v != lastVersion[stream]+1 {
			t.Errorf("stream %s: version %d came after %d", stream, v, lastVersion[stream])
		}
		lastVersion[stream] = v
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s is in the stream %d times", id, seen[id])
		}
	}
	if len(msgs) != len(ids) {
		t.Errorf("the stream holds %d messages; the store %d events", len(msgs), len(ids))
	}
	return msgs
}

func newFeed(db *postgres.DB, tg natstest.Target, url string) (*postgres.Feed, *cbnats.Forwarder) {
	fw := cbnats.NewForwarder(cbnats.Config{URL: url, Stream: tg.Stream, SubjectPrefix: tg.Prefix, Logger: quiet()})
	return postgres.NewFeed(db, postgres.FeedName(tg.Stream), fw, quiet(),
		postgres.WithFeedBatch(50), postgres.WithFeedPoll(postgres.WaitConfig{SafetyPoll: 10 * time.Millisecond}, 20*time.Millisecond)), fw
}

func run(t *testing.T, f *postgres.Feed) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx, nil) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestEveryEventOfALifecycleReachesTheStreamOnceInOrderPerOrder(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 8)
	store := postgres.NewEventStore(db)
	tg := natstest.New(t)
	feed, fw := newFeed(db, tg, tg.URL)
	defer fw.Close()
	run(t, feed)

	streams := appendOrders(t, store, 12)
	ids := storeEventIDs(t, db)
	waitCount(t, tg, len(ids))
	msgs := checkStream(t, tg, ids)

	var shipped *jetstream.RawStreamMsg
	for _, m := range msgs {
		if m.Header.Get(cbnats.HeaderStreamID) == streams[0] && m.Header.Get(cbnats.HeaderStreamVersion) == "5" {
			shipped = m
		}
	}
	if shipped == nil {
		t.Fatal("no shipping event of the first order in the stream")
	}
	if want := tg.Prefix + ".order.order_shipped"; shipped.Subject != want {
		t.Errorf("subject %s, want %s", shipped.Subject, want)
	}
	if shipped.Header.Get(cbnats.HeaderEventType) != order.TypeOrderShipped {
		t.Errorf("type header %q: a v1 event must reach consumers as %s", shipped.Header.Get(cbnats.HeaderEventType), order.TypeOrderShipped)
	}
	if shipped.Header.Get(cbnats.HeaderCorrelationID) == "" || shipped.Header.Get(cbnats.HeaderOccurredAt) == "" {
		t.Errorf("headers %v: want the correlation id and the time", shipped.Header)
	}
	for _, m := range msgs {
		if m.Header.Get(cbnats.HeaderEventType) == order.TypeOrderPlaced {
			var body map[string]any
			if err := json.Unmarshal(m.Data, &body); err != nil {
				t.Fatal(err)
			}
			if _, ok := body["customer"]; ok || body["shipping_address"] != nil {
				t.Errorf("published OrderPlaced %s carries the customer or the address", m.Data)
			}
		}
	}
	lag, err := postgres.FeedLagOf(context.Background(), db.Pool, feed.Name())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for lag.Events != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if lag, err = postgres.FeedLagOf(context.Background(), db.Pool, feed.Name()); err != nil {
			t.Fatal(err)
		}
	}
	if lag.Events != 0 {
		t.Errorf("lag %d after every event reached the stream", lag.Events)
	}
}

func TestTwoForwardersAtOnceDoubleNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 10)
	store := postgres.NewEventStore(db)
	tg := natstest.New(t)
	first, fw1 := newFeed(db, tg, tg.URL)
	defer fw1.Close()
	second, fw2 := newFeed(db, tg, tg.URL)
	defer fw2.Close()
	stopFirst := run(t, first)
	run(t, second)

	appendOrders(t, store, 10)
	// The holder stops midway; the other takes over where it left.
	stopFirst()
	appendOrders(t, store, 10)
	ids := storeEventIDs(t, db)
	waitCount(t, tg, len(ids))
	checkStream(t, tg, ids)
}

// TestACheckpointLostAfterAPublishRepublishesNothing is the crash between JetStream's ack and the
// checkpoint's commit: the next holder finds the stream ahead of its checkpoint and starts after it.
func TestACheckpointLostAfterAPublishRepublishesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 8)
	store := postgres.NewEventStore(db)
	tg := natstest.New(t)
	feed, fw := newFeed(db, tg, tg.URL)
	defer fw.Close()
	appendOrders(t, store, 5)
	catchUp(t, db, feed)
	if _, err := db.Pool.Exec(context.Background(), `DELETE FROM projection_checkpoints WHERE name = $1`, feed.Name()); err != nil {
		t.Fatal(err)
	}
	// A duplicate window of its own would hide a repeat; a fresh stream config with a tiny window
	// makes the test depend on the read-back alone.
	if _, err := tg.JS.UpdateStream(context.Background(), func() jetstream.StreamConfig {
		c := cbnats.StreamConfig(cbnats.Config{Stream: tg.Stream, SubjectPrefix: tg.Prefix})
		c.Duplicates = 100 * time.Millisecond
		return c
	}()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // past the window
	fresh, fw2 := newFeed(db, tg, tg.URL)
	defer fw2.Close()
	n, err := fresh.CatchUp(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("republished %d events", n)
	}
	checkStream(t, tg, storeEventIDs(t, db))
}

// catchUp forwards until the feed has no lag: one CatchUp stops at the oldest transaction still
// running on the server, which another test's may be.
func catchUp(t *testing.T, db *postgres.DB, feed *postgres.Feed) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := feed.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		lag, err := postgres.FeedLagOf(context.Background(), db.Pool, feed.Name())
		if err != nil {
			t.Fatal(err)
		}
		if lag.Events == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still behind", lag.Events)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNATSUnreachableEventsWaitAndTheStreamCatchesUp(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 8)
	store := postgres.NewEventStore(db)
	tg := natstest.New(t)
	proxy := natstest.NewProxy(t)
	feed, fw := newFeed(db, tg, proxy.URL())
	defer fw.Close()
	run(t, feed)

	appendOrders(t, store, 3)
	waitCount(t, tg, len(storeEventIDs(t, db)))
	proxy.Cut()
	// Appends go on while NATS is away: the store does not wait for the forwarder.
	appendOrders(t, store, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, lifecycle(uuid.New())[0]); err != nil {
		t.Fatalf("an append while NATS is away: %v", err)
	}
	lag, err := postgres.FeedLagOf(context.Background(), db.Pool, feed.Name())
	if err != nil {
		t.Fatal(err)
	}
	if lag.Events == 0 {
		t.Error("no lag while NATS is away")
	}
	proxy.Restore()
	ids := storeEventIDs(t, db)
	waitCount(t, tg, len(ids))
	checkStream(t, tg, ids)
}

func TestSubjectsOfNotificationEvents(t *testing.T) {
	t.Parallel()
	fw := cbnats.NewForwarder(cbnats.Config{Stream: "S", SubjectPrefix: "certibuy"})
	id := uuid.New()
	subject, msg, err := fw.Message(postgres.RecordedEvent{StreamID: fmt.Sprintf("notification-%s-sms", id), StreamVersion: 1,
		EventID: id, Type: "notification.requested.v1", Data: json.RawMessage(`{"recipient":"+919876543210","channel":"sms"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if subject != "certibuy.notification.notification_requested" {
		t.Errorf("subject %s", subject)
	}
	if string(msg.Payload) != `{"channel":"sms"}` {
		t.Errorf("body %s", msg.Payload)
	}
}

// halfway publishes the first events of its first batch of more than n, then fails as a NATS that
// went away mid-batch would, and stays away past the stream's duplicate window.
type halfway struct {
	*cbnats.Forwarder
	n      int
	window time.Duration
	mu     sync.Mutex
	failed bool
}

func (h *halfway) Publish(ctx context.Context, events []postgres.RecordedEvent) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed || len(events) <= h.n {
		return h.Forwarder.Publish(ctx, events)
	}
	h.failed = true
	if err := h.Forwarder.Publish(ctx, events[:h.n]); err != nil {
		return err
	}
	time.Sleep(2 * h.window) // away for longer than JetStream remembers message ids
	return fmt.Errorf("the connection broke after %d of %d events", h.n, len(events))
}

func TestABatchThatFailedHalfwayIsNotRepeatedAfterTheDuplicateWindow(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 8)
	store := postgres.NewEventStore(db)
	tg := natstest.New(t)
	const window = 200 * time.Millisecond
	fw := cbnats.NewForwarder(cbnats.Config{URL: tg.URL, Stream: tg.Stream, SubjectPrefix: tg.Prefix, Duplicates: window, Logger: quiet()})
	defer fw.Close()
	pub := &halfway{Forwarder: fw, n: 2, window: window}
	feed := postgres.NewFeed(db, postgres.FeedName(tg.Stream), pub, quiet(),
		postgres.WithFeedBatch(50), postgres.WithFeedPoll(postgres.WaitConfig{SafetyPoll: 10 * time.Millisecond}, 20*time.Millisecond))
	appendOrders(t, store, 4) // 28 events: one batch
	run(t, feed)
	ids := storeEventIDs(t, db)
	waitCount(t, tg, len(ids))
	pub.mu.Lock()
	failed := pub.failed
	pub.mu.Unlock()
	if !failed {
		t.Fatal("the batch never failed halfway")
	}
	checkStream(t, tg, ids)
}

// A commit wakes an idle feed: with its safety-net poll and rechecks set to an hour, only the commits'
// notifications can bring the events to the stream.
func TestACommitWakesAnIdleFeed(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 8)
	db.Commits = postgres.NewCommitNotifier(db.Pool, watermill.NopLogger{})
	t.Cleanup(db.Commits.Close)
	waker := postgres.NewWaker(db.Pool, watermill.NopLogger{}, db.Commits)
	t.Cleanup(waker.Close)
	store := postgres.NewEventStore(db)
	tg := natstest.New(t)
	fw := cbnats.NewForwarder(cbnats.Config{URL: tg.URL, Stream: tg.Stream, SubjectPrefix: tg.Prefix, Logger: quiet()})
	defer fw.Close()
	hourly := postgres.WaitConfig{SafetyPoll: time.Hour, Recheck: time.Hour}
	feed := postgres.NewFeed(db, postgres.FeedName(tg.Stream), fw, quiet(), postgres.WithFeedPoll(hourly, 20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = feed.Run(ctx, waker) }()
	defer func() { cancel(); <-done }()
	// The feed makes its first read, finds nothing and waits.
	time.Sleep(200 * time.Millisecond)

	appendOrders(t, store, 3)
	ids := storeEventIDs(t, db)
	// A woken read stops below the oldest transaction running on the server (other tests' too) and
	// may find nothing; each nudge is one more commit, so one more wake. Nudges commit after the
	// orders, so the feed forwards them after the orders' events.
	deadline := time.Now().Add(60 * time.Second)
	for tg.Count(t) < len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d of %d events", tg.Count(t), len(ids))
		}
		if _, err := store.Append(context.Background(), "nudge-"+uuid.NewString(), postgres.NoStream,
			postgres.NewEvent{Type: "test.nudge.v1", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := map[string]bool{}
	for _, m := range tg.Messages(t) {
		got[m.Header.Get("Nats-Msg-Id")] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("event %s never reached the stream", id)
		}
	}
}
