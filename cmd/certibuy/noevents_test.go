package main

import (
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
	s := startServiceAs(t, map[string]string{"DATABASE_URL": url, "NATS_URL": "nats://127.0.0.1:1"}, asServeNoEvents)
	svc, logs := s.Service, s.logs
	if len(svc.routers) != 0 || svc.projections != nil || svc.feed != nil || len(svc.sweeps) != 0 {
		t.Fatalf("serve --no-events runs %d routers, projections %v, feed %v, %d sweeps", len(svc.routers), svc.projections != nil, svc.feed != nil, len(svc.sweeps))
	}
	if !strings.Contains(logs.String(), "taking no events (--no-events)") {
		t.Errorf("the start-up log does not say it takes no events:\n%s", logs.String())
	}
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", res.status, res.body)
	}
	id, _ := res.json(t)["order_id"].(string)

	// Nothing takes the order's event: doctor says so plainly.
	out, _ := runCLIWith(t, map[string]string{"DATABASE_URL": url}, "doctor")
	if !strings.Contains(out, "taking events") || !strings.Contains(out, "no process takes events") {
		t.Errorf("doctor does not say that no process takes events:\n%s", out)
	}

	worker := startServiceAs(t, map[string]string{"DATABASE_URL": url}, asWorker)
	waitFor(t, 30*time.Second, func() bool {
		return strings.Contains(worker.logs.String(), `"msg":"order event received","type":"order.placed.v1","stream":"order-`+id)
	}, "the worker never took the order's event")
	out, _ = runCLIWith(t, map[string]string{"DATABASE_URL": url}, "doctor")
	if line := grepLines(out, "taking events"); !strings.HasPrefix(line, "ok") || !strings.Contains(line, "certibuy worker") {
		t.Errorf("doctor with a worker running:\n%s", out)
	}

	help, _, err := runCLISplit(t, map[string]string{"DATABASE_URL": url}, "serve", "--help")
	if err != nil || !strings.Contains(help, "  --no-events ") {
		t.Errorf("serve --help does not list --no-events: %v\n%s", err, help)
	}
	if help, _, _ := runCLISplit(t, map[string]string{"DATABASE_URL": url}, "worker", "--help"); strings.Contains(help, "--no-events") {
		t.Errorf("worker --help lists --no-events:\n%s", help)
	}
}
