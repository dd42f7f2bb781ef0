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

	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/adapters/sms/smstest"
	"github.com/certibuy/orders/app/command"
)

const reportToken = "dlr-token-for-tests-0123456789"

// smsOf returns the SMS notification of an order of a type as the log shows it: its id, provider,
// provider message id (the request id reports name), status and delivery status.
type smsRow struct {
	id, provider, requestID, status, delivery, reason, err string
	attempts                                               int
}

func (n *notifyShop) smsOf(t *testing.T, orderID, typ string) smsRow {
	t.Helper()
	var r smsRow
	err := n.deps.Pool.QueryRow(context.Background(), `SELECT notification_id, coalesce(provider, ''), coalesce(provider_message_id, ''),
		status, coalesce(delivery_status, ''), coalesce(delivery_reason, ''), attempts
		FROM notification_log WHERE order_id = $1 AND channel = 'sms' AND notification_type = $2`, orderID, typ).
		Scan(&r.id, &r.provider, &r.requestID, &r.status, &r.delivery, &r.reason, &r.attempts)
	if err != nil {
		t.Fatalf("the %s SMS of %s: %v", typ, orderID, err)
	}
	return r
}

func (n *notifyShop) reportURL(provider, token string) string {
	return n.base + "/api/v1/webhooks/" + provider + "?token=" + token
}

func (n *notifyShop) countSQL(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var c int
	if err := n.deps.Pool.QueryRow(context.Background(), sql, args...).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// MSG91's reports in both shapes fold into their notification's stream and the log shows them beside
// sent: delivered, or undelivered with the reason; a failure is not sent again on its own; the same
// report twice folds once; a wrong or missing token changes nothing; a report for a request id no
// attempt has is answered 200 and, after a while, counted as unknown.
func TestMSG91ReportsTellWhetherTheSMSReachedThePhone(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"SMS_WEBHOOK_TOKEN": reportToken})
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	paid, confirmed := n.smsOf(t, o.id, "payment_successful"), n.smsOf(t, o.id, "order_confirmed")
	if paid.provider != "msg91" || paid.requestID == "" || paid.delivery != "" {
		t.Fatalf("the payment SMS before any report: %+v", paid)
	}

	for _, bad := range []string{"", "not-the-token", reportToken + "x"} {
		if st, err := n.msg91.Report(n.reportURL("msg91", bad), smstest.MSG91V3, paid.requestID, "1", "DELIVRD", ""); err != nil || st != http.StatusUnauthorized {
			t.Fatalf("a report with the token %q: %d %v", bad, st, err)
		}
	}
	if c := n.countSQL(t, `SELECT count(*) FROM sms_delivery_reports`); c != 0 {
		t.Fatalf("refused reports were kept: %d", c)
	}

	url := n.reportURL("msg91", reportToken)
	for range 2 {
		if st, err := n.msg91.Report(url, smstest.MSG91V2, paid.requestID, "1", "DELIVRD", ""); err != nil || st != 200 {
			t.Fatalf("delivered report (v2): %d %v", st, err)
		}
	}
	if st, err := n.msg91.Report(url, smstest.MSG91V3, confirmed.requestID, "2", "Failed", "Absent subscriber"); err != nil || st != 200 {
		t.Fatalf("failed report (v3): %d %v", st, err)
	}
	waitFor(t, 20*time.Second, func() bool {
		return n.smsOf(t, o.id, "payment_successful").delivery == "delivered" && n.smsOf(t, o.id, "order_confirmed").delivery == "undelivered"
	}, "the log never showed the reports")
	if got := n.smsOf(t, o.id, "order_confirmed"); got.reason != "Absent subscriber" || got.status != "sent" {
		t.Fatalf("the undelivered SMS: %+v", got)
	}
	if c := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id = $1 AND type = 'notification.delivered.v1'`, paid.id); c != 1 {
		t.Fatalf("the same report twice folded %d times", c)
	}
	time.Sleep(300 * time.Millisecond)
	if sent := len(n.msg91.Received()) + len(n.f2s.Received()); sent != 2 {
		t.Fatalf("%d SMS sent: a failure must not be resent on its own", sent)
	}

	// The API filters by what was reported.
	token, _ := n.adminToken(t, "ops@certibuy.in")
	res := n.do(t, "GET", "/api/v1/admin/notifications?channel=sms&delivery=undelivered", nil, bearerHeader(token))
	list := res.json(t)["notifications"].([]any)
	if res.status != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != confirmed.id || list[0].(map[string]any)["delivery_reason"] != "Absent subscriber" {
		t.Fatalf("undelivered SMS: %d %s", res.status, res.body)
	}
	if r := n.do(t, "GET", "/api/v1/admin/notifications?delivery=lost", nil, bearerHeader(token)); r.status != 400 || !strings.Contains(string(r.body), `"field":"delivery"`) {
		t.Fatalf("an unknown delivery filter: %d %s", r.status, r.body)
	}
	// An admin can resend the undelivered one; it goes exactly once more.
	if r := n.do(t, "POST", "/api/v1/admin/notifications/"+confirmed.id+"/resend", nil, bearerHeader(token)); r.status != http.StatusAccepted {
		t.Fatalf("resend of an undelivered SMS: %d %s", r.status, r.body)
	}
	waitFor(t, 20*time.Second, func() bool { return len(n.msg91.Received()) == 3 }, "the resent SMS never went")

	// A report nobody asked for: answered 200, kept, then counted as unknown.
	if st, err := smstest.PostMSG91Report(url, smstest.MSG91V3, smstest.MSG91DLR{RequestID: "not-ours-123", Number: "919876500000", Status: "1"}); err != nil || st != 200 {
		t.Fatalf("a report for an unknown request id: %d %v", st, err)
	}
	swept, err := n.deps.App.Commands.DeliveryReports.Sweep(context.Background(), command.SweepReports{UnknownAfter: time.Minute, Now: time.Now().Add(time.Hour)})
	if err != nil || swept.Unknown != 1 {
		t.Fatalf("sweep: %+v %v", swept, err)
	}
	if c := n.countSQL(t, `SELECT count(*) FROM sms_delivery_reports WHERE outcome = 'unknown' AND request_id = 'not-ours-123'`); c != 1 {
		t.Fatal("the unknown report is not counted as such")
	}
	if !strings.Contains(n.logs.String(), "delivery report for a request id no notification has") {
		t.Fatal("the unknown report was not logged")
	}

	// A report for one of our SMS that names another number: never folded, and said once, not an
	// error in every sweep.
	before := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id = $1`, paid.id)
	if st, err := smstest.PostMSG91Report(url, smstest.MSG91V3, smstest.MSG91DLR{RequestID: paid.requestID, Number: "919999999999", Status: "2"}); err != nil || st != 200 {
		t.Fatalf("a report naming another number: %d %v", st, err)
	}
	for range 3 {
		if swept, err := n.deps.App.Commands.DeliveryReports.Sweep(context.Background(), command.SweepReports{UnknownAfter: time.Hour, Now: time.Now()}); err != nil || swept.Applied != 0 {
			t.Fatalf("sweep after a report naming another number: %+v %v", swept, err)
		}
	}
	if after := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id = $1`, paid.id); after != before || n.smsOf(t, o.id, "payment_successful").delivery != "delivered" {
		t.Fatal("a report naming another number changed the notification")
	}
	if c := strings.Count(n.logs.String(), "names another number"); c != 1 || strings.Contains(n.logs.String(), `"msg":"delivery report sweep"`) {
		t.Fatalf("the report naming another number was logged %d times:\n%s", c, grepLines(n.logs.String(), "number"))
	}
}

// A report can come before the send's own outcome is recorded (MSG91 posts it as it answers the
// send): it is kept and folds in once the attempt is recorded.
func TestAReportBeforeTheSendIsRecordedFoldsInAfterwards(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"SMS_WEBHOOK_TOKEN": reportToken})
	n.msg91.ReportBeforeAnswering(n.reportURL("msg91", reportToken), smstest.MSG91V3, "1", "DELIVRD")
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	waitFor(t, 30*time.Second, func() bool {
		return n.smsOf(t, o.id, "payment_successful").delivery == "delivered" && n.smsOf(t, o.id, "order_confirmed").delivery == "delivered"
	}, "the early reports never folded in")
	if c := n.countSQL(t, `SELECT count(*) FROM sms_delivery_reports WHERE outcome = 'applied'`); c != 2 {
		t.Fatalf("%d reports applied, want 2", c)
	}
}

// A rejection (the text does not match its DLT template) is not sent again through the provider that
// rejected it; with a fallback, it goes once through the other provider.
func TestARejectedTemplateGoesOnceThroughTheFallback(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"SMS_WEBHOOK_TOKEN": reportToken})
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	paid := n.smsOf(t, o.id, "payment_successful")
	dlr := n.reportURL("msg91", reportToken)
	if st, err := n.msg91.Report(dlr, smstest.MSG91V2, paid.requestID, "16", "Rejected", "Template mismatch"); err != nil || st != 200 {
		t.Fatalf("rejection: %d %v", st, err)
	}
	waitFor(t, 20*time.Second, func() bool { return len(n.f2s.Received()) == 1 }, "the rejected SMS never went through Fast2SMS")
	waitFor(t, 20*time.Second, func() bool {
		r := n.smsOf(t, o.id, "payment_successful")
		return r.status == "sent" && r.provider == "fast2sms"
	}, "the log never showed the SMS sent by Fast2SMS")
	// The same rejection again, and a second code for it: no more SMS, from either provider.
	if st, _ := n.msg91.Report(dlr, smstest.MSG91V3, paid.requestID, "25", "Rejected", ""); st != 200 {
		t.Fatalf("second rejection: %d", st)
	}
	time.Sleep(500 * time.Millisecond)
	var paymentSMS int
	for _, r := range n.msg91.Received() {
		if r.TemplateID == "tmpl_payment_successful" {
			paymentSMS++
		}
	}
	if paymentSMS != 1 || len(n.f2s.Received()) != 1 {
		t.Fatalf("MSG91 got the payment SMS %d times, Fast2SMS %d: want once each", paymentSMS, len(n.f2s.Received()))
	}
	types := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id = $1 AND type = 'notification.rerouted.v1'`, paid.id)
	if types != 1 {
		t.Fatalf("%d reroutes", types)
	}
	// Fast2SMS reports it delivered, through its own webhook.
	f2sReq := n.f2s.Received()[0].RequestID
	if st, err := n.f2s.Report(n.reportURL("fast2sms", reportToken), f2sReq, "Delivered", ""); err != nil || st != 200 {
		t.Fatalf("fast2sms report: %d %v", st, err)
	}
	waitFor(t, 20*time.Second, func() bool { return n.smsOf(t, o.id, "payment_successful").delivery == "delivered" },
		fmt.Sprintf("Fast2SMS's report never folded in (%s)", f2sReq))

	// The console's home page names the rejected template and shows each provider's delivery rate.
	createAdmin(t, n.testService, "ops@certibuy.in")
	cc := newConsoleClient(t, n.testService)
	login := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil)
	if login.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("login: %d", login.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	home := string(cc.get("/admin").body)
	for _, want := range []string{"SMS templates the operators reject", "<strong>payment successful</strong> via msg91: rejected 2 times",
		"MSG91_TEMPLATE_PAYMENT_SUCCESSFUL", `id="delivery-rates"`} {
		if !strings.Contains(home, want) {
			t.Errorf("the home page lacks %q", want)
		}
	}
	rates := home[strings.Index(home, `id="delivery-rates"`):]
	rates = rates[:strings.Index(rates, "</table>")]
	if !strings.Contains(rates, "fast2sms") || !strings.Contains(rates, "100 %") {
		t.Errorf("delivery rates: %s", rates)
	}
	assertAuditFindsEveryEventByItsCorrelation(t, n.shop)
}

// notify-test --wait waits for the test SMS's report, which the running service takes at its
// webhook, and prints it; doctor then names a template the operators rejected.
func TestNotifyTestWaitsForTheReportAndDoctorNamesARejectedTemplate(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"SMS_WEBHOOK_TOKEN": reportToken})
	n.msg91.ReportBeforeAnswering(n.reportURL("msg91", reportToken), smstest.MSG91V2, "1", "DELIVRD")
	env := map[string]string{"DATABASE_URL": n.cfg.DatabaseURL, "MSG91_AUTHKEY": "msg91-key", "MSG91_BASE_URL": n.msg91.URL(),
		"SMS_WEBHOOK_TOKEN": reportToken}
	for k, v := range n.cfg.envTemplates() {
		env[k] = v
	}
	out, err := runCLIWith(t, env, "notify-test", "--phone", "+91 98765 43210", "--wait", "20s")
	if err != nil || !strings.Contains(out, "report: DELIVERED (status 1 DELIVRD)") {
		t.Fatalf("notify-test --wait: %v\n%s", err, out)
	}

	// An order whose confirmation MSG91's operators reject.
	n.msg91.ReportBeforeAnswering(n.reportURL("msg91", reportToken), smstest.MSG91V3, "16", "Rejected")
	out, err = runCLIWith(t, env, "notify-test", "--phone", "+91 98765 43210", "--wait", "20s")
	if err == nil || !strings.Contains(out, "report: REJECTED (status 16)") {
		t.Fatalf("notify-test --wait on a rejection: %v\n%s", err, out)
	}
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	waitFor(t, 30*time.Second, func() bool { return len(n.f2s.Received()) == 2 }, "the rejected SMS never went through Fast2SMS")
	out, err = runCLIWith(t, env, "doctor")
	if err == nil || !strings.Contains(out, "FAIL  sms template order_confirmed") || !strings.Contains(out, "MSG91_TEMPLATE_ORDER_CONFIRMED") ||
		!regexp.MustCompile(`rejected the order_confirmed SMS (once|twice|[3-9] times) in 7 days`).MatchString(out) {
		t.Fatalf("doctor after a rejected template: %v\n%s", err, out)
	}
}

// smsSentAs is the SMS notification a provider answered with requestID, as the log shows it.
func (n *notifyShop) smsSentAs(t *testing.T, requestID string) smsRow {
	t.Helper()
	var r smsRow
	waitFor(t, 20*time.Second, func() bool {
		err := n.deps.Pool.QueryRow(context.Background(), `SELECT notification_id, coalesce(provider, ''), coalesce(provider_message_id, ''),
			status, coalesce(delivery_status, ''), coalesce(delivery_reason, ''), coalesce(error_message, ''), attempts
			FROM notification_log WHERE provider_message_id = $1`, requestID).
			Scan(&r.id, &r.provider, &r.requestID, &r.status, &r.delivery, &r.reason, &r.err, &r.attempts)
		return err == nil
	}, "no notification was sent as "+requestID)
	return r
}

// smsByID is the SMS notification id as the log shows it.
func (n *notifyShop) smsByID(t *testing.T, id string) smsRow {
	t.Helper()
	r := smsRow{id: id}
	err := n.deps.Pool.QueryRow(context.Background(), `SELECT coalesce(provider, ''), coalesce(provider_message_id, ''),
		status, coalesce(delivery_status, ''), coalesce(delivery_reason, ''), coalesce(error_message, ''), attempts
		FROM notification_log WHERE notification_id = $1`, id).
		Scan(&r.provider, &r.requestID, &r.status, &r.delivery, &r.reason, &r.err, &r.attempts)
	if err != nil {
		t.Fatalf("notification %s: %v", id, err)
	}
	return r
}

// refusedBy is what the attempts of a notification recorded as refusing it, one entry an attempt.
func (n *notifyShop) refusedBy(t *testing.T, stream string) []string {
	t.Helper()
	rows, err := n.deps.Pool.Query(context.Background(), `SELECT coalesce(data->>'refused_by', '') FROM events
		WHERE stream_id = $1 AND type = 'notification.delivery_attempted.v1' ORDER BY stream_version`, stream)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertTheNotificationLogEqualsARebuild waits for the projections and compares them with a rebuild
// from the events.
func (n *notifyShop) assertTheNotificationLogEqualsARebuild(t *testing.T) {
	t.Helper()
	assertReadModelsEqualARebuild(t, n.deps, 30*time.Second)
}

// assertReadModelsEqualARebuild waits, up to within, for every projection to catch up, then
// compares each read model with a rebuild from the events.
func assertReadModelsEqualARebuild(t *testing.T, deps *Deps, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, within, func() bool {
		lags, err := deps.Runner.Lags(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lags {
			if l.Events > 0 {
				return false
			}
		}
		return true
	}, "the projections never caught up")
	for _, p := range deps.Runner.Projections() {
		res, err := deps.Runner.Verify(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Differences) > 0 {
			t.Fatalf("%s differs from a rebuild:\n%s", p.Name(), strings.Join(res.Differences, "\n"))
		}
	}
}

// An SMS that MSG91 refused and Fast2SMS took, then reported rejected by Fast2SMS, is not sent to
// MSG91 again: no provider is left, so it fails at once and says why.
func TestARejectionIsNotReroutedToTheProviderThatRefusedTheSMS(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"SMS_WEBHOOK_TOKEN": reportToken})
	n.msg91.FailNext(1, 200, `{"type":"error","message":"Template not approved","code":"211"}`)
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	if len(n.f2s.Received()) != 1 {
		t.Fatalf("Fast2SMS took %d SMS, want the one MSG91 refused", len(n.f2s.Received()))
	}
	f2sReq := n.f2s.Received()[0].RequestID
	sms := n.smsSentAs(t, f2sReq)
	if sms.provider != "fast2sms" || sms.status != "sent" {
		t.Fatalf("the SMS MSG91 refused: %+v", sms)
	}
	if got := n.refusedBy(t, sms.id); len(got) != 1 || got[0] != `["msg91"]` {
		t.Fatalf("the attempt recorded as refusing it: %q", got)
	}
	msg91Before := len(n.msg91.Received())

	if st, err := n.f2s.Report(n.reportURL("fast2sms", reportToken), f2sReq, "Rejected", "DLT template mismatch"); err != nil || st != 200 {
		t.Fatalf("fast2sms rejection: %d %v", st, err)
	}
	waitFor(t, 20*time.Second, func() bool {
		return n.smsByID(t, sms.id).status == "failed" || len(n.msg91.Received()) != msg91Before
	}, "the rejected SMS never failed")
	if len(n.msg91.Received()) != msg91Before {
		t.Fatal("the SMS MSG91 had refused was sent to MSG91 again")
	}
	got := n.smsByID(t, sms.id)
	if !strings.HasPrefix(got.err, "every SMS provider refused it: fast2sms reported its text rejected (DLT template mismatch), and msg91 had refused it") ||
		got.delivery != "undelivered" {
		t.Fatalf("the failed SMS: %+v", got)
	}
	time.Sleep(500 * time.Millisecond)
	if len(n.msg91.Received()) != msg91Before || len(n.f2s.Received()) != 1 {
		t.Fatalf("MSG91 got %d more SMS, Fast2SMS %d in all: want none more", len(n.msg91.Received())-msg91Before, len(n.f2s.Received()))
	}
	if c := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id = $1 AND type = 'notification.rerouted.v1'`, sms.id); c != 0 {
		t.Fatalf("%d reroutes", c)
	}
	if c := strings.Count(n.logs.String(), "notification failed for good"); c != 1 {
		t.Fatalf("%d lines say a notification failed for good:\n%s", c, grepLines(n.logs.String(), "failed for good"))
	}
	assertNoSecretsLogged(t, n.logs.String())
	n.assertTheNotificationLogEqualsARebuild(t)
}

// An SMS Fast2SMS took although MSG91 did not refuse it (MSG91 only asked to slow down) still goes
// once through MSG91 when Fast2SMS reports it rejected; so does one whose attempt was recorded
// before attempts named the providers that refused them, as before.
func TestARejectionIsReroutedWhenTheOtherProviderDidNotRefuse(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"SMS_WEBHOOK_TOKEN": reportToken})
	dlr := n.reportURL("fast2sms", reportToken)
	reroutedAndSent := func(f2sReq string) {
		t.Helper()
		stream := n.smsSentAs(t, f2sReq).id
		before := len(n.msg91.Received())
		if st, err := n.f2s.Report(dlr, f2sReq, "Rejected", "DLT template mismatch"); err != nil || st != 200 {
			t.Fatalf("fast2sms rejection: %d %v", st, err)
		}
		waitFor(t, 20*time.Second, func() bool {
			r := n.smsByID(t, stream)
			return r.status == "sent" && r.provider == "msg91"
		}, "the rejected SMS was never sent again through MSG91")
		if got := len(n.msg91.Received()) - before; got != 1 {
			t.Fatalf("MSG91 got %d more SMS, want 1", got)
		}
		if c := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id = $1 AND type = 'notification.rerouted.v1'`, stream); c != 1 {
			t.Fatalf("%d reroutes", c)
		}
	}

	n.msg91.FailNext(1, 429, `{"type":"error","message":"Too many requests","code":"429"}`)
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	if len(n.f2s.Received()) != 1 {
		t.Fatalf("Fast2SMS took %d SMS", len(n.f2s.Received()))
	}
	throttled := n.f2s.Received()[0].RequestID
	if got := n.refusedBy(t, n.smsSentAs(t, throttled).id); len(got) != 1 || got[0] != "" {
		t.Fatalf("a throttled MSG91 recorded as refusing it: %q", got)
	}
	reroutedAndSent(throttled)

	// MSG91 refused this one, but its attempt reads as one stored before refused_by was added.
	n.msg91.FailNext(1, 200, `{"type":"error","message":"Template not approved","code":"211"}`)
	o = n.pay(t)
	n.waitSettled(t, o.id, 4)
	if len(n.f2s.Received()) != 2 {
		t.Fatalf("Fast2SMS took %d SMS", len(n.f2s.Received()))
	}
	old := n.f2s.Received()[1].RequestID
	if _, err := n.deps.Pool.Exec(context.Background(), `UPDATE events SET data = data - 'refused_by'
		WHERE stream_id = $1 AND type = 'notification.delivery_attempted.v1'`, n.smsSentAs(t, old).id); err != nil {
		t.Fatal(err)
	}
	reroutedAndSent(old)
	n.assertTheNotificationLogEqualsARebuild(t)
}
