package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loginFrom posts an API login as the client at addr, as a proxy in front would pass it on.
func (s *testService) loginFrom(t *testing.T, addr, email, password string) response {
	t.Helper()
	body := `{"email": "` + email + `", "password": "` + password + `"}`
	return s.do(t, "POST", "/api/v1/admin/login", []byte(body), map[string]string{"X-Forwarded-For": addr})
}

// Behind a proxy named in TRUSTED_PROXIES each client is known by the address the proxy says it has:
// one client using up its login limit leaves another's alone.
func TestBehindATrustedProxyEachClientHasItsOwnLoginLimit(t *testing.T) {
	t.Parallel()
	s := startService(t, map[string]string{"TRUSTED_PROXIES": "10.9.8.7, 127.0.0.1/32", "LOGIN_RATE_PER_MINUTE": "1", "LOGIN_BURST": "1"})
	if st := s.loginFrom(t, "203.0.113.1", "a@certibuy.in", "wrong password").status; st != http.StatusUnauthorized {
		t.Fatalf("first client's first login: %d", st)
	}
	if res := s.loginFrom(t, "203.0.113.1", "a@certibuy.in", "wrong password"); res.status != http.StatusTooManyRequests {
		t.Fatalf("first client's second login in a burst of 1: %d %s", res.status, res.body)
	}
	// The proxy appends the address it saw to whatever the client sent: the nearest untrusted one counts.
	if st := s.loginFrom(t, "198.51.100.9, 203.0.113.2", "b@certibuy.in", "wrong password").status; st != http.StatusUnauthorized {
		t.Fatalf("second client, while the first is limited: %d", st)
	}
	if st := s.loginFrom(t, "203.0.113.2", "b@certibuy.in", "wrong password").status; st != http.StatusTooManyRequests {
		t.Fatalf("second client's second login: %d", st)
	}
	limited := grepLines(s.logs.String(), `"rate limited"`)
	if !strings.Contains(limited, `"client":"203.0.113.1"`) || !strings.Contains(limited, `"client":"203.0.113.2"`) {
		t.Fatalf("rate limited lines do not name the clients: %s", limited)
	}
}

// A peer not in TRUSTED_PROXIES is its own client address, whatever X-Forwarded-For it sends: loopback
// and private addresses are not trusted unless listed (echo trusts them by default).
func TestXForwardedForFromAnUntrustedPeerDoesNotEscapeTheLimit(t *testing.T) {
	t.Parallel()
	for name, proxies := range map[string]string{"none": "", "another proxy": "10.9.8.7,192.168.0.0/16"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startService(t, map[string]string{"TRUSTED_PROXIES": proxies, "LOGIN_RATE_PER_MINUTE": "1", "LOGIN_BURST": "1"})
			if st := s.loginFrom(t, "203.0.113.1", "a@certibuy.in", "wrong password").status; st != http.StatusUnauthorized {
				t.Fatalf("first login: %d", st)
			}
			if st := s.loginFrom(t, "203.0.113.2", "a@certibuy.in", "wrong password").status; st != http.StatusTooManyRequests {
				t.Fatalf("a second login under another X-Forwarded-For: %d, want 429", st)
			}
			if line := grepLines(s.logs.String(), `"login failed"`); !strings.Contains(line, `"client":"127.0.0.1"`) || strings.Contains(line, "203.0.113") {
				t.Fatalf("the failed login is logged under the address the client wrote: %s", line)
			}
		})
	}
}

func TestABadTrustedProxyIsAStartUpError(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"10.0.0.0/33", "proxy.local", "10.0.0.1,,nope"} {
		_, err := LoadConfig(func(k string) string {
			if k == "TRUSTED_PROXIES" {
				return v
			}
			return ""
		}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
			t.Errorf("TRUSTED_PROXIES=%s: %v", v, err)
		}
	}
}

// Wrong passwords from as many addresses as it takes lock the account, whoever sends them: the right
// password is refused until the lock ends. An e-mail no admin has is locked alike, so a lock says
// nothing of which accounts exist. The log names each failure by a masked e-mail and the address.
func TestFailedLoginsFromManyAddressesLockTheAccount(t *testing.T) {
	t.Parallel()
	clock := &linkClock{}
	clock.set(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	cfg := testConfig(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1"}, asServe)
	cfg.LoginClock = clock.now
	s := startServiceWith(t, cfg, true)
	const password = "correct horse battery"
	if _, err := s.deps.App.Admins.CreateUser(context.Background(), "lock@certibuy.in", "Lock", password); err != nil {
		t.Fatal(err)
	}
	addr := 0
	next := func() string { addr++; return "203.0.113." + strconv.Itoa(addr) }

	locked := map[string]response{}
	for _, email := range []string{"lock@certibuy.in", "nobody@certibuy.in"} {
		for i := range 5 {
			// The e-mail counts as Login reads it: case and spaces do not make another account.
			e := email
			if i%2 == 1 {
				e = " " + strings.ToUpper(email)
			}
			if res := s.loginFrom(t, next(), e, "guess-"+string(rune('a'+i))+"-Secr3t"); res.status != http.StatusUnauthorized {
				t.Fatalf("%s: wrong password %d: %d %s", email, i+1, res.status, res.body)
			}
		}
		res := s.loginFrom(t, next(), email, password)
		if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "60" ||
			!strings.Contains(string(res.body), `"account_locked"`) || !strings.Contains(string(res.body), "too many failed logins") {
			t.Fatalf("%s: the right password while locked: %d %v %s", email, res.status, res.header, res.body)
		}
		locked[email] = res
	}
	if a, b := locked["lock@certibuy.in"], locked["nobody@certibuy.in"]; string(a.body) != string(b.body) ||
		a.header.Get("Retry-After") != b.header.Get("Retry-After") {
		t.Fatalf("a locked account and an unknown e-mail answer differently:\n%s\n%s", a.body, b.body)
	}

	// The console's login page says so too, as a page.
	page := newConsoleClient(t, s).post("/admin/login", url.Values{"email": {"Lock@certibuy.in"}, "password": {password}},
		map[string]string{"X-Forwarded-For": next()})
	if page.status != http.StatusTooManyRequests || page.header.Get("Retry-After") == "" ||
		!strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), "Too many failed logins") {
		t.Fatalf("console login while locked: %d %v %s", page.status, page.header, page.body)
	}

	clock.set(clock.now().Add(61 * time.Second))
	if res := s.loginFrom(t, next(), "lock@certibuy.in", password); res.status != http.StatusOK {
		t.Fatalf("the right password after the lock: %d %s", res.status, res.body)
	}

	logs := s.logs.String()
	if strings.Contains(logs, "guess-") || strings.Contains(logs, password) {
		t.Fatal("a password reached the log")
	}
	if strings.Contains(logs, "lock@certibuy.in") || strings.Contains(logs, "nobody@certibuy.in") {
		t.Fatal("a whole e-mail reached the log")
	}
	failed := 0
	for _, l := range s.logs.Lines(t) {
		switch l["msg"] {
		case "login failed":
			failed++
			if l["level"] != "WARN" || (l["account"] != "l**@certibuy.in" && l["account"] != "n**@certibuy.in") ||
				!strings.HasPrefix(l["client"].(string), "203.0.113.") {
				t.Errorf("failed login line: %v", l)
			}
		case "login locked: too many failed logins":
			if l["level"] != "WARN" || l["client"] == "" || l["locked_for"] != "1m0s" {
				t.Errorf("lock line: %v", l)
			}
		}
	}
	if failed != 10 {
		t.Errorf("%d failed login lines, want 10", failed)
	}
	if n := strings.Count(logs, `"login locked: too many failed logins"`); n != 2 {
		t.Errorf("%d lock lines, want one per account", n)
	}
}
