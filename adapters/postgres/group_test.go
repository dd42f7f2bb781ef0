package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/domain/es"
)

// Appends made at about the same time outside a transaction are committed together, each with its
// own causation; one that conflicts fails alone, and the others go in.
func TestGroupedAppendsCommitTogetherAndFailAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, db := newStore(t, 8)
	if _, err := store.Append(ctx, "grouped-stale", postgres.NoStream, ev("t.v1", `{}`)); err != nil {
		t.Fatal(err)
	}
	// A long window and a group of exactly the callers: they all join one group.
	appendGrouped := postgres.GroupedAppender(store, 10*time.Second, 10)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx := es.WithCausation(ctx, es.Causation{Actor: es.System, CorrelationID: fmt.Sprintf("corr-%d", i)})
			a := postgres.StreamAppend{Stream: fmt.Sprintf("grouped-%d", i), Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("t.v1", `{}`)}}
			if i == 9 {
				a = postgres.StreamAppend{Stream: "grouped-stale", Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("t.v1", `{}`)}}
			}
			_, errs[i] = appendGrouped(cctx, a)
		}()
	}
	wg.Wait()
	for i, err := range errs[:9] {
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	var ce *es.ConflictError
	if !errors.As(errs[9], &ce) || ce.Stream != "grouped-stale" {
		t.Fatalf("the stale append answered %v, want a conflict on grouped-stale", errs[9])
	}
	// Each event carries its caller's correlation id.
	if n := count(t, db, `SELECT count(*) FROM events WHERE stream_id LIKE 'grouped-_' AND correlation_id = 'corr-' || substr(stream_id, 9)`); n != 9 {
		t.Fatalf("%d of 9 grouped events carry their caller's correlation id", n)
	}
	// Without the stale one, a second group goes in as one transaction.
	appendGrouped = postgres.GroupedAppender(store, 10*time.Second, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := postgres.StreamAppend{Stream: fmt.Sprintf("second-%d", i), Expected: postgres.NoStream, Events: []postgres.NewEvent{ev("t.v1", `{}`)}}
			_, errs[i] = appendGrouped(ctx, a)
		}()
	}
	wg.Wait()
	for i, err := range errs[:5] {
		if err != nil {
			t.Fatalf("second group, append %d: %v", i, err)
		}
	}
	if n := count(t, db, `SELECT count(DISTINCT tx_id) FROM events WHERE stream_id LIKE 'second-%'`); n != 1 {
		t.Fatalf("a group of five appends took %d transactions", n)
	}
}
