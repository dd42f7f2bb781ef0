package order

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Older event type names still found in the store. Stored events are never rewritten: Upcast turns
// them into the current shape when they are read.
const (
	TypeOrderShippedV1 = "order.shipped.v1"
)

// EventType describes one stored type name.
type EventType struct {
	Name    string
	Version int
	// Current is the name this type is read as: itself for a current type, the newer name for an old one.
	Current string
}

// EventTypes lists every order event type the store may hold, old versions included.
func EventTypes() []EventType {
	current := []string{TypeOrderPlaced, TypePaymentRequested, TypePaymentSucceeded, TypePaymentFailed,
		TypeOrderConfirmed, TypeOrderShipped, TypeOrderOutForDelivery, TypeOrderDelivered, TypeOrderCancelled,
		TypeRefundInitiated, TypeRefundProcessed, TypeRefundFailed, TypeUnexpectedPaymentReceived,
		TypeUnexpectedRefundInitiated, TypeUnexpectedRefundProcessed, TypeUnexpectedRefundFailed}
	out := make([]EventType, 0, len(current)+1)
	for _, t := range current {
		out = append(out, EventType{Name: t, Version: versionOf(t), Current: t})
	}
	return append(out, EventType{Name: TypeOrderShippedV1, Version: 1, Current: TypeOrderShipped})
}

// CurrentType is the name an event of stored type t is read as.
func CurrentType(t string) string {
	if t == TypeOrderShippedV1 {
		return TypeOrderShipped
	}
	return t
}

func versionOf(t string) int {
	var v int
	if i := strings.LastIndex(t, ".v"); i >= 0 {
		fmt.Sscanf(t[i+2:], "%d", &v)
	}
	return v
}

// Upcast turns a payload of an older version into the current one, one version step at a time. A
// current payload comes back unchanged.
func Upcast(eventType string, data []byte) (string, []byte, error) {
	switch eventType {
	case TypeOrderShippedV1:
		var v1 struct {
			Carrier    string `json:"carrier"`
			TrackingID string `json:"tracking_id"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return "", nil, fmt.Errorf("upcast %s: %w", eventType, err)
		}
		v2, err := json.Marshal(OrderShipped{Carrier: v1.Carrier, TrackingID: v1.TrackingID, TrackingURL: TrackingURL(v1.Carrier, v1.TrackingID)})
		if err != nil {
			return "", nil, fmt.Errorf("upcast %s: %w", eventType, err)
		}
		return TypeOrderShipped, v2, nil
	}
	return eventType, data, nil
}
