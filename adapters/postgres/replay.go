package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Progress reports a replay's advance.
type Progress struct {
	Projection string
	Done       int64 // events read so far
	Total      int64 // events in the store when the replay started (an estimate: writers go on)
	Elapsed    time.Duration
}

// Rate is events per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// Remaining estimates the time left at the current rate.
func (p Progress) Remaining() time.Duration {
	r := p.Rate()
	if r == 0 || p.Done >= p.Total {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second))
}

// ReplayResult sums up a replay.
type ReplayResult struct {
	Projection string
	Events     int64
	Duration   time.Duration
	// Differences lists what a verification found different between the rebuild and the live tables.
	Differences []string
}

// replayPage is how many events one replay transaction reads and applies. Each page commits on its
// own: a long transaction would hold back every commit-safe reader in the cluster.
const replayPage = 5000

// Rebuild replays every event into fresh copies of p's tables while the live ones keep serving and
// the live runner keeps them current, then swaps the copies in, in one short transaction that also
// moves the checkpoint. Nothing but p's tables is written: a replay never notifies anyone.
func (r *Runner) Rebuild(ctx context.Context, p Projection, progress func(Progress)) (ReplayResult, error) {
	res, shadow, cp, err := r.build(ctx, p, "_rebuild", progress)
	if err != nil {
		return res, err
	}
	err = r.store.db.InTx(ctx, func(ctx context.Context) error {
		tx, _ := TxFrom(ctx)
		// The lock pauses the live runner for this projection until the swap commits.
		if _, err := lockCheckpoint(ctx, tx, p.Name()); err != nil {
			return err
		}
		last, n, err := r.applyRange(ctx, tx, p, shadow, cp.last, nil)
		if err != nil {
			return err
		}
		cp.last = last
		res.Events += n
		for _, name := range p.Tables() {
			names, err := indexNames(ctx, tx, shadow.Name(name), name)
			if err != nil {
				return fmt.Errorf("swap %s: %w", name, err)
			}
			old := name + "_old"
			if _, err := tx.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s; ALTER TABLE %s RENAME TO %s; ALTER TABLE %s RENAME TO %s; DROP TABLE %s`,
				ident(old), ident(name), ident(old), shadow.Ident(name), ident(name), ident(old))); err != nil {
				return fmt.Errorf("swap %s: %w", name, err)
			}
			// The copy's indexes (and the constraints they back) take the live ones' names: LIKE
			// names them after the copy, and migrations name indexes to drop or replace them.
			for from, to := range names {
				if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER INDEX %s RENAME TO %s`, ident(from), ident(to))); err != nil {
					return fmt.Errorf("swap %s: name index %s: %w", name, to, err)
				}
			}
		}
		return saveCheckpoint(ctx, tx, p.Name(), cp.last)
	})
	if err != nil {
		return res, fmt.Errorf("replay %s: %w", p.Name(), err)
	}
	res.Duration = time.Since(cp.start)
	return res, nil
}

// Verify rebuilds p into scratch tables up to the live checkpoint and compares them with the live
// tables, row by row. The scratch tables are dropped afterwards.
func (r *Runner) Verify(ctx context.Context, p Projection, progress func(Progress)) (ReplayResult, error) {
	res, scratch, cp, err := r.build(ctx, p, "_verify", progress)
	if err != nil {
		return res, err
	}
	defer r.dropTables(context.WithoutCancel(ctx), p, scratch)
	err = r.store.db.InTx(ctx, func(ctx context.Context) error {
		tx, _ := TxFrom(ctx)
		live, err := lockCheckpoint(ctx, tx, p.Name())
		if err != nil {
			return err
		}
		// Bring both sides to the same checkpoint, so that a difference is a real one and not lag:
		// the scratch copy up to the live checkpoint, or the live tables (as their runner would) up
		// to the scratch copy's.
		switch {
		case after(live, cp.last):
			last, n, err := r.applyRange(ctx, tx, p, scratch, cp.last, &live)
			if err != nil {
				return err
			}
			cp.last = last
			res.Events += n
		case after(cp.last, live):
			last, _, err := r.applyRange(ctx, tx, p, Tables{}, live, &cp.last)
			if err != nil {
				return err
			}
			if err := saveCheckpoint(ctx, tx, p.Name(), last); err != nil {
				return err
			}
		}
		for _, name := range p.Tables() {
			diffs, err := compareTables(ctx, tx, ident(name), scratch.Ident(name))
			if err != nil {
				return fmt.Errorf("compare %s: %w", name, err)
			}
			for _, d := range diffs {
				res.Differences = append(res.Differences, name+": "+d)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	res.Duration = time.Since(cp.start)
	return res, nil
}

type buildState struct {
	last  Checkpoint
	start time.Time
}

// build creates empty copies of p's tables named with suffix and replays the store into them until
// it has read everything committed; the caller finishes under the checkpoint lock.
func (r *Runner) build(ctx context.Context, p Projection, suffix string, progress func(Progress)) (ReplayResult, Tables, *buildState, error) {
	res := ReplayResult{Projection: p.Name()}
	st := &buildState{start: time.Now()}
	t := suffixed(p.Tables(), suffix)
	t.Bulk = true
	for _, name := range p.Tables() {
		// LIKE ... INCLUDING ALL copies columns, defaults, constraints and indexes: the copy is the
		// same table, and the swap gives its indexes the live names (indexNames).
		if _, err := r.store.db.Pool.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %s; CREATE TABLE %s (LIKE %s INCLUDING ALL)`,
			t.Ident(name), t.Ident(name), ident(name))); err != nil {
			return res, Tables{}, nil, fmt.Errorf("replay %s: create %s: %w", p.Name(), t.Name(name), err)
		}
		// LIKE does not copy storage parameters, such as the notification log's fillfactor.
		var opts string
		if err := r.store.db.Pool.QueryRow(ctx, `SELECT coalesce(array_to_string(reloptions, ', '), '') FROM pg_class WHERE oid = $1::regclass`,
			ident(name)).Scan(&opts); err != nil {
			return res, Tables{}, nil, fmt.Errorf("replay %s: storage parameters of %s: %w", p.Name(), name, err)
		}
		if opts != "" {
			if _, err := r.store.db.Pool.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s SET (%s)`, t.Ident(name), opts)); err != nil {
				return res, Tables{}, nil, fmt.Errorf("replay %s: storage parameters of %s: %w", p.Name(), t.Name(name), err)
			}
		}
	}
	var total int64
	if err := r.store.db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&total); err != nil {
		return res, Tables{}, nil, fmt.Errorf("replay %s: count events: %w", p.Name(), err)
	}
	report := func() {
		if progress != nil {
			progress(Progress{Projection: p.Name(), Done: res.Events, Total: total, Elapsed: time.Since(st.start)})
		}
	}
	// A reader fetches the next pages while the current one is applied: reading and writing overlap.
	pages := make(chan []RecordedEvent, 2)
	readErr := make(chan error, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		defer close(pages)
		var from Checkpoint
		for {
			events, err := r.store.ReadAll(readCtx, from, replayPage)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case pages <- events:
			case <-readCtx.Done():
				return
			}
			if len(events) < replayPage {
				return
			}
			from = events[len(events)-1].Checkpoint()
		}
	}()
	for events := range pages {
		if len(events) > 0 {
			err := r.store.db.InTx(ctx, func(ctx context.Context) error {
				return p.Apply(ctx, r.store.db.Q(ctx), t, events)
			})
			if err != nil {
				stopReading()
				r.dropTables(context.WithoutCancel(ctx), p, t)
				return res, Tables{}, nil, fmt.Errorf("replay %s: %w", p.Name(), err)
			}
			st.last = events[len(events)-1].Checkpoint()
		}
		res.Events += int64(len(events))
		report()
	}
	select {
	case err := <-readErr:
		r.dropTables(context.WithoutCancel(ctx), p, t)
		return res, Tables{}, nil, fmt.Errorf("replay %s: read events: %w", p.Name(), err)
	default:
	}
	return res, t, st, nil
}

// applyRange applies to t, inside tx, the events after from: all that are readable or, with upTo,
// those up to and including it. It returns the checkpoint reached and the number applied.
func (r *Runner) applyRange(ctx context.Context, tx pgx.Tx, p Projection, t Tables, from Checkpoint, upTo *Checkpoint) (Checkpoint, int64, error) {
	var done int64
	ctx = WithTx(ctx, tx)
	for {
		events, err := r.store.ReadAll(ctx, from, replayPage)
		if err != nil {
			return from, done, err
		}
		full := len(events) == replayPage
		if upTo != nil {
			for i, e := range events {
				if after(e.Checkpoint(), *upTo) {
					events, full = events[:i], false
					break
				}
			}
		}
		if len(events) > 0 {
			if err := p.Apply(ctx, tx, t, events); err != nil {
				return from, done, err
			}
			from = events[len(events)-1].Checkpoint()
			done += int64(len(events))
		}
		if !full {
			return from, done, nil
		}
	}
}

func after(a, b Checkpoint) bool {
	return a.TxID > b.TxID || (a.TxID == b.TxID && a.Position > b.Position)
}

func (r *Runner) dropTables(ctx context.Context, p Projection, t Tables) {
	for _, name := range p.Tables() {
		if _, err := r.store.db.Pool.Exec(ctx, `DROP TABLE IF EXISTS `+t.Ident(name)); err != nil {
			r.logger.WarnContext(ctx, "could not drop replay table", "table", t.Name(name), "err", err)
		}
	}
}

// compareTables lists up to 20 rows found in one table and not the other, as text.
func compareTables(ctx context.Context, q Querier, live, rebuilt string) ([]string, error) {
	var diffs []string
	for _, side := range []struct{ label, a, b string }{
		{"only in live", live, rebuilt},
		{"only in rebuild", rebuilt, live},
	} {
		rows, err := q.Query(ctx, fmt.Sprintf(`SELECT t::text FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s) t LIMIT 20`, side.a, side.b))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			diffs = append(diffs, side.label+": "+s)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return diffs, nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// indexNames pairs each index of table copy with the index of table live that has the same
// definition, where their names differ: copy's name → live's.
func indexNames(ctx context.Context, tx pgx.Tx, copy, live string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `WITH defs AS (
			SELECT i.indrelid, c.relname, regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '') AS def
			FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid IN ($1::regclass, $2::regclass))
		SELECT c.relname, l.relname FROM defs c JOIN defs l USING (def)
		WHERE c.indrelid = $1::regclass AND l.indrelid = $2::regclass AND c.relname <> l.relname`, ident(copy), ident(live))
	if err != nil {
		return nil, fmt.Errorf("index names of %s: %w", live, err)
	}
	names := map[string]string{}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			return nil, fmt.Errorf("index names of %s: %w", live, err)
		}
		names[from] = to
	}
	return names, rows.Err()
}

// ProjectionNames lists the runner's projection names, for help texts.
func (r *Runner) ProjectionNames() string {
	names := make([]string, len(r.projections))
	for i, p := range r.projections {
		names[i] = p.Name()
	}
	return strings.Join(names, ", ")
}
