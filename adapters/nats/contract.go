// Package nats forwards the event store to NATS JetStream for other services (warehouse,
// accounting, analytics): the public event contract (which fields of which event are published), the
// stream's set-up, and the publisher the forwarder in adapters/postgres calls.
package nats

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

// Fields classifies every field of one event type's payload (its top-level JSON keys): Published are
// sent to JetStream as stored, Withheld never leave the service. Withheld holds every field that
// is, or may hold, personal data (names, e-mail addresses, phone numbers, addresses, free text a
// person or a provider wrote): a consumer that needs them asks the API with the order id, so that
// erasing a customer here erases them everywhere.
type Fields struct {
	Published []string
	Withheld  []string
}

// Contract returns the classification of every event type the store may hold, old versions
// included, by stored type name. A type missing here is published with an empty body (its headers
// still say what happened to which stream); a test fails while any type or field is unclassified.
func Contract() map[string]Fields {
	f := func(published []string, withheld ...string) Fields {
		return Fields{Published: published, Withheld: withheld}
	}
	none := []string{}
	return map[string]Fields{
		// The customer and the address are personal; the lines, the total and the number are what
		// the warehouse and accounting need.
		order.TypeOrderPlaced:      f([]string{"order_id", "order_number", "items", "total_paise", "currency"}, "customer", "shipping_address"),
		order.TypePaymentRequested: f([]string{"gateway", "gateway_order_id", "amount_paise"}),
		order.TypePaymentSucceeded: f([]string{"gateway", "gateway_order_id", "payment_id", "amount_paise", "method", "currency"}),
		// The gateway's reason may quote the customer's card holder or bank text.
		order.TypePaymentFailed:       f([]string{"gateway_order_id", "payment_id", "code"}, "reason"),
		order.TypeOrderConfirmed:      f(none),
		order.TypeOrderShipped:        f([]string{"carrier", "tracking_id", "tracking_url"}),
		order.TypeOrderShippedV1:      f([]string{"carrier", "tracking_id"}), // published as v2 after upcasting
		order.TypeOrderOutForDelivery: f(none),
		order.TypeOrderDelivered:      f(none),
		// The reason is free text a customer or an admin typed.
		order.TypeOrderCancelled:            f(none, "reason"),
		order.TypeRefundInitiated:           f([]string{"refund_id", "amount_paise"}),
		order.TypeRefundProcessed:           f([]string{"refund_id", "amount_paise", "arn"}),
		order.TypeRefundFailed:              f([]string{"refund_id"}, "reason"),
		order.TypeUnexpectedPaymentReceived: f([]string{"gateway", "gateway_order_id", "payment_id", "amount_paise", "method", "currency", "cause"}, "reason"),
		order.TypeUnexpectedRefundInitiated: f([]string{"payment_id", "refund_id", "amount_paise"}),
		order.TypeUnexpectedRefundProcessed: f([]string{"payment_id", "refund_id", "amount_paise", "arn"}),
		order.TypeUnexpectedRefundFailed:    f([]string{"payment_id", "refund_id"}, "reason"),

		// A notification names its order; the recipient and the message's data (the customer's
		// name, the address) stay here, as do providers' answers, which may quote the recipient.
		notification.TypeRequested: f([]string{"order_id", "order_number", "order_event_id", "order_event_type", "notification_type", "channel"},
			"recipient", "data"),
		notification.TypeDeliveryStarted:   f([]string{"attempt", "provider"}), // no longer written
		notification.TypeDeliveryAttempted: f([]string{"attempt", "provider", "provider_message_id", "outcome", "duration_ms", "refused_by"}, "response", "error"),
		notification.TypeSent:              f([]string{"provider", "provider_message_id", "message_id", "attempts"}),
		notification.TypeFailed:            f([]string{"attempts"}, "last_error"),
		notification.TypeResent:            f([]string{"by"}),
		notification.TypeDelivered:         f([]string{"attempt", "provider", "request_id", "status", "reported_at"}, "description", "reason"),
		notification.TypeUndelivered:       f([]string{"attempt", "provider", "request_id", "status", "reported_at", "rejected"}, "description", "reason"),
		notification.TypeRerouted:          f([]string{"from", "to"}),
	}
}

// Public is an event as other services see it: its current type (older versions upcast) and the
// published fields of its payload.
type Public struct {
	Type string
	Body json.RawMessage
}

// PublicEvent upcasts a stored event to its current version and keeps the published fields only.
func PublicEvent(contract map[string]Fields, storedType string, data []byte) (Public, error) {
	typ, data := storedType, data
	if strings.HasPrefix(storedType, "order.") {
		var err error
		if typ, data, err = order.Upcast(storedType, data); err != nil {
			return Public{}, fmt.Errorf("public event %s: %w", storedType, err)
		}
	}
	fields := contract[typ]
	var all map[string]json.RawMessage
	if len(data) > 0 && string(data) != "null" {
		if err := json.Unmarshal(data, &all); err != nil {
			return Public{}, fmt.Errorf("public event %s: %w", storedType, err)
		}
	}
	out := make(map[string]json.RawMessage, len(fields.Published))
	for _, k := range fields.Published {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return Public{}, fmt.Errorf("public event %s: %w", storedType, err)
	}
	return Public{Type: typ, Body: body}, nil
}

// Subject is the subject an event of (current) type typ on stream streamID goes to:
// <prefix>.<stream category>.<type without its version, dots as underscores>, such as
// certibuy.order.order_shipped. The version is left out so that a consumer's filter outlives a new
// version; the type header carries it.
func Subject(prefix, streamID, typ string) string {
	category, _, _ := strings.Cut(streamID, "-")
	name := typ
	if i := strings.LastIndex(name, ".v"); i > 0 {
		name = name[:i]
	}
	return prefix + "." + token(category) + "." + token(strings.ReplaceAll(name, ".", "_"))
}

// token keeps a subject token to the characters every NATS client accepts.
func token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, s)
}
