package notification_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/notification"
)

func requested(t *testing.T) *notification.Notification {
	t.Helper()
	n, err := notification.Request(notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-7K3M9Q2X", OrderEventID: uuid.New(),
		OrderEventType: "order.shipped.v2", Type: notification.OrderShipped, Channel: notification.Email, Recipient: "asha@example.in"})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func rebuilt(t *testing.T, n *notification.Notification) *notification.Notification {
	t.Helper()
	r, err := notification.FromHistory(n.Changes())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestANotificationIsSentAtMostOnce(t *testing.T) {
	n := requested(t)
	if _, err := n.Attempt(1, "smtp"); err != nil {
		t.Fatal(err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "smtp", Response: "250 ok"}, "", "<x@certibuy.in>"); err != nil {
		t.Fatal(err)
	}
	if n.Status() != notification.StatusSent || n.Attempts() != 1 || n.SentAs().MessageID != "<x@certibuy.in>" {
		t.Fatalf("after success: %s, %d attempts, %+v", n.Status(), n.Attempts(), n.SentAs())
	}
	if _, err := n.Attempt(2, "smtp"); !errors.Is(err, notification.ErrAlreadySent) {
		t.Fatalf("a second attempt after sending: %v", err)
	}
	if err := n.Resend("admin:1"); !errors.Is(err, notification.ErrNotFailed) {
		t.Fatalf("resending a sent notification: %v", err)
	}
	if r := rebuilt(t, n); r.Status() != notification.StatusSent || r.Version() != n.Version() {
		t.Fatalf("rebuilt: %s v%d", r.Status(), r.Version())
	}
}

func TestTheBudgetEndsInFailureAndAResendGivesANewOne(t *testing.T) {
	n := requested(t)
	for i := 1; i <= 3; i++ {
		// The first two retries run in the worker (same delivery), the third after a requeue.
		if num, err := n.Attempt(1+i/3, "smtp"); err != nil || num != i {
			t.Fatalf("attempt %d numbered %d: %v", i, num, err)
		}
		failed, err := n.Fail(notification.DeliveryAttempted{Provider: "smtp", Error: "451 try later"}, false, 3)
		if err != nil {
			t.Fatal(err)
		}
		if failed != (i == 3) {
			t.Fatalf("attempt %d: failed for good = %v", i, failed)
		}
	}
	if n.Status() != notification.StatusFailed || n.LastError() != "451 try later" {
		t.Fatalf("after the budget: %s %q", n.Status(), n.LastError())
	}
	if _, err := n.Attempt(3, "smtp"); !errors.Is(err, notification.ErrAlreadyFailed) {
		t.Fatalf("attempt after failing: %v", err)
	}
	if err := n.Resend("admin:1"); err != nil {
		t.Fatal(err)
	}
	if n.Status() != notification.StatusPending || n.Round() != 0 || n.Attempts() != 3 {
		t.Fatalf("after resend: %s round %d attempts %d", n.Status(), n.Round(), n.Attempts())
	}
	if num, err := n.Attempt(1, "smtp"); err != nil || num != 4 {
		t.Fatalf("the first attempt after a resend is number %d: %v", num, err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "smtp"}, "", "<x>"); err != nil {
		t.Fatal(err)
	}
	if r := rebuilt(t, n); r.Status() != notification.StatusSent || r.Attempts() != 4 {
		t.Fatalf("rebuilt: %s, %d attempts", r.Status(), r.Attempts())
	}
}

func TestAPermanentFailureEndsAtOnceAndAnAmbiguousOneIsRemembered(t *testing.T) {
	n := requested(t)
	_, _ = n.Attempt(1, "smtp")
	if failed, _ := n.Fail(notification.DeliveryAttempted{Provider: "msg91", Outcome: notification.OutcomeAmbiguous, Error: "timeout"}, false, 3); failed {
		t.Fatal("an ambiguous attempt failed the notification")
	}
	if n.LastOutcome() != notification.OutcomeAmbiguous || n.LastProvider() != "msg91" {
		t.Fatalf("last outcome %q by %q", n.LastOutcome(), n.LastProvider())
	}
	_, _ = n.Attempt(1, "smtp")
	if failed, _ := n.Fail(notification.DeliveryAttempted{Provider: "fast2sms", Error: "412 invalid key"}, true, 3); !failed {
		t.Fatal("a permanent failure left the notification pending")
	}
}

func TestAnAttemptThatNeverReportedCountsAndMayBeFollowed(t *testing.T) {
	n := requested(t)
	_, _ = n.Attempt(1, "smtp")
	// The process stopped mid-send: nothing was recorded. The queue hands the notification out a
	// second time; the attempt gets number 2, so the lost one shows.
	r := rebuilt(t, n)
	if num, err := r.Attempt(2, "msg91"); err != nil || num != 2 {
		t.Fatalf("after a lost attempt: number %d, %v", num, err)
	}
	// The lost attempt is in the history as one whose outcome is unknown, and the retry stays with
	// its provider: it may have been sent.
	ch := r.Changes()
	lost, ok := ch[0].(notification.DeliveryAttempted)
	if len(ch) != 1 || !ok || lost.Attempt != 1 || lost.Outcome != notification.OutcomeUnknown ||
		lost.Error != "outcome unknown: the worker stopped, or could not record the answer" || lost.Provider != "msg91" {
		t.Fatalf("recorded %+v, want the lost attempt 1 with an unknown outcome", ch)
	}
	if r.LastOutcome() != notification.OutcomeUnknown || r.LastProvider() != "msg91" {
		t.Fatalf("last outcome %q by %q", r.LastOutcome(), r.LastProvider())
	}
	if err := r.Succeed(notification.DeliveryAttempted{Provider: "smtp"}, "", "<x>"); err != nil {
		t.Fatal(err)
	}
	if r.Attempts() != 2 || r.SentAs().Attempts != 2 {
		t.Fatalf("%d attempts, sent after %d", r.Attempts(), r.SentAs().Attempts)
	}
	if _, err := requested(t).Fail(notification.DeliveryAttempted{}, false, 3); !errors.Is(err, notification.ErrNoAttempt) {
		t.Fatalf("failing without an attempt: %v", err)
	}
}

func TestRequestChecksWhatItNeeds(t *testing.T) {
	good := notification.Requested{OrderEventID: uuid.New(), Type: notification.OrderShipped, Channel: notification.SMS, Recipient: "+919876543210"}
	for name, edit := range map[string]func(*notification.Requested){
		"no event":     func(r *notification.Requested) { r.OrderEventID = uuid.Nil },
		"no recipient": func(r *notification.Requested) { r.Recipient = "" },
		"bad channel":  func(r *notification.Requested) { r.Channel = "fax" },
		"bad type":     func(r *notification.Requested) { r.Type = "order_lost" },
	} {
		r := good
		edit(&r)
		if _, err := notification.Request(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got := notification.StreamID(uuid.MustParse("6f1c2b3a-0000-4000-8000-000000000001"), notification.SMS); got != "notification-6f1c2b3a-0000-4000-8000-000000000001-sms" {
		t.Fatalf("stream id %s", got)
	}
	for _, ev := range []string{"order.placed.v1", "order.payment_requested.v1", "order.refund_initiated.v1"} {
		if _, ok := notification.TypeFor(ev); ok {
			t.Errorf("%s notifies", ev)
		}
	}
	if typ, ok := notification.TypeFor("order.shipped.v1"); !ok || typ != notification.OrderShipped {
		t.Fatalf("an old shipped event notifies as %q", typ)
	}
}

// sentBy walks a fresh notification to sent by provider at attempt 1.
func sentBy(t *testing.T, provider string) *notification.Notification {
	t.Helper()
	n := requested(t)
	if _, err := n.Attempt(1, provider); err != nil {
		t.Fatal(err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: provider, ProviderMessageID: "req-1"}, "req-1", ""); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestADeliveryReportFoldsOnceAgainstTheAttemptItNames(t *testing.T) {
	n := sentBy(t, "msg91")
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := notification.Report{Attempt: 1, Provider: "msg91", RequestID: "req-1", Status: "1", Description: "DELIVRD", ReportedAt: at}
	before := len(n.Changes())
	for range 2 {
		if reroute, err := n.ReportDelivery(r, true, false, "fast2sms"); err != nil || reroute {
			t.Fatalf("reroute %v, err %v", reroute, err)
		}
	}
	if ch := n.Changes()[before:]; len(ch) != 1 || ch[0].EventType() != notification.TypeDelivered {
		t.Fatalf("changes %v, want one Delivered", ch)
	}
	if st, _ := rebuilt(t, n).DeliveryStatus(); st != notification.DeliveryDelivered {
		t.Fatalf("delivery status %q", st)
	}
	if _, err := n.ReportDelivery(notification.Report{Attempt: 2, Status: "1"}, true, false, ""); !errors.Is(err, notification.ErrUnknownAttempt) {
		t.Fatalf("a report for an attempt never made: %v", err)
	}
}

// A failure is recorded, not resent on its own; an admin may resend it.
func TestAnUndeliveredSMSIsReportedAndAnAdminMayResendIt(t *testing.T) {
	n := sentBy(t, "msg91")
	if err := n.Resend("admin:1"); !errors.Is(err, notification.ErrNotFailed) {
		t.Fatalf("resending a sent notification with no report: %v", err)
	}
	r := notification.Report{Attempt: 1, Provider: "msg91", Status: "2", Description: "Failed", Reason: "Absent subscriber"}
	if reroute, err := n.ReportDelivery(r, false, false, "fast2sms"); err != nil || reroute {
		t.Fatalf("a failure rerouted (%v) or erred: %v", reroute, err)
	}
	if st, reason := n.DeliveryStatus(); st != notification.DeliveryUndelivered || reason != "Absent subscriber" || n.Status() != notification.StatusSent {
		t.Fatalf("status %s, delivery %q %q", n.Status(), st, reason)
	}
	if err := n.Resend("admin:1"); err != nil || n.Status() != notification.StatusPending {
		t.Fatalf("resend of an undelivered SMS: %v, status %s", err, n.Status())
	}
}

// A template rejection goes once through the other provider, never the same one again.
func TestARejectedTemplateGoesOnceThroughTheOtherProvider(t *testing.T) {
	n := sentBy(t, "msg91")
	r := notification.Report{Attempt: 1, Provider: "msg91", Status: "16", Description: "Rejected", Reason: "template mismatch"}
	reroute, err := n.ReportDelivery(r, false, true, "fast2sms")
	if err != nil || !reroute {
		t.Fatalf("reroute %v, err %v", reroute, err)
	}
	if n.Status() != notification.StatusPending || n.ReroutedTo() != "fast2sms" {
		t.Fatalf("status %s, rerouted to %q", n.Status(), n.ReroutedTo())
	}
	again := notification.Report{Attempt: 1, Provider: "msg91", Status: "25", Description: "Rejected"}
	if reroute, _ := n.ReportDelivery(again, false, true, "fast2sms"); reroute {
		t.Fatal("a second rejection rerouted again")
	}
	if num, err := n.Attempt(1, "fast2sms"); err != nil || num != 2 {
		t.Fatalf("the rerouted attempt is number %d: %v", num, err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "fast2sms", ProviderMessageID: "f2s-1"}, "f2s-1", ""); err != nil {
		t.Fatal(err)
	}
	r2 := n
	if st, _ := r2.DeliveryStatus(); st != "" || r2.Status() != notification.StatusSent || r2.SentAs().Provider != "fast2sms" {
		t.Fatalf("after the other provider sent it: %s by %s, delivery %q", r2.Status(), r2.SentAs().Provider, st)
	}
	// Without a fallback, or for the fallback's own rejection, nothing goes again.
	lone := sentBy(t, "msg91")
	if reroute, _ := lone.ReportDelivery(r, false, true, ""); reroute {
		t.Fatal("rerouted without a fallback")
	}
	if reroute, _ := r2.ReportDelivery(notification.Report{Attempt: 2, Provider: "fast2sms", Status: "rejected"}, false, true, "fast2sms"); reroute {
		t.Fatal("rerouted to the provider that rejected it")
	}
}

// A late report about an attempt before a resend is recorded against that attempt; what the log
// shows as the notification's delivery is the report of the attempt that sent it last.
func TestALateReportAppliesToTheAttemptItNames(t *testing.T) {
	n := sentBy(t, "msg91")
	if _, err := n.ReportDelivery(notification.Report{Attempt: 1, Provider: "msg91", Status: "2", Reason: "Absent subscriber"}, false, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := n.Resend("admin:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Attempt(1, "msg91"); err != nil {
		t.Fatal(err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "msg91", ProviderMessageID: "req-2"}, "req-2", ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := n.DeliveryStatus(); st != "" {
		t.Fatalf("after a resend was sent, the delivery is %q: no report of the new attempt came yet", st)
	}
	before := len(n.Changes())
	late := notification.Report{Attempt: 1, Provider: "msg91", Status: "1", Description: "DELIVRD"}
	if _, err := n.ReportDelivery(late, true, false, ""); err != nil {
		t.Fatal(err)
	}
	ch := n.Changes()[before:]
	if d, ok := ch[0].(notification.Delivered); len(ch) != 1 || !ok || d.Attempt != 1 {
		t.Fatalf("recorded %+v, want Delivered for attempt 1", ch)
	}
	if st, _ := n.DeliveryStatus(); st != "" {
		t.Fatalf("the late report of attempt 1 set the delivery of attempt 2 to %q", st)
	}
}

// smsRequested is an SMS notification, requested.
func smsRequested(t *testing.T) *notification.Notification {
	t.Helper()
	n, err := notification.Request(notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-7K3M9Q2X", OrderEventID: uuid.New(),
		OrderEventType: "order.payment_succeeded.v1", Type: notification.PaymentSuccessful, Channel: notification.SMS, Recipient: "+919876543210"})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A template rejection by the provider that took an SMS after the other one refused it is not
// rerouted to the one that refused it: none is left, so the notification fails at once, saying why.
// Replayed from its events, it stands the same.
func TestARejectionIsNotReroutedToAProviderThatRefusedIt(t *testing.T) {
	n := smsRequested(t)
	if _, err := n.Attempt(1, "msg91"); err != nil {
		t.Fatal(err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "fast2sms", ProviderMessageID: "f2s-1",
		Response: "msg91: {\"type\":\"error\"}\nfast2sms: {\"return\":true}", RefusedBy: []string{"msg91"}}, "f2s-1", ""); err != nil {
		t.Fatal(err)
	}
	rejected := notification.Report{Attempt: 1, Provider: "fast2sms", RequestID: "f2s-1", Status: "Rejected", Description: "DLT template mismatch"}
	reroute, err := n.ReportDelivery(rejected, false, true, "msg91")
	if err != nil || reroute {
		t.Fatalf("reroute %v, err %v: msg91 refused this SMS already", reroute, err)
	}
	for _, m := range []*notification.Notification{n, rebuilt(t, n)} {
		if m.Status() != notification.StatusFailed || m.ReroutedTo() != "" ||
			!strings.HasPrefix(m.LastError(), notification.ReasonAllRefused+": fast2sms reported its text rejected (DLT template mismatch), and msg91 had refused it") {
			t.Fatalf("status %s, rerouted to %q, error %q", m.Status(), m.ReroutedTo(), m.LastError())
		}
		if st, _ := m.DeliveryStatus(); st != notification.DeliveryUndelivered {
			t.Fatalf("delivery %q, want undelivered", st)
		}
	}
	var types []string
	for _, e := range n.Changes() {
		types = append(types, e.EventType())
	}
	if want := []string{notification.TypeRequested, notification.TypeDeliveryAttempted, notification.TypeSent,
		notification.TypeUndelivered, notification.TypeFailed}; !slices.Equal(types, want) {
		t.Fatalf("recorded %v, want %v", types, want)
	}
	// An admin may still resend it (after fixing a template, say).
	if err := n.Resend("admin:1"); err != nil || n.Status() != notification.StatusPending || len(n.RefusedBy()) != 0 {
		t.Fatalf("resend: %v, status %s, refused by %v", err, n.Status(), n.RefusedBy())
	}
}

// A refusal in an earlier attempt of the same round counts too; a resend forgets it.
func TestARefusalInAnEarlierAttemptCountsUntilAResend(t *testing.T) {
	rejected := notification.Report{Attempt: 2, Provider: "fast2sms", Status: "Rejected"}
	n := smsRequested(t)
	if _, err := n.Attempt(1, "msg91"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Fail(notification.DeliveryAttempted{Provider: "fast2sms", Error: "no provider sent the SMS",
		RefusedBy: []string{"msg91", "fast2sms"}}, false, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Attempt(2, "msg91"); err != nil {
		t.Fatal(err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "fast2sms", ProviderMessageID: "f2s-2"}, "f2s-2", ""); err != nil {
		t.Fatal(err)
	}
	if reroute, err := rebuilt(t, n).ReportDelivery(rejected, false, true, "msg91"); err != nil || reroute {
		t.Fatalf("reroute %v, err %v: msg91 refused it in attempt 1", reroute, err)
	}

	// The same history, then a resend that Fast2SMS took without MSG91 refusing: rerouted.
	if err := n.Resend("admin:1"); err == nil {
		t.Fatal("resent a notification sent with no report")
	}
	if _, err := n.ReportDelivery(notification.Report{Attempt: 2, Provider: "fast2sms", Status: "Failed"}, false, false, "msg91"); err != nil {
		t.Fatal(err)
	}
	if err := n.Resend("admin:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Attempt(1, "msg91"); err != nil {
		t.Fatal(err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "fast2sms", ProviderMessageID: "f2s-3"}, "f2s-3", ""); err != nil {
		t.Fatal(err)
	}
	after := notification.Report{Attempt: 3, Provider: "fast2sms", Status: "Rejected"}
	if reroute, err := n.ReportDelivery(after, false, true, "msg91"); err != nil || !reroute || n.ReroutedTo() != "msg91" {
		t.Fatalf("after a resend: reroute %v to %q, err %v", reroute, n.ReroutedTo(), err)
	}
}

// Fast2SMS took an SMS that MSG91 did not refuse (MSG91 was unreachable, or has no template for
// the type): a rejection by Fast2SMS still goes once through MSG91.
func TestARejectionIsReroutedWhenTheOtherProviderDidNotRefuse(t *testing.T) {
	n := smsRequested(t)
	if _, err := n.Attempt(1, "msg91"); err != nil {
		t.Fatal(err)
	}
	if err := n.Succeed(notification.DeliveryAttempted{Provider: "fast2sms", ProviderMessageID: "f2s-1",
		Response: "msg91: unreachable\nfast2sms: {\"return\":true}"}, "f2s-1", ""); err != nil {
		t.Fatal(err)
	}
	reroute, err := rebuilt(t, n).ReportDelivery(notification.Report{Attempt: 1, Provider: "fast2sms", Status: "Rejected"}, false, true, "msg91")
	if err != nil || !reroute {
		t.Fatalf("reroute %v, err %v", reroute, err)
	}
}
