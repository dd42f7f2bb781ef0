package main

import (
	"context"
	"strings"
	"testing"

	"github.com/certibuy/orders/domain/notification"
)

func TestDoctorChecksAndShowsTheLastNotifications(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	env := map[string]string{"DATABASE_URL": n.cfg.DatabaseURL, "SMTP_URL": n.smtp.URL(), "MSG91_AUTHKEY": "msg91-key",
		"MSG91_BASE_URL": n.msg91.URL(), "FAST2SMS_API_KEY": "f2s-key", "RAZORPAY_KEY_ID": testKeyID,
		"RAZORPAY_KEY_SECRET": testKeySecret, "RAZORPAY_WEBHOOK_SECRET": testWebhookSecret}
	for k, v := range n.cfg.envTemplates() {
		env[k] = v
	}
	mailsBefore := len(n.smtp.Messages())
	out, err := runCLIWith(t, env, "doctor")
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	for _, want := range []string{"ok    database", "ok    e-mail", "ok    sms msg91", "ok    sms fallback", "ok    payments",
		"outbox notification_requests", "outbox event_log", "projection notification_log", "Last notifications:", o.number, "*********3210"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "9876543210") || strings.Contains(out, testKeySecret) {
		t.Fatalf("doctor printed a full phone number or a secret:\n%s", out)
	}
	if len(n.smtp.Messages()) != mailsBefore {
		t.Fatal("doctor sent an e-mail")
	}

	env["SMTP_URL"] = "smtp://127.0.0.1:1"
	out, err = runCLIWith(t, env, "doctor")
	if err == nil || !strings.Contains(out, "FAIL  e-mail") {
		t.Fatalf("doctor with an unreachable SMTP server: %v\n%s", err, out)
	}

	// Past the projection-lag alert's threshold, doctor warns too.
	if err := n.stopProjections(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.deps.Pool.Exec(context.Background(), `INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, stream_hash, correlation_id, actor, occurred_at)
		SELECT 'doctor-' || g, 1, gen_random_uuid(), 'doctor.test.v1', 1, '{}', 0, 'c', 'system', now() FROM generate_series(1, 1001) g`); err != nil {
		t.Fatal(err)
	}
	out, _ = runCLIWith(t, env, "doctor")
	if !strings.Contains(out, "warn  projection order_summary") || !strings.Contains(out, "1001 events behind") {
		t.Fatalf("doctor with a projection 1001 events behind:\n%s", out)
	}
}

func TestNotifyTestSendsOneOfEach(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, nil)
	env := map[string]string{"DATABASE_URL": n.cfg.DatabaseURL, "SMTP_URL": n.smtp.URL(), "MSG91_AUTHKEY": "msg91-key", "MSG91_BASE_URL": n.msg91.URL()}
	for k, v := range n.cfg.envTemplates() {
		env[k] = v
	}
	out, err := runCLIWith(t, env, "notify-test", "--email", "ops@certibuy.in", "--phone", "+91 98765 43210")
	if err != nil {
		t.Fatalf("notify-test: %v\n%s", err, out)
	}
	if !strings.Contains(out, "e-mail to ops@certibuy.in: sent via smtp") || !strings.Contains(out, "sms to *********3210: sent via msg91") {
		t.Fatalf("notify-test printed:\n%s", out)
	}
	if got := n.smtp.Messages(); len(got) != 1 || got[0].To[0] != "ops@certibuy.in" {
		t.Fatalf("SMTP got %d messages", len(got))
	}
	if got := n.msg91.Received(); len(got) != 1 || got[0].Mobiles != "919876543210" {
		t.Fatalf("MSG91 got %+v", got)
	}
	if _, err := runCLIWith(t, env, "notify-test", "--phone", "12345"); err == nil || exitCode(err) != 2 {
		t.Fatalf("a bad phone number: %v", err)
	}

	// Every type, so that each registered MSG91 template can be tried.
	out, err = runCLIWith(t, env, "notify-test", "--type", "all", "--phone", "+91 98765 43210")
	if err != nil {
		t.Fatalf("notify-test --type all: %v\n%s", err, out)
	}
	got := n.msg91.Received()[1:]
	if len(got) != len(notification.Types()) {
		t.Fatalf("MSG91 got %d SMS for %d types:\n%s", len(got), len(notification.Types()), out)
	}
	for i, typ := range notification.Types() {
		if got[i].TemplateID != "tmpl_"+string(typ) || !strings.Contains(out, string(typ)+" sms to *********3210: sent via msg91") {
			t.Errorf("SMS %d: template %q\n%s", i, got[i].TemplateID, out)
		}
	}
	// The text of each, to register with DLT.
	if n := strings.Count(out, ", GSM-7, 1 part): CertiBuy: Hi Asha, "); n != len(notification.Types()) {
		t.Errorf("%d SMS texts shown:\n%s", n, out)
	}
	if _, err := runCLIWith(t, env, "notify-test", "--type", "parcel_lost", "--phone", "+91 98765 43210"); err == nil || exitCode(err) != 2 {
		t.Fatalf("an unknown type: %v", err)
	}
}
