package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// BenchmarkReplay generates a store of realistic order streams (eight events per order), then
// measures, in the same run, a plain keyset SELECT scan of every event and a rebuild of each order
// projection. It reports events/s for both, their ratio, and the process's peak resident memory during
// the rebuild (reset before it, so generation does not count).
//
//	go test ./adapters/postgres -run '^$' -bench Replay -benchtime 1x -timeout 30m
//	REPLAY_EVENTS=1000000 (the default) sets the store size.
func BenchmarkReplay(b *testing.B) {
	events := 1_000_000
	if v := os.Getenv("REPLAY_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		events = n
	}
	db := pgtest.NewDB(b, 4)
	ctx := context.Background()
	start := time.Now()
	generateOrders(b, db, events/8)
	b.Logf("generated %d events in %s", events, time.Since(start).Round(time.Millisecond))
	store := postgres.NewEventStore(db)
	runner := postgres.NewRunner(store, slog.New(slog.NewTextHandler(io.Discard, nil)), projections())

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		scanRate := plainScan(b, db)
		for _, p := range runner.Projections() {
			runtime.GC()
			resetPeakRSS()
			res, err := runner.Rebuild(ctx, p, nil)
			if err != nil {
				b.Fatal(err)
			}
			rate := float64(res.Events) / res.Duration.Seconds()
			b.ReportMetric(rate, p.Name()+"-events/s")
			b.ReportMetric(rate/scanRate, p.Name()+"-ratio")
			b.ReportMetric(peakRSSMB(), p.Name()+"-peak-MB")
		}
		b.ReportMetric(scanRate, "scan-events/s")
	}
}

// plainScan reads every event with the same keyset pages and columns a replay reads, and nothing else.
func plainScan(b *testing.B, db *postgres.DB) float64 {
	ctx := context.Background()
	start := time.Now()
	var txID, pos int64
	n := 0
	for {
		rows, err := db.Pool.Query(ctx, `SELECT position, tx_id::text::bigint, stream_id, stream_version, event_id, type, schema_version,
			data, correlation_id, causation_id, actor, occurred_at, recorded_at FROM events WHERE (tx_id, position) > ($1::text::xid8, $2) ORDER BY events.tx_id, events.position LIMIT 5000`,
			strconv.FormatInt(txID, 10), pos)
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for rows.Next() {
			var (
				streamID, typ string
				version, sv   int
				id            [16]byte
				data          []byte
				corr, actor   string
				cause         *string
				occurred, at  time.Time
			)
			if err := rows.Scan(&pos, &txID, &streamID, &version, &id, &typ, &sv, &data, &corr, &cause, &actor, &occurred, &at); err != nil {
				b.Fatal(err)
			}
			got++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		n += got
		if got < 5000 {
			break
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// generateOrders writes orders*8 events straight into the store, 12,500 orders per transaction.
func generateOrders(b *testing.B, db *postgres.DB, orders int) {
	const chunk = 12_500
	for done := 0; done < orders; done += chunk {
		n := min(chunk, orders-done)
		_, err := db.Pool.Exec(context.Background(), `
		WITH o AS (
			SELECT gen_random_uuid() AS id, 'CB-' || upper(substr(md5(random()::text), 1, 8)) || i AS num, i
			FROM generate_series($1::int, $1::int + $2::int - 1) i
		)
		INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, correlation_id, actor, occurred_at, topic, stream_hash)
		SELECT 'order-' || o.id, v.n, gen_random_uuid(), v.type, 1, v.data,
			'bench', 'admin:1', now() + make_interval(mins => v.n), 'order_events', o.i % 16
		FROM o CROSS JOIN LATERAL (VALUES
			(1, 'order.placed.v1', jsonb_build_object('order_id', o.id, 'order_number', o.num,
				'customer', jsonb_build_object('name', 'Customer ' || o.i, 'email', 'c' || o.i || '@example.in', 'phone', '+9198' || lpad((o.i % 100000000)::text, 8, '0')),
				'items', jsonb_build_array(jsonb_build_object('sku', 'TEA-1', 'name', 'Assam tea', 'quantity', 2, 'unit_price_paise', 34950)),
				'total_paise', 69900, 'currency', 'INR',
				'shipping_address', jsonb_build_object('line1', '12 MG Road', 'city', 'Bengaluru', 'state', 'Karnataka', 'pincode', '560001'))),
			(2, 'order.payment_requested.v1', jsonb_build_object('gateway', 'razorpay', 'gateway_order_id', 'order_' || o.i, 'amount_paise', 69900)),
			(3, 'order.payment_failed.v1', jsonb_build_object('gateway_order_id', 'order_' || o.i, 'code', 'BAD_REQUEST_ERROR', 'reason', 'declined')),
			(4, 'order.payment_succeeded.v1', jsonb_build_object('gateway', 'razorpay', 'gateway_order_id', 'order_' || o.i, 'payment_id', 'pay_' || o.i, 'amount_paise', 69900, 'method', 'upi')),
			(5, 'order.confirmed.v1', '{}'::jsonb),
			(6, 'order.shipped.v2', jsonb_build_object('carrier', 'Delhivery', 'tracking_id', 'DLV' || o.i)),
			(7, 'order.out_for_delivery.v1', '{}'::jsonb),
			(8, 'order.delivered.v1', '{}'::jsonb)
		) AS v(n, type, data)`, done, n)
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(context.Background(), `ANALYZE events`); err != nil {
		b.Fatal(err)
	}
}

// resetPeakRSS clears the kernel's high-water mark of this process's resident memory.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB reads the resident-memory high-water mark (VmHWM) in MB.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}
