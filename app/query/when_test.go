package query

import (
	"errors"
	"testing"
	"time"
)

// A time the CLI printed can be given back to it: what audit shows is what --as-of and --after take.
func TestParseTimeReadsTheTimesTheCLIPrints(t *testing.T) {
	ist := time.FixedZone("IST", 19800)
	want := time.Date(2026, 12, 2, 20, 28, 40, 0, ist)
	for _, s := range []string{"02/12/2026 20:28:40 IST", "02/12/2026 20:28:40", "2026-12-02 20:28:40", "2026-12-02T20:28:40", "2026-12-02T14:58:40Z", "02/12/2026 14:58:40 UTC"} {
		got, err := ParseTime(s, ist, false)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseTime("02/12/2026 20:28:40 PST", ist, false); !errors.Is(err, ErrNotATime) {
		t.Errorf("a time in a zone of unknown offset: %v", err)
	}
	if day, err := ParseTime("02/12/2026", ist, true); err != nil || !day.Equal(time.Date(2026, 12, 3, 0, 0, 0, 0, ist)) {
		t.Errorf("a day as the end of a range: %v, %v", day, err)
	}
}
