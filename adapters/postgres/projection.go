package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tables maps a projection's table names to the tables it writes now: the live ones (the zero
// value), or the fresh ones a replay builds.
type Tables struct {
	names map[string]string
	// Bulk is set while a replay fills fresh tables that nothing else writes, each event once: a
	// projection may then load rows with COPY instead of upserts.
	Bulk bool
}

// suffixed maps each of names to name+suffix.
func suffixed(names []string, suffix string) Tables {
	t := Tables{names: map[string]string{}}
	for _, n := range names {
		t.names[n] = n + suffix
	}
	return t
}

// Name returns the physical name of logical table name.
func (t Tables) Name(name string) string {
	if p, ok := t.names[name]; ok {
		return p
	}
	return name
}

// Ident returns the quoted physical name of logical table name.
func (t Tables) Ident(name string) string { return pgx.Identifier{t.Name(name)}.Sanitize() }

// Projection builds read-model tables from events. Apply gets events in commit-safe order, in
// batches, and must write through q only; the runner saves the checkpoint in the same transaction.
// Applying an event twice must change nothing.
type Projection interface {
	Name() string
	// Tables lists the tables the projection owns, by their live names.
	Tables() []string
	Apply(ctx context.Context, q Querier, t Tables, events []RecordedEvent) error
}

// StreamScoped is a Projection that applies the events of one kind of stream only, those whose id
// starts with StreamPrefix; a live step reads the data of no other event.
type StreamScoped interface {
	StreamPrefix() string
}

// Runner keeps projections up to date by reading the event store in commit-safe order.
type Runner struct {
	store       *EventStore
	projections []Projection
	wait        WaitConfig
	batch       int
	logger      *slog.Logger
	// remind is how often a projection whose steps keep failing says so again; zero means
	// failureReminder (a test shortens it).
	remind time.Duration
}

// RunnerOption configures a Runner.
type RunnerOption func(*Runner)

// WithWait sets how an idle projection waits before reading again: until a commit wakes it (see
// Run), or the safety-net poll.
func WithWait(w WaitConfig) RunnerOption { return func(r *Runner) { r.wait = w } }

// WithBatchSize sets how many events one live transaction applies at most.
func WithBatchSize(n int) RunnerOption { return func(r *Runner) { r.batch = n } }

// projectionGather is how long a projection that has caught up lets commits gather before its next step (see
// Runner.run): the read models' lag it buys.
const projectionGather = 20 * time.Millisecond

// NewRunner returns a runner for projections over store.
func NewRunner(store *EventStore, logger *slog.Logger, projections []Projection, opts ...RunnerOption) *Runner {
	r := &Runner{store: store, projections: projections, batch: 500, logger: logger}
	for _, o := range opts {
		o(r)
	}
	r.wait.defaults()
	return r
}

// Projections returns the runner's projections.
func (r *Runner) Projections() []Projection { return r.projections }

// Projection returns the projection called name.
func (r *Runner) Projection(name string) (Projection, error) {
	for _, p := range r.projections {
		if p.Name() == name {
			return p, nil
		}
	}
	names := make([]string, len(r.projections))
	for i, p := range r.projections {
		names[i] = p.Name()
	}
	return nil, fmt.Errorf("no projection %q (have %v)", name, names)
}

// Run keeps every projection up to date until ctx ends. Each projection has its own loop, so a slow
// one holds up no other; with a waker, an idle one reads again when a commit appends events, and
// otherwise only at the safety-net poll. Several processes may run the same projections: the
// checkpoint row lock lets one apply a batch at a time.
func (r *Runner) Run(ctx context.Context, waker *Waker) error {
	var wg sync.WaitGroup
	errs := make([]error, len(r.projections))
	for i, p := range r.projections {
		var wake <-chan struct{}
		if waker != nil {
			ch, unsubscribe := waker.Events()
			defer unsubscribe()
			wake = ch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.run(ctx, p, newWaiter(wake, r.wait))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Runner) run(ctx context.Context, p Projection, w *waiter) error {
	// During an outage every step fails, on a backoff of up to 30 s, for each projection: the run is
	// logged when it begins, then once a minute, and its end once, as the consumer groups' reads are.
	failing := failureLog{remind: r.remind}
	for {
		n, err := r.Step(ctx, p)
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		if err != nil {
			began, remind := failing.fail(now)
			failures, failingFor := failing.failures(now)
			wait := backoff(100*time.Millisecond, failures)
			switch {
			case began:
				r.logger.ErrorContext(ctx, "projection step failed", "projection", p.Name(), "err", err, "retry_in", wait.String())
			case remind:
				r.logger.ErrorContext(ctx, "projection step still failing", "projection", p.Name(), "err", err, "retry_in", wait.String(),
					"failures", failures, "failing_for", failingFor.Round(time.Second).String())
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		if failures, failedFor := failing.succeed(now); failures > 0 {
			r.logger.InfoContext(ctx, "projection steps again", "projection", p.Name(), "failures", failures,
				"failed_for", failedFor.Round(100*time.Millisecond).String())
		}
		switch {
		case n == 0:
			if !w.wait(ctx.Done()) {
				return nil
			}
		case n < r.batch:
			// Caught up. Each step is a transaction whose commit wakes every reader; stepping again
			// at once under load made one per commit of the service, on the same cores as the
			// notifications. The read models are read by people, who do not see 20 ms.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(projectionGather):
			}
		}
	}
}

func backoff(base time.Duration, failures int) time.Duration {
	d := base
	for i := 0; i < failures && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// Step applies the next batch of events to p and moves its checkpoint, in one transaction. It returns
// how many events it applied.
func (r *Runner) Step(ctx context.Context, p Projection) (int, error) {
	n := 0
	// A read model and its checkpoint are lost together or not at all, and rebuilt from the events.
	// The settings go with the BEGIN: a step that finds nothing to do costs three round trips.
	err := r.store.db.inRedoableTx(ctx, stepSettings, func(ctx context.Context) error {
		tx, _ := TxFrom(ctx)
		cp, err := lockCheckpoint(ctx, tx, p.Name())
		if err != nil {
			return err
		}
		read := r.store.ReadAll
		if sp, ok := p.(StreamScoped); ok {
			read = func(ctx context.Context, cp Checkpoint, n int) ([]RecordedEvent, error) {
				return r.store.ReadAllDataOf(ctx, cp, n, sp.StreamPrefix())
			}
		}
		events, err := read(ctx, cp, r.batch)
		if err != nil || len(events) == 0 {
			return err
		}
		if err := p.Apply(ctx, tx, Tables{}, events); err != nil {
			return fmt.Errorf("projection %s: %w", p.Name(), err)
		}
		n = len(events)
		return saveCheckpoint(ctx, tx, p.Name(), events[n-1].Checkpoint())
	})
	if err == nil && n > 0 {
		// The step's transaction may have hidden a commit from the other readers until now.
		r.store.db.Commits.Committed()
	}
	return n, err
}

// CatchUp applies events to p until none are left to read.
func (r *Runner) CatchUp(ctx context.Context, p Projection) error {
	for {
		n, err := r.Step(ctx, p)
		if err != nil || n == 0 {
			return err
		}
	}
}

// stepSettings keep a live step's statements on their keys. A step applies a small batch by key
// (UPDATE … FROM unnest(…), = ANY(…)); while a read model is small (a few thousand orders), their
// plans otherwise hash-join over a scan of the whole table: 6 ms a batch at 10,000 orders. Replay
// and verify, which read whole tables, keep the planner's choice.
const stepSettings = byKeySettings

// byKeySettings keep a transaction's statements on their indexes: on a table that was small when a
// statement was first planned, a generic plan that scans it stays cached while the table grows.
const byKeySettings = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true)`

// lockCheckpoint reads a projection's checkpoint and locks its row for the transaction, so that two
// processes never apply the same batch. The row is created the first time; after that, locking it
// is one statement.
func lockCheckpoint(ctx context.Context, tx pgx.Tx, name string) (Checkpoint, error) {
	var cp Checkpoint
	var txID int64
	lock := func() error {
		return tx.QueryRow(ctx, `SELECT tx_id::text::bigint, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, name).Scan(&txID, &cp.Position)
	}
	err := lock()
	if isNoRows(err) {
		if _, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
			return Checkpoint{}, fmt.Errorf("projection %s: create checkpoint: %w", name, err)
		}
		err = lock()
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("projection %s: lock checkpoint: %w", name, err)
	}
	cp.TxID = uint64(txID)
	return cp, nil
}

func saveCheckpoint(ctx context.Context, q Querier, name string, cp Checkpoint) error {
	_, err := q.Exec(ctx, `INSERT INTO projection_checkpoints (name, tx_id, position, updated_at) VALUES ($1, $2::text::xid8, $3, now())
		ON CONFLICT (name) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position, updated_at = now()`,
		name, strconv.FormatUint(cp.TxID, 10), cp.Position)
	if err != nil {
		return fmt.Errorf("projection %s: save checkpoint: %w", name, err)
	}
	return nil
}

// Lag is how far a projection is behind the event store.
type Lag struct {
	Projection string
	Events     int64     // committed events not yet applied
	UpdatedAt  time.Time // when its checkpoint last moved
}

// Lags reports every projection's lag.
func (r *Runner) Lags(ctx context.Context) ([]Lag, error) {
	out := make([]Lag, 0, len(r.projections))
	for _, p := range r.projections {
		l := Lag{Projection: p.Name()}
		var txID int64
		var pos int64
		err := r.store.db.Q(ctx).QueryRow(ctx,
			`SELECT tx_id::text::bigint, position, updated_at FROM projection_checkpoints WHERE name = $1`, p.Name()).Scan(&txID, &pos, &l.UpdatedAt)
		if err != nil && !isNoRows(err) {
			return nil, fmt.Errorf("projection %s lag: %w", p.Name(), err)
		}
		err = r.store.db.Q(ctx).QueryRow(ctx,
			`SELECT count(*) FROM events WHERE (tx_id, position) > ($1::text::xid8, $2)`, strconv.FormatInt(txID, 10), pos).Scan(&l.Events)
		if err != nil {
			return nil, fmt.Errorf("projection %s lag: %w", p.Name(), err)
		}
		out = append(out, l)
	}
	return out, nil
}
