package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/domain/order"
)

// twoProcesses returns the order repositories of two processes on one database, each with its own
// recent copies, and an order placed through the first (which keeps its copy).
func twoProcesses(t *testing.T) (a, b *postgres.OrderRepository, db *postgres.DB, o *order.Order) {
	t.Helper()
	store, db := newStore(t, 4)
	a = postgres.NewOrderRepository(store, postgres.NewRecentOrders(16))
	b = postgres.NewOrderRepository(store, postgres.NewRecentOrders(16))
	o = placedOrder(t)
	if err := a.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return a, b, db, o
}

func pay(o *order.Order) error {
	return o.ReceivePayment(order.PaymentSucceeded{Gateway: "razorpay", GatewayOrderID: o.Payment().GatewayOrderID,
		PaymentID: "pay_1", AmountPaise: o.Total().Paise()})
}

// streamTypes lists an order's stored event types in version order, and fails on a gap.
func streamTypes(t *testing.T, db *postgres.DB, o *order.Order) []string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT stream_version, type FROM events WHERE stream_id = $1 ORDER BY stream_version`, order.StreamID(o.ID()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var typ string
		if err := rows.Scan(&v, &typ); err != nil {
			t.Fatal(err)
		}
		if v != len(out)+1 {
			t.Fatalf("version %d follows %d events: a gap", v, len(out))
		}
		out = append(out, typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAChangeIsDecidedOnTheStoredOrderWhenAnotherProcessMovedIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b, db, o := twoProcesses(t)
	// The other process takes the payment and confirms: A's copy still says placed and unpaid.
	if err := b.Update(ctx, o.ID(), func(o *order.Order) error {
		if err := pay(o); err != nil {
			return err
		}
		return o.Confirm()
	}); err != nil {
		t.Fatal(err)
	}
	// Shipping is refused for a placed order: decided on A's copy alone it would fail.
	var shippedFrom order.Status
	if err := a.Update(ctx, o.ID(), func(o *order.Order) error {
		shippedFrom = o.Status()
		return o.Ship("Delhivery", "DL123", "")
	}); err != nil {
		t.Fatalf("ship after another process confirmed: %v", err)
	}
	if shippedFrom != order.StatusConfirmed {
		t.Fatalf("the shipment was decided on a %s order", shippedFrom)
	}
	got := streamTypes(t, db, o)
	if want := order.TypeOrderShipped; got[len(got)-1] != want {
		t.Fatalf("stream ends with %s, want %s: %v", got[len(got)-1], want, got)
	}
}

func TestAStaleCopyDoesNotRecordAChangeTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b, db, o := twoProcesses(t)
	cancel := func(o *order.Order) error { return o.Cancel("changed my mind") }
	if err := b.Update(ctx, o.ID(), cancel); err != nil {
		t.Fatal(err)
	}
	// On A's copy the order is placed, and cancelling it would be a change; stored, it is cancelled.
	err := a.Update(ctx, o.ID(), cancel)
	var te *order.TransitionError
	if err != nil && !errors.As(err, &te) {
		t.Fatalf("second cancel: %v", err)
	}
	n := 0
	for _, typ := range streamTypes(t, db, o) {
		if typ == order.TypeOrderCancelled {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d OrderCancelled events, want 1", n)
	}
}

func TestAChangeRolledBackLeavesNoCopyBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, _, db, o := twoProcesses(t)
	rollback := errors.New("roll back")
	err := db.InTx(ctx, func(ctx context.Context) error {
		if err := a.Update(ctx, o.ID(), pay); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("transaction: %v", err)
	}
	// The payment never happened: a copy that kept it would let the order be confirmed, and would
	// append at a version after an event that is not stored.
	var status order.Status
	err = a.Update(ctx, o.ID(), func(o *order.Order) error {
		status = o.Status()
		return o.Confirm()
	})
	var te *order.TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("confirm an unpaid order after a rolled-back payment: %v (decided on a %s order)", err, status)
	}
	got := streamTypes(t, db, o)
	for _, typ := range got {
		if typ == order.TypePaymentSucceeded || typ == order.TypeOrderConfirmed {
			t.Fatalf("stream holds %s: %v", typ, got)
		}
	}
}

// roundTrips counts what a pool sends the server: each statement sent on its own, and each batch
// (pipelined statements) once.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// The point of the copies: a change to an order the process stored or read lately is one round trip,
// its append; without a copy it reads the stream first.
func TestAChangeToARecentOrderIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := postgres.NewEventStore(&postgres.DB{Pool: pool})
	for _, c := range []struct {
		recent *postgres.RecentOrders
		want   int64
	}{{postgres.NewRecentOrders(16), 1}, {nil, 2}} {
		repo := postgres.NewOrderRepository(store, c.recent)
		o := placedOrder(t)
		if err := repo.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		before := trips.n.Load()
		if err := repo.Update(ctx, o.ID(), pay); err != nil {
			t.Fatal(err)
		}
		if got := trips.n.Load() - before; got != c.want {
			t.Errorf("with copies %v: the payment took %d round trips, want %d", c.recent != nil, got, c.want)
		}
	}
}
