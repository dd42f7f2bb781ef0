package postgres_test

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// throughCutProxy opens a pool on a fresh database through a proxy the test can cut, and a logger
// writing JSON lines to logs.
func throughCutProxy(t *testing.T) (*pgtest.Proxy, *pgxpool.Pool, *pgtest.LogBuffer, watermill.LoggerAdapter) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	proxy := pgtest.NewProxy(t, db, false)
	pool, err := pgxpool.New(context.Background(), proxy.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs := &pgtest.LogBuffer{}
	return proxy, pool, logs, watermill.NewSlogLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// While the database is down the wake listener says so once, then only now and then, and says when
// it listens again: not one ERROR a second for the whole outage.
func TestTheWakeListenerLogsAnOutageOnceAndItsEnd(t *testing.T) {
	t.Parallel()
	proxy, pool, logs, logger := throughCutProxy(t)
	// Retrying every 50 ms, with a reminder a second: a minute's outage at the real pace, in 2.5 s.
	w := postgres.NewWakerEvery(pool, logger, 50*time.Millisecond, time.Second)
	defer w.Close()
	events, cancel := w.Events()
	defer cancel()
	select {
	case <-events: // it listens: its first LISTEN wakes every reader
	case <-time.After(10 * time.Second):
		t.Fatal("the waker never listened")
	}

	proxy.Cut()
	time.Sleep(2500 * time.Millisecond)
	out := logs.String()
	if n := strings.Count(out, "wake listener stopped"); n != 1 || !strings.Contains(grepLog(out, "wake listener stopped"), `"level":"ERROR"`) {
		t.Fatalf("the outage's start is logged %d times, want 1 at ERROR:\n%s", n, out)
	}
	if n := strings.Count(out, "wake listener still down"); n < 1 || n > 3 {
		t.Fatalf("%d reminders in 2.5 s at one a second:\n%s", n, out)
	}
	if strings.Contains(out, "reconnected") {
		t.Fatalf("reconnected while down:\n%s", out)
	}

	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "wake listener reconnected") {
		if time.Now().After(deadline) {
			t.Fatalf("no line says the listener is back:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	line := grepLog(logs.String(), "wake listener reconnected")
	if !strings.Contains(line, `"level":"INFO"`) || !regexp.MustCompile(`"down_for":"[2-9][.0-9]*s"`).MatchString(line) {
		t.Fatalf("the reconnection is not an INFO saying how long it was down: %s", line)
	}
}

func grepLog(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// While the database is down a consumer group's reads fail every second; the log says so once, not
// once a second for each group, and says when the group reads again.
func TestAGroupLogsItsFailingReadsOnceAndTheirEnd(t *testing.T) {
	t.Parallel()
	proxy, pool, logs, logger := throughCutProxy(t)
	sub, err := postgres.NewSubscriber(pool, "outage_group", postgres.SubscriberConfig{
		Wait: postgres.WaitConfig{SafetyPoll: 50 * time.Millisecond}, AckDeadline: 10 * time.Second, BatchSize: 3}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := sub.Subscribe(ctx, postgres.OrderEventsTopic); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // reading

	proxy.Cut()
	time.Sleep(3500 * time.Millisecond) // three or four failed reads, a second apart
	out := logs.String()
	if n := strings.Count(out, `"msg":"Error querying for message"`); n != 1 {
		t.Fatalf("the failing reads are logged %d times, want once:\n%s", n, out)
	}
	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "Querying for messages again") {
		if time.Now().After(deadline) {
			t.Fatalf("no line says the group reads again:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if line := grepLog(logs.String(), "Querying for messages again"); !strings.Contains(line, `"level":"INFO"`) || !regexp.MustCompile(`"failures":[2-9]`).MatchString(line) {
		t.Fatalf("the end of the failures is not an INFO counting them: %s", line)
	}
}

// While the database is down every projection's steps fail, on a backoff; the log says so once for
// each, then only now and then, and says when it steps again: not an ERROR at every retry.
func TestAProjectionLogsItsFailingStepsOnceAndTheirEnd(t *testing.T) {
	t.Parallel()
	proxy, pool, logs, _ := throughCutProxy(t)
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A reminder a second instead of a minute: failures at 0, 0.2, 0.6, 1.4 and 3 s (the backoff
	// doubles from 200 ms) give one or two reminders in 3.5 s.
	runner := postgres.NewRunner(postgres.NewEventStore(&postgres.DB{Pool: pool}), logger,
		[]postgres.Projection{postgres.OrderSummary{}}, postgres.WithWait(postgres.WaitConfig{SafetyPoll: 50 * time.Millisecond}),
		postgres.WithFailureReminder(time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(300 * time.Millisecond) // stepping

	proxy.Cut()
	time.Sleep(3500 * time.Millisecond)
	out := logs.String()
	if n := strings.Count(out, `"msg":"projection step failed"`); n != 1 || !strings.Contains(grepLog(out, "projection step failed"), `"level":"ERROR"`) {
		t.Fatalf("the failing steps are logged %d times, want once at ERROR:\n%s", n, out)
	}
	reminders := grepLog(out, "projection step still failing")
	if n := strings.Count(out, "projection step still failing"); n < 1 || n > 3 ||
		!regexp.MustCompile(`"failures":[3-9].*"failing_for":"[1-9]s"`).MatchString(reminders) {
		t.Fatalf("%d reminders in 3.5 s at most one a second, each saying how many failed and for how long:\n%s", n, out)
	}
	if strings.Contains(out, "projection steps again") {
		t.Fatalf("stepping again while down:\n%s", out)
	}

	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "projection steps again") {
		if time.Now().After(deadline) {
			t.Fatalf("no line says the projection steps again:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	line := grepLog(logs.String(), "projection steps again")
	if !strings.Contains(line, `"level":"INFO"`) || !strings.Contains(line, `"projection":"order_summary"`) ||
		!regexp.MustCompile(`"failures":([4-9]|[1-9][0-9])`).MatchString(line) || !regexp.MustCompile(`"failed_for":"([3-9]|[1-9][0-9])[.0-9]*s"`).MatchString(line) {
		t.Fatalf("the end of the failures is not an INFO naming the projection and counting them: %s", line)
	}
}
