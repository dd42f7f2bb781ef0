package razorpay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Order statuses as Razorpay reports them.
const (
	OrderCreated   = "created"
	OrderAttempted = "attempted"
	OrderPaid      = "paid"
)

// Refund statuses. "processed" and "failed" are final; refund.processed is the final word.
const (
	RefundPending   = "pending"
	RefundProcessed = "processed"
	RefundFailed    = "failed"
)

// Refund speeds.
const (
	SpeedNormal  = "normal"
	SpeedOptimum = "optimum"
)

// Notes are the key-value pairs (at most 15) Razorpay keeps on an entity.
//
// Razorpay sends an empty set as [] rather than {}, and a value set through the dashboard may be a
// number or a boolean; all of these decode (numbers and booleans as their JSON text).
type Notes map[string]string

// UnmarshalJSON accepts an object, null, or an empty array.
func (n *Notes) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = nil
		return nil
	}
	if isEmptyArray(b) {
		*n = Notes{}
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("notes: want an object: %w", err)
	}
	out := make(Notes, len(raw))
	for k, v := range raw {
		var s string
		switch {
		case json.Unmarshal(v, &s) == nil:
			out[k] = s
		case bytes.Equal(bytes.TrimSpace(v), []byte("null")):
			out[k] = ""
		default:
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return fmt.Errorf("notes[%q]: %w", k, err)
			}
			out[k] = buf.String()
		}
	}
	*n = out
	return nil
}

func isEmptyArray(b []byte) bool {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return false
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}

// Order is Razorpay's order entity: what the customer is asked to pay.
type Order struct {
	ID         string `json:"id"`
	Entity     string `json:"entity"`
	Amount     int64  `json:"amount"` // paise
	AmountPaid int64  `json:"amount_paid"`
	AmountDue  int64  `json:"amount_due"`
	Currency   string `json:"currency"`
	Receipt    string `json:"receipt"`
	Status     string `json:"status"` // created, attempted or paid
	Attempts   int64  `json:"attempts"`
	Notes      Notes  `json:"notes"`
	CreatedAt  int64  `json:"created_at"` // Unix seconds

	// Raw is the body of the HTTP response this order came from, for the provider log. For
	// FindOrderByReceipt that is the whole collection.
	Raw []byte `json:"-"`
}

// AcquirerData is what the bank reports about a refund: the ARN lets a customer trace a card
// refund with their bank, the RRN a UPI one.
type AcquirerData struct {
	ARN string `json:"arn"`
	RRN string `json:"rrn"`
}

// UnmarshalJSON accepts an object, null, or an empty array (Razorpay's empty object).
func (a *AcquirerData) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) || isEmptyArray(b) {
		*a = AcquirerData{}
		return nil
	}
	type plain AcquirerData // no UnmarshalJSON: avoids recursing
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("acquirer_data: %w", err)
	}
	*a = AcquirerData(p)
	return nil
}

// Refund is Razorpay's refund entity.
type Refund struct {
	ID             string       `json:"id"`
	Entity         string       `json:"entity"`
	Amount         int64        `json:"amount"` // paise
	Currency       string       `json:"currency"`
	PaymentID      string       `json:"payment_id"`
	Receipt        string       `json:"receipt"`
	Notes          Notes        `json:"notes"`
	Status         string       `json:"status"` // pending, processed or failed
	SpeedProcessed string       `json:"speed_processed"`
	SpeedRequested string       `json:"speed_requested"`
	AcquirerData   AcquirerData `json:"acquirer_data"`
	CreatedAt      int64        `json:"created_at"` // Unix seconds

	// Raw is the body of the HTTP response this refund came from, for the provider log. It is nil
	// for a refund decoded from a webhook: the webhook body is the raw record there.
	Raw []byte `json:"-"`
}

// RefundEntity is the refund entity as a webhook carries it; it is the same shape as Refund.
type RefundEntity = Refund

// PaymentEntity is Razorpay's payment entity as a webhook carries it.
type PaymentEntity struct {
	ID               string `json:"id"`
	Entity           string `json:"entity"`
	Amount           int64  `json:"amount"` // paise
	Currency         string `json:"currency"`
	Status           string `json:"status"` // created, authorized, captured, refunded or failed
	OrderID          string `json:"order_id"`
	Method           string `json:"method"` // card, netbanking, wallet, emi, upi
	Captured         bool   `json:"captured"`
	AmountRefunded   int64  `json:"amount_refunded"`
	RefundStatus     string `json:"refund_status"` // "", partial or full
	Email            string `json:"email"`
	Contact          string `json:"contact"` // a phone number: log it masked (see LogValue)
	Notes            Notes  `json:"notes"`
	ErrorCode        string `json:"error_code"`
	ErrorDescription string `json:"error_description"`
	ErrorSource      string `json:"error_source"`
	ErrorStep        string `json:"error_step"`
	ErrorReason      string `json:"error_reason"`
	CreatedAt        int64  `json:"created_at"` // Unix seconds
}

// LogValue keeps the customer's phone number and e-mail out of logs.
func (p PaymentEntity) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", p.ID),
		slog.String("order_id", p.OrderID),
		slog.String("status", p.Status),
		slog.Int64("amount", p.Amount),
		slog.String("method", p.Method),
		slog.String("contact", maskTail(p.Contact)),
		slog.String("email", maskEmail(p.Email)),
	}
	if p.ErrorCode != "" {
		attrs = append(attrs, slog.String("error_code", p.ErrorCode), slog.String("error_description", p.ErrorDescription))
	}
	return slog.GroupValue(attrs...)
}

// maskTail hides all but the last four characters.
func maskTail(s string) string {
	if len(s) <= 4 {
		return strings.Repeat("*", len(s))
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}

// maskEmail keeps the first character of the local part and the domain.
func maskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return maskTail(s)
	}
	return s[:1] + "***" + s[at:]
}
