package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// machineCPU returns the CPU time the whole machine has worked so far, in clock ticks (USER_HZ, 100 a
// second on Linux), from /proc/stat: the service, PostgreSQL and the bench's own servers together.
// Throughput on a shared two-core machine varies from run to run; the CPU each e-mail costs varies
// far less, so it is the figure to compare changes with.
func machineCPU() (uint64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("machine cpu: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, fmt.Errorf("machine cpu: /proc/stat is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, fmt.Errorf("machine cpu: unexpected first line %q", sc.Text())
	}
	var busy uint64
	// user nice system idle iowait irq softirq steal: all but idle, iowait and steal are work. Steal
	// is time the host gave another guest while this one had work: on a shared host it was a tenth of
	// the busy time under load, more in bursts, and none of it is the work the figure measures.
	for i, f := range fields[1:] {
		if i == 3 || i == 4 || i >= 7 {
			continue
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("machine cpu: field %d: %w", i+1, err)
		}
		busy += v
	}
	return busy, nil
}

// processCPU returns the CPU time this process has used so far: the service and the bench's own
// SMTP and SMS servers. Beside machineCPU it splits an order's cost between them and the rest of the
// machine, which is mostly PostgreSQL.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("process cpu: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// sessionsCPU returns the CPU time the database's server processes have used so far, from
// /proc/<pid>/stat, and how many there are: the backends serving the service's connections. The
// server must run on this machine.
func sessionsCPU(ctx context.Context, pool *pgxpool.Pool) (time.Duration, int, error) {
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return 0, 0, fmt.Errorf("sessions cpu: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, 0, fmt.Errorf("sessions cpu: %w", err)
	}
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended since the query
		}
		// The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 {
			return 0, 0, fmt.Errorf("sessions cpu: unexpected /proc/%d/stat", pid)
		}
		for _, s := range f[11:13] {
			ticks, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("sessions cpu: /proc/%d/stat: %w", pid, err)
			}
			total += time.Duration(ticks) * time.Second / clockTicks
		}
	}
	return total, len(pids), nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// benchIdle measures what the service costs while it has nothing to do: its own CPU and its
// database sessions', over d, as a share of one core.
func benchIdle(ctx context.Context, w io.Writer, svc *Service, d time.Duration) error {
	// Let the start-up's first reads finish.
	time.Sleep(2 * time.Second)
	proc0, err := processCPU()
	if err != nil {
		return err
	}
	db0, n0, err := sessionsCPU(ctx, svc.deps.Pool)
	if err != nil {
		return err
	}
	time.Sleep(d)
	proc1, err := processCPU()
	if err != nil {
		return err
	}
	db1, n1, err := sessionsCPU(ctx, svc.deps.Pool)
	if err != nil {
		return err
	}
	share := func(c time.Duration) float64 { return 100 * c.Seconds() / d.Seconds() }
	fmt.Fprintf(w, "idle      nothing to do for %s: %.2f %% of a core (this process %.2f %%, its %d database sessions %.2f %%; %d at the end)\n",
		d, share(proc1-proc0+db1-db0), share(proc1-proc0), n0, share(db1-db0), n1)
	return nil
}
