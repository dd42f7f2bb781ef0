package notification_test

import (
	"errors"
	"testing"

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
		lost.Error != "outcome unknown: the worker stopped" || lost.Provider != "msg91" {
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
