package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	cbnats "github.com/certibuy/orders/adapters/nats"
	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/migrations"
)

// benchForward measures the forwarder: n shipping events stored beforehand go through the feed
// (read in commit order, Watermill's NATS publisher, checkpoint per batch) to a stream of their own.
// The baselines are JetStream's own publish rates for the same messages, measured in the same run:
// one at a time (each waits for its ack, as the forwarder's publisher does), and asynchronously
// with 256 in flight (what a client that need not keep order could do).
func benchForward(ctx context.Context, w io.Writer, cfg Config, n int) error {
	if cfg.NATS.URL == "" {
		fmt.Fprintln(w, "forward   skipped: NATS_URL is not set")
		return nil
	}
	url, drop, err := scratchDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer drop()
	pool, err := postgres.Connect(ctx, url, postgres.PoolOptions{MaxConns: 4})
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool, migrations.FS); err != nil {
		return err
	}
	// Order streams of ten events each, payloads of the size of a real OrderShipped.
	if _, err := pool.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, stream_hash, correlation_id, actor, occurred_at)
		SELECT 'order-' || md5((i / 10)::text)::uuid, i % 10 + 1, gen_random_uuid(), 'order.shipped.v2', 1,
		       jsonb_build_object('carrier', 'DTDC', 'tracking_id', 'D' || i, 'tracking_url', 'https://www.dtdc.in/tracking.asp?strCnno=D' || i),
		       0, gen_random_uuid()::text, 'admin:bench', now()
		FROM generate_series(0, $1 - 1) AS i`, n); err != nil {
		return fmt.Errorf("bench events: %w", err)
	}
	_, _ = pool.Exec(ctx, "VACUUM ANALYZE events")

	nc, err := cbnats.Connect(cfg.NATS.URL, "certibuy-bench")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	target := func(phase string) cbnats.Config {
		return cbnats.Config{URL: cfg.NATS.URL, Stream: "BENCH_" + strings.ToUpper(id) + "_" + phase, SubjectPrefix: "bench_" + id + "_" + phase}
	}
	var streams []string
	defer func() {
		for _, s := range streams {
			_ = js.DeleteStream(context.WithoutCancel(ctx), s)
		}
	}()
	setup := func(phase string) (cbnats.Config, error) {
		c := target(phase)
		streams = append(streams, c.Stream)
		_, err := js.CreateOrUpdateStream(ctx, cbnats.StreamConfig(c))
		return c, err
	}

	// The messages the forwarder would send, built once: the baselines pay for no reading or building.
	store := postgres.NewEventStore(&postgres.DB{Pool: pool})
	var recs []postgres.RecordedEvent
	for len(recs) < n {
		// A read stops at the oldest transaction running on the server (another database's too).
		var after postgres.Checkpoint
		if len(recs) > 0 {
			after = recs[len(recs)-1].Checkpoint()
		}
		more, err := store.ReadAll(ctx, after, n-len(recs))
		if err != nil {
			return err
		}
		recs = append(recs, more...)
		if len(more) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	syncCfg := target("build") // names the subjects; the baselines publish under their own prefixes
	fw := cbnats.NewForwarder(syncCfg)
	type prepared struct {
		subject, id string
		header      nats.Header
		data        []byte
	}
	msgs := make([]prepared, len(recs))
	for i, e := range recs {
		subject, m, err := fw.Message(e)
		if err != nil {
			return err
		}
		h := nats.Header{}
		for k, v := range m.Metadata {
			h.Set(k, v)
		}
		msgs[i] = prepared{subject, m.UUID, h, m.Payload}
	}
	// One at a time, before and after the forwarder: the machine's load moves between phases.
	oneAtATime := func(phase string) (float64, error) {
		c, err := setup(phase)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		for _, m := range msgs {
			subject := strings.Replace(m.subject, syncCfg.SubjectPrefix, c.SubjectPrefix, 1)
			if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: m.header, Data: m.data}, jetstream.WithMsgID(m.id)); err != nil {
				return 0, fmt.Errorf("sync publish: %w", err)
			}
		}
		return float64(len(msgs)) / time.Since(start).Seconds(), nil
	}
	syncBefore, err := oneAtATime("sync1")
	if err != nil {
		return err
	}

	asyncCfg, err := setup("async")
	if err != nil {
		return err
	}
	start := time.Now()
	for _, m := range msgs {
		mm := &nats.Msg{Subject: strings.Replace(m.subject, syncCfg.SubjectPrefix, asyncCfg.SubjectPrefix, 1), Header: m.header, Data: m.data}
		if _, err := js.PublishMsgAsync(mm, jetstream.WithMsgID(m.id)); err != nil {
			return fmt.Errorf("async publish: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("async publishes not acknowledged within 5 minutes")
	}
	asyncRate := float64(len(msgs)) / time.Since(start).Seconds()

	feedCfg, err := setup("feed")
	if err != nil {
		return err
	}
	forwarder := cbnats.NewForwarder(feedCfg)
	defer forwarder.Close()
	feed := postgres.NewFeed(&postgres.DB{Pool: pool}, postgres.FeedName(feedCfg.Stream), forwarder, slog.New(slog.DiscardHandler))
	start = time.Now()
	sent := 0
	for sent < n {
		// A catch-up stops at the oldest transaction running on the server (another database's too).
		k, err := feed.CatchUp(ctx)
		if err != nil {
			return err
		}
		sent += k
		if k == 0 {
			time.Sleep(time.Millisecond)
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("the feed forwarded %d of %d events in 10 minutes", sent, n)
		}
	}
	feedRate := float64(sent) / time.Since(start).Seconds()
	syncAfter, err := oneAtATime("sync2")
	if err != nil {
		return err
	}
	syncRate := (syncBefore + syncAfter) / 2
	fmt.Fprintf(w, "baseline  JetStream publish of the same %d messages, one at a time (each waits for its ack): %8.0f msgs/s  (%.0f before the forwarder, %.0f after)\n",
		n, syncRate, syncBefore, syncAfter)
	fmt.Fprintf(w, "baseline  JetStream publish, async with 256 in flight:                                 %8.0f msgs/s\n", asyncRate)
	fmt.Fprintf(w, "forward   event store → JetStream (commit-order reads, Watermill publisher, checkpoint per 500): %8.0f events/s  (%.2f× one at a time, %.2f× async)\n",
		feedRate, feedRate/syncRate, feedRate/asyncRate)
	return nil
}

// benchScaleOut measures the notifier spread over processes: for each count in workers, a fresh
// database, this process serving HTTP only (serve --no-events) and that many `certibuy worker`
// processes of this binary taking the events; then n confirmed orders are shipped and the
// shipping e-mails through the 20 ms SMTP server counted, as the notify throughput phase does.
func benchScaleOut(ctx context.Context, w io.Writer, cfg Config, smtpSrv *benchSMTP, workers []int, n int) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find this binary: %w", err)
	}
	var results []string
	for _, k := range workers {
		rate, err := scaleOutRun(ctx, w, cfg, bin, smtpSrv, k, n)
		if err != nil {
			return err
		}
		results = append(results, fmt.Sprintf("%d: %.0f", k, rate))
		fmt.Fprintf(w, "scale     serve --no-events + %d worker process(es), %d orders shipped → e-mails through the 20 ms server: %8.0f e-mails/s\n", k, n, rate)
	}
	fmt.Fprintf(w, "scale     e-mails/s by worker processes: %s\n", strings.Join(results, ", "))
	return nil
}

func scaleOutRun(ctx context.Context, w io.Writer, cfg Config, bin string, smtpSrv *benchSMTP, k, n int) (float64, error) {
	url, drop, err := scratchDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return 0, err
	}
	defer drop()
	c := cfg
	c.DatabaseURL, c.NoEvents, c.NATS.URL = url, true, ""
	svc, err := StartService(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if err != nil {
		return 0, err
	}
	defer svc.Stop(context.WithoutCancel(ctx))
	env := workerEnv(url, smtpSrv.URL())
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
			_ = p.Wait()
		}
	}()
	for range k {
		p := exec.Command(bin, "worker")
		p.Env = env
		p.Stdout, p.Stderr = io.Discard, os.Stderr // errors only (LOG_LEVEL=error)
		if err := p.Start(); err != nil {
			return 0, fmt.Errorf("start worker: %w", err)
		}
		procs = append(procs, p)
	}
	return shippedRate(ctx, w, svc, smtpSrv, n, false, &statementStats{})
}

// workerEnv is the environment of a bench worker: this one's settings, on the bench's database and
// SMTP server, logging errors only, forwarding nothing.
func workerEnv(url, smtpURL string) []string {
	override := map[string]string{"DATABASE_URL": url, "SMTP_URL": smtpURL, "SMS_PROVIDER": "log", "SMS_FALLBACK": "none",
		"METRICS_ADDR": "", "LOG_LEVEL": "error", "LOG_FORMAT": "json", "NATS_URL": "", "PAYMENT_GATEWAY": "simulator",
		"MAIL_DIR": os.TempDir()}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := override[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range override {
		env = append(env, k+"="+v)
	}
	return env
}

// parseWorkers reads --workers: process counts such as 1,2,3.
func parseWorkers(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 || k > 16 {
			return nil, usageError(fmt.Sprintf("--workers %q: want counts from 1 to 16 separated by commas, such as 1,2,3", s))
		}
		out = append(out, k)
	}
	return out, nil
}
