package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/domain/es"
)

// benchCheckoutBody is a typical two-line checkout.
const benchCheckoutBody = `{"customer": {"name": "Asha Rao", "email": "asha@example.in", "phone": "+91 98765 43210"},
 "items": [{"sku": "TEA-1", "name": "Assam tea 500g", "quantity": 2, "unit_price_paise": 34950},
           {"sku": "MUG-2", "name": "Steel tumbler", "quantity": 1, "unit_price_paise": 60000}],
 "shipping_address": {"line1": "12 MG Road", "city": "Bengaluru", "state": "Karnataka", "pincode": "560001"}}`

// runBench measures the service on a scratch database it creates and drops, and prints each figure
// with the baseline it is compared with, measured in the same run.
func (m *Main) runBench(ctx context.Context, args []string) error {
	fs := m.flagSet("bench")
	dur := fs.Duration("duration", 10*time.Second, "how long each measurement runs")
	clients := fs.Int("clients", 16, "concurrent clients")
	latencyEvents := fs.Int("latency-events", 1000, "order events notified at a steady 100/s for the latency figures (0 skips)")
	burst := fs.Int("burst", 2000, "e-mails sent through a 20 ms SMTP server for the throughput figure (0 skips)")
	runs := fs.Int("runs", 1, "times the throughput phases run; with more than one, the median is reported")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	forward := fs.Int("forward", 0, "events forwarded to JetStream (NATS_URL) for the forwarder figure, against JetStream's own publish rates (0 skips)")
	workersFlag := fs.String("workers", "", "worker process `counts` for the scale-out figures, such as 1,2,3: each ships --burst orders with serve --no-events and that many `certibuy worker` processes (empty skips)")
	idle := fs.Bool("idle", false, "first measure the CPU the service and its database sessions use over 20 s with nothing to do")
	statements := fs.Int("statements", 0, "print the N statements of each throughput phase that took PostgreSQL most time, per order (needs pg_stat_statements preloaded)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	if *runs < 1 {
		return usageError(fmt.Sprintf("--runs must be at least 1, got %d", *runs))
	}
	if *clients < 1 || *dur <= 0 || *latencyEvents < 0 || *burst < 0 || *statements < 0 || *forward < 0 {
		return usageError("--clients must be at least 1, --duration positive, and --latency-events, --burst, --forward and --statements at least 0")
	}
	workers, err := parseWorkers(*workersFlag)
	if err != nil {
		return err
	}
	if len(workers) > 0 && *burst == 0 {
		return usageError("--workers ships --burst orders: give --burst more than 0")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	url, drop, err := scratchDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer drop()
	cfg.DatabaseURL, cfg.HTTPAddr, cfg.PaymentGateway = url, "127.0.0.1:0", "simulator"
	cfg.MetricsAddr = "" // the bench's service must not take a running service's metrics port
	cfg.CheckoutLimit.PerMinute, cfg.LoginLimit.PerMinute = 0, 0
	smtpSrv, err := startBenchSMTP()
	if err != nil {
		return err
	}
	defer smtpSrv.Close()
	cfg.Notify.SMTPURL, cfg.Notify.SMSProvider, cfg.Notify.SMSFallback = smtpSrv.URL(), "log", "none"
	svc, err := StartService(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if err != nil {
		return err
	}
	defer svc.Stop(context.WithoutCancel(ctx))

	fmt.Fprintf(m.Stdout, "certibuy bench: %d clients, %s per measurement, scratch database\n", *clients, *dur)
	if *idle {
		if err := benchIdle(ctx, m.Stdout, svc, 20*time.Second); err != nil {
			return err
		}
	}
	appendRate, err := benchPlainAppend(ctx, svc.deps.DB, *clients, *dur)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "baseline  plain pgx batch append (event + outbox row), %d goroutines: %8.0f events/s\n", *clients, appendRate)
	checkoutRate, err := benchCheckout(ctx, "http://"+svc.Addr(), *clients, *dur)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "checkout  POST /api/v1/checkout over loopback, simulator, %d clients: %8.0f requests/s  (%.2f of the append baseline)\n",
		*clients, checkoutRate, checkoutRate/appendRate)
	if *latencyEvents > 0 {
		if err := benchNotifyLatency(ctx, m.Stdout, svc, smtpSrv, *latencyEvents); err != nil {
			return err
		}
	}
	if *burst > 0 {
		if err := benchNotifyThroughput(ctx, m.Stdout, svc, smtpSrv, *burst, *runs, &statementStats{top: *statements}); err != nil {
			return err
		}
	}
	if *forward > 0 {
		if err := benchForward(ctx, m.Stdout, cfg, *forward); err != nil {
			return err
		}
	}
	if len(workers) > 0 {
		if err := benchScaleOut(ctx, m.Stdout, cfg, smtpSrv, workers, *burst); err != nil {
			return err
		}
	}
	return nil
}

// scratchDatabase creates an empty database beside the configured one and returns its URL and a
// function that drops it.
func scratchDatabase(ctx context.Context, base string) (string, func(), error) {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return "", nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "certibuy_bench_" + hex.EncodeToString(b)
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to create the bench database: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create bench database: %w", err)
	}
	conn.Close(ctx)
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	if cfg.Password != "" {
		url = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, name)
	}
	return url, func() {
		c, err := pgx.ConnectConfig(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}, nil
}

// loop runs op from n goroutines for d and returns operations per second.
func loop(ctx context.Context, n int, d time.Duration, op func(ctx context.Context) error) (float64, error) {
	// Operations under way when time is up finish and count, so that every goroutine does at least
	// one and a machine slower than d per operation still gives a rate; none is started after.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var done atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { first = err; cancel() })
					}
					return
				}
				done.Add(1)
				if time.Now().After(end) {
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), first
}

// parallel runs fn for 0..n-1 from workers goroutines and returns the first error; after one, the
// workers stop taking new indexes.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var failed atomic.Bool
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; failed.Store(true) })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// benchPlainAppend is the foundation's baseline: a plain pgx batch writing one event row and an
// outbox row (into a table of watermill-sql's shape, the poison topic's), per transaction, as the
// event store wrote them before the events table became the outbox.
func benchPlainAppend(ctx context.Context, db *postgres.DB, n int, d time.Duration) (float64, error) {
	payload := []byte(`{"gateway_order_id":"order_X","code":"BAD_REQUEST_ERROR","reason":"declined"}`)
	md := []byte(`{"event_id":"00000000-0000-0000-0000-000000000000","correlation_id":"c","actor":"system","occurred_at":"2026-01-01T00:00:00Z","schema_version":1}`)
	return loop(ctx, n, d, func(ctx context.Context) error {
		id := es.NewID()
		batch := &pgx.Batch{}
		batch.Queue(`INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, stream_hash, correlation_id, actor, occurred_at)
			VALUES ($1, 1, $2, 'bench.plain.v1', 1, $3, 0, 'c', 'system', '2026-01-01T00:00:00Z')`, "bench-"+id.String(), id, payload)
		batch.Queue(`INSERT INTO watermill_order_events_poison (uuid, payload, metadata, transaction_id)
			VALUES ($1, $2, $3, pg_current_xact_id())`, id.String(), payload, md)
		return db.Pool.SendBatch(ctx, batch).Close()
	})
}

// benchCheckout posts checkouts over loopback HTTP.
func benchCheckout(ctx context.Context, base string, n int, d time.Duration) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 30 * time.Second}
	return loop(ctx, n, d, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/checkout", bytes.NewReader([]byte(benchCheckoutBody)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var out struct {
			OrderID string `json:"order_id"`
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated {
			return fmt.Errorf("checkout answered %d (%v)", res.StatusCode, err)
		}
		return nil
	})
}
