package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/order"
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
		{[]string{"admin", "disable-user"}, "", true},
		{[]string{"admin", "disable-user", "--email", "not an address"}, "", true},
		{[]string{"admin", "enable-user"}, "", true},
		{[]string{"admin", "set-password", "--email", "ops@certibuy.in"}, "too short\n", false},
		{[]string{"admin", "set-password", "--email", "ops@certibuy.in", "--name", "Ops"}, "", true},
		{[]string{"admin", "list-tokens", "--email", "not an address"}, "", true},
		{[]string{"admin", "list-tokens", "extra"}, "", true},
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
		prompts := &pgtest.LogBuffer{}
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

// A refused flag is a usage error (exit 2) that names the flag and says what is wrong with it, and
// it changes nothing: not even the database is created. Names and labels follow the product's text
// rules, and are refused before the password is asked for.
func TestARefusedFlagNamesItselfAndChangesNothing(t *testing.T) {
	t.Parallel()
	url, exists := absentDatabase(t)
	missing := filepath.Join(t.TempDir(), "missing.env")
	dir := t.TempDir()
	const password = "correct horse battery\n"
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"audit", "--after", "zzz"}, "", `--after "zzz": not a cursor certibuy audit printed`},
		{[]string{"audit", "--order", "CB-7K3M9Q2X", "--after", "12-x"}, "", `--after "12-x": not a cursor`},
		{[]string{"audit", "--actor", "\xff"}, "", "--actor: not valid UTF-8"},
		{[]string{"audit", "--type", "order.placed.v1\x1b[2J"}, "", "--type: has a control or invisible formatting character (U+001B"},
		{[]string{"audit", "--correlation-id", "req\u200b1"}, "", "--correlation-id: has a control or invisible formatting character (U+200B"},
		{[]string{"admin", "create-user", "--email", "a3@example.in", "--name", "Evil\x1b[2J"}, password,
			"--name: has a control or invisible formatting character (U+001B at byte 4)"},
		{[]string{"admin", "create-user", "--email", "a3@example.in", "--name", "12345"}, password, "--name: has no letter"},
		{[]string{"admin", "create-user", "--email", "a3@example.in", "--name", "Priya\u202eNair"}, password, "(U+202E at byte 5)"},
		{[]string{"admin", "create-token", "--email", "a3@example.in", "--name", "lab\x1b[31mel"}, "",
			"--name: has a control or invisible formatting character (U+001B at byte 3)"},
		{[]string{"admin", "create-token", "--email", "a3@example.in", "--name", "deploy\u2028bot"}, "", "--name: has a control"},
		{[]string{"admin", "create-token", "--email", "not an address"}, "", "--email: "},
		{[]string{"admin", "revoke-token", "--id", "bogus"}, "", `--id "bogus": not a token id; a token id is a UUID, such as `},
		{[]string{"admin", "revoke-token"}, "", "revoke-token needs --id <token id>"},
		{[]string{"migrate", "--env-file", missing}, "", fmt.Sprintf("--env-file %q: cannot read it: no such file or directory", missing)},
		{[]string{"audit", "--env-file", dir}, "", fmt.Sprintf("--env-file %q: cannot read it: is a directory", dir)},
	} {
		name := strings.Join(c.args, " ")
		out, err := runCLIWith(t, map[string]string{"DATABASE_URL": url, "STDIN": c.stdin}, c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("certibuy %q: %v (exit %d), want a usage error (exit 2) saying %q:\n%s", name, err, exitCode(err), c.want, out)
		}
		if err != nil && (strings.Contains(err.Error(), "this API") || strings.Contains(err.Error(), "needs --id") && c.args[len(c.args)-1] == "bogus") {
			t.Errorf("certibuy %q says %q", name, err)
		}
		if strings.Contains(out, "password") {
			t.Errorf("certibuy %q asked for a password before refusing a flag:\n%s", name, out)
		}
		if exists() {
			t.Fatalf("certibuy %q created the database before refusing: %v", name, err)
		}
	}
}

// An admin's name and a token's label follow the rules of every other name and text, in the use
// cases as in the CLI: refused, nothing stored. A name in an Indian script, joiner included, is a name.
func TestAdminNamesAndTokenLabelsFollowTheTextRules(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	ctx := context.Background()
	url := s.cfg.DatabaseURL
	out, err := runCLIWith(t, map[string]string{"DATABASE_URL": url, "STDIN": "correct horse battery\n"},
		"admin", "create-user", "--email", "a3@example.in", "--name", "Evil\x1b[2J")
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--name: ") || s.count(t, `SELECT count(*) FROM admin_users`) != 0 {
		t.Fatalf("create-user with an ESC in the name: %v (exit %d), %d admins stored\n%s", err, exitCode(err),
			s.count(t, `SELECT count(*) FROM admin_users`), out)
	}
	for _, name := range []string{"12345", "Evil\x1b[2J", "a\u200bb", ""} {
		if _, err := s.deps.App.Admins.CreateUser(ctx, "a3@example.in", name, "correct horse battery"); !errors.Is(err, order.ErrInvalidInput) {
			t.Errorf("CreateUser with the name %q: %v, want it refused", name, err)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM admin_users`); n != 0 {
		t.Fatalf("%d admins stored with refused names", n)
	}

	out, err = runCLIWith(t, map[string]string{"DATABASE_URL": url, "STDIN": "correct horse battery\n"},
		"admin", "create-user", "--email", "a3@example.in", "--name", "लक्ष्\u200dमी")
	if err != nil || !strings.Contains(out, "created admin लक्ष्\u200dमी <a3@example.in>") {
		t.Fatalf("create-user with a Devanagari name: %v\n%s", err, out)
	}
	out, err = runCLI(t, url, "admin", "create-token", "--email", "a3@example.in", "--name", "lab\x1b[31mel")
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--name: has a control") {
		t.Fatalf("create-token with an ESC in the label: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	if _, _, err := s.deps.App.Admins.CreateToken(ctx, "a3@example.in", "lab\x1b[31mel", 0); !errors.Is(err, order.ErrInvalidInput) {
		t.Fatalf("CreateToken with an ESC in the label: %v", err)
	}
	if n := s.count(t, `SELECT count(*) FROM admin_tokens`); n != 0 {
		t.Fatalf("%d tokens stored with a refused label", n)
	}
	if out, err := runCLI(t, url, "admin", "create-token", "--email", "a3@example.in", "--name", "deploy-bot"); err != nil ||
		s.count(t, `SELECT count(*) FROM admin_tokens WHERE name = 'deploy-bot'`) != 1 {
		t.Fatalf("create-token --name deploy-bot: %v\n%s", err, out)
	}
}

// adminLogin logs in to the admin API: the status and, on a 200, the token.
func adminLogin(t *testing.T, s *testService, email, password string) (int, string) {
	t.Helper()
	res := s.do(t, "POST", "/api/v1/admin/login", []byte(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)), nil)
	if res.status != http.StatusOK {
		return res.status, ""
	}
	token, _ := res.json(t)["token"].(string)
	return res.status, token
}

// consoleLogin logs in to the console and returns the client holding the session.
func consoleLogin(t *testing.T, s *testService, email, password string) *consoleClient {
	t.Helper()
	cc := newConsoleClient(t, s)
	res := cc.post("/admin/login", url.Values{"email": {email}, "password": {password}}, nil)
	if res.status != http.StatusSeeOther || cc.lastSet == nil {
		t.Fatalf("console login: %d %s", res.status, res.body)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	return cc
}

// An admin who leaves is disabled: their API token, their API login's token and their console
// session stop working at the next request, they can log in no more, and list-tokens shows every
// token of theirs revoked, without printing one. Disabling twice says so; enable-user brings them
// back with a new password only.
func TestDisableUserEndsEveryTokenSessionAndLoginAtOnce(t *testing.T) {
	t.Parallel()
	s := startService(t, map[string]string{"LOGIN_BURST": "100"})
	db := s.cfg.DatabaseURL
	const password, fresh = "correct horse battery", "staple battery horse"
	if out, err := runCLIWith(t, map[string]string{"DATABASE_URL": db, "STDIN": password + "\n"},
		"admin", "create-user", "--email", "leaver@certibuy.in", "--name", "Leaver"); err != nil {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	if _, _, err := s.deps.App.Admins.CreateToken(context.Background(), "stays@certibuy.in", "", 0); !errors.Is(err, command.ErrAdminNotFound) {
		t.Fatalf("a token for no admin: %v", err)
	}
	if _, err := s.deps.App.Admins.CreateUser(context.Background(), "stays@certibuy.in", "Stays", password); err != nil {
		t.Fatal(err)
	}
	stayer, _, err := s.deps.App.Admins.CreateToken(context.Background(), "stays@certibuy.in", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	apiToken, _, err := runCLISplit(t, map[string]string{"DATABASE_URL": db}, "admin", "create-token", "--email", "leaver@certibuy.in", "--name", "deploy-bot")
	apiToken = strings.TrimSpace(apiToken)
	if err != nil || !strings.HasPrefix(apiToken, "cba_") {
		t.Fatalf("create-token: %v %q", err, apiToken)
	}
	status, loginToken := adminLogin(t, s, "leaver@certibuy.in", password)
	cc := consoleLogin(t, s, "leaver@certibuy.in", password)
	for _, tok := range []string{apiToken, loginToken, stayer} {
		if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(tok)); res.status != http.StatusOK {
			t.Fatalf("before: a token is refused (%d, login %d): %s", res.status, status, res.body)
		}
	}
	if res := cc.get("/admin/orders"); res.status != http.StatusOK {
		t.Fatalf("before: the console session is refused: %d", res.status)
	}

	out, err := runCLI(t, db, "admin", "disable-user", "--email", "Leaver@certibuy.in")
	if err != nil || !strings.Contains(out, "disabled admin Leaver <leaver@certibuy.in>; 3 tokens revoked") {
		t.Fatalf("disable-user: %v\n%s", err, out)
	}
	for name, tok := range map[string]string{"API token": apiToken, "API login's token": loginToken} {
		if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(tok)); res.status != http.StatusUnauthorized {
			t.Errorf("after disable-user, the %s: %d, want 401", name, res.status)
		}
	}
	if res := cc.get("/admin/orders"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/admin/login") {
		t.Errorf("after disable-user, the console session: %d to %q, want the login page", res.status, res.header.Get("Location"))
	}
	if status, _ := adminLogin(t, s, "leaver@certibuy.in", password); status != http.StatusUnauthorized {
		t.Errorf("after disable-user, a login: %d, want 401", status)
	}
	if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(stayer)); res.status != http.StatusOK {
		t.Errorf("another admin's token stopped working: %d", res.status)
	}

	out, err = runCLI(t, db, "admin", "list-tokens", "--email", "leaver@certibuy.in")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(rows) != 4 || !strings.HasPrefix(rows[0], "ID") || !strings.Contains(rows[0], "LAST USED") {
		t.Fatalf("list-tokens: %v\n%s", err, out)
	}
	for _, row := range rows[1:] {
		if f := strings.Fields(row); !strings.HasSuffix(row, " IST") || f[len(f)-1] != "IST" || strings.HasSuffix(row, "-") ||
			!strings.Contains(row, "leaver@certibuy.in") {
			t.Errorf("list-tokens shows a token of the disabled admin not revoked, or another's: %q", row)
		}
	}
	all, err := runCLI(t, db, "admin", "list-tokens", "--utc")
	if err != nil || strings.Count(all, "\n") != 5 || !strings.Contains(all, "stays@certibuy.in") || !strings.Contains(all, " UTC") {
		t.Fatalf("list-tokens of every admin: %v\n%s", err, all)
	}
	for _, tok := range []string{apiToken, loginToken, stayer} {
		if strings.Contains(out+all, tok) || strings.Contains(out+all, tok[4:20]) {
			t.Fatalf("list-tokens printed a token:\n%s", out+all)
		}
	}

	out, err = runCLI(t, db, "admin", "disable-user", "--email", "leaver@certibuy.in")
	if err != nil || !strings.Contains(out, "admin Leaver <leaver@certibuy.in> was already disabled on ") || !strings.Contains(out, "0 tokens revoked") {
		t.Fatalf("disable-user twice: %v\n%s", err, out)
	}
	if out, err := runCLI(t, db, "admin", "disable-user", "--email", "nobody@certibuy.in"); exitCode(err) != 1 ||
		!strings.Contains(err.Error(), "no such admin user") {
		t.Fatalf("disable-user of no one: %v\n%s", err, out)
	}
	if out, err := runCLIWith(t, map[string]string{"DATABASE_URL": db, "STDIN": fresh + "\n"},
		"admin", "set-password", "--email", "leaver@certibuy.in"); err == nil || !strings.Contains(err.Error(), "enable-user") {
		t.Fatalf("set-password of a disabled admin: %v\n%s", err, out)
	}

	// Enabled again, with a new password only; the old tokens stay revoked.
	if out, err := runCLIWith(t, map[string]string{"DATABASE_URL": db, "STDIN": fresh + "\n"},
		"admin", "enable-user", "--email", "leaver@certibuy.in"); err != nil || strings.Contains(out, fresh) {
		t.Fatalf("enable-user: %v\n%s", err, out)
	}
	if status, _ := adminLogin(t, s, "leaver@certibuy.in", password); status != http.StatusUnauthorized {
		t.Errorf("after enable-user, the old password: %d, want 401", status)
	}
	if status, _ := adminLogin(t, s, "leaver@certibuy.in", fresh); status != http.StatusOK {
		t.Errorf("after enable-user, the new password: %d, want 200", status)
	}
	if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(apiToken)); res.status != http.StatusUnauthorized {
		t.Errorf("after enable-user, the old API token: %d, want 401", res.status)
	}
	if out, err := runCLIWith(t, map[string]string{"DATABASE_URL": db, "STDIN": fresh + "\n"},
		"admin", "enable-user", "--email", "leaver@certibuy.in"); err == nil || !strings.Contains(err.Error(), "not disabled") {
		t.Fatalf("enable-user of an enabled admin: %v\n%s", err, out)
	}
}

// A leaked password is changed with set-password: the old password logs in no more, every token
// and session made before is refused, the new password logs in, and list-tokens shows them revoked.
func TestSetPasswordEndsTheOldPasswordAndItsTokens(t *testing.T) {
	t.Parallel()
	s := startService(t, map[string]string{"LOGIN_BURST": "100"})
	db := s.cfg.DatabaseURL
	const leaked, fresh = "correct horse battery", "staple battery horse"
	if _, err := s.deps.App.Admins.CreateUser(context.Background(), "ops@certibuy.in", "Ops", leaked); err != nil {
		t.Fatal(err)
	}
	apiToken, _, err := s.deps.App.Admins.CreateToken(context.Background(), "ops@certibuy.in", "warehouse", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, loginToken := adminLogin(t, s, "ops@certibuy.in", leaked)
	cc := consoleLogin(t, s, "ops@certibuy.in", leaked)

	if out, err := runCLIWith(t, map[string]string{"DATABASE_URL": db, "STDIN": "too short\n"},
		"admin", "set-password", "--email", "ops@certibuy.in"); err == nil {
		t.Fatalf("set-password with a short password: %v\n%s", err, out)
	}
	out, err := runCLIWith(t, map[string]string{"DATABASE_URL": db, "STDIN": fresh + "\n"}, "admin", "set-password", "--email", "ops@certibuy.in")
	if err != nil || !strings.Contains(out, "changed the password of admin Ops <ops@certibuy.in>; 3 tokens revoked") || strings.Contains(out, fresh) {
		t.Fatalf("set-password: %v\n%s", err, out)
	}
	for name, tok := range map[string]string{"API token": apiToken, "API login's token": loginToken} {
		if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(tok)); res.status != http.StatusUnauthorized {
			t.Errorf("after set-password, the %s: %d, want 401", name, res.status)
		}
	}
	if res := cc.get("/admin/orders"); res.status != http.StatusSeeOther {
		t.Errorf("after set-password, the console session: %d, want a redirect to log in", res.status)
	}
	if status, _ := adminLogin(t, s, "ops@certibuy.in", leaked); status != http.StatusUnauthorized {
		t.Errorf("after set-password, the old password: %d, want 401", status)
	}
	status, tok := adminLogin(t, s, "ops@certibuy.in", fresh)
	if res := s.do(t, "GET", "/api/v1/admin/orders", nil, bearerHeader(tok)); status != http.StatusOK || res.status != http.StatusOK {
		t.Errorf("after set-password, the new password: login %d, its token %d", status, res.status)
	}
	out, err = runCLI(t, db, "admin", "list-tokens", "--email", "ops@certibuy.in")
	if err != nil || strings.Count(out, "\n") != 5 || strings.Count(out, " - \n")+strings.Count(out, "  -\n") != 1 {
		t.Fatalf("list-tokens: %v, want three revoked and the new login's live:\n%s", err, out)
	}
	for _, t2 := range []string{apiToken, loginToken, tok} {
		if strings.Contains(out, t2) || strings.Contains(out, t2[4:20]) {
			t.Fatalf("list-tokens printed a token:\n%s", out)
		}
	}
}

// create-token without --ttl gives a token that expires in 90 days; --ttl 0 one that does not.
func TestCreateTokenLastsNinetyDaysByDefault(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	db := s.cfg.DatabaseURL
	if _, err := s.deps.App.Admins.CreateUser(context.Background(), "ops@certibuy.in", "Ops", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	_, errOut, err := runCLISplit(t, map[string]string{"DATABASE_URL": db}, "admin", "create-token", "--email", "ops@certibuy.in", "--name", "default")
	if err != nil || !strings.Contains(errOut, "expires "+showTime(before.Add(90*24*time.Hour), false)[:10]) {
		t.Fatalf("create-token: %v\n%s", err, errOut)
	}
	var expires *time.Time
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT expires_at FROM admin_tokens WHERE name = 'default'`).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if want := before.Add(90 * 24 * time.Hour); expires == nil || expires.Before(want) || expires.After(want.Add(time.Minute)) {
		t.Fatalf("a token created without --ttl expires at %v, want 90 days on (%v)", expires, want)
	}
	if _, _, err := runCLISplit(t, map[string]string{"DATABASE_URL": db}, "admin", "create-token", "--email", "ops@certibuy.in", "--name", "forever", "--ttl", "0"); err != nil {
		t.Fatal(err)
	}
	if n := s.count(t, `SELECT count(*) FROM admin_tokens WHERE name = 'forever' AND expires_at IS NULL`); n != 1 {
		t.Fatalf("--ttl 0 gave a token that expires")
	}
	out, err := runCLI(t, db, "admin", "list-tokens")
	if err != nil || !strings.Contains(out, showTime(*expires, false)) || !strings.Contains(out, "never") {
		t.Fatalf("list-tokens shows neither expiry:\n%s", out)
	}
}
