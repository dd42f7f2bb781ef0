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
	"strings"
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
		var shown shownUsageError
		if !errors.As(err, &shown) { // a flag's mistake was explained already, with the usage
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
	// envFile is the --env-file of this run: settings the environment does not set are read there.
	envFile string
}

// Run runs the subcommand in args. A command's --help is a success.
func (m *Main) Run(ctx context.Context, args []string) error {
	err := m.run(ctx, args)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

func (m *Main) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		printCommands(m.Stderr)
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
	case "tail":
		return m.runTail(ctx, rest)
	case "poison":
		return m.runPoison(ctx, rest)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && cmd == "help" {
			// certibuy help audit is certibuy audit --help.
			if _, ok := helpOf(strings.Join(rest, " ")); ok && rest[0] != "help" {
				return m.run(ctx, append(rest, "--help"))
			}
			printCommands(m.Stderr)
			return usageError(fmt.Sprintf("no command %q", strings.Join(rest, " ")))
		}
		printCommands(m.Stdout)
		return nil
	}
	printCommands(m.Stderr)
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}

type usageError string

func (e usageError) Error() string { return string(e) }

func exitCode(err error) int {
	var u usageError
	var shown shownUsageError
	if errors.As(err, &u) || errors.As(err, &shown) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func (m *Main) config() (Config, error) {
	lookup := m.LookupEnv
	if lookup == nil {
		lookup = func(k string) (string, bool) {
			v := m.Getenv(k)
			return v, v != "" // without LookupEnv, an empty value counts as unset
		}
	}
	if m.envFile != "" {
		file, err := readEnvFile(m.envFile)
		if err != nil {
			return Config{}, err
		}
		env := lookup
		lookup = func(k string) (string, bool) {
			if v, ok := env(k); ok {
				return v, true // the environment wins
			}
			v, ok := file[k]
			return v, ok
		}
	}
	return LoadConfigLookup(lookup, m.Stderr)
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

// flagSet is a command's flags, read by m.parse; every command that reads the settings takes
// --env-file.
func (m *Main) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&m.envFile, "env-file", "", "read settings from this `file` (KEY=value lines) where the environment does not set them")
	return fs
}
