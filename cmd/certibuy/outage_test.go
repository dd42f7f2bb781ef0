package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// While the database cannot be reached, the API answers 503 database_unavailable with a
// Retry-After, which a storefront knows to retry, and the console and the customer's pages say the
// shop's system is briefly unavailable; not a 500 "internal error".
func TestAnUnreachableDatabaseIsA503ToRetry(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	proxy := pgtest.NewProxy(t, db, false)
	s := startShop(t, map[string]string{"DATABASE_URL": proxy.URL(db)})
	o := s.checkout(t)
	createAdmin(t, s.testService, "ops@certibuy.in")
	cc := newConsoleClient(t, s.testService)
	if res := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil); cc.lastSet == nil {
		t.Fatalf("log in: %d %s", res.status, res.body)
	}
	cc.cookie = cc.lastSet
	orderPage := strings.TrimPrefix(s.linkFor(t, o.id, o.number), s.base)

	proxy.Cut()
	// The pool finds its connections dead as it uses them (or pings those idle over a second), and
	// then cannot open new ones: wait until a read fails as a new connection does.
	waitFor(t, 10*time.Second, func() bool {
		return s.do(t, "GET", "/api/v1/orders/"+o.id, nil, map[string]string{"Authorization": "Bearer " + o.token}).status == http.StatusServiceUnavailable
	}, "reading an order never answered 503 with the database down")

	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/v1/checkout", validCheckout},
		{"GET", "/api/v1/orders/" + o.id, ""},
		{"POST", "/api/v1/admin/login", `{"email": "ops@certibuy.in", "password": "` + consolePassword + `"}`},
	} {
		var body []byte
		if r.body != "" {
			body = []byte(r.body)
		}
		res := s.do(t, r.method, r.path, body, map[string]string{"Authorization": "Bearer " + o.token,
			"Idempotency-Key": "3f0c7a9e-3b1d-4e2a-9c8f-1a2b3c4d5e6f"})
		e, _ := res.json(t)["error"].(map[string]any)
		if res.status != http.StatusServiceUnavailable || e["code"] != "database_unavailable" || res.header.Get("Retry-After") == "" ||
			!strings.Contains(e["message"].(string), "briefly unavailable") {
			t.Fatalf("%s %s with the database down: %d Retry-After %q %s", r.method, r.path, res.status, res.header.Get("Retry-After"), res.body)
		}
	}
	for name, res := range map[string]response{
		"console":       cc.get("/admin/orders"),
		"console login": newConsoleClient(t, s.testService).post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil),
		"order page":    s.do(t, "GET", orderPage, nil, nil),
	} {
		if res.status != http.StatusServiceUnavailable || !strings.Contains(string(res.body), "briefly unavailable") ||
			res.header.Get("Retry-After") == "" || strings.Contains(string(res.body), "Internal") {
			t.Fatalf("%s with the database down: %d %s", name, res.status, res.body)
		}
	}

	// Back: the same requests work again, without a restart.
	proxy.Restore()
	waitFor(t, 10*time.Second, func() bool {
		return s.do(t, "GET", "/api/v1/orders/"+o.id, nil, map[string]string{"Authorization": "Bearer " + o.token}).status == http.StatusOK
	}, "reading an order did not work again once the database was back")
}
