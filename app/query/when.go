package query

import (
	"errors"
	"time"
)

// ErrNotATime is a time filter that is none of the forms ParseTime reads.
var ErrNotATime = errors.New("want RFC 3339 (2026-11-27T10:30:00+05:30) or a day (2026-11-27 or 27/11/2026)")

// ParseTime reads a time filter the one way the CLI, the API and the console read it: RFC 3339, a
// time without a zone (in loc), or a day in loc (2026-11-27 or 27/11/2026), which is its start, or
// with endOfDay the start of the next day, so that a range from a day to the same day is that day.
func ParseTime(s string, loc *time.Location, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc); err == nil {
		return t, nil
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
