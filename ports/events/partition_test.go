package events_test

import (
	"testing"

	"github.com/certibuy/orders/ports/events"
)

// A request group's partition is read from its name, with or without a deployment's prefix, and
// only from a request group's name.
func TestRequestPartitionOfReadsTheGroupsName(t *testing.T) {
	for _, c := range []struct {
		group string
		want  int
		ok    bool
	}{
		{events.RequestGroup(3), 3, true},
		{"staging_" + events.RequestGroup(0), 0, true},
		{events.RequestGroup(12), 12, true},
		{events.EventLogGroup, 0, false},
		{"notification_requests_px", 0, false},
	} {
		if got, ok := events.RequestPartitionOf(c.group); got != c.want || ok != c.ok {
			t.Errorf("RequestPartitionOf(%q) = %d, %t; want %d, %t", c.group, got, ok, c.want, c.ok)
		}
	}
}
