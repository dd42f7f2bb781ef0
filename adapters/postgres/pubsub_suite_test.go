package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/domain/es"
)

// Watermill's universal Pub/Sub suite, run against the adapter that reads the events table
// (eventsSchema), with the subscriber the service builds: woken by commits, draining on close.
//
// The adapter publishes nothing (an event is published by being appended), so the suite's publisher
// appends each message as an event of a stream of its own (<topic>/<message uuid>), with the
// message's uuid as the event id, in one AppendMany per Publish call, as the service's appends are.
// An event's data is JSON: a payload that is not (the suite's "x") is stored as a JSON string, and
// the tests that send such payloads compare uuids only.
//
// Left out, and why:
//   - TestPublishSubscribe asserts that a free metadata key ("test") comes back. A message's
//     metadata is the event's own fields (type, stream, version, correlation id, actor…; see
//     EventMessage), not a free map. TestEventsTopicKeepsPayloadsAndCorrelationIDs below checks
//     the rest of what it checks: every message once, its payload, and metadata carried by the event.
//   - TestConcurrentSubscribeMultipleTopics publishes the same messages on ten topics. An event is
//     on one topic, and its id is the event's key: the store refuses the second copy.
//   - TestReconnect restarts the database server, which the other packages' tests share.
//   - TestNewSubscriberReceivesOldMessages wants every new subscriber of one consumer group to read
//     the topic from its start (Kafka's way). A group here has one offset, as in watermill-sql; a
//     new consumer group does read from the start (TestConsumerGroups).
//
// The rest runs with the features the adapter has: consumer groups (offsets per group), exactly
// once (a handler's writes commit with the offset), order (commit-safe order) and persistence.
func TestEventsTopicPassesWatermillsPubSubSuite(t *testing.T) {
	t.Parallel()
	long := os.Getenv("PUBSUB_SUITE_LONG") != ""
	conns := int32(40)
	if long {
		// 50 subscribers each hold a connection while their batch waits for a reader.
		conns = 70
	}
	suite := newEventsSuite(t, conns)
	features := tests.Features{
		ConsumerGroups:      true,
		ExactlyOnceDelivery: true,
		GuaranteedOrder:     true,
		Persistent:          true,
		// The long variants publish up to 10,000 messages to 50 subscribers, which hold 50 of the
		// server's 100 connections while the other packages' tests run beside them; the short ones
		// exercise the same paths. PUBSUB_SUITE_LONG=1 runs the long ones (about 30 s).
		ForceShort: !long,
	}
	funcs := []func(*testing.T, tests.TestContext, tests.PubSubConstructor){
		tests.TestConcurrentSubscribe,
		tests.TestResendOnError,
		tests.TestNoAck,
		tests.TestContinueAfterErrors,
		tests.TestPublishSubscribeInOrder,
		tests.TestPublisherClose,
		tests.TestTopic,
		tests.TestMessageCtx,
		tests.TestSubscribeCtx,
	}
	for _, fn := range funcs {
		name := strings.TrimPrefix(funcName(fn), "Test")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, tests.TestContext{TestID: tests.NewTestID(), Features: features}, suite.pubSub)
		})
	}
	// These two skip themselves for a Pub/Sub that delivers exactly once; they check that closing
	// subscribers mid-stream loses nothing, which holds all the same (a message in hand when its
	// subscriber closes comes again).
	atLeastOnce := features
	atLeastOnce.ExactlyOnceDelivery = false
	for _, fn := range []func(*testing.T, tests.TestContext, tests.PubSubConstructor){tests.TestContinueAfterSubscribeClose, tests.TestConcurrentClose} {
		t.Run(strings.TrimPrefix(funcName(fn), "Test"), func(t *testing.T) {
			t.Parallel()
			fn(t, tests.TestContext{TestID: tests.NewTestID(), Features: atLeastOnce}, suite.pubSub)
		})
	}
	t.Run("ConsumerGroups", func(t *testing.T) {
		t.Parallel()
		tests.TestConsumerGroups(t, tests.TestContext{TestID: tests.NewTestID(), Features: features}, suite.pubSubGroup)
	})
}

// What the suite's TestPublishSubscribe checks that the adapter can keep: every message comes once,
// with its uuid and payload, and the metadata its event carries (here the correlation id). The data
// column is jsonb, which keeps a payload's value, not its spelling.
func TestEventsTopicKeepsPayloadsAndCorrelationIDs(t *testing.T) {
	t.Parallel()
	suite := newEventsSuite(t, 8)
	pub, sub := suite.pubSub(t)
	defer sub.Close()
	topic := "suite_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	var out []*message.Message
	for i := range 100 {
		m := message.NewMessage(uuid.NewString(), fmt.Appendf(nil, `{"n":%d}`, i))
		m.Metadata.Set(suiteCorrelation, "corr-"+m.UUID)
		want[m.UUID] = string(m.Payload)
		out = append(out, m)
	}
	if err := pub.Publish(topic, out...); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < len(want) {
		m := receive(t, ctx, msgs)
		if seen[m.UUID] {
			t.Fatalf("message %s came twice", m.UUID)
		}
		seen[m.UUID] = true
		if p, ok := want[m.UUID]; !ok {
			t.Fatalf("message %s was never published", m.UUID)
		} else if !sameJSON(t, m.Payload, []byte(p)) {
			t.Errorf("message %s payload %s, want %s", m.UUID, m.Payload, p)
		}
		if got := m.Metadata.Get(es.MsgCorrelationID); got != "corr-"+m.UUID {
			t.Errorf("message %s correlation id %q, want %q", m.UUID, got, "corr-"+m.UUID)
		}
		m.Ack()
	}
	select {
	case m := <-msgs:
		t.Fatalf("message %s came after all %d had", m.UUID, len(want))
	case <-time.After(300 * time.Millisecond):
	}
}

// suiteCorrelation is the metadata key the suite publisher takes an event's correlation id from.
const suiteCorrelation = "correlation_id"

// eventsSuite builds the suite's publishers and subscribers on one database.
type eventsSuite struct {
	store *postgres.EventStore
	db    *postgres.DB
	waker *postgres.Waker
}

func newEventsSuite(t *testing.T, conns int32) eventsSuite {
	t.Helper()
	_, db, waker := newWakingStore(t, conns)
	// A stream <topic>/<uuid> is published on its topic.
	store := postgres.NewEventStore(db, postgres.WithTopics(func(stream string) string {
		topic, _, _ := strings.Cut(stream, "/")
		return topic
	}))
	return eventsSuite{store: store, db: db, waker: waker}
}

func (s eventsSuite) pubSub(t *testing.T) (message.Publisher, message.Subscriber) {
	return s.pubSubGroup(t, "suite")
}

func (s eventsSuite) pubSubGroup(t *testing.T, group string) (message.Publisher, message.Subscriber) {
	t.Helper()
	sub, err := postgres.NewSubscriber(s.db.Pool, group, postgres.SubscriberConfig{
		Waker:       s.waker,
		Commits:     s.db.Commits,
		AckDeadline: 30 * time.Second,
		BatchSize:   10,
		// The suite expects an unacked message's context to end within 15 s of Close.
		Drain: 5 * time.Second,
	}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	return suitePublisher{store: s.store}, offsetsTableFirst{Subscriber: sub, pool: s.db.Pool}
}

// suitePublisher publishes messages by appending each as an event of a stream of its own.
type suitePublisher struct{ store *postgres.EventStore }

func (p suitePublisher) Publish(topic string, msgs ...*message.Message) error {
	appends := make([]postgres.StreamAppend, len(msgs))
	for i, m := range msgs {
		e, err := messageEvent(m)
		if err != nil {
			return err
		}
		cause := es.Causation{CorrelationID: m.Metadata.Get(suiteCorrelation), Actor: es.System}
		appends[i] = postgres.StreamAppend{Stream: topic + "/" + m.UUID, Expected: postgres.NoStream, Cause: &cause,
			Events: []postgres.NewEvent{e}}
	}
	_, err := p.store.AppendMany(context.Background(), appends...)
	return err
}

func (suitePublisher) Close() error { return nil }

// messageEvent is the event a suite message is published as: its uuid is the event id, and a
// payload that is not JSON is stored as a JSON string.
func messageEvent(m *message.Message) (postgres.NewEvent, error) {
	id, err := uuid.Parse(m.UUID)
	if err != nil {
		return postgres.NewEvent{}, fmt.Errorf("message %q: %w", m.UUID, err)
	}
	data := []byte(m.Payload)
	if !json.Valid(data) {
		if data, err = json.Marshal(string(m.Payload)); err != nil {
			return postgres.NewEvent{}, err
		}
	}
	return postgres.NewEvent{ID: id, Type: "suite.message.v1", Data: data}, nil
}

// offsetsTableFirst creates a topic's offsets table before subscribing, as the migrations do for the
// service's topics.
type offsetsTableFirst struct {
	message.Subscriber
	pool *pgxpool.Pool
}

func (s offsetsTableFirst) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := s.SubscribeInitialize(topic); err != nil {
		return nil, err
	}
	return s.Subscriber.Subscribe(ctx, topic)
}

func (s offsetsTableFirst) SubscribeInitialize(topic string) error {
	qs, err := wsql.DefaultPostgreSQLOffsetsAdapter{}.SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams{Topic: topic})
	if err != nil {
		return err
	}
	// CREATE TABLE IF NOT EXISTS fails when two sessions create the same table at once: take a lock.
	tx, err := s.pool.Begin(context.Background())
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `SELECT pg_advisory_xact_lock(hashtext($1))`, topic); err != nil {
		return err
	}
	for _, q := range qs {
		if _, err := tx.Exec(context.Background(), q.Query, q.Args...); err != nil {
			return fmt.Errorf("offsets table of %s: %w", topic, err)
		}
	}
	return tx.Commit(context.Background())
}

// funcName is the name of a function of the suite, for its subtest.
func funcName(fn any) string {
	full := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}

// The same suite against the delivery queue's subscriber, with a publisher that does what a
// notification request does: it appends the message as the first event of a stream of its own
// (the message's uuid is the event id) and queues the stream on the topic, in one transaction.
//
// Each message has an order of its own, so the queue hands them out concurrently, in no guaranteed
// order, at least once (a lease that runs out hands a message out again): the features are
// persistence alone. Left out, besides what the events suite leaves out: TestNoAck,
// TestPublishSubscribeInOrder and TestConsumerGroups, which need order or consumer groups (the
// queue keeps the order of one order's messages only, and a topic is one queue).
func TestDeliveryQueuePassesWatermillsPubSubSuite(t *testing.T) {
	t.Parallel()
	long := os.Getenv("PUBSUB_SUITE_LONG") != "" // as for the events suite
	conns := int32(30)
	if long {
		conns = 70
	}
	suite := newEventsSuite(t, conns)
	features := tests.Features{Persistent: true, ForceShort: !long}
	for _, fn := range []func(*testing.T, tests.TestContext, tests.PubSubConstructor){
		tests.TestConcurrentSubscribe,
		tests.TestResendOnError,
		tests.TestContinueAfterSubscribeClose,
		tests.TestConcurrentClose,
		tests.TestContinueAfterErrors,
		tests.TestPublisherClose,
		tests.TestTopic,
		tests.TestMessageCtx,
		tests.TestSubscribeCtx,
	} {
		t.Run(strings.TrimPrefix(funcName(fn), "Test"), func(t *testing.T) {
			t.Parallel()
			fn(t, tests.TestContext{TestID: tests.NewTestID(), Features: features}, suite.queuePubSub)
		})
	}
}

func (s eventsSuite) queuePubSub(t *testing.T) (message.Publisher, message.Subscriber) {
	return queuePublisher{store: s.store, pool: s.db.Pool}, postgres.NewQueueSubscriber(s.db.Pool, postgres.QueueConfig{
		Waker: s.waker,
		// The suite nacks messages and waits 15 s for them to come again.
		RetryAfter: 10 * time.Millisecond,
		// The suite expects an unacked message's context to end within 15 s of Close.
		Drain: 5 * time.Second,
	}, watermill.NopLogger{})
}

// queuePublisher queues each message as a notification request is queued.
type queuePublisher struct {
	store *postgres.EventStore
	pool  *pgxpool.Pool
}

func (p queuePublisher) Publish(topic string, msgs ...*message.Message) error {
	ctx := context.Background()
	appends := make([]postgres.StreamAppend, len(msgs))
	streams, orders := make([]string, len(msgs)), make([]string, len(msgs))
	for i, m := range msgs {
		e, err := messageEvent(m)
		if err != nil {
			return err
		}
		// No "/" in the stream: the store publishes it on no topic of the events suite.
		streams[i], orders[i] = "queued-"+m.UUID, uuid.NewString()
		appends[i] = postgres.StreamAppend{Stream: streams[i], Expected: postgres.NoStream, Events: []postgres.NewEvent{e}}
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := p.store.AppendMany(postgres.WithTx(ctx, tx), appends...); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO notification_queue (stream_id, topic, order_id)
		SELECT s, $2, o FROM unnest($1::text[], $3::uuid[]) AS q(s, o)`, streams, topic, orders); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, postgres.QueueChannel, topic); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (queuePublisher) Close() error { return nil }
