package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestAnOrderEventGivenUpOnIsListedAndItsNotificationsRequestedOnceTheCauseIsFixed breaks the
// request handlers' writes (a trigger refuses every queued notification), ships an order, and
// follows what an operator does: the router gives up on the OrderShipped, `certibuy poison` lists it
// with the reason, and once the trigger is gone `--request all` gets the customer the e-mail and SMS
// they missed, once however often it is run.
func TestAnOrderEventGivenUpOnIsListedAndItsNotificationsRequestedOnceTheCauseIsFixed(t *testing.T) {
	t.Parallel()
	n := startNotifyShop(t, map[string]string{"EVENTS_RETRY_MAX": "1", "EVENTS_RETRY_INITIAL": "10ms"})
	o := n.pay(t)
	n.waitSettled(t, o.id, 4)
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": n.cfg.DatabaseURL}

	out, err := runCLIWith(t, env, "poison")
	if err != nil || !strings.Contains(out, "no order event was given up on") {
		t.Fatalf("poison with nothing given up on: %v\n%s", err, out)
	}

	if _, err := n.deps.Pool.Exec(ctx, `CREATE FUNCTION refuse_queue() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'the queue is closed for maintenance'; END $$;
		CREATE TRIGGER refuse_queue BEFORE INSERT ON notification_queue FOR EACH ROW EXECUTE FUNCTION refuse_queue()`); err != nil {
		t.Fatal(err)
	}
	token, _ := n.adminToken(t, "ops@certibuy.in")
	if res := n.do(t, "POST", "/api/v1/admin/orders/"+o.id+"/ship", []byte(`{"carrier": "Delhivery", "tracking_id": "DLV-POISON-1"}`),
		bearerHeader(token)); res.status != http.StatusOK {
		t.Fatalf("ship: %d %s", res.status, res.body)
	}
	var eventID string
	waitFor(t, 60*time.Second, func() bool {
		err := n.deps.Pool.QueryRow(ctx, `SELECT uuid FROM watermill_order_events_poison`).Scan(&eventID)
		return err == nil
	}, "the router never gave up on the OrderShipped")
	// The log names the handler and the event it gave up on, not only the error.
	waitFor(t, 10*time.Second, func() bool {
		line := grepLines(n.logs.String(), "moved to the poison topic")
		return strings.Contains(line, `"event_id":"`+eventID+`"`) && strings.Contains(line, `"handler":"notification_requests_p`) &&
			strings.Contains(line, `"event_type":"order.shipped.v2"`) && strings.Contains(line, "the queue is closed for maintenance")
	}, "no log line names the handler and the event given up on:\n"+grepLines(n.logs.String(), "ERROR"))
	mails, sms := len(n.smtp.Messages()), len(n.msg91.Received())

	out, err = runCLIWith(t, env, "poison", "--utc")
	if err != nil {
		t.Fatalf("poison: %v\n%s", err, out)
	}
	for _, want := range []string{"1, 1 not requested since", eventID, "order.shipped.v2", o.number, "not requested",
		"the queue is closed for maintenance", "certibuy poison --request all", " UTC "} {
		if !strings.Contains(out, want) {
			t.Errorf("the list lacks %q:\n%s", want, out)
		}
	}

	// So does certibuy doctor, which fails until they are requested.
	if out, err := runCLIWith(t, env, "doctor"); exitCode(err) != 1 || !strings.Contains(out, "FAIL  given up on") ||
		!strings.Contains(out, "order events whose notifications were never requested: 1;") {
		t.Fatalf("doctor with an order event given up on: %v\n%s", err, out)
	}
	// The console's home page points there too, on a laptop and on a phone.
	createAdmin(t, n.testService, "staff@certibuy.in")
	browser := newBrowser(t)
	browserLogin(t, browser, n.base, "staff@certibuy.in", "/admin")
	for _, vp := range viewports {
		consoleAt(t, browser, vp.width, vp.height, n.base+"/admin", "console-home-given-up-"+vp.name)
		if card := textOf(t, browser, "#poison"); !strings.Contains(card, "order_events_poison") || !strings.Contains(card, "see certibuy poison") {
			t.Fatalf("the home page's given-up card at %s px: %q", vp.name, card)
		}
	}

	// Asked for while the cause is still there: it fails, says why, and requests nothing.
	out, err = runCLIWith(t, env, "poison", "--request", "all")
	if err == nil || exitCode(err) != 1 || !strings.Contains(out, "the queue is closed for maintenance") {
		t.Fatalf("poison --request all with the trigger in place: %v\n%s", err, out)
	}
	if got := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'notification-' || $1 || '-%'`, eventID); got != 0 {
		t.Fatalf("a failed request stored %d notification events", got)
	}
	// Bad input is refused before anything is read or written.
	if out, err := runCLIWith(t, env, "poison", "--request", "CB-NOT-AN-ID"); exitCode(err) != 2 || !strings.Contains(err.Error(), "want an order event's id") {
		t.Fatalf("poison --request with a bad id: %v\n%s", err, out)
	}
	other := uuid.NewString()
	if out, err := runCLIWith(t, env, "poison", "--request", other); exitCode(err) != 1 || !strings.Contains(err.Error(), "is not among the order events given up on") {
		t.Fatalf("poison --request with an event not given up on: %v\n%s", err, out)
	}

	if _, err := n.deps.Pool.Exec(ctx, `DROP TRIGGER refuse_queue ON notification_queue`); err != nil {
		t.Fatal(err)
	}
	out, err = runCLIWith(t, env, "poison", "--request", "all")
	if err != nil || !strings.Contains(out, "requested the e-mail and SMS of order.shipped.v2 for order "+o.number) {
		t.Fatalf("poison --request all: %v\n%s", err, out)
	}
	log := n.waitSettled(t, o.id, 6)
	shipped := 0
	for _, e := range log {
		if e.Type == "order_shipped" {
			shipped++
			if e.Status != "sent" {
				t.Errorf("the %s of the shipment is %s", e.Channel, e.Status)
			}
		}
	}
	if shipped != 2 {
		t.Fatalf("%d notifications of the shipment, want the e-mail and the SMS: %+v", shipped, log)
	}
	newMails := n.smtp.Messages()[mails:]
	if len(newMails) != 1 || !strings.Contains(parseMail(t, newMails[0].Data).text, "DLV-POISON-1") {
		t.Fatalf("e-mails sent after the request: %d, want the shipment's with its tracking id", len(newMails))
	}
	if got := len(n.msg91.Received()) - sms; got != 1 {
		t.Fatalf("%d SMS sent after the request, want 1", got)
	}

	if out, _ := runCLIWith(t, env, "doctor"); !strings.Contains(out, "ok    given up on") {
		t.Fatalf("doctor after the request:\n%s", out)
	}
	// Listed as requested now; asking again requests nothing and sends nothing.
	out, err = runCLIWith(t, env, "poison")
	if err != nil || !strings.Contains(out, "1, 0 not requested since") || strings.Contains(out, "--request all") {
		t.Fatalf("poison after the request: %v\n%s", err, out)
	}
	out, err = runCLIWith(t, env, "poison", "--request", "all")
	if err != nil || !strings.Contains(out, "nothing to request") {
		t.Fatalf("poison --request all again: %v\n%s", err, out)
	}
	out, err = runCLIWith(t, env, "poison", "--request", eventID)
	if err != nil || !strings.Contains(out, "were requested already") {
		t.Fatalf("poison --request %s again: %v\n%s", eventID, err, out)
	}
	if got := n.countSQL(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'notification-' || $1 || '-%' AND stream_version = 1`, eventID); got != 2 {
		t.Fatalf("%d notifications of the event after asking again, want 2", got)
	}
	if got := n.countSQL(t, `SELECT count(*) FROM notification_queue`); got != 0 {
		t.Fatalf("asking again queued %d messages", got)
	}
	if len(n.smtp.Messages()) != mails+1 || len(n.msg91.Received()) != sms+1 {
		t.Fatalf("asking again sent more: %d e-mails, %d SMS after it", len(n.smtp.Messages())-mails, len(n.msg91.Received())-sms)
	}

	// A hundred messages more, whose ids name no stored event (a poison topic may get anything): the
	// list shows the ones not requested first, up to a hundred, and requesting them says why not.
	if _, err := n.deps.Pool.Exec(ctx, `INSERT INTO watermill_order_events_poison (uuid, payload, metadata, transaction_id)
		SELECT gen_random_uuid()::text, '{}', '{"reason_poisoned": "unknown"}', pg_current_xact_id() FROM generate_series(1, 100)`); err != nil {
		t.Fatal(err)
	}
	out, err = runCLIWith(t, env, "poison")
	if err != nil || !strings.Contains(out, "101, 100 not requested since") || strings.Contains(out, eventID) ||
		!strings.Contains(out, "… and 1 more") || strings.Count(out, "  not requested  ") != 100 {
		t.Fatalf("poison with 101 messages: %v\n%s", err, out)
	}
	out, err = runCLIWith(t, env, "poison", "--request", "all")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "100 of 100 order events could not be requested again") ||
		strings.Count(out, "no stored event has this id") != 100 {
		t.Fatalf("poison --request all with messages of no event: %v\n%s", err, out)
	}
}
