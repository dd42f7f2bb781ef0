// Package notification is the Notification aggregate: one per (order event, channel), event-sourced,
// with the rules that make each one sent at most once. This file holds the vocabulary shared with the
// adapters that render and send messages.
package notification

import (
	"fmt"

	"github.com/certibuy/orders/domain/order"
)

// Channel is how a customer is told.
type Channel string

// The channels.
const (
	Email Channel = "email"
	SMS   Channel = "sms"
)

// Channels lists every channel.
func Channels() []Channel { return []Channel{Email, SMS} }

// ParseChannel returns the channel named s.
func ParseChannel(s string) (Channel, error) {
	switch Channel(s) {
	case Email, SMS:
		return Channel(s), nil
	}
	return "", fmt.Errorf("%w: unknown channel %q (want email or sms)", order.ErrInvalidInput, s)
}

// Type is what a message is about; each has an e-mail and an SMS template.
type Type string

// The six notification types of DESIGN.md §2.
const (
	PaymentSuccessful Type = "payment_successful"
	OrderConfirmed    Type = "order_confirmed"
	OrderShipped      Type = "order_shipped"
	OutForDelivery    Type = "out_for_delivery"
	OrderDelivered    Type = "order_delivered"
	RefundProcessed   Type = "refund_processed"
)

// Types lists every notification type in lifecycle order.
func Types() []Type {
	return []Type{PaymentSuccessful, OrderConfirmed, OrderShipped, OutForDelivery, OrderDelivered, RefundProcessed}
}

// ParseType returns the type named s.
func ParseType(s string) (Type, error) {
	for _, t := range Types() {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: unknown notification type %q", order.ErrInvalidInput, s)
}

// TypeFor returns the notification an order event calls for, and false for events that notify nobody.
func TypeFor(orderEventType string) (Type, bool) {
	switch order.CurrentType(orderEventType) {
	case order.TypePaymentSucceeded:
		return PaymentSuccessful, true
	case order.TypeOrderConfirmed:
		return OrderConfirmed, true
	case order.TypeOrderShipped:
		return OrderShipped, true
	case order.TypeOrderOutForDelivery:
		return OutForDelivery, true
	case order.TypeOrderDelivered:
		return OrderDelivered, true
	case order.TypeRefundProcessed:
		return RefundProcessed, true
	}
	return "", false
}

// MessageData is everything a message template may say. Amounts come pre-formatted: Total and the
// line amounts with the rupee sign the Indian way (₹1,29,900.00) for e-mail; the *Digits forms
// without it (1,29,900.00) for SMS, which write "Rs" because ₹ is not GSM-7.
type MessageData struct {
	ShopName      string
	SupportEmail  string
	CustomerName  string
	OrderNumber   string
	OrderURL      string
	Items         []MessageItem
	Total         string
	TotalDigits   string
	PaymentID     string
	PaymentMethod string
	Carrier       string
	TrackingID    string
	ReviewURL     string
	RefundAmount  string
	RefundDigits  string
	// RefundExpectation says when the money should reach the customer, e.g. "5-7 working days".
	RefundExpectation string
}

// MessageItem is one order line in a message.
type MessageItem struct {
	Name      string
	Quantity  int64
	UnitPrice string
	LineTotal string
}
