package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCLISplit runs `certibuy args...` like the binary, keeping stdout and stderr apart.
func runCLISplit(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = m.Run(ctx, args)
	return out.String(), errOut.String(), err
}

// Every command says what it does, its flags and an example with --help, succeeds, and touches
// nothing; `certibuy help` lists each of them.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	url, exists := absentDatabase(t)
	env := map[string]string{"DATABASE_URL": url}
	list, _, err := runCLISplit(t, env, "help")
	if err != nil {
		t.Fatalf("help: %v", err)
	}
	for _, c := range commandList() {
		if c.name == "help" {
			continue
		}
		if !strings.Contains(c.name, " ") && !regexp.MustCompile(`(?m)^  `+c.name+` +\S`).MatchString(list) {
			t.Errorf("certibuy help does not list %s:\n%s", c.name, list)
		}
		args := append(strings.Fields(c.name), "--help")
		out, errOut, err := runCLISplit(t, env, args...)
		if err != nil || exitCode(err) == 2 || errOut != "" {
			t.Errorf("certibuy %s: %v, stderr %q", strings.Join(args, " "), err, errOut)
			continue
		}
		for _, want := range []string{"certibuy " + c.name + ": ", "Usage:\n  certibuy " + c.name, "Example:\n  "} {
			if !strings.Contains(out, want) {
				t.Errorf("certibuy %s --help lacks %q:\n%s", c.name, want, out)
			}
		}
		if c.name != "admin" && (!strings.Contains(out, "Flags:\n  --") || !strings.Contains(out, "  --env-file <file>")) {
			t.Errorf("certibuy %s --help lists no flags:\n%s", c.name, out)
		}
		// The usage line lists every flag the command takes, --env-file included: a flag left out of
		// it is one a user never hears of.
		_, flags, _ := strings.Cut(out, "Flags:\n")
		flags, _, _ = strings.Cut(flags, "\n\n")
		for _, m := range regexp.MustCompile(`(?m)^  (--[a-z-]+)`).FindAllStringSubmatch(flags, -1) {
			if !regexp.MustCompile(regexp.QuoteMeta(m[1]) + `\b`).MatchString(c.usage) {
				t.Errorf("certibuy %s: the usage line %q leaves out %s", c.name, c.usage, m[1])
			}
		}
		same, _, err := runCLISplit(t, env, append([]string{"help"}, strings.Fields(c.name)...)...)
		if err != nil || same != out {
			t.Errorf("certibuy help %s differs from --help: %v\n%s", c.name, err, same)
		}
	}
	bench, _, _ := runCLISplit(t, env, "bench", "--help")
	if !regexp.MustCompile(`takes about [a-z]+ to [a-z]+ minutes`).MatchString(bench) {
		t.Errorf("bench --help does not say how long a run takes:\n%s", bench)
	}
	audit, _, _ := runCLISplit(t, env, "audit", "-h")
	for _, flag := range []string{"--order", "--type", "--actor", "--correlation-id", "--from", "--to", "--after", "--limit", "--json", "--as-of", "--utc"} {
		if !strings.Contains(audit, "\n  "+flag+" ") {
			t.Errorf("audit --help lacks %s:\n%s", flag, audit)
		}
	}
	if exists() {
		t.Fatal("a --help created the database")
	}
}

// A flag a command does not know is one line naming the nearest one it does, then the command's
// usage once; exit 2, nothing touched.
func TestAnUnknownFlagNamesTheNearestOne(t *testing.T) {
	t.Parallel()
	url, exists := absentDatabase(t)
	env := map[string]string{"DATABASE_URL": url}
	for _, c := range []struct {
		args []string
		line string
	}{
		{[]string{"audit", "--ordr", "CB-7K3M9Q2X"}, "certibuy audit: unknown flag --ordr (did you mean --order?)"},
		{[]string{"audit", "--limit", "many"}, `certibuy audit: --limit "many": want a whole number`},
		{[]string{"notify-test", "--typ", "all"}, "certibuy notify-test: unknown flag --typ (did you mean --type?)"},
		{[]string{"admin", "create-token", "--emial", "ops@certibuy.in"}, "certibuy admin create-token: unknown flag --emial (did you mean --email?)"},
		{[]string{"replay", "--projections", "all"}, "certibuy replay: unknown flag --projections (did you mean --projection?)"},
		{[]string{"doctor", "--frobnicate"}, "certibuy doctor: unknown flag --frobnicate"},
		{[]string{"audit", "--order"}, "certibuy audit: --order needs a value"},
	} {
		out, errOut, err := runCLISplit(t, env, c.args...)
		if err == nil || exitCode(err) != 2 || out != "" {
			t.Errorf("certibuy %s: %v (exit %d), stdout %q", strings.Join(c.args, " "), err, exitCode(err), out)
			continue
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if lines[0] != c.line || strings.Count(errOut, "usage: certibuy "+c.args[0]) != 1 || len(lines) != 3 {
			t.Errorf("certibuy %s said:\n%s\nwant first %q and the usage once", strings.Join(c.args, " "), errOut, c.line)
		}
		var shown shownUsageError
		if !errors.As(err, &shown) {
			t.Errorf("certibuy %s: main would print the error a second time: %v", strings.Join(c.args, " "), err)
		}
	}
	if _, _, err := runCLISplit(t, env, "frobnicate"); err == nil || exitCode(err) != 2 {
		t.Errorf("an unknown command: %v", err)
	}
	if exists() {
		t.Fatal("a refused flag created the database")
	}
}

// A .env file fills in the settings the environment does not set; the environment wins.
func TestAnEnvFileFillsInWhatTheEnvironmentLeavesOut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".env")
	file := `# the shop's settings
export SHOP_NAME="Chai Point"
HTTP_ADDR=:9999
SUPPORT_EMAIL=help@chai.example.in   # where customers write
REFUND_EXPECTATION='3 working days'
LOG_LEVEL=debug
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Main{Stderr: &bytes.Buffer{}, LookupEnv: func(k string) (string, bool) {
		v, ok := map[string]string{"HTTP_ADDR": ":7777", "LOG_LEVEL": ""}[k]
		return v, ok
	}, envFile: path}
	cfg, err := m.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.ShopName != "Chai Point" || cfg.Notify.SupportEmail != "help@chai.example.in" || cfg.Notify.RefundExpectation != "3 working days" {
		t.Fatalf("the file's settings were not read: %+v", cfg.Notify)
	}
	if cfg.HTTPAddr != ":7777" || cfg.LogLevel.String() != "INFO" {
		t.Fatalf("the file overrode the environment: HTTP_ADDR %q, LOG_LEVEL %s (set empty in the environment)", cfg.HTTPAddr, cfg.LogLevel)
	}

	// .env.example, copied to .env, is a file it reads.
	example := &Main{Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }, envFile: filepath.Join("..", "..", ".env.example")}
	if _, err := example.config(); err != nil {
		t.Fatalf(".env.example as an --env-file: %v", err)
	}

	if err := os.WriteFile(path, []byte("SHOP_NAME=ok\nthis is not a setting\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.config(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a bad line: %v", err)
	}
	url, exists := absentDatabase(t)
	if _, _, err := runCLISplit(t, map[string]string{"DATABASE_URL": url}, "migrate", "--env-file", filepath.Join(t.TempDir(), "missing.env")); err == nil ||
		!strings.Contains(err.Error(), "missing.env") {
		t.Fatalf("a missing file: %v", err)
	}
	if exists() {
		t.Fatal("a missing --env-file created the database")
	}
}

// Where no provider is configured, the messages a customer would get are written as .eml files named
// after the order and logged: every place that shows them says "simulated (not sent)", never sent.
func TestStandInProvidersAreShownAsSimulated(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	o := paidOrder(t, s)
	token, _ := s.adminToken(t, "api@certibuy.in")
	var list []any
	waitFor(t, 30*time.Second, func() bool {
		res := s.do(t, "GET", "/api/v1/admin/notifications?q="+o.number, nil, bearerHeader(token))
		list, _ = res.json(t)["notifications"].([]any)
		if len(list) != 4 {
			return false
		}
		for _, n := range list {
			if n.(map[string]any)["status"] != "sent" {
				return false
			}
		}
		return true
	}, "the order's four notifications were never handled")
	for _, n := range list {
		if e := n.(map[string]any); e["simulated"] != true {
			t.Fatalf("the API does not say %v by %v was simulated: %v", e["notification_type"], e["provider"], e)
		}
	}
	for _, typ := range []string{"payment_successful", "order_confirmed"} {
		if _, err := os.Stat(filepath.Join(s.cfg.Notify.MailDir, o.number+"-"+typ+"-email.eml")); err != nil {
			t.Errorf("the %s e-mail is not in %s-%s-email.eml: %v", typ, o.number, typ, err)
		}
	}

	out, err := runCLIWith(t, map[string]string{"DATABASE_URL": s.cfg.DatabaseURL, "MAIL_DIR": s.cfg.Notify.MailDir}, "doctor")
	if !errors.Is(err, nil) && !errors.Is(err, errChecksFailed) {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	if n := strings.Count(out, "simulated (not sent)"); n != 4 || regexp.MustCompile(`(?m)^.*`+o.number+`.*\bsent\b.*$`).MatchString(strings.ReplaceAll(out, "(not sent)", "")) {
		t.Fatalf("doctor shows %d of the order's 4 messages as simulated:\n%s", n, out)
	}
	if !regexp.MustCompile(`\d\d/\d\d/20\d\d \d\d:\d\d:\d\d IST`).MatchString(out) {
		t.Fatalf("doctor's times are not in IST:\n%s", out)
	}
	if out, _ := runCLIWith(t, map[string]string{"DATABASE_URL": s.cfg.DatabaseURL}, "doctor", "--utc"); !strings.Contains(out, " UTC ") {
		t.Fatalf("doctor --utc:\n%s", out)
	}

	out, errOut, err := runCLISplit(t, map[string]string{"DATABASE_URL": s.cfg.DatabaseURL, "MAIL_DIR": s.cfg.Notify.MailDir},
		"notify-test", "--email", "ops@certibuy.in", "--phone", "+91 98765 43210")
	if err != nil {
		t.Fatalf("notify-test: %v\n%s%s", err, out, errOut)
	}
	if errOut != "" || strings.Contains(out, "{") || strings.Contains(out, "sent via") {
		t.Fatalf("notify-test printed log lines, or said sent:\n%s\nstderr:\n%s", out, errOut)
	}
	if !strings.Contains(out, "order_confirmed e-mail to ops@certibuy.in: simulated (not sent): written to "+s.cfg.Notify.MailDir+"/CB-") ||
		!strings.Contains(out, "order_confirmed sms to *********3210: simulated (not sent)") {
		t.Fatalf("notify-test does not say the messages were simulated:\n%s", out)
	}
}
