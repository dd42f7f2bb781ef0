package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EventsChannel is the LISTEN/NOTIFY channel on which a process that committed events, or moved a
// reader past some, tells the readers of the store (see CommitNotifier).
const EventsChannel = "events_appended"

// CommitNotifier tells the readers of every process, through EventsChannel, that this one committed
// something they may have to read. The notification is sent just after the commit, in a statement
// of its own, not by the committing transaction: PostgreSQL serialises the commits of the
// transactions that notify, holding a lock across each one's WAL flush, which cut the plain append
// baseline of certibuy bench to a third. Sent on its own, a notification commits nothing and flushes
// nothing. The pokes of a busy process are coalesced: one notification goes out at a time, and the
// pokes made while it is sent are answered by the next one. A process that stops between a commit
// and its notification leaves the readers to their safety-net poll.
type CommitNotifier struct {
	pool   *pgxpool.Pool
	logger watermill.LoggerAdapter
	// token is the notifications' payload: this process's own, so that its Waker, which wakes the
	// process's readers at once (here), can leave them out.
	token string
	here  atomic.Pointer[Waker]
	poke  chan struct{}
	quit  chan struct{}
	// once starts the sender at the first poke, or marks it done when Close comes first: a process
	// that never commits (a failed start, a read-only command) runs no goroutine for it.
	once     sync.Once
	done     chan struct{}
	quitOnce sync.Once
}

// NewCommitNotifier returns a notifier on pool; Close stops it.
func NewCommitNotifier(pool *pgxpool.Pool, logger watermill.LoggerAdapter) *CommitNotifier {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &CommitNotifier{pool: pool, logger: logger, token: hex.EncodeToString(b), poke: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
}

// Committed wakes this process's readers (see NewWaker) and asks for a notification to the others;
// it does not wait for it. A nil notifier does nothing.
func (n *CommitNotifier) Committed() {
	if n == nil {
		return
	}
	if w := n.here.Load(); w != nil {
		w.wake(wakeKey{EventsChannel, ""}, false)
	}
	n.once.Do(func() { go n.run() })
	select {
	case n.poke <- struct{}{}:
	default: // one is asked for already, and not sent yet
	}
}

// Close stops the notifier.
func (n *CommitNotifier) Close() {
	n.once.Do(func() { close(n.done) })
	n.quitOnce.Do(func() { close(n.quit) })
	<-n.done
}

func (n *CommitNotifier) run() {
	defer close(n.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.poke:
		}
		if _, err := n.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, EventsChannel, n.token); err != nil && ctx.Err() == nil {
			n.logger.Error("notify the readers of a commit", err, nil)
		}
	}
}

// Waker holds the process's one listening connection and wakes the readers that wait for work: the
// consumer groups and the projection runner on EventsChannel (see CommitNotifier), a delivery
// topic's claimers on QueueChannel (payload: the topic; sent by the queue's insert at its commit).
// A reader is woken by a token in a channel of its own; readers still poll now and then, as a safety
// net for a lost notification.
type Waker struct {
	pool   *pgxpool.Pool
	logger watermill.LoggerAdapter
	// own is the payload of this process's commit notifications: its readers were woken at the
	// commit, without the round trips through PostgreSQL.
	own string

	mu      sync.Mutex
	waiting map[wakeKey]map[chan struct{}]struct{}

	stop context.CancelFunc
	done chan struct{}

	// retryEvery is the wait before listening again after the connection was lost; remindEvery how
	// often a listener still down says so again (see listen).
	retryEvery, remindEvery time.Duration
}

type wakeKey struct{ channel, payload string }

// NewWaker starts listening on pool; Close stops it. With commits, the notifier of this process's
// commits, those wake this process's readers at once, without waiting for their notification to go
// to PostgreSQL and back (0.8 ms of the 9 ms from an OrderShipped commit to its e-mail), and the
// notification wakes only the other processes' readers.
func NewWaker(pool *pgxpool.Pool, logger watermill.LoggerAdapter, commits *CommitNotifier) *Waker {
	return newWaker(pool, logger, commits, time.Second, time.Minute)
}

func newWaker(pool *pgxpool.Pool, logger watermill.LoggerAdapter, commits *CommitNotifier, retryEvery, remindEvery time.Duration) *Waker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Waker{pool: pool, logger: logger, waiting: map[wakeKey]map[chan struct{}]struct{}{}, stop: cancel, done: make(chan struct{}),
		retryEvery: retryEvery, remindEvery: remindEvery}
	if commits != nil && commits.here.CompareAndSwap(nil, w) {
		w.own = commits.token // a second Waker on the same notifier hears everything, as without one
	}
	go w.listen(ctx)
	return w
}

// Close stops listening.
func (w *Waker) Close() {
	w.stop()
	<-w.done
}

// Events returns a channel that receives a token after each commit that appended events, until
// cancel. A token waits in the channel until it is taken: a reader busy when the commit came still
// finds it.
func (w *Waker) Events() (<-chan struct{}, func()) { return w.subscribe(wakeKey{EventsChannel, ""}) }

// Queue is Events for the commits that queued a notification of topic.
func (w *Waker) Queue(topic string) (<-chan struct{}, func()) {
	return w.subscribe(wakeKey{QueueChannel, topic})
}

func (w *Waker) subscribe(k wakeKey) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiting[k] == nil {
		w.waiting[k] = map[chan struct{}]struct{}{}
	}
	w.waiting[k][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.waiting[k], ch)
		w.mu.Unlock()
	}
}

// wake gives a token to the readers of k, or to every reader when all is set.
func (w *Waker) wake(k wakeKey, all bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, chans := range w.waiting {
		if !all && key != k {
			continue
		}
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default: // a token is waiting already
			}
		}
	}
}

// listen keeps a connection listening, and connects again when it is lost. While the database is
// down that fails every retryEvery: the first failure is an ERROR, then one a remindEvery while it
// lasts (not one a second), and the reconnection an INFO saying how long it was down.
func (w *Waker) listen(ctx context.Context) {
	defer close(w.done)
	var downSince, reminded time.Time
	listening := func() {
		if !downSince.IsZero() {
			w.logger.Info("wake listener reconnected", watermill.LogFields{"down_for": time.Since(downSince).Round(100 * time.Millisecond).String()})
			downSince = time.Time{}
		}
	}
	for ctx.Err() == nil {
		err := w.listenOnce(ctx, listening)
		if ctx.Err() != nil {
			return
		}
		switch now := time.Now(); {
		case downSince.IsZero():
			downSince, reminded = now, now
			w.logger.Error("wake listener stopped; readers poll until it reconnects", err, nil)
		case now.Sub(reminded) >= w.remindEvery:
			reminded = now
			w.logger.Error("wake listener still down; readers poll until it reconnects", err,
				watermill.LogFields{"down_for": now.Sub(downSince).Round(time.Second).String()})
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.retryEvery):
		}
	}
}

// listenOnce listens on one connection until it fails; listening is called once it listens.
func (w *Waker) listenOnce(ctx context.Context, listening func()) error {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	// The connection keeps LISTEN state: it must not go back to the pool.
	c := conn.Hijack()
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "LISTEN "+EventsChannel+"; LISTEN "+QueueChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	// Commits made while no connection listened have woken no one.
	w.wake(wakeKey{}, true)
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		if n.Channel == EventsChannel {
			if n.Payload != "" && n.Payload == w.own {
				continue // its readers were woken at the commit
			}
			n.Payload = "" // another process's token: the event readers wait on ""
		}
		w.wake(wakeKey{n.Channel, n.Payload}, false)
	}
}

// WaitConfig says how a reader that found nothing waits for more.
type WaitConfig struct {
	// SafetyPoll is the longest it waits when nothing wakes it: only a lost notification needs it.
	SafetyPoll time.Duration
	// Recheck is how soon it reads again after a wake that found nothing; each further read that
	// finds nothing doubles the wait, up to SafetyPoll. Readers stop at the oldest transaction still
	// running, so a commit can stay out of their sight until an older transaction ends, and that end
	// need not wake anyone (a consumer's offset, a projection's checkpoint).
	Recheck time.Duration
}

func (c *WaitConfig) defaults() {
	if c.SafetyPoll <= 0 {
		c.SafetyPoll = 5 * time.Second
	}
	if c.Recheck <= 0 {
		c.Recheck = 10 * time.Millisecond
	}
}

// waiter makes one reader wait until a commit wakes it, or its next recheck after a wake, or the
// safety-net poll. It is used by one goroutine.
type waiter struct {
	cfg  WaitConfig
	wake <-chan struct{} // nil: no waker, poll only
	next time.Duration   // the wait after the next read that finds nothing
}

func newWaiter(wake <-chan struct{}, cfg WaitConfig) *waiter {
	cfg.defaults()
	return &waiter{cfg: cfg, wake: wake, next: cfg.SafetyPoll}
}

// wait blocks until the reader should read again; it reports false when stop closed first.
func (w *waiter) wait(stop <-chan struct{}) bool {
	t := time.NewTimer(w.next)
	defer t.Stop()
	select {
	case <-stop:
		return false
	case <-w.wake:
		w.next = w.cfg.Recheck
	case <-t.C:
		if w.wake != nil {
			w.next = min(2*w.next, w.cfg.SafetyPoll)
		}
	}
	return true
}
