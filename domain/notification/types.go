// Package notification is the Notification aggregate: one per (order event, channel), event-sourced,
// with the rules that make each one sent at most once. This file holds the vocabulary shared with the
// adapters that render and send messages.
package notification

import (
	"encoding/json"
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

// MessageData is everything a message template may say. Amounts come pre-formatted: Total and the
// line amounts with the rupee sign the Indian way (₹1,29,900.00) for e-mail; the *Digits forms
// without it (1,29,900.00) for SMS, which write "Rs" because ₹ is not GSM-7.
//
// It is stored inside every NotificationRequested, so its JSON names are a stored schema: they are
// spelt out here, and a Go field may be renamed only if its tag keeps the old name. An empty field is
// left out: a request stores only what its channel's message says (Kind.Keep).
type MessageData struct {
	ShopName      string        `json:"shop_name,omitempty"`
	SupportEmail  string        `json:"support_email,omitempty"`
	CustomerName  string        `json:"customer_name,omitempty"`
	OrderNumber   string        `json:"order_number,omitempty"`
	Items         []MessageItem `json:"items,omitempty"`
	Total         string        `json:"total,omitempty"`
	TotalDigits   string        `json:"total_digits,omitempty"`
	PaymentID     string        `json:"payment_id,omitempty"`
	PaymentMethod string        `json:"payment_method,omitempty"`
	Carrier       string        `json:"carrier,omitempty"`
	TrackingID    string        `json:"tracking_id,omitempty"`
	// TrackingURL is the carrier's public page for the parcel, when the service knows it.
	TrackingURL  string `json:"tracking_url,omitempty"`
	RefundAmount string `json:"refund_amount,omitempty"`
	RefundDigits string `json:"refund_digits,omitempty"`
	// RefundExpectation says when the money should reach the customer, e.g. "5–7 working days"
	// (REFUND_EXPECTATION).
	RefundExpectation string `json:"refund_expectation,omitempty"`
	// CancelReason is why the order was cancelled, as the cancellation gave it.
	CancelReason string `json:"cancel_reason,omitempty"`
	// RefundARN is the bank's reference for a processed refund, when the gateway gave one: the
	// customer quotes it to their bank.
	RefundARN string `json:"refund_arn,omitempty"`
	// RefundedPayment and RefundCause are set when the refund is of a payment the order could not
	// take (order.UnexpectedPaymentReceived): its id and why (order.CauseOrderCancelled,
	// CauseAlreadyPaid, CauseWrongAmount), so the message does not read as the order's refund.
	RefundedPayment string `json:"refunded_payment,omitempty"`
	RefundCause     string `json:"refund_cause,omitempty"`

	// The links (see Links) are made as the message is sent and never stored: their tokens open the
	// order, so they must not sit in the event store or the queue.
	OrderURL     string `json:"-"`
	ReviewURL    string `json:"-"`
	SMSOrderURL  string `json:"-"`
	SMSReviewURL string `json:"-"`
}

// Links are the links a message about an order may carry, made when it is sent with a fresh token.
// An empty one is a link the settings leave out: ReviewURL without REVIEW_URL, the SMS links without
// SMS_LINK_BASE_URL (SMS may only link to the domain registered for them).
type Links struct {
	// OrderURL opens the order: this service's order page, or the storefront's.
	OrderURL string
	// ReviewURL is where a customer reviews the order.
	ReviewURL string
	// SMSOrderURL and SMSReviewURL are short links on the SMS link domain to the two above.
	SMSOrderURL  string
	SMSReviewURL string
}

// WithLinks returns d carrying l.
func (d MessageData) WithLinks(l Links) MessageData {
	d.OrderURL, d.ReviewURL, d.SMSOrderURL, d.SMSReviewURL = l.OrderURL, l.ReviewURL, l.SMSOrderURL, l.SMSReviewURL
	return d
}

// MessageItem is one order line in a message.
type MessageItem struct {
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice string `json:"unit_price"`
	LineTotal string `json:"line_total"`
}

// UnmarshalJSON reads the stored schema, and also the data stored before it had JSON names, under
// the Go field names of the time: encoding/json matches those only where they differ from the new
// name by case alone ("Total" and "total"), so the others are read here. Links stored then
// (OrderURL, ReviewURL) are not read: they led to pages this service never served, and a message
// sent now gets fresh ones.
func (d *MessageData) UnmarshalJSON(b []byte) error {
	type current MessageData // the same fields and tags, without this method
	var v struct {
		current
		OldShopName          string `json:"ShopName"`
		OldSupportEmail      string `json:"SupportEmail"`
		OldCustomerName      string `json:"CustomerName"`
		OldOrderNumber       string `json:"OrderNumber"`
		OldTotalDigits       string `json:"TotalDigits"`
		OldPaymentID         string `json:"PaymentID"`
		OldPaymentMethod     string `json:"PaymentMethod"`
		OldTrackingID        string `json:"TrackingID"`
		OldRefundAmount      string `json:"RefundAmount"`
		OldRefundDigits      string `json:"RefundDigits"`
		OldRefundExpectation string `json:"RefundExpectation"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode message data: %w", err)
	}
	*d = MessageData(v.current)
	for _, f := range []struct {
		to  *string
		old string
	}{
		{&d.ShopName, v.OldShopName}, {&d.SupportEmail, v.OldSupportEmail}, {&d.CustomerName, v.OldCustomerName},
		{&d.OrderNumber, v.OldOrderNumber}, {&d.TotalDigits, v.OldTotalDigits}, {&d.PaymentID, v.OldPaymentID},
		{&d.PaymentMethod, v.OldPaymentMethod}, {&d.TrackingID, v.OldTrackingID}, {&d.RefundAmount, v.OldRefundAmount},
		{&d.RefundDigits, v.OldRefundDigits}, {&d.RefundExpectation, v.OldRefundExpectation},
	} {
		if *f.to == "" {
			*f.to = f.old
		}
	}
	return nil
}

// UnmarshalJSON reads the stored schema and the old Go field names, as MessageData does.
func (it *MessageItem) UnmarshalJSON(b []byte) error {
	type current MessageItem
	var v struct {
		current
		OldUnitPrice string `json:"UnitPrice"`
		OldLineTotal string `json:"LineTotal"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode message item: %w", err)
	}
	*it = MessageItem(v.current)
	if it.UnitPrice == "" {
		it.UnitPrice = v.OldUnitPrice
	}
	if it.LineTotal == "" {
		it.LineTotal = v.OldLineTotal
	}
	return nil
}
