package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// OrderRepository stores orders as event streams in the event store.
type OrderRepository struct {
	store  *EventStore
	recent *RecentOrders // nil: every change reads its stream first
}

var _ order.Repository = (*OrderRepository)(nil)

// NewOrderRepository returns a repository over store that decides changes on the copies recent
// keeps (see RecentOrders); recent may be nil.
func NewOrderRepository(store *EventStore, recent *RecentOrders) *OrderRepository {
	return &OrderRepository{store: store, recent: recent}
}

// Create claims the order's number and appends its first events, in one transaction and, outside a
// caller's transaction, one round trip.
func (r *OrderRepository) Create(ctx context.Context, o *order.Order) error {
	if o.StoredVersion() != 0 {
		return fmt.Errorf("create order %s: it is already stored", o.ID())
	}
	events, err := EncodeOrderEvents(o.Changes())
	if err != nil {
		return fmt.Errorf("create order %s: %w", o.ID(), err)
	}
	if _, err := r.store.AppendWith(ctx, order.StreamID(o.ID()), NoStream, lookupRows(o.ID(), o.Changes()), events...); err != nil {
		return fmt.Errorf("create order %s: %w", o.ID(), err)
	}
	r.stored(ctx, o.ID(), nil, o.Changes())
	o.ClearChanges()
	return nil
}

// Get loads an order from its events.
func (r *OrderRepository) Get(ctx context.Context, id uuid.UUID) (*order.Order, error) {
	_, o, err := r.load(ctx, id)
	return o, err
}

// Recent returns the order as this process's copy of it has it (see RecentOrders), when the copy
// holds at least the first atLeast events of its stream: the state of the order an event is about,
// or later. It reads nothing; without such a copy, or for an atLeast under 1, it reports false.
func (r *OrderRepository) Recent(id uuid.UUID, atLeast int) (*order.Order, bool) {
	if atLeast < 1 {
		return nil, false
	}
	events, ok := r.recent.get(id)
	if !ok || len(events) < atLeast {
		return nil, false
	}
	o, err := order.FromHistory(events)
	if err != nil {
		return nil, false // the copy came from a stream that loaded: not reached
	}
	return o, true
}

// load reads an order's stream, and keeps a copy of it outside a transaction.
func (r *OrderRepository) load(ctx context.Context, id uuid.UUID) ([]order.Event, *order.Order, error) {
	recs, err := r.store.Load(ctx, order.StreamID(id))
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, &order.NotFoundError{ID: id}
	}
	events, err := decodeOrderEvents(recs)
	if err != nil {
		return nil, nil, err
	}
	o, err := order.FromHistory(events)
	if err != nil {
		return nil, nil, err
	}
	r.stored(ctx, id, events, nil)
	return events, o, nil
}

// stored keeps the copy of an order whose stream is history followed by changes, once they are
// committed: outside a transaction they are, in one they may yet be rolled back, and the copy goes.
func (r *OrderRepository) stored(ctx context.Context, id uuid.UUID, history, changes []order.Event) {
	if _, inTx := TxFrom(ctx); inTx {
		r.recent.forget(id)
		return
	}
	r.recent.put(id, append(history[:len(history):len(history)], changes...))
}

// Update loads the order, runs fn and appends what fn recorded at the version it loaded, so that a
// concurrent writer makes one of the two fail with es.ErrConcurrencyConflict. The read needs no
// transaction of its own: the versioned append is what keeps the decision safe. Outside a
// transaction, an order with a recent copy is decided on the copy first (see RecentOrders); fn may
// then run twice, and must do nothing but decide.
func (r *OrderRepository) Update(ctx context.Context, id uuid.UUID, fn func(o *order.Order) error) error {
	if _, inTx := TxFrom(ctx); !inTx {
		if history, ok := r.recent.get(id); ok {
			if done, err := r.update(ctx, id, history, fn); done {
				return err
			}
			r.recent.forget(id)
		}
	}
	history, _, err := r.load(ctx, id)
	if err != nil {
		return err
	}
	_, err = r.update(ctx, id, history, fn)
	return err
}

// update decides a change on history and appends it at history's version. It reports whether the
// outcome stands: a decision on a copy that stored nothing, or whose append conflicted, is to be
// made again on the stored stream.
func (r *OrderRepository) update(ctx context.Context, id uuid.UUID, history []order.Event, fn func(o *order.Order) error) (bool, error) {
	o, err := order.FromHistory(history)
	if err != nil {
		return true, fmt.Errorf("update order %s: %w", id, err)
	}
	if err := fn(o); err != nil {
		return false, err
	}
	changes := o.Changes()
	if len(changes) == 0 {
		return false, nil
	}
	events, err := EncodeOrderEvents(changes)
	if err != nil {
		return true, fmt.Errorf("update order %s: %w", id, err)
	}
	if _, err := r.store.AppendWith(ctx, order.StreamID(id), o.StoredVersion(), lookupRows(id, changes), events...); err != nil {
		return !IsConflict(err), fmt.Errorf("update order %s: %w", id, err)
	}
	r.stored(ctx, id, history, changes)
	o.ClearChanges()
	return true, nil
}

// lookupRows are the rows that let an order be found by its number or its gateway order, written in
// the same transaction and round trip as the events that introduce them.
func lookupRows(id uuid.UUID, changes []order.Event) []Statement {
	var out []Statement
	for _, e := range changes {
		switch e := e.(type) {
		case order.OrderPlaced:
			out = append(out, Statement{
				SQL:               `INSERT INTO order_numbers (order_number, order_id) VALUES ($1, $2)`,
				Args:              []any{e.OrderNumber, id},
				OnUniqueViolation: fmt.Errorf("%w: %s", order.ErrNumberTaken, e.OrderNumber),
			})
		case order.PaymentRequested:
			out = append(out, Statement{
				SQL:  `INSERT INTO payment_requests (gateway_order_id, order_id) VALUES ($1, $2)`,
				Args: []any{e.GatewayOrderID, id},
				OnUniqueViolation: fmt.Errorf("%w: gateway order %s belongs to another order",
					order.ErrPaymentMismatch, e.GatewayOrderID),
			})
		}
	}
	return out
}

// OrderIDByGatewayOrder finds the order a gateway order was created for.
func (r *OrderRepository) OrderIDByGatewayOrder(ctx context.Context, gatewayOrderID string) (uuid.UUID, error) {
	var id uuid.UUID
	err := r.store.db.Q(ctx).QueryRow(ctx, `SELECT order_id FROM payment_requests WHERE gateway_order_id = $1`, gatewayOrderID).Scan(&id)
	if isNoRows(err) {
		return uuid.Nil, fmt.Errorf("gateway order %q: %w", gatewayOrderID, order.ErrNotFound)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("find gateway order: %w", err)
	}
	return id, nil
}

// IDByNumber finds an order's id from its human number.
func (r *OrderRepository) IDByNumber(ctx context.Context, n order.Number) (uuid.UUID, error) {
	var id uuid.UUID
	err := r.store.db.Q(ctx).QueryRow(ctx, `SELECT order_id FROM order_numbers WHERE order_number = $1`, n.String()).Scan(&id)
	if err != nil {
		if isNoRows(err) {
			return uuid.Nil, fmt.Errorf("order %s: %w", n, order.ErrNotFound)
		}
		return uuid.Nil, fmt.Errorf("find order %s: %w", n, err)
	}
	return id, nil
}

// EncodeOrderEvents turns recorded order events into events to append.
func EncodeOrderEvents(events []order.Event) ([]NewEvent, error) { return encodeEvents(events) }

// encodeEvents turns an aggregate's recorded events, of any kind, into events to append.
func encodeEvents[E interface{ EventType() string }](events []E) ([]NewEvent, error) {
	out := make([]NewEvent, len(events))
	for i, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		out[i] = NewEvent{Type: e.EventType(), SchemaVersion: SchemaVersionOf(e.EventType()), Data: data}
	}
	return out, nil
}

// SchemaVersionOf reads the version suffix of a type name: "order.shipped.v2" is 2.
func SchemaVersionOf(eventType string) int {
	i := strings.LastIndex(eventType, ".v")
	if i < 0 {
		return 1
	}
	v, err := strconv.Atoi(eventType[i+2:])
	if err != nil || v < 1 {
		return 1
	}
	return v
}

// OrderFromEvents decodes a stream and rebuilds the order.
func OrderFromEvents(recs []RecordedEvent) (*order.Order, error) {
	events, err := decodeOrderEvents(recs)
	if err != nil {
		return nil, err
	}
	return order.FromHistory(events)
}

func decodeOrderEvents(recs []RecordedEvent) ([]order.Event, error) {
	events := make([]order.Event, len(recs))
	for i, r := range recs {
		e, err := order.DecodeEvent(r.Type, r.Data)
		if err != nil {
			return nil, fmt.Errorf("%s v%d: %w", r.StreamID, r.StreamVersion, err)
		}
		events[i] = e
	}
	return events, nil
}

// IsConflict reports whether err is a concurrency conflict.
func IsConflict(err error) bool { return errors.Is(err, es.ErrConcurrencyConflict) }
