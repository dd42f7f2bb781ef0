package order

// Status is where an order is in its lifecycle.
type Status string

// The statuses, and the events that move an order into each, are in docs/ARCHITECTURE.md.
const (
	StatusPlaced         Status = "placed"
	StatusPaid           Status = "paid"
	StatusConfirmed      Status = "confirmed"
	StatusShipped        Status = "shipped"
	StatusOutForDelivery Status = "out_for_delivery"
	StatusDelivered      Status = "delivered"
	StatusCancelled      Status = "cancelled"
	StatusRefundPending  Status = "refund_pending"
	StatusRefunded       Status = "refunded"
)

// Statuses lists every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusPlaced, StatusPaid, StatusConfirmed, StatusShipped, StatusOutForDelivery,
		StatusDelivered, StatusCancelled, StatusRefundPending, StatusRefunded}
}

// ParseStatus returns the status named s, or an error naming the valid ones.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", invalid("status", "unknown status %q", s)
}

func (s Status) String() string { return string(s) }

// Shipped reports whether the order has left the warehouse.
func (s Status) Shipped() bool {
	return s == StatusShipped || s == StatusOutForDelivery || s == StatusDelivered
}
