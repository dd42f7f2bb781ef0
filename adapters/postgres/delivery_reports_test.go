package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/domain/notification"
)

// A delivery report names its attempt by the provider's request id: the look-up reads
// events_provider_message_id, which keeps the attempts that have one (an e-mail's has none).
func TestAReportFindsItsAttemptByTheProvidersRequestID(t *testing.T) {
	t.Parallel()
	store, db := newStore(t, 2)
	ctx := context.Background()
	for stream, data := range map[string]string{
		"notification-r1-sms":   `{"attempt": 2, "provider": "msg91", "provider_message_id": "req-1", "outcome": "sent"}`,
		"notification-r1-email": `{"attempt": 1, "provider": "smtp", "outcome": "sent"}`,
	} {
		if _, err := store.Append(ctx, stream, postgres.NoStream, ev(notification.TypeDeliveryAttempted, data)); err != nil {
			t.Fatal(err)
		}
	}
	inbox := postgres.NewReportInbox(db)
	stream, attempt, ok, err := inbox.AttemptOf(ctx, "msg91", "req-1")
	if err != nil || !ok || stream != "notification-r1-sms" || attempt != 2 {
		t.Fatalf("AttemptOf(msg91, req-1) = %s, %d, %v, %v; want notification-r1-sms, 2", stream, attempt, ok, err)
	}
	if _, _, ok, err := inbox.AttemptOf(ctx, "fast2sms", "req-1"); ok || err != nil {
		t.Fatalf("another provider's request id found an attempt (%v, %v)", ok, err)
	}
	plan, err := postgres.ExplainAttemptOf(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "events_provider_message_id") {
		t.Fatalf("the look-up does not read events_provider_message_id:\n%s", plan)
	}
}
