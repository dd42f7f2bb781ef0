package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
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
		"event store": `SELECT count(*) FROM events WHERE data::text LIKE '%' || $1 || '%' OR metadata::text LIKE '%' || $1 || '%'`,
		"queue":       `SELECT count(*) FROM notification_queue WHERE payload::text LIKE '%' || $1 || '%'`,
		"outbox":      `SELECT count(*) FROM watermill_order_events WHERE payload::text LIKE '%' || $1 || '%'`,
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
