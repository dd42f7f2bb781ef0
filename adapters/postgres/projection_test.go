package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

func projections() []postgres.Projection {
	return []postgres.Projection{postgres.OrderSummary{}, postgres.StatusHistory{}}
}

func newRunner(store *postgres.EventStore) *postgres.Runner {
	return postgres.NewRunner(store, slog.New(slog.NewTextHandler(io.Discard, nil)), projections(), postgres.WithWait(postgres.WaitConfig{SafetyPoll: 5 * time.Millisecond}))
}

func catchUp(t *testing.T, r *postgres.Runner) {
	t.Helper()
	for _, p := range r.Projections() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if err := r.CatchUp(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			lags, err := r.Lags(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			behind := false
			for _, l := range lags {
				if l.Projection == p.Name() && l.Events > 0 {
					behind = true
				}
			}
			if !behind {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not catch up", p.Name())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// walk moves an order through its lifecycle as far as steps says, as the given actor.
func walk(t *testing.T, repo *postgres.OrderRepository, id uuid.UUID, steps []func(*order.Order) error, actor es.Actor) {
	t.Helper()
	ctx := es.WithCausation(context.Background(), es.Causation{Actor: actor})
	for _, step := range steps {
		if err := repo.Update(ctx, id, step); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	stepPay = func(o *order.Order) error {
		return o.ReceivePayment(order.PaymentSucceeded{GatewayOrderID: o.Payment().GatewayOrderID, PaymentID: "pay_" + o.Number().String(), AmountPaise: o.Total().Paise(), Method: "upi"})
	}
	stepConfirm = func(o *order.Order) error { return o.Confirm() }
	stepShip    = func(o *order.Order) error { return o.Ship("Delhivery", "DLV-"+o.Number().String(), "") }
	stepOFD     = func(o *order.Order) error { return o.MarkOutForDelivery() }
	stepDeliver = func(o *order.Order) error { return o.Deliver() }
	stepCancel  = func(o *order.Order) error { return o.Cancel("customer asked") }
	stepRefund  = func(o *order.Order) error {
		return o.InitiateRefund(o.Payment().PaymentID, "rfnd_"+o.Number().String(), o.Payment().Amount)
	}
	stepRefunded = func(o *order.Order) error {
		return o.CompleteRefund(order.RefundProcessed{RefundID: o.Refund().ID, AmountPaise: o.Refund().Amount.Paise(), ARN: "ARN9"})
	}
)

func TestOrderProjectionsOnAKnownHistory(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 6)
	repo := postgres.NewOrderRepository(store, nil)
	r := newRunner(store)
	ctx := context.Background()

	a, b := placedOrder(t), placedOrder(t)
	for _, o := range []*order.Order{a, b} {
		if err := repo.Create(es.WithCausation(ctx, es.Causation{Actor: es.Customer("guest")}), o); err != nil {
			t.Fatal(err)
		}
	}
	walk(t, repo, a.ID(), []func(*order.Order) error{stepPay, stepConfirm}, es.Gateway("razorpay"))
	// A first batch leaves a half-way; the rest must continue from its last status.
	catchUp(t, r)
	walk(t, repo, a.ID(), []func(*order.Order) error{stepShip, stepOFD, stepDeliver}, es.Admin("7"))
	walk(t, repo, b.ID(), []func(*order.Order) error{stepPay, stepCancel, stepRefund, stepRefunded}, es.System)
	catchUp(t, r)

	type hist struct{ from, to, actor, note string }
	read := func(id uuid.UUID) []hist {
		rows, err := db.Pool.Query(ctx, `SELECT coalesce(from_status, ''), to_status, actor, coalesce(note, ''), order_number
			FROM order_status_history WHERE order_id = $1 ORDER BY position`, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []hist
		for rows.Next() {
			var h hist
			var num string
			if err := rows.Scan(&h.from, &h.to, &h.actor, &h.note, &num); err != nil {
				t.Fatal(err)
			}
			if num == "" {
				t.Fatal("history row without order number")
			}
			out = append(out, h)
		}
		return out
	}
	wantA := []hist{
		{"", "placed", "customer:guest", ""},
		{"placed", "paid", "gateway:razorpay", "payment pay_" + a.Number().String() + " by upi"},
		{"paid", "confirmed", "gateway:razorpay", ""},
		{"confirmed", "shipped", "admin:7", "Delhivery, tracking DLV-" + a.Number().String()},
		{"shipped", "out_for_delivery", "admin:7", ""},
		{"out_for_delivery", "delivered", "admin:7", ""},
	}
	if got := read(a.ID()); fmt.Sprint(got) != fmt.Sprint(wantA) {
		t.Fatalf("history of A:\n got %v\nwant %v", got, wantA)
	}
	gotB := read(b.ID())
	var tos []string
	for _, h := range gotB {
		tos = append(tos, h.to)
	}
	if fmt.Sprint(tos) != "[placed paid cancelled refund_pending refunded]" {
		t.Fatalf("history of B goes %v", tos)
	}

	var status, tracking, email, phone string
	var version, items int
	var total int64
	if err := db.Pool.QueryRow(ctx, `SELECT status, coalesce(tracking_id, ''), customer_email, customer_phone, version, item_count, total_paise
		FROM order_summary WHERE order_id = $1`, a.ID()).Scan(&status, &tracking, &email, &phone, &version, &items, &total); err != nil {
		t.Fatal(err)
	}
	if status != "delivered" || tracking != "DLV-"+a.Number().String() || email != "asha@example.in" || phone != "+919876543210" || version != 7 || items != 1 || total != 49900 {
		t.Fatalf("summary of A: %s %s %s %s v%d items %d total %d", status, tracking, email, phone, version, items, total)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT status FROM order_summary WHERE order_id = $1`, b.ID()).Scan(&status); err != nil || status != "refunded" {
		t.Fatalf("summary of B: %s %v", status, err)
	}

	// Applying the same events again changes nothing.
	all, err := store.ReadAll(ctx, postgres.Checkpoint{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db)
	for _, p := range r.Projections() {
		if err := p.Apply(ctx, db.Pool, postgres.Tables{}, all); err != nil {
			t.Fatal(err)
		}
		if err := p.Apply(ctx, db.Pool, postgres.Tables{}, all[3:]); err != nil {
			t.Fatal(err)
		}
	}
	if after := snapshot(t, db); after != before {
		t.Fatalf("re-applying events changed the read models:\n%s\n%s", before, after)
	}
}

func snapshot(t *testing.T, db *postgres.DB) string {
	t.Helper()
	var s string
	err := db.Pool.QueryRow(context.Background(), `SELECT
		(SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x.order_id), '') FROM order_summary x) || E'\n--\n' ||
		(SELECT coalesce(string_agg(y::text, E'\n' ORDER BY y.position), '') FROM order_status_history y)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomWorkload places n orders from a fixed seed and moves each along a random lifecycle, from
// several goroutines at once.
func randomWorkload(t *testing.T, repo *postgres.OrderRepository, n int, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	plans := make([][]func(*order.Order) error, n)
	paths := [][]func(*order.Order) error{
		{},
		{stepPay},
		{stepPay, stepConfirm},
		{stepPay, stepConfirm, stepShip},
		{stepPay, stepConfirm, stepShip, stepOFD, stepDeliver},
		{stepCancel},
		{stepPay, stepConfirm, stepCancel, stepRefund},
		{stepPay, stepCancel, stepRefund, stepRefunded},
	}
	for i := range plans {
		plans[i] = paths[rng.Intn(len(paths))]
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				o := placedOrder(t)
				if err := repo.Create(context.Background(), o); err != nil {
					t.Error(err)
					return
				}
				for _, step := range plans[i] {
					if err := repo.Update(es.WithCausation(context.Background(), es.Causation{Actor: es.Admin("1")}), o.ID(), step); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestLiveProjectionsEqualARebuildFromScratch(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t, 12)
	repo := postgres.NewOrderRepository(store, nil)
	r := newRunner(store)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()

	randomWorkload(t, repo, 500, 42)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Projections() {
		res, err := r.Verify(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Differences) != 0 {
			t.Fatalf("%s differs from a rebuild:\n%v", p.Name(), res.Differences)
		}
		if res.Events < 500 {
			t.Fatalf("verify of %s read %d events", p.Name(), res.Events)
		}
	}
}

func TestVerifyFindsADifference(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 6)
	repo := postgres.NewOrderRepository(store, nil)
	r := newRunner(store)
	randomWorkload(t, repo, 20, 7)
	catchUp(t, r)
	if _, err := db.Pool.Exec(context.Background(), `UPDATE order_summary SET status = 'delivered' WHERE order_id = (SELECT order_id FROM order_summary WHERE status <> 'delivered' ORDER BY order_number LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	res, err := r.Verify(context.Background(), postgres.OrderSummary{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Differences) != 2 {
		t.Fatalf("verify found %v, want the tampered row on each side", res.Differences)
	}
}

func TestReplayWhileWritersAppend(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 16)
	repo := postgres.NewOrderRepository(store, nil)
	r := newRunner(store)
	randomWorkload(t, repo, 200, 3)

	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx, nil) }()

	// Writers keep placing and moving orders, and a reader keeps reading, during the replays.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, readErrs atomic.Int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			randomWorkload(t, repo, 5, 100+i)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM order_summary`).Scan(&n); err != nil {
				readErrs.Add(1)
			}
			reads.Add(1)
		}
	}()
	countEvents := func() int {
		var n int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The migrations' names of every index and constraint of the read models, as the service made them.
	schemaNames := func() string { return readModelIndexNames(context.Background(), t, db.Pool) }
	names := schemaNames()
	before := countEvents()
	for _, p := range r.Projections() {
		res, err := r.Rebuild(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Events == 0 {
			t.Fatalf("replay of %s read nothing", p.Name())
		}
	}
	if countEvents() == before {
		t.Fatal("no writer appended during the replays: the test proves nothing")
	}
	// A migration that drops or replaces an index by name still finds it after a replay.
	if after := schemaNames(); after != names {
		t.Errorf("after the replays the read models' indexes and constraints are\n  %s\nnot\n  %s", after, names)
	}
	close(stop)
	wg.Wait()
	if readErrs.Load() != 0 || reads.Load() == 0 {
		t.Fatalf("reads during replay: %d, failed %d", reads.Load(), readErrs.Load())
	}
	catchUp(t, r)
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	// Nothing lost or doubled: one summary row per order and one history row per status event.
	var orders, summaries, statusEvents, history int
	q := `SELECT
		(SELECT count(*) FROM events WHERE type = 'order.placed.v1'),
		(SELECT count(*) FROM order_summary),
		(SELECT count(*) FROM events WHERE type NOT IN ('order.payment_requested.v1', 'order.payment_failed.v1')),
		(SELECT count(*) FROM order_status_history)`
	if err := db.Pool.QueryRow(context.Background(), q).Scan(&orders, &summaries, &statusEvents, &history); err != nil {
		t.Fatal(err)
	}
	if orders != summaries || statusEvents != history {
		t.Fatalf("%d orders, %d summaries; %d status events, %d history rows", orders, summaries, statusEvents, history)
	}
	for _, p := range r.Projections() {
		res, err := r.Verify(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Differences) > 0 {
			t.Fatalf("%s after replay differs from a rebuild: %v", p.Name(), res.Differences)
		}
	}
}

func TestAStoredV1ShippedEventIsReadAsV2Everywhere(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 6)
	repo := postgres.NewOrderRepository(store, nil)
	r := newRunner(store)
	ctx := context.Background()
	o := placedOrder(t)
	if err := repo.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	walk(t, repo, o.ID(), []func(*order.Order) error{stepPay, stepConfirm}, es.System)
	// An event written before version 2 existed, as it sits in the table.
	if _, err := store.Append(ctx, order.StreamID(o.ID()), 4, ev(order.TypeOrderShippedV1, `{"carrier":"Delhivery","tracking_id":"DL1"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := repo.Get(ctx, o.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != order.StatusShipped || got.Shipment().TrackingURL != "https://www.delhivery.com/track/package/DL1" {
		t.Fatalf("loaded %s with shipment %+v", got.Status(), got.Shipment())
	}
	catchUp(t, r)
	var status, tracking, note string
	if err := db.Pool.QueryRow(ctx, `SELECT s.status, s.tracking_id, h.note FROM order_summary s
		JOIN order_status_history h ON h.order_id = s.order_id AND h.to_status = 'shipped' WHERE s.order_id = $1`, o.ID()).Scan(&status, &tracking, &note); err != nil {
		t.Fatal(err)
	}
	if status != "shipped" || tracking != "DL1" || note != "Delhivery, tracking DL1" {
		t.Fatalf("read models: %s %s %q", status, tracking, note)
	}
	// The table still holds version 1: nothing was rewritten.
	var typ string
	if err := db.Pool.QueryRow(ctx, `SELECT type FROM events WHERE stream_id = $1 AND stream_version = 5`, order.StreamID(o.ID())).Scan(&typ); err != nil || typ != order.TypeOrderShippedV1 {
		t.Fatalf("stored type %s %v", typ, err)
	}
}

// planRecorder is a projection that records the plan of a batched update by key of 25 orders, as
// the read models run them, in the transaction the runner gives it.
type planRecorder struct{ plan *string }

func (planRecorder) Name() string     { return "plan_recorder" }
func (planRecorder) Tables() []string { return nil }
func (p planRecorder) Apply(ctx context.Context, q postgres.Querier, _ postgres.Tables, _ []postgres.RecordedEvent) error {
	ids, statuses := make([]uuid.UUID, 25), make([]string, 25)
	for i := range ids {
		ids[i], statuses[i] = uuid.New(), "shipped"
	}
	rows, err := q.Query(ctx, `EXPLAIN (COSTS OFF) UPDATE order_summary s SET status = u.status
		FROM unnest($1::uuid[], $2::text[]) AS u(id, status) WHERE s.order_id = u.id`, ids, statuses)
	if err != nil {
		return err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	*p.plan = strings.Join(lines, "\n")
	return err
}

// A live step updates a small read model by its key, not by a hash join over the whole table.
func TestAStepUpdatesASmallReadModelByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, db := newStore(t, 4)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO order_summary (order_id, order_number, customer_name, customer_email,
			customer_phone, status, total_paise, currency, item_count, placed_at, updated_at, version)
		SELECT gen_random_uuid(), 'CB-' || g, 'Asha', 'asha@example.in', '+919876543210', 'confirmed', 100, 'INR', 1, now(), now(), 1
		FROM generate_series(1, 3000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE order_summary`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "test-"+uuid.NewString(), postgres.NoStream, ev("test.a.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	var plan string
	r := postgres.NewRunner(store, slog.New(slog.NewTextHandler(io.Discard, nil)), []postgres.Projection{planRecorder{&plan}})
	deadline := time.Now().Add(10 * time.Second)
	for plan == "" {
		if _, err := r.Step(ctx, planRecorder{&plan}); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never applied the event")
		}
	}
	if strings.Contains(plan, "Seq Scan on order_summary") || strings.Contains(plan, "Hash Join") ||
		!strings.Contains(plan, "Index Scan using order_summary_pkey") {
		t.Fatalf("the step's update does not go by key:\n%s", plan)
	}
}
