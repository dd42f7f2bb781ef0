package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/ports/events"
)

// TestEveryCatalogueEventHasARequestHandler hands a message of each event of the notification
// catalogue to its handler, as the router would, and finds the event's e-mail and SMS requested.
// A row whose event had no handler would fail here at once rather than by a test's timeout.
func TestEveryCatalogueEventHasARequestHandler(t *testing.T) {
	db := pgtest.NewDB(t, 4)
	store := postgres.NewEventStore(db)
	orders := postgres.NewOrderRepository(store, nil)
	notifs := postgres.NewNotificationRepository(store)
	ctx := context.Background()
	o := newOrder(t)
	if err := orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	h := command.NewRequestNotificationsHandler(postgres.NewRequestBatches(store, orders, notifs, events.RequestLoadsOrder), command.ShopInfo{Name: "CertiBuy", SupportEmail: "support@certibuy.in"})
	handlers := map[string]cqrs.GroupEventHandler{}
	for _, hd := range events.RequestHandlers(h) {
		handlers[events.Marshaler{}.Name(hd.NewEvent())] = hd
	}
	for _, k := range notification.Catalogue() {
		for _, eventType := range k.On {
			hd, ok := handlers[eventType]
			if !ok {
				t.Errorf("no request handler for %s (%s)", eventType, k.Type)
				continue
			}
			zero, err := order.DecodeEvent(eventType, []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			// Named after the event's Go type, as the hand-written handlers were.
			if name := hd.(events.RequestHandler).Name(); name != "RequestNotificationsOn"+strings.TrimPrefix(fmt.Sprintf("%T", zero), "order.") {
				t.Errorf("handler of %s is named %q", eventType, name)
			}
			payload, _ := json.Marshal(zero)
			eventID := uuid.New()
			msg := message.NewMessage(eventID.String(), payload)
			msg.Metadata.Set(es.MsgType, eventType)
			msg.Metadata.Set(es.MsgStream, order.StreamID(o.ID()))
			ev := hd.NewEvent()
			if err := (events.Marshaler{}).Unmarshal(msg, ev); err != nil {
				t.Fatalf("%s: %v", eventType, err)
			}
			if err := hd.Handle(cqrs.CtxWithOriginalMessage(ctx, msg), ev); err != nil {
				t.Fatalf("%s: %v", eventType, err)
			}
			for _, ch := range notification.Channels() {
				n, err := notifs.Get(ctx, notification.StreamID(eventID, ch))
				if err != nil {
					t.Fatalf("%s: %s notification: %v", eventType, ch, err)
				}
				if r := n.Request(); r.Type != k.Type || r.Data.OrderNumber != o.Number().String() {
					t.Errorf("%s: %s notification requested %s for %q", eventType, ch, r.Type, r.Data.OrderNumber)
				}
			}
		}
	}
}

func newOrder(t *testing.T) *order.Order {
	t.Helper()
	email, _ := order.NewEmail("asha@example.in")
	phone, _ := order.NewPhone("9876543210")
	num, err := order.ParseNumber("CB-7K3M9Q2X")
	if err != nil {
		t.Fatal(err)
	}
	price, _ := order.NewMoney(129900)
	o, err := order.Place(order.PlaceInput{ID: uuid.New(), Number: num,
		Customer: order.Customer{Name: "Asha Rao", Email: email, Phone: phone},
		Lines:    []order.Line{{SKU: "TEA-1", Name: "Assam tea 500g", Quantity: 1, UnitPrice: price}},
		Address:  order.Address{Line1: "12 MG Road", City: "Bengaluru", State: "Karnataka", Pincode: "560001"}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}
