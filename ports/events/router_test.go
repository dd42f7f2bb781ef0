package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/ports/events"
)

type harness struct {
	db     *postgres.DB
	store  *postgres.EventStore
	router *events.Router
	logs   *pgtest.LogBuffer // the router's log, as JSON lines
}

func newHarness(t *testing.T, retry events.RetryConfig) *harness {
	t.Helper()
	db := pgtest.NewDB(t, 8)
	logs := &pgtest.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(io.MultiWriter(testWriter{t}, logs), &slog.HandlerOptions{Level: slog.LevelWarn}))
	wlog := watermill.NewSlogLogger(logger)
	timeout := 2 * time.Second
	r, err := events.NewRouter(events.Config{
		Retry:          retry,
		HandlerTimeout: timeout,
		Subscribers: func(group string) (message.Subscriber, error) {
			return postgres.NewSubscriber(db.Pool, group, postgres.SubscriberConfig{
				Wait:        postgres.WaitConfig{SafetyPoll: 10 * time.Millisecond},
				AckDeadline: 2*retry.Budget(timeout) + time.Second,
				BatchSize:   1,
			}, wlog)
		},
		Poison: postgres.NewTxPublisher(db.Pool, wlog),
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{db: db, store: postgres.NewEventStore(db), router: r, logs: logs}
}

func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.router.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
	})
	select {
	case <-h.router.Running():
	case <-time.After(10 * time.Second):
		t.Fatal("router did not start")
	}
}

func (h *harness) ship(t *testing.T, tracking string) {
	t.Helper()
	data, _ := json.Marshal(order.OrderShipped{Carrier: "X", TrackingID: tracking})
	if _, err := h.store.Append(context.Background(), "order-"+uuid.NewString(), postgres.NoStream,
		postgres.NewEvent{Type: order.TypeOrderShipped, Data: data}); err != nil {
		t.Fatal(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func TestAFailingHandlerIsRetriedWithGrowingDelays(t *testing.T) {
	t.Parallel()
	h := newHarness(t, events.RetryConfig{MaxRetries: 3, InitialInterval: 50 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2})
	var (
		mu       sync.Mutex
		attempts []time.Time
		done     = make(chan struct{})
	)
	err := h.router.AddGroup("flaky", cqrs.NewGroupEventHandler(func(ctx context.Context, e *order.OrderShipped) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, time.Now())
		if len(attempts) <= 2 {
			return errors.New("smtp blip")
		}
		close(done)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	h.run(t)
	h.ship(t, "T1")
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler never succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(attempts))
	}
	d1, d2 := attempts[1].Sub(attempts[0]), attempts[2].Sub(attempts[1])
	if d1 < 50*time.Millisecond || d2 < 100*time.Millisecond || d2 <= d1 {
		t.Fatalf("delays %v then %v: want at least 50ms then a longer one", d1, d2)
	}
	if n := countRows(t, h.db, `SELECT count(*) FROM watermill_order_events_poison`); n != 0 {
		t.Fatalf("%d poison messages for a handler that recovered", n)
	}
}

func TestAHandlerThatAlwaysFailsEndsInThePoisonTopicWithoutBlockingOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, events.RetryConfig{MaxRetries: 2, InitialInterval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, Multiplier: 2})
	var (
		mu       sync.Mutex
		poisoned int
		received = make(chan string, 10)
	)
	err := h.router.AddGroup("strict", cqrs.NewGroupEventHandler(func(ctx context.Context, e *order.OrderShipped) error {
		if e.TrackingID == "BAD" {
			mu.Lock()
			poisoned++
			mu.Unlock()
			return errors.New("template missing")
		}
		received <- e.TrackingID
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	h.run(t)
	h.ship(t, "BAD")
	h.ship(t, "GOOD-1")
	h.ship(t, "GOOD-2")
	for _, want := range []string{"GOOD-1", "GOOD-2"} {
		select {
		case got := <-received:
			if got != want {
				t.Fatalf("received %s, want %s", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s never arrived: the failing message blocks the group", want)
		}
	}
	mu.Lock()
	if poisoned != 3 {
		t.Errorf("the failing handler ran %d times, want 1 + 2 retries", poisoned)
	}
	mu.Unlock()
	var payload, md string
	if err := h.db.Pool.QueryRow(context.Background(),
		`SELECT payload::text, metadata::text FROM watermill_order_events_poison`).Scan(&payload, &md); err != nil {
		t.Fatalf("no poison message: %v", err)
	}
	var meta map[string]string
	if err := json.Unmarshal([]byte(md), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["reason_poisoned"] == "" || meta[es.MsgType] != order.TypeOrderShipped || meta["handler_poisoned"] != "strict" {
		t.Fatalf("poison metadata = %v", meta)
	}
	var shipped order.OrderShipped
	if err := json.Unmarshal([]byte(payload), &shipped); err != nil || shipped.TrackingID != "BAD" {
		t.Fatalf("poison payload = %s", payload)
	}

	// The log says which handler failed on which event, on each retry and when it gave up.
	var retries, gaveUp int
	for _, l := range h.logs.Lines(t) {
		named := l["handler"] == "strict" && l["event_type"] == order.TypeOrderShipped && l["event_id"] != "" && l["stream"] != ""
		switch l["msg"] {
		case "Error occurred, retrying":
			if !named || l["level"] != "ERROR" {
				t.Errorf("a retry line that does not name the handler and the event: %v", l)
			}
			retries++
		case "gave up on a message: moved to the poison topic":
			if !named || l["level"] != "ERROR" || l["poison_topic"] != events.PoisonTopic || l["error"] != "template missing" {
				t.Errorf("the poison line: %v", l)
			}
			gaveUp++
		}
	}
	if retries != 2 || gaveUp != 1 {
		t.Fatalf("%d retry lines and %d poison lines, want 2 and 1", retries, gaveUp)
	}
}

func countRows(t *testing.T, db *postgres.DB, sql string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAnOldVersionMessageReachesTheHandlerOfTheCurrentOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t, events.DefaultRetry())
	got := make(chan order.OrderShipped, 1)
	if err := h.router.AddGroup("upcast", cqrs.NewGroupEventHandler(func(ctx context.Context, e *order.OrderShipped) error {
		got <- *e
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	h.run(t)
	if _, err := h.store.Append(context.Background(), "order-"+uuid.NewString(), postgres.NoStream,
		postgres.NewEvent{Type: order.TypeOrderShippedV1, Data: []byte(`{"carrier":"DTDC","tracking_id":"D9"}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.TrackingID != "D9" || e.TrackingURL != "https://www.dtdc.in/tracking.asp?strCnno=D9" {
			t.Fatalf("handler got %+v", e)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the v1 message never reached the v2 handler")
	}
}
