package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/certibuy/orders/domain/es"
)

// appendGroup joins the appends that callers outside a transaction make at about the same time into
// one AppendMany: one round trip and one commit for several of them. The deliveries of a claim
// finish within a millisecond or two of one another (they were handed out together and wait on the
// same provider), and each used to pay for a transaction, its WAL flush and the wake-ups around it.
//
// The first caller of a group waits window (or until max have joined), then appends for all; the
// queue rows of the notifications they settle leave the queue in one statement. If the group's
// transaction fails, each append is made again on its own, so that every caller gets its own
// answer (a version conflict, say) and no one fails for another's sake.
type appendGroup struct {
	store  *EventStore
	window time.Duration
	max    int

	mu      sync.Mutex
	pending []*groupedAppend
	full    chan struct{} // closed when the pending group reaches max
}

type groupedAppend struct {
	a StreamAppend
	// settle is the stream whose queue row the append takes out, or "".
	settle string
	recs   []RecordedEvent
	err    error
	done   chan struct{}
}

func newAppendGroup(store *EventStore, window time.Duration, max int) *appendGroup {
	return &appendGroup{store: store, window: window, max: max}
}

// append appends a in the next group, with the causation in ctx, and takes settle's row (unless "")
// out of the queue. Callers in a transaction must append in it instead (AppendMany).
func (g *appendGroup) append(ctx context.Context, a StreamAppend, settle string) ([]RecordedEvent, error) {
	if _, inTx := TxFrom(ctx); inTx {
		return nil, fmt.Errorf("append to %s: a grouped append cannot join the caller's transaction", a.Stream)
	}
	cause := es.CausationFrom(ctx)
	a.Cause = &cause
	item := &groupedAppend{a: a, settle: settle, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, item)
	leader := len(g.pending) == 1
	if leader {
		g.full = make(chan struct{})
	} else if len(g.pending) == g.max {
		close(g.full)
	}
	full := g.full
	g.mu.Unlock()
	if leader {
		select {
		case <-time.After(g.window):
		case <-full:
		}
		g.mu.Lock()
		items := g.pending
		g.pending = nil
		g.mu.Unlock()
		g.run(items)
	}
	// The group is not cancelled with one caller's context: what it commits, every caller must hear
	// of, or a caller would take its recorded outcome for a failure.
	<-item.done
	return item.recs, item.err
}

func (g *appendGroup) run(items []*groupedAppend) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() {
		for _, it := range items {
			close(it.done)
		}
	}()
	if len(items) > 1 {
		if out, err := g.store.AppendMany(ctx, withSettles(items)...); err == nil {
			for i, it := range items {
				it.recs = out[i]
			}
			return
		}
	}
	for _, it := range items {
		out, err := g.store.AppendMany(ctx, withSettles([]*groupedAppend{it})...)
		if err != nil {
			it.err = err
			continue
		}
		it.recs = out[0]
	}
}

// withSettles returns the appends of items, the first one beginning with the delete of the queue
// rows they settle.
func withSettles(items []*groupedAppend) []StreamAppend {
	out := make([]StreamAppend, len(items))
	var settles []string
	for i, it := range items {
		out[i] = it.a
		if it.settle != "" {
			settles = append(settles, it.settle)
		}
	}
	if len(settles) > 0 {
		out[0].Before = append(settleStatements(settles), out[0].Before...)
	}
	return out
}
