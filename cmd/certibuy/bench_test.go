package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// A short `certibuy bench` prints every figure, each against its baseline, and with several runs the
// throughput as a median with its range.
func TestBenchPrintsEveryFigure(t *testing.T) {
	t.Parallel()
	out, err := runCLI(t, pgtest.NewDatabase(t), "bench", "--duration", "300ms", "--clients", "2",
		"--latency-events", "20", "--burst", "20", "--runs", "3", "--statements", "3")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	// The statements of each phase, or why they cannot be had (pg_stat_statements not preloaded).
	statements := regexp.MustCompile(`\(statement +\d+\.\d\d calls, \d+\.\d{3} ms per order; +\d+ buffers, +\d+\.\d rows a call: (INSERT|SELECT|UPDATE|DELETE|WITH)`)
	if !statements.MatchString(out) && !strings.Contains(out, "(statements: unavailable: ") {
		t.Errorf("bench --statements printed neither statements nor why not:\n%s", out)
	}
	for _, want := range []string{
		`checkout .* requests/s  \(\d+\.\d\d of the append baseline\)`,
		`notify    OrderShipped commit → SMTP accepted, 20 events at 100/s: p50 \S+, p99 \S+`,
		`machine CPU per shipped order: the ship, its e-mail and SMS: \d+\.\d\d ms, of which this process, with the bench's servers: \d+\.\d\d ms`,
		// The ship and each of the two deliveries write a transaction of their own.
		`PostgreSQL per order: ([3-9]|\d\d+)\.\d\d write transactions, [1-9]\d*\.\d kB of WAL with \d+\.\d\d full-page images, [1-9]\d+ buffer accesses, ([7-9]|\d\d+)\.\d rows written`,
		`notify    20 orders shipped meanwhile → e-mails through the 20 ms server: +\d+ e-mails/s, median of 3 runs \(\d+–\d+\)  \(\d+\.\d\d of the direct baseline\)`,
		`notify    backlog of 20 shipped orders → e-mails through the 20 ms server: +\d+ e-mails/s, median of 3 runs \(\d+–\d+\)`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchRefusesFewerThanOneRun(t *testing.T) {
	out, err := runCLI(t, "postgres://nobody@127.0.0.1:1/none", "bench", "--runs", "0")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--runs must be at least 1") {
		t.Fatalf("bench --runs 0: %v\n%s", err, out)
	}
}

func TestRateSummaryTakesTheMedian(t *testing.T) {
	for _, c := range []struct {
		rates []float64
		want  string
	}{
		{[]float64{400}, "     400 e-mails/s  (0.40 of the direct baseline)"},
		{[]float64{600, 400, 500}, "     500 e-mails/s, median of 3 runs (400–600)  (0.50 of the direct baseline)"},
		{[]float64{600, 400, 520, 460}, "     490 e-mails/s, median of 4 runs (400–600)  (0.49 of the direct baseline)"},
	} {
		if got := rateSummary(c.rates, 1000); got != c.want {
			t.Errorf("rateSummary(%v) = %q, want %q", c.rates, got, c.want)
		}
	}
}
