package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

// ListOrders asks for a page of the admin order list, newest first.
type ListOrders struct {
	Status   string
	Search   string // an order number, an e-mail address or a phone number
	From, To time.Time
	After    string // cursor of the previous page
	Limit    int
}

// OrderFilter is ListOrders after its search term was understood.
type OrderFilter struct {
	Status      string
	OrderNumber string
	Email       string
	Phone       string
	From, To    time.Time
	After       string
	Limit       int
}

// OrderSummary is one row of the admin order list.
type OrderSummary struct {
	ID            uuid.UUID `json:"order_id"`
	Number        string    `json:"order_number"`
	CustomerName  string    `json:"customer_name"`
	CustomerEmail string    `json:"customer_email"`
	CustomerPhone string    `json:"customer_phone"`
	Status        string    `json:"status"`
	TotalPaise    int64     `json:"total_paise"`
	Total         string    `json:"total"`
	ItemCount     int       `json:"item_count"`
	Carrier       string    `json:"carrier,omitempty"`
	TrackingID    string    `json:"tracking_id,omitempty"`
	PlacedAt      time.Time `json:"placed_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Version       int       `json:"version"`
}

// OrderList is a page of summaries; Next is the cursor of the following page, empty on the last.
type OrderList struct {
	Orders []OrderSummary `json:"orders"`
	Next   string         `json:"next,omitempty"`
}

// OrderReadModel reads the order projections.
type OrderReadModel interface {
	ListOrders(ctx context.Context, f OrderFilter) (OrderList, error)
	StatusHistory(ctx context.Context, orderID uuid.UUID) ([]StatusChange, error)
}

// ListOrdersHandler answers ListOrders.
type ListOrdersHandler struct {
	read OrderReadModel
}

// NewListOrdersHandler wires the handler.
func NewListOrdersHandler(read OrderReadModel) ListOrdersHandler {
	return ListOrdersHandler{read: read}
}

// Handle checks the filter, works out what the search term is, and returns one page.
func (h ListOrdersHandler) Handle(ctx context.Context, q ListOrders) (OrderList, error) {
	f := OrderFilter{From: q.From, To: q.To, After: q.After, Limit: q.Limit}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > 200 {
		return OrderList{}, invalidField("limit", "must be between 1 and 200")
	}
	if q.Status != "" {
		s, err := order.ParseStatus(q.Status)
		if err != nil {
			return OrderList{}, err
		}
		f.Status = string(s)
	}
	var err error
	if f.OrderNumber, f.Email, f.Phone, err = parseSearch(q.Search); err != nil {
		return OrderList{}, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return OrderList{}, invalidField("to", "must be after from")
	}
	return h.read.ListOrders(ctx, f)
}

// parseSearch tells what a search term is: an order number, an e-mail address (lower-cased) or an
// Indian phone number (E.164); at most one comes back set.
func parseSearch(q string) (number, email, phone string, err error) {
	s := strings.TrimSpace(q)
	if s == "" {
		return "", "", "", nil
	}
	if n, err := order.ParseNumber(s); err == nil {
		return n.String(), "", "", nil
	}
	if strings.Contains(s, "@") {
		e, err := order.NewEmail(s)
		if err != nil {
			return "", "", "", &order.FieldError{Field: "q", Err: err}
		}
		return "", strings.ToLower(e.String()), "", nil
	}
	if p, err := order.NewPhone(s); err == nil {
		return "", "", p.String(), nil
	}
	return "", "", "", invalidField("q", "search by an order number (CB-…), an e-mail address or a phone number")
}

func invalidField(field, msg string) error {
	return &order.FieldError{Field: field, Err: fmt.Errorf("%w: %s", order.ErrInvalidInput, msg)}
}

// AdminOrder asks for one order with everything that happened to it.
type AdminOrder struct {
	OrderID uuid.UUID
}

// AdminOrderView is an order as staff see it: its state, status history, every event, and the
// messages the customer was sent about it.
type AdminOrderView struct {
	OrderView
	Timeline []AuditEvent `json:"timeline"`
	// Notifications are the order's messages, newest first, from the notification log (a read
	// model: one requested a moment ago may not be there yet).
	Notifications []NotificationEntry `json:"notifications"`
}

// AdminOrderHandler answers AdminOrder.
type AdminOrderHandler struct {
	orders  OrderLoader
	auditor EventAuditor
	log     NotificationLogReader
}

// NewAdminOrderHandler wires the handler.
func NewAdminOrderHandler(orders OrderLoader, auditor EventAuditor, log NotificationLogReader) AdminOrderHandler {
	return AdminOrderHandler{orders: orders, auditor: auditor, log: log}
}

// Handle returns the order, its history and its event timeline. Both are read from the order's own
// events, not from the read models, so that a page shown right after an admin's action shows it.
func (h AdminOrderHandler) Handle(ctx context.Context, q AdminOrder) (AdminOrderView, error) {
	o, err := h.orders.Get(ctx, q.OrderID)
	if err != nil {
		return AdminOrderView{}, err
	}
	v := AdminOrderView{OrderView: StaffViewOf(o)}
	if v.Timeline, err = h.auditor.OrderEvents(ctx, q.OrderID); err != nil {
		return AdminOrderView{}, fmt.Errorf("admin order: %w", err)
	}
	if v.History, err = HistoryOf(v.Timeline); err != nil {
		return AdminOrderView{}, err
	}
	page, err := h.log.List(ctx, NotificationFilter{OrderID: q.OrderID, Limit: 200})
	if err != nil {
		return AdminOrderView{}, err
	}
	v.Notifications = page.Notifications
	return v, nil
}

// HistoryOf is the status history of an order's events, oldest first: what the status history
// projection holds, read from the events themselves.
func HistoryOf(events []AuditEvent) ([]StatusChange, error) {
	out := []StatusChange{}
	from := ""
	for _, e := range events {
		to, ok := order.StatusAfter(e.Type)
		if !ok {
			continue
		}
		c := StatusChange{From: from, To: string(to), At: e.OccurredAt.UTC().Format(time.RFC3339Nano), Actor: e.Actor, EventID: e.EventID.String()}
		ev, err := order.DecodeEvent(e.Type, e.Data)
		if err != nil {
			return nil, fmt.Errorf("history of %s v%d: %w", e.Stream, e.StreamVersion, err)
		}
		c.Note = order.HistoryNote(ev)
		out = append(out, c)
		from = string(to)
	}
	return out, nil
}

// OrderHistoryHandler returns an order's status history.
type OrderHistoryHandler struct {
	read OrderReadModel
}

// NewOrderHistoryHandler wires the handler.
func NewOrderHistoryHandler(read OrderReadModel) OrderHistoryHandler {
	return OrderHistoryHandler{read: read}
}

// Handle returns the history, oldest first.
func (h OrderHistoryHandler) Handle(ctx context.Context, orderID uuid.UUID) ([]StatusChange, error) {
	return h.read.StatusHistory(ctx, orderID)
}
