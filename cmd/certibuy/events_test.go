package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cbnats "github.com/certibuy/orders/adapters/nats"
	"github.com/certibuy/orders/adapters/nats/natstest"
	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/domain/es"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
)

// streamHoldsTheStore fails unless the stream holds each of the store's events exactly once.
func streamHoldsTheStore(t *testing.T, tg natstest.Target, pool *pgxpool.Pool) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT event_id::text FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	rows.Close()
	seen := map[string]int{}
	for _, m := range tg.Messages(t) {
		id := m.Header.Get(cbnats.HeaderEventID)
		seen[id]++
		if !ids[id] {
			t.Errorf("the stream holds event %s, which the store does not", id)
		}
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s is in the stream %d times", id, seen[id])
		}
	}
}

func storeCount(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var feedBehind = regexp.MustCompile(`(?m)^certibuy_feed_events_behind\{feed="[^"]+"\} ([0-9]+)$`)

func TestWhileNATSIsAwayTheServiceTakesOrdersNotifiesAndTheStreamCatchesUp(t *testing.T) {
	t.Parallel()
	tg := natstest.New(t)
	proxy := natstest.NewProxy(t)
	svc := startService(t, map[string]string{"NATS_URL": proxy.URL(), "NATS_STREAM": tg.Stream, "NATS_SUBJECT_PREFIX": tg.Prefix,
		"LOG_LEVEL": "info"})
	proxy.Cut()

	const orders = 3
	admin := es.WithCausation(context.Background(), es.Causation{Actor: es.Admin("events-test")})
	for range orders {
		ctx, cancel := context.WithTimeout(admin, 20*time.Second)
		err := walkOrder(ctx, svc.deps, razorpay.Simulator{})
		cancel()
		if err != nil {
			t.Fatalf("an order while NATS is away: %v", err)
		}
	}
	// Each paid order's five notifying events send an e-mail and an SMS.
	waitFor(t, 60*time.Second, func() bool {
		return storeCount(t, svc.deps.Pool, `SELECT count(*) FROM events WHERE type = 'notification.sent.v1'`) == 2*5*orders
	}, "the notifications were not all sent while NATS was away")
	m := feedBehind.FindStringSubmatch(svc.scrape(t))
	if m == nil {
		t.Fatal("/metrics has no certibuy_feed_events_behind")
	}
	if behind, _ := strconv.Atoi(m[1]); behind == 0 {
		t.Error("the feed shows no events behind while NATS is away")
	}
	if n := tg.Count(t); n != 0 {
		t.Fatalf("the stream holds %d events while NATS is away", n)
	}

	proxy.Restore()
	waitFor(t, 90*time.Second, func() bool {
		return tg.Count(t) == storeCount(t, svc.deps.Pool, `SELECT count(*) FROM events`)
	}, "the stream did not catch up with the store after NATS came back")
	streamHoldsTheStore(t, tg, svc.deps.Pool)
	waitFor(t, 30*time.Second, func() bool {
		m := feedBehind.FindStringSubmatch(svc.scrape(t))
		return m != nil && m[1] == "0"
	}, "the feed's lag did not come back to 0")
	assertNoSecretsLogged(t, svc.logs.String())
}

// TestKillingTheForwardingProcessLosesAndDoublesNothing runs the forwarder as a `certibuy worker`
// process, kills it (SIGKILL) at a random point while it forwards 20,000 events, and starts another:
// the stream must then hold each event of the store exactly once.
func TestKillingTheForwardingProcessLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	tg := natstest.New(t)
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Connect(context.Background(), url, postgres.PoolOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Events of a kind of stream the routers and projections leave alone: only the forwarder works.
	const events = 20000
	if _, err := pool.Exec(context.Background(), `INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, stream_hash,
		correlation_id, actor, occurred_at)
		SELECT 'crashtest-' || (i / 10), i % 10 + 1, gen_random_uuid(), 'crashtest.happened.v1', 1, jsonb_build_object('n', i), 0,
		       'c' || i, 'system', now()
		FROM generate_series(0, $1 - 1) AS i`, events); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + url, "METRICS_ADDR=", "LOG_FORMAT=json", "LOG_LEVEL=warn",
		"MAIL_DIR=" + t.TempDir(), "NATS_URL=" + tg.URL, "NATS_STREAM=" + tg.Stream, "NATS_SUBJECT_PREFIX=" + tg.Prefix}
	start := func() (*exec.Cmd, *pgtest.LogBuffer) {
		cmd := exec.Command(bin, "worker")
		cmd.Env = env
		logs := &pgtest.LogBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, logs
	}
	first, firstLogs := start()
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = first.Process.Kill()
			_ = first.Wait()
		}
	})
	seed := uint64(time.Now().UnixNano())
	killAt := 500 + rand.New(rand.NewPCG(seed, 17)).IntN(events-2000)
	waitFor(t, 60*time.Second, func() bool { return tg.Count(t) >= killAt }, "the first worker forwarded nothing:\n"+firstLogs.String())
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	killed = true
	t.Logf("seed %d: killed the forwarding worker after %d events; the stream held %d", seed, killAt, tg.Count(t))

	second, secondLogs := start()
	t.Cleanup(func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	})
	waitFor(t, 90*time.Second, func() bool { return tg.Count(t) >= events },
		fmt.Sprintf("the second worker did not forward the rest:\n%s", secondLogs.String()))
	streamHoldsTheStore(t, tg, pool)
}

func TestTailPrintsTheEventsOtherServicesSee(t *testing.T) {
	t.Parallel()
	tg := natstest.New(t)
	env := map[string]string{"NATS_URL": tg.URL, "NATS_STREAM": tg.Stream, "NATS_SUBJECT_PREFIX": tg.Prefix}
	svc := startService(t, env)
	if res := svc.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil); res.status != 201 {
		t.Fatalf("checkout: %d %s", res.status, res.body)
	}
	waitFor(t, 30*time.Second, func() bool { return tg.Count(t) >= 2 }, "the order's events did not reach the stream")
	out, errOut, err := runCLISplit(t, env, "tail", "--durable", "test", "--limit", "2", "--subject", tg.Prefix+".order.>")
	if err != nil {
		t.Fatalf("tail: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail printed %d lines, want 2:\n%s", len(lines), out)
	}
	for i, want := range []string{tg.Prefix + ".order.order_placed", tg.Prefix + ".order.order_payment_requested"} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], " IST ") {
			t.Errorf("line %d %q: want %s and the time in IST", i, lines[i], want)
		}
	}
	if strings.Contains(out, "@") || strings.Contains(out, "Road") {
		t.Errorf("tail shows personal data:\n%s", out)
	}
	doctorEnv := map[string]string{"DATABASE_URL": svc.cfg.DatabaseURL}
	for k, v := range env {
		doctorEnv[k] = v
	}
	waitFor(t, 30*time.Second, func() bool {
		report, _, _ := runCLISplit(t, doctorEnv, "doctor")
		return regexp.MustCompile(`(?m)^ok +events feed +0 events behind`).MatchString(report) &&
			regexp.MustCompile(`(?m)^ok +nats +.*stream `+tg.Stream+`: 2 events`).MatchString(report)
	}, "doctor does not show the feed caught up and the stream")
	// The durable consumer remembers: the next run has nothing older to show.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var more pgtest.LogBuffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &more, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
	if err := m.Run(ctx, []string{"tail", "--durable", "test", "--subject", tg.Prefix + ".order.>"}); err != nil {
		t.Fatal(err)
	}
	if more.String() != "" {
		t.Errorf("the durable consumer showed again:\n%s", more.String())
	}
}

// Two worker processes on one database both start a forwarder; one forwards at a time, and the
// stream holds each event once, also after the one forwarding stops midway.
func TestTwoWorkersForwardingAtOnceDoubleNothing(t *testing.T) {
	t.Parallel()
	tg := natstest.New(t)
	env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "NATS_URL": tg.URL, "NATS_STREAM": tg.Stream,
		"NATS_SUBJECT_PREFIX": tg.Prefix, "LOG_LEVEL": "info", "MAIL_DIR": t.TempDir()}
	second := startServiceAs(t, env, asWorker)
	// The first is stopped midway, so it is started here rather than stopped by a cleanup.
	cfg, err := LoadConfigLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MetricsAddr, cfg.PollInterval = "", 10*time.Millisecond
	first, err := StartService(context.Background(), cfg, cfg.NewLogger(io.Discard), false)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = first.Stop(context.Background())
		}
	})
	admin := es.WithCausation(context.Background(), es.Causation{Actor: es.Admin("events-test")})
	walk := func(n int) {
		t.Helper()
		for range n {
			if err := walkOrder(admin, second.deps, razorpay.Simulator{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	walk(3)
	waitFor(t, 60*time.Second, func() bool {
		return tg.Count(t) > 0
	}, "nothing reached the stream")
	// Whichever holds the feed, stopping the first makes the second forward (again or still).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopped = true
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	walk(3)
	waitFor(t, 60*time.Second, func() bool {
		return storeCount(t, second.deps.Pool, `SELECT count(*) FROM events WHERE type = 'notification.sent.v1'`) == 2*5*6
	}, "the notifications were not all sent")
	waitFor(t, 90*time.Second, func() bool {
		return tg.Count(t) == storeCount(t, second.deps.Pool, `SELECT count(*) FROM events`)
	}, "the stream did not catch up with the store")
	streamHoldsTheStore(t, tg, second.deps.Pool)
}

// tail --durable --limit acks what it printed and leaves nothing else held: a run right after the
// last goes on where it stopped, without waiting for JetStream's AckWait.
func TestTailWithALimitGoesOnAtOnceWhereTheLastRunStopped(t *testing.T) {
	t.Parallel()
	tg := natstest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := tg.JS.CreateStream(ctx, jetstream.StreamConfig{Name: tg.Stream, Subjects: []string{tg.Prefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := tg.JS.Publish(ctx, fmt.Sprintf("%s.order.e%d", tg.Prefix, i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"NATS_URL": tg.URL, "NATS_STREAM": tg.Stream, "NATS_SUBJECT_PREFIX": tg.Prefix}
	var seen []string
	for run, limit := range []string{"2", "1", "2"} {
		// Well within AckWait (30 s): an event held unacked by the last run would make this one wait.
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		var out pgtest.LogBuffer
		m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}
		err := m.Run(rctx, []string{"tail", "--durable", "limited", "--limit", limit})
		rcancel()
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l != "" {
				seen = append(seen, strings.Fields(l)[0])
			}
		}
	}
	want := []string{tg.Prefix + ".order.e0", tg.Prefix + ".order.e1", tg.Prefix + ".order.e2", tg.Prefix + ".order.e3", tg.Prefix + ".order.e4"}
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Fatalf("three runs right after one another printed %v, want %v", seen, want)
	}
}
