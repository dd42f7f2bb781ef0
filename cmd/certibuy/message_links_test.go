package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/links"
	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// TestMessageLinksAreMadeAsTheyAreSentAndNeverStored: the confirmation's links carry a token that
// opens the order; the token is in the messages and nowhere else: not in the event store, not in
// the queue, not in the log.
func TestMessageLinksAreMadeAsTheyAreSentAndNeverStored(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"PUBLIC_BASE_URL": "https://orders.certibuy.in",
		"REVIEW_URL": "https://www.certibuy.in/review/{order_number}?t={token}", "SMS_LINK_BASE_URL": "https://s.certibuy.in"})
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	id := uuid.MustParse(o.id)
	want := n.deps.Links.ForMessage(id, o.number)
	token := want.OrderURL[strings.LastIndex(want.OrderURL, "=")+1:]
	if want.OrderURL != "https://orders.certibuy.in/orders/"+o.id+"?t="+token || n.deps.Links.Check(id, token) != nil {
		t.Fatalf("order link %q does not open the order", want.OrderURL)
	}

	for _, raw := range n.smtp.Messages() {
		m := parseMail(t, raw.Data)
		if !strings.Contains(m.text, "View your order: "+want.OrderURL+"\r\n") || !strings.Contains(m.html, `href="`+want.OrderURL+`"`) {
			t.Errorf("e-mail %q lacks the order link %s:\n%s", m.subject, want.OrderURL, m.text)
		}
	}
	var confirmed bool
	for _, r := range n.msg91.Received() {
		if r.TemplateID == "tmpl_order_confirmed" {
			confirmed = true
			if r.Vars["link"] != want.SMSOrderURL || want.SMSOrderURL != "https://s.certibuy.in/o/"+o.number+"/"+token {
				t.Errorf("confirmation SMS link %q, want %q", r.Vars["link"], want.SMSOrderURL)
			}
		}
	}
	if !confirmed {
		t.Fatal("no confirmation SMS")
	}

	for what, sql := range map[string]string{
		"event store": `SELECT count(*) FROM events WHERE data::text LIKE '%' || $1 || '%' OR concat_ws(' ', correlation_id, causation_id, actor) LIKE '%' || $1 || '%'`,
		"queue":       `SELECT count(*) FROM notification_queue q WHERE q::text LIKE '%' || $1 || '%'`,
	} {
		var found int
		if err := n.deps.Pool.QueryRow(context.Background(), sql, token).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if found != 0 {
			t.Errorf("the %s holds the token", what)
		}
	}
	if strings.Contains(n.logs.String(), token) {
		t.Errorf("the log holds the token")
	}
}

// sentMessage is one message a provider received: an e-mail part or an SMS text.
type sentMessage struct {
	orderNumber string
	what        string // "e-mail text", "e-mail HTML", "SMS"
	subject     string // of the e-mail
	body        string
}

// sentMessages returns the parts of every e-mail the SMTP server received and the text of every
// SMS Fast2SMS (route q) received, each with the order it is about.
func (n *notifyShop) sentMessages(t *testing.T, orders []placed) []sentMessage {
	t.Helper()
	numberIn := func(s string) string {
		for _, o := range orders {
			if strings.Contains(s, o.number) {
				return o.number
			}
		}
		t.Fatalf("a message about no order of the test: %q", s)
		return ""
	}
	var out []sentMessage
	for _, raw := range n.smtp.Messages() {
		m := parseMail(t, raw.Data)
		num := numberIn(m.subject)
		out = append(out, sentMessage{num, "e-mail text", m.subject, m.text}, sentMessage{num, "e-mail HTML", m.subject, m.html})
	}
	for _, r := range n.f2s.Received() {
		out = append(out, sentMessage{orderNumber: numberIn(r.Message), what: "SMS", body: r.Message})
	}
	return out
}

// TestEveryLinkInEveryMessageIsOneTheServiceMakesOrIsGiven walks orders through every notification
// type with every link setting on, and checks each link of each e-mail (HTML and text) and SMS: the
// order link the service makes (its page, at PUBLIC_BASE_URL), the review link (REVIEW_URL), their
// short forms on SMS_LINK_BASE_URL, the carrier's tracking page, or mailto: the support address;
// nothing else. The SMS, made with the longest SMS_LINK_BASE_URL accepted, each fit one GSM-7 part.
func TestEveryLinkInEveryMessageIsOneTheServiceMakesOrIsGiven(t *testing.T) {
	t.Parallel()
	const base = "https://sms.certibuy-electronics.co.in/s"
	if len(base) != links.MaxSMSBaseURL {
		t.Fatalf("the SMS link base is %d characters, want the longest accepted", len(base))
	}
	n := startNotifyShop(t, map[string]string{"PUBLIC_BASE_URL": "https://orders.certibuy.in", "SUPPORT_EMAIL": "help@certibuy.in",
		"REVIEW_URL": "https://www.certibuy.in/review/{order_number}?t={token}", "SMS_LINK_BASE_URL": base,
		"SMS_PROVIDER": "fast2sms", "SMS_FALLBACK": "none", "SHOP_NAME": "CertiBuy Store"})
	token, _ := n.adminToken(t, "ops@certibuy.in")
	ids := map[string]uuid.UUID{}
	allowed := map[string]map[string]bool{} // order number → the links its messages may carry
	allow := func(o placed) {
		id := uuid.MustParse(o.id)
		ids[o.number] = id
		m := n.deps.Links.ForMessage(id, o.number)
		if allowed[o.number] == nil {
			allowed[o.number] = map[string]bool{"mailto:help@certibuy.in": true}
		}
		for _, l := range []string{m.OrderURL, m.ReviewURL, m.SMSOrderURL, m.SMSReviewURL} {
			allowed[o.number][l] = true
		}
	}

	delivered := n.pay(t)
	for _, step := range []string{"ship", "out-for-delivery", "deliver"} {
		body := []byte(nil)
		if step == "ship" {
			body = []byte(`{"carrier": "Blue Dart", "tracking_id": "BD77120938IN"}`)
		}
		if res := n.do(t, "POST", "/api/v1/admin/orders/"+delivered.id+"/"+step, body, bearerHeader(token)); res.status != 200 {
			t.Fatalf("%s: %d %s", step, res.status, res.body)
		}
	}
	refunded := n.pay(t)
	if res := n.do(t, "POST", "/api/v1/orders/"+refunded.id+"/cancel", []byte(`{"reason": "see https://evil.example/x"}`), bearerHeader(refunded.token)); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	refundID := n.rzp.Refunds(mustPaymentOf(t, n, refunded.id))[0].ID
	if res := n.webhook(t, n.rzp.RefundProcessedWebhook(refundID), "evt_refund"); res.status != 200 {
		t.Fatalf("refund webhook: %d %s", res.status, res.body)
	}
	unpaid := n.checkout(t)
	if res := n.do(t, "POST", "/api/v1/orders/"+unpaid.id+"/cancel", nil, bearerHeader(unpaid.token)); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	orders := []placed{delivered, refunded, unpaid}
	types := map[string]bool{}
	messages := 0
	for _, o := range orders {
		allow(o) // the links of messages sent today; again below, in case the day turned meanwhile
		for _, typ := range n.notifiedTypes(t, o.id) {
			types[typ] = true
			messages++
		}
		n.waitSettled(t, o.id, 2*len(n.notifiedTypes(t, o.id)))
		allow(o)
	}
	if len(types) != len(notification.Types()) {
		t.Fatalf("the walk calls for %d types of %d", len(types), len(notification.Types()))
	}
	tracking := order.TrackingURL("Blue Dart", "BD77120938IN")
	allowed[delivered.number][tracking] = true

	sent := n.sentMessages(t, orders)
	if len(sent) != 3*messages { // two parts an e-mail, one SMS
		t.Fatalf("%d e-mail parts and SMS, want %d", len(sent), 3*messages)
	}
	seen := map[string]bool{}
	reasonShown := false
	for _, m := range sent {
		// The customer's reason is shown, but cannot add a link.
		reasonShown = reasonShown || strings.Contains(m.body, "Reason: see https[:]//evil[.]example/x")
		for _, l := range templates.LinksIn(m.body) {
			if u, err := url.Parse(l); err == nil {
				seen[u.Scheme+":"+u.Host] = true
			}
			if !allowed[m.orderNumber][l] {
				t.Errorf("%s %q of %s links to %q, which the service neither makes nor was given", m.what, m.subject, m.orderNumber, l)
			}
		}
		if m.what != "SMS" {
			continue
		}
		if enc, parts := templates.SMSParts(m.body); enc != templates.EncodingGSM7 || parts != 1 {
			t.Errorf("SMS %q is %s in %d parts", m.body, enc, parts)
		}
		for _, l := range templates.LinksIn(m.body) {
			if !strings.HasPrefix(l, base+"/") {
				t.Errorf("SMS %q links outside SMS_LINK_BASE_URL: %q", m.body, l)
			}
		}
	}
	if !reasonShown {
		t.Error("the cancellation does not show the reason")
	}
	// Every kind of link was seen, so the check above was not vacuous.
	for _, host := range []string{"https:orders.certibuy.in", "https:www.certibuy.in", "https:sms.certibuy-electronics.co.in", "https:www.bluedart.com", "mailto:"} {
		if !seen[host] {
			t.Errorf("no message linked to %s: %v", host, seen)
		}
	}
	for number, id := range ids {
		for l := range allowed[number] {
			if i := strings.LastIndexAny(l, "=/"); strings.HasPrefix(l, "http") && l != tracking && n.deps.Links.Check(id, l[i+1:]) != nil {
				t.Errorf("%s: the token of %s does not open the order", number, l)
			}
		}
	}
}

// TestACustomerCanOpenEveryLinkInEveryMessage is the customer's side of issue 12 from outside: a
// customer who pays and is shipped to, and who cancels another order (and pays for it late, in
// another tab), opens every link of every e-mail and SMS they received. A link to this service
// answers the order's page (200, the order's number on it), directly or through a short link's
// redirect; a review link goes to the configured storefront; a tracking link is the carrier's page;
// the rest is mailto: the shop's support address.
func TestACustomerCanOpenEveryLinkInEveryMessage(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	const review = "https://shop.example.in/review/{order_id}?t={token}"
	n := startNotifyShop(t, map[string]string{"HTTP_ADDR": addr, "PUBLIC_BASE_URL": base, "SMS_LINK_BASE_URL": base,
		"REVIEW_URL": review, "SUPPORT_EMAIL": "help@certibuy.in", "SMS_PROVIDER": "fast2sms", "SMS_FALLBACK": "none"})
	token, _ := n.adminToken(t, "ops@certibuy.in")

	delivered := n.pay(t)
	for _, step := range []string{"ship", "out-for-delivery", "deliver"} {
		var body []byte
		if step == "ship" {
			body = []byte(`{"carrier": "Delhivery", "tracking_id": "DLV99120938"}`)
		}
		if res := n.do(t, "POST", "/api/v1/admin/orders/"+delivered.id+"/"+step, body, bearerHeader(token)); res.status != 200 {
			t.Fatalf("%s: %d %s", step, res.status, res.body)
		}
	}
	cancelled := n.pay(t)
	if res := n.do(t, "POST", "/api/v1/orders/"+cancelled.id+"/cancel", []byte(`{"reason": "ordered twice"}`), bearerHeader(cancelled.token)); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	first := mustPaymentOf(t, n, cancelled.id)
	if res := n.webhook(t, n.rzp.RefundProcessedWebhook(n.rzp.Refunds(first)[0].ID), "evt_r1"); res.status != 200 {
		t.Fatalf("refund webhook: %d", res.status)
	}
	late, _ := n.rzp.PayAgain(cancelled.gatewayOrder, "upi")
	if res := n.webhook(t, n.rzp.CapturedWebhook(late), "evt_late"); res.status != 200 {
		t.Fatalf("late payment webhook: %d %s", res.status, res.body)
	}
	if res := n.webhook(t, n.rzp.RefundProcessedWebhook(n.rzp.Refunds(late)[0].ID), "evt_r2"); res.status != 200 {
		t.Fatalf("late refund webhook: %d", res.status)
	}
	orders := []placed{delivered, cancelled}
	for _, o := range orders {
		n.waitSettled(t, o.id, 2*len(n.notifiedTypes(t, o.id)))
	}
	if got := n.notifiedTypes(t, cancelled.id); strings.Count(strings.Join(got, ","), "refund_processed") != 2 {
		t.Fatalf("the cancelled order's customer was told %v: want one refund message for each of its two refunds", got)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	opened := map[string]int{}
	for _, m := range n.sentMessages(t, orders) {
		id := map[string]string{delivered.number: delivered.id, cancelled.number: cancelled.id}[m.orderNumber]
		for _, l := range templates.LinksIn(m.body) {
			switch {
			case l == "mailto:help@certibuy.in":
				opened["mailto"]++
			case l == order.TrackingURL("Delhivery", "DLV99120938") && m.orderNumber == delivered.number:
				opened["carrier"]++
			case strings.HasPrefix(l, "https://shop.example.in/review/"+id+"?t="):
				opened["storefront"]++
			case strings.HasPrefix(l, base+"/"):
				res, err := noRedirect.Get(l)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, res)
				page := l
				if res.StatusCode == http.StatusSeeOther {
					page = res.Header.Get("Location")
					opened["short link"]++
					if strings.HasPrefix(page, "https://shop.example.in/review/"+id+"?t=") {
						opened["storefront"]++
						continue
					}
				}
				if !strings.HasPrefix(page, base+"/orders/"+id+"?t=") {
					t.Errorf("%s %q of %s: %s leads to %q", m.what, m.subject, m.orderNumber, l, page)
					continue
				}
				res, err = http.Get(page)
				if err != nil {
					t.Fatal(err)
				}
				if body := readAll(t, res); res.StatusCode != 200 || !strings.Contains(body, m.orderNumber) {
					t.Errorf("%s %q: %s answers %d", m.what, m.subject, page, res.StatusCode)
				}
				opened["order page"]++
			default:
				t.Errorf("%s %q of %s links to %q: neither this service, nor the storefront, nor the carrier", m.what, m.subject, m.orderNumber, l)
			}
		}
	}
	for _, kind := range []string{"order page", "short link", "storefront", "carrier", "mailto"} {
		if opened[kind] == 0 {
			t.Errorf("no %s link was opened (%v): the walk proves less than it says", kind, opened)
		}
	}
}
