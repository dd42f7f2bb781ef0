// Command certibuy runs the CertiBuy order service and its tools. See `certibuy help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/certibuy/orders/domain/printable"
)

func main() {
	// The service keeps a small live heap and allocates for every message it handles; at Go's
	// default (GOGC=100) collecting took a fifth of the notifier's CPU. Four times the live heap is
	// still a few tens of megabytes, and the notifier ships about a quarter more e-mails a second
	// (certibuy bench). GOGC, when set, decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, LookupEnv: os.LookupEnv}
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "certibuy:", printable.Escape(err.Error())) // errors may quote a server or stored data
		}
		os.Exit(exitCode(err))
	}
}

// Main owns the wiring of one run of the program; tests start it as the binary would be started.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// LookupEnv, when set, is used instead of Getenv, so that a setting set to "" is not unset.
	LookupEnv func(string) (string, bool)
}

const usage = `certibuy: the CertiBuy order service

Usage:
  certibuy serve     run the HTTP API and the event router (all in one)
  certibuy worker    run the event router only (add machines)
  certibuy migrate   apply database migrations and exit
  certibuy replay    rebuild read models from the event store (--projection <name>|all [--verify])
  certibuy audit     query the event store (--order, --type, --actor, --correlation-id, --from, --to,
                     --after, --limit, --json; --order … --as-of <time> prints the order as it stood)
  certibuy doctor    check the database, SMTP, SMS and payment settings and the lags; show the
                     last notifications; exit 1 when a check fails
  certibuy notify-test --email <address> --phone <number> [--type <type>|all]
                     send a test e-mail and SMS of a notification type (order_confirmed), or of
                     each, through the configured providers
  certibuy admin     create-user (asks twice for the password, hidden, on a terminal; reads one line
                     from a pipe), create-token, revoke-token
  certibuy bench     measure throughput against baselines run alongside (scratch database)
  certibuy help      show this help

Settings come from the environment; see .env.example. With none set, the service uses
postgres://postgres@127.0.0.1:5432/certibuy (created when missing) and listens on :8080.
`

// Run runs the subcommand in args.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return usageError("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return m.runServe(ctx, rest, true)
	case "worker":
		return m.runServe(ctx, rest, false)
	case "migrate":
		return m.runMigrate(ctx, rest)
	case "replay":
		return m.runReplay(ctx, rest)
	case "audit":
		return m.runAudit(ctx, rest)
	case "admin":
		return m.runAdmin(ctx, rest)
	case "bench":
		return m.runBench(ctx, rest)
	case "doctor":
		return m.runDoctor(ctx, rest)
	case "notify-test":
		return m.runNotifyTest(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	fmt.Fprint(m.Stderr, usage)
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}

type usageError string

func (e usageError) Error() string { return string(e) }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func (m *Main) config() (Config, error) {
	if m.LookupEnv != nil {
		return LoadConfigLookup(m.LookupEnv, m.Stderr)
	}
	return LoadConfig(m.Getenv, m.Stderr)
}

// openDeps reads the settings and opens what the one-shot commands need, logging to stderr.
func (m *Main) openDeps(ctx context.Context) (*Deps, Config, error) {
	cfg, err := m.config()
	if err != nil {
		return nil, cfg, err
	}
	deps, err := OpenDeps(ctx, cfg, cfg.NewLogger(m.Stderr))
	return deps, cfg, err
}

// flagSet is a command's flags: errors and usage go to stderr, and a bad flag returns an error.
func (m *Main) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}
