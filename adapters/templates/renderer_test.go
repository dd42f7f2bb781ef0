package templates

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/links"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/templates"
)

func mustRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// bigOrder is an order whose amounts need the lakh/crore grouping.
func bigOrder() notification.MessageData {
	d := SampleData()
	d.CustomerName = "Asha Rao"
	d.OrderNumber = "CB-4HQ7WZ2M"
	d.Items = []notification.MessageItem{
		{Name: "Apple iPhone 16 Pro (256 GB)", Quantity: 1, UnitPrice: "₹1,29,900.00", LineTotal: "₹1,29,900.00"},
		{Name: "Spigen Rugged Armor Case", Quantity: 2, UnitPrice: "₹1,099.00", LineTotal: "₹2,198.00"},
	}
	d.Total = "₹1,32,098.00"
	d.TotalDigits = "1,32,098.00"
	d.PaymentID = "pay_NkT3x8QvZr21Lm"
	d.PaymentMethod = "Card"
	d.Carrier = "Blue Dart"
	d.TrackingID = "BD77120938IN"
	d.TrackingURL = order.TrackingURL(d.Carrier, d.TrackingID) // with an & to escape in HTML
	d = d.WithLinks(notification.Links{
		OrderURL:     "https://www.certibuy.in/account/orders/CB-4HQ7WZ2M?t=AAdWkF3sYq2Pz0cX",
		ReviewURL:    "https://www.certibuy.in/review/CB-4HQ7WZ2M?t=AAdWkF3sYq2Pz0cX",
		SMSOrderURL:  "https://s.certibuy.in/o/CB-4HQ7WZ2M/AAdWkF3sYq2Pz0cX",
		SMSReviewURL: "https://s.certibuy.in/r/CB-4HQ7WZ2M/AAdWkF3sYq2Pz0cX",
	})
	d.RefundAmount = "₹1,32,098.00"
	d.RefundDigits = "1,32,098.00"
	d.RefundExpectation = "5-7 working days"
	d.CancelReason = "Ordered the wrong colour"
	return d
}

// want lists what a customer must find in each message of a type.
type want struct {
	subject []string // in the subject line
	text    []string // in the plain-text part (and, HTML-escaped, in the HTML part)
	sms     []string // in the SMS
}

func wants(d notification.MessageData) map[notification.Type]want {
	lines := []string{"Apple iPhone 16 Pro (256 GB)", "₹1,29,900.00", "Spigen Rugged Armor Case", "₹2,198.00", d.Total}
	return map[notification.Type]want{
		notification.PaymentSuccessful: {
			subject: []string{d.OrderNumber, d.Total},
			text:    append([]string{d.PaymentID, "Card"}, lines...),
			sms:     []string{"Rs " + d.TotalDigits, d.PaymentID},
		},
		notification.OrderConfirmed: {
			subject: []string{d.OrderNumber, "confirmed"},
			text:    append([]string{"confirmed"}, lines...),
			sms:     []string{"Rs " + d.TotalDigits, "confirmed", d.SMSOrderURL},
		},
		notification.OrderShipped: {
			subject: []string{d.OrderNumber, d.TrackingID},
			text:    append([]string{d.TrackingID, d.Carrier}, lines...),
			sms:     []string{d.TrackingID, d.Carrier},
		},
		notification.OutForDelivery: {
			subject: []string{d.OrderNumber, "out for delivery"},
			text:    append([]string{"out for delivery", "today"}, lines...),
			sms:     []string{"out for delivery", "today"},
		},
		notification.OrderDelivered: {
			subject: []string{d.OrderNumber, "delivered"},
			text:    append([]string{"delivered", d.ReviewURL}, lines...),
			sms:     []string{"delivered", d.SMSReviewURL},
		},
		notification.OrderCancelled: {
			subject: []string{d.OrderNumber, "cancelled", d.RefundAmount},
			text:    append([]string{"has been cancelled", "Reason: " + d.CancelReason, d.RefundAmount, "within " + d.RefundExpectation}, lines...),
			sms:     []string{"cancelled", "Rs " + d.RefundDigits + " will be refunded in " + d.RefundExpectation + "."},
		},
		notification.RefundProcessed: {
			subject: []string{d.OrderNumber, d.RefundAmount},
			text:    append([]string{d.RefundAmount, "within " + d.RefundExpectation}, lines...),
			sms:     []string{"Rs " + d.RefundDigits, d.RefundExpectation},
		},
	}
}

func TestEveryTypeRendersBothChannels(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder()
	all := wants(d)
	if len(all) != len(notification.Types()) {
		t.Fatalf("test covers %d types, there are %d", len(all), len(notification.Types()))
	}
	for _, typ := range notification.Types() {
		t.Run(string(typ), func(t *testing.T) {
			w := all[typ]
			e, err := r.Email(typ, d)
			if err != nil {
				t.Fatalf("Email: %v", err)
			}
			for _, s := range w.subject {
				if !strings.Contains(e.Subject, s) {
					t.Errorf("subject %q lacks %q", e.Subject, s)
				}
			}
			for _, s := range append(w.text, d.OrderNumber, d.OrderURL, d.SupportEmail, "Hi Asha Rao,") {
				if !strings.Contains(e.Text, s) {
					t.Errorf("text part lacks %q:\n%s", s, e.Text)
				}
				if !strings.Contains(e.HTML, htmlEscape(s)) {
					t.Errorf("HTML part lacks %q", htmlEscape(s))
				}
			}
			if strings.Contains(e.Text, "<") {
				t.Errorf("text part has markup:\n%s", e.Text)
			}
			if strings.Contains(e.Text, "\n\n\n") {
				t.Errorf("text part has runs of blank lines:\n%s", e.Text)
			}
			for _, s := range []string{"<!DOCTYPE html>", "linear-gradient(135deg", "#0d9488", "#06b6d4", `role="presentation"`, "display:none", `href="` + d.OrderURL + `"`} {
				if !strings.Contains(e.HTML, s) {
					t.Errorf("HTML lacks %q (layout, teal/cyan gradient, preheader, order link)", s)
				}
			}
			if strings.Count(e.HTML, "<html") != 1 || !strings.HasSuffix(e.HTML, "</html>\n") {
				t.Errorf("HTML is not one document")
			}

			sms, err := r.SMS(typ, d)
			if err != nil {
				t.Fatalf("SMS: %v", err)
			}
			for _, s := range append(w.sms, "CertiBuy", d.OrderNumber, "Hi Asha,") {
				if !strings.Contains(sms, s) {
					t.Errorf("SMS %q lacks %q", sms, s)
				}
			}
			if enc, parts := SMSParts(sms); enc != EncodingGSM7 || parts != 1 {
				t.Errorf("SMS %q is %s in %d parts, want GSM-7 in 1", sms, enc, parts)
			}
		})
	}
}

// htmlEscape is what html/template makes of plain text in element content.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestPreheaderAndTitleSayWhatTheMailIsAbout(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder()
	e, err := r.Email(notification.OrderShipped, d)
	if err != nil {
		t.Fatal(err)
	}
	pre := "Order CB-4HQ7WZ2M is on its way with Blue Dart. Tracking ID BD77120938IN."
	i := strings.Index(e.HTML, pre)
	if i < 0 || i > strings.Index(e.HTML, "<table") {
		t.Errorf("preheader %q not at the top of the body", pre)
	}
	if !strings.Contains(e.HTML, "<title>Your order has shipped</title>") {
		t.Errorf("no title")
	}
}

func TestEmailEscapesCustomerData(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder()
	d.CustomerName = `<script>alert("pwned")</script>`
	d.Items[0].Name = `Tom & Jerry <b>DVD</b>`
	d.OrderURL = "javascript:alert(1)"
	d.TrackingID = "AB12\r\nBcc: victim@example.com"
	for _, typ := range notification.Types() {
		e, err := r.Email(typ, d)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if strings.Contains(e.HTML, "<script>") || strings.Contains(e.HTML, "<b>DVD") {
			t.Errorf("%s: HTML carries the customer's markup", typ)
		}
		if !strings.Contains(e.HTML, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
			t.Errorf("%s: HTML lacks the escaped name", typ)
		}
		if !strings.Contains(e.HTML, "Tom &amp; Jerry &lt;b&gt;DVD&lt;/b&gt;") {
			t.Errorf("%s: HTML lacks the escaped item name", typ)
		}
		if strings.Contains(e.HTML, "javascript:") {
			t.Errorf("%s: a javascript: URL reached an href", typ)
		}
		// Plain text is not HTML: the name is shown as typed.
		if !strings.Contains(e.Text, `Hi <script>alert("pwned")</script>,`) {
			t.Errorf("%s: text part altered the name", typ)
		}
		if strings.ContainsAny(e.Subject, "\r\n") {
			t.Errorf("%s: subject %q spans lines", typ, e.Subject)
		}
	}
}

// TestSMSFitOnePartWithLongestValues renders every SMS with the longest values an order realistically
// has and the links the service makes on the longest SMS_LINK_BASE_URL it accepts. The name is
// trimmed by the template (smsname: the given name, at most MaxSMSName characters), not in the data,
// because the e-mail greets by the full name; the cancel reason (up to 200 characters) is left out.
func TestSMSFitOnePartWithLongestValues(t *testing.T) {
	r := mustRenderer(t)
	d := SampleData()
	d.ShopName = "CertiBuy Store" // SHOP_NAME at its longest
	d.CustomerName = "Venkatanarasimha Raghavendra Subramaniam"
	d.OrderNumber = "CB-XXXXXXXX"                            // CB- and 8 characters, as every number is
	d.Total, d.TotalDigits = "₹10,00,000.00", "10,00,000.00" // the order cap
	d.RefundAmount, d.RefundDigits = d.Total, d.TotalDigits
	d.PaymentID = "pay_29QQoUBi66xm2f" // Razorpay's ids are pay_ and 14 characters
	d.Carrier = "Professional Couriers"
	d.TrackingID = "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234"
	d.TrackingURL = "https://www.tpcindia.com/track.aspx?id=ABCDEFGHIJKLMNOPQRSTUVWXYZ1234"
	d.RefundExpectation = "10–14 working days once the return is in" // REFUND_EXPECTATION at its longest
	d.CancelReason = strings.Repeat("I ordered the wrong size by mistake. ", 6)[:200]
	base := "https://sms.certibuy-electronics.co.in/s"
	lk, err := links.New(links.Config{Key: make([]byte, links.MinKeyBytes), PublicBaseURL: "https://orders.certibuy.in",
		ReviewURL: "https://www.certibuy.in/review/{order_number}?t={token}", SMSLinkBaseURL: base}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	m := lk.ForMessage(uuid.New(), d.OrderNumber)
	d = d.WithLinks(notification.Links(m))
	for what, n := range map[string]int{"shop name": MaxSMSShopName, "SMS link base": links.MaxSMSBaseURL,
		"customer name": 40, "tracking id": 30, "refund expectation": MaxSMSRefundExpectation} {
		if got := map[string]int{"shop name": SMSWidth(d.ShopName), "SMS link base": len(base), "customer name": len(d.CustomerName),
			"tracking id": len(d.TrackingID), "refund expectation": len([]rune(d.RefundExpectation))}[what]; got != n {
			t.Fatalf("the %s is %d characters, want %d", what, got, n)
		}
	}
	check := func(name string, typ notification.Type, d notification.MessageData) string {
		t.Helper()
		sms, err := r.SMS(typ, d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%-26s %3d %s", name, len(sms), sms)
		if enc, parts := SMSParts(sms); enc != EncodingGSM7 || parts != 1 {
			t.Errorf("%s: %d characters, %s in %d parts; want GSM-7 in 1: %q", name, len(sms), enc, parts, sms)
		}
		if !strings.HasPrefix(sms, "CertiBuy Store: Hi Venkatanarasimha, ") || strings.Contains(sms, "Raghavendra") {
			t.Errorf("%s: %q does not start with the brand and the given name alone", name, sms)
		}
		if strings.Contains(sms, "wrong size") || strings.Contains(sms, "tpcindia") {
			t.Errorf("%s: %q carries the cancel reason or the carrier's link", name, sms)
		}
		return sms
	}
	for _, k := range notification.Catalogue() {
		check(string(k.Type), k.Type, k.Keep(notification.SMS, d))
		noLinks := k.Keep(notification.SMS, d)
		noLinks.SMSOrderURL, noLinks.SMSReviewURL = "", ""
		check(string(k.Type)+" without SMS links", k.Type, noLinks)
	}
	unpaid := d
	unpaid.RefundAmount, unpaid.RefundDigits = "", ""
	check("order_cancelled unpaid", notification.OrderCancelled, unpaid)
	// The links are the ones the service makes, on the longest base.
	if sms := check("order_confirmed", notification.OrderConfirmed, d); !strings.HasSuffix(sms, " "+m.SMSOrderURL) || !strings.HasPrefix(m.SMSOrderURL, base+"/o/CB-XXXXXXXX/") {
		t.Errorf("confirmation SMS %q lacks the link %q", sms, m.SMSOrderURL)
	}
	if sms := check("order_delivered", notification.OrderDelivered, d); !strings.HasSuffix(sms, " "+m.SMSReviewURL) {
		t.Errorf("delivered SMS %q lacks the review link %q", sms, m.SMSReviewURL)
	}
}

func TestSMSStaysGSM7WhateverTheData(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder()
	d.CustomerName = "राहुल शर्मा"
	d.Carrier = "Ekart “Express”"
	d.RefundExpectation = "5–7 working days"
	d.TotalDigits = "₹1,32,098.00" // a caller passing the e-mail form by mistake
	for _, typ := range notification.Types() {
		sms, err := r.SMS(typ, d)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !IsGSM7(sms) {
			t.Errorf("%s: %q is not GSM-7", typ, sms)
		}
		if !strings.Contains(sms, "Hi there,") {
			t.Errorf("%s: %q should greet a non-GSM-7 name as \"there\"", typ, sms)
		}
	}
	shipped, _ := r.SMS(notification.OrderShipped, d)
	if !strings.Contains(shipped, `via Ekart "Express".`) {
		t.Errorf("shipped SMS %q: curly quotes not made straight", shipped)
	}
	refund, _ := r.SMS(notification.RefundProcessed, d)
	if !strings.Contains(refund, "Expect it in 5-7 working days.") {
		t.Errorf("refund SMS %q: en dash not made a hyphen", refund)
	}
}

func TestSMSFallbacksForMissingData(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder()
	d.CustomerName = ""
	d.Carrier = ""
	d.RefundExpectation = ""
	shipped, _ := r.SMS(notification.OrderShipped, d)
	// "via courier", as MSG91's carrier variable says it: one registered text serves both.
	if want := "CertiBuy: Hi there, order CB-4HQ7WZ2M has shipped via courier. Tracking ID: BD77120938IN"; shipped != want {
		t.Errorf("shipped SMS = %q, want %q", shipped, want)
	}
	refund, _ := r.SMS(notification.RefundProcessed, d)
	if !strings.HasSuffix(refund, "Expect it in a few working days.") {
		t.Errorf("refund SMS = %q", refund)
	}
	e, _ := r.Email(notification.OrderShipped, d)
	if !strings.Contains(e.Text, "Hi there,") || strings.Contains(e.Text, " with .") {
		t.Errorf("text part without name or carrier:\n%s", e.Text)
	}
}

func TestUnknownType(t *testing.T) {
	r := mustRenderer(t)
	if _, err := r.Email("parcel_lost", bigOrder()); err == nil {
		t.Error("Email rendered an unknown type")
	}
	if _, err := r.SMS("parcel_lost", bigOrder()); err == nil {
		t.Error("SMS rendered an unknown type")
	}
}

// TestNewRefusesBrokenTemplates proves the start-up check: a missing file, a syntax error or a field
// MessageData does not have stops New, naming the type.
func TestNewRefusesBrokenTemplates(t *testing.T) {
	base := fstest.MapFS{}
	err := fs.WalkDir(templates.FS, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS, p)
		base[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newRenderer(base); err != nil {
		t.Fatalf("the copied templates do not parse: %v", err)
	}
	cases := []struct {
		name, file, content, want string
	}{
		{"missing SMS", "sms/order_shipped.txt", "", "order_shipped SMS"},
		{"missing HTML", "emails/refund_processed.html", "", "refund_processed e-mail HTML"},
		{"syntax error", "emails/order_confirmed.txt", `{{define "subject"}}x{{end}}{{if .OrderNumber}}`, "order_confirmed e-mail text"},
		{"no subject", "emails/order_delivered.txt", `Delivered {{.OrderNumber}}`, `does not define a "subject"`},
		{"misspelt field", "sms/payment_successful.txt", `Paid {{.OrderNo}}`, "payment_successful SMS"},
		{"misspelt field in HTML", "emails/out_for_delivery.html", `{{template "layout" .}}{{define "title"}}{{.Tracking}}{{end}}{{define "preheader"}}{{end}}{{define "content"}}{{end}}`, "out_for_delivery e-mail"},
		// Fields the type's catalogue row does not fill would render empty, even in a branch the
		// sample never takes.
		{"a field the row does not fill", "sms/order_confirmed.txt", `Order {{.OrderNumber}}{{with .TrackingID}} tracking {{.}}{{end}}`, "order_confirmed SMS: it reads .TrackingID"},
		{"one in a shared block", "emails/layout.txt", `{{define "items"}}{{.OrderNumber}}{{end}}{{define "footer"}}{{if $.RefundAmount}}x{{end}}{{end}}`, "payment_successful e-mail text: it reads .RefundAmount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken := fstest.MapFS{}
			for k, v := range base {
				broken[k] = v
			}
			if c.content == "" {
				delete(broken, c.file)
			} else {
				broken[c.file] = &fstest.MapFile{Data: []byte(c.content)}
			}
			_, err := newRenderer(broken)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("newRenderer = %v, want an error about %q", err, c.want)
			}
		})
	}
}

// TestLinksOnlyWhereTheSettingsPutThem: without SMS_LINK_BASE_URL no SMS carries a link (operators
// block SMS whose links are not registered), and without REVIEW_URL no message asks for a review.
func TestLinksOnlyWhereTheSettingsPutThem(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder().WithLinks(notification.Links{OrderURL: "https://orders.certibuy.in/orders/0190f5a2-7c1e-7b3a-9c4d-2e5f6a7b8c9d?t=AAdWkF3sYq2Pz0cX"})
	for _, typ := range notification.Types() {
		sms, err := r.SMS(typ, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sms, "http") || strings.Contains(sms, "www.") {
			t.Errorf("%s SMS without SMS_LINK_BASE_URL carries a link: %q", typ, sms)
		}
		e, err := r.Email(typ, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(e.Text+e.HTML), "review") {
			t.Errorf("%s e-mail without REVIEW_URL asks for a review:\n%s", typ, e.Text)
		}
	}
	if sms, _ := r.SMS(notification.OrderDelivered, d); !strings.HasSuffix(sms, "has been delivered. We hope you love it.") {
		t.Errorf("delivered SMS without links: %q", sms)
	}

	// The SMS links without a review page: the order link, and no review link.
	d.SMSOrderURL = "https://s.certibuy.in/o/CB-4HQ7WZ2M/AAdWkF3sYq2Pz0cX"
	if sms, _ := r.SMS(notification.OrderConfirmed, d); !strings.HasSuffix(sms, "is confirmed: "+d.SMSOrderURL) {
		t.Errorf("confirmed SMS with an SMS link: %q", sms)
	}
	if sms, _ := r.SMS(notification.OrderDelivered, d); strings.Contains(sms, "http") {
		t.Errorf("delivered SMS without REVIEW_URL: %q", sms)
	}
}

// TestTrackingLinkInShippedAndOutForDeliveryEmails: with the carrier's tracking page known, the
// shipped and out-for-delivery e-mails have a "Track your parcel" button and show the address in
// the text; an SMS never links to a carrier (only SMS_LINK_BASE_URL links are registered).
func TestTrackingLinkInShippedAndOutForDeliveryEmails(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder()
	if !strings.Contains(d.TrackingURL, "&") {
		t.Fatalf("tracking URL %q: want one with an & to see it escaped", d.TrackingURL)
	}
	for _, typ := range []notification.Type{notification.OrderShipped, notification.OutForDelivery} {
		e, err := r.Email(typ, d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.Text, "Track your parcel: "+d.TrackingURL+"\n") {
			t.Errorf("%s text lacks the tracking URL:\n%s", typ, e.Text)
		}
		if !strings.Contains(e.HTML, `href="`+htmlEscape(d.TrackingURL)+`"`) || !strings.Contains(e.HTML, ">Track your parcel</a>") {
			t.Errorf("%s HTML lacks the tracking button", typ)
		}
		sms, _ := r.SMS(typ, d)
		if strings.Contains(sms, "bluedart") {
			t.Errorf("%s SMS links to the carrier: %q", typ, sms)
		}

		unknown := d
		unknown.TrackingURL = ""
		e, _ = r.Email(typ, unknown)
		if strings.Contains(e.Text+e.HTML, "Track your parcel") {
			t.Errorf("%s without a tracking page offers to track", typ)
		}
	}
}

// TestACancellationSaysWhetherMoneyComesBack: a paid order's cancellation gives the refund and when
// to expect it (in the configured words, made GSM-7 for the SMS); an unpaid one's promises nothing.
func TestACancellationSaysWhetherMoneyComesBack(t *testing.T) {
	r := mustRenderer(t)
	k, _ := notification.KindOf(notification.OrderCancelled)
	paid := k.Keep(notification.Email, bigOrder())
	paid.RefundExpectation = "5–7 working days" // the default, with an en dash
	e, err := r.Email(notification.OrderCancelled, paid)
	if err != nil {
		t.Fatal(err)
	}
	// The lines are indented alike, so that their values line up.
	for _, s := range []string{"\n  Refund:   ₹1,32,098.00\n  Expected: within 5–7 working days", "Reason: Ordered the wrong colour"} {
		if !strings.Contains(e.Text, s) {
			t.Errorf("paid cancellation text lacks %q:\n%s", s, e.Text)
		}
	}
	if !strings.Contains(e.Subject, "₹1,32,098.00 will be refunded") || strings.Contains(e.Text, "nothing to refund") {
		t.Errorf("paid cancellation: %q\n%s", e.Subject, e.Text)
	}
	sms, _ := r.SMS(notification.OrderCancelled, paid)
	if want := "CertiBuy: Hi Asha, order CB-4HQ7WZ2M is cancelled. Rs 1,32,098.00 will be refunded in 5-7 working days."; sms != want {
		t.Errorf("paid cancellation SMS %q, want %q", sms, want)
	}

	unpaid := paid
	unpaid.RefundAmount, unpaid.RefundDigits = "", ""
	e, _ = r.Email(notification.OrderCancelled, unpaid)
	for _, part := range []string{e.Subject, e.Text, e.HTML} {
		if strings.Contains(part, "will be refunded") || strings.Contains(part, "5–7") || strings.Contains(part, "₹1,32,098.00 ") {
			t.Errorf("unpaid cancellation promises a refund:\n%s", part)
		}
	}
	if !strings.Contains(e.Text, "No payment was taken for this order, so there is nothing to refund.") || !strings.Contains(e.HTML, "nothing to refund") {
		t.Errorf("unpaid cancellation text:\n%s", e.Text)
	}
	sms, _ = r.SMS(notification.OrderCancelled, unpaid)
	if want := "CertiBuy: Hi Asha, order CB-4HQ7WZ2M is cancelled. No payment was taken, so there is nothing to refund."; sms != want {
		t.Errorf("unpaid cancellation SMS %q, want %q", sms, want)
	}
}

// TestTextFromOutsideCannotAddALink: anyone may check out with someone else's e-mail address, so
// what a customer types (the name, item names, a cancellation's reason) must not become a link in
// the shop's message; the allowed links stay.
func TestTextFromOutsideCannotAddALink(t *testing.T) {
	r := mustRenderer(t)
	d := bigOrder()
	d.CustomerName = "Claim your prize at https://prize.example/claim"
	d.Items[0].Name = "Gift card, redeem at www.prize.example or prize.example.in/r"
	d.CancelReason = "write to refunds@prize.example"
	allowed := map[string]bool{d.OrderURL: true, d.ReviewURL: true, d.TrackingURL: true, "mailto:" + d.SupportEmail: true,
		d.SMSOrderURL: true, d.SMSReviewURL: true}
	for _, typ := range notification.Types() {
		e, err := r.Email(typ, d)
		if err != nil {
			t.Fatal(err)
		}
		sms, _ := r.SMS(typ, d)
		for part, body := range map[string]string{"text": e.Text, "HTML": e.HTML, "SMS": sms, "subject": e.Subject} {
			for _, l := range LinksIn(body) {
				if !allowed[l] {
					t.Errorf("%s %s links to %q", typ, part, l)
				}
			}
			if strings.Contains(body, "prize.example") {
				t.Errorf("%s %s shows an address a mail client would link: %s", typ, part, body)
			}
		}
		if !strings.Contains(e.Text, "Hi Claim your prize at https[:]//prize[.]example/claim,") {
			t.Errorf("%s: the name is not shown defanged:\n%s", typ, e.Text)
		}
	}
	// The SMS greets by the first word: never an address.
	for _, name := range []string{"https://prize.example", "www.prize.example Rao", "prize.example", "a@prize.example"} {
		if got := SMSName(name); got != "there" {
			t.Errorf("SMSName(%q) = %q", name, got)
		}
	}
}

// The refund of a payment the order could not take says which payment and why, in both parts, so
// that a customer whose order goes on does not take it for the order's refund; any refund with the
// bank's reference gives it.
func TestARefundSaysWhichPaymentWentBackAndWhy(t *testing.T) {
	r := mustRenderer(t)
	base := bigOrder()
	base.RefundARN = "74998716524319825130194"
	regular, err := r.Email(notification.RefundProcessed, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"We have processed a refund of ₹1,32,098.00", "quoting the bank reference 74998716524319825130194"} {
		if !strings.Contains(regular.Text, s) || !strings.Contains(withoutTags(regular.HTML), htmlEscape(s)) {
			t.Errorf("the order's refund lacks %q:\n%s", s, regular.Text)
		}
	}
	for cause, sentence := range map[string]string{
		order.CauseAlreadyPaid:       "was paid already, so we have refunded your second payment of ₹500.00 in full",
		order.CauseOrderCancelled:    "had been cancelled when your payment of ₹500.00 reached us",
		order.CauseWrongAmount:       "Your payment of ₹500.00 was not the total of order CB-4HQ7WZ2M (₹1,32,098.00)",
		"a cause of a later version": "We could not take your payment of ₹500.00 for order CB-4HQ7WZ2M",
	} {
		d := base
		d.RefundAmount, d.RefundDigits, d.RefundedPayment, d.RefundCause = "₹500.00", "500.00", "pay_SecondOne12345", cause
		e, err := r.Email(notification.RefundProcessed, d)
		if err != nil {
			t.Fatal(err)
		}
		if want := "Your payment of ₹500.00 for order CB-4HQ7WZ2M is refunded"; e.Subject != want {
			t.Errorf("%s: subject %q, want %q", cause, e.Subject, want)
		}
		for _, s := range []string{sentence, "pay_SecondOne12345", "74998716524319825130194"} {
			if !strings.Contains(e.Text, s) || !strings.Contains(withoutTags(e.HTML), htmlEscape(s)) {
				t.Errorf("%s: the e-mail lacks %q:\n%s", cause, s, e.Text)
			}
		}
		if strings.Contains(e.Text, "Order total was") || strings.Contains(e.Text, "We have processed a refund of") {
			t.Errorf("%s: reads as the order's refund:\n%s", cause, e.Text)
		}
	}
}

// withoutTags is the HTML's text with its tags taken out, so that a sentence with a word in bold
// reads as one.
func withoutTags(html string) string {
	var b strings.Builder
	in := false
	for _, r := range html {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}
