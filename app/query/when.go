package query

import (
	"errors"
	"time"
)

// ErrNotATime is a time filter that is none of the forms ParseTime reads.
var ErrNotATime = errors.New("want RFC 3339 (2026-11-27T10:30:00+05:30), a time as the CLI prints it (27/11/2026 10:30:00 IST), or a day (2026-11-27 or 27/11/2026)")

// ParseTime reads a time filter the one way the CLI, the API and the console read it: RFC 3339, a
// time without a zone (in loc) or as the CLI prints times, or a day in loc (2026-11-27 or 27/11/2026), which is its start, or
// with endOfDay the start of the next day, so that a range from a day to the same day is that day.
func ParseTime(s string, loc *time.Location, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// A time without a zone, also as the CLI prints times (with the zone's abbreviation, which
	// ParseInLocation takes as loc's own when it is loc's).
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "02/01/2006 15:04:05", "02/01/2006 15:04:05 MST"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if layout == "02/01/2006 15:04:05 MST" && t.Location() != loc && t.Location() != time.UTC {
				continue // an abbreviation of another zone: its offset is unknown
			}
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02", "02/01/2006"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if endOfDay {
				t = t.AddDate(0, 0, 1)
			}
			return t, nil
		}
	}
	return time.Time{}, ErrNotATime
}
