package http

import (
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)} }
func failN(l *LoginLockout, email string, n int) (locked time.Duration) {
	for range n {
		if d := l.Failed(email); d > 0 {
			locked = d
		}
	}
	return locked
}

func TestALockoutGrowsWhileTheFailuresGoOnAndASuccessEndsIt(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLockout(LockoutPolicy{Now: clock.now})
	if d := failN(l, "ops@example.in", 4); d != 0 || l.Locked("ops@example.in") != 0 {
		t.Fatalf("four failures lock: %v", d)
	}
	if d := l.Failed("OPS@example.in "); d != time.Minute || l.Locked("ops@example.in") != time.Minute {
		t.Fatalf("the fifth failure, in another case: %v", d)
	}
	if l.Locked("other@example.in") != 0 {
		t.Fatal("another account is locked")
	}
	// Attempts checked before the lock began add nothing, nor do they start another lock.
	if d := l.Failed("ops@example.in"); d != 0 {
		t.Fatalf("a failure during the lock: %v", d)
	}
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour} {
		clock.add(l.Locked("ops@example.in"))
		if d := failN(l, "ops@example.in", 5); d != want {
			t.Fatalf("next lock: %v, want %v", d, want)
		}
	}
	clock.add(time.Hour)
	l.Succeeded("ops@example.in")
	if d := failN(l, "ops@example.in", 5); d != time.Minute {
		t.Fatalf("after a success, the first lock again: %v", d)
	}
}

func TestFailuresOlderThanTheWindowAreForgotten(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLockout(LockoutPolicy{Now: clock.now})
	failN(l, "ops@example.in", 4)
	clock.add(16 * time.Minute)
	if d := failN(l, "ops@example.in", 4); d != 0 {
		t.Fatalf("four and four failures, 16 minutes apart, lock: %v", d)
	}
	// A lock followed by a quiet window: the next lock is the first one again.
	failN(l, "ops@example.in", 1)
	clock.add(time.Minute + 16*time.Minute)
	if d := failN(l, "ops@example.in", 5); d != time.Minute {
		t.Fatalf("after a quiet window: %v", d)
	}
}

func TestTheLockoutRemembersABoundedNumberOfAccounts(t *testing.T) {
	clock := newFakeClock()
	l := NewLoginLockout(LockoutPolicy{Now: clock.now, MaxAccounts: 100})
	failN(l, "target@example.in", 5) // locked
	for i := range 1000 {
		clock.add(time.Millisecond)
		l.Failed("x" + strconv.Itoa(i) + "@example.in")
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("%d accounts remembered", n)
	}
	if l.Locked("target@example.in") == 0 {
		t.Fatal("a flood of made-up e-mails pushed out a locked account")
	}
	// A long e-mail takes no more room than a short one.
	l.Failed(strings.Repeat("a", 1<<20) + "@example.in")
}

func TestMaskAccount(t *testing.T) {
	for in, want := range map[string]string{
		"ops@example.in":                "o**@example.in",
		" Ops@Example.IN ":              "o**@example.in",
		"नमस्ते@example.in":             "न**@example.in",
		"no-at-sign":                    "***",
		"@example.in":                   "***",
		"a@" + strings.Repeat("b", 100): "a**@" + strings.Repeat("b", 63) + "…",
	} {
		if got := maskAccount(in); got != want {
			t.Errorf("maskAccount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	nets, err := ParseTrustedProxies(" 10.0.0.5, 192.168.0.0/16,,fd00::1, 2001:db8::/32 ")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nets {
		got = append(got, n.String())
	}
	if strings.Join(got, " ") != "10.0.0.5/32 192.168.0.0/16 fd00::1/128 2001:db8::/32" {
		t.Fatalf("parsed %v", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.local", "10.0.0.01"} {
		if _, err := ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestTheClientAddressComesFromXForwardedForOnlyThroughATrustedProxy(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		proxies   []*net.IPNet
		peer, xff string
		want      string
	}{
		{trusted, "10.0.0.5:4000", "203.0.113.7", "203.0.113.7"},
		{trusted, "10.0.0.5:4000", "203.0.113.9, 203.0.113.7", "203.0.113.7"}, // the client wrote the first
		{trusted, "10.0.0.5:4000", "", "10.0.0.5"},
		// Loopback, private and link-local peers are trusted only when listed.
		{trusted, "127.0.0.1:4000", "203.0.113.7", "127.0.0.1"},
		{trusted, "192.168.1.2:4000", "203.0.113.7", "192.168.1.2"},
		{trusted, "198.51.100.1:4000", "203.0.113.7", "198.51.100.1"},
		{nil, "10.0.0.5:4000", "203.0.113.7", "10.0.0.5"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.peer
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientIPExtractor(c.proxies)(req); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q, %d proxies: %s, want %s", c.peer, c.xff, len(c.proxies), got, c.want)
		}
	}
}
