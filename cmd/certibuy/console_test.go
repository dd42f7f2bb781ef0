package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certibuy/orders/adapters/razorpay"
)

const consolePassword = "correct horse battery"

// consoleClient is an admin's browser without the browser: it keeps the session cookie and does
// not follow redirects, so that a test sees every answer.
type consoleClient struct {
	t       *testing.T
	base    string
	cookie  *http.Cookie
	lastSet *http.Cookie // the session cookie of the last answer that set one
	http    *http.Client
}

func newConsoleClient(t *testing.T, s *testService) *consoleClient {
	return &consoleClient{t: t, base: s.base, http: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (cc *consoleClient) send(method, path string, form url.Values, header map[string]string) response {
	cc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, cc.base+path, body)
	if err != nil {
		cc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if cc.cookie != nil {
		req.AddCookie(cc.cookie)
	}
	res, err := cc.http.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		cc.t.Fatal(err)
	}
	cc.lastSet = nil
	for _, ck := range res.Cookies() {
		if ck.Name == "certibuy_session" {
			cc.lastSet = ck
		}
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (cc *consoleClient) get(path string) response {
	cc.t.Helper()
	return cc.send("GET", path, nil, nil)
}

func (cc *consoleClient) post(path string, form url.Values, header map[string]string) response {
	cc.t.Helper()
	return cc.send("POST", path, form, header)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// csrfOf is the csrf value the page's forms carry.
func csrfOf(t *testing.T, page response) string {
	t.Helper()
	m := csrfField.FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("no csrf field on the page (%d): %s", page.status, page.body)
	}
	return string(m[1])
}

// paidOrder is an order placed and paid through the API: confirmed, at version 4, ready to ship.
func paidOrder(t *testing.T, s *shop) placed {
	t.Helper()
	o := s.checkout(t)
	pay, sig := s.rzp.Pay(o.gatewayOrder, "upi")
	if res := s.callback(t, o.gatewayOrder, pay, sig); res.status != 200 {
		t.Fatalf("callback: %d %s", res.status, res.body)
	}
	return o
}

func createAdmin(t *testing.T, s *testService, email string) string {
	t.Helper()
	u, err := s.deps.App.Admins.CreateUser(context.Background(), email, "Ops "+email, consolePassword)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID.String()
}

func TestConsoleSessionsFormsAndErrorsOverHTTP(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := paidOrder(t, s)
	adminID := createAdmin(t, s.testService, "ops@certibuy.in")
	cc := newConsoleClient(t, s.testService)
	orderEvents := func() int {
		return s.count(t, `SELECT count(*) FROM events WHERE stream_id = 'order-`+o.id+`'`)
	}

	// Without a session every page sends the admin to log in, and back afterwards.
	for _, path := range []string{"/admin/orders", "/admin/orders/" + o.id, "/admin/notifications", "/admin/audit", "/admin", "/admin/nowhere"} {
		res := cc.get(path)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin/login?next="+url.QueryEscape(path) {
			t.Fatalf("GET %s without a session: %d to %q", path, res.status, res.header.Get("Location"))
		}
	}
	if res := cc.post("/admin/orders/"+o.id+"/ship", url.Values{"carrier": {"X"}}, nil); res.status != http.StatusSeeOther ||
		res.header.Get("Location") != "/admin/login" {
		t.Fatalf("POST without a session: %d to %q", res.status, res.header.Get("Location"))
	}

	// A wrong password shows the form again with the e-mail kept; the right one sets the cookie.
	res := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {"not the password"}}, nil)
	if res.status != http.StatusUnauthorized || !strings.Contains(string(res.body), "Wrong e-mail or password") ||
		!strings.Contains(string(res.body), `value="ops@certibuy.in"`) || cc.lastSet != nil {
		t.Fatalf("wrong password: %d %s", res.status, res.body)
	}
	res = cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword},
		"next": {"https://evil.example/admin/orders"}}, nil)
	ck := cc.lastSet
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin" || ck == nil {
		t.Fatalf("login: %d to %q, cookie %v", res.status, res.header.Get("Location"), ck)
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/admin" || ck.Secure ||
		ck.Expires.Before(time.Now().Add(11*time.Hour)) || ck.Expires.After(time.Now().Add(13*time.Hour)) {
		t.Fatalf("session cookie %s", res.header.Get("Set-Cookie"))
	}
	cc.cookie = &http.Cookie{Name: ck.Name, Value: ck.Value}
	_, token, _ := strings.Cut(ck.Value, ".")

	page := cc.get("/admin/orders/" + o.id)
	csrf := csrfOf(t, page)
	sum := sha256.Sum256([]byte("csrf:" + token))
	if page.status != 200 || csrf != hex.EncodeToString(sum[:]) || !strings.Contains(string(page.body), `name="expected_version" value="4"`) {
		t.Fatalf("order page (%d) offers no ship form at version 4 with the session's csrf", page.status)
	}
	if h := page.header; h.Get("Cache-Control") != "no-store" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("order page headers %v", h)
	}

	// Forged posts are refused before anything changes.
	ship := func(csrf string, version string) url.Values {
		v := url.Values{"expected_version": {version}, "carrier": {"Delhivery"}, "tracking_id": {"DLV123456"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	before := orderEvents()
	for name, c := range map[string]struct {
		path   string
		form   url.Values
		header map[string]string
	}{
		"no csrf":               {"/admin/orders/" + o.id + "/ship", ship("", "4"), nil},
		"wrong csrf":            {"/admin/orders/" + o.id + "/ship", ship(strings.Repeat("0", 64), "4"), nil},
		"csrf in the URL only":  {"/admin/orders/" + o.id + "/ship?csrf=" + csrf, ship("", "4"), nil},
		"another site's origin": {"/admin/orders/" + o.id + "/ship", ship(csrf, "4"), map[string]string{"Origin": "https://evil.example"}},
		"null origin":           {"/admin/orders/" + o.id + "/ship", ship(csrf, "4"), map[string]string{"Origin": "null"}},
		"logout without csrf":   {"/admin/logout", url.Values{}, nil},
	} {
		res := cc.post(c.path, c.form, c.header)
		if res.status != http.StatusForbidden || !strings.Contains(res.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	if n := orderEvents(); n != before {
		t.Fatalf("forged posts appended %d events", n-before)
	}

	// A stale page is told the order changed; the right version ships it, with this server's origin.
	res = cc.post("/admin/orders/"+o.id+"/ship", ship(csrf, "3"), map[string]string{"Origin": s.base})
	if res.status != http.StatusConflict || !strings.Contains(string(res.body), "This order changed since you loaded it") || orderEvents() != before {
		t.Fatalf("stale version: %d %s", res.status, res.body)
	}
	res = cc.post("/admin/orders/"+o.id+"/ship", ship(csrf, "4"), map[string]string{"Origin": s.base})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin/orders/"+o.id+"?msg=shipped" {
		t.Fatalf("ship: %d %s", res.status, res.body)
	}
	if evs := s.events(t, o.id); len(evs) != before+1 || evs[len(evs)-1] != "shipped.v2 by admin:"+adminID {
		t.Fatalf("after shipping: %v", evs)
	}
	// Shipping again from the new page is the domain's refusal; a missing version is a 400.
	res = cc.post("/admin/orders/"+o.id+"/ship", ship(csrf, "5"), nil)
	if res.status != http.StatusConflict || !strings.Contains(string(res.body), "Cannot ship an order that is shipped") {
		t.Fatalf("shipping twice: %d %s", res.status, res.body)
	}
	if res := cc.post("/admin/orders/"+o.id+"/out-for-delivery", url.Values{"csrf": {csrf}}, nil); res.status != http.StatusBadRequest ||
		!strings.Contains(string(res.body), "expected_version") {
		t.Fatalf("no version: %d %s", res.status, res.body)
	}
	if n := orderEvents(); n != before+1 {
		t.Fatalf("refused actions appended %d events", n-before-1)
	}

	// Bad filters and unknown orders are pages with the reason, not crashes or JSON.
	for path, want := range map[string]struct {
		status int
		text   string
	}{
		"/admin/orders?status=lost":                          {400, `unknown status &#34;lost&#34;`},
		"/admin/orders?q=hello":                              {400, "search by an order number"},
		"/admin/orders?from=27-11-2026":                      {400, "from must be a date"},
		"/admin/orders?from=2026-11-27&to=2026-11-20":        {400, "must be after from"},
		"/admin/audit?limit=many":                            {400, "limit must be a whole number"},
		"/admin/audit?limit=0":                               {400, "limit must be 1 or more"},
		"/admin/notifications?channel=pigeon":                {400, "unknown channel"},
		"/admin/audit?order=CB-nope":                         {400, "order"},
		"/admin/orders/not-an-id":                            {404, "Order not found"},
		"/admin/orders/00000000-0000-0000-0000-000000000001": {404, "Order not found"},
		"/admin/nowhere":                                     {404, "Not Found"},
	} {
		res := cc.get(path)
		if res.status != want.status || !strings.Contains(string(res.body), want.text) || !strings.Contains(string(res.body), `id="error"`) {
			t.Errorf("GET %s: %d, want %d with %q: %s", path, res.status, want.status, want.text, res.body)
		}
	}

	// Whatever a customer typed is shown as text, and the flash is one of the console's own texts.
	evil := s.do(t, "POST", "/api/v1/checkout", []byte(strings.Replace(validCheckout, `"Asha Rao"`, `"<script>alert(1)</script>"`, 1)), nil).json(t)
	var list response
	waitFor(t, 20*time.Second, func() bool { // the list is a projection
		list = cc.get("/admin/orders?q=" + evil["order_number"].(string))
		return strings.Contains(string(list.body), `class="order"`)
	}, "the order list never showed the order")
	if list.status != 200 || strings.Contains(string(list.body), "<script>alert") || !strings.Contains(string(list.body), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("a customer's name is not escaped: %s", list.body)
	}
	if p := cc.get("/admin/orders/" + o.id + "?msg=%3Cb%3Ecall+us%3C%2Fb%3E"); strings.Contains(string(p.body), "call us") {
		t.Fatal("the flash shows text from the link")
	}

	// Lists page with the query's cursor: two orders one by one, and the order's five events two by
	// two, newest first, or oldest first when asked.
	first := cc.get("/admin/orders?limit=1")
	second := cc.get(nextLink(t, first))
	numbers := regexp.MustCompile(`<tr class="order">\s*<td data-label="Order" class="number"><a href="[^"]+">(CB-[A-Z0-9]+)</a>`)
	got := append(numbers.FindAllStringSubmatch(string(first.body), -1), numbers.FindAllStringSubmatch(string(second.body), -1)...)
	if len(got) != 2 || got[0][1] != evil["order_number"] || got[1][1] != o.number {
		t.Fatalf("order pages of one: %v", got)
	}
	eventType := regexp.MustCompile(`<code class="type">(order\.[a-z_]+\.v\d)</code>`)
	auditTypes := func(path string) []string {
		var types []string
		for path != "" {
			page := cc.get(path)
			rows := eventType.FindAllStringSubmatch(string(page.body), -1)
			if page.status != 200 || len(rows) == 0 || len(rows) > 2 {
				t.Fatalf("audit page %s: %d with %d events", path, page.status, len(rows))
			}
			for _, r := range rows {
				types = append(types, r[1])
			}
			path = ""
			if strings.Contains(string(page.body), `id="next"`) {
				path = nextLink(t, page)
			}
		}
		return types
	}
	if got := fmt.Sprint(auditTypes("/admin/audit?limit=2&order=" + o.number)); got != "[order.shipped.v2 order.confirmed.v1 order.payment_succeeded.v1 order.payment_requested.v1 order.placed.v1]" {
		t.Fatalf("audit pages, newest first: %v", got)
	}
	if got := fmt.Sprint(auditTypes("/admin/audit?limit=2&sort=oldest&order=" + o.number)); got != "[order.placed.v1 order.payment_requested.v1 order.payment_succeeded.v1 order.confirmed.v1 order.shipped.v2]" {
		t.Fatalf("audit pages, oldest first: %v", got)
	}

	// A courier outside the table is chosen as "other" and named: the order ships with its name.
	named := paidOrder(t, s)
	res = cc.post("/admin/orders/"+named.id+"/ship", url.Values{"csrf": {csrf}, "expected_version": {"4"}, "carrier": {"other"},
		"carrier_name": {"Shree Maruti Courier"}, "tracking_id": {"SM123"}, "tracking_url": {"https://track.example.in/SM123"}}, nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("ship with another carrier: %d %s", res.status, res.body)
	}
	var carrier string
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT data->>'carrier' FROM events WHERE stream_id = $1 AND type = 'order.shipped.v2'`,
		"order-"+named.id).Scan(&carrier); err != nil || carrier != "Shree Maruti Courier" {
		t.Fatalf("shipped with carrier %q (%v), want the name typed; the post went to %s, events %v", carrier, err, res.header.Get("Location"), s.events(t, named.id))
	}

	// Logging out revokes the token the session signed in with, whatever token id the cookie names:
	// an admin who puts another token's id in their cookie cannot revoke it.
	other, otherInfo, err := s.deps.App.Admins.CreateToken(context.Background(), "ops@certibuy.in", "deploy bot", 0)
	if err != nil {
		t.Fatal(err)
	}
	cc.cookie = &http.Cookie{Name: ck.Name, Value: otherInfo.ID.String() + "." + token}
	res = cc.post("/admin/logout", url.Values{"csrf": {csrf}}, map[string]string{"Origin": s.base})
	if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(other)); res.status != http.StatusOK {
		t.Fatalf("logging out revoked the token whose id the cookie named: %d", res.status)
	}
	cc.cookie = &http.Cookie{Name: ck.Name, Value: ck.Value}
	// The old cookie, kept by a thief, opens nothing.
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/admin/login?msg=logged-out" || cc.lastSet == nil || cc.lastSet.MaxAge >= 0 {
		t.Fatalf("logout: %d to %q, cookie %v", res.status, res.header.Get("Location"), cc.lastSet)
	}
	if res := cc.get("/admin/orders"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/admin/login") {
		t.Fatalf("the cookie still opens the console after logout: %d", res.status)
	}
	if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(token)); res.status != http.StatusUnauthorized {
		t.Fatalf("the token still opens the API after logout: %d", res.status)
	}
}

var nextHref = regexp.MustCompile(`<a href="([^"]+)" id="next"`)

// nextLink is the page's "Next page" link.
func nextLink(t *testing.T, page response) string {
	t.Helper()
	m := nextHref.FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("no next page link (%d): %s", page.status, page.body)
	}
	return html.UnescapeString(string(m[1]))
}

// browserSubmit clicks a button that submits a form and waits for the page that answers.
func browserSubmit(t *testing.T, ctx context.Context, button string) int64 {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(tctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		t.Fatalf("submit %s: %v", button, err)
	}
	return res.Status
}

// browserLogin logs in through the console's form.
func browserLogin(t *testing.T, ctx context.Context, base, email, next string) {
	t.Helper()
	within(t, ctx, 20*time.Second, chromedp.Navigate(base+next))
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email))
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`input[name=password]`), consolePassword))
	if st := browserSubmit(t, ctx, `#login button`); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
}

func TestConsoleShipsAnOrderInABrowser(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := paidOrder(t, s)
	other := s.checkout(t) // so that a search has an order to leave out
	adminID := createAdmin(t, s.testService, "ops@certibuy.in")
	ctx := newBrowser(t)

	// No session: the login page, which refuses a wrong password and keeps the e-mail.
	within(t, ctx, 20*time.Second, chromedp.Navigate(s.base+"/admin/orders"))
	if loc := within(t, ctx, 10*time.Second, chromedp.Location()); !strings.HasPrefix(loc, s.base+"/admin/login") {
		t.Fatalf("without a session the console opened %s", loc)
	}
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ops@certibuy.in"))
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "not the password"))
	if st := browserSubmit(t, ctx, `#login button`); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", st)
	}
	if msg := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#error`))); !strings.Contains(msg, "Wrong e-mail or password") {
		t.Fatalf("wrong password says %q", msg)
	}
	if email := within(t, ctx, 10*time.Second, chromedp.Value(chromedp.CSS(`input[name=email]`))); email != "ops@certibuy.in" {
		t.Fatalf("the form lost the e-mail: %q", email)
	}

	// The right password opens the order list, where both orders are.
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`input[name=password]`), consolePassword))
	if st := browserSubmit(t, ctx, `#login button`); st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	if loc := within(t, ctx, 10*time.Second, chromedp.Location()); loc != s.base+"/admin/orders" {
		t.Fatalf("after login: %s", loc)
	}
	table := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#orders`)))
	if !strings.Contains(table, o.number) || !strings.Contains(table, other.number) || !strings.Contains(table, "₹1,299.00") {
		t.Fatalf("order list: %q", table)
	}

	// Searching by its number leaves just it.
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`input[name=q]`), o.number))
	if st := browserSubmit(t, ctx, `#filters button`); st != http.StatusOK {
		t.Fatalf("search: %d", st)
	}
	rows := within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#orders tr.order td:first-child")).map(td => td.innerText)`))
	if len(rows) != 1 || rows[0] != o.number {
		t.Fatalf("search for %s shows %v", o.number, rows)
	}

	// Open it and ship it.
	if st := browserSubmit(t, ctx, `#orders tr.order a`); st != http.StatusOK {
		t.Fatalf("order page: %d", st)
	}
	within(t, ctx, 10*time.Second, chromedp.SetValue(chromedp.CSS(`#ship select[name=carrier]`), "Delhivery"))
	within(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS(`#ship input[name=tracking_id]`), "DLV123456"))
	if st := browserSubmit(t, ctx, `#ship button`); st != http.StatusOK {
		t.Fatalf("ship: %d", st)
	}
	orderURL := s.base + "/admin/orders/" + o.id
	if loc := within(t, ctx, 10*time.Second, chromedp.Location()); loc != orderURL+"?msg=shipped" {
		t.Fatalf("after shipping: %s", loc)
	}
	flash := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#flash`)))
	status := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#status`)))
	shipment := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#shipment`)))
	if flash != "Order shipped." || status != "shipped" || !strings.Contains(shipment, "DLV123456") {
		t.Fatalf("after shipping: flash %q, status %q, shipment %q", flash, status, shipment)
	}
	track := within(t, ctx, 10*time.Second, chromedp.Attributes(chromedp.CSS(`#tracking-link`)))["href"]
	if track != "https://www.delhivery.com/track/package/DLV123456" {
		t.Fatalf("the shipment box links to %q, want Delhivery's tracking page", track)
	}

	// The page shows the change at once, read from the order's events: the history's new row names
	// the admin, not their id.
	history := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#history tbody tr:last-child`)))
	if !strings.Contains(history, "confirmed\tshipped") || !strings.Contains(history, "Ops ops@certibuy.in") || strings.Contains(history, adminID) {
		t.Fatalf("right after shipping, the history's last row is %q", history)
	}
	if title := within(t, ctx, 10*time.Second, chromedp.Attributes(chromedp.CSS(`#history tbody tr:last-child .actor`)))["title"]; title != "ops@certibuy.in" {
		t.Fatalf("the admin's e-mail on hover: %q", title)
	}
	timeline := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#timeline tbody`)))
	if !regexp.MustCompile(`order\.shipped\.v2\s+Ops ops@certibuy\.in`).MatchString(timeline) {
		t.Fatalf("timeline: %q", timeline)
	}
}

func TestConsoleResendsAFailedNotificationInABrowser(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)
	// Every attempt at both of the order's e-mails is refused: they fail.
	n.smtp.RefuseNext(6, 451, "4.3.0 Try again later")
	o := n.pay(t)
	for _, e := range n.waitSettled(t, o.id, 4) {
		if e.Channel == "email" && e.Status != "failed" {
			t.Fatalf("e-mail %+v did not fail", e)
		}
	}
	createAdmin(t, n.testService, "ops@certibuy.in")
	ctx := newBrowser(t)
	list := "/admin/notifications?channel=email&q=" + o.number
	browserLogin(t, ctx, n.base, "ops@certibuy.in", list)
	if loc := within(t, ctx, 10*time.Second, chromedp.Location()); loc != n.base+list {
		t.Fatalf("after login: %s", loc)
	}

	// The log projection catches up with the failures; then each failed row has a Resend button.
	var failed []string
	waitFor(t, 20*time.Second, func() bool {
		within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+list))
		failed = within(t, ctx, 10*time.Second, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("#notifications tr.notification")).filter(tr => tr.querySelector("form.resend")).map(tr => tr.dataset.id)`))
		return len(failed) == 2
	}, "the console never listed the two failed e-mails")
	row := `#notifications tr[data-id="` + failed[0] + `"]`
	if text := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(row))); !strings.Contains(text, "451") || !strings.Contains(text, "failed") {
		t.Fatalf("failed row: %q", text)
	}

	// The SMTP server has recovered; resending one sends it, and only it.
	if st := browserSubmit(t, ctx, row+` form.resend button`); st != http.StatusOK {
		t.Fatalf("resend: %d", st)
	}
	if flash := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#flash`))); flash != "The notification is queued to be sent again." {
		t.Fatalf("after resend: %q", flash)
	}
	loc, err := url.Parse(within(t, ctx, 10*time.Second, chromedp.Location()))
	if err != nil || loc.Path != "/admin/notifications" || loc.Query().Get("q") != o.number || loc.Query().Get("channel") != "email" {
		t.Fatalf("after resend the console went to %s, not back to the list it was on", loc)
	}
	var status string
	waitFor(t, 30*time.Second, func() bool {
		within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+list))
		status = within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(row+` td.n-status`)))
		return status == "sent"
	}, "the resent e-mail never showed as sent")
	if got := len(n.smtp.Messages()); got != 1 {
		t.Fatalf("%d e-mails received after one resend, want 1", got)
	}
	if text := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#notifications tr[data-id="`+failed[1]+`"] td.n-status`))); text != "failed" {
		t.Fatalf("the other e-mail: %q", text)
	}

	// The failed ones, listed, are resent with one press: here the one left, once.
	within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+list+"&status=failed"))
	if st := browserSubmit(t, ctx, `#resend-failed button`); st != http.StatusOK {
		t.Fatalf("resend every failed: %d", st)
	}
	if flash := within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#flash`))); flash != "1 failed message is queued to be sent again." {
		t.Fatalf("after resending every failed: %q", flash)
	}
	waitFor(t, 30*time.Second, func() bool {
		within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+list))
		status = within(t, ctx, 10*time.Second, chromedp.Text(chromedp.CSS(`#notifications tr[data-id="`+failed[1]+`"] td.n-status`)))
		return status == "sent"
	}, "the e-mail resent with the others never showed as sent")
	if got := len(n.smtp.Messages()); got != 2 {
		t.Fatalf("%d e-mails received after resending the failed ones, want 2", got)
	}
	within(t, ctx, 20*time.Second, chromedp.Navigate(n.base+list+"&status=failed"))
	if n := within(t, ctx, 10*time.Second, chromedp.Evaluate[int](`document.querySelectorAll("#resend-failed").length`)); n != 0 {
		t.Fatal("with nothing failed, the list still offers to resend every failed message")
	}
}

// A paid order whose refund the gateway would not take stays cancelled with the refund outstanding;
// an admin asks again, through the API or the console, and the refund goes through once.
func TestAnOutstandingRefundIsAskedAgain(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	token, _ := s.adminToken(t, "api@certibuy.in")
	createAdmin(t, s.testService, "ops@certibuy.in")

	refundOf := func(o placed) (cancelStatus int) {
		t.Helper()
		s.rzp.FailNext(1, 500, `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error."}}`)
		res := s.do(t, "POST", "/api/v1/orders/"+o.id+"/cancel", nil, bearerHeader(o.token))
		if got := s.events(t, o.id); got[len(got)-1] != "cancelled.v1 by customer:guest" {
			t.Fatalf("after a failed refund request the order's events end %v", got)
		}
		return res.status
	}

	// Through the API.
	a := paidOrder(t, s)
	if st := refundOf(a); st != http.StatusBadGateway {
		t.Fatalf("cancel with the refund API down: %d", st)
	}
	res := s.do(t, "POST", "/api/v1/admin/orders/"+a.id+"/refund", nil, bearerHeader(token))
	if res.status != 200 || res.json(t)["status"] != "refund_pending" {
		t.Fatalf("admin refund: %d %s", res.status, res.body)
	}
	if r := s.do(t, "POST", "/api/v1/admin/orders/"+a.id+"/refund", nil, bearerHeader(token)); r.status != http.StatusConflict {
		t.Fatalf("asking again while it is pending: %d %s", r.status, r.body)
	}
	pay := mustPaymentOf(t, &notifyShop{shop: s}, a.id)
	refunds := s.rzp.Refunds(pay)
	if len(refunds) != 1 {
		t.Fatalf("%d refunds at the gateway", len(refunds))
	}
	if r := s.webhook(t, s.rzp.RefundProcessedWebhook(refunds[0].ID), "evt_ra"); r.status != 200 {
		t.Fatal(r.status)
	}
	if got := s.events(t, a.id); got[len(got)-1] != "refund_processed.v1 by gateway:razorpay" || !strings.Contains(got[len(got)-2], "by admin:") {
		t.Fatalf("events %v", got)
	}

	// Through the console.
	b := paidOrder(t, s)
	if st := refundOf(b); st != http.StatusBadGateway {
		t.Fatalf("cancel with the refund API down: %d", st)
	}
	cc := newConsoleClient(t, s.testService)
	login := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil)
	if login.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("login: %d", login.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	page := cc.get("/admin/orders/" + b.id)
	if !strings.Contains(string(page.body), `action="/admin/orders/`+b.id+`/refund"`) {
		t.Fatalf("the order page offers no refund: %s", page.body)
	}
	done := cc.post("/admin/orders/"+b.id+"/refund", url.Values{"csrf": {csrfOf(t, page)}}, nil)
	if done.status != http.StatusSeeOther || done.header.Get("Location") != "/admin/orders/"+b.id+"?msg=refund" {
		t.Fatalf("console refund: %d to %q", done.status, done.header.Get("Location"))
	}
	if got := s.events(t, b.id); got[len(got)-1] != "refund_initiated.v1 by admin:"+createdAdminID(t, s.testService, "ops@certibuy.in") {
		t.Fatalf("events %v", got)
	}
}

// The service asks again on its own for a refund still owed: one the gateway could not take when
// the order was cancelled, then one it refused. An unpaid cancelled order owes nothing and is left
// alone.
func TestTheSweepAsksAgainForRefundsStillOwed(t *testing.T) {
	t.Parallel()
	s := startShop(t, map[string]string{"REFUND_SWEEP_INTERVAL": "100ms"})
	unpaid := s.checkout(t)
	if res := s.do(t, "POST", "/api/v1/orders/"+unpaid.id+"/cancel", nil, bearerHeader(unpaid.token)); res.status != 200 {
		t.Fatalf("cancel an unpaid order: %d %s", res.status, res.body)
	}
	a := paidOrder(t, s)
	s.rzp.FailNext(1, 500, `{"error":{"code":"SERVER_ERROR","description":"The server encountered an error."}}`)
	if res := s.do(t, "POST", "/api/v1/orders/"+a.id+"/cancel", nil, bearerHeader(a.token)); res.status != http.StatusBadGateway {
		t.Fatalf("cancel with the refund API down: %d %s", res.status, res.body)
	}
	pay := mustPaymentOf(t, &notifyShop{shop: s}, a.id)
	asked := func(n int) razorpay.Refund {
		t.Helper()
		waitFor(t, 20*time.Second, func() bool {
			got := s.events(t, a.id)
			return got[len(got)-1] == "refund_initiated.v1 by system" && len(s.rzp.Refunds(pay)) == n
		}, fmt.Sprintf("the sweep never asked for refund %d", n))
		return s.rzp.Refunds(pay)[n-1]
	}
	first := asked(1)
	// The gateway refuses it: the sweep asks for a new one.
	if r := s.webhook(t, s.rzp.RefundFailedWebhook(first.ID), "evt_rf1"); r.status != 200 {
		t.Fatal(r.status)
	}
	second := asked(2)
	if second.ID == first.ID {
		t.Fatalf("the refund asked after a refusal is the refused one: %s", second.ID)
	}
	if r := s.webhook(t, s.rzp.RefundProcessedWebhook(second.ID), "evt_rp2"); r.status != 200 {
		t.Fatal(r.status)
	}
	want := []string{"cancelled.v1 by customer:guest", "refund_initiated.v1 by system", "refund_failed.v1 by gateway:razorpay",
		"refund_initiated.v1 by system", "refund_processed.v1 by gateway:razorpay"}
	if got := s.events(t, a.id); fmt.Sprint(got[len(got)-5:]) != fmt.Sprint(want) {
		t.Fatalf("events %v", got)
	}
	if got := s.events(t, unpaid.id); got[len(got)-1] != "cancelled.v1 by customer:guest" {
		t.Fatalf("the unpaid order's events %v", got)
	}
}

func createdAdminID(t *testing.T, s *testService, email string) string {
	t.Helper()
	var id string
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT id::text FROM admin_users WHERE email = $1`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
