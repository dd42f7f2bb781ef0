package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// refundKeys returns the X-Refund-Idempotency keys the fake Razorpay received, by payment id.
func (s *shop) refundKeys(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range s.rzp.Requests() {
		if p, ok := strings.CutSuffix(r.Path, "/refund"); ok {
			pay := p[strings.LastIndex(p, "/")+1:]
			out[pay] = append(out[pay], r.Header.Get("X-Refund-Idempotency"))
		}
	}
	return out
}

// A payment captured after the order was cancelled (the customer paid in another tab) is
// acknowledged however often Razorpay delivers it, recorded once, refunded once at once with a key
// derived from the payment id, and the refund's report settles it. The order stays cancelled.
func TestAPaymentForACancelledOrderIsRefundedOnce(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := s.checkout(t)
	if res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", []byte(`{"reason":"found it cheaper"}`), bearerHeader(o.token)); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	pay, sig := s.rzp.Pay(o.gatewayOrder, "upi")
	captured := s.rzp.CapturedWebhook(pay)

	// Ten deliveries of the same event at once, and the browser's callback among them: every one
	// answered 2xx.
	var wg sync.WaitGroup
	statuses := make(chan int, 11)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- s.webhook(t, captured, "evt_late").status
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		statuses <- s.callback(t, o.gatewayOrder, pay, sig).status
	}()
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusOK {
			t.Fatalf("a delivery was answered %d; Razorpay would retry it for a day", st)
		}
	}
	refunds := s.rzp.Refunds(pay)
	if len(refunds) != 1 || refunds[0].Amount != 129900 {
		t.Fatalf("refunds of the late payment: %+v", refunds)
	}
	if keys := s.refundKeys(t)[pay]; len(keys) != 1 || keys[0] != "rfnd-"+pay+"-0" {
		t.Fatalf("refund requests for %s: keys %v", pay, keys)
	}
	got := s.events(t, o.id)
	want := []string{"placed.v1 by customer:guest", "payment_requested.v1 by customer:guest", "cancelled.v1 by customer:guest",
		"unexpected_payment_received.v1 by gateway:razorpay", "unexpected_payment_refund_initiated.v1 by gateway:razorpay"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v\nwant   %v", got, want)
	}
	// The same webhook again, under another delivery id, changes nothing.
	if res := s.webhook(t, captured, "evt_late_again"); res.status != 200 || res.json(t)["outcome"] != "no_change" {
		t.Fatalf("the same payment under another delivery id: %d %s", res.status, res.body)
	}

	if res := s.webhook(t, s.rzp.RefundProcessedWebhook(refunds[0].ID), "evt_rp"); res.status != 200 || res.json(t)["outcome"] != "applied" {
		t.Fatalf("refund.processed: %d %s", res.status, res.body)
	}
	if got := s.events(t, o.id); got[len(got)-1] != "unexpected_payment_refunded.v1 by gateway:razorpay" {
		t.Fatalf("after the refund's report: %v", got)
	}
	view := s.do(t, "GET", "/api/v1/orders/"+o.id, nil, bearerHeader(o.token)).json(t)
	ups, _ := view["unexpected_payments"].([]any)
	if view["status"] != "cancelled" || len(ups) != 1 {
		t.Fatalf("the order as its customer sees it: %v", view)
	}
	up := ups[0].(map[string]any)
	refund := up["refund"].(map[string]any)
	if up["payment_id"] != pay || up["amount"] != "₹1,299.00" || refund["status"] != "processed" || refund["refund_id"] != refunds[0].ID {
		t.Fatalf("the late payment as the API shows it: %v", up)
	}
}

// A second payment with another id on a paid order is refunded; the first stays untouched.
func TestASecondPaymentOnAPaidOrderIsRefundedAndTheFirstKept(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := paidOrder(t, s)
	first := mustPaymentOf(t, &notifyShop{shop: s}, o.id)
	second, sig := s.rzp.PayAgain(o.gatewayOrder, "card")
	res := s.callback(t, o.gatewayOrder, second, sig)
	if res.status != 200 || res.json(t)["refunding_payment"] != true || res.json(t)["status"] != "confirmed" {
		t.Fatalf("callback of the second payment: %d %s", res.status, res.body)
	}
	// The browser's form post of the same callback lands on the order's page, which says the money
	// goes back.
	form := url.Values{"razorpay_order_id": {o.gatewayOrder}, "razorpay_payment_id": {second}, "razorpay_signature": {sig}}
	page, err := http.Post(s.base+"/api/v1/payments/razorpay/callback", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, page)
	if page.StatusCode != 200 || page.Request.URL.Path != "/orders/"+o.id || !strings.Contains(body, "we are refunding it in full") ||
		!strings.Contains(body, "after the order was already paid") {
		t.Fatalf("the browser's page after a second payment: %d %s %s", page.StatusCode, page.Request.URL, body)
	}
	if r := s.rzp.Refunds(second); len(r) != 1 || r[0].Amount != 129900 {
		t.Fatalf("refunds of the second payment: %+v", r)
	}
	if r := s.rzp.Refunds(first); len(r) != 0 {
		t.Fatalf("the first payment was refunded: %+v", r)
	}
	if res := s.webhook(t, s.rzp.CapturedWebhook(second), "evt_second"); res.status != 200 || res.json(t)["outcome"] != "no_change" {
		t.Fatalf("its webhook after the callback: %d %s", res.status, res.body)
	}
	view := s.do(t, "GET", "/api/v1/orders/"+o.id, nil, bearerHeader(o.token)).json(t)
	if view["status"] != "confirmed" || view["payment"].(map[string]any)["payment_id"] != first {
		t.Fatalf("the order after a second payment: %v", view)
	}
	if len(s.refundKeys(t)) != 1 {
		t.Fatalf("refund requests: %v", s.refundKeys(t))
	}
}

// When the refund of a late payment cannot be asked for at once (the gateway is down), the webhook
// is still acknowledged and the refund sweep asks again.
func TestALatePaymentsRefundTheGatewayRefusedIsAskedAgain(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"REFUND_SWEEP_INTERVAL": "100ms"})
	o := s.checkout(t)
	if res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", nil, bearerHeader(o.token)); res.status != 200 {
		t.Fatalf("cancel: %d", res.status)
	}
	pay, _ := s.rzp.Pay(o.gatewayOrder, "upi")
	s.rzp.FailNext(1, 500, `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error."}}`)
	if res := s.webhook(t, s.rzp.CapturedWebhook(pay), "evt_down"); res.status != 200 {
		t.Fatalf("payment.captured with the refund API down: %d %s", res.status, res.body)
	}
	// The gateway takes the request before the answer is recorded: wait for both.
	waitFor(t, 20*time.Second, func() bool {
		got := s.events(t, o.id)
		return len(s.rzp.Refunds(pay)) == 1 && got[len(got)-1] == "unexpected_payment_refund_initiated.v1 by system"
	}, fmt.Sprintf("the sweep never asked for the refund: events %v", s.events(t, o.id)))
	time.Sleep(300 * time.Millisecond) // a few more sweeps: they must ask for nothing more
	if n := len(s.rzp.Refunds(pay)); n != 1 {
		t.Fatalf("%d refunds of one payment", n)
	}
}

// Admins cancel with a reason and the version they saw, refunding a paid order as a customer's
// cancellation does; once shipped, cancelling is refused.
func TestAdminsCancelOrders(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	token, adminID := s.adminToken(t, "cancel@certibuy.in")
	o := paidOrder(t, s)
	cancel := func(id, body string, headers map[string]string) response {
		h := bearerHeader(token)
		for k, v := range headers {
			h[k] = v
		}
		return s.do(t, "POST", "/api/v1/admin/orders/"+id+"/cancel", []byte(body), h)
	}
	for _, bad := range []struct {
		body   string
		hdr    map[string]string
		status int
		field  string
	}{
		{`{}`, nil, 400, "reason"},
		{`{"reason":"   "}`, nil, 400, "reason"},
		{`{"reason":"out of stock","expected_version":2}`, nil, 409, "expected_version"},
		{`{"reason":"out of stock"}`, map[string]string{"If-Match": `"2"`}, 409, "expected_version"},
		{`{"reason":"out of stock"}`, map[string]string{"If-Match": `"x"`}, 400, "If-Match"},
	} {
		res := cancel(o.id, bad.body, bad.hdr)
		if res.status != bad.status || !strings.Contains(string(res.body), `"field":"`+bad.field+`"`) {
			t.Fatalf("%s %v: %d %s, want %d naming %s", bad.body, bad.hdr, res.status, res.body, bad.status, bad.field)
		}
	}
	if n := len(s.events(t, o.id)); n != 4 {
		t.Fatalf("refused cancellations appended events: %v", s.events(t, o.id))
	}
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/cancel", []byte(`{"reason":"x"}`), nil); r.status != 401 {
		t.Fatalf("without a token: %d", r.status)
	}
	res := cancel(o.id, `{"reason":"out of stock"}`, map[string]string{"If-Match": `"4"`})
	if res.status != 200 || res.json(t)["status"] != "refund_pending" || res.header.Get("ETag") != `"6"` {
		t.Fatalf("admin cancel: %d %s %v", res.status, res.body, res.header)
	}
	pay := mustPaymentOf(t, &notifyShop{shop: s}, o.id)
	want := "rfnd-" + strings.ReplaceAll(o.id, "-", "") + "-0"
	if keys := s.refundKeys(t)[pay]; len(keys) != 1 || keys[0] != want {
		t.Fatalf("refund keys %v, want [%s]: the key a customer's cancellation derives", keys, want)
	}
	got := s.events(t, o.id)
	if fmt.Sprint(got[4:]) != fmt.Sprint([]string{"cancelled.v1 by admin:" + adminID, "refund_initiated.v1 by admin:" + adminID}) {
		t.Fatalf("events %v", got)
	}
	var reason string
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT data->>'reason' FROM events WHERE stream_id = $1 AND type = 'order.cancelled.v1'`, "order-"+o.id).Scan(&reason); err != nil || reason != "out of stock" {
		t.Fatalf("reason %q, %v", reason, err)
	}

	shipped := paidOrder(t, s)
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+shipped.id+"/ship", []byte(`{"carrier":"Ekart","tracking_id":"FMPC42"}`), bearerHeader(token)); r.status != 200 {
		t.Fatalf("ship: %d %s", r.status, r.body)
	}
	if r := cancel(shipped.id, `{"reason":"too late"}`, nil); r.status != http.StatusConflict || !strings.Contains(string(r.body), "once it has shipped") {
		t.Fatalf("cancel after shipping: %d %s", r.status, r.body)
	}
	view := s.do(t, "GET", "/api/v1/admin/orders/"+shipped.id, nil, bearerHeader(token)).json(t)
	if sh := view["shipment"].(map[string]any); sh["carrier"] != "Ekart" || sh["tracking_url"] != "https://ekartlogistics.com/shipmenttrack/FMPC42" {
		t.Fatalf("shipment %v", sh)
	}
}

// In the console an admin sees the payments an order could not take with their refunds, and cancels
// the order with a reason; a cancel without one, or from a page left open too long, changes nothing.
func TestConsoleCancelsAndShowsPaymentsBeingRefunded(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	adminID := createAdmin(t, s.testService, "ops@certibuy.in")
	o := paidOrder(t, s)
	second, sig := s.rzp.PayAgain(o.gatewayOrder, "card")
	if res := s.callback(t, o.gatewayOrder, second, sig); res.status != 200 {
		t.Fatalf("second payment: %d", res.status)
	}

	cc := newConsoleClient(t, s.testService)
	login := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil)
	if login.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("login: %d", login.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	page := cc.get("/admin/orders/" + o.id)
	csrf := csrfOf(t, page)
	for _, bad := range []struct {
		form   url.Values
		status int
		says   string
	}{
		{url.Values{"csrf": {csrf}, "expected_version": {"6"}}, 400, "say why the order is cancelled"},
		{url.Values{"csrf": {csrf}, "expected_version": {"3"}, "reason": {"out of stock"}}, 409, "changed since you loaded it"},
		{url.Values{"expected_version": {"6"}, "reason": {"out of stock"}}, 403, ""},
	} {
		res := cc.post("/admin/orders/"+o.id+"/cancel", bad.form, nil)
		if res.status != bad.status || !strings.Contains(string(res.body), bad.says) {
			t.Fatalf("cancel with %v: %d %s", bad.form, res.status, res.body)
		}
	}
	if n := len(s.events(t, o.id)); n != 6 {
		t.Fatalf("refused cancels changed the order: %v", s.events(t, o.id))
	}

	ctx := newBrowser(t)
	browserLogin(t, ctx, s.base, "ops@certibuy.in", "/admin/orders/"+o.id)
	for _, vp := range viewports {
		openPage(t, ctx, vp.width, vp.height, s.base+"/admin/orders/"+o.id) // nothing wider than the screen
		table := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#unexpected-payments`)))
		if !strings.Contains(table, second) || !strings.Contains(table, "₹1,299.00") || !strings.Contains(table, "asked, waiting for the gateway") {
			t.Fatalf("payments being refunded: %q", table)
		}
		screenshot(t, ctx, "console-order-second-payment-"+vp.name)
	}
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`#cancel input[name=reason]`), "Out of stock"))
	if st := browserSubmit(t, ctx, `#cancel button`); st != http.StatusOK {
		t.Fatalf("cancel: %d", st)
	}
	if flash := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#flash`))); !strings.HasPrefix(flash, "Order cancelled.") {
		t.Fatalf("flash %q", flash)
	}
	if w := within(t, ctx, 10*time.Second, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); w > 390 {
		t.Fatalf("the cancelled order's page is %d px wide on a 390 px screen", w)
	}
	history := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#history tbody`)))
	if !strings.Contains(history, "Out of stock") || !strings.Contains(history, "Ops ops@certibuy.in") {
		t.Fatalf("right after cancelling, the history says %q", history)
	}
	screenshot(t, ctx, "console-order-cancelled-390")
	got := s.events(t, o.id)
	if fmt.Sprint(got[len(got)-2:]) != fmt.Sprint([]string{"cancelled.v1 by admin:" + adminID, "refund_initiated.v1 by admin:" + adminID}) {
		t.Fatalf("events %v", got)
	}
	first := mustPaymentOf(t, &notifyShop{shop: s}, o.id)
	if len(s.rzp.Refunds(first)) != 1 || len(s.rzp.Refunds(second)) != 1 {
		t.Fatalf("refunds: first %+v, second %+v", s.rzp.Refunds(first), s.rzp.Refunds(second))
	}
}

// storedUnexpected returns the data of the order's UnexpectedPaymentReceived events, as stored.
func (s *shop) storedUnexpected(t *testing.T, orderID string) []map[string]any {
	t.Helper()
	rows, err := s.deps.Pool.Query(context.Background(), `SELECT data FROM events WHERE stream_id = $1 AND type = 'order.unexpected_payment_received.v1' ORDER BY stream_version`, "order-"+orderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var m map[string]any
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// A payment captured on a placed order for another amount, or in another currency, than the
// order's is money Razorpay took all the same: the webhook is answered 2xx (a 4xx would be retried
// for a day, then the webhook disabled), the payment is recorded with why and refunded in full in its
// currency, a redelivery changes nothing, and the order stays placed: it can still be paid.
func TestAPaymentOfTheWrongAmountIsRecordedAndRefunded(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	for _, c := range []struct {
		name     string
		amount   int64
		currency string
		cause    string
		shown    string
	}{
		{"short", 100, "INR", "paid ₹1.00 (100 in the smallest unit of INR), the order is ₹1,299.00 (129900 paise)", "₹1.00"},
		{"in dollars", 129900, "USD", "paid USD 1299.00 (129900 in the smallest unit of USD), the order is ₹1,299.00 (129900 paise)", "USD 1299.00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := s.checkout(t)
			pay, sig := s.rzp.PayOther(o.gatewayOrder, "card", c.amount, c.currency)
			captured := s.rzp.CapturedWebhook(pay)
			if !strings.Contains(string(captured), `"currency":"`+c.currency+`"`) {
				t.Fatalf("the fake's webhook does not say the currency: %s", captured)
			}
			res := s.webhook(t, captured, "evt_odd_"+pay)
			if res.status != http.StatusOK || res.json(t)["outcome"] != "applied" {
				t.Fatalf("payment.captured of %d %s: %d %s", c.amount, c.currency, res.status, res.body)
			}
			for _, again := range []string{"evt_odd_" + pay, "evt_odd_again_" + pay} {
				if res := s.webhook(t, captured, again); res.status != http.StatusOK || res.json(t)["outcome"] == "applied" {
					t.Fatalf("redelivered as %s: %d %s", again, res.status, res.body)
				}
			}
			// The browser's callback of the same payment comes too: it says the money goes back.
			if res := s.callback(t, o.gatewayOrder, pay, sig); res.status != http.StatusOK || res.json(t)["refunding_payment"] != true || res.json(t)["status"] != "placed" {
				t.Fatalf("its callback: %d %s", res.status, res.body)
			}
			got := s.events(t, o.id)
			want := []string{"placed.v1 by customer:guest", "payment_requested.v1 by customer:guest",
				"unexpected_payment_received.v1 by gateway:razorpay", "unexpected_payment_refund_initiated.v1 by gateway:razorpay"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("events %v\nwant   %v", got, want)
			}
			stored := s.storedUnexpected(t, o.id)
			if len(stored) != 1 || stored[0]["cause"] != "wrong_amount" || stored[0]["reason"] != c.cause ||
				stored[0]["amount_paise"] != float64(c.amount) || stored[0]["currency"] != c.currency || stored[0]["payment_id"] != pay {
				t.Fatalf("stored %v", stored)
			}
			refunds := s.rzp.Refunds(pay)
			if len(refunds) != 1 || refunds[0].Amount != c.amount || refunds[0].Currency != c.currency {
				t.Fatalf("refunds at the gateway: %+v", refunds)
			}
			if keys := s.refundKeys(t)[pay]; len(keys) != 1 || keys[0] != "rfnd-"+pay+"-0" {
				t.Fatalf("refund requests for %s: keys %v", pay, keys)
			}
			view := s.do(t, "GET", "/api/v1/orders/"+o.id, nil, bearerHeader(o.token)).json(t)
			ups, _ := view["unexpected_payments"].([]any)
			if view["status"] != "placed" || len(ups) != 1 {
				t.Fatalf("the order as its customer sees it: %v", view)
			}
			if up := ups[0].(map[string]any); up["cause"] != "wrong_amount" || up["amount"] != c.shown || up["currency"] != c.currency {
				t.Fatalf("the payment as the API shows it: %v", up)
			}
			if p, _ := view["payment"].(map[string]any); p["payment_id"] != nil && p["payment_id"] != "" {
				t.Fatalf("the order took the payment: %v", p)
			}

			// The customer pays the right amount afterwards: the order takes it.
			right, rsig := s.rzp.Pay(o.gatewayOrder, "upi")
			if res := s.callback(t, o.gatewayOrder, right, rsig); res.status != 200 || res.json(t)["status"] != "confirmed" || res.json(t)["refunding_payment"] == true {
				t.Fatalf("paying the right amount: %d %s", res.status, res.body)
			}
			if r := s.rzp.Refunds(right); len(r) != 0 {
				t.Fatalf("the right payment was refunded: %+v", r)
			}
		})
	}
}

// Asking again for the refund of an order refunded already, or whose refund is waiting for the
// gateway, is a 409 that says so, not that the order cannot be refunded; nothing is asked of the
// gateway.
func TestAskingAgainForARefundMadeAlreadySaysSo(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	token, _ := s.adminToken(t, "refunds@certibuy.in")
	retry := func(id string) response {
		return s.do(t, "POST", "/api/v1/admin/orders/"+id+"/refund", nil, bearerHeader(token))
	}
	o := paidOrder(t, s)
	if res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", []byte(`{"reason":"ordered twice"}`), bearerHeader(o.token)); res.status != 200 || res.json(t)["status"] != "refund_pending" {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	pay := mustPaymentOf(t, &notifyShop{shop: s}, o.id)
	if res := retry(o.id); res.status != http.StatusConflict || !strings.Contains(string(res.body), "no refund is outstanding: its refund was asked for and is waiting for the gateway") {
		t.Fatalf("while the refund is pending: %d %s", res.status, res.body)
	}
	refunds := s.rzp.Refunds(pay)
	if len(refunds) != 1 {
		t.Fatalf("refunds %+v", refunds)
	}
	if res := s.webhook(t, s.rzp.RefundProcessedWebhook(refunds[0].ID), "evt_done"); res.status != 200 {
		t.Fatalf("refund.processed: %d %s", res.status, res.body)
	}
	res := retry(o.id)
	if res.status != http.StatusConflict || !strings.Contains(string(res.body), "no refund is outstanding: the order was already refunded") ||
		strings.Contains(string(res.body), "only a cancelled, paid order") {
		t.Fatalf("once refunded: %d %s", res.status, res.body)
	}
	if n := len(s.refundKeys(t)[pay]); n != 1 {
		t.Fatalf("%d refund requests for %s, want the cancellation's only", n, pay)
	}
	if got := s.events(t, o.id); got[len(got)-1] != "refund_processed.v1 by gateway:razorpay" {
		t.Fatalf("the refused retries changed the order: %v", got)
	}
	// An order never paid still cannot be refunded, and is told so.
	unpaid := s.checkout(t)
	if res := retry(unpaid.id); res.status != http.StatusConflict || !strings.Contains(string(res.body), "only a cancelled, paid order can be refunded") {
		t.Fatalf("an unpaid order: %d %s", res.status, res.body)
	}
}
