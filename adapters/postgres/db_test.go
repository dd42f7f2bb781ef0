package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// A redoable transaction commits without waiting for the WAL flush, and only that transaction: the
// connection goes back to the pool with the server's setting.
func TestRedoableTransactionsAloneSkipTheFlushWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db := newStore(t, 1) // one connection: the same one serves every step
	setting := func(ctx context.Context) string {
		var s string
		if err := db.Q(ctx).QueryRow(ctx, `SHOW synchronous_commit`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	server := setting(ctx)
	if server == "off" {
		t.Fatal("the test server already has synchronous_commit off; the test would prove nothing")
	}
	var inRedoable, inNested, inOrdinary string
	if err := db.InRedoableTx(ctx, func(ctx context.Context) error {
		inRedoable = setting(ctx)
		return db.InTx(ctx, func(ctx context.Context) error { inNested = setting(ctx); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(ctx context.Context) error { inOrdinary = setting(ctx); return nil }); err != nil {
		t.Fatal(err)
	}
	if inRedoable != "off" || inNested != "off" {
		t.Errorf("synchronous_commit in a redoable transaction = %q (nested %q), want off", inRedoable, inNested)
	}
	if inOrdinary != server || setting(ctx) != server {
		t.Errorf("synchronous_commit after a redoable transaction = %q / %q, want the server's %q", inOrdinary, setting(ctx), server)
	}
}

// A redoable subscriber delivers each message in a transaction that skips the flush wait.
func TestARedoableSubscriberDeliversInARedoableTransaction(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, db := newStore(t, 4)
	wlog := watermill.NopLogger{}
	if _, err := store.Append(ctx, "order-"+uuid.NewString(), postgres.NoStream, ev("test.a.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	for _, redoable := range []bool{false, true} {
		sub, err := postgres.NewSubscriber(db.Pool, fmt.Sprintf("redoable_%t", redoable), postgres.SubscriberConfig{
			Wait: postgres.WaitConfig{SafetyPoll: 10 * time.Millisecond}, AckDeadline: 10 * time.Second, BatchSize: 1, Redoable: redoable}, wlog)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := sub.Subscribe(ctx, postgres.OrderEventsTopic)
		if err != nil {
			t.Fatal(err)
		}
		msg := <-msgs
		tx, ok := wsql.TxFromContext(msg.Context())
		if !ok {
			t.Fatal("the message carries no delivering transaction")
		}
		rows, err := tx.QueryContext(ctx, `SHOW synchronous_commit`)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for rows.Next() {
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
		}
		_ = rows.Close()
		msg.Ack()
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{false: "on", true: "off"}[redoable]; got != want {
			t.Errorf("Redoable %t: synchronous_commit in the delivering transaction = %q, want %q", redoable, got, want)
		}
	}
}

// Processes starting at once agree on one secret, and it stays the same afterwards.
func TestAServiceSecretIsMadeOnceAndSharedByEveryProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, 8)
	got := make([][]byte, 8)
	errs := make(chan error, len(got))
	for i := range got {
		go func() {
			var err error
			got[i], err = db.ServiceSecret(ctx, "order_links", 32)
			errs <- err
		}()
	}
	for range got {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range got {
		if len(g) != 32 || string(g) != string(got[0]) {
			t.Fatalf("secrets differ: %x and %x", g, got[0])
		}
	}
	again, err := db.ServiceSecret(ctx, "order_links", 32)
	if err != nil || string(again) != string(got[0]) {
		t.Fatalf("the secret changed: %x, %v", again, err)
	}
	other, err := db.ServiceSecret(ctx, "other", 32)
	if err != nil || string(other) == string(got[0]) {
		t.Fatalf("another name gave the same secret: %v", err)
	}
}

// Logs and errors name the database without any of the ways a URL can carry a password.
func TestRedactHidesEveryPassword(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/certibuy?sslmode=disable", "postgres://postgres@127.0.0.1:5432/certibuy?sslmode=disable"},
		{"postgres://app:Secret123@db:5432/certibuy", "postgres://app:xxxxx@db:5432/certibuy"},
		{"postgres://app@db/certibuy?sslmode=disable&password=Secret123", "postgres://app@db/certibuy?password=xxxxx&sslmode=disable"},
		{"postgres:///certibuy?host=/run/pg&sslpassword=Secret123", "postgres:///certibuy?host=%2Frun%2Fpg&sslpassword=xxxxx"},
		{"host=db user=app password=Secret123 dbname=certibuy", "(database URL with a password)"},
	} {
		if got := postgres.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
