package postgres

import (
	"container/list"
	"sync"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

// RecentOrders keeps the events of the orders this process stored or loaded last, so that an
// OrderRepository decides the next change to one of them without reading its stream again: the
// change then costs one round trip, its append, instead of two. For a change, a copy is never trusted for more
// than a decision: the append is made at the copy's version, so a copy that another process has
// overtaken fails it with a conflict and the change is decided again on the stream as stored; a
// decision that stores nothing (an error, or no change) is made again on the stored stream too,
// since a stale copy could have caused it. Only what committed is kept: changes made in a caller's
// transaction drop the order's copy instead. The request writer also describes an order from its
// copy (OrderRepository.Recent), but only a copy that holds the event being told about: it was
// committed, so it says what the order was then, or later.
//
// It holds at most size orders, dropping the least recently used: a shipped order of one line
// takes about half a kilobyte.
type RecentOrders struct {
	mu    sync.Mutex
	size  int
	byID  map[uuid.UUID]*list.Element
	order *list.List // of recentOrder, most recently used first
}

type recentOrder struct {
	id     uuid.UUID
	events []order.Event // read only: shared by every order rebuilt from the copy
}

// NewRecentOrders returns a cache of up to size orders.
func NewRecentOrders(size int) *RecentOrders {
	return &RecentOrders{size: size, byID: map[uuid.UUID]*list.Element{}, order: list.New()}
}

// get returns the copy of an order's events, if there is one. A nil cache has none.
func (c *RecentOrders) get(id uuid.UUID) ([]order.Event, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(recentOrder).events, true
}

// put keeps events as an order's copy, unless the copy held is longer: two writers finishing in the
// other order than they committed must not put the older stream back.
func (c *RecentOrders) put(id uuid.UUID, events []order.Event) {
	if c == nil || c.size <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		if len(el.Value.(recentOrder).events) <= len(events) {
			el.Value = recentOrder{id: id, events: events}
		}
		c.order.MoveToFront(el)
		return
	}
	c.byID[id] = c.order.PushFront(recentOrder{id: id, events: events})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byID, last.Value.(recentOrder).id)
	}
}

// forget drops an order's copy.
func (c *RecentOrders) forget(id uuid.UUID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.order.Remove(el)
		delete(c.byID, id)
	}
}
