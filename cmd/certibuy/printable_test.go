package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
)

// The audit actor is who authenticated; a shop's customer id is data, in a safe alphabet.
func TestCheckoutActsAsAGuestAndKeepsTheShopsCustomerIDAsData(t *testing.T) {
	t.Parallel()
	s := startService(t, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0"})
	withID := func(id string) []byte {
		b, _ := json.Marshal(id)
		return []byte(strings.Replace(validCheckout, `"customer": {`, `"customer": {"id": `+string(b)+`, `, 1))
	}
	for _, id := range []string{"guest\x1b[2J", "admin:1\n2026-11-28T10:00:00Z\torder-x", "a b", "ünï", "\u202e1", strings.Repeat("x", 65)} {
		res := s.do(t, "POST", "/api/v1/checkout", withID(id), nil)
		if _, field, _ := apiError(t, res); res.status != http.StatusBadRequest || field != "customer.id" {
			t.Fatalf("customer id %q: %d %s", id, res.status, res.body)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("refused checkouts appended %d events", n)
	}
	res := s.do(t, "POST", "/api/v1/checkout", withID("shop:cust-42@web_1.in"), nil)
	if res.status != http.StatusCreated {
		t.Fatalf("checkout with a customer id: %d %s", res.status, res.body)
	}
	var actor, id string
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT actor, data->'customer'->>'id' FROM events WHERE type = 'order.placed.v1'`).Scan(&actor, &id); err != nil {
		t.Fatal(err)
	}
	if actor != "customer:guest" || id != "shop:cust-42@web_1.in" {
		t.Fatalf("stored actor %q and customer id %q", actor, id)
	}
}

// Text from outside that was stored before the rules (or that a provider answered) is printed by the
// CLI and shown by the console with the characters a terminal or a browser would obey escaped.
func TestStoredTextIsShownEscapedByTheCLIAndTheConsole(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := paidOrder(t, s)
	// An order placed under the old rules: a forged actor (a screen clear, then a forged table line)
	// and a name that reads backwards.
	forged := "customer:x\x1b[2J\n1\t2026-01-01T00:00:00Z\torder-forged"
	ctx := es.WithCausation(context.Background(), es.Causation{Actor: es.Actor(forged)})
	var cmd command.PlaceOrder
	if err := json.Unmarshal([]byte(validCheckout), &cmd); err != nil {
		t.Fatal(err)
	}
	cmd.Customer.Name = "മോഹന്\u200dലാല്\u200d" // a Malayalam name whose joiners are its own
	old, err := s.deps.App.Commands.PlaceOrder.Handle(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.deps.Pool.Exec(context.Background(), `UPDATE events SET data = jsonb_set(data, '{customer,name}', to_jsonb($1::text))
		WHERE stream_id = $2 AND type = 'order.placed.v1'`, "Asha \u202eoaR", "order-"+o.id); err != nil {
		t.Fatal(err)
	}
	raw := func(out string) {
		t.Helper()
		if strings.ContainsAny(out, "\x1b\u202e\u0085") {
			t.Fatalf("printed a raw control or format character:\n%q", out)
		}
	}

	db := s.cfg.DatabaseURL
	out, err := runCLI(t, db, "audit", "--order", old.OrderNumber)
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	raw(out)
	if !strings.Contains(out, `customer:x\x1b[2J\x0a1\x092026-01-01T00:00:00Z\x09order-forged`) || strings.Count(out, "\n") != 3 {
		t.Fatalf("audit table (a header and two events):\n%s", out)
	}
	out, err = runCLI(t, db, "audit", "--order", o.number, "--as-of", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	if err != nil || !strings.Contains(out, `customer: Asha \u202eoaR <asha@example.in>`) {
		t.Fatalf("audit --as-of: %v\n%s", err, out)
	}
	raw(out)
	out, err = runCLI(t, db, "audit", "--order", old.OrderNumber, "--as-of", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	if err != nil || !strings.Contains(out, "customer: മോഹന്\u200dലാല്\u200d <") {
		t.Fatalf("audit --as-of shows a Malayalam name changed: %v\n%s", err, out)
	}
	out, err = runCLI(t, db, "audit", "--order", o.number, "--json")
	if err != nil {
		t.Fatal(err)
	}
	raw(out)
	var page struct {
		Events []struct{ Data json.RawMessage }
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Events) == 0 || !strings.Contains(string(page.Events[0].Data), `\u202e`) {
		t.Fatalf("audit --json: %v\n%s", err, out)
	}

	// A provider's answer, in the notification log.
	waitFor(t, 20*time.Second, func() bool { return s.count(t, `SELECT count(*) FROM notification_log`) > 0 }, "no notification logged")
	if _, err := s.deps.Pool.Exec(context.Background(), `UPDATE notification_log SET error_message = $1`, "refused \x1b]0;pwned\x07 \u202eok"); err != nil {
		t.Fatal(err)
	}
	out, _ = runCLIWith(t, map[string]string{"DATABASE_URL": db, "RAZORPAY_KEY_ID": testKeyID, "RAZORPAY_KEY_SECRET": testKeySecret,
		"RAZORPAY_WEBHOOK_SECRET": testWebhookSecret}, "doctor")
	raw(out)
	if strings.Contains(out, "\x07") || !strings.Contains(out, `refused \x1b]0;pwned\x07 \u202eok`) {
		t.Fatalf("doctor:\n%s", out)
	}

	// The console shows the same, escaped, and a Malayalam name as it is.
	createAdmin(t, s.testService, "ops@certibuy.in")
	cc := newConsoleClient(t, s.testService)
	login := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil)
	if login.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("login: %d", login.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	for path, want := range map[string]string{
		"/admin/audit?order=" + old.OrderNumber: `customer:x\x1b[2J`, // a line break is only a space in a page
		"/admin/orders/" + o.id:                 `Asha \u202eoaR`,
		"/admin/orders/" + old.OrderID.String(): "മോഹന്\u200dലാല്\u200d",
		"/admin/notifications":                  `refused \x1b]0;pwned\x07 \u202eok`,
		"/admin/audit?actor=%E2%80%AE":          `value="\u202e"`,
	} {
		page := cc.get(path)
		raw(string(page.body))
		if page.status != http.StatusOK || !strings.Contains(string(page.body), want) {
			t.Errorf("GET %s (%d) does not show %q", path, page.status, want)
		}
	}
}
