package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/adapters/razorpay/razorpaytest"
)

const (
	testKeyID         = "rzp_test_ABC123"
	testKeySecret     = "key-secret-for-tests"
	testWebhookSecret = "webhook-secret-for-tests"
)

type shop struct {
	*testService
	rzp *razorpaytest.Server
}

// startShop runs the service against a fake Razorpay.
func startShop(t *testing.T, extra ...map[string]string) *shop {
	t.Helper()
	rzp := razorpaytest.NewServer(t, testKeyID, testKeySecret)
	env := map[string]string{
		"RAZORPAY_KEY_ID": testKeyID, "RAZORPAY_KEY_SECRET": testKeySecret,
		"RAZORPAY_WEBHOOK_SECRET": testWebhookSecret, "RAZORPAY_BASE_URL": rzp.URL(),
	}
	for _, e := range extra {
		for k, v := range e {
			env[k] = v
		}
	}
	s := startService(t, env)
	return &shop{testService: s, rzp: rzp}
}

type placed struct {
	id, number, token, gatewayOrder string
}

func (s *shop) checkout(t *testing.T) placed {
	t.Helper()
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", res.status, res.body)
	}
	var out struct {
		OrderID, OrderNumber, AccessToken string `json:"-"`
	}
	_ = out
	m := res.json(t)
	pay := m["payment"].(map[string]any)
	if pay["gateway"] != "razorpay" || pay["key_id"] != testKeyID || pay["amount"] != float64(129900) || pay["currency"] != "INR" {
		t.Fatalf("checkout payment block %v", pay)
	}
	return placed{id: m["order_id"].(string), number: m["order_number"].(string), token: m["access_token"].(string), gatewayOrder: pay["gateway_order_id"].(string)}
}

func (s *shop) callback(t *testing.T, gatewayOrder, paymentID, sig string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"razorpay_order_id": gatewayOrder, "razorpay_payment_id": paymentID, "razorpay_signature": sig})
	return s.do(t, "POST", "/api/v1/payments/razorpay/callback", body, nil)
}

func (s *shop) webhook(t *testing.T, body []byte, eventID string) response {
	t.Helper()
	return s.do(t, "POST", "/api/v1/webhooks/razorpay", body, map[string]string{
		"X-Razorpay-Signature": razorpay.SignWebhook(testWebhookSecret, body), "X-Razorpay-Event-Id": eventID})
}

// events lists the order's stored event types with their actors.
func (s *shop) events(t *testing.T, orderID string) []string {
	t.Helper()
	rows, err := s.deps.Pool.Query(context.Background(), `SELECT type, actor FROM events WHERE stream_id = $1 ORDER BY stream_version`, "order-"+orderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, actor string
		if err := rows.Scan(&typ, &actor); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimPrefix(typ, "order.")+" by "+actor)
	}
	return out
}

func (s *shop) adminToken(t *testing.T, email string) (token, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.deps.App.Admins.CreateUser(ctx, email, "Admin "+email, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	tok, info, err := s.deps.App.Admins.CreateToken(ctx, email, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok, info.UserID.String()
}

func bearerHeader(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func TestAnOrderFromCheckoutToDelivery(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := s.checkout(t)
	if got, ok := s.rzp.Order(o.gatewayOrder); !ok || got.Amount != 129900 || got.Receipt != o.number {
		t.Fatalf("Razorpay order %+v, %v", got, ok)
	}
	want := []string{"placed.v1 by customer:guest", "payment_requested.v1 by customer:guest"}
	if got := s.events(t, o.id); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after checkout: %v", got)
	}

	paymentID, sig := s.rzp.Pay(o.gatewayOrder, "upi")
	res := s.callback(t, o.gatewayOrder, paymentID, sig)
	if res.status != 200 || res.json(t)["status"] != "confirmed" {
		t.Fatalf("callback: %d %s", res.status, res.body)
	}
	// The answer links the payer to the order's page, which shows the payment.
	orderPage, err := http.Get(res.json(t)["order_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, orderPage); orderPage.StatusCode != 200 || !strings.Contains(body, o.number) || !strings.Contains(body, paymentID) {
		t.Fatalf("the callback's order_url: %d %s", orderPage.StatusCode, body)
	}
	want = append(want, "payment_succeeded.v1 by gateway:razorpay", "confirmed.v1 by gateway:razorpay")
	if got := s.events(t, o.id); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after callback: %v", got)
	}
	// The webhook for the same payment arrives after the callback: a 200 that changes nothing.
	if res := s.webhook(t, s.rzp.CapturedWebhook(paymentID), "evt_1"); res.status != 200 || res.json(t)["outcome"] != "no_change" {
		t.Fatalf("late webhook: %d %s", res.status, res.body)
	}

	token, adminID := s.adminToken(t, "ops@certibuy.in")
	steps := []struct {
		path, body, status, event string
	}{
		{"ship", `{"carrier": "Delhivery", "tracking_id": "DLV123456"}`, "shipped", "shipped.v2"},
		{"out-for-delivery", ``, "out_for_delivery", "out_for_delivery.v1"},
		{"deliver", ``, "delivered", "delivered.v1"},
	}
	for _, st := range steps {
		var body []byte
		if st.body != "" {
			body = []byte(st.body)
		}
		res := s.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/"+st.path, body, bearerHeader(token))
		if res.status != 200 || res.json(t)["status"] != st.status {
			t.Fatalf("%s: %d %s", st.path, res.status, res.body)
		}
		want = append(want, st.event+" by admin:"+adminID)
		if got := s.events(t, o.id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after %s:\n got %v\nwant %v", st.path, got, want)
		}
	}

	// The customer sees the whole story, once the projection has it.
	waitFor(t, 20*time.Second, func() bool {
		v := s.do(t, "GET", "/api/v1/orders/"+o.id, nil, bearerHeader(o.token)).json(t)
		h, _ := v["history"].([]any)
		return v["status"] == "delivered" && len(h) == 6
	}, "the customer's order view never showed six status changes")
	detail := s.do(t, "GET", "/api/v1/admin/orders/"+o.id, nil, bearerHeader(token))
	if detail.status != 200 || len(detail.json(t)["timeline"].([]any)) != 7 || detail.header.Get("ETag") != `"7"` {
		t.Fatalf("admin detail: %d %s", detail.status, detail.body)
	}
	// Audit pages through the API, and the order as it stood when it was confirmed.
	page := s.do(t, "GET", "/api/v1/admin/audit/events?order="+o.number+"&limit=4", nil, bearerHeader(token)).json(t)
	if evs := page["events"].([]any); len(evs) != 4 || page["has_more"] != true || evs[0].(map[string]any)["type"] != "order.placed.v1" {
		t.Fatalf("audit page: %v", page)
	}
	rest := s.do(t, "GET", "/api/v1/admin/audit/events?order="+o.id+"&after="+page["next"].(string), nil, bearerHeader(token)).json(t)
	if evs := rest["events"].([]any); len(evs) != 3 || evs[2].(map[string]any)["actor"] != "admin:"+adminID {
		t.Fatalf("second audit page: %v", rest)
	}
	var confirmedAt time.Time
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT recorded_at FROM events WHERE stream_id = $1 AND type = 'order.confirmed.v1'`,
		"order-"+o.id).Scan(&confirmedAt); err != nil {
		t.Fatal(err)
	}
	asOf := s.do(t, "GET", "/api/v1/admin/orders/"+o.id+"?as_of="+confirmedAt.UTC().Format(time.RFC3339Nano), nil, bearerHeader(token))
	if got := asOf.json(t)["order"].(map[string]any); asOf.status != 200 || got["status"] != "confirmed" || got["version"] != float64(4) {
		t.Fatalf("as of confirmation: %d %s", asOf.status, asOf.body)
	}
	if r := s.do(t, "GET", "/api/v1/admin/orders/"+o.id+"?as_of=yesterday", nil, bearerHeader(token)); r.status != 400 {
		t.Fatalf("bad as_of: %d", r.status)
	}
	list := s.do(t, "GET", "/api/v1/admin/orders?status=delivered&q="+o.number, nil, bearerHeader(token)).json(t)
	if rows := list["orders"].([]any); len(rows) != 1 || rows[0].(map[string]any)["tracking_id"] != "DLV123456" {
		t.Fatalf("admin list: %v", list)
	}
	if r := s.do(t, "GET", "/api/v1/admin/notifications?event_type=order.bogus.v1", nil, bearerHeader(token)); r.status != 400 ||
		!strings.Contains(string(r.body), `"field":"event_type"`) {
		t.Errorf("an unknown event type: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/api/v1/admin/notifications?event_type=order.shipped.v1", nil, bearerHeader(token)); r.status != 200 {
		t.Errorf("an older event type's name: %d %s", r.status, r.body)
	}
	// Times are read as the CLI reads them: a day in India, written either way, and "to" a day
	// includes it.
	today := time.Now().In(time.FixedZone("IST", 5*3600+1800))
	for _, day := range []string{today.Format("02/01/2006"), today.Format("2006-01-02")} {
		r := s.do(t, "GET", "/api/v1/admin/orders?from="+day+"&to="+day+"&q="+o.number, nil, bearerHeader(token))
		if rows, _ := r.json(t)["orders"].([]any); r.status != 200 || len(rows) != 1 {
			t.Errorf("orders placed on %s: %d %s", day, r.status, r.body)
		}
		r = s.do(t, "GET", "/api/v1/admin/audit/events?order="+o.number+"&from="+day+"&to="+day, nil, bearerHeader(token))
		if events, _ := r.json(t)["events"].([]any); r.status != 200 || len(events) == 0 {
			t.Errorf("the order's events recorded on %s: %d %s", day, r.status, r.body)
		}
	}
	// A limit given is a page size: 0 is not "the default", and a huge one is not "not a number".
	for limit, want := range map[string]string{"0": "limit must be 1 or more", "-1": "limit must be 1 or more",
		"201": "between 1 and 200", "100000000000000000000": "limit is too large", "ten": "limit must be a whole number"} {
		for _, path := range []string{"/api/v1/admin/orders", "/api/v1/admin/notifications"} {
			r := s.do(t, "GET", path+"?limit="+limit, nil, bearerHeader(token))
			if code, field, msg := apiError(t, r); r.status != 400 || code != "invalid_input" || field != "limit" || !strings.Contains(msg, want) {
				t.Errorf("%s?limit=%s: %d %s", path, limit, r.status, r.body)
			}
		}
	}
}

func TestPaymentReportsThatMustChangeNothing(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	a, b := s.checkout(t), s.checkout(t)
	payA, sigA := s.rzp.Pay(a.gatewayOrder, "card")
	_, sigB := s.rzp.Pay(b.gatewayOrder, "card")

	cases := []struct {
		name                string
		order, payment, sig string
		status              int
	}{
		{"a bad signature", a.gatewayOrder, payA, strings.Repeat("ab", 32), 400},
		{"a signature made for another order", a.gatewayOrder, payA, sigB, 400},
		{"a callback for an unknown order", "order_unknown123", payA, sigA, 404},
		{"no signature", a.gatewayOrder, payA, "", 400},
	}
	for _, c := range cases {
		if res := s.callback(t, c.order, c.payment, c.sig); res.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, res.status, res.body, c.status)
		}
	}
	if n := len(s.events(t, a.id)); n != 2 {
		t.Fatalf("refused callbacks appended events: %v", s.events(t, a.id))
	}

	captured := s.rzp.CapturedWebhook(payA)
	tampered := []byte(strings.Replace(string(captured), `"amount":129900`, `"amount":100`, 1))
	if string(tampered) == string(captured) {
		t.Fatal("test webhook has no amount to tamper with")
	}
	if res := s.do(t, "POST", "/api/v1/webhooks/razorpay", tampered, map[string]string{
		"X-Razorpay-Signature": razorpay.SignWebhook(testWebhookSecret, captured), "X-Razorpay-Event-Id": "evt_t"}); res.status != 400 {
		t.Errorf("tampered body: %d %s", res.status, res.body)
	}
	// A correctly signed one of another amount is a payment the order could not take:
	// TestAPaymentOfTheWrongAmountIsRecordedAndRefunded.
	if res := s.do(t, "POST", "/api/v1/webhooks/razorpay", captured, map[string]string{
		"X-Razorpay-Signature": razorpay.SignWebhook(testKeySecret, captured), "X-Razorpay-Event-Id": "evt_k"}); res.status != 400 {
		t.Errorf("signed with the key secret instead of the webhook secret: %d", res.status)
	}
	if n := len(s.events(t, a.id)); n != 2 {
		t.Fatalf("refused webhooks appended events: %v", s.events(t, a.id))
	}

	// The same delivery ten times at once: one change, nine no-ops.
	var wg sync.WaitGroup
	outcomes := make(chan string, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.webhook(t, captured, "evt_same")
			if res.status != 200 {
				t.Errorf("repeat: %d %s", res.status, res.body)
				return
			}
			outcomes <- res.json(t)["outcome"].(string)
		}()
	}
	wg.Wait()
	close(outcomes)
	count := map[string]int{}
	for o := range outcomes {
		count[o]++
	}
	if count["applied"] != 1 || count["duplicate"] != 9 {
		t.Fatalf("ten identical webhooks: %v", count)
	}
	if got := s.events(t, a.id); len(got) != 4 || got[2] != "payment_succeeded.v1 by gateway:razorpay" {
		t.Fatalf("after the webhooks: %v", got)
	}
	// The callback after the webhook is a 200 no-op too.
	if res := s.callback(t, a.gatewayOrder, payA, sigA); res.status != 200 || len(s.events(t, a.id)) != 4 {
		t.Fatalf("callback after webhook: %d %s, events %v", res.status, res.body, s.events(t, a.id))
	}
	// An event type we do not act on is acknowledged.
	other := []byte(`{"entity":"event","account_id":"acc_1","event":"order.paid","contains":["order"],"payload":{},"created_at":1}`)
	if res := s.webhook(t, other, "evt_other"); res.status != 200 || res.json(t)["outcome"] != "ignored" {
		t.Fatalf("unknown event: %d %s", res.status, res.body)
	}
}

func TestCancellationAndRefunds(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	cancel := func(o placed) response {
		return s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", []byte(`{"reason": "ordered twice"}`), bearerHeader(o.token))
	}

	unpaid := s.checkout(t)
	if res := cancel(unpaid); res.status != 200 || res.json(t)["status"] != "cancelled" {
		t.Fatalf("cancel unpaid: %d %s", res.status, res.body)
	}
	if len(s.rzp.Requests()) == 0 || strings.Contains(fmt.Sprint(s.rzp.Requests()), "/refund") {
		t.Fatal("an unpaid order was refunded")
	}

	paid := s.checkout(t)
	pay, sig := s.rzp.Pay(paid.gatewayOrder, "card")
	if res := s.callback(t, paid.gatewayOrder, pay, sig); res.status != 200 {
		t.Fatal(res.status)
	}
	res := cancel(paid)
	if res.status != 200 || res.json(t)["status"] != "refund_pending" {
		t.Fatalf("cancel paid: %d %s", res.status, res.body)
	}
	refunds := s.rzp.Refunds(pay)
	if len(refunds) != 1 || refunds[0].Amount != 129900 {
		t.Fatalf("refunds at the gateway: %+v", refunds)
	}
	var key string
	for _, r := range s.rzp.Requests() {
		if strings.HasSuffix(r.Path, "/refund") {
			key = r.Header.Get("X-Refund-Idempotency")
		}
	}
	if !strings.HasPrefix(key, "rfnd-") || len(key) < 10 {
		t.Fatalf("refund idempotency key %q", key)
	}
	// Cancelling again is refused and asks for no second refund.
	if res := cancel(paid); res.status != http.StatusConflict {
		t.Fatalf("second cancel: %d %s", res.status, res.body)
	}
	if res := s.webhook(t, s.rzp.RefundProcessedWebhook(refunds[0].ID), "evt_rf"); res.status != 200 || res.json(t)["outcome"] != "applied" {
		t.Fatalf("refund.processed: %d %s", res.status, res.body)
	}
	got := s.events(t, paid.id)
	if got[len(got)-3] != "cancelled.v1 by customer:guest" || got[len(got)-2] != "refund_initiated.v1 by customer:guest" || got[len(got)-1] != "refund_processed.v1 by gateway:razorpay" {
		t.Fatalf("paid order's events: %v", got)
	}
	if len(s.rzp.Refunds(pay)) != 1 {
		t.Fatal("refunded twice")
	}

	shipped := s.checkout(t)
	pay, sig = s.rzp.Pay(shipped.gatewayOrder, "card")
	s.callback(t, shipped.gatewayOrder, pay, sig)
	token, _ := s.adminToken(t, "ship@certibuy.in")
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+shipped.id+"/ship", []byte(`{"carrier":"DTDC","tracking_id":"D1"}`), bearerHeader(token)); r.status != 200 {
		t.Fatal(r.status, string(r.body))
	}
	res = cancel(shipped)
	if res.status != http.StatusConflict || !strings.Contains(string(res.body), "once it has shipped") {
		t.Fatalf("cancel after shipping: %d %s", res.status, res.body)
	}
	// Someone else's token cannot cancel.
	if r := s.do(t, "POST", "/api/v1/orders/"+unpaid.id+"/cancel", nil, bearerHeader(paid.token)); r.status != 404 {
		t.Fatalf("another order's token: %d", r.status)
	}
}

func TestTwoAdminsShipOneOrderAtOnce(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := s.checkout(t)
	pay, sig := s.rzp.Pay(o.gatewayOrder, "upi")
	s.callback(t, o.gatewayOrder, pay, sig)
	t1, _ := s.adminToken(t, "a@certibuy.in")
	t2, _ := s.adminToken(t, "b@certibuy.in")
	// Both loaded the order at version 4 and ship it at once.
	var wg sync.WaitGroup
	statuses := make([]response, 2)
	for i, tok := range []string{t1, t2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/ship",
				[]byte(fmt.Sprintf(`{"carrier":"BlueDart","tracking_id":"BD%d","expected_version":4}`, i)), bearerHeader(tok))
		}()
	}
	wg.Wait()
	codes := []int{statuses[0].status, statuses[1].status}
	if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
		t.Fatalf("statuses %v: %s / %s", codes, statuses[0].body, statuses[1].body)
	}
	loser := statuses[0]
	if codes[1] == 409 {
		loser = statuses[1]
	}
	details, _ := loser.json(t)["error"].(map[string]any)["details"].(map[string]any)
	if details["current_version"] != float64(5) {
		t.Fatalf("the 409 does not carry the current version: %s", loser.body)
	}
	shipped := 0
	for _, e := range s.events(t, o.id) {
		if strings.HasPrefix(e, "shipped") {
			shipped++
		}
	}
	if shipped != 1 {
		t.Fatalf("%d OrderShipped events", shipped)
	}
	// A stale If-Match is refused with the current version too.
	r := s.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/out-for-delivery", nil, map[string]string{"Authorization": "Bearer " + t1, "If-Match": `"4"`})
	if r.status != 409 {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
}

func TestEveryAdminRouteRefusesABadToken(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	good, _ := s.adminToken(t, "root@certibuy.in")
	revoked, _, err := s.deps.App.Admins.CreateToken(context.Background(), "root@certibuy.in", "old", 0)
	if err != nil {
		t.Fatal(err)
	}
	var revokedID string
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT id FROM admin_tokens WHERE name = 'old'`).Scan(&revokedID); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, s.cfg.DatabaseURL, "admin", "revoke-token", "--id", revokedID); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	expired, _, err := s.deps.App.Admins.CreateToken(context.Background(), "root@certibuy.in", "short", time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	routes := 0
	for _, r := range s.api.Echo().Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/admin/") || r.Path == "/api/v1/admin/login" {
			continue
		}
		routes++
		path := strings.NewReplacer(":id", "00000000-0000-0000-0000-000000000001").Replace(r.Path)
		for name, hdr := range map[string]map[string]string{
			"no token":      nil,
			"wrong token":   bearerHeader("cba_nope"),
			"revoked token": bearerHeader(revoked),
			"expired token": bearerHeader(expired),
			"basic auth":    {"Authorization": "Basic cm9vdDpyb290"},
		} {
			res := s.do(t, r.Method, path, nil, hdr)
			if res.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: %d", r.Method, r.Path, name, res.status)
			}
		}
		if res := s.do(t, r.Method, path, nil, bearerHeader(good)); res.status == http.StatusUnauthorized {
			t.Errorf("%s %s refuses a good token", r.Method, r.Path)
		}
	}
	if routes < 7 {
		t.Fatalf("walked %d admin routes", routes)
	}
}

func TestLoginAndCheckoutAreRateLimited(t *testing.T) {
	t.Parallel()
	// One token a minute: on a loaded CI machine the logins' bcrypt can take seconds, and a faster
	// refill would hand the third login a fresh token.
	s := startService(t, map[string]string{"LOGIN_RATE_PER_MINUTE": "1", "LOGIN_BURST": "2", "CHECKOUT_RATE_PER_MINUTE": "1", "CHECKOUT_BURST": "3"})
	if _, err := s.deps.App.Admins.CreateUser(context.Background(), "lim@certibuy.in", "Lim", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	login := func(pw string) int {
		return s.do(t, "POST", "/api/v1/admin/login", []byte(`{"email":"lim@certibuy.in","password":"`+pw+`"}`), nil).status
	}
	if st := login("correct horse battery"); st != 200 {
		t.Fatalf("login: %d", st)
	}
	if st := login("wrong password!"); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	res := s.do(t, "POST", "/api/v1/admin/login", []byte(`{"email":"lim@certibuy.in","password":"x"}`), nil)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" {
		t.Fatalf("third login in a burst of 2: %d %v", res.status, res.header)
	}
	for i := 0; i < 3; i++ {
		if r := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil); r.status != 201 {
			t.Fatalf("checkout %d: %d", i, r.status)
		}
	}
	if r := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("fourth checkout in a burst of 3: %d", r.status)
	}
	if n := s.count(t, `SELECT count(*) FROM events WHERE type = 'order.placed.v1'`); n != 3 {
		t.Fatalf("%d orders placed", n)
	}
}

func TestTheSimulatorWalksAnOrderThroughPayment(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil)
	pay := res.json(t)["payment"].(map[string]any)
	if pay["gateway"] != "simulator" || pay["simulated"] != true || !strings.Contains(pay["pay_url"].(string), "/dev/pay/order_sim") {
		t.Fatalf("simulated checkout: %s", res.body)
	}
	path := strings.TrimPrefix(pay["pay_url"].(string), s.base)
	page := s.do(t, "GET", path, nil, nil)
	if page.status != 200 || !strings.Contains(string(page.body), "SIMULATED PAYMENT") || !strings.Contains(string(page.body), "₹1,299.00") {
		t.Fatalf("pay page: %d %s", page.status, page.body)
	}
	signed := s.do(t, "POST", path, nil, nil).json(t)
	cb, _ := json.Marshal(signed["callback"])
	done := s.do(t, "POST", "/api/v1/payments/razorpay/callback", cb, nil)
	if done.status != 200 || done.json(t)["status"] != "confirmed" {
		t.Fatalf("callback: %d %s", done.status, done.body)
	}
	if r := s.do(t, "GET", "/dev/pay/order_simunknown", nil, nil); r.status != 404 {
		t.Fatalf("unknown gateway order page: %d", r.status)
	}
}
