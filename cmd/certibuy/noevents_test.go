package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// serve --no-events answers HTTP and takes no events, not even with NATS_URL set; a worker on the
// same database takes them.
func TestServeWithNoEventsAnswersHTTPAndLeavesTheEventsToWorkers(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": url, "HTTP_ADDR": "127.0.0.1:0", "METRICS_ADDR": "", "LOG_FORMAT": "json",
		"MAIL_DIR": t.TempDir(), "NATS_URL": "nats://127.0.0.1:1"}
	cfg, err := LoadConfigLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NoEvents = true
	logs := &syncBuffer{}
	svc, err := StartService(context.Background(), cfg, cfg.NewLogger(logs), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if len(svc.routers) != 0 || svc.projections != nil || svc.feed != nil || len(svc.sweeps) != 0 {
		t.Fatalf("serve --no-events runs %d routers, projections %v, feed %v, %d sweeps", len(svc.routers), svc.projections != nil, svc.feed != nil, len(svc.sweeps))
	}
	if !strings.Contains(logs.String(), "taking no events (--no-events)") {
		t.Errorf("the start-up log does not say it takes no events:\n%s", logs.String())
	}
	s := &testService{Service: svc, base: "http://" + svc.Addr(), logs: logs}
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", res.status, res.body)
	}
	id, _ := res.json(t)["order_id"].(string)

	worker := startServiceAs(t, map[string]string{"DATABASE_URL": url}, false)
	waitFor(t, 30*time.Second, func() bool {
		return strings.Contains(worker.logs.String(), `"msg":"order event received","type":"order.placed.v1","stream":"order-`+id)
	}, "the worker never took the order's event")

	help, _, err := runCLISplit(t, map[string]string{"DATABASE_URL": url}, "serve", "--help")
	if err != nil || !strings.Contains(help, "  --no-events ") {
		t.Errorf("serve --help does not list --no-events: %v\n%s", err, help)
	}
	if help, _, _ := runCLISplit(t, map[string]string{"DATABASE_URL": url}, "worker", "--help"); strings.Contains(help, "--no-events") {
		t.Errorf("worker --help lists --no-events:\n%s", help)
	}
}
