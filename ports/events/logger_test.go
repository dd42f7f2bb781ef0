package events_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/certibuy/orders/ports/events"
)

// Lines at the levels the logger shows come out with their fields; those below it cost nothing.
func TestWatermillLoggerWritesWhatItsLevelShowsAndNothingElse(t *testing.T) {
	var buf bytes.Buffer
	l := events.Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	fields := watermill.LogFields{"message_uuid": "m-1", "topic": "order_events"}
	l.With(watermill.LogFields{"consumer_group": "g"}).Info("subscribing", fields)
	l.Error("handler failed", errors.New("boom"), fields)
	l.Debug("handling event", fields)
	l.Trace("received message", fields)
	out := buf.String()
	for _, want := range []string{
		`level=INFO msg=subscribing consumer_group=g`, `message_uuid=m-1`, `topic=order_events`,
		`level=ERROR msg="handler failed"`, `error=boom`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "handling event") || strings.Contains(out, "received message") {
		t.Errorf("debug and trace lines were written at level info:\n%s", out)
	}
	if n := testing.AllocsPerRun(100, func() { l.Trace("received message", fields); l.Debug("handling event", fields) }); n != 0 {
		t.Errorf("a trace and a debug line below the level allocated %.0f times, want 0", n)
	}
}
