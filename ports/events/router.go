// Package events is the message port: a Watermill router that feeds order events from the outbox to
// handler groups, each with its own consumer group, behind one middleware stack.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// Topics.
const (
	OrderEventsTopic = "order_events"
	PoisonTopic      = "order_events_poison"
)

// RetryConfig is the in-handler retry budget for short blips. Long outages are not waited out here:
// a handler holds its subscriber's transaction open while it retries.
type RetryConfig struct {
	MaxRetries          int
	InitialInterval     time.Duration
	MaxInterval         time.Duration
	Multiplier          float64
	RandomizationFactor float64
}

// DefaultRetry retries three times: after about 100 ms, 200 ms and 400 ms.
func DefaultRetry() RetryConfig {
	return RetryConfig{MaxRetries: 3, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2, RandomizationFactor: 0.2}
}

// Budget is the longest the retries can wait in total, given the per-attempt timeout.
func (r RetryConfig) Budget(attemptTimeout time.Duration) time.Duration {
	total := time.Duration(r.MaxRetries+1) * attemptTimeout
	d := r.InitialInterval
	for i := 0; i < r.MaxRetries; i++ {
		total += time.Duration(float64(d) * (1 + r.RandomizationFactor))
		d = time.Duration(float64(d) * r.Multiplier)
		if r.MaxInterval > 0 && d > r.MaxInterval {
			d = r.MaxInterval
		}
	}
	return total
}

// SubscriberFactory returns a subscriber on topic for a consumer group.
type SubscriberFactory func(consumerGroup string) (message.Subscriber, error)

// Config sets up a Router.
type Config struct {
	// Topic is what every handler group subscribes to; order_events when empty.
	Topic string
	// GroupTopics overrides Topic for the groups it names.
	GroupTopics map[string]string
	// PoisonTopic receives messages that failed for good; order_events_poison when empty.
	PoisonTopic string
	// PoisonIf, when set, picks the errors that send a message to the poison topic; the others go
	// back to the subscriber (nack), which redelivers the message.
	PoisonIf func(error) bool
	// RetryIf, when set, picks the errors worth an in-handler retry.
	RetryIf func(error) bool
	// Outer middleware runs between the poison queue and the retry (e.g. a delayed requeue).
	Outer []message.HandlerMiddleware
	// Inner middleware runs closest to the handler, once per attempt (e.g. a savepoint).
	Inner []message.HandlerMiddleware
	Retry RetryConfig
	// HandlerTimeout bounds one attempt of a handler.
	HandlerTimeout time.Duration
	// Subscribers gives each handler group its consumer group's subscriber.
	Subscribers SubscriberFactory
	// Poison receives messages that failed every retry; it should write in the delivering transaction.
	Poison message.Publisher
	// ConsumerGroupPrefix keeps the groups of different deployments (or tests) apart; may be empty.
	ConsumerGroupPrefix string
	Logger              *slog.Logger
	// PoisonLogLevel is the level of the line logged for each message moved to the poison topic;
	// ERROR when nil. A router whose handlers log the failure themselves may lower it.
	PoisonLogLevel slog.Leveler
}

// Router runs handler groups over the order events.
type Router struct {
	router    *message.Router
	processor *cqrs.EventGroupProcessor
	logger    *slog.Logger
}

// NewRouter builds the router and its middleware stack. Outermost first: poison queue, retry,
// timeout, recoverer; correlation ids are carried into the handler's context and onto anything it
// publishes.
func NewRouter(cfg Config) (*Router, error) {
	if cfg.Subscribers == nil || cfg.Poison == nil || cfg.Logger == nil {
		return nil, errors.New("events router: Subscribers, Poison and Logger are required")
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = 30 * time.Second
	}
	if cfg.Retry.MaxInterval <= 0 {
		// Without MaxInterval, Watermill's Retry never grows its delay.
		return nil, errors.New("events router: Retry.MaxInterval must be set")
	}
	if cfg.Topic == "" {
		cfg.Topic = OrderEventsTopic
	}
	if cfg.PoisonTopic == "" {
		cfg.PoisonTopic = PoisonTopic
	}
	if cfg.PoisonIf == nil {
		cfg.PoisonIf = func(error) bool { return true }
	}
	wlog := Logger(cfg.Logger)
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("events router: %w", err)
	}
	if cfg.PoisonLogLevel == nil {
		cfg.PoisonLogLevel = slog.LevelError
	}
	poisonPub := poisonLogger{Publisher: cfg.Poison, logger: cfg.Logger, level: cfg.PoisonLogLevel}
	poison, err := middleware.PoisonQueueWithFilter(poisonPub, cfg.PoisonTopic, cfg.PoisonIf)
	if err != nil {
		return nil, fmt.Errorf("events router: poison queue: %w", err)
	}
	var shouldRetry func(middleware.RetryParams) bool
	if cfg.RetryIf != nil {
		shouldRetry = func(p middleware.RetryParams) bool { return cfg.RetryIf(p.Err) }
	}
	stack := []message.HandlerMiddleware{poison}
	stack = append(stack, cfg.Outer...)
	retry := middleware.Retry{
		MaxRetries:          cfg.Retry.MaxRetries,
		InitialInterval:     cfg.Retry.InitialInterval,
		MaxInterval:         cfg.Retry.MaxInterval,
		Multiplier:          cfg.Retry.Multiplier,
		RandomizationFactor: cfg.Retry.RandomizationFactor,
		// Each attempt gets the delivery's own context back; the timeout of the last attempt would
		// otherwise cancel every later one.
		ResetContextOnRetry: true,
		ShouldRetry:         shouldRetry,
	}
	stack = append(stack,
		retryNamingTheMessage(retry, wlog),
		middleware.Timeout(cfg.HandlerTimeout),
		middleware.Recoverer,
		middleware.CorrelationID,
		withCausation,
	)
	stack = append(stack, cfg.Inner...)
	r.AddMiddleware(stack...)
	processor, err := cqrs.NewEventGroupProcessorWithConfig(r, cqrs.EventGroupProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.EventGroupProcessorGenerateSubscribeTopicParams) (string, error) {
			if t, ok := cfg.GroupTopics[p.EventGroupName]; ok {
				return t, nil
			}
			return cfg.Topic, nil
		},
		SubscriberConstructor: func(p cqrs.EventGroupProcessorSubscriberConstructorParams) (message.Subscriber, error) {
			return cfg.Subscribers(cfg.ConsumerGroupPrefix + p.EventGroupName)
		},
		// A group that does not handle an event type acks it; otherwise it would come back forever.
		AckOnUnknownEvent: true,
		Marshaler:         Marshaler{},
		Logger:            wlog,
	})
	if err != nil {
		return nil, fmt.Errorf("events router: %w", err)
	}
	return &Router{router: r, processor: processor, logger: cfg.Logger}, nil
}

// AddGroup registers a handler group; it gets its own consumer group, so groups never wait on one another.
func (r *Router) AddGroup(name string, handlers ...cqrs.GroupEventHandler) error {
	if err := r.processor.AddHandlersGroup(name, handlers...); err != nil {
		return fmt.Errorf("add handler group %s: %w", name, err)
	}
	return nil
}

// Run runs the router until ctx ends or Close is called.
func (r *Router) Run(ctx context.Context) error { return r.router.Run(ctx) }

// Running is closed once every handler is running.
func (r *Router) Running() chan struct{} { return r.router.Running() }

// Close stops taking messages and waits for handlers in flight.
func (r *Router) Close() error { return r.router.Close() }

// retryNamingTheMessage is r whose "Error occurred, retrying" lines name the handler and the message
// (event type, id, stream): Watermill's Retry logs only the error. The fields are read only when a
// line is written.
func retryNamingTheMessage(r middleware.Retry, logger watermill.LoggerAdapter) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			r := r
			r.Logger = messageLogger{LoggerAdapter: logger, msg: msg}
			return r.Middleware(h)(msg)
		}
	}
}

// messageLogger adds the message's fields to the errors it logs.
type messageLogger struct {
	watermill.LoggerAdapter
	msg *message.Message
}

func (l messageLogger) Error(msg string, err error, fields watermill.LogFields) {
	l.LoggerAdapter.Error(msg, err, fields.Add(messageFields(l.msg)))
}

// messageFields name a message in the log: the handler that took it, its event's type, id and stream.
func messageFields(msg *message.Message) watermill.LogFields {
	return watermill.LogFields{
		"handler":    message.HandlerNameFromCtx(msg.Context()),
		"event_type": msg.Metadata.Get(es.MsgType),
		"event_id":   msg.UUID,
		"stream":     msg.Metadata.Get(es.MsgStream),
	}
}

// poisonLogger logs each message it has published to the poison topic: the handler gave up on it.
type poisonLogger struct {
	message.Publisher
	logger *slog.Logger
	level  slog.Leveler
}

func (p poisonLogger) Publish(topic string, msgs ...*message.Message) error {
	if err := p.Publisher.Publish(topic, msgs...); err != nil {
		return err
	}
	for _, msg := range msgs {
		p.logger.Log(msg.Context(), p.level.Level(), "gave up on a message: moved to the poison topic",
			"poison_topic", topic,
			"handler", msg.Metadata.Get(middleware.PoisonedHandlerKey),
			"event_type", msg.Metadata.Get(es.MsgType),
			"event_id", msg.UUID,
			"stream", msg.Metadata.Get(es.MsgStream),
			"error", msg.Metadata.Get(middleware.ReasonForPoisonedKey))
	}
	return nil
}

// withCausation puts the message's correlation id, and its id as the causation id, in the handler's
// context, so that events a handler appends are chained to the event that caused them.
func withCausation(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		msg.SetContext(es.WithCausation(msg.Context(), es.Causation{
			Actor:         es.System,
			CorrelationID: msg.Metadata.Get(es.MsgCorrelationID),
			CausationID:   msg.UUID,
		}))
		return h(msg)
	}
}

// Marshaler maps order events to and from outbox messages: the type is in the metadata, the payload
// is the event's JSON.
type Marshaler struct{}

// Marshal is used only by tests that publish events directly.
func (Marshaler) Marshal(v any) (*message.Message, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	msg := message.NewMessage(watermill.NewUUID(), payload)
	msg.Metadata.Set(es.MsgType, Marshaler{}.Name(v))
	return msg, nil
}

// Unmarshal decodes the payload into v, upcasting an older version of an order event first. A
// handler that reads the metadata only gets nothing decoded.
func (Marshaler) Unmarshal(msg *message.Message, v any) error {
	if _, ok := v.(interface{ skipsPayload() }); ok {
		return nil
	}
	_, data, err := order.Upcast(msg.Metadata.Get(es.MsgType), msg.Payload)
	if err != nil {
		return fmt.Errorf("unmarshal %s: %w", msg.UUID, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("unmarshal %s %s: %w", msg.Metadata.Get(es.MsgType), msg.UUID, err)
	}
	return nil
}

// Name is the stored type of an event value.
func (Marshaler) Name(v any) string {
	if e, ok := v.(interface{ EventType() string }); ok {
		return e.EventType()
	}
	return fmt.Sprintf("%T", v)
}

// NameFromMessage is the type a message's event is read as: an older version's name maps to the
// current one, so handlers written for the current shape receive old messages too.
func (Marshaler) NameFromMessage(msg *message.Message) string {
	return order.CurrentType(msg.Metadata.Get(es.MsgType))
}
