package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// RequestNotifications is an order event that may call for telling the customer.
type RequestNotifications struct {
	OrderID        uuid.UUID
	OrderEventID   uuid.UUID
	OrderEventType string
	// OrderVersion is the event's version in the order's stream: the order to describe has at least
	// as many events.
	OrderVersion int
	Event        order.Event
}

// StoredRequest is the request of a stored order event, as the request handlers receive it: for
// asking again for the notifications of an event they gave up on (certibuy poison).
func StoredRequest(eventID uuid.UUID, stream string, version int, storedType string, data []byte) (RequestNotifications, error) {
	orderID, err := order.IDFromStream(stream)
	if err != nil {
		return RequestNotifications{}, fmt.Errorf("event %s: %w", eventID, err)
	}
	current, data, err := order.Upcast(storedType, data)
	if err != nil {
		return RequestNotifications{}, fmt.Errorf("event %s: %w", eventID, err)
	}
	e, err := order.DecodeEvent(current, data)
	if err != nil {
		return RequestNotifications{}, fmt.Errorf("event %s: %w", eventID, err)
	}
	return RequestNotifications{OrderID: orderID, OrderEventID: eventID, OrderEventType: storedType, OrderVersion: version, Event: e}, nil
}

// ShopInfo is what every message says about the shop.
type ShopInfo struct {
	Name         string
	SupportEmail string
	// RefundExpectation says when a refund reaches the customer (REFUND_EXPECTATION).
	RefundExpectation string
}

// RequestWriter is what the request handler reads and writes through. The request subscriber is
// given the same one (postgres.RequestBatches), which reads the orders of a whole batch of messages at
// once and writes their notifications as the batch commits.
type RequestWriter interface {
	// GetOrder returns an order with at least atLeast events (0: as stored now), or an
	// order.NotFoundError.
	GetOrder(ctx context.Context, id uuid.UUID, atLeast int) (*order.Order, error)
	// CreateNotifications stores new notifications and queues them, as NotificationStore.Create.
	CreateNotifications(ctx context.Context, ns ...NewNotification) (int, error)
}

// RequestNotificationsHandler opens the e-mail and SMS notifications of an order event and queues
// them. It only writes to the database, quickly: the sending happens in the delivery workers.
type RequestNotificationsHandler struct {
	w    RequestWriter
	shop ShopInfo
}

// NewRequestNotificationsHandler wires the handler.
func NewRequestNotificationsHandler(w RequestWriter, shop ShopInfo) RequestNotificationsHandler {
	return RequestNotificationsHandler{w: w, shop: shop}
}

// Handle requests one notification per channel for the events the notification catalogue names,
// and nothing for the others. A redelivered event finds its notifications there and requests nothing
// again. It reads the order, then writes once: the store creates both channels or neither, and a
// failure leaves the delivering transaction usable for the retry.
func (h RequestNotificationsHandler) Handle(ctx context.Context, cmd RequestNotifications) error {
	kind, ok := notification.KindFor(cmd.OrderEventType)
	if !ok {
		return nil
	}
	o, err := h.w.GetOrder(ctx, cmd.OrderID, cmd.OrderVersion)
	if err != nil {
		return fmt.Errorf("request notifications for %s: %w", cmd.OrderEventID, err)
	}
	data := h.messageData(o, cmd.Event)
	var all []NewNotification
	for _, ch := range notification.Channels() {
		recipient := o.Customer().Email.String()
		if ch == notification.SMS {
			recipient = o.Customer().Phone.String()
		}
		req := notification.Requested{OrderID: o.ID(), OrderNumber: o.Number().String(), OrderEventID: cmd.OrderEventID,
			OrderEventType: order.CurrentType(cmd.OrderEventType), Type: kind.Type, Channel: ch, Recipient: recipient, Data: kind.Keep(ch, data)}
		n, err := notification.Request(req)
		if err != nil {
			return err
		}
		stream := notification.StreamID(cmd.OrderEventID, ch)
		d := DeliveryOf(req, 1)
		all = append(all, NewNotification{Stream: stream, Notification: n, Delivery: d})
	}
	_, err = h.w.CreateNotifications(ctx, all...)
	return err
}

// DeliveryOf is the queued message of a notification: where it belongs and the version its stream
// has as it is queued.
func DeliveryOf(req notification.Requested, version int) Delivery {
	return Delivery{Topic: TopicFor(req.Channel), OrderID: req.OrderID, Version: version}
}

// messageData gathers all the templates may say: the order as it stands, and the details of the
// event being told about. The catalogue's row then keeps what its type says. Links are left to the
// delivery: their tokens must not be stored.
func (h RequestNotificationsHandler) messageData(o *order.Order, e order.Event) notification.MessageData {
	d := notification.MessageData{
		ShopName:          h.shop.Name,
		SupportEmail:      h.shop.SupportEmail,
		CustomerName:      o.Customer().Name,
		OrderNumber:       o.Number().String(),
		Total:             o.Total().String(),
		TotalDigits:       o.Total().Digits(),
		RefundExpectation: h.shop.RefundExpectation,
	}
	for _, l := range o.Lines() {
		lt, _ := l.Total() // checked when the order was placed
		d.Items = append(d.Items, notification.MessageItem{Name: l.Name, Quantity: l.Quantity, UnitPrice: l.UnitPrice.String(), LineTotal: lt.String()})
	}
	if p := o.Payment(); p.PaymentID != "" {
		d.PaymentID, d.PaymentMethod = p.PaymentID, p.Method
	}
	if s := o.Shipment(); s.TrackingID != "" {
		d.Carrier, d.TrackingID, d.TrackingURL = carrierName(s.Carrier), s.TrackingID, s.TrackingURL
	}
	switch ev := e.(type) {
	case order.PaymentSucceeded:
		d.PaymentID, d.PaymentMethod = ev.PaymentID, ev.Method
	case order.OrderShipped:
		d.Carrier, d.TrackingID, d.TrackingURL = carrierName(ev.Carrier), ev.TrackingID, ev.TrackingURL
	case order.OrderCancelled:
		d.CancelReason = ev.Reason
		// A paid order is refunded in full as it is cancelled (RefundOrder); an unpaid one is
		// promised nothing.
		if p := o.Payment(); p.PaymentID != "" {
			d.RefundAmount, d.RefundDigits = p.Amount.String(), p.Amount.Digits()
		}
	case order.RefundProcessed:
		m, _ := order.NewMoney(ev.AmountPaise)
		d.RefundAmount, d.RefundDigits, d.RefundARN = m.String(), m.Digits(), ev.ARN
	case order.UnexpectedRefundProcessed:
		m, _ := order.NewMoney(ev.AmountPaise)
		d.RefundAmount, d.RefundDigits, d.RefundARN = m.String(), m.Digits(), ev.ARN
		d.RefundedPayment = ev.PaymentID
		for _, u := range o.UnexpectedPayments() {
			if u.PaymentID == ev.PaymentID {
				d.RefundCause = u.Cause
				// A payment in another currency (CauseWrongAmount) goes back in it. The SMS
				// template says Rs and is DLT-registered, so only the e-mail can say so.
				d.RefundAmount = order.FormatAmount(m, u.Currency)
			}
		}
	}
	return d
}

// carrierName is the carrier as a message names it: none for "other" (the console's choice for a
// courier outside the table), which would read "travelling with other"; the messages then speak of
// the courier.
func carrierName(c string) string {
	if strings.EqualFold(c, order.OtherCarrier) {
		return ""
	}
	return c
}
