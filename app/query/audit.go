package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

// AuditFilter selects events for an audit. Zero fields do not filter.
type AuditFilter struct {
	OrderID       uuid.UUID
	OrderNumber   string
	Stream        string
	Type          string
	Actor         string
	CorrelationID string
	From, To      time.Time // recorded time, From inclusive, To exclusive
	After         string    // cursor from the previous page
	Limit         int       // 1..1000, default 100
	// Newest pages from the latest committed event back (After then names the page's oldest),
	// instead of in commit order.
	Newest bool
}

// AuditEvent is one stored event as an auditor sees it.
type AuditEvent struct {
	Position      int64           `json:"position"`
	Stream        string          `json:"stream"`
	StreamVersion int             `json:"stream_version"`
	EventID       uuid.UUID       `json:"event_id"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
	Actor         string          `json:"actor"`
	CorrelationID string          `json:"correlation_id"`
	CausationID   string          `json:"causation_id,omitempty"`
	OccurredAt    time.Time       `json:"occurred_at"`
	RecordedAt    time.Time       `json:"recorded_at"`
}

// AuditPage is one page of events in commit order. Next is the cursor after its last event, to ask
// for the following page (or, on the last page, for events appended since); HasMore says whether
// more events were readable already.
type AuditPage struct {
	Events  []AuditEvent `json:"events"`
	Next    string       `json:"next,omitempty"`
	HasMore bool         `json:"has_more"`
}

// EventAuditor reads the event store for audits.
type EventAuditor interface {
	Audit(ctx context.Context, f AuditFilter) (AuditPage, error)
	// OrderAsOf rebuilds the order from the events recorded up to t: NotYetError when it was placed
	// after t, NotFoundError when there is no such order.
	OrderAsOf(ctx context.Context, id uuid.UUID, t time.Time) (*order.Order, error)
	// OrderIDByNumber finds an order's id from its number.
	OrderIDByNumber(ctx context.Context, n order.Number) (uuid.UUID, error)
	// OrderEvents returns every event of the order's stream, the latest included (Audit stops at
	// the oldest transaction still running, which a page shown right after a change must not).
	OrderEvents(ctx context.Context, id uuid.UUID) ([]AuditEvent, error)
	// StreamEvents returns every event of a stream, the latest included; none for an unknown one.
	StreamEvents(ctx context.Context, stream string) ([]AuditEvent, error)
}

// AuditEventsHandler answers audit queries.
type AuditEventsHandler struct {
	auditor EventAuditor
}

// NewAuditEventsHandler wires the handler.
func NewAuditEventsHandler(a EventAuditor) AuditEventsHandler { return AuditEventsHandler{auditor: a} }

// Check refuses a filter no page can answer (a zero Limit takes the default). Handle checks it
// too; the CLI checks it before it opens the database.
func (f AuditFilter) Check() error {
	if f.Limit != 0 && (f.Limit < 1 || f.Limit > 1000) {
		return &order.FieldError{Field: "limit", Err: fmt.Errorf("%w: must be between 1 and 1000", order.ErrInvalidInput)}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return &order.FieldError{Field: "to", Err: fmt.Errorf("%w: must be after from", order.ErrInvalidInput)}
	}
	if f.OrderNumber != "" {
		if _, err := order.ParseNumber(f.OrderNumber); err != nil {
			return &order.FieldError{Field: "order", Err: err}
		}
	}
	return nil
}

// Handle checks the filter and returns one page.
func (h AuditEventsHandler) Handle(ctx context.Context, f AuditFilter) (AuditPage, error) {
	if err := f.Check(); err != nil {
		return AuditPage{}, err
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	if f.OrderNumber != "" {
		n, err := order.ParseNumber(f.OrderNumber)
		if err != nil {
			return AuditPage{}, &order.FieldError{Field: "order", Err: err}
		}
		if f.OrderID, err = h.auditor.OrderIDByNumber(ctx, n); err != nil {
			return AuditPage{}, err
		}
	}
	return h.auditor.Audit(ctx, f)
}

// OrderAsOf asks for an order as it stood at a time.
type OrderAsOf struct {
	OrderID     uuid.UUID
	OrderNumber string
	At          time.Time
}

// OrderAsOfHandler folds an order's events up to a time.
type OrderAsOfHandler struct {
	auditor EventAuditor
}

// NewOrderAsOfHandler wires the handler.
func NewOrderAsOfHandler(a EventAuditor) OrderAsOfHandler { return OrderAsOfHandler{auditor: a} }

// Handle returns the order's view as of q.At.
func (h OrderAsOfHandler) Handle(ctx context.Context, q OrderAsOf) (OrderView, error) {
	id := q.OrderID
	if q.OrderNumber != "" {
		n, err := order.ParseNumber(q.OrderNumber)
		if err != nil {
			return OrderView{}, &order.FieldError{Field: "order", Err: err}
		}
		if id, err = h.auditor.OrderIDByNumber(ctx, n); err != nil {
			return OrderView{}, err
		}
	}
	o, err := h.auditor.OrderAsOf(ctx, id, q.At)
	var notYet *order.NotYetError
	if errors.As(err, &notYet) && q.OrderNumber != "" {
		notYet.Number = q.OrderNumber // as the caller knows the order
	}
	if err != nil {
		return OrderView{}, err
	}
	return StaffViewOf(o), nil
}
