package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// FeedPublisher sends events to a broker for other services.
type FeedPublisher interface {
	// Publish sends events in the order given and returns once the broker has acknowledged every one.
	// Sending an event again must be harmless (the broker drops a repeat of an event id).
	Publish(ctx context.Context, events []RecordedEvent) error
	// Published returns the place of the last event the broker holds, or ok false when it holds
	// none of ours (or cannot say). The feed starts after it when its own checkpoint is behind: the
	// broker took a batch whose checkpoint was never saved.
	Published(ctx context.Context) (cp Checkpoint, ok bool, err error)
}

// Feed forwards every event of the store, in commit-safe order, to a FeedPublisher: at least once,
// each batch acknowledged by the broker before its checkpoint (a row of projection_checkpoints) is
// saved. One feed of a name runs per database at a time: the process holding its advisory lock
// forwards, the others wait and take over when its session ends (a crash ends it too).
type Feed struct {
	db       *DB
	name     string
	pub      FeedPublisher
	batch    int
	wait     WaitConfig    // how an idle feed waits for commits
	retry    time.Duration // the first wait after a failure; it grows up to 30s
	lockPoll time.Duration
	logger   *slog.Logger
}

// FeedOption configures a Feed.
type FeedOption func(*Feed)

// WithFeedBatch sets how many events one publish carries at most.
func WithFeedBatch(n int) FeedOption { return func(f *Feed) { f.batch = n } }

// WithFeedPoll sets how an idle feed waits for commits (see Run), and how often a waiting process
// tries to take the lock.
func WithFeedPoll(idle WaitConfig, lock time.Duration) FeedOption {
	return func(f *Feed) { f.wait, f.lockPoll = idle, lock }
}

// FeedName is the checkpoint name of the feed to a JetStream stream.
func FeedName(stream string) string { return "feed:jetstream:" + stream }

// NewFeed returns the feed called name (its checkpoint's name, see FeedName) to pub.
func NewFeed(db *DB, name string, pub FeedPublisher, logger *slog.Logger, opts ...FeedOption) *Feed {
	f := &Feed{db: db, name: name, pub: pub, batch: 500, wait: WaitConfig{SafetyPoll: 50 * time.Millisecond},
		retry: 50 * time.Millisecond, lockPoll: time.Second, logger: logger}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Name is the feed's checkpoint name.
func (f *Feed) Name() string { return f.name }

// Run forwards events until ctx ends. Neither the broker nor the database being away stops it: it
// retries with a growing wait (up to 30s), in its own goroutine and on its own connection, so that
// nothing else in the process waits for it. With a waker, an idle feed reads again when a commit
// appends events, and otherwise only at its safety-net poll.
func (f *Feed) Run(ctx context.Context, waker *Waker) error {
	var wake <-chan struct{}
	if waker != nil {
		ch, unsubscribe := waker.Events()
		defer unsubscribe()
		wake = ch
	}
	idle := newWaiter(wake, f.wait)
	failures := 0
	for {
		began := time.Now()
		err := f.hold(ctx, func(ctx context.Context, conn *pgxpool.Conn) error { return f.forward(ctx, conn, idle) })
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(began) > time.Minute {
			failures = 0 // it worked for a while: this is a new failure, not the same one again
		}
		failures++
		wait := backoff(f.retry, failures)
		f.logger.WarnContext(ctx, "event feed stopped; starting again", "feed", f.name, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// CatchUp takes the lock, forwards the events committed so far, up to the oldest transaction still
// running on the server (as every commit-order reader stops there), and returns how many it
// forwarded. It is for tools, tests and benchmarks; a service calls Run.
func (f *Feed) CatchUp(ctx context.Context) (int, error) {
	n := 0
	err := f.hold(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		var err error
		n, err = f.catchUp(ctx, conn)
		return err
	})
	return n, err
}

func (f *Feed) catchUp(ctx context.Context, conn *pgxpool.Conn) (int, error) {
	cp, err := f.start(ctx, conn)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		events, err := readAfter(ctx, conn, cp, f.batch)
		if err != nil || len(events) == 0 {
			return total, err
		}
		if err := f.pub.Publish(ctx, events); err != nil {
			return total, fmt.Errorf("feed %s: publish: %w", f.name, err)
		}
		cp = events[len(events)-1].Checkpoint()
		if err := saveCheckpoint(ctx, conn, f.name, cp); err != nil {
			return total, err
		}
		total += len(events)
	}
}

// feedLockClass keeps the feeds' advisory locks (two-key form) apart from every other lock.
const feedLockClass = 0x17fe

// hold runs fn on a connection of its own holding the feed's advisory lock, waiting for the lock as
// long as another session holds it. The lock is a session lock: it goes when fn returns, or with
// the session when the process dies.
func (f *Feed) hold(ctx context.Context, fn func(ctx context.Context, conn *pgxpool.Conn) error) error {
	var conn *pgxpool.Conn
	for waited := false; ; waited = true {
		var err error
		if conn, err = f.db.Pool.Acquire(ctx); err != nil {
			return fmt.Errorf("feed %s: connect: %w", f.name, err)
		}
		var locked bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, feedLockClass, f.name).Scan(&locked); err != nil {
			conn.Release()
			return fmt.Errorf("feed %s: lock: %w", f.name, err)
		}
		if locked {
			if waited {
				f.logger.InfoContext(ctx, "event feed taken over", "feed", f.name)
			}
			break
		}
		// A waiting process keeps no connection from the pool.
		conn.Release()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.lockPoll):
		}
	}
	defer func() {
		// A connection that still held the lock must not go back to the pool.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext($2))`, feedLockClass, f.name); err != nil {
			_ = conn.Hijack().Close(context.WithoutCancel(ctx))
			return
		}
		conn.Release()
	}()
	return fn(ctx, conn)
}

// start loads the checkpoint and moves it past what the broker already holds.
func (f *Feed) start(ctx context.Context, conn *pgxpool.Conn) (Checkpoint, error) {
	var cp Checkpoint
	var txID int64
	err := conn.QueryRow(ctx, `SELECT tx_id::text::bigint, position FROM projection_checkpoints WHERE name = $1`, f.name).Scan(&txID, &cp.Position)
	if err != nil && !isNoRows(err) {
		return cp, fmt.Errorf("feed %s: read checkpoint: %w", f.name, err)
	}
	cp.TxID = uint64(txID)
	held, ok, err := f.pub.Published(ctx)
	if err != nil {
		return cp, fmt.Errorf("feed %s: ask the broker what it holds: %w", f.name, err)
	}
	if ok && checkpointAfter(held, cp) {
		f.logger.InfoContext(ctx, "event feed: the broker holds events past the checkpoint; moving it", "feed", f.name,
			"checkpoint", cp, "broker", held)
		cp = held
		if err := saveCheckpoint(ctx, conn, f.name, cp); err != nil {
			return cp, err
		}
	}
	return cp, nil
}

// checkpointAfter reports whether a comes after b in the commit-safe order.
func checkpointAfter(a, b Checkpoint) bool {
	return a.TxID > b.TxID || (a.TxID == b.TxID && a.Position > b.Position)
}

// forward publishes batches until ctx ends. A broker that fails is retried with a growing wait while
// the lock is kept; a database error ends it. Before the first batch, and again after every failure,
// the checkpoint is moved past what the broker already holds: a batch that failed halfway is not
// published again in part, however long the broker was away (longer than its duplicate window).
func (f *Feed) forward(ctx context.Context, conn *pgxpool.Conn, idle *waiter) error {
	var cp Checkpoint
	synced := false
	failures := 0
	for {
		var err error
		if !synced {
			if cp, err = f.start(ctx, conn); err == nil {
				synced = true
			} else if perr := conn.Ping(ctx); perr != nil {
				return fmt.Errorf("feed %s: %w", f.name, perr)
			}
		}
		var events []RecordedEvent
		if synced {
			if events, err = readAfter(ctx, conn, cp, f.batch); err != nil {
				return err
			}
			if len(events) > 0 {
				if err = f.pub.Publish(ctx, events); err != nil {
					synced = false
				}
			}
		}
		switch {
		case err != nil:
			failures++
			wait := backoff(f.retry, failures)
			if ctx.Err() == nil {
				f.logger.WarnContext(ctx, "event feed: cannot publish; the events wait in PostgreSQL", "feed", f.name, "err", err, "retry_in", wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		case len(events) > 0:
			if failures > 0 {
				f.logger.InfoContext(ctx, "event feed: publishing again", "feed", f.name)
			}
			failures = 0
			cp = events[len(events)-1].Checkpoint()
			if err := saveCheckpoint(ctx, conn, f.name, cp); err != nil {
				return err
			}
			continue
		}
		if !idle.wait(ctx.Done()) {
			return ctx.Err()
		}
	}
}

// readAfter reads events in commit-safe order after cp, as the projections do, on conn.
func readAfter(ctx context.Context, q Querier, cp Checkpoint, limit int) ([]RecordedEvent, error) {
	rows, err := q.Query(ctx, selectEvents+readAllWhere, strconv.FormatUint(cp.TxID, 10), cp.Position, limit)
	if err != nil {
		return nil, fmt.Errorf("read all after %d/%d: %w", cp.TxID, cp.Position, err)
	}
	return scanEvents(rows)
}

// FeedLag is how far a feed is behind the event store.
type FeedLag struct {
	Feed      string
	Events    int64     // committed events not yet forwarded
	UpdatedAt time.Time // when its checkpoint last moved; zero before the first batch
	// Oldest is how long the oldest event not yet forwarded has waited (zero when none waits).
	Oldest time.Duration
}

// FeedLagOf reports how many committed events the feed called name has not forwarded.
func FeedLagOf(ctx context.Context, q Querier, name string) (FeedLag, error) {
	l := FeedLag{Feed: name}
	var txID, pos int64
	err := q.QueryRow(ctx, `SELECT tx_id::text::bigint, position, updated_at FROM projection_checkpoints WHERE name = $1`, name).Scan(&txID, &pos, &l.UpdatedAt)
	if err != nil && !isNoRows(err) {
		return l, fmt.Errorf("feed %s lag: %w", name, err)
	}
	var secs float64
	if err := q.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(recorded_at)), 0)
		FROM events WHERE (tx_id, position) > ($1::text::xid8, $2)`,
		strconv.FormatInt(txID, 10), pos).Scan(&l.Events, &secs); err != nil {
		return l, fmt.Errorf("feed %s lag: %w", name, err)
	}
	l.Oldest = time.Duration(secs * float64(time.Second))
	return l, nil
}

// FeedCollector reports a feed's lag at each scrape.
type FeedCollector struct {
	db     *DB
	name   string
	behind *prometheus.Desc
}

// NewFeedCollector returns the collector of the feed called name; register it with a registry.
func NewFeedCollector(db *DB, name string) *FeedCollector {
	return &FeedCollector{db: db, name: name,
		behind: prometheus.NewDesc("certibuy_feed_events_behind", "Committed events the feed to other services (JetStream) has not forwarded yet.", []string{"feed"}, nil)}
}

// Describe sends the description of the metric.
func (c *FeedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.behind }

// Collect queries the database; the metric is left out of a scrape whose query fails.
func (c *FeedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if l, err := FeedLagOf(ctx, c.db.Pool, c.name); err == nil {
		ch <- prometheus.MustNewConstMetric(c.behind, prometheus.GaugeValue, float64(l.Events), c.name)
	}
}
