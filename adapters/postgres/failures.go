package postgres

import "time"

// failureReminder is how often a failure that goes on is logged again.
const failureReminder = time.Minute

// failureLog follows a run of failures of one reader (a consumer group's reads, a projection's
// steps), so that an outage is logged when it begins, then once a failureReminder while it lasts,
// and its end once, not at every retry. It belongs to one goroutine.
type failureLog struct {
	since, reported time.Time
	count           int
	// remind is how often a run still going is logged again; zero means failureReminder.
	remind time.Duration
}

// fail counts a failure at now and says what to log of it: began for the first of a run, remind
// when the last line about the run is a reminder's interval old; most of the time, neither.
func (f *failureLog) fail(now time.Time) (began, remind bool) {
	every := f.remind
	if every <= 0 {
		every = failureReminder
	}
	f.count++
	switch {
	case f.count == 1:
		f.since, f.reported = now, now
		return true, false
	case now.Sub(f.reported) >= every:
		f.reported = now
		return false, true
	}
	return false, false
}

// failures is how many failed in the run so far, and for how long at now.
func (f *failureLog) failures(now time.Time) (int, time.Duration) {
	return f.count, now.Sub(f.since)
}

// succeed ends the run, and returns how many failed in it and for how long, for the line that says
// the reader works again; no failures (0) means no run was going, and nothing is to be logged.
func (f *failureLog) succeed(now time.Time) (int, time.Duration) {
	n, d := f.failures(now)
	if n == 0 {
		return 0, 0
	}
	*f = failureLog{remind: f.remind}
	return n, d
}
