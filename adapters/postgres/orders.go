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
	store *EventStore
}

var _ order.Repository = (*OrderRepository)(nil)

// NewOrderRepository returns a repository over store.
func NewOrderRepository(store *EventStore) *OrderRepository {
	return &OrderRepository{store: store}
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
	claim := Statement{
		SQL:               `INSERT INTO order_numbers (order_number, order_id) VALUES ($1, $2)`,
		Args:              []any{o.Number().String(), o.ID()},
		OnUniqueViolation: fmt.Errorf("%w: %s", order.ErrNumberTaken, o.Number()),
	}
	if _, err := r.store.AppendWith(ctx, order.StreamID(o.ID()), NoStream, []Statement{claim}, events...); err != nil {
		return fmt.Errorf("create order %s: %w", o.ID(), err)
	}
	o.ClearChanges()
	return nil
}

// Get loads an order from its events.
func (r *OrderRepository) Get(ctx context.Context, id uuid.UUID) (*order.Order, error) {
	recs, err := r.store.Load(ctx, order.StreamID(id))
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, &order.NotFoundError{ID: id}
	}
	return OrderFromEvents(recs)
}

// Update loads the order, runs fn and appends what fn recorded at the version it loaded, so that a
// concurrent writer makes one of the two fail with es.ErrConcurrencyConflict. The read needs no
// transaction of its own: the versioned append is what keeps the decision safe.
func (r *OrderRepository) Update(ctx context.Context, id uuid.UUID, fn func(o *order.Order) error) error {
	o, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := fn(o); err != nil {
		return err
	}
	changes := o.Changes()
	if len(changes) == 0 {
		return nil
	}
	events, err := EncodeOrderEvents(changes)
	if err != nil {
		return fmt.Errorf("update order %s: %w", id, err)
	}
	if _, err := r.store.Append(ctx, order.StreamID(id), o.StoredVersion(), events...); err != nil {
		return fmt.Errorf("update order %s: %w", id, err)
	}
	o.ClearChanges()
	return nil
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
func EncodeOrderEvents(events []order.Event) ([]NewEvent, error) {
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
	events := make([]order.Event, len(recs))
	for i, r := range recs {
		e, err := order.DecodeEvent(r.Type, r.Data)
		if err != nil {
			return nil, fmt.Errorf("%s v%d: %w", r.StreamID, r.StreamVersion, err)
		}
		events[i] = e
	}
	return order.FromHistory(events)
}

// IsConflict reports whether err is a concurrency conflict.
func IsConflict(err error) bool { return errors.Is(err, es.ErrConcurrencyConflict) }
