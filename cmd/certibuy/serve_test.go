package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/adapters/razorpay"
)

type testService struct {
	*Service
	base string
	logs *pgtest.LogBuffer
}

// startService runs the whole service on a fresh database and free ports, as `certibuy serve` does.
// A key of env set to "" is set empty, not left out.
func startService(t testing.TB, env map[string]string) *testService {
	t.Helper()
	return startServiceAs(t, env, asServe)
}

// serviceKind is which command a test service runs as.
type serviceKind int

const (
	asServe         serviceKind = iota // certibuy serve
	asWorker                           // certibuy worker: no HTTP API
	asServeNoEvents                    // certibuy serve --no-events
)

// startServiceAs is startService, as the command kind says.
func startServiceAs(t testing.TB, env map[string]string, kind serviceKind) *testService {
	t.Helper()
	return startServiceWith(t, testConfig(t, env, kind), kind != asWorker)
}

// startServiceWith runs the service with settings of testConfig the test has changed.
func startServiceWith(t testing.TB, cfg Config, withHTTP bool) *testService {
	t.Helper()
	logs := &pgtest.LogBuffer{}
	svc, err := StartService(context.Background(), cfg, cfg.NewLogger(logs), withHTTP)
	if err != nil {
		t.Fatal(err)
	}
	return serviceUnderTest(t, svc, logs, withHTTP)
}

// serviceUnderTest stops svc when t ends.
func serviceUnderTest(t testing.TB, svc *Service, logs *pgtest.LogBuffer, withHTTP bool) *testService {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if !withHTTP {
		return &testService{Service: svc, logs: logs}
	}
	return &testService{Service: svc, base: "http://" + svc.Addr(), logs: logs}
}

// testConfig is the settings of a test service on a fresh database and free ports.
func testConfig(t testing.TB, env map[string]string, kind serviceKind) Config {
	t.Helper()
	vars := map[string]string{
		"DATABASE_URL": pgtest.NewDatabase(t),
		"HTTP_ADDR":    "127.0.0.1:0",
		"METRICS_ADDR": "127.0.0.1:0",
		"LOG_FORMAT":   "json",
		"LOG_LEVEL":    "debug",
		"MAIL_DIR":     t.TempDir(),
	}
	if env["PUBLIC_BASE_URL"] == "" && env["HTTP_ADDR"] == "" {
		// Links in messages and pages name the address the service really listens on, so that a
		// test can follow them.
		addr := freeAddr(t)
		vars["HTTP_ADDR"], vars["PUBLIC_BASE_URL"] = addr, "http://"+addr
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := LoadConfigLookup(func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PollInterval = 10 * time.Millisecond
	cfg.NoEvents = kind == asServeNoEvents
	return cfg
}

// freeAddr is a loopback address with a port no one listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads the service's /metrics from its metrics listener.
func (s *testService) scrape(t testing.TB) string {
	t.Helper()
	if s.MetricsAddr() == "" {
		t.Fatal("the service serves no metrics")
	}
	res, err := http.Get("http://" + s.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", res.StatusCode, err)
	}
	return string(b)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %s", r.status, r.body)
	}
	return m
}

func (s *testService) do(t testing.TB, method, path string, body []byte, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (s *testService) count(t testing.TB, sql string) int {
	t.Helper()
	var n int
	if err := s.deps.Pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

const validCheckout = `{
  "customer": {"name": "Asha Rao", "email": "asha@example.in", "phone": "+91 98765 43210"},
  "items": [
    {"sku": "TEA-1", "name": "Assam tea 500g", "quantity": 2, "unit_price_paise": 34950},
    {"sku": "MUG-2", "name": "Steel tumbler", "quantity": 1, "unit_price_paise": 60000}
  ],
  "shipping_address": {"line1": "12 MG Road", "city": "Bengaluru", "state": "Karnataka", "pincode": "560001"}
}`

func TestCheckoutStoresTheOrderAndTheRouterReceivesItsEvents(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", res.status, res.body)
	}
	out := res.json(t)
	id, _ := out["order_id"].(string)
	token, _ := out["access_token"].(string)
	if out["total_paise"] != float64(129900) || out["total"] != "₹1,299.00" || out["status"] != "placed" || id == "" || token == "" {
		t.Fatalf("checkout answered %s", res.body)
	}
	if !strings.HasPrefix(out["order_number"].(string), "CB-") {
		t.Fatalf("order number %v", out["order_number"])
	}
	var typ, actor, corr string
	if err := s.deps.Pool.QueryRow(context.Background(),
		`SELECT type, actor, correlation_id FROM events WHERE stream_id = $1`, "order-"+id).Scan(&typ, &actor, &corr); err != nil {
		t.Fatal(err)
	}
	if typ != "order.placed.v1" || actor != "customer:guest" || corr != res.header.Get("X-Request-Id") {
		t.Fatalf("stored %s by %s with correlation %s (request id %s)", typ, actor, corr, res.header.Get("X-Request-Id"))
	}

	// The customer reads the order with the token; without it, or with another order's, it does not exist.
	got := s.do(t, "GET", "/api/v1/orders/"+id, nil, map[string]string{"Authorization": "Bearer " + token})
	if got.status != http.StatusOK {
		t.Fatalf("get order: %d %s", got.status, got.body)
	}
	view := got.json(t)
	if view["order_id"] != id || view["total_paise"] != float64(129900) || len(view["items"].([]any)) != 2 {
		t.Fatalf("order view %s", got.body)
	}
	other := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil).json(t)
	for name, hdr := range map[string]map[string]string{
		"no token":            nil,
		"wrong token":         {"Authorization": "Bearer nope"},
		"another order token": {"Authorization": "Bearer " + other["access_token"].(string)},
	} {
		if r := s.do(t, "GET", "/api/v1/orders/"+id, nil, hdr); r.status != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", name, r.status, r.body)
		}
	}

	// The router's event log group logs the event.
	waitFor(t, 10*time.Second, func() bool {
		return strings.Contains(s.logs.String(), `"msg":"order event received","type":"order.placed.v1","stream":"order-`+id)
	}, "the router never logged the order's event")
	if strings.Contains(s.logs.String(), "9876543210") || strings.Contains(s.logs.String(), token) {
		t.Fatal("the logs hold a phone number or an access token")
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCheckoutRefusesBadInputAndStoresNothing(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	edit := func(from, to string) string {
		if !strings.Contains(validCheckout, from) {
			t.Fatalf("test input has no %q", from)
		}
		return strings.Replace(validCheckout, from, to, 1)
	}
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		field       string
	}{
		{"misspelled items field", edit(`"items": [`, `"items": [], "x_items": [`), "", 400, "x_items"},
		{"empty items", `{"customer": {"name": "A", "email": "a@example.in", "phone": "9876543210"}, "items": [], "shipping_address": {"line1": "1", "city": "C", "state": "S", "pincode": "560001"}}`, "", 400, "items"},
		{"quantity zero", edit(`"quantity": 2`, `"quantity": 0`), "", 400, "items[0].quantity"},
		{"negative quantity", edit(`"quantity": 1`, `"quantity": -4`), "", 400, "items[1].quantity"},
		{"fractional quantity", edit(`"quantity": 2`, `"quantity": 1.5`), "", 400, "items[0].quantity"},
		{"negative price", edit(`"unit_price_paise": 34950`, `"unit_price_paise": -1`), "", 400, "items[0].unit_price_paise"},
		{"bad email", edit(`asha@example.in`, `asha.example.in`), "", 400, "customer.email"},
		{"bad phone", edit(`+91 98765 43210`, `12345`), "", 400, "customer.phone"},
		{"foreign phone", edit(`+91 98765 43210`, `+1 415 555 0100`), "", 400, "customer.phone"},
		{"bad pincode", edit(`560001`, `56001`), "", 400, "shipping_address.pincode"},
		{"unknown field", edit(`"items": [`, `"total_paise": 1, "items": [`), "", 400, "total_paise"},
		{"phone as number", edit(`"+91 98765 43210"`, `9876543210`), "", 400, "customer.phone"},
		{"not JSON", `{"customer": `, "", 400, ""},
		{"two values", validCheckout + validCheckout, "", 400, ""},
		{"empty body", ``, "", 400, ""},
		{"wrong content type", validCheckout, "text/plain", 415, "Content-Type"},
		{"form content type", validCheckout, "application/x-www-form-urlencoded", 415, "Content-Type"},
		{"body over 1 MiB", edit(`"Asha Rao"`, `"`+strings.Repeat("a", 1<<20)+`"`), "", 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.contentType != "" {
				hdr["Content-Type"] = c.contentType
			}
			res := s.do(t, "POST", "/api/v1/checkout", []byte(c.body), hdr)
			if res.status != c.status {
				t.Fatalf("status %d %s, want %d", res.status, res.body, c.status)
			}
			var env struct {
				Error struct{ Code, Message, Field string }
			}
			if err := json.Unmarshal(res.body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
				t.Fatalf("error body %s is not {error: {code, message}}", res.body)
			}
			if env.Error.Field != c.field {
				t.Fatalf("field %q (%s), want %q", env.Error.Field, env.Error.Message, c.field)
			}
		})
	}
	if n := s.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("bad input appended %d events", n)
	}
	if n := s.count(t, `SELECT count(*) FROM events WHERE topic IS NOT NULL`); n != 0 {
		t.Fatalf("bad input left %d outbox messages", n)
	}
}

// A HEAD, as monitors and link checkers send, is answered as a GET without its body; before, it was
// a 405, and the console's login page sent it to itself for ever.
func TestAHeadIsAnsweredLikeAGet(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	for _, path := range []string{"/healthz", "/admin/login", "/admin/orders"} {
		res, err := http.Head(s.base + path)
		if err != nil {
			t.Fatalf("HEAD %s: %v", path, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") == "" {
			t.Fatalf("HEAD %s: %d %q", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	// On the wire, nothing follows the headers: a body would be read as the answer to the next
	// request on the connection.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "HEAD /admin/login HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if head, body, _ := strings.Cut(string(raw), "\r\n\r\n"); !strings.HasPrefix(head, "HTTP/1.1 200") || body != "" {
		t.Fatalf("HEAD /admin/login on the wire: %q", raw)
	}
}

func TestTheSameIdempotencyKeyPlacesOneOrder(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	key := map[string]string{"Idempotency-Key": "checkout-42"}
	first := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), key)
	second := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), key)
	if first.status != 201 || second.status != 201 {
		t.Fatalf("statuses %d %s / %d %s", first.status, first.body, second.status, second.body)
	}
	a, b := first.json(t), second.json(t)
	for _, k := range []string{"order_id", "order_number", "total_paise", "status"} {
		if a[k] != b[k] {
			t.Errorf("%s: first %v, replay %v", k, a[k], b[k])
		}
	}
	if second.header.Get("Idempotent-Replayed") != "true" {
		t.Error("the replay is not marked Idempotent-Replayed")
	}
	// Both tokens open the order: the replay's is fresh because only hashes are stored. The scheme's
	// name is case-insensitive.
	for i, tok := range []any{a["access_token"], b["access_token"]} {
		scheme := []string{"Bearer ", "bearer "}[i]
		if r := s.do(t, "GET", "/api/v1/orders/"+a["order_id"].(string), nil, map[string]string{"Authorization": fmt.Sprint(scheme, tok)}); r.status != 200 {
			t.Errorf("token %v: %d", tok, r.status)
		}
	}
	// Once the order is paid, a replay says so, without the payment block (a second payment would only
	// be refunded) and without a token: the request, key and body, is not a password to the order.
	gw := a["payment"].(map[string]any)["gateway_order_id"].(string)
	pay, sig := razorpay.Simulator{}.Pay(gw)
	cb, _ := json.Marshal(map[string]string{"razorpay_order_id": gw, "razorpay_payment_id": pay, "razorpay_signature": sig})
	if res := s.do(t, "POST", "/api/v1/payments/razorpay/callback", cb, nil); res.status != http.StatusOK {
		t.Fatalf("paying the order: %d %s", res.status, res.body)
	}
	paid := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), key)
	p := paid.json(t)
	if paid.status != 201 || p["order_id"] != a["order_id"] || p["status"] == "placed" || p["payment"] != nil || p["access_token"] != nil {
		t.Fatalf("a replay after payment: %d %s", paid.status, paid.body)
	}

	spaced := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), map[string]string{"Idempotency-Key": "checkout 43"})
	if code, field, msg := apiError(t, spaced); spaced.status != 400 || code != "invalid_input" || field != "Idempotency-Key" || !strings.Contains(msg, "without spaces") {
		t.Fatalf("a key with a space: %d %s", spaced.status, spaced.body)
	}

	reused := s.do(t, "POST", "/api/v1/checkout", []byte(strings.Replace(validCheckout, `"quantity": 2`, `"quantity": 3`, 1)), key)
	if reused.status != http.StatusUnprocessableEntity || reused.json(t)["error"].(map[string]any)["field"] != "Idempotency-Key" {
		t.Fatalf("the key with another body: %d %s", reused.status, reused.body)
	}

	// Ten at once with a fresh key: still one order.
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), map[string]string{"Idempotency-Key": "burst-1"})
			if r.status == 201 {
				ids[i], _ = r.json(t)["order_id"].(string)
			}
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("concurrent requests with one key got orders %v", ids)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM events WHERE type = 'order.placed.v1'`); n != 2 {
		t.Fatalf("%d orders placed, want 2 (one per key)", n)
	}
}

func TestMetricsShowRequestsAndThePipeline(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	id := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil).json(t)["order_id"].(string)
	s.do(t, "GET", "/api/v1/orders/"+id, nil, nil)
	// Methods a client invents are counted under one name: each would otherwise add series for good.
	for _, m := range []string{"BREW", "M1", "M2"} {
		if res := s.do(t, m, "/healthz", nil, nil); res.status != http.StatusMethodNotAllowed {
			t.Fatalf("%s /healthz: %d", m, res.status)
		}
	}
	waitFor(t, 10*time.Second, func() bool { return s.count(t, `SELECT count(*) FROM order_summary`) == 1 }, "projection never caught up")
	body := s.scrape(t)
	if strings.Contains(body, "BREW") || strings.Contains(s.logs.String(), "BREW") {
		t.Error("an invented method is a label of /metrics or in the access log")
	}
	for _, want := range []string{
		`certibuy_http_requests_total{method="other",route="/healthz",status="405"} 3`,
		`certibuy_http_requests_total{method="POST",route="/api/v1/checkout",status="201"} 1`,
		`certibuy_http_requests_total{method="GET",route="/api/v1/orders/:id",status="404"} 1`,
		`certibuy_outbox_messages_behind{group="event_log"}`,
		`certibuy_projection_events_behind{projection="order_summary"} 0`,
		`go_goroutines`,
		// What waits on a person (docs/OPERATIONS.md's alerts).
		`certibuy_poison_messages{topic="notifications_poison"} 0`,
		// Nothing waits, and the queue's gauges say so rather than vanish.
		`certibuy_notifications_due{topic="notify_email"} 0`,
		`certibuy_notifications_queued{topic="notify_sms"} 0`,
		`certibuy_poison_messages{topic="order_events_poison"} 0`,
		"certibuy_notifications_failed 0",
		"certibuy_refunds_owed 0",
		"certibuy_refunds_pending 0",
		"certibuy_orders_waiting_to_ship 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, id) {
		t.Fatal("/metrics holds an order id: routes must be patterns")
	}
	// The public API port does not serve them; the start-up log says where they are.
	if res := s.do(t, "GET", "/metrics", nil, nil); res.status != http.StatusNotFound {
		t.Fatalf("GET /metrics on the API port: %d", res.status)
	}
	if !strings.Contains(s.logs.String(), `"msg":"metrics listening","addr":"`+s.MetricsAddr()+`","path":"/metrics"`) {
		t.Fatalf("the start-up log does not say where metrics listen:\n%s", grepLines(s.logs.String(), "metrics"))
	}
	// One line says where everything is: the API, the console and the metrics.
	ready := `"msg":"ready","api":"` + s.base + `/api/v1","console":"` + s.base + `/admin","listen":"` + s.Addr() +
		`","metrics":"http://` + s.MetricsAddr() + `/metrics"`
	if !strings.Contains(s.logs.String(), ready) {
		t.Fatalf("the start-up log has no line saying where the API, the console and the metrics are:\n%s", grepLines(s.logs.String(), `"ready"`))
	}
}

func TestAWorkerServesMetricsAndAnEmptyMetricsAddrServesNone(t *testing.T) {
	t.Parallel()
	w := startServiceAs(t, nil, asWorker)
	body := w.scrape(t)
	for _, want := range []string{`certibuy_outbox_messages_behind{group="event_log"}`, `certibuy_projection_events_behind{projection="order_summary"}`, `go_goroutines`} {
		if !strings.Contains(body, want) {
			t.Errorf("the worker's /metrics lacks %s", want)
		}
	}

	off := startService(t, map[string]string{"METRICS_ADDR": ""})
	if off.MetricsAddr() != "" || !strings.Contains(off.logs.String(), `"msg":"metrics off: METRICS_ADDR is empty"`) {
		t.Fatalf("METRICS_ADDR= serves metrics on %q", off.MetricsAddr())
	}
}
