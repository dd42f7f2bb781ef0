package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/notification"
)

// storedNotification is a NotificationStore of one notification, as its history stands.
type storedNotification struct{ history []notification.Event }

func (s *storedNotification) Create(context.Context, ...command.NewNotification) (int, error) {
	return 0, errors.New("not used")
}

func (s *storedNotification) Get(context.Context, string) (*notification.Notification, error) {
	return notification.FromHistory(s.history)
}

func (s *storedNotification) Save(context.Context, string, *notification.Notification, *command.Delivery) error {
	return nil
}

type refusingMailer struct{ err error }

func (refusingMailer) Name() string { return "smtp" }
func (m refusingMailer) Send(context.Context, command.Email) (command.SendResult, error) {
	if m.err != nil {
		return command.SendResult{}, m.err
	}
	return command.SendResult{Provider: "smtp"}, nil
}

type refusingSMS struct{ err error }

func (refusingSMS) Name() string { return "msg91" }
func (s refusingSMS) Send(context.Context, command.SMS, string) (command.SendResult, error) {
	if s.err != nil {
		return command.SendResult{}, s.err
	}
	return command.SendResult{Provider: "msg91", ProviderMessageID: "req-1"}, nil
}

type plainRenderer struct{}

func (plainRenderer) RenderEmail(notification.Type, notification.MessageData) (string, string, string, error) {
	return "subject", "text", "<p>html</p>", nil
}
func (plainRenderer) SMS(notification.Type, notification.MessageData) (string, error) {
	return "text", nil
}

type noLinks struct{}

func (noLinks) ForMessage(uuid.UUID, string) notification.Links { return notification.Links{} }

// logLines decodes a JSON log into one map per line.
func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestADeliveryThatFailsForGoodIsLoggedOnceWithoutTheRecipient(t *testing.T) {
	for _, tc := range []struct {
		channel   notification.Channel
		recipient string
		mailErr   error
		smsErr    error
		provider  string
		reason    string
	}{
		{channel: notification.Email, recipient: "asha@example.in", provider: "smtp", reason: "535",
			mailErr: &command.SendError{Provider: "smtp", Permanent: true,
				Err: errors.New("535 5.7.8 Username and Password not accepted for asha@example.in and ops@certibuy.in")}},
		{channel: notification.SMS, recipient: "+919876543210", provider: "msg91", reason: "401",
			smsErr: &command.SendError{Provider: "msg91", Permanent: true,
				Err: errors.New("rejected the SMS: HTTP 401, code 418: authentication failure for +919876543210")}},
	} {
		t.Run(string(tc.channel), func(t *testing.T) {
			eventID := uuid.New()
			stream := notification.StreamID(eventID, tc.channel)
			req := notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-TEST1234", OrderEventID: eventID,
				OrderEventType: "order.confirmed.v1", Type: notification.OrderConfirmed, Channel: tc.channel, Recipient: tc.recipient}
			var logs bytes.Buffer
			h := command.NewDeliverNotificationHandler(&storedNotification{history: []notification.Event{req}},
				refusingMailer{tc.mailErr}, refusingSMS{tc.smsErr}, plainRenderer{}, noLinks{},
				command.RetryPolicy{MaxAttempts: 3, Backoff: time.Second}, time.Now, "certibuy.in",
				slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
			err := h.Handle(context.Background(), command.DeliverNotification{Stream: stream, Delivery: 1, Queued: &req, QueuedVersion: 1})
			if !errors.Is(err, command.ErrNotificationFailed) {
				t.Fatalf("a permanent refusal: %v", err)
			}
			lines := logLines(t, &logs)
			if len(lines) != 1 {
				t.Fatalf("want one line, got %d: %s", len(lines), logs.String())
			}
			l := lines[0]
			if l["level"] != "WARN" || l["notification"] != stream || l["type"] != "order_confirmed" ||
				l["channel"] != string(tc.channel) || l["provider"] != tc.provider || !strings.Contains(l["reason"].(string), tc.reason) {
				t.Fatalf("the failure's line: %s", logs.String())
			}
			for _, secret := range []string{"asha@", "ops@", "9876543210"} {
				if strings.Contains(logs.String(), secret) {
					t.Fatalf("the log holds %q: %s", secret, logs.String())
				}
			}
		})
	}
}

func TestAnAttemptLostWithItsWorkerIsLogged(t *testing.T) {
	eventID := uuid.New()
	stream := notification.StreamID(eventID, notification.SMS)
	req := notification.Requested{OrderID: uuid.New(), OrderNumber: "CB-TEST1234", OrderEventID: eventID,
		OrderEventType: "order.confirmed.v1", Type: notification.OrderConfirmed, Channel: notification.SMS, Recipient: "+919876543210"}
	var logs bytes.Buffer
	h := command.NewDeliverNotificationHandler(&storedNotification{history: []notification.Event{req}},
		refusingMailer{}, refusingSMS{}, plainRenderer{}, noLinks{},
		command.RetryPolicy{MaxAttempts: 3, Backoff: time.Second}, time.Now, "certibuy.in",
		slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	// The queue hands the message out a second time: the first delivery's worker never reported.
	if err := h.Handle(context.Background(), command.DeliverNotification{Stream: stream, Delivery: 2}); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, &logs)
	if len(lines) != 1 {
		t.Fatalf("want one line, got %d: %s", len(lines), logs.String())
	}
	l := lines[0]
	if !strings.Contains(l["msg"].(string), notification.ErrWorkerStopped) || l["notification"] != stream ||
		l["provider"] != "msg91" || l["channel"] != "sms" || l["lost_attempts"] != float64(1) {
		t.Fatalf("the lost attempt's line: %s", logs.String())
	}
	if strings.Contains(logs.String(), "9876543210") {
		t.Fatalf("the log holds the phone number: %s", logs.String())
	}
}
