package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// runCLI runs `certibuy args...` against the database at url and returns what it printed.
func runCLI(t *testing.T, url string, args ...string) (string, error) {
	t.Helper()
	return runCLIWith(t, map[string]string{"DATABASE_URL": url}, args...)
}

// runCLIWith runs `certibuy args...` with the environment env.
func runCLIWith(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(env["STDIN"]), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		if k == "LOG_LEVEL" && env[k] == "" {
			return "warn"
		}
		return env[k]
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := m.Run(ctx, args)
	return out.String() + errOut.String(), err
}

func TestReplayAndAuditCommands(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	url := s.cfg.DatabaseURL
	var numbers []string
	for i := 0; i < 3; i++ {
		res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
		numbers = append(numbers, res.json(t)["order_number"].(string))
	}
	waitFor(t, 20*time.Second, func() bool { return s.count(t, `SELECT count(*) FROM order_summary`) == 3 }, "order_summary never caught up")

	out, err := runCLI(t, url, "replay", "--projection", "all")
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if !strings.Contains(out, "rebuilt order_summary: ") || !strings.Contains(out, "rebuilt order_status_history: ") {
		t.Fatalf("replay printed %q", out)
	}
	if n := s.count(t, `SELECT count(*) FROM order_summary`); n != 3 {
		t.Fatalf("after replay order_summary has %d rows", n)
	}
	out, err = runCLI(t, url, "replay", "--projection", "all", "--verify")
	if err != nil || !strings.Contains(out, "0 differences") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if _, err := s.deps.Pool.Exec(context.Background(), `UPDATE order_summary SET customer_name = 'Mallory' WHERE order_number = $1`, numbers[0]); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, url, "replay", "--projection", "order_summary", "--verify")
	if !errors.Is(err, errDifferences) || !strings.Contains(out, "Mallory") || !strings.Contains(out, "2 differences") {
		t.Fatalf("verify of a tampered table: %v\n%s", err, out)
	}
	if _, err := runCLI(t, url, "replay", "--projection", "nope"); err == nil || exitCode(err) != 2 {
		t.Fatalf("unknown projection: %v", err)
	}

	out, err = runCLI(t, url, "audit", "--order", numbers[1])
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	if !strings.Contains(out, "order.placed.v1") || !strings.Contains(out, "order.payment_requested.v1") || !strings.Contains(out, "customer:guest") || strings.Count(out, "order-") != 2 {
		t.Fatalf("audit --order printed:\n%s", out)
	}
	// Times are India's, as in the console, unless --utc; a day given to --from and --to is a day there.
	today := time.Now().In(india()).Format("02/01/2006")
	if !strings.Contains(out, today+" ") || strings.Count(out, " IST ") != 2 {
		t.Fatalf("audit does not show the times in IST:\n%s", out)
	}
	if out, err := runCLI(t, url, "audit", "--order", numbers[1], "--utc"); err != nil || strings.Count(out, " UTC ") != 2 {
		t.Fatalf("audit --utc: %v\n%s", err, out)
	}
	if out, err := runCLI(t, url, "audit", "--order", numbers[1], "--from", today, "--to", today); err != nil || strings.Count(out, "order-") != 2 {
		t.Fatalf("audit of today, --from %s --to %s: %v\n%s", today, today, err, out)
	}
	out, err = runCLI(t, url, "audit", "--type", "order.placed.v1", "--limit", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Events  []struct{ Type, Stream string }
		Next    string
		HasMore bool `json:"has_more"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Events) != 2 || !page.HasMore || page.Next == "" {
		t.Fatalf("audit --json page: %v %s", err, out)
	}
	out, err = runCLI(t, url, "audit", "--type", "order.placed.v1", "--limit", "2", "--after", page.Next, "--json")
	if err != nil || strings.Count(out, `"type": "order.placed.v1"`) != 1 {
		t.Fatalf("second page: %v %s", err, out)
	}
	out, err = runCLI(t, url, "audit", "--order", numbers[2], "--as-of", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	if err != nil || !strings.Contains(out, "status:  placed") || !strings.Contains(out, numbers[2]) {
		t.Fatalf("as-of: %v\n%s", err, out)
	}
	if _, err := runCLI(t, url, "audit", "--from", "yesterday"); err == nil || exitCode(err) != 2 {
		t.Fatalf("bad --from: %v", err)
	}
}

// An order asked for as of a time before it was placed existed, only not yet: the CLI and the API
// say so, rather than that there is no such order.
func TestAuditAsOfBeforeAnOrderWasPlacedSaysItDidNotExistYet(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := s.checkout(t)
	url := s.cfg.DatabaseURL
	var placedAt time.Time
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT recorded_at FROM events WHERE stream_id = $1 AND stream_version = 1`,
		"order-"+o.id).Scan(&placedAt); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{o.number, o.id} {
		out, err := runCLI(t, url, "audit", "--order", ref, "--as-of", "2020-01-01")
		want := "order " + ref + " did not exist yet at 2020-01-01T00:00:00+05:30: it was placed later, at " + placedAt.In(india()).Format(time.RFC3339)
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "not found") {
			t.Fatalf("audit --order %s --as-of 2020-01-01: %v (exit %d), want %q…\n%s", ref, err, exitCode(err), want, out)
		}
	}
	if _, err := runCLI(t, url, "audit", "--order", "CB-7K3M9Q2X", "--as-of", "2020-01-01"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("audit --as-of of an order there is not: %v", err)
	}

	token, _ := s.adminToken(t, "ops@certibuy.in")
	r := s.do(t, "GET", "/api/v1/admin/orders/"+o.id+"?as_of=2020-01-01T00:00:00Z", nil, bearerHeader(token))
	e, _ := r.json(t)["error"].(map[string]any)
	details, _ := e["details"].(map[string]any)
	if r.status != 404 || e["code"] != "not_found" || e["field"] != "as_of" ||
		fmt.Sprint(e["message"]) != "the order did not exist yet at 2020-01-01T00:00:00Z: it was placed later, at "+placedAt.UTC().Format(time.RFC3339Nano) ||
		details["placed_at"] == nil {
		t.Fatalf("GET …?as_of before the order was placed: %d %s", r.status, r.body)
	}
	r = s.do(t, "GET", "/api/v1/admin/orders/"+uuid.NewString()+"?as_of=2020-01-01T00:00:00Z", nil, bearerHeader(token))
	if e, _ := r.json(t)["error"].(map[string]any); r.status != 404 || e["message"] != "order not found" {
		t.Fatalf("GET …?as_of of an order there is not: %d %s", r.status, r.body)
	}
}
