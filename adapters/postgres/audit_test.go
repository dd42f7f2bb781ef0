package postgres_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

func TestAuditFiltersAndAsOf(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 6)
	repo := postgres.NewOrderRepository(store, nil)
	auditor := postgres.NewAuditor(store)
	audit := query.NewAuditEventsHandler(auditor)
	asOf := query.NewOrderAsOfHandler(auditor)
	ctx := context.Background()

	a, b := placedOrder(t), placedOrder(t)
	for _, o := range []*order.Order{a, b} {
		if err := repo.Create(es.WithCausation(ctx, es.Causation{Actor: es.Customer("c1"), CorrelationID: "checkout-" + o.Number().String()}), o); err != nil {
			t.Fatal(err)
		}
	}
	// The system's events are left out of events_actor: an audit by the system still finds them.
	if err := repo.Create(es.WithCausation(ctx, es.Causation{Actor: es.System, CorrelationID: "system-order"}), placedOrder(t)); err != nil {
		t.Fatal(err)
	}
	// The events of a notification sent are left out of events_type: an audit by their type still
	// finds them.
	if _, err := store.Append(ctx, "notification-audit-email", postgres.NoStream,
		ev(notification.TypeRequested, `{}`), ev(notification.TypeDeliveryAttempted, `{}`), ev(notification.TypeSent, `{}`)); err != nil {
		t.Fatal(err)
	}
	walk(t, repo, a.ID(), []func(*order.Order) error{stepPay, stepConfirm}, es.Gateway("razorpay"))
	var confirmedAt time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT recorded_at FROM events WHERE stream_id = $1 AND type = $2`, order.StreamID(a.ID()), order.TypeOrderConfirmed).Scan(&confirmedAt); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // recorded_at is the database clock: leave a gap to ask about
	walk(t, repo, a.ID(), []func(*order.Order) error{stepShip}, es.Admin("9"))

	cases := []struct {
		name  string
		f     query.AuditFilter
		types []string
	}{
		{"by order id", query.AuditFilter{OrderID: a.ID()}, []string{order.TypeOrderPlaced, order.TypePaymentRequested, order.TypePaymentSucceeded, order.TypeOrderConfirmed, order.TypeOrderShipped}},
		{"by order number", query.AuditFilter{OrderNumber: b.Number().String()}, []string{order.TypeOrderPlaced, order.TypePaymentRequested}},
		{"by type", query.AuditFilter{Type: order.TypeOrderPlaced}, []string{order.TypeOrderPlaced, order.TypeOrderPlaced, order.TypeOrderPlaced}},
		{"by a notification's type", query.AuditFilter{Type: notification.TypeSent}, []string{notification.TypeSent}},
		{"by actor", query.AuditFilter{Actor: "admin:9"}, []string{order.TypeOrderShipped}},
		{"by the system", query.AuditFilter{Actor: "system"}, []string{order.TypeOrderPlaced, order.TypePaymentRequested,
			notification.TypeRequested, notification.TypeDeliveryAttempted, notification.TypeSent}},
		{"by correlation id", query.AuditFilter{CorrelationID: "checkout-" + b.Number().String()}, []string{order.TypeOrderPlaced, order.TypePaymentRequested}},
		{"after a time", query.AuditFilter{From: confirmedAt.Add(time.Microsecond)}, []string{order.TypeOrderShipped}},
		{"up to a time", query.AuditFilter{OrderID: a.ID(), To: confirmedAt}, []string{order.TypeOrderPlaced, order.TypePaymentRequested, order.TypePaymentSucceeded}},
	}
	// Audit reads stop at the oldest running transaction in the cluster; tests beside this one (or a
	// CREATE DATABASE) can hold that back for a moment, so wait until the last append is readable.
	waitReadable(t, audit, query.AuditFilter{Type: order.TypeOrderShipped}, 1)
	for _, c := range cases {
		page, err := audit.Handle(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, e := range page.Events {
			got = append(got, e.Type)
		}
		if len(got) != len(c.types) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.types)
			continue
		}
		for i := range got {
			if got[i] != c.types[i] {
				t.Errorf("%s: got %v, want %v", c.name, got, c.types)
				break
			}
		}
	}
	if page, _ := audit.Handle(ctx, query.AuditFilter{Actor: "admin:9"}); page.Events[0].Actor != "admin:9" || len(page.Events[0].Data) == 0 {
		t.Fatalf("audit event lacks its actor or data: %+v", page.Events[0])
	}

	v, err := asOf.Handle(ctx, query.OrderAsOf{OrderNumber: a.Number().String(), At: confirmedAt})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "confirmed" || v.Shipment != nil || v.Version != 4 {
		t.Fatalf("as of confirmation: status %s version %d shipment %v", v.Status, v.Version, v.Shipment)
	}
	if now, _ := asOf.Handle(ctx, query.OrderAsOf{OrderID: a.ID(), At: time.Now().Add(time.Hour)}); now.Status != "shipped" {
		t.Fatalf("as of now: %s", now.Status)
	}
	if _, err := asOf.Handle(ctx, query.OrderAsOf{OrderID: a.ID(), At: confirmedAt.Add(-time.Hour)}); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("before the order existed: %v", err)
	}
	for _, bad := range []query.AuditFilter{{Limit: 5000}, {After: "nope"}, {OrderNumber: "CB-1"}, {From: confirmedAt, To: confirmedAt}} {
		if _, err := audit.Handle(ctx, bad); !errors.Is(err, order.ErrInvalidInput) {
			t.Errorf("filter %+v: err = %v, want invalid input", bad, err)
		}
	}
}

// An audit by the type of an order's event can read events_type: the condition it adds is the
// index's predicate. An audit by the type of a notification sent reads in commit order.
func TestAuditByTypeUsesTheTypeIndexWhereItHoldsTheType(t *testing.T) {
	t.Parallel()
	_, db := newStore(t, 2)
	ctx := context.Background()
	for typ, indexed := range map[string]bool{order.TypeOrderShipped: true, notification.TypeSent: false} {
		plan, err := postgres.ExplainAuditByType(ctx, db.Pool, typ)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(plan, "events_type"); got != indexed {
			t.Errorf("audit by %s: reads events_type %v, want %v:\n%s", typ, got, indexed, plan)
		}
	}
}

// events_correlation leaves out the delivery events: an audit by correlation id reads it for the
// other events, and the streams' key for the delivery events of the streams those name.
func TestAuditByCorrelationReadsTheCorrelationIndexAndTheStreamsKey(t *testing.T) {
	t.Parallel()
	_, db := newStore(t, 2)
	plan, err := postgres.ExplainAuditByCorrelation(context.Background(), db.Pool, "c-1")
	if err != nil {
		t.Fatal(err)
	}
	byCorrelation := regexp.MustCompile(`Index Scan (on|using) events_correlation`)
	if strings.Contains(plan, "Seq Scan") || len(byCorrelation.FindAllString(plan, -1)) != 2 ||
		!strings.Contains(plan, "Index Scan on events_stream_id_stream_version_key") {
		t.Fatalf("the audit by correlation id does not read by index:\n%s", plan)
	}
}

func TestAuditPagesNeverSkipOrRepeatWhileAppendsGoOn(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t, 12)
	audit := query.NewAuditEventsHandler(postgres.NewAuditor(store))
	ctx := context.Background()

	const writers, each = 6, 40
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.audit.v1", `{}`)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	seen := map[uuid.UUID]int{}
	cursor := ""
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	finished := false
	var deadline time.Time
	for {
		page, err := audit.Handle(ctx, query.AuditFilter{Type: "test.audit.v1", After: cursor, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			seen[e.EventID]++
		}
		cursor = page.Next
		if page.HasMore {
			continue
		}
		if finished && len(seen) == writers*each {
			break
		}
		select {
		case <-done:
			if !finished {
				finished, deadline = true, time.Now().Add(20*time.Second)
			}
			if time.Now().After(deadline) {
				t.Fatalf("paged to the end and saw %d of %d events", len(seen), writers*each)
			}
			time.Sleep(2 * time.Millisecond)
		case <-time.After(2 * time.Millisecond):
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s seen %d times", id, n)
		}
	}
}

// waitReadable polls until the audit returns at least n events for f.
func waitReadable(t *testing.T, audit query.AuditEventsHandler, f query.AuditFilter, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		page, err := audit.Handle(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit %+v: %d events readable, want %d", f, len(page.Events), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
