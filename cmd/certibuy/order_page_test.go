package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/links"
)

// screenshot keeps a full-page picture of what the browser shows in SCREENSHOT_DIR (var/screenshots
// by default), for a person to look at: CI keeps them as artefacts.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "var", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png := within(t, ctx, 20*time.Second, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// viewports are the widths pages are checked at: a laptop and a 390 px phone.
var viewports = []struct {
	name          string
	width, height int64
}{{"1280", 1280, 900}, {"390", 390, 844}}

// linkFor builds the order page link the service puts in messages.
func (s *testService) linkFor(t *testing.T, orderID, number string) string {
	t.Helper()
	return s.deps.Links.ForMessage(uuid.MustParse(orderID), number).OrderURL
}

// openPage opens url at a viewport width and checks that nothing is wider than the screen.
func openPage(t *testing.T, ctx context.Context, width, height int64, u string) {
	t.Helper()
	within(t, ctx, 10*time.Second, chromedp.EmulateViewport(width, height))
	within(t, ctx, 20*time.Second, chromedp.Navigate(u))
	if w := within(t, ctx, 10*time.Second, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); w > width {
		t.Fatalf("the page is %d px wide on a %d px screen", w, width)
	}
}

// The order page a customer's link opens: the order as it stands, its timeline in IST, the
// carrier's tracking page once shipped, and, until it ships, a cancel form that refunds a paid
// order. Driven in headless Chromium at 1280 and 390 px.
func TestTheCustomerOrderPageInABrowser(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"REFUND_EXPECTATION": "5–7 working days"})
	token, _ := s.adminToken(t, "ship@certibuy.in")
	shipped := paidOrder(t, s)
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+shipped.id+"/ship", []byte(`{"carrier":"Delhivery","tracking_id":"DLV7788"}`), bearerHeader(token)); r.status != 200 {
		t.Fatalf("ship: %d %s", r.status, r.body)
	}
	paid := paidOrder(t, s)
	late := paidOrder(t, s)
	// Shipped with a courier outside the carriers' table and no name for it: the page names none.
	other := paidOrder(t, s)
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+other.id+"/ship", []byte(`{"carrier":"other","tracking_id":"XYZ123","tracking_url":"https://track.example.in/XYZ123"}`), bearerHeader(token)); r.status != 200 {
		t.Fatalf("ship with another carrier: %d %s", r.status, r.body)
	}
	ctx := newBrowser(t)
	openPage(t, ctx, 390, 844, s.linkFor(t, other.id, other.number))
	if text := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#shipment`))); !strings.Contains(text, "With a courier, tracking ID XYZ123") {
		t.Fatalf("the delivery box of another carrier's parcel says %q", text)
	}

	// A customer who presses Cancel on a page loaded before the order shipped is told why nothing
	// happened.
	openPage(t, ctx, 390, 844, s.linkFor(t, late.id, late.number))
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+late.id+"/ship", []byte(`{"carrier":"Delhivery","tracking_id":"DLV7799"}`), bearerHeader(token)); r.status != 200 {
		t.Fatalf("ship: %d %s", r.status, r.body)
	}
	if st := browserSubmit(t, ctx, `#cancel-form button`); st != http.StatusConflict {
		t.Fatalf("cancelling a shipped order: %d", st)
	}
	if text := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#cancel-refused`))); !strings.Contains(strings.ToLower(text), "ship") {
		t.Fatalf("the page after a refused cancel says %q", text)
	}
	screenshot(t, ctx, "order-page-cancel-refused-390")

	// A long e-mail address wraps inside its card, on a phone too.
	const email = "priya.venkataraman.subramaniam.accounts@longcompanyname.example.in"
	long := s.do(t, "POST", "/api/v1/checkout", []byte(strings.Replace(validCheckout, "asha@example.in", email, 1)), nil).json(t)
	for _, vp := range viewports {
		openPage(t, ctx, vp.width, vp.height, s.linkFor(t, long["order_id"].(string), long["order_number"].(string)))
		if over := within(t, ctx, 10*time.Second, chromedp.Evaluate[bool](
			`Array.from(document.querySelectorAll(".card")).some(c => c.scrollWidth > c.clientWidth)`)); over {
			t.Fatalf("at %d px a card's text is wider than the card", vp.width)
		}
		screenshot(t, ctx, "order-page-long-email-"+vp.name)
	}

	for _, vp := range viewports {
		openPage(t, ctx, vp.width, vp.height, s.linkFor(t, shipped.id, shipped.number))
		if n := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#number`))); n != shipped.number {
			t.Fatalf("page shows order %q", n)
		}
		if st := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#status`))); st != "Shipped" {
			t.Fatalf("status %q", st)
		}
		steps := within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("#timeline li")).map(li => li.innerText.replace(/\s+/g, " "))`))
		if len(steps) != 4 || !strings.HasPrefix(steps[0], "Placed ") || !strings.HasPrefix(steps[3], "Shipped ") {
			t.Fatalf("timeline %q", steps)
		}
		now := time.Now().In(time.FixedZone("IST", 19800))
		if !strings.Contains(steps[3], now.Format("2 Jan 2006")) || !strings.HasSuffix(steps[3], now.Format("pm")) && !strings.HasSuffix(steps[3], "am") {
			t.Fatalf("the shipping step %q is not a time in IST (%s)", steps[3], now.Format("2 Jan 2006, 3:04 pm"))
		}
		if href := within(t, ctx, 10*time.Second, chromedp.Attributes(chromedp.CSS(`#track`)))["href"]; href != "https://www.delhivery.com/track/package/DLV7788" {
			t.Fatalf("track link %q", href)
		}
		if total := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#total`))); total != "₹1,299.00" {
			t.Fatalf("total %q", total)
		}
		if n := within(t, ctx, 10*time.Second, chromedp.Evaluate[int](`document.querySelectorAll("#cancel-form").length`)); n != 0 {
			t.Fatal("a shipped order offers to cancel")
		}
		screenshot(t, ctx, "order-page-shipped-"+vp.name)
	}

	// A paid order, cancelled from its page on a phone: the refund is asked for, the page says so.
	openPage(t, ctx, 390, 844, s.linkFor(t, paid.id, paid.number))
	cancelText := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#cancel`)))
	if !strings.Contains(cancelText, "You paid ₹1,299.00") || !strings.Contains(cancelText, "5–7 working days") {
		t.Fatalf("the cancel box says %q", cancelText)
	}
	screenshot(t, ctx, "order-page-confirmed-390")
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`#reason`), "Ordered twice"))
	if st := browserSubmit(t, ctx, `#cancel-form button`); st != http.StatusOK {
		t.Fatalf("cancel: %d", st)
	}
	if flash := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#flash`))); flash != "Your order is cancelled." {
		t.Fatalf("after cancelling: %q", flash)
	}
	if st := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#status`))); st != "Refund on its way" {
		t.Fatalf("status after cancelling %q", st)
	}
	refund := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#refund`)))
	if !strings.Contains(refund, "₹1,299.00 is on its way") {
		t.Fatalf("refund %q", refund)
	}
	steps := within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#timeline .step")).map(e => e.innerText)`))
	if strings.Join(steps, ",") != "Placed,Paid,Confirmed,Cancelled,Refund on its way" {
		t.Fatalf("timeline right after cancelling %v", steps)
	}
	screenshot(t, ctx, "order-page-cancelled-390")
	pay := mustPaymentOf(t, &notifyShop{shop: s}, paid.id)
	if r := s.rzp.Refunds(pay); len(r) != 1 {
		t.Fatalf("refunds %+v", r)
	}
	got := s.events(t, paid.id)
	if got[len(got)-2] != "cancelled.v1 by customer:guest" || got[len(got)-1] != "refund_initiated.v1 by customer:guest" {
		t.Fatalf("events %v", got)
	}
}

// A cancelled order's page says who cancelled it, when, and the reason the cancellation's e-mail gave:
// the customer's own words, as text whatever markup they hold, or the reason staff gave.
func TestACancelledOrdersPageSaysWhoCancelledItAndWhy(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	token, _ := s.adminToken(t, "cancel@certibuy.in")
	ctx := newBrowser(t)
	today := time.Now().In(time.FixedZone("IST", 19800)).Format("2 Jan 2006")
	cancellation := func() (text, reason string, injected int) {
		t.Helper()
		if n := within(t, ctx, 10*time.Second, chromedp.Evaluate[int](`document.querySelectorAll("#cancellation").length`)); n != 1 {
			t.Fatalf("the page of a cancelled order has %d cancellation boxes: %q", n,
				within(t, ctx, 10*time.Second, chromedp.Evaluate[string](`document.querySelector("main").innerText`)))
		}
		text = within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#cancellation`)))
		reason = within(t, ctx, 10*time.Second, chromedp.Evaluate[string](`(document.querySelector("#cancel-reason") || {}).textContent || ""`))
		injected = within(t, ctx, 10*time.Second, chromedp.Evaluate[int](`document.querySelectorAll("#cancellation script, #cancellation b, #cancellation a").length`))
		return text, reason, injected
	}

	// The customer cancels from the page, giving a reason with markup in it.
	const mine = `Ordered twice <script>document.title="pwned"</script> & <b>wrong size</b>`
	unpaid := s.checkout(t)
	openPage(t, ctx, 390, 844, s.linkFor(t, unpaid.id, unpaid.number))
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`#reason`), mine))
	if st := browserSubmit(t, ctx, `#cancel-form button`); st != http.StatusOK {
		t.Fatalf("cancel: %d", st)
	}
	text, reason, injected := cancellation()
	if !strings.Contains(text, "You cancelled this order on "+today) || reason != mine || injected != 0 {
		t.Fatalf("the page of an order the customer cancelled says %q, reason %q, %d elements from the reason", text, reason, injected)
	}
	if title := within(t, ctx, 10*time.Second, chromedp.Evaluate[string](`document.title`)); title == "pwned" {
		t.Fatal("the reason's script ran")
	}
	screenshot(t, ctx, "order-page-cancelled-by-customer-390")
	within(t, ctx, 10*time.Second, chromedp.EmulateViewport(1280, 900))
	screenshot(t, ctx, "order-page-cancelled-by-customer-1280")
	if got := cancellationMail(t, s, unpaid.number); !strings.Contains(got, "Reason: "+mine+"\n") {
		t.Fatalf("the cancellation e-mail does not give the reason the page shows:\n%s", got)
	}

	// Staff cancel a paid order, with a reason the customer is told (a long link in it wraps).
	const theirs = "The seller cannot supply this item: https://shop.example.in/help/cancellations/out-of-stock-items-and-refunds"
	paid := paidOrder(t, s)
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+paid.id+"/cancel", []byte(`{"reason":"`+theirs+`","expected_version":4}`), bearerHeader(token)); r.status != 200 {
		t.Fatalf("staff cancel: %d %s", r.status, r.body)
	}
	for _, vp := range viewports {
		openPage(t, ctx, vp.width, vp.height, s.linkFor(t, paid.id, paid.number))
		text, reason, injected = cancellation()
		if !strings.Contains(text, "We cancelled this order on "+today) || !strings.Contains(text, "Reason: ") || reason != theirs || injected != 0 {
			t.Fatalf("the page of an order staff cancelled says %q, reason %q, %d elements from the reason", text, reason, injected)
		}
		screenshot(t, ctx, "order-page-cancelled-by-staff-"+vp.name)
	}
	if got := cancellationMail(t, s, paid.number); !strings.Contains(got, "Reason: "+theirs+"\n") {
		t.Fatalf("the cancellation e-mail does not give the reason the page shows:\n%s", got)
	}

	// A customer who gave no reason is told when they cancelled, and of no reason.
	quiet := s.checkout(t)
	if r := s.do(t, "POST", "/api/v1/orders/"+quiet.id+"/cancel", nil, bearerHeader(quiet.token)); r.status != 200 {
		t.Fatalf("cancel without a reason: %d %s", r.status, r.body)
	}
	openPage(t, ctx, 390, 844, s.linkFor(t, quiet.id, quiet.number))
	if text, reason, _ = cancellation(); !strings.Contains(text, "You cancelled this order on "+today) || strings.Contains(text, "reason") || reason != "" {
		t.Fatalf("the page of an order cancelled without a reason says %q, reason %q", text, reason)
	}
	if got := cancellationMail(t, s, quiet.number); strings.Contains(got, "Reason:") {
		t.Fatalf("the cancellation e-mail gives a reason the page does not:\n%s", got)
	}
}

// cancellationMail waits for the order's cancellation e-mail (written as a file: the test service
// has no SMTP server) and returns its plain text, with the text from outside the shop as it was
// typed (messages defang it, x[.]in, so that a mail client makes no link of it; a page makes none)
// and lines ending in \n.
func cancellationMail(t *testing.T, s *shop, number string) string {
	t.Helper()
	path := filepath.Join(s.cfg.Notify.MailDir, number+"-order_cancelled-email.eml")
	var raw []byte
	waitFor(t, 30*time.Second, func() bool {
		var err error
		raw, err = os.ReadFile(path)
		return err == nil && len(raw) > 0
	}, "no cancellation e-mail in "+path)
	return strings.NewReplacer("[.]", ".", "[:]//", "://", "\r\n", "\n").Replace(parseMail(t, raw).text)
}

// linkClock is the time the service under test makes and checks order links at; the test moves it.
type linkClock struct{ unixNano atomic.Int64 }

func (c *linkClock) now() time.Time   { return time.Unix(0, c.unixNano.Load()) }
func (c *linkClock) set(to time.Time) { c.unixNano.Store(to.UnixNano()) }

// A link e-mailed at 05:00 IST opens its order for the 180 days of ORDER_LINK_TTL and to the end of
// that last day in India, not until the UTC day ends at 05:30 IST; the next day it is the expired
// link's page.
func TestAnOrderLinkIsGoodToTheEndOfItsLastDayInIndia(t *testing.T) {
	t.Parallel()
	ist := time.FixedZone("IST", 19800)
	issued := time.Date(2026, 12, 1, 5, 0, 0, 0, ist)
	clock := &linkClock{}
	clock.set(issued)
	cfg := testConfig(t, nil, asServe)
	cfg.LinkClock = clock.now
	s := startServiceWith(t, cfg, true)
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil).json(t)
	id, number := res["order_id"].(string), res["order_number"].(string)
	link := s.linkFor(t, id, number)

	ctx := newBrowser(t)
	lastDay := issued.AddDate(0, 0, 180) // 30 May 2027, 05:00 IST
	for _, at := range []time.Time{
		issued.Add(time.Hour), issued.AddDate(0, 0, 1), issued.AddDate(0, 0, 90), lastDay,
		lastDay.Add(time.Hour), // 06:00 IST, after the UTC day ended
		time.Date(2027, 5, 30, 23, 59, 59, 0, ist),
	} {
		clock.set(at)
		openPage(t, ctx, 390, 844, link)
		if got := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`h1`))); got != "Order "+number {
			t.Fatalf("the link made %s, opened %s, shows %q", issued.Format(time.DateTime+" MST"), at.Format(time.DateTime+" MST"), got)
		}
	}
	clock.set(time.Date(2027, 5, 31, 0, 0, 0, 0, ist))
	openPage(t, ctx, 390, 844, link)
	if got := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`h1`))); got != "This link has expired" {
		t.Fatalf("the link made %s, opened the day after its last, shows %q", issued.Format(time.DateTime+" MST"), got)
	}
	screenshot(t, ctx, "order-page-link-expired-390")
	r, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, r); r.StatusCode != http.StatusGone {
		t.Fatalf("an expired link: %d, want 410", r.StatusCode)
	}
}

// The friendly pages: a wrong link, an expired one, and what a forged or foreign post gets.
func TestOrderLinksThatOpenNothingSayHowToGetHelp(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"SUPPORT_EMAIL": "help@shop.example.in"})
	o := paidOrder(t, s)
	good := s.linkFor(t, o.id, o.number)
	u, _ := url.Parse(good)
	tok := u.Query().Get("t")

	key, err := s.deps.DB.ServiceSecret(context.Background(), "order_links", links.MinKeyBytes)
	if err != nil {
		t.Fatal(err)
	}
	past, err := links.New(links.Config{Key: key, PublicBaseURL: s.base}, func() time.Time { return time.Now().Add(-200 * 24 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	expired := past.OrderPage(uuid.MustParse(o.id), past.Token(uuid.MustParse(o.id)))
	other := s.checkout(t)

	for _, c := range []struct {
		name, url string
		status    int
		says      string
	}{
		{"the link", good, 200, o.number},
		{"a wrong token", s.base + "/orders/" + o.id + "?t=" + strings.Repeat("A", links.TokenLength), 404, "This link does not open an order"},
		{"no token", s.base + "/orders/" + o.id, 404, "This link does not open an order"},
		{"another order's token", s.base + "/orders/" + other.id + "?t=" + tok, 404, "This link does not open an order"},
		{"an order id that is not one", s.base + "/orders/nope?t=" + tok, 404, "This link does not open an order"},
		{"the link with a slash added", s.base + "/orders/" + o.id + "/?t=" + tok, 404, "This link does not open an order"},
		{"an expired link", expired, 410, "This link has expired"},
		{"an SMS short link", s.base + "/o/" + o.number + "/" + tok, 200, o.number},
		{"a short link to an unknown order", s.base + "/o/CB-AAAAAAAA/" + tok, 404, "This link does not open an order"},
		{"a review link with no review page configured", s.base + "/r/" + o.number + "/" + tok, 404, "This link does not open an order"},
	} {
		res, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != c.status || !strings.Contains(body, c.says) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s %q", c.name, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if c.status != 200 && !strings.Contains(body, "help@shop.example.in") {
			t.Fatalf("%s: the page does not say where to get help: %s", c.name, body)
		}
		if res.Header.Get("Referrer-Policy") != "same-origin" || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: headers %v", c.name, res.Header)
		}
	}

	// A HEAD, as link checkers and chat previews send, is answered as a GET without the body.
	res, err := http.Head(good)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); res.StatusCode != 200 || body != "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("HEAD of the link: %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	before := s.events(t, o.id)
	post := func(form url.Values, origin string) int {
		req, _ := http.NewRequest("POST", s.base+"/orders/"+o.id+"/cancel", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		return res.StatusCode
	}
	if st := post(url.Values{"reason": {"x"}}, ""); st != 404 {
		t.Fatalf("a cancel without the link's token: %d", st)
	}
	if st := post(url.Values{"t": {tok}}, "https://evil.example"); st != 403 {
		t.Fatalf("a cancel posted from another site: %d", st)
	}
	if st := post(url.Values{"t": {strings.Repeat("A", links.TokenLength)}}, s.base); st != 404 {
		t.Fatalf("a cancel with a forged token: %d", st)
	}
	if after := s.events(t, o.id); len(after) != len(before) {
		t.Fatalf("refused cancels changed the order: %v", after)
	}
}

// An unpaid order's page offers to pay the same gateway order again; with the simulator, the
// customer pays and the page shows the order confirmed.
func TestAnUnpaidOrdersPageOffersToPayAgain(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil).json(t)
	id, number := res["order_id"].(string), res["order_number"].(string)
	gw := res["payment"].(map[string]any)["gateway_order_id"].(string)
	ctx := newBrowser(t)
	link := s.linkFor(t, id, number)
	openPage(t, ctx, 390, 844, link)
	// The simulator, like Razorpay's checkout, is given the way back: the order and a return token,
	// not its link token.
	href := within(t, ctx, 10*time.Second, chromedp.Attributes(chromedp.CSS(`#pay-again`)))["href"]
	if want := "/dev/pay/" + gw + "?order=" + id + "&r="; !strings.HasPrefix(href, want) || len(href) == len(want) ||
		s.deps.Links.CheckReturn(uuid.MustParse(id), href[len(want):]) != nil {
		t.Fatalf("pay again goes to %q, want the same gateway order %s and the way back", href, gw)
	}
	screenshot(t, ctx, "order-page-unpaid-390")
	// A payment that fails in the gateway's checkout brings the customer back to the order, which
	// says so and still offers to pay.
	if st := browserSubmit(t, ctx, `#pay-again`); st != http.StatusOK {
		t.Fatalf("pay page: %d", st)
	}
	within(t, ctx, 10*time.Second, chromedp.Click(chromedp.CSS("#fail")))
	if flash := within(t, ctx, 20*time.Second, chromedp.Text(chromedp.CSS(`#flash`))); !strings.Contains(flash, "did not go through") {
		t.Fatalf("back on the order page after a failed payment: %q", flash)
	}
	screenshot(t, ctx, "order-page-payment-failed-390")
	if st := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#status`))); st != "Placed" {
		t.Fatalf("the order page after a failed payment says %q", st)
	}
	if st := browserSubmit(t, ctx, `#pay-again`); st != http.StatusOK {
		t.Fatalf("pay page, again: %d", st)
	}
	within(t, ctx, 10*time.Second, chromedp.Click(chromedp.CSS("form button")))
	// The simulator's page posts the signed callback by itself; the customer is back on the order's
	// page, which shows it confirmed at once (it reads the order's events).
	if flash := within(t, ctx, 20*time.Second, chromedp.Text(chromedp.CSS(`#flash`))); !strings.Contains(flash, "received your payment") {
		t.Fatalf("back on the order page after paying: %q", flash)
	}
	screenshot(t, ctx, "order-page-paid-390")
	if st := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#status`))); st != "Confirmed" {
		t.Fatalf("the order page after paying says %q", st)
	}
	if n := within(t, ctx, 10*time.Second, chromedp.Evaluate[int](`document.querySelectorAll("#pay-again").length`)); n != 0 {
		t.Fatal("a paid order still offers to pay")
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Razorpay's checkout posts a failed payment's error to the callback URL in a form. The customer's
// browser gets a page (or, when the callback URL says which order, that order's page), never the
// API's JSON, and nothing is recorded; a callback whose signature does not match gets a page too.
func TestAFailedPaymentsCallbackIsAPageForTheCustomer(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := s.checkout(t)
	failure := url.Values{"error[code]": {"BAD_REQUEST_ERROR"}, "error[description]": {"Payment failed"}, "error[source]": {"customer"},
		"error[step]": {"payment_authorization"}, "error[reason]": {"payment_failed"},
		"error[metadata]": {`{"payment_id":"pay_failed1","order_id":"` + o.gatewayOrder + `"}`}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(query string, form url.Values) (*http.Response, string) {
		t.Helper()
		res, err := noRedirect.Post(s.base+"/api/v1/payments/razorpay/callback"+query, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		return res, readAll(t, res)
	}
	before := s.events(t, o.id)

	res, body := post("", failure)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Your payment did not go through") ||
		!strings.Contains(body, "Nothing was taken") {
		t.Fatalf("a failed payment's callback: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	// Order pages opened before return tokens put the link token itself in the callback URL: it
	// still leads back (TestTheCheckoutsCallbackURLCarriesAReturnTokenNotTheOrderLink has the return token).
	token := s.deps.Links.Token(uuid.MustParse(o.id))
	res, _ = post("?order="+o.id+"&t="+token, failure)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/orders/"+o.id+"?done=payment_failed&t="+token {
		t.Fatalf("a failed payment's callback with the way back: %d %q", res.StatusCode, loc)
	}
	page, err := http.Get(s.base + res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, page); page.StatusCode != 200 || !strings.Contains(body, "did not go through") || !strings.Contains(body, `id="pay"`) {
		t.Fatalf("the order page after a failed payment: %d %s", page.StatusCode, body)
	}
	pay, _ := s.rzp.Pay(o.gatewayOrder, "upi")
	forged := url.Values{"razorpay_order_id": {o.gatewayOrder}, "razorpay_payment_id": {pay}, "razorpay_signature": {strings.Repeat("0", 64)}}
	res, body = post("", forged)
	if res.StatusCode != 400 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "We could not confirm this payment here") {
		t.Fatalf("a callback with a bad signature: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if after := s.events(t, o.id); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("the failed and forged callbacks changed the order: %v, was %v", after, before)
	}
}

// The order page gives Razorpay's checkout, in its callback URL, a return token rather than the
// customer's link token, which would open and cancel the order for months in the gateway's script
// and servers. The return token leads a failed payment back to the order (with a fresh link token)
// for a few hours; it opens nothing itself, and an expired one ends on the page of a failed payment.
func TestTheCheckoutsCallbackURLCarriesAReturnTokenNotTheOrderLink(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", links.MinKeyBytes)
	s := startShop(t, map[string]string{"ORDER_LINK_SECRET": secret})
	o := s.checkout(t)
	id := uuid.MustParse(o.id)
	link := s.linkFor(t, o.id, o.number)
	linkToken := link[strings.LastIndex(link, "t=")+2:]
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, res)
	m := regexp.MustCompile(`(?s)<script nonce="[^"]*">(.*?)</script>`).FindStringSubmatch(page)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("the unpaid order's page has no checkout script: %d %s", res.StatusCode, page)
	}
	script := m[1]
	cb := regexp.MustCompile(`callback_url: ("[^"]*")`).FindStringSubmatch(script)
	if cb == nil {
		t.Fatalf("the checkout script has no callback_url: %s", script)
	}
	var callback string
	if err := json.Unmarshal([]byte(cb[1]), &callback); err != nil {
		t.Fatalf("callback_url %s: %v", cb[1], err)
	}
	if strings.Contains(script, linkToken) {
		t.Fatalf("the checkout script carries the order's link token %s: %s", linkToken, script)
	}
	u, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	ret := u.Query().Get("r")
	if u.Path != "/api/v1/payments/razorpay/callback" || u.Query().Get("order") != o.id || u.Query().Has("t") || ret == "" {
		t.Fatalf("callback_url %q: want the order and a return token, no link token", callback)
	}
	if err := s.deps.Links.CheckReturn(id, ret); err != nil {
		t.Fatalf("the callback URL's return token: %v", err)
	}

	failure := url.Values{"error[code]": {"BAD_REQUEST_ERROR"}, "error[description]": {"Payment failed"}, "error[reason]": {"payment_failed"}}
	post := func(callback string, form url.Values) (*http.Response, string) {
		t.Helper()
		res, err := noRedirect.Post(callback, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		return res, readAll(t, res)
	}
	before := s.events(t, o.id)
	// A failed payment leads back to the order's page, with a fresh link token.
	res, _ = post(s.base+u.RequestURI(), failure)
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusSeeOther || loc.Path != "/orders/"+o.id || loc.Query().Get("done") != "payment_failed" {
		t.Fatalf("a failed payment's callback with the return token: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if err := s.deps.Links.Check(id, loc.Query().Get("t")); err != nil {
		t.Fatalf("the way back's link token %q: %v", loc.Query().Get("t"), err)
	}
	back, err := http.Get(s.base + loc.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, back); back.StatusCode != 200 || !strings.Contains(body, "did not go through") || !strings.Contains(body, `id="pay-again"`) {
		t.Fatalf("the order page after a failed payment: %d %s", back.StatusCode, body)
	}

	// The return token opens nothing: not the order's page, nor its cancellation (API or form).
	res, err = http.Get(s.base + "/orders/" + o.id + "?t=" + url.QueryEscape(ret))
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); res.StatusCode != 404 || !strings.Contains(body, "This link does not open an order") {
		t.Fatalf("the order page opened by the return token: %d %s", res.StatusCode, body)
	}
	if res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", nil, bearerHeader(ret)); res.status != 404 {
		t.Fatalf("the API's cancel with the return token: %d %s", res.status, res.body)
	}
	if res, body := post(s.base+"/orders/"+o.id+"/cancel", url.Values{"t": {ret}, "reason": {"x"}}); res.StatusCode != 404 {
		t.Fatalf("the page's cancel with the return token: %d %s", res.StatusCode, body)
	}
	// Nor does a return token of another order, or a made-up one, lead back to this order.
	for _, bad := range []string{s.deps.Links.ReturnToken(uuid.New()), strings.Repeat("A", links.ReturnTokenLength)} {
		res, body := post(s.base+"/api/v1/payments/razorpay/callback?"+url.Values{"order": {o.id}, "r": {bad}}.Encode(), failure)
		if res.StatusCode != 200 || res.Header.Get("Location") != "" || !strings.Contains(body, "Your payment did not go through") {
			t.Fatalf("a failed payment's callback with return token %q: %d %q %s", bad, res.StatusCode, res.Header.Get("Location"), body)
		}
	}

	// A return token made more than ReturnTTL ago (under the same key) ends on the failed payment's page.
	old, err := links.New(links.Config{Key: []byte(secret), PublicBaseURL: s.base},
		func() time.Time { return time.Now().Add(-links.ReturnTTL - time.Minute) })
	if err != nil {
		t.Fatal(err)
	}
	expired := old.ReturnToken(id)
	if err := s.deps.Links.CheckReturn(id, expired); !errors.Is(err, links.ErrExpired) {
		t.Fatalf("the old return token: %v, want expired", err)
	}
	res, body := post(s.base+"/api/v1/payments/razorpay/callback?"+url.Values{"order": {o.id}, "r": {expired}}.Encode(), failure)
	if res.StatusCode != 200 || res.Header.Get("Location") != "" || !strings.Contains(body, "Your payment did not go through") || !strings.Contains(body, "Nothing was taken") {
		t.Fatalf("a failed payment's callback with an expired return token: %d %q %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if after := s.events(t, o.id); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("failed payments and refused cancels changed the order: %v, was %v", after, before)
	}
}
