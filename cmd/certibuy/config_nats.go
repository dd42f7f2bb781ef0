package main

import (
	"fmt"
	"regexp"
)

// NATSConfig says where the events go for other services: NATS JetStream. An empty URL turns the
// forwarding off.
type NATSConfig struct {
	URL           string
	Stream        string
	SubjectPrefix string
}

var (
	// A stream name is one token: no dots, wildcards or spaces.
	natsStreamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// A prefix is one or more tokens; the forwarder adds .<category>.<type>.
	natsSubjectPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

func loadNATSConfig(getenv func(string) string) (NATSConfig, error) {
	c := NATSConfig{URL: getenv("NATS_URL"), Stream: or(getenv("NATS_STREAM"), "CERTIBUY"),
		SubjectPrefix: or(getenv("NATS_SUBJECT_PREFIX"), "certibuy")}
	if !natsStreamName.MatchString(c.Stream) {
		return c, fmt.Errorf("NATS_STREAM %q: want letters, digits, _ or - (no dots or spaces)", c.Stream)
	}
	if !natsSubjectPrefix.MatchString(c.SubjectPrefix) {
		return c, fmt.Errorf("NATS_SUBJECT_PREFIX %q: want subject tokens of letters, digits, _ or -, separated by dots (no wildcards)", c.SubjectPrefix)
	}
	return c, nil
}
