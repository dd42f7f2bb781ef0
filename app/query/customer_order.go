package query

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

// CustomerOrder asks for one order with the access token issued at checkout.
type CustomerOrder struct {
	OrderID     uuid.UUID
	AccessToken string
}

// OrderView is an order as its customer sees it.
type OrderView struct {
	ID              uuid.UUID     `json:"order_id"`
	Number          string        `json:"order_number"`
	Status          string        `json:"status"`
	Version         int           `json:"version"`
	Customer        CustomerView  `json:"customer"`
	Items           []ItemView    `json:"items"`
	TotalPaise      int64         `json:"total_paise"`
	Total           string        `json:"total"`
	Currency        string        `json:"currency"`
	ShippingAddress AddressView   `json:"shipping_address"`
	Shipment        *ShipmentView `json:"shipment,omitempty"`
	Payment         *PaymentView  `json:"payment,omitempty"`
	Refund          *RefundView   `json:"refund,omitempty"`
	// UnexpectedPayments are payments the order could not take (made after it was cancelled, a
	// second payment, or one of the wrong amount or currency), each refunded on its own.
	UnexpectedPayments []UnexpectedPaymentView `json:"unexpected_payments,omitempty"`
	History            []StatusChange          `json:"history,omitempty"`
}

// CustomerView is the customer on an order.
type CustomerView struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// ItemView is one order line with its total.
type ItemView struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int64  `json:"quantity"`
	UnitPricePaise int64  `json:"unit_price_paise"`
	LineTotalPaise int64  `json:"line_total_paise"`
}

// AddressView is the shipping address.
type AddressView struct {
	Name    string `json:"name,omitempty"`
	Line1   string `json:"line1"`
	Line2   string `json:"line2,omitempty"`
	City    string `json:"city"`
	State   string `json:"state"`
	Pincode string `json:"pincode"`
}

// ShipmentView is the carrier, tracking id and the carrier's tracking page.
type ShipmentView struct {
	Carrier     string `json:"carrier"`
	TrackingID  string `json:"tracking_id"`
	TrackingURL string `json:"tracking_url,omitempty"`
}

// PaymentView is what the gateway reported.
type PaymentView struct {
	Gateway        string `json:"gateway"`
	GatewayOrderID string `json:"gateway_order_id"`
	PaymentID      string `json:"payment_id,omitempty"`
	Method         string `json:"method,omitempty"`
}

// Refund states, as a customer or an admin reads them.
const (
	RefundOwed      = "owed"      // not asked for yet, or refused by the gateway: asked again
	RefundPending   = "pending"   // asked; the gateway has not said it is done
	RefundProcessed = "processed" // the gateway says the money went back
	// RefundHandedOver is owed, but refused by the gateway order.MaxRefusedRefunds times: the service
	// no longer asks on its own, the shop's staff see to it.
	RefundHandedOver = "handed_over"
)

// RefundView is a refund and its state.
type RefundView struct {
	RefundID    string `json:"refund_id,omitempty"`
	AmountPaise int64  `json:"amount_paise"`
	Amount      string `json:"amount"`
	Status      string `json:"status"`
	ARN         string `json:"arn,omitempty"`
	// Refusals counts the gateway's refusals of a refund still owed (owed or handed_over).
	Refusals int `json:"refusals,omitempty"`
	// LastRefusal is the gateway's reason for the last of them; staff views only (StaffViewOf): it
	// is about the shop's account, not the customer's.
	LastRefusal string `json:"last_refusal,omitempty"`
}

// UnexpectedPaymentView is a payment the order could not take, and its refund.
type UnexpectedPaymentView struct {
	PaymentID string `json:"payment_id"`
	// AmountPaise is in the smallest unit of Currency, which is INR but for a payment in another
	// currency (cause wrong_amount).
	AmountPaise int64  `json:"amount_paise"`
	Amount      string `json:"amount"`
	Currency    string `json:"currency"`
	Method      string `json:"method,omitempty"`
	// Cause is order_cancelled, already_paid or wrong_amount (of another amount than the order's
	// total, or in another currency); Reason says it in words.
	Cause  string     `json:"cause"`
	Reason string     `json:"reason"`
	Refund RefundView `json:"refund"`
}

// StatusChange is one step of an order's status history.
type StatusChange struct {
	From    string `json:"from,omitempty"`
	To      string `json:"to"`
	At      string `json:"at"`
	Actor   string `json:"actor"`
	EventID string `json:"event_id"`
	Note    string `json:"note,omitempty"`
}

// CustomerOrderHandler answers CustomerOrder.
type CustomerOrderHandler struct {
	orders OrderLoader
	access AccessChecker
	read   OrderReadModel
}

// NewCustomerOrderHandler wires the handler.
func NewCustomerOrderHandler(orders OrderLoader, access AccessChecker, read OrderReadModel) CustomerOrderHandler {
	return CustomerOrderHandler{orders: orders, access: access, read: read}
}

// Handle returns the order when the token opens it. A wrong token and an unknown order are the same
// NotFoundError, so that a token reveals nothing about other orders.
func (h CustomerOrderHandler) Handle(ctx context.Context, q CustomerOrder) (OrderView, error) {
	ok, err := h.access.Opens(ctx, q.OrderID, q.AccessToken)
	if err != nil {
		return OrderView{}, fmt.Errorf("customer order: %w", err)
	}
	if !ok {
		return OrderView{}, &order.NotFoundError{ID: q.OrderID}
	}
	o, err := h.orders.Get(ctx, q.OrderID)
	if err != nil {
		return OrderView{}, err
	}
	v := ViewOf(o)
	// The history is a projection: a change made a moment ago may not be in it yet.
	if v.History, err = h.read.StatusHistory(ctx, q.OrderID); err != nil {
		return OrderView{}, err
	}
	return v, nil
}

// ViewOf is the order's view, without history.
func ViewOf(o *order.Order) OrderView {
	v := OrderView{
		ID: o.ID(), Number: o.Number().String(), Status: string(o.Status()), Version: o.Version(),
		Customer:   CustomerView{Name: o.Customer().Name, Email: o.Customer().Email.String(), Phone: o.Customer().Phone.String()},
		TotalPaise: o.Total().Paise(), Total: o.Total().String(), Currency: order.Currency,
	}
	a := o.Address()
	v.ShippingAddress = AddressView{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, State: a.State, Pincode: a.Pincode}
	for _, l := range o.Lines() {
		lt, _ := l.Total() // checked when the order was placed
		v.Items = append(v.Items, ItemView{SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, UnitPricePaise: l.UnitPrice.Paise(), LineTotalPaise: lt.Paise()})
	}
	if s := o.Shipment(); s.TrackingID != "" {
		v.Shipment = &ShipmentView{Carrier: s.Carrier, TrackingID: s.TrackingID, TrackingURL: s.TrackingURL}
	}
	if p := o.Payment(); p.GatewayOrderID != "" {
		v.Payment = &PaymentView{Gateway: p.Gateway, GatewayOrderID: p.GatewayOrderID, PaymentID: p.PaymentID, Method: p.Method}
	}
	switch r := o.Refund(); {
	case r.ID != "":
		state := RefundPending
		if o.Status() == order.StatusRefunded {
			state = RefundProcessed
		}
		v.Refund = &RefundView{RefundID: r.ID, AmountPaise: r.Amount.Paise(), Amount: r.Amount.String(), Status: state, ARN: r.ARN}
	case o.NeedsRefund():
		a := o.Payment().Amount
		v.Refund = &RefundView{AmountPaise: a.Paise(), Amount: a.String(), Status: owedState(o.FailedRefunds()), Refusals: o.FailedRefunds()}
	}
	for _, u := range o.UnexpectedPayments() {
		r := RefundView{RefundID: u.Refund.ID, AmountPaise: u.Amount.Paise(), Amount: order.FormatAmount(u.Amount, u.Currency),
			Status: owedState(u.FailedRefunds), ARN: u.Refund.ARN, Refusals: u.FailedRefunds}
		switch {
		case u.Refunded:
			r.Status, r.Refusals = RefundProcessed, 0
		case u.Refund.ID != "":
			r.Status, r.AmountPaise, r.Amount = RefundPending, u.Refund.Amount.Paise(), order.FormatAmount(u.Refund.Amount, u.Currency)
			r.Refusals = 0
		}
		v.UnexpectedPayments = append(v.UnexpectedPayments, UnexpectedPaymentView{PaymentID: u.PaymentID,
			AmountPaise: u.Amount.Paise(), Amount: order.FormatAmount(u.Amount, u.Currency), Currency: u.Currency, Method: u.Method,
			Cause: u.Cause, Reason: u.Reason, Refund: r})
	}
	return v
}

// owedState is the state of a refund owed after the gateway refused it refusals times.
func owedState(refusals int) string {
	if (order.OwedRefund{Attempt: refusals}).HandedOver() {
		return RefundHandedOver
	}
	return RefundOwed
}

// StaffViewOf is the order's view as staff see it: ViewOf, with the gateway's reason for the last
// refusal of each refund still owed.
func StaffViewOf(o *order.Order) OrderView {
	v := ViewOf(o)
	if v.Refund != nil && v.Refund.Refusals > 0 {
		v.Refund.LastRefusal = o.LastRefundRefusal()
	}
	for i, u := range o.UnexpectedPayments() {
		if v.UnexpectedPayments[i].Refund.Refusals > 0 {
			v.UnexpectedPayments[i].Refund.LastRefusal = u.LastRefusal
		}
	}
	return v
}
