package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// insufficientBalance is what Razorpay says when the account cannot cover a refund.
const insufficientBalance = "The balance in your account is insufficient to process the refund. Please add funds and try again."

// sweepEvery is the sweep's interval, and how long it leaves a refund alone after it was asked:
// long enough that it does not ask at the same time as the request it follows, even under -race on
// a busy machine (the two would ask for the same attempt, and Razorpay would be asked once more).
const sweepEvery = "1s"

const serverError = `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error."}}`

// consoleAs logs an existing admin in to the console.
func consoleAs(t *testing.T, s *shop, email string) *consoleClient {
	t.Helper()
	cc := newConsoleClient(t, s.testService)
	login := cc.post("/admin/login", url.Values{"email": {email}, "password": {consolePassword}}, nil)
	if login.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("login: %d", login.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	return cc
}

// count is how many of the order's events are exactly want.
func count(events []string, want string) int {
	n := 0
	for _, e := range events {
		if e == want {
			n++
		}
	}
	return n
}

// storedRefusals are the refund ids and reasons of the order's refusal events of this type, as stored.
func (s *shop) storedRefusals(t *testing.T, orderID, eventType string) []string {
	t.Helper()
	rows, err := s.deps.Pool.Query(context.Background(), `SELECT coalesce(data->>'refund_id', '<none>') || ' ' || (data->>'reason')
		FROM events WHERE stream_id = $1 AND type = $2 ORDER BY stream_version`, "order-"+orderID, eventType)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// customerPage is the order's page as the link in the customer's messages opens it.
func (s *shop) customerPage(t *testing.T, o placed) string {
	t.Helper()
	res, err := http.Get(s.linkFor(t, o.id, o.number))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("order page: %d %v", res.StatusCode, err)
	}
	return string(b)
}

// owedOnHome is the console home page's "Refunds outstanding" card.
func owedOnHome(t *testing.T, cc *consoleClient) string {
	t.Helper()
	home := string(cc.get("/admin").body)
	i := strings.Index(home, `id="refunds"`)
	if i < 0 {
		t.Fatalf("no refunds card on the home page: %s", home)
	}
	card := home[i:]
	return card[:strings.Index(card, "</section>")]
}

// Razorpay refuses a refund when asked (a 400 with its envelope, as for an insufficient balance):
// the console's cancellation records the refusal with Razorpay's description and answers with the
// order's page, saying why and pointing at the button that asks again; the sweep asks twice more,
// each refusal recorded, and stops after the third (Razorpay is asked exactly three times). The
// refund is then staff's: the console says so, the API says handed_over, and the customer's page
// promises no retry. Staff ask again once the cause is fixed, and the refund goes through.
func TestARefundRefusedWhenAskedIsRecordedAndHandedOverAfterThree(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"REFUND_SWEEP_INTERVAL": sweepEvery})
	token, _ := s.adminToken(t, "api@certibuy.in")
	adminID := createAdmin(t, s.testService, "ops@certibuy.in")
	o := paidOrder(t, s)
	pay := mustPaymentOf(t, &notifyShop{shop: s}, o.id)
	s.rzp.RefuseRefunds(insufficientBalance)

	cc := consoleAs(t, s, "ops@certibuy.in")
	page := cc.get("/admin/orders/" + o.id)
	res := cc.post("/admin/orders/"+o.id+"/cancel", url.Values{"csrf": {csrfOf(t, page)}, "expected_version": {"4"},
		"reason": {"Out of stock"}}, nil)
	body := string(res.body)
	for _, want := range []string{
		"The order is cancelled, but the payment gateway refused the refund: " + strings.TrimSuffix(insufficientBalance, "."),
		"(1 so far)", "press “Ask the gateway for the refund again” on this page",
		`action="/admin/orders/` + o.id + `/refund"`,
	} {
		if res.status != http.StatusBadGateway || !strings.Contains(body, want) {
			t.Fatalf("console cancel with the refund refused: %d, want %q in %s", res.status, want, body)
		}
	}
	if strings.Contains(body, "try again shortly") || strings.Contains(body, "cancelling again") {
		t.Fatalf("the page points at a cancel form it does not have: %s", body)
	}
	got := s.events(t, o.id) // the sweep may have asked again already
	if fmt.Sprint(got[4:6]) != fmt.Sprint([]string{"cancelled.v1 by admin:" + adminID, "refund_failed.v1 by admin:" + adminID}) {
		t.Fatalf("events %v", got)
	}

	waitFor(t, 20*time.Second, func() bool {
		return count(s.events(t, o.id), "refund_failed.v1 by system") == 2
	}, fmt.Sprintf("the sweep never asked twice more: events %v", s.events(t, o.id)))
	time.Sleep(3 * time.Second) // more sweeps: they must not ask again
	wantKey := func(attempt int) string {
		return fmt.Sprintf("rfnd-%s-%d", strings.ReplaceAll(o.id, "-", ""), attempt)
	}
	if keys := s.refundKeys(t)[pay]; fmt.Sprint(keys) != fmt.Sprint([]string{wantKey(0), wantKey(1), wantKey(2)}) {
		t.Fatalf("Razorpay was asked with keys %v, want three attempts, one each", keys)
	}
	if got := s.events(t, o.id); len(got) != 8 {
		t.Fatalf("events %v", got)
	}
	for _, r := range s.storedRefusals(t, o.id, "order.refund_failed.v1") {
		if r != " "+insufficientBalance {
			t.Fatalf("stored refusal %q, want no refund id and Razorpay's description", r)
		}
	}

	// The API: the customer's view says who acts now, without the shop's account's troubles; staff see the reason.
	view := s.do(t, "GET", "/api/v1/orders/"+o.id, nil, bearerHeader(o.token)).json(t)
	if r := view["refund"].(map[string]any); r["status"] != "handed_over" || r["refusals"] != float64(3) || r["last_refusal"] != nil {
		t.Fatalf("the customer's API refund %v", r)
	}
	staff := s.do(t, "GET", "/api/v1/admin/orders/"+o.id, nil, bearerHeader(token)).json(t)
	if r := staff["refund"].(map[string]any); r["status"] != "handed_over" || r["last_refusal"] != insufficientBalance {
		t.Fatalf("the admin API refund %v", r)
	}
	// The customer's page promises no retry.
	cp := s.customerPage(t, o)
	if !strings.Contains(cp, "Our team is handling it and will contact you.") || strings.Contains(cp, "will follow shortly") ||
		strings.Contains(cp, "asks again") || strings.Contains(cp, "balance") {
		t.Fatalf("the customer's page: %s", cp)
	}
	if n := strings.Count(cp, `<span class="step">Cancelled</span>`); n != 1 {
		t.Fatalf("the customer's timeline shows Cancelled %d times", n)
	}
	// The console: the refund is staff's, with the reason and the button.
	page = cc.get("/admin/orders/" + o.id)
	body = string(page.body)
	for _, want := range []string{`id="refund-yours"`, "owed, yours: refused 3 times", "3 times; the gateway's reason: " + insufficientBalance,
		`action="/admin/orders/` + o.id + `/refund"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("the console's order page lacks %q: %s", want, body)
		}
	}
	if card := owedOnHome(t, cc); !strings.Contains(card, o.number) {
		t.Fatalf("the home page's refunds outstanding: %s", card)
	}

	// Asking again while Razorpay still refuses: recorded, and said.
	res = cc.post("/admin/orders/"+o.id+"/refund", url.Values{"csrf": {csrfOf(t, page)}}, nil)
	if body := string(res.body); res.status != http.StatusBadGateway || !strings.Contains(body, "It has refused it 4 times, so the service no longer asks on its own: the refund is yours.") ||
		strings.Contains(body, "The order is cancelled") {
		t.Fatalf("asking again, refused: %d %s", res.status, body)
	}
	if got := s.events(t, o.id); got[len(got)-1] != "refund_failed.v1 by admin:"+adminID {
		t.Fatalf("events %v", got)
	}
	// Fixed: asked once more, taken.
	s.rzp.RefuseRefunds("")
	res = cc.post("/admin/orders/"+o.id+"/refund", url.Values{"csrf": {csrfOf(t, page)}}, nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("asking again, fixed: %d %s", res.status, res.body)
	}
	if got := s.events(t, o.id); got[len(got)-1] != "refund_initiated.v1 by admin:"+adminID || len(s.rzp.Refunds(pay)) != 1 {
		t.Fatalf("events %v, refunds %v", got, s.rzp.Refunds(pay))
	}
	if keys := s.refundKeys(t)[pay]; len(keys) != 5 || keys[4] != wantKey(4) {
		t.Fatalf("keys %v", keys)
	}
}

// A 5xx when asking is not a refusal: not recorded, not counted, asked again with the same key. A
// refusal the sweep meets is recorded as the cancellation's is, three in all. A customer's
// cancellation that Razorpay refuses says what happens next, not the shop's reason.
func TestTheSweepRecordsRefusalsButNotServerErrors(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"REFUND_SWEEP_INTERVAL": sweepEvery})
	o := paidOrder(t, s)
	pay := mustPaymentOf(t, &notifyShop{shop: s}, o.id)
	s.rzp.RefuseRefunds(insufficientBalance)
	s.rzp.FailNext(3, 500, serverError) // the cancellation's request and the sweep's next two
	res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", nil, bearerHeader(o.token))
	e := res.json(t)["error"].(map[string]any)
	if res.status != http.StatusBadGateway || e["code"] != "refund_failed" || e["details"].(map[string]any)["refused"] != false {
		t.Fatalf("cancel with Razorpay failing: %d %s", res.status, res.body)
	}
	waitFor(t, 20*time.Second, func() bool {
		return count(s.events(t, o.id), "refund_failed.v1 by system") == 3
	}, fmt.Sprintf("the sweep never met three refusals: events %v", s.events(t, o.id)))
	time.Sleep(3 * time.Second) // more sweeps: they must not ask again
	key := func(attempt int) string { return fmt.Sprintf("rfnd-%s-%d", strings.ReplaceAll(o.id, "-", ""), attempt) }
	want := []string{key(0), key(0), key(0), key(0), key(1), key(2)} // three 5xx, then three refusals
	if keys := s.refundKeys(t)[pay]; fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	got := s.events(t, o.id)
	if fmt.Sprint(got[4:]) != fmt.Sprint([]string{"cancelled.v1 by customer:guest", "refund_failed.v1 by system",
		"refund_failed.v1 by system", "refund_failed.v1 by system"}) {
		t.Fatalf("events %v", got)
	}
	if r := s.do(t, "GET", "/api/v1/orders/"+o.id, nil, bearerHeader(o.token)).json(t)["refund"].(map[string]any); r["status"] != "handed_over" {
		t.Fatalf("refund %v", r)
	}
	// The customer cancelling again does not ask for a refund that is now staff's.
	if res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", nil, bearerHeader(o.token)); res.status != 200 || len(s.refundKeys(t)[pay]) != len(want) {
		t.Fatalf("cancelling again: %d %s, keys %v", res.status, res.body, s.refundKeys(t)[pay])
	}

	// A customer's cancellation refused at once: told what comes next, not why.
	b := paidOrder(t, s)
	res = s.do(t, "POST", "/api/v1/orders/"+b.id+"/cancel", nil, bearerHeader(b.token))
	e = res.json(t)["error"].(map[string]any)
	d := e["details"].(map[string]any)
	if res.status != http.StatusBadGateway || d["refused"] != true || d["refusals"] != float64(1) || d["reason"] != nil ||
		strings.Contains(string(res.body), "balance") || !strings.Contains(e["message"].(string), "we ask the gateway again on our own") {
		t.Fatalf("a customer's cancel refused: %d %s", res.status, res.body)
	}
	if got := s.events(t, b.id); got[len(got)-1] != "refund_failed.v1 by customer:guest" {
		t.Fatalf("events %v", got)
	}

	// The same from the order page's form: the page says the refund is still to come.
	c := paidOrder(t, s)
	link, err := url.Parse(s.linkFor(t, c.id, c.number))
	if err != nil {
		t.Fatal(err)
	}
	form := newConsoleClient(t, s.testService) // any client that does not follow redirects
	res = form.post("/orders/"+c.id+"/cancel", url.Values{"t": {link.Query().Get("t")}}, map[string]string{"Origin": s.base})
	if loc := res.header.Get("Location"); res.status != http.StatusSeeOther || !strings.Contains(loc, "done=cancelled-refund-later") {
		t.Fatalf("the page's cancel refused: %d to %q", res.status, loc)
	}
	if page := string(form.get(res.header.Get("Location")).body); !strings.Contains(page, "The payment gateway did not start your refund just now; we ask it again on our own") ||
		strings.Contains(page, "balance") {
		t.Fatalf("the page after cancelling: %s", page)
	}
	if got := s.events(t, c.id); got[len(got)-1] != "refund_failed.v1 by customer:guest" {
		t.Fatalf("events %v", got)
	}
}

// The refund of a payment the order could not take is refused the same way: recorded
// (UnexpectedRefundFailed) with Razorpay's description, asked again by the sweep until the third
// refusal, then staff's; once staff ask and Razorpay takes it, nothing is outstanding.
func TestALatePaymentsRefundRefusedWhenAskedIsHandedOverAfterThree(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"REFUND_SWEEP_INTERVAL": sweepEvery})
	token, _ := s.adminToken(t, "api@certibuy.in")
	createAdmin(t, s.testService, "ops@certibuy.in")
	o := s.checkout(t)
	if res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", nil, bearerHeader(o.token)); res.status != 200 {
		t.Fatalf("cancel: %d", res.status)
	}
	s.rzp.RefuseRefunds(insufficientBalance)
	pay, _ := s.rzp.Pay(o.gatewayOrder, "upi")
	if res := s.webhook(t, s.rzp.CapturedWebhook(pay), "evt_late"); res.status != 200 {
		t.Fatalf("payment.captured with refunds refused: %d %s", res.status, res.body)
	}
	const failed = "unexpected_payment_refund_failed.v1"
	waitFor(t, 20*time.Second, func() bool {
		n := 0
		for _, e := range s.events(t, o.id) {
			if strings.HasPrefix(e, failed) {
				n++
			}
		}
		return n == 3
	}, fmt.Sprintf("never three refusals: events %v", s.events(t, o.id)))
	time.Sleep(3 * time.Second) // more sweeps: they must not ask again
	want := []string{"rfnd-" + pay + "-0", "rfnd-" + pay + "-1", "rfnd-" + pay + "-2"}
	if keys := s.refundKeys(t)[pay]; fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	for _, r := range s.storedRefusals(t, o.id, "order."+failed) {
		if r != " "+insufficientBalance {
			t.Fatalf("stored refusal %q", r)
		}
	}
	u := s.do(t, "GET", "/api/v1/orders/"+o.id, nil, bearerHeader(o.token)).json(t)["unexpected_payments"].([]any)[0].(map[string]any)
	if r := u["refund"].(map[string]any); r["status"] != "handed_over" || r["last_refusal"] != nil {
		t.Fatalf("the customer's API: %v", r)
	}
	if cp := s.customerPage(t, o); !strings.Contains(cp, "Our team is handling it and will contact you.") {
		t.Fatalf("the customer's page: %s", cp)
	}
	staff := s.do(t, "GET", "/api/v1/admin/orders/"+o.id, nil, bearerHeader(token)).json(t)
	if r := staff["unexpected_payments"].([]any)[0].(map[string]any)["refund"].(map[string]any); r["last_refusal"] != insufficientBalance {
		t.Fatalf("the admin API: %v", r)
	}
	cc := consoleAs(t, s, "ops@certibuy.in")
	if card := owedOnHome(t, cc); !strings.Contains(card, o.number) {
		t.Fatalf("the home page's refunds outstanding: %s", card)
	}

	s.rzp.RefuseRefunds("")
	res := s.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/refund", nil, bearerHeader(token))
	if res.status != 200 {
		t.Fatalf("admin refund: %d %s", res.status, res.body)
	}
	if got := s.events(t, o.id); !strings.HasPrefix(got[len(got)-1], "unexpected_payment_refund_initiated.v1 by admin:") {
		t.Fatalf("events %v", got)
	}
	if card := owedOnHome(t, cc); strings.Contains(card, o.number) {
		t.Fatalf("asked and pending, still listed as owed: %s", card)
	}
}
