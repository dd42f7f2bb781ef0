package events_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/ports/events"
)

// The event log writes a line from the message's metadata without reading the payload: an
// OrderPlaced whose payload this binary cannot decode is logged all the same, with no customer
// detail in the line.
func TestTheEventLogLogsWithoutReadingThePayload(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	msg := message.NewMessage("0193f1a2-0000-7000-8000-000000000001", []byte(`{"customer": {"phone": "9876543210"}, "items": "not a list"}`))
	msg.Metadata.Set(es.MsgType, "order.placed.v1")
	msg.Metadata.Set(es.MsgStream, "order-42")
	msg.Metadata.Set(es.MsgStreamVersion, "1")
	handled := 0
	for _, h := range events.EventLogHandlers(logger) {
		ev := h.NewEvent()
		if (events.Marshaler{}).Name(ev) != "order.placed.v1" {
			continue
		}
		if err := (events.Marshaler{}).Unmarshal(msg, ev); err != nil {
			t.Fatalf("the event log's handler needed the payload: %v", err)
		}
		if err := h.Handle(cqrs.CtxWithOriginalMessage(context.Background(), msg), ev); err != nil {
			t.Fatal(err)
		}
		handled++
	}
	if handled != 1 {
		t.Fatalf("%d event log handlers took order.placed.v1, want 1", handled)
	}
	out := buf.String()
	if !strings.Contains(out, `msg="order event received" type=order.placed.v1 stream=order-42 version=1`) {
		t.Errorf("log line: %s", out)
	}
	if strings.Contains(out, "9876543210") {
		t.Errorf("the log line holds the customer's phone: %s", out)
	}
}
