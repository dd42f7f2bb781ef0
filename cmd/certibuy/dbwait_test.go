package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// startWaiting runs StartService as serve does, in the background, on the database behind proxy.
func startWaiting(ctx context.Context, t *testing.T, dbURL string) (*pgtest.LogBuffer, <-chan startResult, Config) {
	t.Helper()
	cfg := testConfig(t, map[string]string{"DATABASE_URL": dbURL}, asServe)
	logs := &pgtest.LogBuffer{}
	done := make(chan startResult, 1)
	go func() {
		svc, err := StartService(ctx, cfg, cfg.NewLogger(logs), true)
		done <- startResult{svc, err}
	}()
	return logs, done, cfg
}

type startResult struct {
	svc *Service
	err error
}

// A service started before its database waits for it, saying so, and starts when it comes.
func TestServeWaitsForTheDatabaseAtStartUp(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	proxy := pgtest.NewProxy(t, db, true) // PostgreSQL is not up yet
	// trust authentication ignores the password; it is here to be kept out of the log.
	url := strings.Replace(proxy.URL(db), "postgres@", "postgres:s3cret-pw@", 1)
	logs, done, _ := startWaiting(context.Background(), t, url)

	waitFor(t, 10*time.Second, func() bool { return strings.Count(logs.String(), "waiting for the database") >= 2 },
		"no second 'waiting for the database' line")
	select {
	case r := <-done:
		t.Fatalf("StartService returned while the database was down: %v", r.err)
	default:
	}
	line := grepLines(logs.String(), "waiting for the database")
	if !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, "connection refused") || !strings.Contains(line, proxy.Addr()) {
		t.Fatalf("the waiting line does not say what it waits for and why:\n%s", line)
	}
	if strings.Contains(logs.String(), "s3cret-pw") {
		t.Fatalf("the log holds the password:\n%s", logs.String())
	}

	proxy.Restore()
	s := startedOnceBack(t, done, logs)
	if res := s.do(t, "GET", "/readyz", nil, nil); res.status != http.StatusOK {
		t.Fatalf("/readyz once started: %d %s", res.status, res.body)
	}
	if !strings.Contains(logs.String(), "database reached") {
		t.Fatalf("no 'database reached' line:\n%s", logs.String())
	}
}

// While serve waits for its database, its HTTP port answers: the process is alive (/healthz 200)
// and not ready (/readyz 503), and every other request is the 503 database_unavailable, with
// Retry-After, that a client retries. Once the database is reached the API takes over the same port.
func TestServeAnswersHTTPWhileItWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	proxy := pgtest.NewProxy(t, db, true) // PostgreSQL is not up yet
	logs, done, cfg := startWaiting(context.Background(), t, proxy.URL(db))
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "waiting for the database") },
		"no 'waiting for the database' line")
	waiting := &testService{base: "http://" + cfg.HTTPAddr, logs: logs}

	if res := waiting.do(t, "GET", "/healthz", nil, nil); res.status != http.StatusOK || string(res.body) != `{"status":"ok"}`+"\n" {
		t.Fatalf("/healthz while waiting: %d %s", res.status, res.body)
	}
	res := waiting.do(t, "GET", "/readyz", nil, nil)
	if res.status != http.StatusServiceUnavailable || string(res.body) != `{"reason":"database_unreachable","status":"unavailable"}`+"\n" {
		t.Fatalf("/readyz while waiting: %d %s", res.status, res.body)
	}
	res = waiting.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), map[string]string{"X-Request-ID": "req-waiting-1"})
	if e, _ := res.json(t)["error"].(map[string]any); res.status != http.StatusServiceUnavailable || e["code"] != "database_unavailable" ||
		res.header.Get("Retry-After") != "5" || res.header.Get("X-Request-ID") != "req-waiting-1" {
		t.Fatalf("checkout while waiting: %d %v %s", res.status, res.header, res.body)
	}
	res = waiting.do(t, "GET", "/admin/orders", nil, nil)
	if res.status != http.StatusServiceUnavailable || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(res.body), "briefly unavailable") || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("console page while waiting: %d %v %s", res.status, res.header, res.body)
	}
	select {
	case r := <-done:
		t.Fatalf("StartService returned while the database was down: %v", r.err)
	default:
	}

	proxy.Restore()
	s := startedOnceBack(t, done, logs)
	if s.base != waiting.base {
		t.Fatalf("the API listens on %s, not on the port that answered while waiting (%s)", s.base, waiting.base)
	}
	if res := s.do(t, "GET", "/readyz", nil, nil); res.status != http.StatusOK {
		t.Fatalf("/readyz once started: %d %s", res.status, res.body)
	}
	if res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil); res.status != http.StatusCreated {
		t.Fatalf("checkout once started: %d %s", res.status, res.body)
	}
}

// Waiting ends at SIGTERM (ctx), promptly and without an error to report.
func TestServeStopsWaitingForTheDatabaseWhenStopped(t *testing.T) {
	t.Parallel()
	proxy := pgtest.NewProxy(t, pgtest.ServerURL(), true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs, done, cfg := startWaiting(ctx, t, proxy.URL(pgtest.ServerURL()))
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "waiting for the database") }, "no waiting line")
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, errStoppedWaiting) {
			t.Fatalf("stopped while waiting: %v", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StartService still waits after ctx ended")
	}
	// The port that answered while it waited is closed with it.
	if c, err := net.Dial("tcp", cfg.HTTPAddr); err == nil {
		c.Close()
		t.Fatalf("%s still listens after the wait was stopped", cfg.HTTPAddr)
	}
}

// A mistake waiting does not mend fails the start at once: a login the server refuses, a bad URL.
func TestServeFailsAtOnceOnARefusedLoginOrABadURL(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]string{
		"refused login": "postgres://no_such_role_certibuy@" + hostOf(t, pgtest.ServerURL()) + "/certibuy_x?sslmode=disable",
		"bad URL":       "postgres://postgres@127.0.0.1:notaport/x",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs, done, _ := startWaiting(context.Background(), t, url)
			select {
			case r := <-done:
				if r.err == nil {
					r.svc.Stop(context.Background())
					t.Fatal("started")
				}
				if strings.Contains(logs.String(), "waiting for the database") {
					t.Fatalf("waited for a mistake: %v\n%s", r.err, logs.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("still waiting:\n%s", logs.String())
			}
		})
	}
}

// The one-shot commands fail fast as they did: someone is waiting at the terminal.
func TestOneShotCommandsDoNotWaitForTheDatabase(t *testing.T) {
	t.Parallel()
	proxy := pgtest.NewProxy(t, pgtest.ServerURL(), true)
	var stderr pgtest.LogBuffer
	m := &Main{Stdout: &stderr, Stderr: &stderr, Getenv: func(k string) string {
		if k == "DATABASE_URL" {
			return proxy.URL(pgtest.ServerURL())
		}
		return ""
	}}
	start := time.Now()
	err := m.Run(context.Background(), []string{"migrate"})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || time.Since(start) > 5*time.Second {
		t.Fatalf("migrate with the database down: %v after %v", err, time.Since(start))
	}
}

func hostOf(t *testing.T, url string) string {
	t.Helper()
	_, rest, _ := strings.Cut(url, "@")
	host, _, _ := strings.Cut(rest, "/")
	return host
}

// startedOnceBack waits for a start that waited for the database to finish, once it is back, and
// hands the running service to the test.
func startedOnceBack(t *testing.T, done <-chan startResult, logs *pgtest.LogBuffer) *testService {
	t.Helper()
	var r startResult
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the service did not start once the database was back:\n%s", logs.String())
	}
	if r.err != nil {
		t.Fatalf("start: %v", r.err)
	}
	return serviceUnderTest(t, r.svc, logs, true)
}
