package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/domain/printable"
)

// errDifferences makes `replay --verify` exit non-zero when a rebuild differs from the live tables.
var errDifferences = errors.New("the rebuilt read models differ from the live ones")

func (m *Main) runReplay(ctx context.Context, args []string) error {
	fs := m.flagSet("replay")
	name := fs.String("projection", "", "projection to rebuild, or all")
	verify := fs.Bool("verify", false, "rebuild into scratch tables and compare with the live ones; change nothing")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	// The name is checked before the database is opened (and perhaps created and migrated).
	var names []string
	for _, p := range projections() {
		names = append(names, p.Name())
	}
	if !slices.Contains(append(names, "all"), *name) {
		return usageError(fmt.Sprintf("--projection %q: want one of %s, all", *name, strings.Join(names, ", ")))
	}
	deps, _, err := m.openDeps(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()
	var targets []postgres.Projection
	if *name == "all" {
		targets = deps.Runner.Projections()
	} else {
		p, err := deps.Runner.Projection(*name)
		if err != nil {
			return usageError(err.Error())
		}
		targets = []postgres.Projection{p}
	}
	failed := false
	for _, p := range targets {
		show := progressPrinter(m.Stderr, isTerminal(m.Stderr))
		var res postgres.ReplayResult
		if *verify {
			res, err = deps.Runner.Verify(ctx, p, show)
		} else {
			res, err = deps.Runner.Rebuild(ctx, p, show)
		}
		if isTerminal(m.Stderr) {
			fmt.Fprint(m.Stderr, "\r\033[K")
		}
		if err != nil {
			return err
		}
		verb := "rebuilt"
		if *verify {
			verb = "verified"
		}
		fmt.Fprintf(m.Stdout, "%s %s: %d events in %s (%.0f events/s)", verb, p.Name(), res.Events,
			res.Duration.Round(time.Millisecond), float64(res.Events)/max(res.Duration.Seconds(), 1e-9))
		if *verify {
			fmt.Fprintf(m.Stdout, ", %d differences", len(res.Differences))
		}
		fmt.Fprintln(m.Stdout)
		for _, d := range res.Differences {
			fmt.Fprintln(m.Stdout, "  ", printable.Escape(d)) // they quote the read models' rows
			failed = true
		}
	}
	if failed {
		return errDifferences
	}
	return nil
}

// progressPrinter redraws one status line on a terminal, at most ten times a second.
func progressPrinter(w io.Writer, terminal bool) func(postgres.Progress) {
	if !terminal {
		return nil
	}
	var last time.Time
	return func(p postgres.Progress) {
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r\033[K%s: %d / ~%d events, %.0f events/s, about %s left",
			p.Projection, p.Done, p.Total, p.Rate(), p.Remaining().Round(time.Second))
	}
}
