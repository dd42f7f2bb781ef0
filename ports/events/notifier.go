package events

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// Handler groups of the notifier. Each has its own consumer group (or queue topic), so e-mail, SMS
// and the projections never wait on one another.
const (
	NotificationRequestsGroup = "notification_requests"
	EmailDeliveryGroup        = "email_delivery"
	SMSDeliveryGroup          = "sms_delivery"
	NotificationsPoisonTopic  = "notifications_poison"
)

// RequestGroup names the consumer group of one partition of the request handlers.
func RequestGroup(partition int) string {
	return fmt.Sprintf("%s_p%d", NotificationRequestsGroup, partition)
}

// RequestPartitionOf returns the partition a request group reads, from its name (with or without a
// prefix).
func RequestPartitionOf(group string) (int, bool) {
	i := strings.LastIndex(group, NotificationRequestsGroup+"_p")
	if i < 0 {
		return 0, false
	}
	p, err := strconv.Atoi(group[i+len(NotificationRequestsGroup)+2:])
	return p, err == nil
}

// RequestHandlers open the notifications of the order events the notification catalogue names: one
// handler per event, RequestNotificationsOn<Event>. One watermill-sql subscription hands out one
// message at a time, so the work is split by order across consumer groups, each reading its own
// partition of the topic (the subscriber's select picks its orders' events; see postgres.Partition).
// They only write to the database; sending is the delivery groups' work.
func RequestHandlers(h command.RequestNotificationsHandler) []cqrs.GroupEventHandler {
	var out []cqrs.GroupEventHandler
	for _, k := range notification.Catalogue() {
		for _, eventType := range k.On {
			out = append(out, RequestNotificationsOn(eventType, h))
		}
	}
	return out
}

// RequestNotificationsOn builds the handler that requests the notifications of the order event of
// the given stored type.
func RequestNotificationsOn(eventType string, h command.RequestNotificationsHandler) RequestHandler {
	return RequestHandler{eventType: eventType, h: h}
}

// RequestHandler is RequestNotificationsOn<Event>: it hands the order events of one type to the
// request use case.
type RequestHandler struct {
	eventType string
	h         command.RequestNotificationsHandler
}

var _ cqrs.GroupEventHandler = RequestHandler{}

// Name is RequestNotificationsOn followed by the event's Go type, e.g. RequestNotificationsOnOrderShipped.
func (r RequestHandler) Name() string {
	name := r.eventType
	if e, err := order.DecodeEvent(r.eventType, []byte("{}")); err == nil {
		name = reflect.TypeOf(e).Name()
	}
	return "RequestNotificationsOn" + name
}

// NewEvent returns what the event is decoded into; the marshaler routes by its EventType.
func (r RequestHandler) NewEvent() any { return &triggeringEvent{eventType: r.eventType} }

// Handle requests the event's notifications.
func (r RequestHandler) Handle(ctx context.Context, v any) error {
	e, ok := v.(*triggeringEvent)
	if !ok {
		return fmt.Errorf("%s: unexpected %T", r.Name(), v)
	}
	msg := cqrs.OriginalMessageFromCtx(ctx)
	eventID, err := uuid.Parse(msg.UUID)
	if err != nil {
		return fmt.Errorf("%s: message %q is not an event id: %w", r.Name(), msg.UUID, err)
	}
	orderID, err := order.IDFromStream(msg.Metadata.Get(es.MsgStream))
	if err != nil {
		return fmt.Errorf("%s: %w", r.Name(), err)
	}
	// Without a version (not one of the store's messages), the order is read as it is stored now.
	version, _ := strconv.Atoi(msg.Metadata.Get(es.MsgStreamVersion))
	return r.h.Handle(ctx, command.RequestNotifications{OrderID: orderID, OrderEventID: eventID,
		OrderEventType: msg.Metadata.Get(es.MsgType), OrderVersion: version, Event: e.event})
}

// RequestLoadsOrder reports whether the request handlers load the order of an order event of this
// stored type: for those the catalogue answers. A request batch reads their orders in advance
// (postgres.RequestBatches).
func RequestLoadsOrder(eventType string) bool {
	_, ok := notification.KindFor(eventType)
	return ok
}

// triggeringEvent is an order event of a type known by name only: it decodes as order.DecodeEvent
// does (the marshaler has upcast an older version already).
type triggeringEvent struct {
	eventType string
	event     order.Event
}

func (t *triggeringEvent) EventType() string { return t.eventType }

func (t *triggeringEvent) UnmarshalJSON(b []byte) error {
	e, err := order.DecodeEvent(t.eventType, b)
	if err != nil {
		return err
	}
	t.event = e
	return nil
}

// SendEmailOnNotificationRequested sends the queued e-mail notifications (group email_delivery).
func SendEmailOnNotificationRequested(h command.DeliverNotificationHandler) cqrs.GroupEventHandler {
	return deliverOn(h)
}

// SendSMSOnNotificationRequested sends the queued SMS notifications (group sms_delivery).
func SendSMSOnNotificationRequested(h command.DeliverNotificationHandler) cqrs.GroupEventHandler {
	return deliverOn(h)
}

// deliverOn hands a queued notification to the delivery use case; the channel is the notification's.
// The first call for a message passes on the request it carries; a retry of the same message (the
// first attempt may have recorded something) does not.
func deliverOn(h command.DeliverNotificationHandler) cqrs.GroupEventHandler {
	return cqrs.NewGroupEventHandler(func(ctx context.Context, req *notification.Requested) error {
		msg := cqrs.OriginalMessageFromCtx(ctx)
		delivery, _ := strconv.Atoi(msg.Metadata.Get(DeliveriesKey))
		cmd := command.DeliverNotification{Stream: msg.Metadata.Get(es.MsgStream), Delivery: delivery}
		if msg.Metadata.Get(handledKey) == "" {
			msg.Metadata.Set(handledKey, "1")
			cmd.Queued = req
			cmd.QueuedVersion, _ = strconv.Atoi(msg.Metadata.Get(es.MsgStreamVersion))
		}
		return h.Handle(ctx, cmd)
	})
}

// Metadata keys of the delivery queue: the delay it reads on a nack, and how many times it has
// handed the message out.
const (
	RequeueAfterKey = "requeue_after"
	DeliveriesKey   = "deliveries"
	// handledKey marks a message a handler has already been called with.
	handledKey = "handled"
)

// Requeue handles a RetryLaterError: a short wait is waited here and the handler called again; a
// longer one is handed back to the queue as the message's delay (nack), so that no worker slot
// sleeps through an outage.
func Requeue(inlineLimit time.Duration) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			ctx := msg.Context()
			for {
				out, err := h(msg)
				var later *command.RetryLaterError
				if !errors.As(err, &later) {
					return out, err
				}
				if later.After > inlineLimit {
					msg.Metadata.Set(RequeueAfterKey, later.After.String())
					return out, err
				}
				msg.SetContext(ctx)
				select {
				case <-ctx.Done():
					return out, err
				case <-time.After(later.After):
				}
			}
		}
	}
}

// IsRetryLater reports whether err asks for a later delivery rather than the poison queue.
func IsRetryLater(err error) bool {
	var later *command.RetryLaterError
	return errors.As(err, &later)
}

// ShouldRetryDelivery picks the delivery errors worth Watermill's quick in-handler retry: not a
// RetryLaterError (its wait is the requeue's business) and not a notification that failed for good.
func ShouldRetryDelivery(err error) bool {
	return !IsRetryLater(err) && !errors.Is(err, command.ErrNotificationFailed)
}
