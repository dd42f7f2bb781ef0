package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/sms"
	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/domain/printable"
	"github.com/certibuy/orders/migrations"
)

// errChecksFailed makes doctor exit non-zero.
var errChecksFailed = errors.New("some checks failed")

type checkResult struct {
	name, status, detail string // status: ok, warn or FAIL
}

// runDoctor checks what the service depends on, sends nothing, and shows the last notifications.
// projectionLagAlert is the events a projection may be behind before OPERATIONS' alert fires.
const projectionLagAlert = 1000

func (m *Main) runDoctor(ctx context.Context, args []string) error {
	fs := m.flagSet("doctor")
	utc := fs.Bool("utc", false, "show times in UTC rather than India time (IST)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	var results []checkResult
	add := func(name, status, format string, a ...any) {
		results = append(results, checkResult{name, status, fmt.Sprintf(format, a...)})
	}
	deps, err := OpenDeps(ctx, cfg, cfg.NewLogger(io.Discard))
	if err != nil {
		add("database", "FAIL", "%v", err)
		printChecks(m.Stdout, results)
		return errChecksFailed
	}
	defer deps.Close()
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()

	if pending, err := postgres.PendingMigrations(cctx, deps.Pool, migrations.FS); err != nil {
		add("database", "FAIL", "%v", err)
	} else if len(pending) > 0 {
		add("database", "FAIL", "%d migrations not applied: %s", len(pending), strings.Join(pending, ", "))
	} else {
		add("database", "ok", "%s, migrated", postgres.Redact(cfg.DatabaseURL))
	}

	if deps.SMTP == nil {
		add("e-mail", "warn", "SMTP_URL not set: e-mails are written as .eml files under %s/", cfg.Notify.MailDir)
	} else if err := deps.SMTP.Check(cctx); err != nil {
		add("e-mail", "FAIL", "SMTP: %v", err)
	} else {
		add("e-mail", "ok", "%s answers (EHLO, STARTTLS and AUTH as configured; nothing sent)", deps.SMTP)
	}
	checkSMS(cfg.Notify, add)
	checkReports(cctx, cfg.Notify, postgres.NewReportInbox(deps.DB), *utc, add)

	if cfg.PaymentGateway == "simulator" {
		add("payments", "warn", "simulated: no money moves (set RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET)")
	} else {
		add("payments", "ok", "Razorpay key %s, webhook secret set", cfg.Razorpay.KeyID)
	}
	if cfg.CheckoutSecret == "" {
		add("checkout", "warn", "CHECKOUT_SECRET not set: checkout takes the prices it is sent, from anyone")
	} else {
		add("checkout", "ok", "signed by the storefront (%s under CHECKOUT_SECRET)", "X-Checkout-Signature")
	}

	groups, err := postgres.OutboxLag(cctx, deps.Pool)
	if err != nil {
		add("outbox", "FAIL", "outbox lag: %v", err)
	}
	for _, g := range groups {
		status := "ok"
		if g.Behind > 0 && g.Oldest > time.Minute {
			status = "FAIL"
		}
		add("outbox "+g.Group, status, "%d messages behind, oldest waiting %s", g.Behind, g.Oldest.Round(time.Second))
	}
	checkTakers(cctx, deps, groups, add)
	lags, err := deps.Runner.Lags(cctx)
	if err != nil {
		add("projections", "FAIL", "%v", err)
	}
	for _, l := range lags {
		// The projection-lag alert's threshold (docs/OPERATIONS.md): below it, a moment's lag.
		status := "ok"
		if l.Events > projectionLagAlert {
			status = "warn"
		}
		add("projection "+l.Projection, status, "%d events behind", l.Events)
	}
	checkFeed(cctx, cfg, deps, add)
	if q, err := postgres.QueueState(cctx, deps.Pool); err != nil {
		add("notification queue", "FAIL", "%v", err)
	} else {
		status := "ok"
		if q.Oldest != nil && time.Since(*q.Oldest) > 15*time.Minute {
			status = "warn"
		}
		add("notification queue", status, "%d queued, %d ready for a worker (the others are being sent, wait for a retry, or wait behind their order's earlier message)", q.Queued, q.Due)
	}
	if given, err := postgres.GivenUpOrderEvents(cctx, deps.Pool); err != nil {
		add("given up on", "FAIL", "%v", err)
	} else {
		missed := 0
		for _, g := range given {
			if g.Event != nil && !g.Requested {
				missed++
			}
		}
		if missed > 0 {
			add("given up on", "FAIL", "order events whose notifications were never requested: %d; their customers got no message (certibuy poison)", missed)
		} else {
			add("given up on", "ok", "no order event waits for its notifications (%d given up on, requested since)", len(given))
		}
	}
	printChecks(m.Stdout, results)

	page, err := deps.NotificationLog.List(cctx, query.NotificationFilter{Limit: 10})
	if err == nil {
		fmt.Fprintln(m.Stdout, "\nLast notifications:")
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CREATED\tORDER\tCHANNEL\tTYPE\tRECIPIENT\tSTATUS\tPROVIDER\tATTEMPTS\tERROR")
		p := printable.Escape // the recipient came from a customer, the error from a provider
		for _, n := range page.Notifications {
			recipient := n.Recipient
			if n.Channel == string(notification.SMS) {
				recipient = order.MaskPhone(recipient)
			}
			status := n.Status
			if n.Simulated {
				status = "simulated (not sent)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", showTime(n.CreatedAt, *utc), p(n.OrderNumber), p(n.Channel),
				p(n.Type), p(recipient), p(status), p(n.Provider), n.Attempts, p(clip(n.ErrorMessage, 60)))
		}
		_ = tw.Flush()
	}
	for _, r := range results {
		if r.status == "FAIL" {
			return errChecksFailed
		}
	}
	return nil
}

func checkSMS(cfg NotifyConfig, add func(name, status, format string, a ...any)) {
	switch cfg.SMSProvider {
	case "log":
		add("sms", "warn", "no SMS provider set: SMS are logged, not sent (set MSG91_AUTHKEY or FAST2SMS_API_KEY)")
		return
	case "msg91":
		var missing []string
		for _, t := range notification.Types() {
			if cfg.MSG91.Templates[t] == "" {
				missing = append(missing, "MSG91_TEMPLATE_"+strings.ToUpper(string(t)))
			}
		}
		if len(missing) > 0 {
			status := "FAIL"
			if cfg.SMSFallback != "none" {
				status = "warn" // those types go through the fallback
			}
			add("sms msg91", status, "key set; no template id in %s", strings.Join(missing, ", "))
		} else {
			add("sms msg91", "ok", "key set, template ids for all %d types", len(notification.Types()))
		}
	case "fast2sms":
		add("sms fast2sms", "ok", "key set, route %s", cfg.Fast2SMS.Route)
	}
	if cfg.SMSFallback == "none" {
		add("sms fallback", "warn", "none: a rejection by %s fails the SMS", cfg.SMSProvider)
	} else {
		add("sms fallback", "ok", "%s", cfg.SMSFallback)
	}
}

// checkReports says whether delivery reports come in, and which SMS templates the operators rejected
// in the last week: a template whose text does not match its DLT registration is a setting to fix.
func checkReports(ctx context.Context, cfg NotifyConfig, inbox *postgres.ReportInbox, utc bool, add func(name, status, format string, a ...any)) {
	if cfg.SMSWebhookToken == "" {
		add("sms reports", "warn", "SMS_WEBHOOK_TOKEN not set: delivery reports are refused, so nothing says whether an SMS reached the phone")
	} else {
		add("sms reports", "ok", "taken at /api/v1/webhooks/msg91 and /api/v1/webhooks/fast2sms (?token=SMS_WEBHOOK_TOKEN)")
	}
	rejected, err := inbox.RejectedTemplates(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil {
		add("sms templates", "FAIL", "%v", err)
		return
	}
	for _, r := range rejected {
		// What to compare with the registered text: the template id where one is set, else the text.
		setting := "MSG91_TEMPLATE_" + strings.ToUpper(r.Type)
		switch {
		case r.Provider == sms.ProviderFast2SMS && cfg.Fast2SMS.Route == "dlt":
			setting = "FAST2SMS_DLT_TEMPLATE_" + strings.ToUpper(r.Type)
		case r.Provider == sms.ProviderFast2SMS:
			setting = "templates/sms/" + r.Type + ".txt"
		}
		add("sms template "+r.Type, "FAIL", "%s's operators rejected the %s SMS %s in 7 days (last %s): its text does not match "+
			"the template registered on DLT; compare %s with `certibuy notify-test --type %s`", r.Provider, r.Type, times(r.Count),
			showTime(r.Last, utc), setting, r.Type)
	}
}

func printChecks(w io.Writer, results []checkResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range results {
		// A detail may quote a server's answer (an SMTP greeting, an error).
		fmt.Fprintf(tw, "%-4s\t%s\t%s\n", r.status, r.name, printable.Escape(r.detail))
	}
	_ = tw.Flush()
}

// clip keeps the first n characters of s on one line.
func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// runNotifyTest sends a test e-mail and a test SMS of one notification type (or of each) through the
// configured providers, straight (not through the queue), and prints what each provider answered.
func (m *Main) runNotifyTest(ctx context.Context, args []string) error {
	fs := m.flagSet("notify-test")
	email := fs.String("email", "", "send a test e-mail to this address")
	phone := fs.String("phone", "", "send a test SMS to this Indian mobile number")
	typeName := fs.String("type", string(notification.OrderConfirmed), "the notification type to send, or all (one of each)")
	wait := fs.Duration("wait", 0, "after sending an SMS, wait this long for its delivery report (the running service takes it at its webhook) and print it")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	if *email == "" && *phone == "" {
		return usageError("notify-test needs --email, --phone or both")
	}
	types := notification.Types()
	if *typeName != "all" {
		t, err := notification.ParseType(*typeName)
		if err != nil {
			return usageError(fmt.Sprintf("--type: %v (or all)", err))
		}
		types = []notification.Type{t}
	}
	var to order.Email
	var mobile order.Phone
	var err error
	if *email != "" {
		if to, err = order.NewEmail(*email); err != nil {
			return usageError(fmt.Sprintf("--email: %v", err))
		}
	}
	if *phone != "" {
		if mobile, err = order.NewPhone(*phone); err != nil {
			return usageError(fmt.Sprintf("--phone: %v", err))
		}
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	// What it prints is for a person: the service's own log lines (the log SMS sender's among them)
	// stay out of it unless something goes wrong.
	deps, err := OpenDeps(ctx, cfg, slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer deps.Close()
	data := templates.SampleData()
	data.ShopName, data.SupportEmail, data.RefundExpectation = cfg.Notify.ShopName, cfg.Notify.SupportEmail, cfg.Notify.RefundExpectation
	// Links as the settings make them, for a sample order: they show the real shape and length, and
	// open nothing.
	data = data.WithLinks(MessageLinks{deps.Links}.ForMessage(uuid.New(), data.OrderNumber))
	failed := false
	for _, t := range types {
		k, _ := notification.KindOf(t)
		// What a request of this type stores on each channel, and the links.
		mail, sms := k.Keep(notification.Email, data), k.Keep(notification.SMS, data)
		if *email != "" {
			subject, text, html, err := deps.Renderer.RenderEmail(t, mail)
			if err != nil {
				return err
			}
			id := "<notify-test-" + uuid.NewString() + "@" + mailDomain(cfg.Notify.MailFrom) + ">"
			res, err := deps.Mailer.Send(ctx, command.Email{To: to.String(), Subject: "[test] " + subject, Text: text, HTML: html, MessageID: id,
				OrderNumber: mail.OrderNumber, Type: t})
			failed = report(m.Stdout, string(t)+" e-mail", to.String(), deps.Mailer.Name(), res, err) || failed
		}
		if *phone != "" {
			text, err := deps.Renderer.SMS(t, sms)
			if err != nil {
				return err
			}
			res, err := deps.SMS.Send(ctx, command.SMS{To: mobile, Type: t, Text: text, Data: sms}, "")
			failed = report(m.Stdout, string(t)+" sms", mobile.Masked(), deps.SMS.Name(), res, err) || failed
			// The text to register with DLT for the type (links open nothing: the order is a sample).
			enc, parts := templates.SMSParts(text)
			fmt.Fprintf(m.Stdout, "  text (%d characters, %s, %d part): %s\n", len([]rune(text)), enc, parts, text)
			if err == nil && *wait > 0 {
				failed = m.waitForReport(ctx, postgres.NewReportInbox(deps.DB), res, *wait) || failed
			}
		}
	}
	if failed {
		return errors.New("a test message was not sent")
	}
	return nil
}

// waitForReport waits for the delivery report of a test SMS and prints it; it reports whether the SMS
// did not reach the phone (or no report came).
func (m *Main) waitForReport(ctx context.Context, inbox *postgres.ReportInbox, res command.SendResult, wait time.Duration) bool {
	if res.ProviderMessageID == "" {
		fmt.Fprintf(m.Stdout, "  report: %s gives no request id, so no report can name this SMS\n", res.Provider)
		return false
	}
	fmt.Fprintf(m.Stdout, "  waiting up to %s for %s's delivery report…\n", wait, res.Provider)
	deadline := time.Now().Add(wait)
	for {
		reports, err := inbox.ReportsOf(ctx, res.Provider, res.ProviderMessageID)
		if err != nil {
			fmt.Fprintf(m.Stdout, "  report: %v\n", err)
			return true
		}
		if len(reports) > 0 {
			r := reports[len(reports)-1]
			p := printable.Escape // the provider's words
			switch {
			case r.Delivered:
				fmt.Fprintf(m.Stdout, "  report: DELIVERED (status %s %s) at %s\n", p(r.Status), p(r.Description), showTime(r.ReportedAt, false))
				return false
			case r.Rejected:
				fmt.Fprintf(m.Stdout, "  report: REJECTED (status %s): %s; the text does not match the template registered on DLT\n", p(r.Status), p(r.Reason))
			default:
				fmt.Fprintf(m.Stdout, "  report: NOT DELIVERED (status %s): %s\n", p(r.Status), p(r.Reason))
			}
			return true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(m.Stdout, "  report: none in %s (is SMS_WEBHOOK_TOKEN set on the running service, and its report URL given to %s?)\n", wait, res.Provider)
			return true
		}
		select {
		case <-ctx.Done():
			return true
		case <-time.After(time.Second):
		}
	}
}

func report(w io.Writer, channel, to, provider string, res command.SendResult, err error) bool {
	p := printable.Escape // the answers are the providers'
	if err != nil {
		var se *command.SendError
		if errors.As(err, &se) && se.Response != "" {
			fmt.Fprintf(w, "%s to %s: FAILED via %s: %s\n  response: %s\n", channel, to, provider, p(err.Error()), p(se.Response))
		} else {
			fmt.Fprintf(w, "%s to %s: FAILED via %s: %s\n", channel, to, provider, p(err.Error()))
		}
		return true
	}
	switch res.Provider {
	case notification.ProviderFile:
		fmt.Fprintf(w, "%s to %s: simulated (not sent): %s; set SMTP_URL to send e-mail\n", channel, to, p(res.Response))
		return false
	case notification.ProviderLog:
		fmt.Fprintf(w, "%s to %s: simulated (not sent): no SMS provider is configured; set MSG91_AUTHKEY or FAST2SMS_API_KEY to send SMS\n", channel, to)
		return false
	}
	fmt.Fprintf(w, "%s to %s: sent via %s", channel, to, res.Provider)
	if res.ProviderMessageID != "" {
		fmt.Fprintf(w, " (id %s)", p(res.ProviderMessageID))
	}
	fmt.Fprintf(w, "\n  response: %s\n", p(res.Response))
	return false
}

// times says how often, in words: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// checkTakers says whether any process takes the events: a `serve --no-events` alone answers HTTP,
// is ready, and logs no error while the events wait. The service's connections name their process
// (application_name), unless DATABASE_URL sets another name.
func checkTakers(ctx context.Context, deps *Deps, groups []postgres.GroupLag, add func(name, status, format string, a ...any)) {
	takers, err := postgres.ConnectedApplications(ctx, deps.Pool, takerNames())
	if err != nil {
		add("taking events", "FAIL", "%v", err)
		return
	}
	if len(takers) > 0 {
		add("taking events", "ok", "connected: %s", strings.Join(takers, ", "))
		return
	}
	behind := 0
	for _, g := range groups {
		behind = max(behind, g.Behind)
	}
	status, waiting := "warn", ""
	if behind > 0 {
		status, waiting = "FAIL", fmt.Sprintf(" (%d events wait)", behind)
	}
	add("taking events", status, "no process takes events: no `certibuy worker`, nor `certibuy serve` without --no-events, "+
		"is connected to this database%s; notifications, projections and forwarding wait until one runs "+
		"(a DATABASE_URL that sets application_name hides them from this check)", waiting)
}
