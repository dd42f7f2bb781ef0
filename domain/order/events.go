package order

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Event is a fact recorded on an order's stream. Its JSON form is the stored payload.
type Event interface {
	// EventType is the stable, versioned name stored with the event, such as "order.shipped.v1".
	EventType() string
}

// Stored event type names. They never change once written; a new payload shape gets a new version.
const (
	TypeOrderPlaced         = "order.placed.v1"
	TypePaymentRequested    = "order.payment_requested.v1"
	TypePaymentSucceeded    = "order.payment_succeeded.v1"
	TypePaymentFailed       = "order.payment_failed.v1"
	TypeOrderConfirmed      = "order.confirmed.v1"
	TypeOrderShipped        = "order.shipped.v2"
	TypeOrderOutForDelivery = "order.out_for_delivery.v1"
	TypeOrderDelivered      = "order.delivered.v1"
	TypeOrderCancelled      = "order.cancelled.v1"
	TypeRefundInitiated     = "order.refund_initiated.v1"
	TypeRefundProcessed     = "order.refund_processed.v1"
	TypeRefundFailed        = "order.refund_failed.v1"

	// Money the order cannot take (it was cancelled, another payment paid it, or the amount was not
	// the order's) and its refund.
	TypeUnexpectedPaymentReceived = "order.unexpected_payment_received.v1"
	TypeUnexpectedRefundInitiated = "order.unexpected_payment_refund_initiated.v1"
	TypeUnexpectedRefundProcessed = "order.unexpected_payment_refunded.v1"
	TypeUnexpectedRefundFailed    = "order.unexpected_payment_refund_failed.v1"
)

// CustomerData is the customer as recorded on OrderPlaced.
type CustomerData struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// ItemData is one order line as recorded on OrderPlaced.
type ItemData struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int64  `json:"quantity"`
	UnitPricePaise int64  `json:"unit_price_paise"`
}

// AddressData is a shipping address as recorded on OrderPlaced.
type AddressData struct {
	Name    string `json:"name,omitempty"`
	Line1   string `json:"line1"`
	Line2   string `json:"line2,omitempty"`
	City    string `json:"city"`
	State   string `json:"state"`
	Pincode string `json:"pincode"`
}

// OrderPlaced starts an order's stream.
type OrderPlaced struct {
	OrderID         uuid.UUID    `json:"order_id"`
	OrderNumber     string       `json:"order_number"`
	Customer        CustomerData `json:"customer"`
	Items           []ItemData   `json:"items"`
	TotalPaise      int64        `json:"total_paise"`
	Currency        string       `json:"currency"`
	ShippingAddress AddressData  `json:"shipping_address"`
}

// PaymentRequested records the gateway order the customer is asked to pay.
type PaymentRequested struct {
	Gateway        string `json:"gateway"`
	GatewayOrderID string `json:"gateway_order_id"`
	AmountPaise    int64  `json:"amount_paise"`
}

// PaymentSucceeded records a captured payment.
type PaymentSucceeded struct {
	Gateway        string `json:"gateway"`
	GatewayOrderID string `json:"gateway_order_id"`
	PaymentID      string `json:"payment_id"`
	AmountPaise    int64  `json:"amount_paise"`
	Method         string `json:"method"`
	// Currency is the payment's, as the gateway reported it. Added without a new version: events
	// stored before it have none, and were all INR (Currency).
	Currency string `json:"currency,omitempty"`
}

// PaymentFailed records a failed payment attempt; the order stays placed and may be paid again.
type PaymentFailed struct {
	GatewayOrderID string `json:"gateway_order_id"`
	PaymentID      string `json:"payment_id,omitempty"`
	Code           string `json:"code"`
	Reason         string `json:"reason"`
}

// OrderConfirmed records that the shop accepted a paid order.
type OrderConfirmed struct{}

// OrderShipped records the hand-over to a carrier. Version 2 added TrackingURL; version 1 payloads
// are upcast on read (see Upcast).
type OrderShipped struct {
	Carrier     string `json:"carrier"`
	TrackingID  string `json:"tracking_id"`
	TrackingURL string `json:"tracking_url,omitempty"`
}

// OrderOutForDelivery records that the parcel is on its last leg.
type OrderOutForDelivery struct{}

// OrderDelivered records delivery.
type OrderDelivered struct{}

// OrderCancelled records a cancellation.
type OrderCancelled struct {
	Reason string `json:"reason"`
}

// RefundInitiated records a refund asked of the gateway.
type RefundInitiated struct {
	RefundID    string `json:"refund_id"`
	AmountPaise int64  `json:"amount_paise"`
}

// RefundProcessed records the gateway's final word that the money went back.
type RefundProcessed struct {
	RefundID    string `json:"refund_id"`
	AmountPaise int64  `json:"amount_paise"`
	ARN         string `json:"arn,omitempty"`
}

// RefundFailed records a refund the gateway could not make; the order can be refunded again. RefundID
// is empty when the gateway refused the request itself, so that no refund was made.
type RefundFailed struct {
	RefundID string `json:"refund_id"`
	Reason   string `json:"reason"`
}

// UnexpectedPaymentReceived records a payment the gateway captured that the order cannot take: the
// order was cancelled meanwhile, another payment paid it already, or it was not of the order's
// amount and currency. The money is the customer's; it is refunded at once. The order's status does
// not change.
type UnexpectedPaymentReceived struct {
	Gateway        string `json:"gateway"`
	GatewayOrderID string `json:"gateway_order_id"`
	PaymentID      string `json:"payment_id"`
	// AmountPaise is in the smallest unit of Currency (paise for INR), as the gateway reported it.
	AmountPaise int64  `json:"amount_paise"`
	Method      string `json:"method,omitempty"`
	// Currency is the payment's. Added without a new version: events stored before it have none,
	// and were all INR (Currency).
	Currency string `json:"currency,omitempty"`
	// Cause is why the order could not take it (CauseOrderCancelled, CauseAlreadyPaid or
	// CauseWrongAmount), and Reason says it in words for people reading the history.
	Cause  string `json:"cause"`
	Reason string `json:"reason"`
}

// Causes of UnexpectedPaymentReceived.
const (
	CauseOrderCancelled = "order_cancelled"
	CauseAlreadyPaid    = "already_paid"
	// CauseWrongAmount is a payment on a placed, unpaid order of another amount than its total, or
	// in another currency.
	CauseWrongAmount = "wrong_amount"
)

// UnexpectedRefundInitiated records the refund of an unexpected payment asked of the gateway.
type UnexpectedRefundInitiated struct {
	PaymentID   string `json:"payment_id"`
	RefundID    string `json:"refund_id"`
	AmountPaise int64  `json:"amount_paise"`
}

// UnexpectedRefundProcessed records the gateway's final word that an unexpected payment went back.
type UnexpectedRefundProcessed struct {
	PaymentID   string `json:"payment_id"`
	RefundID    string `json:"refund_id"`
	AmountPaise int64  `json:"amount_paise"`
	ARN         string `json:"arn,omitempty"`
}

// UnexpectedRefundFailed records a refund of an unexpected payment the gateway could not make; it is
// asked again. RefundID is empty when the gateway refused the request itself.
type UnexpectedRefundFailed struct {
	PaymentID string `json:"payment_id"`
	RefundID  string `json:"refund_id"`
	Reason    string `json:"reason"`
}

func (OrderPlaced) EventType() string         { return TypeOrderPlaced }
func (PaymentRequested) EventType() string    { return TypePaymentRequested }
func (PaymentSucceeded) EventType() string    { return TypePaymentSucceeded }
func (PaymentFailed) EventType() string       { return TypePaymentFailed }
func (OrderConfirmed) EventType() string      { return TypeOrderConfirmed }
func (OrderShipped) EventType() string        { return TypeOrderShipped }
func (OrderOutForDelivery) EventType() string { return TypeOrderOutForDelivery }
func (OrderDelivered) EventType() string      { return TypeOrderDelivered }
func (OrderCancelled) EventType() string      { return TypeOrderCancelled }
func (RefundInitiated) EventType() string     { return TypeRefundInitiated }
func (RefundProcessed) EventType() string     { return TypeRefundProcessed }
func (RefundFailed) EventType() string        { return TypeRefundFailed }
func (UnexpectedPaymentReceived) EventType() string {
	return TypeUnexpectedPaymentReceived
}
func (UnexpectedRefundInitiated) EventType() string { return TypeUnexpectedRefundInitiated }
func (UnexpectedRefundProcessed) EventType() string { return TypeUnexpectedRefundProcessed }
func (UnexpectedRefundFailed) EventType() string    { return TypeUnexpectedRefundFailed }

// DecodeEvent turns a stored payload back into its event, upcasting older versions first.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	eventType, data, err := Upcast(eventType, data)
	if err != nil {
		return nil, err
	}
	switch eventType {
	case TypeOrderPlaced:
		return decode[OrderPlaced](eventType, data)
	case TypePaymentRequested:
		return decode[PaymentRequested](eventType, data)
	case TypePaymentSucceeded:
		return decode[PaymentSucceeded](eventType, data)
	case TypePaymentFailed:
		return decode[PaymentFailed](eventType, data)
	case TypeOrderConfirmed:
		return decode[OrderConfirmed](eventType, data)
	case TypeOrderShipped:
		return decode[OrderShipped](eventType, data)
	case TypeOrderOutForDelivery:
		return decode[OrderOutForDelivery](eventType, data)
	case TypeOrderDelivered:
		return decode[OrderDelivered](eventType, data)
	case TypeOrderCancelled:
		return decode[OrderCancelled](eventType, data)
	case TypeRefundInitiated:
		return decode[RefundInitiated](eventType, data)
	case TypeRefundProcessed:
		return decode[RefundProcessed](eventType, data)
	case TypeRefundFailed:
		return decode[RefundFailed](eventType, data)
	case TypeUnexpectedPaymentReceived:
		return decode[UnexpectedPaymentReceived](eventType, data)
	case TypeUnexpectedRefundInitiated:
		return decode[UnexpectedRefundInitiated](eventType, data)
	case TypeUnexpectedRefundProcessed:
		return decode[UnexpectedRefundProcessed](eventType, data)
	case TypeUnexpectedRefundFailed:
		return decode[UnexpectedRefundFailed](eventType, data)
	}
	return nil, fmt.Errorf("decode order event: unknown type %q", eventType)
}

func decode[T Event](eventType string, data []byte) (Event, error) {
	var e T
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode order event %s: %w", eventType, err)
	}
	return e, nil
}

// StreamPrefix begins the id of every order's stream.
const StreamPrefix = "order-"

// StreamID is the event-store stream of an order.
func StreamID(id uuid.UUID) string { return StreamPrefix + id.String() }

// IDFromStream parses an order stream name back to the order id.
func IDFromStream(stream string) (uuid.UUID, error) {
	rest, ok := strings.CutPrefix(stream, StreamPrefix)
	if !ok {
		return uuid.Nil, fmt.Errorf("%q is not an order stream", stream)
	}
	return uuid.Parse(rest)
}
