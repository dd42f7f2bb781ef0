package main

import (
	"context"
	"fmt"
	"io"
)

// statementStats prints, for one phase of the throughput bench, the statements PostgreSQL spent
// most time on, per order: which of them to work on is what the machine-wide figures cannot tell.
// It needs pg_stat_statements, which PostgreSQL loads only when it is in shared_preload_libraries
// (a restart); without it, it says so and the bench goes on.
type statementStats struct {
	top   int
	ok    bool
	inDB  bool
	noted bool
}

// reset starts counting for a phase.
func (s *statementStats) reset(ctx context.Context, w io.Writer, svc *Service) {
	if s.top <= 0 {
		return
	}
	s.ok = false
	if !s.inDB {
		if _, err := svc.deps.Pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
			s.unavailable(w, err)
			return
		}
		s.inDB = true
	}
	if _, err := svc.deps.Pool.Exec(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
		s.unavailable(w, err)
		return
	}
	s.ok = true
}

func (s *statementStats) unavailable(w io.Writer, err error) {
	if !s.noted {
		fmt.Fprintf(w, "          (statements: unavailable: %v)\n", err)
		s.noted = true
	}
}

// print writes the phase's top statements per order of the n orders it handled.
func (s *statementStats) print(ctx context.Context, w io.Writer, svc *Service, n int) {
	if !s.ok {
		return
	}
	rows, err := svc.deps.Pool.Query(ctx, `SELECT calls, total_exec_time + total_plan_time, shared_blks_hit + shared_blks_read, rows,
		left(regexp_replace(query, '\s+', ' ', 'g'), 100)
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT LIKE '%pg_stat_statements%'
		ORDER BY 2 DESC LIMIT $1`, s.top)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var calls, blocks, nrows int64
		var ms float64
		var q string
		if err := rows.Scan(&calls, &ms, &blocks, &nrows, &q); err != nil {
			s.unavailable(w, err)
			return
		}
		fmt.Fprintf(w, "          (statement %5.2f calls, %.3f ms per order; %4.0f buffers, %5.1f rows a call: %s)\n",
			float64(calls)/float64(n), ms/float64(n), float64(blocks)/float64(calls), float64(nrows)/float64(calls), q)
	}
	if err := rows.Err(); err != nil {
		s.unavailable(w, err)
	}
}
