package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
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
