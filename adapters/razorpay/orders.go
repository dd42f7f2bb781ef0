package razorpay

import (
	"context"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// Limits the Razorpay API documents.
const (
	MinAmountPaise   = 100 // ₹1.00
	MaxReceiptLength = 40  // characters
	MaxNotes         = 15
	MaxNoteLength    = 256 // characters per key or value
)

// CreateOrderRequest is an order to create. Receipt must be unique per order: Razorpay has no
// idempotency header for orders, so the receipt is how a retry finds an order a timed-out call
// may have created.
type CreateOrderRequest struct {
	AmountPaise int64
	Currency    string // default INR, the only currency the contract covers
	Receipt     string // 1 to 40 characters, unique per order
	Notes       map[string]string
}

type createOrderBody struct {
	Amount   int64             `json:"amount"`
	Currency string            `json:"currency"`
	Receipt  string            `json:"receipt"`
	Notes    map[string]string `json:"notes,omitempty"`
}

// CreateOrder creates the Razorpay order the customer pays. The request is checked locally first;
// a *ValidationError means nothing was sent.
//
// After an error wrapping ErrUnreachable the order may exist: call FindOrderByReceipt before
// creating it again.
func (c *Client) CreateOrder(ctx context.Context, req CreateOrderRequest) (Order, error) {
	const op = OpCreateOrder
	if req.Currency == "" {
		req.Currency = "INR"
	}
	switch {
	case req.AmountPaise < MinAmountPaise:
		return Order{}, invalid(op, "amount", "%d paise is under the minimum of %d", req.AmountPaise, MinAmountPaise)
	case req.Currency != "INR":
		return Order{}, invalid(op, "currency", "%q is not INR", clip(req.Currency))
	}
	if err := checkReceipt(op, req.Receipt, true); err != nil {
		return Order{}, err
	}
	if err := checkNotes(op, req.Notes); err != nil {
		return Order{}, err
	}
	status, raw, err := c.call(ctx, op, http.MethodPost, "/v1/orders", nil,
		createOrderBody{Amount: req.AmountPaise, Currency: req.Currency, Receipt: req.Receipt, Notes: req.Notes}, nil)
	if err != nil {
		return Order{}, err
	}
	return decodeOrder(op, status, raw)
}

// FindOrderByReceipt returns the order created with receipt, or nil when there is none. It is how
// a caller learns whether a create that timed out went through.
//
// Orders whose receipt differs are ignored, in case the filter was not applied. If several orders
// share the receipt (which Razorpay does not prevent), the earliest created is returned, so repeated
// look-ups agree.
func (c *Client) FindOrderByReceipt(ctx context.Context, receipt string) (*Order, error) {
	const op = OpFindOrder
	if err := checkReceipt(op, receipt, true); err != nil {
		return nil, err
	}
	status, raw, err := c.call(ctx, op, http.MethodGet, "/v1/orders", url.Values{"receipt": {receipt}}, nil, nil)
	if err != nil {
		return nil, err
	}
	var coll struct {
		Entity string  `json:"entity"`
		Count  int     `json:"count"`
		Items  []Order `json:"items"`
	}
	if err := decode(op, status, raw, &coll); err != nil {
		return nil, err
	}
	if coll.Entity != "collection" {
		return nil, &ResponseError{Op: op, StatusCode: status, Body: raw, Err: errEntity("collection", coll.Entity)}
	}
	var found *Order
	for i := range coll.Items {
		o := &coll.Items[i]
		if o.Receipt != receipt || o.ID == "" {
			continue
		}
		if found == nil || o.CreatedAt < found.CreatedAt {
			found = o
		}
	}
	if found == nil {
		return nil, nil
	}
	found.Raw = raw
	return found, nil
}

// FetchOrder returns the order with the given Razorpay id (order_…).
func (c *Client) FetchOrder(ctx context.Context, id string) (Order, error) {
	const op = OpFetchOrder
	if err := checkID(op, "id", id); err != nil {
		return Order{}, err
	}
	status, raw, err := c.call(ctx, op, http.MethodGet, "/v1/orders/"+id, nil, nil, nil)
	if err != nil {
		return Order{}, err
	}
	return decodeOrder(op, status, raw)
}

func decodeOrder(op string, status int, raw []byte) (Order, error) {
	var o Order
	if err := decode(op, status, raw, &o); err != nil {
		return Order{}, err
	}
	if o.Entity != "order" || o.ID == "" {
		return Order{}, &ResponseError{Op: op, StatusCode: status, Body: raw, Err: errEntity("order", o.Entity)}
	}
	o.Raw = raw
	return o, nil
}

func checkReceipt(op, receipt string, required bool) error {
	n := utf8.RuneCountInString(receipt)
	switch {
	case n == 0 && required:
		return invalid(op, "receipt", "missing")
	case n > MaxReceiptLength:
		return invalid(op, "receipt", "%d characters, at most %d allowed", n, MaxReceiptLength)
	case !utf8.ValidString(receipt):
		return invalid(op, "receipt", "not valid UTF-8")
	}
	return nil
}

func checkNotes(op string, notes map[string]string) error {
	if len(notes) > MaxNotes {
		return invalid(op, "notes", "%d pairs, at most %d allowed", len(notes), MaxNotes)
	}
	for k, v := range notes {
		if k == "" {
			return invalid(op, "notes", "empty key")
		}
		if utf8.RuneCountInString(k) > MaxNoteLength || utf8.RuneCountInString(v) > MaxNoteLength {
			return invalid(op, "notes", "%q: keys and values are at most %d characters", clip(k), MaxNoteLength)
		}
	}
	return nil
}

// checkID accepts what Razorpay ids look like (order_…, pay_…), which also keeps an id from
// changing the request path.
func checkID(op, field, id string) error {
	if id == "" {
		return invalid(op, field, "missing")
	}
	if len(id) > 64 {
		return invalid(op, field, "%d characters, not a Razorpay id", len(id))
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_') {
			return invalid(op, field, "%q is not a Razorpay id", clip(id))
		}
	}
	return nil
}
