package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/nats/natstest"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// With NATS_URL set, bench --forward prints the forwarder's rate beside JetStream's own, measured
// in the same run; without it, says it skipped.
func TestBenchForwardPrintsTheForwarderAgainstJetStreamsOwnRates(t *testing.T) {
	t.Parallel()
	out, err := runCLIWith(t, map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "NATS_URL": natstest.URL()},
		"bench", "--duration", "200ms", "--clients", "1", "--latency-events", "0", "--burst", "0", "--forward", "300")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{
		`baseline  JetStream publish of the same 300 messages, one at a time \(each waits for its ack\): +\d+ msgs/s`,
		`baseline  JetStream publish, async with 256 in flight: +\d+ msgs/s`,
		`forward   event store → JetStream .*: +\d+ events/s  \(\d+\.\d\d× one at a time, \d+\.\d\d× async\)`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, pgtest.NewDatabase(t), "bench", "--duration", "200ms", "--clients", "1", "--latency-events", "0", "--burst", "0", "--forward", "10")
	if err != nil || !strings.Contains(out, "forward   skipped: NATS_URL is not set") {
		t.Errorf("bench --forward without NATS_URL: %v\n%s", err, out)
	}
}

func TestBenchWorkersTakesCountsAndABurst(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"--workers 0", "--workers \"0\": want counts from 1 to 16"},
		{"--workers 1,x", "--workers \"1,x\": want counts"},
		{"--workers 1,2 --burst 0", "--workers ships --burst orders"},
	} {
		out, err := runCLI(t, "postgres://nobody@127.0.0.1:1/none", append([]string{"bench"}, strings.Fields(c.args)...)...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench %s: %v\n%s", c.args, err, out)
		}
	}
}
