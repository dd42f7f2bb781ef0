// Package es holds the event-sourcing vocabulary that aggregates, the event store and the projections
// share: who caused a change (the actor), how changes chain (correlation and causation ids), and the
// metadata stored with every event. It does no I/O.
package es

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Actor names who caused an event: "customer:<id>", "admin:<id>", "gateway:<name>" or "system".
type Actor string

// System is the actor for changes the service makes on its own.
const System Actor = "system"

// Customer is the actor for a change a customer made.
func Customer(id string) Actor { return Actor("customer:" + id) }

// Admin is the actor for a change an admin user made.
func Admin(id string) Actor { return Actor("admin:" + id) }

// Gateway is the actor for a change a payment gateway reported.
func Gateway(name string) Actor { return Actor("gateway:" + name) }

// ParseActor checks that s has one of the actor shapes.
func ParseActor(s string) (Actor, error) {
	if s == string(System) {
		return System, nil
	}
	kind, id, ok := strings.Cut(s, ":")
	if !ok || id == "" {
		return "", fmt.Errorf("actor %q: want system, customer:<id>, admin:<id> or gateway:<name>", s)
	}
	switch kind {
	case "customer", "admin", "gateway":
		return Actor(s), nil
	}
	return "", fmt.Errorf("actor %q: unknown kind %q", s, kind)
}

// NewID returns a new id for an event, an order or a correlation: a version 7 UUID, whose leading
// bits are the time. Ids made one after another then sort together, so each insert into the event
// store's indexes on event ids, stream ids and correlation ids lands near the last one rather than
// on a random page: in a PL/pgSQL loop of 20,000 two-event appends on a 200,000-event table, 73 µs
// and 2.7 kB of WAL an append against 102 µs and 4.3 kB with random ids. Its 74 random bits keep it
// unguessable.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Causation says who and what caused the events about to be appended. It travels in the context
// from the port that received the request to the store that writes the events.
type Causation struct {
	Actor         Actor
	CorrelationID string
	CausationID   string
}

type causationKey struct{}

// WithCausation returns a context carrying c.
func WithCausation(ctx context.Context, c Causation) context.Context {
	return context.WithValue(ctx, causationKey{}, c)
}

// CausationFrom returns the causation in ctx; without one, the actor is System and the ids are empty
// (the store then starts a new correlation).
func CausationFrom(ctx context.Context) Causation {
	c, _ := ctx.Value(causationKey{}).(Causation)
	if c.Actor == "" {
		c.Actor = System
	}
	return c
}

// Metadata is stored with every event.
type Metadata struct {
	EventID       uuid.UUID `json:"event_id"`
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id,omitempty"`
	Actor         Actor     `json:"actor"`
	OccurredAt    time.Time `json:"occurred_at"`
	SchemaVersion int       `json:"schema_version"`
}

// ErrConcurrencyConflict is returned when a stream changed since it was read: the append was made
// against a stale version. Nothing was written; reload and decide again.
var ErrConcurrencyConflict = errors.New("concurrency conflict")

// ConflictError names the stream and the versions of a concurrency conflict.
type ConflictError struct {
	Stream   string
	Expected int
	Actual   int // -1 when unknown
}

func (e *ConflictError) Error() string {
	if e.Actual < 0 {
		return fmt.Sprintf("stream %s changed since version %d", e.Stream, e.Expected)
	}
	return fmt.Sprintf("stream %s is at version %d, not %d", e.Stream, e.Actual, e.Expected)
}

// Is makes every ConflictError an ErrConcurrencyConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConcurrencyConflict }

// Metadata keys of an event travelling as a Watermill message. The message UUID is the event id and
// the payload is the event's data.
const (
	MsgType          = "type"
	MsgStream        = "stream_id"
	MsgStreamVersion = "stream_version"
	MsgCorrelationID = "correlation_id" // the key Watermill's CorrelationID middleware uses
	MsgCausationID   = "causation_id"
	MsgActor         = "actor"
	MsgOccurredAt    = "occurred_at"
	MsgSchemaVersion = "schema_version"
)

// StreamHash is the 32-bit FNV-1a hash of a stream id: what partitions the work on streams (all of
// a stream's events fall in one partition of n, StreamHash % n). It is stored with each outbox
// message, so it never changes.
func StreamHash(stream string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(stream))
	return h.Sum32()
}
