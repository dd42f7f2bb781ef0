package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// BenchmarkAppend compares appending one event per transaction through the order repository (load
// the stream, decide, append the event, which is its own outbox message) with plain pgx inserts of an
// event row and an outbox row (into a table shaped as watermill-sql's, the poison topic's), as the
// event store wrote them before the events table became the outbox: both as a
// Begin/Exec/Exec/Commit transaction and as one pipelined batch. All run in the same
// process against the same database; "ratio" is repository events/s over the batch's (the faster
// baseline), "ratio-vs-tx" over the transaction's.
//
//	go test ./adapters/postgres -run '^$' -bench Append -benchtime 3s
func BenchmarkAppend(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			db := pgtest.NewDB(b, int32(workers)+2)
			store := postgres.NewEventStore(db)
			repo := postgres.NewOrderRepository(store)
			ctx := context.Background()

			// One order per operation keeps streams short, as real orders are (about ten events each).
			orders := make([]uuid.UUID, b.N)
			for i := range orders {
				o := placedOrder(b)
				if err := repo.Create(ctx, o); err != nil {
					b.Fatal(err)
				}
				orders[i] = o.ID()
			}
			payload, _ := json.Marshal(order.PaymentFailed{GatewayOrderID: "order_A", Code: "BAD_REQUEST_ERROR", Reason: "card declined"})
			md := `{"event_id":"00000000-0000-0000-0000-000000000000","correlation_id":"c","actor":"system","occurred_at":"2026-01-01T00:00:00Z","schema_version":1}`

			plain := func(i int) error {
				tx, err := db.Pool.Begin(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(ctx)
				id := es.NewID()
				if _, err := tx.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, metadata, stream_hash)
					VALUES ($1, $2, $3, $4, 1, $5, $6, 0)`, "plain-"+orders[i].String(), 1, id, order.TypePaymentFailed, payload, md); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO watermill_order_events_poison (uuid, payload, metadata, transaction_id)
					VALUES ($1, $2, $3, pg_current_xact_id())`, id.String(), payload, md); err != nil {
					return err
				}
				return tx.Commit(ctx)
			}
			// plainBatch writes the same two rows in one pipelined round trip (an implicit transaction):
			// the fastest way pgx offers, and the baseline the ratio is taken against.
			plainBatch := func(i int) error {
				id := es.NewID()
				batch := &pgx.Batch{}
				batch.Queue(`INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, metadata, stream_hash)
					VALUES ($1, $2, $3, $4, 1, $5, $6, 0)`, "batch-"+orders[i].String(), 1, id, order.TypePaymentFailed, payload, md)
				batch.Queue(`INSERT INTO watermill_order_events_poison (uuid, payload, metadata, transaction_id)
					VALUES ($1, $2, $3, pg_current_xact_id())`, id.String(), payload, md)
				return db.Pool.SendBatch(ctx, batch).Close()
			}
			viaRepo := func(i int) error {
				return repo.Update(ctx, orders[i], func(o *order.Order) error {
					return o.FailPayment(order.PaymentFailed{GatewayOrderID: o.Payment().GatewayOrderID, Code: "BAD_REQUEST_ERROR", Reason: "card declined"})
				})
			}
			b.ResetTimer()
			txRate := run(b, workers, plain)
			batchRate := run(b, workers, plainBatch)
			repoRate := run(b, workers, viaRepo)
			b.StopTimer()
			b.ReportMetric(txRate, "plain-tx-events/s")
			b.ReportMetric(batchRate, "plain-batch-events/s")
			b.ReportMetric(repoRate, "repo-events/s")
			b.ReportMetric(repoRate/batchRate, "ratio")
			b.ReportMetric(repoRate/txRate, "ratio-vs-tx")
		})
	}
}

// run does b.N operations over workers goroutines and returns operations per second.
func run(b *testing.B, workers int, op func(i int) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(b.N) / time.Since(start).Seconds()
}
