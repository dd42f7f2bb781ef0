package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certibuy/orders/adapters/sms/smstest"
)

// consoleAt opens a console page at a viewport width, checks that nothing is wider than the screen,
// and keeps a screenshot of it.
func consoleAt(t *testing.T, ctx context.Context, width, height int64, u, shot string) {
	t.Helper()
	openPage(t, ctx, width, height, u)
	if lang := within(t, ctx, 10*time.Second, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "en-IN" {
		t.Fatalf("%s: lang %q", u, lang)
	}
	if within(t, ctx, 10*time.Second, chromedp.Evaluate[bool](`document.querySelector("iframe") !== null`)) {
		// Chromium paints a sandboxed frame only within the screen: make the screen as tall as the
		// page, then wait for the frame to load and paint, so that the screenshot shows the message.
		tall := within(t, ctx, 10*time.Second, chromedp.Evaluate[int64](`document.documentElement.scrollHeight`))
		within(t, ctx, 10*time.Second, chromedp.EmulateViewport(width, tall))
		waitFor(t, 10*time.Second, func() bool {
			return within(t, ctx, 5*time.Second, chromedp.Evaluate[bool](
				`performance.getEntriesByType("resource").some(e => e.initiatorType === "iframe" && e.responseEnd > 0)`))
		}, u+": the message's frame never loaded")
		time.Sleep(500 * time.Millisecond)
		screenshot(t, ctx, shot)
		within(t, ctx, 10*time.Second, chromedp.EmulateViewport(width, height))
		return
	}
	screenshot(t, ctx, shot)
}

// textOf is the visible text of the first element sel matches.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(sel)))
}

// The questions of a person running the shop, answered from the console alone, on a laptop and on a
// phone: what needs my attention today (the home page), did this customer get told and what did it
// say (the order's messages and a message's own page), and who did what (the audit, with people's
// names and order numbers).
func TestTheConsoleAnswersWhatNeedsAttentionAndWhatACustomerWasTold(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"SMS_WEBHOOK_TOKEN": reportToken})
	// The first order's two e-mails are refused on every attempt: they fail. Its SMS go out; MSG91
	// reports the payment's delivered and the confirmation's not (the phone was off).
	n.smtp.RefuseNext(6, 451, "4.3.0 Try again later")
	first := n.pay(t)
	n.waitSettled(t, first.id, 4)
	for sms, report := range map[string][3]string{"payment_successful": {"1", "DELIVRD", ""}, "order_confirmed": {"2", "Failed", "Absent subscriber"}} {
		if st, err := n.msg91.Report(n.reportURL("msg91", reportToken), smstest.MSG91V3, n.smsOf(t, first.id, sms).requestID,
			report[0], report[1], report[2]); err != nil || st != http.StatusOK {
			t.Fatalf("the %s SMS's report: %d %v", sms, st, err)
		}
	}
	unpaid := n.checkout(t) // not paid
	owing := n.pay(t)       // cancelled while the gateway's refunds are down: the refund is owed
	n.rzp.FailNext(1, 500, `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error."}}`)
	if res := n.do(t, "POST", "/api/v1/orders/"+owing.id+"/cancel", nil, bearerHeader(owing.token)); res.status != http.StatusBadGateway {
		t.Fatalf("cancel with the refund API down: %d %s", res.status, res.body)
	}
	createAdmin(t, n.testService, "ops@certibuy.in")
	ctx := newBrowser(t)
	consoleAt(t, ctx, 390, 844, n.base+"/admin/login", "console-login-390")
	browserLogin(t, ctx, n.base, "ops@certibuy.in", "/admin")
	if loc := within(t, ctx, 10*time.Second, chromedp.Location()); loc != n.base+"/admin" {
		t.Fatalf("after login: %s", loc)
	}

	// Home: today's orders, the one to ship, the two failed e-mails, the refund owed. The figures
	// come from the read models: reload until they have caught up.
	waitFor(t, 30*time.Second, func() bool {
		within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+"/admin"))
		return textOf(t, ctx, "#today .figure") == "3" && textOf(t, ctx, "#failed .figure") == "2" &&
			strings.Contains(textOf(t, ctx, "#refunds"), owing.number) && strings.Contains(textOf(t, ctx, "#failed"), "1 SMS went out but did not reach the phone")
	}, "the home page never showed 3 orders today, 2 failed messages, 1 SMS undelivered and the refund owed")
	// The same figures, for alerts (docs/OPERATIONS.md).
	metrics := n.scrape(t)
	for _, want := range []string{"certibuy_notifications_failed 2", "certibuy_refunds_owed 1", "certibuy_orders_waiting_to_ship 1",
		`certibuy_poison_messages{topic="notifications_poison"} 2`} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	today := time.Now().In(india()).Format("02/01/2006")
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin", "console-home-"+vp.name)
		if got := textOf(t, ctx, "#to-ship .figure"); got != "1" {
			t.Fatalf("waiting to ship: %q", got)
		}
		href, err := url.Parse(within(t, ctx, 10*time.Second, chromedp.Attributes(chromedp.CSS(`#today .figure a`)))["href"])
		if err != nil || href.Path != "/admin/orders" || href.Query().Get("from") != today || href.Query().Get("to") != today {
			t.Fatalf("today's figure links to %v", href)
		}
		rows := within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#recent-failed tr.notification")).map(tr => tr.innerText)`))
		if len(rows) != 2 || !strings.Contains(rows[0], first.number) || !strings.Contains(rows[0], "451") {
			t.Fatalf("latest failed notifications: %q", rows)
		}
		if pipeline := textOf(t, ctx, "#pipeline"); !strings.Contains(pipeline, "notification requests") || !strings.Contains(pipeline, "notification log") ||
			!strings.Contains(pipeline, "notifications_poison") || !strings.Contains(pipeline, "queued") {
			t.Fatalf("behind the scenes: %q", pipeline)
		}
	}
	// The SMTP server has recovered: resending one from the home page sends it and comes back home.
	failedID := within(t, ctx, 10*time.Second, chromedp.Evaluate[string](`document.querySelector("#recent-failed tr.notification").dataset.id`))
	if st := browserSubmit(t, ctx, `#recent-failed tr.notification form.resend button`); st != http.StatusOK {
		t.Fatalf("resend: %d", st)
	}
	if loc := within(t, ctx, 10*time.Second, chromedp.Location()); loc != n.base+"/admin?msg=resent" || textOf(t, ctx, "#flash") != "The notification is queued to be sent again." {
		t.Fatalf("after resending from home: %s", loc)
	}

	// The order list filtered to today, the Indian way.
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin/orders?from="+today+"&to="+today, "console-orders-"+vp.name)
		list := textOf(t, ctx, "#orders")
		for _, o := range []placed{first, unpaid, owing} {
			if !strings.Contains(list, o.number) {
				t.Fatalf("today's orders lack %s: %q", o.number, list)
			}
		}
		if !strings.Contains(list, "+91 98765 43210") || !strings.Contains(list, today+", ") || !strings.Contains(list, " IST") {
			t.Fatalf("phones and times are not written the Indian way: %q", list)
		}
	}

	// The order: did the customer get told? Its messages, each with its status and a link to it.
	var messages []string
	waitFor(t, 30*time.Second, func() bool {
		within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+"/admin/orders/"+first.id))
		messages = within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#notifications tr.notification")).map(tr => tr.innerText.replace(/\s+/g, " "))`))
		sent := 0
		for _, m := range messages {
			if strings.Contains(m, " sent ") {
				sent++
			}
		}
		return len(messages) == 4 && sent == 3
	}, "the order page never listed the order's 4 messages, 3 of them sent")
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin/orders/"+first.id, "console-order-"+vp.name)
		if got := textOf(t, ctx, "#phone"); got != "+91 98765 43210" {
			t.Fatalf("the customer's phone: %q", got)
		}
	}

	// A message's own page: the SMS that confirmed the order, as MSG91 took it, and its text.
	smsID := within(t, ctx, 10*time.Second, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll("#notifications tr.notification")).find(tr => tr.innerText.includes("order confirmed SMS")).dataset.id`))
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin/notifications/"+smsID, "console-notification-sms-"+vp.name)
		facts := textOf(t, ctx, "#facts")
		if !strings.Contains(facts, first.number) || !strings.Contains(facts, "+91 98765 43210") || !strings.Contains(facts, "msg91") ||
			!regexp.MustCompile(`Sent\s+\d\d/\d\d/20\d\d, `).MatchString(facts) {
			t.Fatalf("the SMS's facts: %q", facts)
		}
		attempts := textOf(t, ctx, "#attempts")
		if !strings.Contains(attempts, "msg91") || !strings.Contains(attempts, "sent") || !strings.Contains(attempts, `"type": "success"`) {
			t.Fatalf("the SMS's attempts: %q", attempts)
		}
		if text := textOf(t, ctx, "#sms-text"); !strings.HasPrefix(text, "CertiBuy: Hi Asha, ") || !strings.Contains(text, first.number) {
			t.Fatalf("the SMS's text: %q", text)
		}
		if note := textOf(t, ctx, "#rerendered"); !strings.Contains(note, "Rendered again from what the notification stored") {
			t.Fatalf("the page does not say the message is rendered again: %q", note)
		}
		// Sent, but MSG91 reported it did not reach the phone: it says why, and offers to send it again.
		if delivery := textOf(t, ctx, "#delivery"); !strings.Contains(delivery, "undelivered") || !strings.Contains(delivery, "Absent subscriber") ||
			!strings.Contains(attempts, "undelivered") {
			t.Fatalf("the SMS's delivery report: %q; attempts %q", delivery, attempts)
		}
		if n := within(t, ctx, 10*time.Second, chromedp.Evaluate[int](`document.querySelectorAll("#resend button").length`)); n != 1 {
			t.Fatal("an SMS reported undelivered offers no resend")
		}
	}

	// The e-mail that failed and was resent: every attempt with the server's answer, then sent.
	var attempts []string
	waitFor(t, 30*time.Second, func() bool {
		within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+"/admin/notifications/"+failedID))
		attempts = within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#attempts tr.attempt")).map(tr => tr.innerText.replace(/\s+/g, " "))`))
		return len(attempts) == 4
	}, "the resent e-mail's page never showed its 4 attempts")
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin/notifications/"+failedID, "console-notification-email-"+vp.name)
		if !strings.Contains(attempts[0], "451") || !strings.Contains(attempts[3], "sent") {
			t.Fatalf("attempts: %q", attempts)
		}
		if subject := textOf(t, ctx, "#subject"); !strings.Contains(subject, first.number) {
			t.Fatalf("subject %q", subject)
		}
		history := textOf(t, ctx, "#events")
		if !strings.Contains(history, "notification.resent.v1") || !strings.Contains(history, "Ops ops@certibuy.in") {
			t.Fatalf("the e-mail's history does not say who resent it: %q", history)
		}
	}

	// The notification log, filtered by the event that sent the message.
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin/notifications?event_type=order.confirmed.v1", "console-notifications-"+vp.name)
		types := within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#notifications tr.notification .view")).map(a => a.innerText)`))
		if len(types) != 4 {
			t.Fatalf("messages sent on order.confirmed.v1: %q", types)
		}
		for _, typ := range types {
			if !strings.HasPrefix(typ, "order confirmed ") {
				t.Fatalf("the event_type filter let %q through", typ)
			}
		}
	}

	// The audit: newest first, order numbers and people's names, the data pretty-printed and folded.
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin/audit?limit=12", "console-audit-all-"+vp.name)
		if about := textOf(t, ctx, "#events"); !strings.Contains(about, "order confirmed e-mail") || !strings.Contains(about, "Ops ops@certibuy.in") {
			t.Fatalf("the audit does not say which message a notification's event is about, or who resent it: %q", about)
		}
	}
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, n.base+"/admin/audit?order="+owing.number, "console-audit-"+vp.name)
		rows := within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#events tr.event")).map(tr => tr.innerText.replace(/\s+/g, " "))`))
		if len(rows) < 5 || !strings.Contains(rows[0], "order.cancelled.v1") || !strings.Contains(rows[len(rows)-1], "order.placed.v1") {
			t.Fatalf("audit rows, newest first: %q", rows)
		}
		about := textOf(t, ctx, "#events tr.event .about")
		if about != owing.number {
			t.Fatalf("the audit names the order %q, not by its number %s", about, owing.number)
		}
		body := textOf(t, ctx, "#events")
		if !strings.Contains(body, "Razorpay") || !strings.Contains(body, "customer") || strings.Contains(body, "gateway:razorpay") || strings.Contains(body, "order-"+owing.id) {
			t.Fatalf("the audit shows ids instead of people and orders: %q", body)
		}
		folded := within(t, ctx, 10*time.Second, chromedp.Evaluate[bool](`Array.from(document.querySelectorAll("#events details")).every(d => !d.open)`))
		pretty := within(t, ctx, 10*time.Second, chromedp.Evaluate[string](`document.querySelector("#events tr.event:last-child pre").textContent`))
		if !folded || !strings.Contains(pretty, "{\n  \"") {
			t.Fatalf("event data folded %v, pretty-printed %q", folded, pretty)
		}
	}
	// A page that is not there, or a bad filter, is a page saying so, on a phone too.
	consoleAt(t, ctx, 390, 844, n.base+"/admin/orders?from=31/02/2026", "console-error-390")
	if msg := textOf(t, ctx, "#error"); !strings.Contains(msg, "from must be a date such as 27/11/2026") {
		t.Fatalf("a bad date: %q", msg)
	}
	if rows := n.count(t, `SELECT count(*) FROM events WHERE stream_id = 'order-`+unpaid.id+`'`); rows != 2 {
		t.Fatalf("looking changed the unpaid order: %d events", rows)
	}
}

// Where no provider is configured, the console says a message was simulated, never that it was
// sent; the message's page shows the e-mail as rendered again, its HTML in a sandboxed frame, and
// its links without a token.
func TestTheConsoleSaysASimulatedMessageWasNotSent(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := paidOrder(t, s)
	createAdmin(t, s.testService, "ops@certibuy.in")
	ctx := newBrowser(t)
	list := "/admin/notifications?q=" + o.number
	browserLogin(t, ctx, s.base, "ops@certibuy.in", list)
	var statuses []string
	waitFor(t, 30*time.Second, func() bool {
		within(t, ctx, 20*time.Second, chromedp.Navigate(s.base+list))
		statuses = within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#notifications td.n-status")).map(td => td.innerText)`))
		return len(statuses) == 4 && !strings.Contains(fmt.Sprint(statuses), "pending")
	}, "the order's 4 messages were never handled")
	for _, st := range statuses {
		if st != "simulated (not sent)" {
			t.Fatalf("statuses %q: a simulated message shown as %q", statuses, st)
		}
	}
	mail := within(t, ctx, 10*time.Second, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll("#notifications tr.notification")).find(tr => tr.innerText.includes("order confirmed e-mail")).dataset.id`))
	for _, vp := range viewports {
		consoleAt(t, ctx, vp.width, vp.height, s.base+"/admin/notifications/"+mail, "console-notification-simulated-"+vp.name)
		if note := textOf(t, ctx, "#simulated"); !strings.Contains(note, "The customer got nothing") {
			t.Fatalf("the page does not say the e-mail was not sent: %q", note)
		}
		if text := within(t, ctx, 10*time.Second, chromedp.TextContent(chromedp.CSS(`#text-part pre`))); !strings.Contains(text, "/orders/"+o.id+"?t=…") {
			t.Fatalf("the text part's order link is not shown with its token left out: %q", text)
		}
	}
	// The HTML part is served for the frame only as a sandbox, with the token left out of its links.
	cc := newConsoleClient(t, s.testService)
	if login := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil); login.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("login: %d", login.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	frame := cc.get("/admin/notifications/" + mail + "/html")
	if frame.status != 200 || !strings.HasPrefix(frame.header.Get("Content-Security-Policy"), "sandbox;") ||
		!strings.Contains(string(frame.body), o.number) || !strings.Contains(string(frame.body), "?t=%e2%80%a6") {
		t.Fatalf("the HTML part: %d %v\n%s", frame.status, frame.header, frame.body)
	}
	page := cc.get("/admin/notifications/" + mail)
	if !strings.Contains(page.header.Get("Content-Security-Policy"), "frame-src 'self'") || !strings.Contains(string(page.body), `<iframe class="mail" id="html-part" sandbox src="/admin/notifications/`+mail+`/html"`) {
		t.Fatalf("the page's frame: %v", page.header)
	}
	if res := cc.get("/admin/notifications/notification-nope"); res.status != http.StatusNotFound {
		t.Fatalf("an unknown notification: %d", res.status)
	}
}

// An SMS the `log` stand-in handled will never get a delivery report: the home page's table of SMS
// reaching the phone leaves it out rather than count it as waiting for one.
func TestTheHomePageCountsNoSimulatedSMSAsUnreported(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	paidOrder(t, s)
	waitFor(t, 30*time.Second, func() bool {
		return s.count(t, `SELECT count(*) FROM notification_log WHERE channel = 'sms' AND status = 'sent' AND provider = 'log'`) > 0
	}, "no SMS was handled by the log stand-in")
	createAdmin(t, s.testService, "ops@certibuy.in")
	cc := newConsoleClient(t, s.testService)
	if login := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil); login.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("login: %d", login.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	home := string(cc.get("/admin").body)
	if i := strings.Index(home, `id="delivery-rates"`); i >= 0 {
		t.Fatalf("the home page counts simulated SMS among those reaching the phone: %s", home[i:min(len(home), i+800)])
	}
}
