// Package order is the Order aggregate: its lifecycle, its events and the value objects it is made of.
// Methods check a rule, then record an event; an illegal move returns an error and records nothing.
package order

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/printable"
)

// Limits on what one order may hold.
const (
	MaxLines        = 100
	MaxQuantity     = 1000
	MinTotalPaise   = 100 // Razorpay refuses orders under ₹1.
	maxText         = 200
	maxAddressField = 200
)

// MaxPaise bounds every amount: 2^53-1 is the largest whole number a JavaScript client reads exactly
// from JSON. The shop's own cap on an order (PlaceInput.MaxTotal) is set below it.
const MaxPaise = 1<<53 - 1

// Customer is who placed the order and where to tell them about it.
type Customer struct {
	ID    string
	Name  string
	Email Email
	Phone Phone
}

// Line is one product on the order.
type Line struct {
	SKU       string
	Name      string
	Quantity  int64
	UnitPrice Money
}

// Total is the line's quantity times its unit price.
func (l Line) Total() (Money, error) { return l.UnitPrice.Times(l.Quantity) }

// Address is where the order is shipped.
type Address struct {
	Name    string
	Line1   string
	Line2   string
	City    string
	State   string
	Pincode string
}

// Payment is what the gateway told us about the order's payment.
type Payment struct {
	Gateway        string
	GatewayOrderID string
	PaymentID      string
	// Amount is in the smallest unit of Currency: paise, but for a payment the order could not take
	// because it was in another currency (CauseWrongAmount).
	Amount   Money
	Method   string
	Currency string
}

// Refund is the order's refund, once one was asked for.
type Refund struct {
	ID     string
	Amount Money
	ARN    string
}

// UnexpectedPayment is a payment the gateway captured that the order could not take, and its refund.
type UnexpectedPayment struct {
	Payment
	// Cause is CauseOrderCancelled, CauseAlreadyPaid or CauseWrongAmount; Reason says it in words.
	Cause, Reason string
	// Refund has an ID while its refund is pending or done; Refunded once the gateway says it is done.
	Refund        Refund
	Refunded      bool
	FailedRefunds int
	// LastRefusal is why the gateway refused its last refund ("" before any refusal).
	LastRefusal string
}

// OwedRefund is a refund the order owes: of its own payment after a cancellation, or of a payment it
// could not take.
type OwedRefund struct {
	PaymentID string
	Amount    Money
	// Attempt counts the refunds of this payment the gateway refused before; a new attempt is a new
	// refund at the gateway, a retry of the same attempt is the same one.
	Attempt int
}

// MaxRefusedRefunds is how many refusals of one refund the service takes before it stops asking on
// its own: a refusal (insufficient balance, a disputed payment) needs a person to fix its cause, and
// asking without end would only add refusals. Staff can still ask again.
const MaxRefusedRefunds = 3

// HandedOver reports whether the gateway refused this refund MaxRefusedRefunds times, so that only
// staff ask for it again.
func (r OwedRefund) HandedOver() bool { return r.Attempt >= MaxRefusedRefunds }

// Order is the aggregate. Its fields change only by applying events.
type Order struct {
	id       uuid.UUID
	number   Number
	customer Customer
	lines    []Line
	total    Money
	address  Address
	status   Status

	payment Payment // Gateway and GatewayOrderID set once payment is requested; PaymentID once paid.
	// requested is what the gateway order asks the customer to pay.
	requested Money
	refund    Refund // ID set while a refund is pending or done.
	shipment  OrderShipped

	failedRefunds int
	// lastRefusal is why the gateway refused the last refund of the order's own payment.
	lastRefusal string
	// unexpected are payments the order could not take, each refunded on its own.
	unexpected []UnexpectedPayment

	version int     // events applied, including the recorded ones
	changes []Event // recorded but not yet stored
}

// PlaceInput is what a customer submits at checkout.
type PlaceInput struct {
	ID       uuid.UUID
	Number   Number
	Customer Customer
	Lines    []Line
	Address  Address
	// MaxTotal is the most one order may be (MAX_ORDER_TOTAL_PAISE); zero means MaxPaise.
	MaxTotal Money
}

// Place validates a new order and records OrderPlaced. The total is computed from the lines.
func Place(in PlaceInput) (*Order, error) {
	if in.ID == uuid.Nil {
		return nil, invalid("order_id", "missing")
	}
	if in.Number.String() == "" {
		return nil, invalid("order_number", "missing")
	}
	if err := validateCustomer(in.Customer); err != nil {
		return nil, err
	}
	total, err := validateLines(in.Lines, in.MaxTotal)
	if err != nil {
		return nil, err
	}
	if err := validateAddress(in.Address); err != nil {
		return nil, err
	}
	o := &Order{}
	o.record(OrderPlaced{
		OrderID:     in.ID,
		OrderNumber: in.Number.String(),
		Customer: CustomerData{
			ID:    in.Customer.ID,
			Name:  in.Customer.Name,
			Email: in.Customer.Email.String(),
			Phone: in.Customer.Phone.String(),
		},
		Items:      itemData(in.Lines),
		TotalPaise: total.Paise(),
		Currency:   Currency,
		ShippingAddress: AddressData{
			Name: in.Address.Name, Line1: in.Address.Line1, Line2: in.Address.Line2,
			City: in.Address.City, State: in.Address.State, Pincode: in.Address.Pincode,
		},
	})
	return o, nil
}

func validateCustomer(c Customer) error {
	if err := name("customer.name", c.Name, 100, true); err != nil {
		return err
	}
	if c.Email.String() == "" {
		return invalid("customer.email", "missing")
	}
	if c.Phone.IsZero() {
		return invalid("customer.phone", "missing")
	}
	if c.ID != "" && (len(c.ID) > 64 || strings.Trim(c.ID, customerIDAlphabet) != "") {
		return invalid("customer.id", "want 1 to 64 of A-Z, a-z, 0-9 and . _ : @ -")
	}
	return nil
}

// customerIDAlphabet is what a shop's own customer id may be made of: enough for the ids shops use,
// nothing that prints as anything else.
const customerIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-"

func validateLines(lines []Line, maxTotal Money) (Money, error) {
	limit := maxTotal
	if limit.IsZero() || limit.Paise() > MaxPaise {
		limit = Money{paise: MaxPaise}
	}
	if len(lines) == 0 {
		return Money{}, invalid("items", "an order needs at least one item")
	}
	if len(lines) > MaxLines {
		return Money{}, invalid("items", "at most %d items per order", MaxLines)
	}
	var total Money
	for i, l := range lines {
		field := fmt.Sprintf("items[%d]", i)
		if err := text(field+".sku", l.SKU, 64, true); err != nil {
			return Money{}, err
		}
		if err := text(field+".name", l.Name, maxText, true); err != nil {
			return Money{}, err
		}
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return Money{}, invalid(field+".quantity", "must be between 1 and %d, got %d", MaxQuantity, l.Quantity)
		}
		if l.UnitPrice.IsZero() {
			return Money{}, invalid(field+".unit_price_paise", "must be more than 0")
		}
		if l.UnitPrice.Paise() > limit.Paise() {
			return Money{}, invalid(field+".unit_price_paise", "at most %d paise (%s, the most one order may be), got %d",
				limit.Paise(), limit, l.UnitPrice.Paise())
		}
		// Neither overflows: the price is at most 2^53-1 paise and the quantity at most 1000.
		lt, err := l.Total()
		if err != nil {
			return Money{}, fieldErr(field+".unit_price_paise", err)
		}
		if total, err = total.Add(lt); err != nil {
			return Money{}, fieldErr("items", err)
		}
		if total.Paise() > limit.Paise() {
			return Money{}, invalid("items", "the order's total is more than %s (%d paise), the most one order may be", limit, limit.Paise())
		}
	}
	if total.Paise() < MinTotalPaise {
		return Money{}, invalid("items", "the total must be at least ₹1.00")
	}
	return total, nil
}

func validateAddress(a Address) error {
	if err := name("shipping_address.name", a.Name, 100, false); err != nil {
		return err
	}
	if err := text("shipping_address.line1", a.Line1, maxAddressField, true); err != nil {
		return err
	}
	if err := text("shipping_address.line2", a.Line2, maxAddressField, false); err != nil {
		return err
	}
	if err := name("shipping_address.city", a.City, 100, true); err != nil {
		return err
	}
	if err := name("shipping_address.state", a.State, 100, true); err != nil {
		return err
	}
	if len(a.Pincode) != 6 || strings.Trim(a.Pincode, "0123456789") != "" || a.Pincode[0] == '0' {
		return invalid("shipping_address.pincode", "want a 6-digit PIN code, got %q", a.Pincode)
	}
	return nil
}

// text checks a free-text field: valid UTF-8, at most max runes, and none of the characters that
// control a terminal or hide or reorder text (printable.FirstRefused: Unicode Cc and Cf, U+2028,
// U+2029; a zero-width joiner or non-joiner only after a letter or mark, as Indian scripts use it).
func text(field, s string, max int, required bool) error {
	if strings.TrimSpace(s) == "" {
		if required {
			return invalid(field, "missing")
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return invalid(field, "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(field, "at most %d characters, got %d", max, n)
	}
	if r, at, bad := printable.FirstRefused(s); bad {
		return invalid(field, "has a control or invisible formatting character (%s at byte %d)", printable.Name(r), at)
	}
	return nil
}

// CheckText applies the rules of a free-text field (text) to a text that is not part of an order,
// such as an admin's token label: one set of rules for every text the product takes.
func CheckText(field, s string, max int, required bool) error { return text(field, s, max, required) }

// CheckName applies the rules of a person's or place's name (name) outside an order, such as to an
// admin's name.
func CheckName(field, s string, max int, required bool) error { return name(field, s, max, required) }

// name is text for the name of a person or place, which has at least one letter.
func name(field, s string, max int, required bool) error {
	if err := text(field, s, max, required); err != nil {
		return err
	}
	if strings.TrimSpace(s) != "" && !strings.ContainsFunc(s, unicode.IsLetter) {
		return invalid(field, "has no letter")
	}
	return nil
}

func itemData(lines []Line) []ItemData {
	out := make([]ItemData, len(lines))
	for i, l := range lines {
		out[i] = ItemData{SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, UnitPricePaise: l.UnitPrice.Paise()}
	}
	return out
}

// FromHistory rebuilds an order from its stored events. It is not a constructor: it checks no rules,
// because the events are facts that were checked when they were recorded.
func FromHistory(events []Event) (*Order, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("rebuild order: no events")
	}
	if _, ok := events[0].(OrderPlaced); !ok {
		return nil, fmt.Errorf("rebuild order: stream starts with %s, not %s", events[0].EventType(), TypeOrderPlaced)
	}
	o := &Order{}
	for _, e := range events {
		o.apply(e)
	}
	return o, nil
}

// RequestPayment records the gateway order the customer is to pay. The amount is the order's total.
func (o *Order) RequestPayment(gateway, gatewayOrderID string) error {
	if o.status != StatusPlaced {
		return &TransitionError{Action: "request payment for", From: o.status}
	}
	if gateway == "" {
		return invalid("gateway", "missing")
	}
	if gatewayOrderID == "" {
		return invalid("gateway_order_id", "missing")
	}
	if o.payment.GatewayOrderID == gatewayOrderID {
		return nil // already requested: a retried checkout changes nothing
	}
	o.record(PaymentRequested{Gateway: gateway, GatewayOrderID: gatewayOrderID, AmountPaise: o.total.Paise()})
	return nil
}

// ReceivePayment records a payment the gateway captured for this order. The same payment reported
// again (callback and webhook both arriving, or a repeated webhook) changes nothing. A payment the
// order cannot take, because it was cancelled, another payment paid it, or it is not of the order's
// total in the order's currency, is recorded as UnexpectedPaymentReceived: the money is the
// customer's and is owed back (OwedRefunds). A payment without a currency is taken to be in INR.
func (o *Order) ReceivePayment(p PaymentSucceeded) error {
	if p.PaymentID == "" {
		return invalid("payment_id", "missing")
	}
	if p.PaymentID == o.payment.PaymentID || o.unexpectedIndex(p.PaymentID) >= 0 {
		return nil
	}
	switch {
	case o.payment.GatewayOrderID == "":
		return ErrPaymentNotRequested
	case p.GatewayOrderID != o.payment.GatewayOrderID:
		return fmt.Errorf("%w: gateway order %q is not this order's %q", ErrPaymentMismatch, p.GatewayOrderID, o.payment.GatewayOrderID)
	case p.AmountPaise <= 0:
		return invalid("amount_paise", "must be more than 0, got %d", p.AmountPaise)
	}
	if p.Gateway == "" {
		p.Gateway = o.payment.Gateway
	}
	if p.Currency == "" {
		p.Currency = Currency
	}
	cause, reason := "", ""
	switch {
	case o.payment.PaymentID != "":
		cause, reason = CauseAlreadyPaid, "the order was already paid by payment "+o.payment.PaymentID
	case o.status == StatusCancelled || o.status == StatusRefundPending || o.status == StatusRefunded:
		cause, reason = CauseOrderCancelled, "the order was cancelled"
	case o.status != StatusPlaced:
		return &TransitionError{Action: "pay", From: o.status}
	case p.AmountPaise != o.total.Paise() || p.Currency != Currency:
		// The gateway took the money all the same: refusing the report would leave it with us.
		cause = CauseWrongAmount
		reason = fmt.Sprintf("paid %s (%d in the smallest unit of %s), the order is %s (%d paise)",
			FormatAmount(Money{paise: p.AmountPaise}, p.Currency), p.AmountPaise, p.Currency, o.total, o.total.Paise())
	}
	if cause != "" {
		o.record(UnexpectedPaymentReceived{Gateway: p.Gateway, GatewayOrderID: p.GatewayOrderID, PaymentID: p.PaymentID,
			AmountPaise: p.AmountPaise, Method: p.Method, Currency: p.Currency, Cause: cause, Reason: reason})
		return nil
	}
	o.record(p)
	return nil
}

func (o *Order) unexpectedIndex(paymentID string) int {
	for i, u := range o.unexpected {
		if u.PaymentID == paymentID {
			return i
		}
	}
	return -1
}

// FailPayment records a failed attempt. Reports that arrive after the order moved on (the gateway does
// not keep order) change nothing: an order never moves backwards.
func (o *Order) FailPayment(f PaymentFailed) error {
	if o.status != StatusPlaced || o.payment.PaymentID != "" {
		return nil
	}
	if o.payment.GatewayOrderID == "" {
		return ErrPaymentNotRequested
	}
	if f.GatewayOrderID != o.payment.GatewayOrderID {
		return fmt.Errorf("%w: gateway order %q is not this order's %q", ErrPaymentMismatch, f.GatewayOrderID, o.payment.GatewayOrderID)
	}
	o.record(f)
	return nil
}

// Confirm records that the shop accepted the paid order.
func (o *Order) Confirm() error {
	if o.status != StatusPaid {
		return &TransitionError{Action: "confirm", From: o.status}
	}
	o.record(OrderConfirmed{})
	return nil
}

// Ship records the hand-over to a carrier. A carrier of the table (Carriers) is written its usual way
// and its tracking page follows from the tracking id; for any other carrier, trackingURL is required.
// A trackingURL given for a carrier of the table replaces the usual page.
func (o *Order) Ship(carrier, trackingID, trackingURL string) error {
	if o.status != StatusConfirmed {
		return &TransitionError{Action: "ship", From: o.status}
	}
	if err := text("carrier", carrier, 64, true); err != nil {
		return err
	}
	if err := text("tracking_id", trackingID, 64, true); err != nil {
		return err
	}
	c, known := LookupCarrier(carrier)
	if known {
		carrier = c.Name
	}
	switch {
	case trackingURL != "" || !known:
		if err := checkTrackingURL(trackingURL); err != nil {
			return err
		}
	default:
		trackingURL = c.track(trackingID)
	}
	o.record(OrderShipped{Carrier: carrier, TrackingID: trackingID, TrackingURL: trackingURL})
	return nil
}

// MarkOutForDelivery records the parcel's last leg.
func (o *Order) MarkOutForDelivery() error {
	if o.status != StatusShipped {
		return &TransitionError{Action: "send out for delivery", From: o.status}
	}
	o.record(OrderOutForDelivery{})
	return nil
}

// Deliver records delivery.
func (o *Order) Deliver() error {
	if o.status != StatusOutForDelivery {
		return &TransitionError{Action: "deliver", From: o.status}
	}
	o.record(OrderDelivered{})
	return nil
}

// Cancel records a cancellation; it is allowed until the order ships.
func (o *Order) Cancel(reason string) error {
	switch {
	case o.status.Shipped():
		return ErrCancelAfterShipping
	case o.status == StatusCancelled || o.status == StatusRefundPending || o.status == StatusRefunded:
		return &TransitionError{Action: "cancel", From: o.status}
	}
	if err := text("reason", reason, maxText, false); err != nil {
		return err
	}
	o.record(OrderCancelled{Reason: reason})
	return nil
}

// CheckRefundOwed returns nil when the order owes a refund it has not asked for (OwedRefunds), and
// otherwise an ErrIllegalTransition that says why there is none: the order was refunded already, its
// refund is waiting for the gateway, or it was never paid and cancelled.
func (o *Order) CheckRefundOwed() error {
	if len(o.OwedRefunds()) > 0 {
		return nil
	}
	switch {
	case o.status == StatusRefunded:
		return ErrAlreadyRefunded
	case o.status == StatusRefundPending:
		return ErrRefundPending
	case len(o.unexpected) > 0:
		return ErrNoRefundOwed // every payment it could not take is refunded or being refunded
	}
	return ErrNotRefundable
}

// NeedsRefund reports whether the order was paid, then cancelled, and no refund is pending or done.
func (o *Order) NeedsRefund() bool {
	return o.status == StatusCancelled && o.payment.PaymentID != ""
}

// OwedRefunds lists the refunds the order owes and has not asked for (or was refused): its own
// payment once cancelled, and every payment it could not take.
func (o *Order) OwedRefunds() []OwedRefund {
	var out []OwedRefund
	if o.NeedsRefund() {
		out = append(out, OwedRefund{PaymentID: o.payment.PaymentID, Amount: o.payment.Amount, Attempt: o.failedRefunds})
	}
	for _, u := range o.unexpected {
		if u.Refund.ID == "" && !u.Refunded {
			out = append(out, OwedRefund{PaymentID: u.PaymentID, Amount: u.Amount, Attempt: u.FailedRefunds})
		}
	}
	return out
}

// InitiateRefund records a refund asked of the gateway for the whole paid amount of a payment, or
// part of it: the order's own payment once cancelled, or a payment it could not take.
func (o *Order) InitiateRefund(paymentID, refundID string, amount Money) error {
	if refundID == "" {
		return invalid("refund_id", "missing")
	}
	if paymentID == o.payment.PaymentID && paymentID != "" {
		if !o.NeedsRefund() {
			return ErrNotRefundable
		}
		if amount.IsZero() || amount.Paise() > o.payment.Amount.Paise() {
			return invalid("amount_paise", "must be between 1 and the paid %d paise", o.payment.Amount.Paise())
		}
		o.record(RefundInitiated{RefundID: refundID, AmountPaise: amount.Paise()})
		return nil
	}
	i := o.unexpectedIndex(paymentID)
	if i < 0 || o.unexpected[i].Refund.ID != "" || o.unexpected[i].Refunded {
		return ErrNotRefundable
	}
	if amount.IsZero() || amount.Paise() > o.unexpected[i].Amount.Paise() {
		return invalid("amount_paise", "must be between 1 and the paid %d paise", o.unexpected[i].Amount.Paise())
	}
	o.record(UnexpectedRefundInitiated{PaymentID: paymentID, RefundID: refundID, AmountPaise: amount.Paise()})
	return nil
}

// CompleteRefund records the gateway's final word that a refund went through, whichever payment it
// returns. A repeat of the same report changes nothing.
func (o *Order) CompleteRefund(r RefundProcessed) error {
	if i := o.unexpectedRefundIndex(r.RefundID); i >= 0 {
		u := o.unexpected[i]
		if u.Refunded {
			return nil
		}
		if r.AmountPaise != u.Refund.Amount.Paise() {
			return fmt.Errorf("%w: refunded %d paise, %d were asked", ErrRefundMismatch, r.AmountPaise, u.Refund.Amount.Paise())
		}
		o.record(UnexpectedRefundProcessed{PaymentID: u.PaymentID, RefundID: r.RefundID, AmountPaise: r.AmountPaise, ARN: r.ARN})
		return nil
	}
	if o.status == StatusRefunded && o.refund.ID == r.RefundID {
		return nil
	}
	if o.status != StatusRefundPending {
		return &TransitionError{Action: "complete a refund for", From: o.status}
	}
	if r.RefundID != o.refund.ID {
		return fmt.Errorf("%w: refund %q is not the pending %q", ErrRefundMismatch, r.RefundID, o.refund.ID)
	}
	if r.AmountPaise != o.refund.Amount.Paise() {
		return fmt.Errorf("%w: refunded %d paise, %d were asked", ErrRefundMismatch, r.AmountPaise, o.refund.Amount.Paise())
	}
	o.record(r)
	return nil
}

// FailRefund records a refund the gateway could not make; it is owed again, so that it can be asked
// again. A late or repeated report changes nothing.
func (o *Order) FailRefund(r RefundFailed) error {
	if i := o.unexpectedRefundIndex(r.RefundID); i >= 0 {
		if u := o.unexpected[i]; !u.Refunded {
			o.record(UnexpectedRefundFailed{PaymentID: u.PaymentID, RefundID: r.RefundID, Reason: r.Reason})
		}
		return nil
	}
	if o.status != StatusRefundPending || r.RefundID != o.refund.ID {
		if o.status == StatusCancelled || o.status == StatusRefunded {
			return nil // a late or repeated report
		}
		return fmt.Errorf("%w: refund %q is not pending", ErrRefundMismatch, r.RefundID)
	}
	o.record(r)
	return nil
}

// RefuseRefund records that the gateway refused to make a refund the order owes when asked for it
// (it answered with an error that asking again would not change): no refund was made, the refund is
// still owed, and the refusal counts as one refund.failed does. paymentID is the payment being
// refunded (OwedRefund.PaymentID).
func (o *Order) RefuseRefund(paymentID, reason string) error {
	if strings.TrimSpace(reason) == "" {
		reason = "the gateway refused the refund and gave no reason"
	}
	if paymentID != "" && paymentID == o.payment.PaymentID && o.NeedsRefund() {
		o.record(RefundFailed{Reason: reason})
		return nil
	}
	if i := o.unexpectedIndex(paymentID); i >= 0 && o.unexpected[i].Refund.ID == "" && !o.unexpected[i].Refunded {
		o.record(UnexpectedRefundFailed{PaymentID: paymentID, Reason: reason})
		return nil
	}
	return ErrNotRefundable
}

// AskedForRefund reports whether the refund with this gateway id is one the order asked for and has
// not seen fail: its own payment's, or that of a payment it could not take.
func (o *Order) AskedForRefund(refundID string) bool {
	return refundID != "" && (o.refund.ID == refundID || o.unexpectedRefundIndex(refundID) >= 0)
}

// unexpectedRefundIndex finds the payment the order could not take whose refund has this id.
func (o *Order) unexpectedRefundIndex(refundID string) int {
	for i, u := range o.unexpected {
		if refundID != "" && u.Refund.ID == refundID {
			return i
		}
	}
	return -1
}

func (o *Order) record(e Event) {
	o.apply(e)
	o.changes = append(o.changes, e)
}

func (o *Order) apply(e Event) {
	o.version++
	o.status = NextStatus(o.status, e)
	switch e := e.(type) {
	case OrderPlaced:
		o.id = e.OrderID
		o.number = Number{s: e.OrderNumber}
		o.customer = Customer{ID: e.Customer.ID, Name: e.Customer.Name,
			Email: Email{addr: e.Customer.Email}, Phone: Phone{e164: e.Customer.Phone}}
		o.lines = make([]Line, len(e.Items))
		for i, it := range e.Items {
			o.lines[i] = Line{SKU: it.SKU, Name: it.Name, Quantity: it.Quantity, UnitPrice: Money{paise: it.UnitPricePaise}}
		}
		o.total = Money{paise: e.TotalPaise}
		o.address = Address(e.ShippingAddress)
	case PaymentRequested:
		o.payment.Gateway = e.Gateway
		o.payment.GatewayOrderID = e.GatewayOrderID
		o.requested = Money{paise: e.AmountPaise}
	case PaymentSucceeded:
		o.payment = Payment{Gateway: e.Gateway, GatewayOrderID: e.GatewayOrderID, PaymentID: e.PaymentID,
			Amount: Money{paise: e.AmountPaise}, Method: e.Method, Currency: currencyOr(e.Currency)}
	case OrderShipped:
		o.shipment = e
	case RefundInitiated:
		o.refund = Refund{ID: e.RefundID, Amount: Money{paise: e.AmountPaise}}
	case RefundProcessed:
		o.refund.ARN = e.ARN
	case RefundFailed:
		o.refund = Refund{}
		o.failedRefunds++
		o.lastRefusal = e.Reason
	case UnexpectedPaymentReceived:
		o.unexpected = append(o.unexpected, UnexpectedPayment{Cause: e.Cause, Reason: e.Reason, Payment: Payment{Gateway: e.Gateway,
			GatewayOrderID: e.GatewayOrderID, PaymentID: e.PaymentID, Amount: Money{paise: e.AmountPaise}, Method: e.Method,
			Currency: currencyOr(e.Currency)}})
	case UnexpectedRefundInitiated:
		if i := o.unexpectedIndex(e.PaymentID); i >= 0 {
			o.unexpected[i].Refund = Refund{ID: e.RefundID, Amount: Money{paise: e.AmountPaise}}
		}
	case UnexpectedRefundProcessed:
		if i := o.unexpectedIndex(e.PaymentID); i >= 0 {
			o.unexpected[i].Refund.ARN, o.unexpected[i].Refunded = e.ARN, true
		}
	case UnexpectedRefundFailed:
		if i := o.unexpectedIndex(e.PaymentID); i >= 0 {
			o.unexpected[i].Refund = Refund{}
			o.unexpected[i].FailedRefunds++
			o.unexpected[i].LastRefusal = e.Reason
		}
	}
}

// currencyOr is a stored payment's currency: events from before payments recorded one were in INR.
func currencyOr(c string) string {
	if c == "" {
		return Currency
	}
	return c
}

// NextStatus is the status an order has after e, given its status before. Events that do not move
// the order (PaymentRequested, PaymentFailed) leave it as it was. Projections use it too, so the
// lifecycle is written down once.
func NextStatus(before Status, e Event) Status {
	if s, ok := StatusAfter(e.EventType()); ok {
		return s
	}
	return before
}

// StatusAfter is the status an event of this type moves an order to, and false for types that do not
// move it.
func StatusAfter(eventType string) (Status, bool) {
	switch CurrentType(eventType) {
	case TypeOrderPlaced:
		return StatusPlaced, true
	case TypePaymentSucceeded:
		return StatusPaid, true
	case TypeOrderConfirmed:
		return StatusConfirmed, true
	case TypeOrderShipped:
		return StatusShipped, true
	case TypeOrderOutForDelivery:
		return StatusOutForDelivery, true
	case TypeOrderDelivered:
		return StatusDelivered, true
	case TypeOrderCancelled, TypeRefundFailed:
		return StatusCancelled, true
	case TypeRefundInitiated:
		return StatusRefundPending, true
	case TypeRefundProcessed:
		return StatusRefunded, true
	}
	return "", false
}

// HistoryNote is the detail worth showing beside the status change an event makes: the payment,
// the carrier and tracking id, the cancellation's reason, the refund. "" for the others.
func HistoryNote(e Event) string {
	switch ev := e.(type) {
	case PaymentSucceeded:
		s := fmt.Sprintf("payment %s", ev.PaymentID)
		if ev.Method != "" {
			s += " by " + ev.Method
		}
		return s
	case OrderShipped:
		return fmt.Sprintf("%s, tracking %s", ev.Carrier, ev.TrackingID)
	case OrderCancelled:
		return ev.Reason
	case RefundInitiated:
		return fmt.Sprintf("refund %s of %d paise", ev.RefundID, ev.AmountPaise)
	case RefundProcessed:
		s := fmt.Sprintf("refund %s processed", ev.RefundID)
		if ev.ARN != "" {
			s += ", ARN " + ev.ARN
		}
		return s
	case RefundFailed:
		if ev.RefundID == "" { // refused when asked: no refund was made
			return "refund refused: " + ev.Reason
		}
		return fmt.Sprintf("refund %s failed: %s", ev.RefundID, ev.Reason)
	}
	return ""
}

// ID returns the order's id.
func (o *Order) ID() uuid.UUID { return o.id }

// Number returns the human order number.
func (o *Order) Number() Number { return o.number }

// Customer returns who placed the order.
func (o *Order) Customer() Customer { return o.customer }

// Lines returns a copy of the order lines.
func (o *Order) Lines() []Line { return append([]Line(nil), o.lines...) }

// Total returns the sum of the lines.
func (o *Order) Total() Money { return o.total }

// Address returns the shipping address.
func (o *Order) Address() Address { return o.address }

// Status returns where the order is in its lifecycle.
func (o *Order) Status() Status { return o.status }

// RequestedAmount is what the gateway order asks the customer to pay (the total when it was asked),
// zero before payment is requested.
func (o *Order) RequestedAmount() Money { return o.requested }

// Payment returns what is known of the order's payment.
func (o *Order) Payment() Payment { return o.payment }

// Refund returns the order's refund, if one was asked for.
func (o *Order) Refund() Refund { return o.refund }

// FailedRefunds counts the refunds of the order's own payment the gateway could not make.
func (o *Order) FailedRefunds() int { return o.failedRefunds }

// LastRefundRefusal is why the gateway refused the last refund of the order's own payment, "" when
// it never did.
func (o *Order) LastRefundRefusal() string { return o.lastRefusal }

// UnexpectedPayments returns the payments the order could not take, with their refunds.
func (o *Order) UnexpectedPayments() []UnexpectedPayment {
	return append([]UnexpectedPayment(nil), o.unexpected...)
}

// Shipment returns the carrier and tracking id once shipped.
func (o *Order) Shipment() OrderShipped { return o.shipment }

// Version is the number of events in the order's stream, counting recorded ones.
func (o *Order) Version() int { return o.version }

// StoredVersion is the version the stream had before the recorded changes.
func (o *Order) StoredVersion() int { return o.version - len(o.changes) }

// Changes returns the events recorded since the order was loaded.
func (o *Order) Changes() []Event { return append([]Event(nil), o.changes...) }

// ClearChanges forgets the recorded events once the store has them.
func (o *Order) ClearChanges() { o.changes = nil }
