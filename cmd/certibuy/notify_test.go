package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/mail/smtptest"
	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/sms/smstest"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/ports/events"
)

type notifyShop struct {
	*shop
	smtp  *smtptest.Server
	msg91 *smstest.MSG91
	f2s   *smstest.Fast2SMS
}

// startNotifyShop runs the service with a real SMTP server in the test process and fake MSG91 and
// Fast2SMS, with retries quick enough for a test unless env says otherwise.
func startNotifyShop(t *testing.T, env map[string]string) *notifyShop {
	t.Helper()
	n := &notifyShop{smtp: smtptest.NewServer(t), msg91: smstest.NewMSG91(t, "msg91-key"), f2s: smstest.NewFast2SMS(t, "f2s-key")}
	vars := map[string]string{
		"SMTP_URL": n.smtp.URL(), "MAIL_FROM": "CertiBuy <orders@certibuy.in>",
		"MSG91_AUTHKEY": "msg91-key", "MSG91_BASE_URL": n.msg91.URL(),
		"FAST2SMS_API_KEY": "f2s-key", "FAST2SMS_BASE_URL": n.f2s.URL(),
		"NOTIFY_BACKOFF": "50ms", "NOTIFY_SEND_TIMEOUT": "2s", "NOTIFY_POLL_INTERVAL": "100ms",
		"EVENTS_POLL_INTERVAL": "10ms",
	}
	for _, typ := range notification.Types() {
		vars["MSG91_TEMPLATE_"+strings.ToUpper(string(typ))] = "tmpl_" + string(typ)
	}
	for k, v := range env {
		vars[k] = v
	}
	n.shop = startShop(t, vars)
	return n
}

// pay walks an order through Razorpay's checkout and our callback.
func (n *notifyShop) pay(t *testing.T) placed {
	t.Helper()
	o := n.checkout(t)
	pay, sig := n.rzp.Pay(o.gatewayOrder, "upi")
	if res := n.callback(t, o.gatewayOrder, pay, sig); res.status != 200 {
		t.Fatalf("callback: %d %s", res.status, res.body)
	}
	return o
}

type logEntry struct {
	ID, Channel, Type, Recipient, Status, Provider, Error, MessageID string
	Attempts                                                         int
	Responses                                                        []map[string]any
}

// notifications reads the notification events of an order straight from the event store, folded by
// the domain, so that tests do not wait on the log projection unless they test it.
func (n *notifyShop) logOf(t *testing.T, orderID string) []logEntry {
	t.Helper()
	rows, err := n.deps.Pool.Query(context.Background(), `SELECT notification_id, channel, notification_type, recipient, status,
		coalesce(provider, ''), coalesce(error_message, ''), coalesce(message_id, ''), attempts, response_log::text
		FROM notification_log WHERE order_id = $1 ORDER BY created_at, channel`, orderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []logEntry
	for rows.Next() {
		var e logEntry
		var responses string
		if err := rows.Scan(&e.ID, &e.Channel, &e.Type, &e.Recipient, &e.Status, &e.Provider, &e.Error, &e.MessageID, &e.Attempts, &responses); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(responses), &e.Responses); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// waitSettled waits until the order has want notifications and none is pending or sending.
func (n *notifyShop) waitSettled(t *testing.T, orderID string, want int) []logEntry {
	t.Helper()
	var log []logEntry
	waitFor(t, 60*time.Second, func() bool {
		log = n.logOf(t, orderID)
		if len(log) != want {
			return false
		}
		for _, e := range log {
			if e.Status == "pending" || e.Status == "sending" {
				return false
			}
		}
		return true
	}, fmt.Sprintf("order %s: notifications never settled at %d: %+v", orderID, want, log))
	return log
}

type parsedMail struct {
	to, subject, messageID, text, html string
	partTypes                          []string
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsedMail{to: m.Header.Get("To"), subject: subject, messageID: m.Header.Get("Message-Id")}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part) // NextPart undoes the quoted-printable encoding
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		p.partTypes = append(p.partTypes, ct)
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		}
	}
	return p
}

// notifiedTypes lists the notification types the order's stored events call for, in their order,
// as the notification catalogue maps events to types.
func (n *notifyShop) notifiedTypes(t *testing.T, orderID string) []string {
	t.Helper()
	rows, err := n.deps.Pool.Query(context.Background(), `SELECT type FROM events WHERE stream_id = $1 ORDER BY stream_version`, "order-"+orderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ string
		if err := rows.Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if nt, ok := notification.TypeFor(typ); ok {
			out = append(out, string(nt))
		}
	}
	return out
}

// TestEachOrderEventSendsTheMatrixOfMessages walks one order to delivery and one to a refund, and
// finds one e-mail and one SMS for each of their events that the notification catalogue names, in
// the order of the events.
func TestEachOrderEventSendsTheMatrixOfMessages(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)
	token, _ := n.adminToken(t, "ops@certibuy.in")

	delivered := n.pay(t)
	for _, step := range []string{"ship", "out-for-delivery", "deliver"} {
		body := []byte(nil)
		if step == "ship" {
			body = []byte(`{"carrier": "Delhivery", "tracking_id": "DLV99887766"}`)
		}
		if res := n.do(t, "POST", "/api/v1/admin/orders/"+delivered.id+"/"+step, body, bearerHeader(token)); res.status != 200 {
			t.Fatalf("%s: %d %s", step, res.status, res.body)
		}
	}
	refunded := n.pay(t)
	if res := n.do(t, "POST", "/api/v1/orders/"+refunded.id+"/cancel", []byte(`{"reason": "Ordered the wrong size"}`), bearerHeader(refunded.token)); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	refundID := n.rzp.Refunds(mustPaymentOf(t, n, refunded.id))[0].ID
	if res := n.webhook(t, n.rzp.RefundProcessedWebhook(refundID), "evt_refund"); res.status != 200 {
		t.Fatalf("refund webhook: %d %s", res.status, res.body)
	}
	unpaid := n.checkout(t)
	if res := n.do(t, "POST", "/api/v1/orders/"+unpaid.id+"/cancel", []byte(`{"reason": "Found it cheaper"}`), bearerHeader(unpaid.token)); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	orders := []placed{delivered, refunded, unpaid}

	want := map[string][]string{} // order number → notification types, in the order they happened
	for _, o := range orders {
		want[o.number] = n.notifiedTypes(t, o.id)
	}
	// Between them the two orders call for every type of the catalogue.
	seen := map[string]bool{}
	for _, types := range want {
		for _, typ := range types {
			seen[typ] = true
		}
	}
	for _, typ := range notification.Types() {
		if !seen[string(typ)] {
			t.Errorf("the walk never calls for %s", typ)
		}
	}
	byStream := map[string]logEntry{}
	for _, o := range orders {
		for _, e := range n.waitSettled(t, o.id, 2*len(want[o.number])) {
			byStream[e.ID] = e
		}
	}
	// What each e-mail must say, beyond its order number; a type without a line here fails the test.
	subjects := map[string]string{
		"payment_successful": "Payment of ₹1,299.00 received", "order_confirmed": "is confirmed",
		"order_shipped": "has shipped: tracking ID DLV99887766", "out_for_delivery": "is out for delivery",
		"order_delivered": "was delivered", "refund_processed": "Refund of ₹1,299.00 processed",
		"order_cancelled": "is cancelled",
	}
	mails := n.smtp.Messages()
	if len(mails) != len(want[delivered.number])+len(want[refunded.number])+len(want[unpaid.number]) {
		t.Fatalf("%d e-mails, want one for each of %v", len(mails), want)
	}
	got := map[string][]string{}
	for _, raw := range mails {
		m := parseMail(t, raw.Data)
		if len(raw.To) != 1 || raw.To[0] != "asha@example.in" || !strings.Contains(m.to, "asha@example.in") {
			t.Fatalf("e-mail to %v / %q", raw.To, m.to)
		}
		if fmt.Sprint(m.partTypes) != "[text/plain text/html]" {
			t.Fatalf("parts %v, want text/plain then text/html", m.partTypes)
		}
		// The Message-ID names the notification.
		stream := "notification-" + strings.TrimPrefix(strings.Split(m.messageID, "@")[0], "<")
		entry, ok := byStream[stream]
		if !ok {
			t.Fatalf("the e-mail %q (%s) is no notification of the orders", m.subject, m.messageID)
		}
		typ := entry.Type
		var number string
		for _, o := range orders {
			if strings.Contains(m.subject, o.number) {
				number = o.number
			}
		}
		phrase, ok := subjects[typ]
		if !ok {
			t.Fatalf("no subject phrase for %s in this test", typ)
		}
		if !strings.Contains(m.subject, phrase) || !strings.Contains(m.subject, number) {
			t.Errorf("%s e-mail subject %q lacks %q", typ, m.subject, phrase)
		}
		if !strings.Contains(m.text, number) || !strings.Contains(m.html, number) || !strings.Contains(m.html, "<html") {
			t.Fatalf("%s e-mail parts lack the order number or HTML:\n%s", typ, m.text)
		}
		if typ == "order_shipped" && (!strings.Contains(m.text, "DLV99887766") || !strings.Contains(m.html, "DLV99887766")) {
			t.Fatal("the shipped e-mail lacks the tracking id")
		}
		if typ == "order_shipped" || typ == "out_for_delivery" {
			const track = "https://www.delhivery.com/track/package/DLV99887766"
			if !strings.Contains(m.text, "Track your parcel: "+track) || !strings.Contains(m.html, `href="`+track+`"`) {
				t.Errorf("the %s e-mail lacks the carrier's tracking link:\n%s", typ, m.text)
			}
		}
		if typ == "order_confirmed" && !strings.Contains(m.text, "Assam tea 500g") {
			t.Fatal("the confirmation lacks the order lines")
		}
		// The refund's timing in REFUND_EXPECTATION's default words.
		if typ == "refund_processed" && !strings.Contains(m.text, "within 5–7 working days") {
			t.Errorf("the refund e-mail does not say when:\n%s", m.text)
		}
		if typ == "order_cancelled" && number == refunded.number {
			for _, s := range []string{"Reason: Ordered the wrong size", "Refund:   ₹1,299.00", "within 5–7 working days"} {
				if !strings.Contains(m.text, s) {
					t.Errorf("the paid order's cancellation lacks %q:\n%s", s, m.text)
				}
			}
		}
		if typ == "order_cancelled" && number == unpaid.number {
			if !strings.Contains(m.text, "Reason: Found it cheaper") || !strings.Contains(m.text, "nothing to refund") || strings.Contains(m.text, "will be refunded") {
				t.Errorf("the unpaid order's cancellation:\n%s", m.text)
			}
		}
		got[number] = append(got[number], typ)
	}
	for num, types := range want {
		if fmt.Sprint(got[num]) != fmt.Sprint(types) {
			t.Errorf("e-mails of %s: %v, want %v in that order", num, got[num], types)
		}
	}

	smsGot := map[string][]string{}
	for _, r := range n.msg91.Received() {
		if r.Mobiles != "919876543210" || r.Status != 200 {
			t.Fatalf("SMS to %s answered %d", r.Mobiles, r.Status)
		}
		typ := strings.TrimPrefix(r.TemplateID, "tmpl_")
		smsGot[r.Vars["order"]] = append(smsGot[r.Vars["order"]], typ)
		if typ == "order_shipped" && r.Vars["tracking"] != "DLV99887766" {
			t.Fatalf("shipped SMS vars %v", r.Vars)
		}
		if typ == "order_cancelled" {
			wantRefund := map[string]string{refunded.number: "Rs 1,299.00 will be refunded in 5-7 working days.",
				unpaid.number: "No payment was taken, so there is nothing to refund."}[r.Vars["order"]]
			if r.Vars["refund"] != wantRefund {
				t.Errorf("cancellation SMS of %s: refund %q, want %q", r.Vars["order"], r.Vars["refund"], wantRefund)
			}
		}
	}
	for num, types := range want {
		if fmt.Sprint(smsGot[num]) != fmt.Sprint(types) {
			t.Errorf("SMS of %s: %v, want %v", num, smsGot[num], types)
		}
	}
	if len(n.f2s.Received()) != 0 {
		t.Fatal("Fast2SMS was used while MSG91 worked")
	}
	assertNoSecretsLogged(t, n.logs.String())
	for _, e := range append(append(n.logOf(t, delivered.id), n.logOf(t, refunded.id)...), n.logOf(t, unpaid.id)...) {
		wantProvider := map[string]string{"email": "smtp", "sms": "msg91"}[e.Channel]
		wantRecipient := map[string]string{"email": "asha@example.in", "sms": "+919876543210"}[e.Channel]
		if e.Status != "sent" || e.Attempts != 1 || e.Provider != wantProvider || e.Recipient != wantRecipient || len(e.Responses) != 1 {
			t.Errorf("log entry %+v", e)
		}
	}
	assertAuditFindsEveryEventByItsCorrelation(t, n.shop)
}

// mustPaymentOf returns the Razorpay payment id recorded on the order.
func mustPaymentOf(t *testing.T, n *notifyShop, orderID string) string {
	t.Helper()
	var pay string
	if err := n.deps.Pool.QueryRow(context.Background(), `SELECT data->>'payment_id' FROM events WHERE stream_id = $1 AND type = 'order.payment_succeeded.v1'`,
		"order-"+orderID).Scan(&pay); err != nil {
		t.Fatal(err)
	}
	return pay
}

// A courier outside the carrier table ("other", as the console offers it) is not named "other" to
// the customer: the messages speak of the courier, and link the tracking page given.
func TestAShipmentWithAnotherCarrierDoesNotCallItOther(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)
	token, _ := n.adminToken(t, "ops@certibuy.in")
	o := n.pay(t)
	body := []byte(`{"carrier": "other", "tracking_id": "X1", "tracking_url": "https://track.example.in/x?id=X1"}`)
	if res := n.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/ship", body, bearerHeader(token)); res.status != 200 {
		t.Fatalf("ship: %d %s", res.status, res.body)
	}
	n.waitSettled(t, o.id, 2*len(n.notifiedTypes(t, o.id)))
	var shipped *parsedMail
	for _, raw := range n.smtp.Messages() {
		if m := parseMail(t, raw.Data); strings.Contains(m.subject, "has shipped") {
			shipped = &m
		}
	}
	if shipped == nil {
		t.Fatal("no shipped e-mail")
	}
	for _, part := range []string{shipped.text, shipped.html} {
		if strings.Contains(part, "with other") || strings.Contains(part, "other's") || strings.Contains(part, "<strong>other</strong>") ||
			!strings.Contains(part, "https://track.example.in/x?id=X1") {
			t.Fatalf("the shipped e-mail names the carrier \"other\" or lacks its tracking page:\n%s", part)
		}
	}
	for _, r := range n.msg91.Received() {
		if r.TemplateID == "tmpl_order_shipped" && (r.Vars["carrier"] != "courier" || r.Vars["tracking"] != "X1") {
			t.Fatalf("shipped SMS vars %v", r.Vars)
		}
	}
}

func TestARedeliveredOrderEventNotifiesOnce(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	// Rewind the notifier's consumer group: the router delivers every order event again.
	if _, err := n.deps.Pool.Exec(context.Background(), `UPDATE watermill_offsets_order_events SET offset_acked = 0,
		last_processed_transaction_id = '0' WHERE consumer_group LIKE 'notification_requests%'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool { return requestsCaughtUp(t, n.deps.Pool) }, "the rewound group never caught up")
	if got := len(n.logOf(t, o.id)); got != 4 {
		t.Fatalf("%d notifications after redelivery, want 4", got)
	}
	if len(n.smtp.Messages()) != 2 || len(n.msg91.Received()) != 2 {
		t.Fatalf("%d e-mails and %d SMS after redelivery, want 2 and 2", len(n.smtp.Messages()), len(n.msg91.Received()))
	}
}

func TestSMTPRefusalsAreRetriedThenFailThenResent(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)

	// Refused twice, accepted the third time.
	n.smtp.RefuseNext(2, 451, "4.3.0 Try again later")
	a := n.pay(t)
	log := n.waitSettled(t, a.id, 4)
	first := log[0]
	if first.Channel != "email" || first.Type != "payment_successful" || first.Status != "sent" || first.Attempts != 3 || len(first.Responses) != 3 {
		t.Fatalf("refused twice: %+v", first)
	}
	if first.Responses[0]["outcome"] != "failed" || !strings.Contains(fmt.Sprint(first.Responses[0]["error"]), "451") || first.Responses[2]["outcome"] != "sent" {
		t.Fatalf("attempt log %v", first.Responses)
	}
	if len(n.smtp.Messages()) != 2 {
		t.Fatalf("%d e-mails, want 2", len(n.smtp.Messages()))
	}

	// Refused past the budget: both of the order's e-mails fail and are held in the poison topic.
	n.smtp.RefuseNext(6, 451, "4.3.0 Try again later")
	b := n.pay(t)
	log = n.waitSettled(t, b.id, 4)
	var failed []logEntry
	for _, e := range log {
		if e.Channel == "email" {
			if e.Status != "failed" || e.Attempts != 3 || !strings.Contains(e.Error, "451") {
				t.Fatalf("e-mail after the budget: %+v", e)
			}
			failed = append(failed, e)
		} else if e.Status != "sent" {
			t.Fatalf("the SMS waited on the failing e-mail: %+v", e)
		}
	}
	// The poison message is published as the delivery settles, just after the log shows the failure.
	waitFor(t, 10*time.Second, func() bool {
		var poisoned int
		err := n.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM watermill_notifications_poison
			WHERE metadata::jsonb->>'stream_id' = ANY($1)`, []string{failed[0].ID, failed[1].ID}).Scan(&poisoned)
		return err == nil && poisoned == 2
	}, "the failed e-mails are not in the poison topic: "+grepLines(n.logs.String(), "oison"))
	if len(n.smtp.Messages()) != 2 {
		t.Fatal("a refused e-mail was recorded as received")
	}
	// Each failure is one WARN line naming the notification, not a line per retry.
	for _, f := range failed {
		if lines := grepLines(n.logs.String(), `"msg":"notification failed for good","notification":"`+f.ID+`"`); strings.Count(lines, "\n") != 0 ||
			!strings.Contains(lines, `"level":"WARN"`) || !strings.Contains(lines, `"provider":"smtp"`) || !strings.Contains(lines, "451") {
			t.Errorf("the log of %s's failure: %q", f.ID, lines)
		}
	}

	// The server recovers; an admin resends one: it goes exactly once.
	token, _ := n.adminToken(t, "ops@certibuy.in")
	res := n.do(t, "POST", "/api/v1/admin/notifications/"+failed[0].ID+"/resend", nil, bearerHeader(token))
	if res.status != 202 {
		t.Fatalf("resend: %d %s", res.status, res.body)
	}
	waitFor(t, 30*time.Second, func() bool {
		for _, e := range n.logOf(t, b.id) {
			if e.ID == failed[0].ID {
				return e.Status == "sent" && e.Attempts == 4
			}
		}
		return false
	}, "the resent e-mail was never sent")
	if len(n.smtp.Messages()) != 3 {
		t.Fatalf("%d e-mails after one resend, want 3", len(n.smtp.Messages()))
	}
	if res := n.do(t, "POST", "/api/v1/admin/notifications/"+failed[0].ID+"/resend", nil, bearerHeader(token)); res.status != 409 {
		t.Fatalf("resending a sent notification: %d %s", res.status, res.body)
	}
	if res := n.do(t, "POST", "/api/v1/admin/notifications/notification-nope/resend", nil, bearerHeader(token)); res.status != 404 {
		t.Fatalf("resending an unknown notification: %d", res.status)
	}
	list := n.do(t, "GET", "/api/v1/admin/notifications?status=failed&channel=email&q="+b.number, nil, bearerHeader(token)).json(t)
	if rows := list["notifications"].([]any); len(rows) != 1 || rows[0].(map[string]any)["id"] != failed[1].ID {
		t.Fatalf("failed e-mails of %s: %v", b.number, list)
	}
	// A double-clicked Resend (five at once here): one is taken, the others are told the
	// notification moved on, not that an order changed; it is sent once.
	answers := make(chan response, 5)
	for range 5 {
		go func() {
			answers <- n.do(t, "POST", "/api/v1/admin/notifications/"+failed[1].ID+"/resend", nil, bearerHeader(token))
		}()
	}
	accepted := 0
	for range 5 {
		switch r := <-answers; {
		case r.status == 202:
			accepted++
		case r.status != 409 || (r.json(t)["error"].(map[string]any)["code"] != "not_failed" && r.json(t)["error"].(map[string]any)["code"] != "notification_changed"):
			t.Errorf("a concurrent resend: %d %s", r.status, r.body)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of 5 concurrent resends taken, want 1", accepted)
	}
	waitFor(t, 30*time.Second, func() bool { return len(n.smtp.Messages()) == 4 }, "the resent e-mail was never sent")
	if res := n.do(t, "GET", "/api/v1/admin/notifications?channel=pigeon", nil, bearerHeader(token)); res.status != 400 {
		t.Fatalf("unknown channel: %d", res.status)
	}
	assertDeliveriesNameTheirCause(t, n.deps.Pool, first.ID, 3)
	assertDeliveriesNameTheirCause(t, n.deps.Pool, failed[0].ID, 4)
	assertAuditFindsEveryEventByItsCorrelation(t, n.shop)
}

// assertDeliveriesNameTheirCause checks that each delivery event of a notification (started,
// attempted, sent, failed) names as its cause the event that queued the delivery: the request, or
// the resend or reroute after it. An audit follows the chain from a sent e-mail back to its request.
func assertDeliveriesNameTheirCause(t *testing.T, pool *pgxpool.Pool, stream string, attempts int) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT event_id::text, type, coalesce(causation_id, '')
		FROM events WHERE stream_id = $1 ORDER BY stream_version`, stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var queuedBy, history string
	var seen int
	for rows.Next() {
		var id, typ, cause string
		if err := rows.Scan(&id, &typ, &cause); err != nil {
			t.Fatal(err)
		}
		history += fmt.Sprintf("\n  %s %s caused by %s", id, typ, cause)
		switch typ {
		case notification.TypeRequested, notification.TypeResent, notification.TypeRerouted:
			queuedBy = id
		case notification.TypeDeliveryStarted, notification.TypeDeliveryAttempted, notification.TypeSent, notification.TypeFailed:
			if cause != queuedBy {
				t.Errorf("%s: %s names %q as its cause, want %q, the event that queued it%s", stream, typ, cause, queuedBy, history)
			}
			if typ == notification.TypeDeliveryAttempted {
				seen++
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != attempts {
		t.Errorf("%s: %d attempts, want %d%s", stream, seen, attempts, history)
	}
}

func TestSMSFallsBackOnlyOnADefiniteRejection(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"NOTIFY_SEND_TIMEOUT": "500ms", "NOTIFY_BACKOFF": "1s"})
	firstSMS := func(orderID string) logEntry {
		t.Helper()
		for _, e := range n.waitSettled(t, orderID, 4) {
			if e.Channel == "sms" {
				return e
			}
		}
		t.Fatal("no SMS")
		return logEntry{}
	}

	n.msg91.FailNext(1, 500, `{"type":"error","message":"Internal Server Error","code":"500"}`)
	e := firstSMS(n.pay(t).id)
	if e.Status != "sent" || e.Provider != "fast2sms" || e.Attempts != 1 || !strings.Contains(fmt.Sprint(e.Responses[0]["response"]), "Internal Server Error") {
		t.Fatalf("MSG91 500: %+v", e)
	}

	n.msg91.FailNext(1, 200, `{"type":"error","message":"Template not approved","code":"211"}`)
	e = firstSMS(n.pay(t).id)
	if e.Status != "sent" || e.Provider != "fast2sms" || !strings.Contains(fmt.Sprint(e.Responses[0]["response"]), "Template not approved") {
		t.Fatalf("MSG91 type error: %+v", e)
	}
	f2sBefore := len(n.f2s.Received())

	// A timeout: the SMS may have gone, so the retry goes to MSG91 again, never to Fast2SMS.
	n.msg91.Delay(2 * time.Second)
	before := len(n.msg91.Received())
	o := n.pay(t)
	waitFor(t, 10*time.Second, func() bool { return len(n.msg91.Received()) > before }, "MSG91 never saw the first attempt")
	n.msg91.Delay(0)
	e = firstSMS(o.id)
	if e.Status != "sent" || e.Provider != "msg91" || e.Attempts != 2 || e.Responses[0]["outcome"] != "ambiguous" {
		t.Fatalf("MSG91 timeout: %+v", e)
	}
	// What the log shows names the provider once.
	if r := fmt.Sprint(e.Responses[0]["response"], " ", e.Responses[0]["error"]); !strings.HasPrefix(r, "msg91: no clear answer") || strings.Contains(r, "msg91: msg91") {
		t.Fatalf("MSG91 timeout recorded as %q", r)
	}
	if len(n.f2s.Received()) != f2sBefore {
		t.Fatal("Fast2SMS was called after an ambiguous MSG91 timeout")
	}

	// Both down: failed after the budget.
	n.msg91.FailNext(3, 500, `{"type":"error","message":"down","code":"500"}`)
	n.f2s.FailNext(3, 500, `{"return":false,"status_code":500,"message":"down"}`)
	e = firstSMS(n.pay(t).id)
	if e.Status != "failed" || e.Attempts != 3 {
		t.Fatalf("both down: %+v", e)
	}
	assertNoSecretsLogged(t, n.logs.String())
	assertAuditFindsEveryEventByItsCorrelation(t, n.shop)
}

// assertAuditFindsEveryEventByItsCorrelation checks, for every correlation id in the store, that an
// audit by it returns exactly the events that carry it, in commit order, as a full scan finds them.
// The correlation index leaves out the delivery events, which the audit finds through their streams
// (adapters/postgres/audit.go): resends, reroutes and reports must not hide any.
func assertAuditFindsEveryEventByItsCorrelation(t *testing.T, s *shop) {
	t.Helper()
	ctx := context.Background()
	auditor := postgres.NewAuditor(s.deps.Store)
	// The audit stops at the oldest transaction still running, which a reader's may hold back for a
	// moment: it is asked again until the deadline.
	mismatch := func() string {
		rows, err := s.deps.Pool.Query(ctx, `SELECT correlation_id, array_agg(event_id::text ORDER BY tx_id, position)
			FROM events GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var corr string
		var want []string
		carried := map[string][]string{}
		if _, err := pgx.ForEachRow(rows, []any{&corr, &want}, func() error { carried[corr] = want; return nil }); err != nil {
			t.Fatal(err)
		}
		for corr, want := range carried {
			page, err := auditor.Audit(ctx, query.AuditFilter{CorrelationID: corr, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range page.Events {
				got = append(got, e.EventID.String())
			}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("an audit by correlation id %s finds %v; the events that carry it are %v", corr, got, want)
			}
		}
		return ""
	}
	deadline := time.Now().Add(20 * time.Second)
	for m := mismatch(); m != ""; m = mismatch() {
		if time.Now().After(deadline) {
			t.Fatal(m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertNoSecretsLogged checks the service's log for the customer's full phone number and the
// provider keys the tests use.
func assertNoSecretsLogged(t *testing.T, logs string) {
	t.Helper()
	for _, secret := range []string{"9876543210", "msg91-key", "f2s-key", testKeySecret, testWebhookSecret} {
		if i := strings.Index(logs, secret); i >= 0 {
			t.Fatalf("the log holds %q: …%s…", secret, logs[max(0, i-200):min(len(logs), i+100)])
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestASlowSMTPServerHoldsUpNothingElse(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"NOTIFY_SEND_TIMEOUT": "20s"})
	n.smtp.SetDelay(5 * time.Second)
	token, _ := n.adminToken(t, "ops@certibuy.in")

	// Orders whose e-mails now crawl out at 5 s each.
	for i := 0; i < 3; i++ {
		n.pay(t)
	}
	// Meanwhile another order moves along: each change must reach its status history promptly, and
	// its SMS must go out, whatever the e-mails are doing.
	o := n.pay(t)
	history := func() int {
		v := n.do(t, "GET", "/api/v1/admin/orders/"+o.id+"/history", nil, bearerHeader(token)).json(t)
		h, _ := v["history"].([]any)
		return len(h)
	}
	for i, step := range []string{"ship", "out-for-delivery", "deliver"} {
		body := []byte(nil)
		if step == "ship" {
			body = []byte(`{"carrier": "DTDC", "tracking_id": "D123"}`)
		}
		start := time.Now()
		if res := n.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/"+step, body, bearerHeader(token)); res.status != 200 {
			t.Fatalf("%s: %d %s", step, res.status, res.body)
		}
		want := 4 + i // placed, paid, confirmed, then one per step
		for history() < want {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("%s took more than 2s to reach the status history while SMTP is slow", step)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%s reached the status history in %s", step, time.Since(start).Round(time.Millisecond))
	}
	waitFor(t, 10*time.Second, func() bool {
		sms := 0
		for _, e := range n.logOf(t, o.id) {
			if e.Channel == "sms" && e.Status == "sent" {
				sms++
			}
		}
		return sms == 5
	}, "the order's SMS waited for the slow e-mails")
}

// requestsCaughtUp reports whether every request partition has read all its messages, as the lag
// report (doctor, /metrics) counts them: a partition's offset stops at its own last message.
func requestsCaughtUp(t *testing.T, pool *pgxpool.Pool) bool {
	t.Helper()
	groups, err := postgres.OutboxLag(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, g := range groups {
		if strings.HasPrefix(g.Group, events.NotificationRequestsGroup) {
			seen = true
			if g.Behind > 0 {
				return false
			}
		}
	}
	return seen
}

// TestTheRefundOfAnUnexpectedPaymentTellsTheCustomer: the refund of a payment the order could not
// take (a second payment on a paid order) sends refund_processed too, with the amount of that
// refund, and the e-mail says which payment it was and why it went back: it is not the order's
// refund, and the order goes on.
func TestTheRefundOfAnUnexpectedPaymentTellsTheCustomer(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	second, sig := n.rzp.PayAgain(o.gatewayOrder, "card")
	if res := n.callback(t, o.gatewayOrder, second, sig); res.status != 200 || res.json(t)["refunding_payment"] != true {
		t.Fatalf("callback of the second payment: %d %s", res.status, res.body)
	}
	refunds := n.rzp.Refunds(second)
	if len(refunds) != 1 {
		t.Fatalf("refunds of the second payment: %+v", refunds)
	}
	if res := n.webhook(t, n.rzp.RefundProcessedWebhook(refunds[0].ID), "evt_second_refund"); res.status != 200 {
		t.Fatalf("refund.processed: %d %s", res.status, res.body)
	}
	var refund []logEntry
	for _, e := range n.waitSettled(t, o.id, 6) {
		if e.Type == "refund_processed" {
			refund = append(refund, e)
		}
	}
	if len(refund) != 2 {
		t.Fatalf("refund notifications %+v", refund)
	}
	var m parsedMail
	for _, raw := range n.smtp.Messages() {
		if p := parseMail(t, raw.Data); strings.Contains(p.subject, "refunded") {
			m = p
		}
	}
	if want := "Your payment of ₹1,299.00 for order " + o.number + " is refunded"; m.subject != want {
		t.Errorf("refund e-mail %q, want %q", m.subject, want)
	}
	arn := n.rzp.Refunds(second)[0].AcquirerData.ARN
	for _, want := range []string{"was paid already, so we have refunded your second payment of ₹1,299.00", "not affected",
		"Payment:       " + second, "Bank reference (ARN): " + arn} {
		if arn == "" || !strings.Contains(m.text, want) {
			t.Errorf("the refund e-mail lacks %q:\n%s", want, m.text)
		}
	}
	for _, r := range n.msg91.Received() {
		if r.TemplateID == "tmpl_refund_processed" && r.Vars["amount"] != "1,299.00" {
			t.Errorf("refund SMS amount %q, want 1,299.00", r.Vars["amount"])
		}
	}
}
