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

// BenchmarkAppend compares appending one event per transaction through the order repository (decide
// on the order's recent copy, append the event, which is its own outbox message) with plain pgx inserts of an
// event row and an outbox row (into a table shaped as watermill-sql's, the poison topic's), as the
// event store wrote them before the events table became the outbox: both as a
// Begin/Exec/Exec/Commit transaction and as one pipelined batch. All run in the same
// process against the same database; "ratio" is repository events/s over the batch's (the faster
// baseline), "ratio-vs-tx" over the transaction's; "ratio-loading" is that of a repository without
// recent copies, which reads each order's stream before it decides.
//
//	go test ./adapters/postgres -run '^$' -bench Append -benchtime 3s
func BenchmarkAppend(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			db := pgtest.NewDB(b, int32(workers)+2)
			store := postgres.NewEventStore(db)
			repo := postgres.NewOrderRepository(store, postgres.NewRecentOrders(b.N))
			loading := postgres.NewOrderRepository(store, nil)
			ctx := context.Background()

			// One order per operation keeps streams short, as real orders are (about ten events each).
			orders, others := make([]uuid.UUID, b.N), make([]uuid.UUID, b.N)
			for i := range orders {
				for _, r := range []struct {
					repo *postgres.OrderRepository
					ids  []uuid.UUID
				}{{repo, orders}, {loading, others}} {
					o := placedOrder(b)
					if err := r.repo.Create(ctx, o); err != nil {
						b.Fatal(err)
					}
					r.ids[i] = o.ID()
				}
			}
			payload, _ := json.Marshal(order.PaymentFailed{GatewayOrderID: "order_A", Code: "BAD_REQUEST_ERROR", Reason: "card declined"})
			// The metadata an outbox message carried: the event's id, and a correlation id of its own
			// (an append outside a request starts its own correlation), which the event row keeps in
			// its columns and the correlation index keys.
			metadata := func(id, correlation uuid.UUID) string {
				return fmt.Sprintf(`{"event_id":%q,"correlation_id":%q,"actor":"system","occurred_at":"2026-01-01T00:00:00Z","schema_version":1}`, id, correlation)
			}
			const plainEvent = `INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, stream_hash,
				correlation_id, actor, occurred_at) VALUES ($1, $2, $3, $4, 1, $5, 0, $6, 'system', '2026-01-01T00:00:00Z')`

			plain := func(i int) error {
				tx, err := db.Pool.Begin(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(ctx)
				id, correlation := es.NewID(), es.NewID()
				md := metadata(id, correlation)
				if _, err := tx.Exec(ctx, plainEvent, "plain-"+orders[i].String(), 1, id, order.TypePaymentFailed, payload, correlation.String()); err != nil {
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
				id, correlation := es.NewID(), es.NewID()
				md := metadata(id, correlation)
				batch := &pgx.Batch{}
				batch.Queue(plainEvent, "batch-"+orders[i].String(), 1, id, order.TypePaymentFailed, payload, correlation.String())
				batch.Queue(`INSERT INTO watermill_order_events_poison (uuid, payload, metadata, transaction_id)
					VALUES ($1, $2, $3, pg_current_xact_id())`, id.String(), payload, md)
				return db.Pool.SendBatch(ctx, batch).Close()
			}
			failPayment := func(o *order.Order) error {
				return o.FailPayment(order.PaymentFailed{GatewayOrderID: o.Payment().GatewayOrderID, Code: "BAD_REQUEST_ERROR", Reason: "card declined"})
			}
			viaRepo := func(i int) error { return repo.Update(ctx, orders[i], failPayment) }
			viaLoading := func(i int) error { return loading.Update(ctx, others[i], failPayment) }
			b.ResetTimer()
			rates := interleaved(b, workers, plain, plainBatch, viaLoading, viaRepo)
			b.StopTimer()
			txRate, batchRate, loadingRate, repoRate := rates[0], rates[1], rates[2], rates[3]
			b.ReportMetric(txRate, "plain-tx-events/s")
			b.ReportMetric(batchRate, "plain-batch-events/s")
			b.ReportMetric(repoRate, "repo-events/s")
			b.ReportMetric(repoRate/batchRate, "ratio")
			b.ReportMetric(repoRate/txRate, "ratio-vs-tx")
			b.ReportMetric(loadingRate/batchRate, "ratio-loading")
		})
	}
}

// interleaved does b.N operations of each op over workers goroutines and returns each op's
// operations per second. The ops take turns, a tenth of their operations at a time, so that what
// drifts during the run (a checkpoint, autovacuum, the tables growing, the neighbours' load) falls
// on all of them alike.
func interleaved(b *testing.B, workers int, ops ...func(i int) error) []float64 {
	const rounds = 10
	spent := make([]time.Duration, len(ops))
	for r := range rounds {
		from, to := b.N*r/rounds, b.N*(r+1)/rounds
		for k, op := range ops {
			start := time.Now()
			run(b, workers, from, to, op)
			spent[k] += time.Since(start)
		}
	}
	rates := make([]float64, len(ops))
	for k := range ops {
		rates[k] = float64(b.N) / spent[k].Seconds()
	}
	return rates
}

// run does the operations from up to to over workers goroutines.
func run(b *testing.B, workers, from, to int, op func(i int) error) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= to {
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
}
