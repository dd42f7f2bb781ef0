package events

import (
	"context"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// EventLogGroup is the consumer group that logs every order event it receives.
const EventLogGroup = "event_log"

// EventLogHandlers log one line per order event: type, stream, version and event id.
// Payloads are not logged; they hold the customer's contact details.
func EventLogHandlers(logger *slog.Logger) []cqrs.GroupEventHandler {
	return []cqrs.GroupEventHandler{
		logEventOn[order.OrderPlaced](logger),
		logEventOn[order.PaymentRequested](logger),
		logEventOn[order.PaymentSucceeded](logger),
		logEventOn[order.PaymentFailed](logger),
		logEventOn[order.OrderConfirmed](logger),
		logEventOn[order.OrderShipped](logger),
		logEventOn[order.OrderOutForDelivery](logger),
		logEventOn[order.OrderDelivered](logger),
		logEventOn[order.OrderCancelled](logger),
		logEventOn[order.RefundInitiated](logger),
		logEventOn[order.RefundProcessed](logger),
		logEventOn[order.RefundFailed](logger),
	}
}

// metadataOnly is handled as an event of type T whose payload is never decoded: the log writes the
// message's metadata only. Decoding every event to drop it (an OrderPlaced with its items and
// address) cost a JSON decode per event, and a payload this binary cannot read would have failed the
// log line.
type metadataOnly[T order.Event] struct{}

// EventType is T's, so that the group routes T's messages here.
func (metadataOnly[T]) EventType() string {
	var e T
	return e.EventType()
}

func (metadataOnly[T]) skipsPayload() {}

func logEventOn[T order.Event](logger *slog.Logger) cqrs.GroupEventHandler {
	return cqrs.NewGroupEventHandler(func(ctx context.Context, _ *metadataOnly[T]) error {
		msg := cqrs.OriginalMessageFromCtx(ctx)
		logger.InfoContext(ctx, "order event received",
			"type", msg.Metadata.Get(es.MsgType),
			"stream", msg.Metadata.Get(es.MsgStream),
			"version", msg.Metadata.Get(es.MsgStreamVersion),
			"event_id", msg.UUID,
			"correlation_id", msg.Metadata.Get(es.MsgCorrelationID),
			"actor", msg.Metadata.Get(es.MsgActor))
		return nil
	})
}
