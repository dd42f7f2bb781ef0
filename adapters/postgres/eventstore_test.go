package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

func newStore(t *testing.T, maxConns int32) (*postgres.EventStore, *postgres.DB) {
	t.Helper()
	db := pgtest.NewDB(t, maxConns)
	return postgres.NewEventStore(db), db
}

func ev(typ string, data string) postgres.NewEvent {
	return postgres.NewEvent{Type: typ, Data: json.RawMessage(data)}
}

func count(t *testing.T, db *postgres.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestAppendAndLoadRoundTrip(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 4)
	ctx := es.WithCausation(context.Background(), es.Causation{Actor: es.Admin("7"), CorrelationID: "corr-1", CausationID: "cause-1"})
	stream := "order-" + uuid.NewString()

	recs, err := store.Append(ctx, stream, postgres.NoStream, ev("test.a.v1", `{"n":1}`), ev("test.b.v2", `{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].StreamVersion != 1 || recs[1].StreamVersion != 2 || recs[0].Position >= recs[1].Position {
		t.Fatalf("appended %+v", recs)
	}
	loaded, err := store.Load(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 {
		t.Fatalf("loaded %d events, want 2", len(loaded))
	}
	for i, l := range loaded {
		if l.EventID != recs[i].EventID || l.Type != recs[i].Type || !sameJSON(t, l.Data, recs[i].Data) || l.Position != recs[i].Position {
			t.Errorf("event %d: loaded %+v, appended %+v", i, l, recs[i])
		}
		md := l.Metadata
		if md.Actor != es.Admin("7") || md.CorrelationID != "corr-1" || md.CausationID != "cause-1" || md.EventID != l.EventID ||
			md.OccurredAt.IsZero() || !md.OccurredAt.Equal(recs[i].Metadata.OccurredAt) {
			t.Errorf("event %d metadata = %+v", i, md)
		}
	}
	if loaded[1].SchemaVersion != 1 {
		t.Errorf("schema version = %d, want the default 1", loaded[1].SchemaVersion)
	}
	// Each metadata field is a column of its own, which the audit's indexes key.
	if n := count(t, db, `SELECT count(*) FROM events WHERE stream_id = $1 AND actor = 'admin:7' AND correlation_id = 'corr-1' AND causation_id = 'cause-1'`, stream); n != 2 {
		t.Errorf("%d of 2 events keep their actor, correlation and causation in their columns", n)
	}
	none, err := store.Load(context.Background(), "order-"+uuid.NewString())
	if err != nil || len(none) != 0 {
		t.Fatalf("unknown stream: %v, %v", none, err)
	}
}

func TestAStaleExpectedVersionIsAConflict(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 4)
	ctx := context.Background()
	stream := "order-" + uuid.NewString()
	if _, err := store.Append(ctx, stream, postgres.NoStream, ev("test.a.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	for _, expected := range []int{postgres.NoStream} {
		_, err := store.Append(ctx, stream, expected, ev("test.b.v1", `{}`))
		var ce *es.ConflictError
		if !errors.Is(err, es.ErrConcurrencyConflict) || !errors.As(err, &ce) || ce.Stream != stream {
			t.Fatalf("append at %d: err = %v, want a conflict on %s", expected, err, stream)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE stream_id = $1`, stream); n != 1 {
		t.Fatalf("stream has %d events after a conflict, want 1", n)
	}
	if _, err := store.Append(ctx, stream, postgres.AnyVersion, ev("test.c.v1", `{}`)); err != nil {
		t.Fatalf("append at any version: %v", err)
	}
	if _, err := store.Append(ctx, stream, 2, ev("test.d.v1", `{}`)); err != nil {
		t.Fatalf("append at the current version: %v", err)
	}
}

func TestAppendIsIdempotentOnEventID(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 4)
	ctx := context.Background()
	stream := "order-" + uuid.NewString()
	e := ev("test.a.v1", `{"x":1}`)
	e.ID = uuid.New()
	first, err := store.Append(ctx, stream, postgres.NoStream, e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := store.Append(ctx, stream, postgres.NoStream, e)
	if err != nil {
		t.Fatalf("retried append: %v", err)
	}
	if len(again) != 1 || again[0].Position != first[0].Position {
		t.Fatalf("retry returned %+v, want the stored event %+v", again, first)
	}
	if n := count(t, db, `SELECT count(*) FROM events`); n != 1 {
		t.Fatalf("%d events after a retried append, want 1", n)
	}
	if _, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, e); err == nil {
		t.Fatal("the same event id in another stream was accepted")
	}
}

// The events of a rolled-back transaction are never published: the events table is the outbox, and
// the order events a group reads are the stored ones, with their metadata.
func TestOutboxCommitsWithTheEventsOrNotAtAll(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	boom := errors.New("boom")

	err := db.InTx(ctx, func(ctx context.Context) error {
		if _, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.a.v1", `{}`), ev("test.b.v1", `{}`)); err != nil {
			return err
		}
		return boom // the business step after the append fails
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("rolled-back transaction left %d events", n)
	}

	stream := "order-" + uuid.NewString()
	recs, err := store.Append(es.WithCausation(ctx, es.Causation{CorrelationID: "c-9"}), stream, postgres.NoStream,
		ev("test.a.v1", `{"a":1}`), ev("test.b.v1", `{"b":2}`), ev("test.c.v1", `{"c":3}`))
	if err != nil {
		t.Fatal(err)
	}
	// A notification's events are on no topic.
	if _, err := store.Append(ctx, "notification-"+uuid.NewString(), postgres.NoStream, ev("test.n.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	msgs := subscribe(t, ctx, db, "reader", postgres.SubscriberConfig{})
	for i, r := range recs {
		m := receive(t, ctx, msgs)
		if m.UUID != r.EventID.String() || !sameJSON(t, m.Payload, r.Data) {
			t.Errorf("message %d = %s %s, want %s %s", i, m.UUID, m.Payload, r.EventID, r.Data)
		}
		want := map[string]string{es.MsgType: r.Type, es.MsgStream: stream, es.MsgStreamVersion: fmt.Sprint(i + 1), es.MsgCorrelationID: "c-9"}
		for k, v := range want {
			if m.Metadata.Get(k) != v {
				t.Errorf("message %d metadata %s = %q, want %q", i, k, m.Metadata.Get(k), v)
			}
		}
		m.Ack()
	}
	select {
	case m := <-msgs:
		t.Fatalf("a fourth message came: %s %s", m.Metadata.Get(es.MsgStream), m.Metadata.Get(es.MsgType))
	case <-time.After(200 * time.Millisecond):
	}
}

func TestReadAllNeverSkipsATransactionThatCommitsLate(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 6)
	ctx := context.Background()

	// Hold the first append open: it takes the lowest position and transaction id.
	slow, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx)
	if _, err := store.Append(postgres.WithTx(ctx, slow), "order-"+uuid.NewString(), postgres.NoStream, ev("test.slow.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	// Two later appends commit while it is open.
	for i := 0; i < 2; i++ {
		if _, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.fast.v1", `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	// A reader following the commit-safe order must not move past the open transaction.
	var cp postgres.Checkpoint
	var seen []string
	// read reads until it has seen want events or, for want 0, until nothing more is readable. The
	// horizon is cluster-wide, so transactions of tests running beside this one can hold it back for a
	// moment: it polls until a deadline rather than trusting one pass.
	read := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			batch, err := store.ReadAll(ctx, cp, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 {
				if len(seen) >= want || time.Now().After(deadline) {
					return
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
			for _, e := range batch {
				seen = append(seen, e.Type)
				cp = e.Checkpoint()
			}
		}
	}
	read(0)
	if len(seen) != 0 {
		t.Fatalf("reader saw %v while an earlier transaction was open; it would skip that one", seen)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	read(3)
	if len(seen) != 3 || seen[0] != "test.slow.v1" {
		t.Fatalf("reader saw %v, want the slow append first and all three", seen)
	}
	// A naive reader by position alone would have read positions 2 and 3 first, then missed 1.
	var minPos int64
	if err := db.Pool.QueryRow(ctx, `SELECT min(position) FROM events WHERE type = 'test.slow.v1'`).Scan(&minPos); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE position > $1`, minPos); n != 2 {
		t.Fatalf("the slow append does not hold the lowest position; the test proves nothing")
	}
}

func TestConcurrentUpdatesOfOneOrder(t *testing.T) {
	t.Parallel()
	for _, recent := range []int{0, 16} {
		t.Run(fmt.Sprintf("recent=%d", recent), func(t *testing.T) {
			t.Parallel()
			concurrentUpdates(t, recent)
		})
	}
}

// concurrentUpdates has 20 writers change one order at once through a repository keeping recent
// copies of that many orders (none: it reads the stream each time).
func concurrentUpdates(t *testing.T, recent int) {
	store, db := newStore(t, 20)
	repo := postgres.NewOrderRepository(store, postgres.NewRecentOrders(recent))
	ctx := context.Background()
	o := placedOrder(t)
	if err := repo.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		mu        sync.Mutex
		versions  = map[int]int{}
		conflicts int
	)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			var at int
			err := repo.Update(ctx, o.ID(), func(o *order.Order) error {
				at = o.Version() + 1
				// A failed payment attempt is legal from placed, again and again.
				return o.FailPayment(order.PaymentFailed{GatewayOrderID: o.Payment().GatewayOrderID, Code: "E", Reason: fmt.Sprint("attempt ", i)})
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				versions[at]++
			case errors.Is(err, es.ErrConcurrencyConflict):
				conflicts++
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if len(versions)+conflicts != writers {
		t.Fatalf("%d successes and %d conflicts for %d writers", len(versions), conflicts, writers)
	}
	for v, n := range versions {
		if n != 1 {
			t.Fatalf("version %d was written by %d writers", v, n)
		}
	}
	if len(versions) == 0 {
		t.Fatal("no writer succeeded")
	}
	var maxV, n int
	if err := db.Pool.QueryRow(ctx, `SELECT max(stream_version), count(*) FROM events WHERE stream_id = $1`, order.StreamID(o.ID())).Scan(&maxV, &n); err != nil {
		t.Fatal(err)
	}
	if maxV != n {
		t.Fatalf("stream has %d events but reaches version %d: a gap", n, maxV)
	}
	if n != 2+len(versions) {
		t.Fatalf("stream has %d events, want placed + requested + %d", n, len(versions))
	}
	t.Logf("%d writers: %d succeeded, %d conflicts", writers, len(versions), conflicts)
}

func placedOrder(t testing.TB) *order.Order {
	t.Helper()
	email, _ := order.NewEmail("asha@example.in")
	phone, _ := order.NewPhone("9876543210")
	num, err := order.NewNumber(randReader{})
	if err != nil {
		t.Fatal(err)
	}
	price, _ := order.NewMoney(49900)
	o, err := order.Place(order.PlaceInput{
		ID: uuid.New(), Number: num,
		Customer: order.Customer{Name: "Asha", Email: email, Phone: phone},
		Lines:    []order.Line{{SKU: "A", Name: "Kettle", Quantity: 1, UnitPrice: price}},
		Address:  order.Address{Line1: "1 Park St", City: "Kolkata", State: "West Bengal", Pincode: "700016"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.RequestPayment("razorpay", "order_"+o.ID().String()[:8]+o.Number().String()); err != nil {
		t.Fatal(err)
	}
	return o
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	u := uuid.New()
	for i := range p {
		p[i] = u[i%16]
	}
	return len(p), nil
}

func TestCreateRefusesATakenNumberAndGetFindsTheOrder(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 4)
	repo := postgres.NewOrderRepository(store, nil)
	ctx := context.Background()
	a := placedOrder(t)
	if err := repo.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := repo.Get(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Number() != a.Number() || got.Version() != 2 || got.Payment().GatewayOrderID != a.Payment().GatewayOrderID {
		t.Fatalf("loaded %+v", got)
	}
	id, err := repo.IDByNumber(ctx, a.Number())
	if err != nil || id != a.ID() {
		t.Fatalf("IDByNumber = %s, %v", id, err)
	}

	b := placedOrder(t)
	num := a.Number()
	b2, err := order.Place(order.PlaceInput{ID: b.ID(), Number: num, Customer: b.Customer(), Lines: b.Lines(), Address: b.Address()})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Create(ctx, b2); !errors.Is(err, order.ErrNumberTaken) {
		t.Fatalf("second order with number %s: err = %v", num, err)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE stream_id = $1`, order.StreamID(b.ID())); n != 0 {
		t.Fatalf("refused create left %d events", n)
	}
	if _, err := repo.Get(ctx, uuid.New()); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("unknown order: err = %v", err)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// In a caller's transaction, appends that fail in a savepoint leave nothing behind and the
// transaction usable: what the caller writes next commits, and so do appends that succeed.
func TestAppendManyInSavepointLeavesTheCallersTransactionUsable(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 4)
	ctx := context.Background()
	taken := "test-" + uuid.NewString()
	if _, err := store.Append(ctx, taken, postgres.NoStream, ev("test.a.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	fresh, later := "test-"+uuid.NewString(), "test-"+uuid.NewString()
	err := db.InTx(ctx, func(ctx context.Context) error {
		// The first stream goes in, the second conflicts: neither may stay.
		_, err := store.AppendManyInSavepoint(ctx,
			postgres.StreamAppend{Stream: fresh, Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("test.a.v1", `{}`)}},
			postgres.StreamAppend{Stream: taken, Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("test.b.v1", `{}`)}})
		var conflict *es.ConflictError
		if !errors.As(err, &conflict) {
			return fmt.Errorf("appending to a taken stream: got %v, want a conflict", err)
		}
		_, err = store.AppendManyInSavepoint(ctx,
			postgres.StreamAppend{Stream: later, Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("test.c.v1", `{}`)}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE stream_id = $1`, fresh); n != 0 {
		t.Fatalf("%d events of the failed appends were kept", n)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE stream_id = $1`, taken); n != 1 {
		t.Fatalf("the taken stream has %d events, want its 1", n)
	}
	if n := count(t, db, `SELECT count(*) FROM events WHERE stream_id = $1`, later); n != 1 {
		t.Fatalf("the append after the failure did not commit: %d events", n)
	}
}

// A reader of one kind of stream gets every event, so that its checkpoint moves past the others, but
// the data of its own kind only.
func TestReadAllDataOfReadsTheDataOfOneKindOfStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _ := newStore(t, 4)
	if _, err := store.Append(ctx, "order-a", postgres.NoStream, ev("order.placed.v1", `{"order_number":"CB-A"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, "notification-a-email", postgres.NoStream, ev("notification.requested.v1", `{"channel":"email"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		events, err := store.ReadAllDataOf(ctx, postgres.Checkpoint{}, 10, "order-")
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 2 {
			if events[0].StreamID != "order-a" || string(events[0].Data) != `{"order_number": "CB-A"}` {
				t.Fatalf("the order event came as %s %s", events[0].StreamID, events[0].Data)
			}
			if events[1].StreamID != "notification-a-email" || events[1].Data != nil || events[1].Type != "notification.requested.v1" {
				t.Fatalf("the notification event came as %s %s %q", events[1].StreamID, events[1].Type, events[1].Data)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events readable, want 2", len(events))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The store's indexes on event ids and correlation ids take new entries at their right edge only if
// the ids it makes sort by time: events appended one after another get increasing version 7 ids.
func TestTheStoreGivesNewEventsAndCorrelationsTimeOrderedIDs(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t, 4)
	var ids []uuid.UUID
	for i := range 3 {
		recs, err := store.Append(context.Background(), "order-"+uuid.NewString(), postgres.NoStream,
			ev("test.a.v1", fmt.Sprintf(`{"n":%d}`, i)), ev("test.b.v1", `{}`))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			corr, err := uuid.Parse(r.Metadata.CorrelationID)
			if err != nil || corr.Version() != 7 {
				t.Fatalf("correlation id %q: version %d, %v; want a version 7 UUID", r.Metadata.CorrelationID, corr.Version(), err)
			}
			ids = append(ids, r.EventID)
		}
	}
	for i, id := range ids {
		if id.Version() != 7 {
			t.Errorf("event id %s is version %d, want 7", id, id.Version())
		}
		if i > 0 && id.String() <= ids[i-1].String() {
			t.Errorf("event id %s was made after %s but sorts before it", id, ids[i-1])
		}
	}
}

// The events of every stream of an AppendMany go in one INSERT (one more for the IfAbsent streams),
// and each append's own statements run once each. Each stream still gets its own versions, and an IfAbsent stream that was there
// gets nothing. Both forms of the INSERT: a VALUES list for a few rows, unnest for more.
func TestAppendManyWritesTheEventsOfAllItsStreamsInOneStatement(t *testing.T) {
	t.Parallel()
	for _, perStream := range []int{2, 5} {
		t.Run(fmt.Sprintf("%d events per stream", perStream), func(t *testing.T) {
			t.Parallel()
			appendManyInOneStatement(t, perStream)
		})
	}
}

func appendManyInOneStatement(t *testing.T, perStream int) {
	ctx := context.Background()
	store, db := newStore(t, 4)
	if _, err := store.Append(ctx, "merge-there", postgres.NoStream, ev("t.v1", `{"first":true}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE SEQUENCE event_inserts; CREATE SEQUENCE seen_inserts;
		CREATE TABLE seen (stream TEXT, tag TEXT);
		CREATE FUNCTION count_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('event_inserts'); RETURN NULL; END $$;
		CREATE FUNCTION count_seen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('seen_inserts'); RETURN NULL; END $$;
		CREATE TRIGGER count_events AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION count_events();
		CREATE TRIGGER count_seen AFTER INSERT ON seen FOR EACH STATEMENT EXECUTE FUNCTION count_seen();`); err != nil {
		t.Fatal(err)
	}
	seen := func(stream, tag string) postgres.Statement {
		return postgres.Statement{SQL: `INSERT INTO seen SELECT unnest($1::text[]), $2`, Args: []any{[]string{stream}, tag}}
	}
	var appends []postgres.StreamAppend
	for i := range 3 {
		stream := fmt.Sprintf("merge-%d", i)
		appends = append(appends, postgres.StreamAppend{Stream: stream, Expected: postgres.NoStream,
			Before: []postgres.Statement{seen(stream, "before")}, After: []postgres.Statement{seen(stream, "after")},
			Events: nil})
		for j := range perStream {
			appends[i].Events = append(appends[i].Events, ev(fmt.Sprintf("t%d.v1", j), fmt.Sprintf(`{"n": %d, "j": %d}`, i, j)))
		}
	}
	for _, stream := range []string{"merge-new", "merge-there"} {
		appends = append(appends, postgres.StreamAppend{Stream: stream, Expected: postgres.NoStream, IfAbsent: true,
			Before: []postgres.Statement{seen(stream, "before")}, Events: []postgres.NewEvent{ev("t.v1", `{}`)}})
	}
	// Another tag is another statement.
	appends[4].After = []postgres.Statement{seen("merge-there", "other")}
	before := count(t, db, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM event_inserts`)
	out, err := store.AppendMany(ctx, appends...)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM event_inserts`) - before; n != 2 {
		t.Errorf("the events went in %d INSERT statements, want 2", n)
	}
	if n := count(t, db, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM seen_inserts`); n != 9 {
		t.Errorf("the appends' own statements ran %d times, want 9 (each once)", n)
	}
	for tag, want := range map[string]int{"before": 5, "after": 3, "other": 1} {
		if n := count(t, db, `SELECT count(*) FROM seen WHERE tag = '`+tag+`'`); n != want {
			t.Errorf("%d rows tagged %s, want %d", n, tag, want)
		}
	}
	for i, a := range appends[:4] {
		recs, err := store.Load(ctx, a.Stream)
		if err != nil {
			t.Fatal(err)
		}
		if len(out[i]) != len(a.Events) || len(recs) != len(a.Events) {
			t.Fatalf("%s: %d returned, %d stored, want %d", a.Stream, len(out[i]), len(recs), len(a.Events))
		}
		for j, r := range recs {
			got := out[i][j]
			if got.EventID != r.EventID || got.Position != r.Position || got.TxID != r.TxID || got.StreamVersion != j+1 || !got.RecordedAt.Equal(r.RecordedAt) {
				t.Errorf("%s event %d: returned %+v, stored %+v", a.Stream, j, got, r)
			}
			if r.Type != a.Events[j].Type || r.Metadata.CorrelationID == "" || (i < 3 && string(r.Data) != fmt.Sprintf(`{"j": %d, "n": %d}`, j, i)) {
				t.Errorf("%s event %d stored as %s %s %+v", a.Stream, j, r.Type, r.Data, r.Metadata)
			}
		}
	}
	if out[4] != nil {
		t.Errorf("an IfAbsent append to a stream that was there returned %v, want nothing", out[4])
	}
	if recs, _ := store.Load(ctx, "merge-there"); len(recs) != 1 || string(recs[0].Data) != `{"first": true}` {
		t.Errorf("merge-there holds %v, want its first event only", recs)
	}
	if got := appends[0].Before[0].Args[0].([]string); len(got) != 1 {
		t.Errorf("AppendMany changed the caller's arguments: %v", got)
	}
}

// When one stream of an AppendMany is stale, nothing goes in and the conflict names that stream.
func TestAConflictInAnAppendManyNamesItsStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, db := newStore(t, 4)
	if _, err := store.Append(ctx, "many-1", postgres.NoStream, ev("t.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	_, err := store.AppendMany(ctx,
		postgres.StreamAppend{Stream: "many-0", Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("t.v1", `{}`)}},
		postgres.StreamAppend{Stream: "many-1", Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("t.v1", `{}`)}},
		postgres.StreamAppend{Stream: "many-2", Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("t.v1", `{}`)}})
	var conflict *es.ConflictError
	if !errors.As(err, &conflict) || conflict.Stream != "many-1" {
		t.Fatalf("AppendMany with many-1 stale: %v, want a conflict on many-1", err)
	}
	if n := count(t, db, `SELECT count(*) FROM events`); n != 1 {
		t.Errorf("%d events stored, want only the first one", n)
	}
}
