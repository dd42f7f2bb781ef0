package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// absentDatabase is the URL of a database that does not exist; it is dropped at the end if a
// command created it.
func absentDatabase(t *testing.T) (url string, exists func() bool) {
	t.Helper()
	cfg, err := pgx.ParseConfig(pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	name := pgtest.DatabaseName()
	url = fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	if cfg.Password != "" {
		url = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, name)
	}
	query := func(sql string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var found bool
		if err := c.QueryRow(ctx, sql, name).Scan(&found); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		return found
	}
	exists = func() bool { return query(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`) }
	t.Cleanup(func() {
		if exists() {
			ctx := context.Background()
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err == nil {
				_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
				_ = c.Close(ctx)
			}
		}
	})
	return url, exists
}

// Every command checks its flags and arguments before it opens the database, which would create
// and migrate it: a mistake changes nothing.
func TestEveryCommandChecksItsFlagsBeforeTouchingTheDatabase(t *testing.T) {
	t.Parallel()
	url, exists := absentDatabase(t)
	for _, c := range []struct {
		args  []string
		stdin string
		usage bool
	}{
		{[]string{"admin", "create-token"}, "", true},
		{[]string{"admin", "create-token", "--email", "ops@certibuy.in", "--ttl", "-1h"}, "", true},
		{[]string{"admin", "create-user", "--email", "ops@certibuy.in"}, "", true},
		{[]string{"admin", "create-user", "--email", "not an address", "--name", "Ops"}, "", true},
		{[]string{"admin", "create-user", "--email", "ops@certibuy.in", "--name", "Ops"}, "too short\n", false},
		{[]string{"admin", "revoke-token", "--id", "nope"}, "", true},
		{[]string{"admin", "frobnicate"}, "", true},
		{[]string{"admin", "create-token", "--email", "ops@certibuy.in", "extra"}, "", true},
		{[]string{"audit", "--as-of", "2026-11-27"}, "", true},
		{[]string{"audit", "--order", "CB-7K3M9Q2X", "--as-of", "yesterday"}, "", true},
		{[]string{"audit", "--limit", "0"}, "", true},
		{[]string{"audit", "--limit", "5000"}, "", true},
		{[]string{"audit", "--order", "CB-nope!"}, "", true},
		{[]string{"audit", "--from", "2026-11-28", "--to", "2026-11-27"}, "", true},
		{[]string{"audit", "order.placed.v1"}, "", true},
		{[]string{"replay"}, "", true},
		{[]string{"replay", "--projection", "nope"}, "", true},
		{[]string{"doctor", "now"}, "", true},
		{[]string{"migrate", "up"}, "", true},
		{[]string{"serve", "extra"}, "", true},
		{[]string{"worker", "extra"}, "", true},
		{[]string{"notify-test"}, "", true},
		{[]string{"notify-test", "--phone", "12345"}, "", true},
		{[]string{"bench", "--clients", "0"}, "", true},
	} {
		out, err := runCLIWith(t, map[string]string{"DATABASE_URL": url, "STDIN": c.stdin}, c.args...)
		if err == nil || c.usage && exitCode(err) != 2 {
			t.Errorf("certibuy %s: %v (exit %d), want a refusal:\n%s", strings.Join(c.args, " "), err, exitCode(err), out)
		}
		if exists() {
			t.Fatalf("certibuy %s created the database before refusing: %v", strings.Join(c.args, " "), err)
		}
	}
}

func TestCreateUserReadsOneLineFromAPipe(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	out, err := runCLIWith(t, map[string]string{"DATABASE_URL": s.cfg.DatabaseURL, "STDIN": "correct horse battery\n"},
		"admin", "create-user", "--email", "ops@certibuy.in", "--name", "Ops")
	if err != nil || !strings.Contains(out, "created admin Ops <ops@certibuy.in>") || strings.Contains(out, "correct horse") {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	if _, _, err := s.deps.App.Admins.Login(context.Background(), "ops@certibuy.in", "correct horse battery"); err != nil {
		t.Fatalf("the new admin cannot log in: %v", err)
	}
}

// openPTY opens a pseudo-terminal: the master is the user's side, the slave the program's.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slave.Close(); _ = master.Close() })
	return master, slave
}

// screen collects what the terminal shows.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestCreateUserOnATerminalAsksTwiceAndShowsNothing(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t)
	shown := &screen{}
	go func() {
		b := make([]byte, 256)
		for {
			n, err := master.Read(b)
			shown.mu.Lock()
			shown.buf.Write(b[:n])
			shown.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// The terminal echoes what is typed, as terminals do, until the program turns it off.
	if _, err := master.Write([]byte("probe\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := slave.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(shown.String(), "probe") }, "the terminal does not echo")
	echoOff := func() bool {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&unix.ECHO == 0
	}

	run := func(url string, first, second string) (string, error) {
		prompts := &syncBuffer{}
		m := &Main{Stdin: slave, Stdout: prompts, Stderr: prompts, Getenv: func(k string) string {
			return map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "warn"}[k]
		}}
		done := make(chan error, 1)
		go func() {
			done <- m.Run(context.Background(), []string{"admin", "create-user", "--email", "ops@certibuy.in", "--name", "Ops"})
		}()
		waitFor(t, 10*time.Second, func() bool { return strings.Contains(prompts.String(), "password") && echoOff() }, "no hidden password prompt")
		if _, err := master.Write([]byte(first + "\n")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, func() bool { return strings.Contains(prompts.String(), "again") && echoOff() }, "no second prompt")
		if _, err := master.Write([]byte(second + "\n")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			return prompts.String(), err
		case <-time.After(60 * time.Second):
			t.Fatal("create-user did not finish")
		}
		return "", nil
	}

	// Two different passwords: refused before the database is touched.
	url, exists := absentDatabase(t)
	out, err := run(url, "correct horse battery", "correct horse batterY")
	if !errors.Is(err, errPasswordsDiffer) || exists() {
		t.Fatalf("two different passwords: %v, database created %v\n%s", err, exists(), out)
	}
	// The same twice: the admin is created, and the terminal showed neither.
	s := startService(t, nil)
	out, err = run(s.cfg.DatabaseURL, "correct horse battery", "correct horse battery")
	if err != nil || !strings.Contains(out, "created admin Ops") {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	if _, _, err := s.deps.App.Admins.Login(context.Background(), "ops@certibuy.in", "correct horse battery"); err != nil {
		t.Fatalf("the new admin cannot log in: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // let the reader catch up with anything the terminal showed
	if got := shown.String(); strings.Contains(got, "horse") || strings.Contains(out, "horse") {
		t.Fatalf("the password was shown: terminal %q, output %q", got, out)
	}
}
