package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

// Errors of OrderLinks.Check: the page tells a customer which, so that one holding an old message
// knows to ask for help rather than retype the link.
var (
	ErrLinkInvalid = errors.New("this link does not open an order")
	ErrLinkExpired = errors.New("this link has expired")
)

// OrderLinks checks the tokens of the links in customers' messages and says where a link goes.
type OrderLinks interface {
	// Check returns nil when token opens the order, else ErrLinkInvalid or ErrLinkExpired.
	Check(orderID uuid.UUID, token string) error
	// OrderURL is where an order link goes: the shop's storefront page when one is configured, else
	// this service's order page.
	OrderURL(orderID uuid.UUID, number, token string) string
	// ReviewURL is where a review link goes, or "" when none is configured.
	ReviewURL(orderID uuid.UUID, number, token string) string
}

// OrderPage asks for the order a link in one of its messages opens.
type OrderPage struct {
	OrderID uuid.UUID
	Token   string
}

// Step is one status the order reached, and when.
type Step struct {
	Status order.Status
	At     time.Time
}

// OrderPageView is the order as its page shows it to the customer.
type OrderPageView struct {
	OrderView
	// Steps are the statuses the order went through, oldest first, read from its events so that a
	// change the customer just made is there.
	Steps []Step
	// CanCancel is set until the order ships.
	CanCancel bool
	// Payable is set while the order waits for its payment: the customer can pay the same gateway
	// order again.
	Payable bool
	// RefundExpectation says when refunded money reaches the customer ("5–7 working days").
	RefundExpectation string
	// Cancellation is set once the order is cancelled.
	Cancellation *Cancellation
}

// Cancellation is who cancelled the order, when, and why: the reason as the cancellation's e-mail
// gave it to the customer, whoever gave it.
type Cancellation struct {
	At time.Time
	// ByCustomer is set when the customer cancelled it (from the order page or with their token),
	// not the shop's staff.
	ByCustomer bool
	// Reason is the reason given, "" for none (a customer's is optional).
	Reason string
}

// OrderPageHandler answers OrderPage and follows the short links of SMS.
type OrderPageHandler struct {
	orders            OrderLoader
	links             OrderLinks
	auditor           EventAuditor
	refundExpectation string
}

// NewOrderPageHandler wires the handler.
func NewOrderPageHandler(orders OrderLoader, links OrderLinks, auditor EventAuditor, refundExpectation string) OrderPageHandler {
	return OrderPageHandler{orders: orders, links: links, auditor: auditor, refundExpectation: refundExpectation}
}

// Handle returns the order when the token opens it: ErrLinkInvalid for a wrong token or an unknown
// order alike, so that a token reveals nothing about other orders, and ErrLinkExpired for an old one.
func (h OrderPageHandler) Handle(ctx context.Context, q OrderPage) (OrderPageView, error) {
	if err := h.links.Check(q.OrderID, q.Token); err != nil {
		return OrderPageView{}, err
	}
	o, err := h.orders.Get(ctx, q.OrderID)
	if errors.Is(err, order.ErrNotFound) {
		return OrderPageView{}, ErrLinkInvalid
	}
	if err != nil {
		return OrderPageView{}, err
	}
	v := OrderPageView{OrderView: ViewOf(o), RefundExpectation: h.refundExpectation}
	st := o.Status()
	v.CanCancel = !st.Shipped() && st != order.StatusCancelled && st != order.StatusRefundPending && st != order.StatusRefunded
	v.Payable = st == order.StatusPlaced && o.Payment().GatewayOrderID != ""
	events, err := h.auditor.OrderEvents(ctx, q.OrderID)
	if err != nil {
		return OrderPageView{}, fmt.Errorf("order page: %w", err)
	}
	for _, e := range events {
		if order.CurrentType(e.Type) == order.TypeOrderCancelled {
			c, err := cancellationOf(e)
			if err != nil {
				return OrderPageView{}, fmt.Errorf("order page %s: %w", q.OrderID, err)
			}
			v.Cancellation = c
		}
		s, ok := order.StatusAfter(e.Type)
		if !ok || len(v.Steps) > 0 && v.Steps[len(v.Steps)-1].Status == s {
			continue // a refund refused when asked leaves a cancelled order cancelled: not a step
		}
		v.Steps = append(v.Steps, Step{Status: s, At: e.OccurredAt})
	}
	return v, nil
}

// cancellationOf reads an OrderCancelled event of the order's stream.
func cancellationOf(e AuditEvent) (*Cancellation, error) {
	ev, err := order.DecodeEvent(e.Type, e.Data)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.EventID, err)
	}
	oc, ok := ev.(order.OrderCancelled)
	if !ok {
		return nil, fmt.Errorf("event %s of type %s decodes as %T", e.EventID, e.Type, ev)
	}
	kind, _, _ := strings.Cut(e.Actor, ":")
	return &Cancellation{At: e.OccurredAt, ByCustomer: kind == "customer", Reason: oc.Reason}, nil
}

// OrderNumbers finds orders by their human number.
type OrderNumbers interface {
	IDByNumber(ctx context.Context, n order.Number) (uuid.UUID, error)
}

// ShortLink is a link from an SMS: the order's number and a link token, for the order page or
// the review page.
type ShortLink struct {
	Number string
	Token  string
	Review bool
}

// ShortLinkHandler finds where a short link goes.
type ShortLinkHandler struct {
	numbers OrderNumbers
	links   OrderLinks
}

// NewShortLinkHandler wires the handler.
func NewShortLinkHandler(numbers OrderNumbers, links OrderLinks) ShortLinkHandler {
	return ShortLinkHandler{numbers: numbers, links: links}
}

// Handle returns the long URL the short link stands for, checking its token first: ErrLinkInvalid
// or ErrLinkExpired as for the page, and ErrLinkInvalid too for a review link when no review page is
// configured.
func (h ShortLinkHandler) Handle(ctx context.Context, l ShortLink) (string, error) {
	n, err := order.ParseNumber(l.Number)
	if err != nil {
		return "", ErrLinkInvalid
	}
	id, err := h.numbers.IDByNumber(ctx, n)
	if errors.Is(err, order.ErrNotFound) {
		return "", ErrLinkInvalid
	}
	if err != nil {
		return "", err
	}
	if err := h.links.Check(id, l.Token); err != nil {
		return "", err
	}
	if l.Review {
		if u := h.links.ReviewURL(id, n.String(), l.Token); u != "" {
			return u, nil
		}
		return "", ErrLinkInvalid
	}
	return h.links.OrderURL(id, n.String(), l.Token), nil
}
