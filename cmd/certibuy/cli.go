package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// commandHelp is what `certibuy help` and `certibuy <command> --help` say about a command.
type commandHelp struct {
	name    string // as typed: "audit", "admin create-user"
	summary string // one line for the list of commands
	usage   string // the synopsis, after "certibuy "
	about   string // what it does, in a few sentences
	example string // one or more command lines
}

// commandList lists every command in the order `certibuy help` shows them.
func commandList() []commandHelp {
	return []commandHelp{
		{name: "serve", summary: "run the HTTP API, the admin console, the event routers and the projections",
			usage: "serve [--env-file <file>] [--no-events]",
			about: "Runs the whole service in one process: the HTTP API (/api/v1), the customers' order pages, the admin\n" +
				"console (/admin), the event routers that send e-mail and SMS, the projections and the refund sweep.\n" +
				"Creates and migrates the database when it is missing. The start-up log says where the API, the\n" +
				"console and /metrics listen, and what it stands in for (simulated payments, .eml files, logged SMS).\n" +
				"With NATS_URL set it also forwards every event to JetStream (docs/EVENTS.md). With --no-events it\n" +
				"answers HTTP only and leaves the events to worker processes (docs/SCALING.md).\n" +
				"Stops cleanly on Ctrl-C or SIGTERM.",
			example: "certibuy serve\ncertibuy serve --env-file .env\ncertibuy serve --no-events   # beside `certibuy worker` processes"},
		{name: "worker", summary: "run the event routers and projections only (no HTTP API); run several to share the work",
			usage: "worker [--env-file <file>]",
			about: "Runs what serve runs except the HTTP API: the event routers (notification requests and\n" +
				"deliveries), the projections, the refund sweep and, with NATS_URL set, the forwarding to JetStream\n" +
				"(one process forwards at a time). Workers share the work through the database;\n" +
				"add one on another machine for more throughput. Serves /metrics on METRICS_ADDR.",
			example: "certibuy worker\nMETRICS_ADDR=127.0.0.1:9091 certibuy worker   # a second process on the same machine"},
		{name: "migrate", summary: "apply the database migrations and exit",
			usage: "migrate [--env-file <file>]",
			about: "Applies the migrations the database does not have yet, under an advisory lock, and prints their\n" +
				"names. serve and worker do the same at start-up; run it on its own before a deploy.",
			example: "certibuy migrate"},
		{name: "replay", summary: "rebuild read models from the event store, or verify them (--verify)",
			usage: "replay --projection <name>|all [--verify] [--env-file <file>]",
			about: "Rebuilds a read model (order_summary, order_status_history, notification_log, or all) from the\n" +
				"event store into fresh tables while the service runs, then swaps them in. --verify rebuilds into\n" +
				"scratch tables and compares them with the live ones, changes nothing, and exits 1 on a difference.\n" +
				"Sends nothing to anyone.",
			example: "certibuy replay --projection all --verify\ncertibuy replay --projection notification_log"},
		{name: "audit", summary: "list stored events by order, type, actor, correlation id or time",
			usage: "audit [--order <id|number>] [--type <type>] [--actor <actor>] [--correlation-id <id>] [--from <time>] [--to <time>] " +
				"[--after <cursor>] [--limit <n>] [--as-of <time>] [--json] [--utc] [--env-file <file>]",
			about: "Lists events of the event store in the order they were committed, in pages (--after with the\n" +
				"cursor the previous page printed). Times are shown in India (IST) unless --utc; dates given to\n" +
				"--from and --to are days in IST. With --order and --as-of it prints the order as it stood then.",
			example: "certibuy audit --order CB-7K3M9Q2X\ncertibuy audit --actor system --from 2026-11-27 --to 2026-11-27\n" +
				"certibuy audit --order CB-7K3M9Q2X --as-of 2026-11-27T18:00:00+05:30"},
		{name: "doctor", summary: "check the database, SMTP, SMS, payment and NATS settings and the lags; show the last notifications",
			usage: "doctor [--utc] [--env-file <file>]",
			about: "Checks the database and its migrations, the SMTP server (connects, EHLO, STARTTLS, AUTH; sends\n" +
				"nothing), the SMS and payment settings, how far the outbox consumers, the projections and the\n" +
				"forwarding to NATS JetStream are behind, the notification queue, and the order events given up on\n" +
				"and not requested since (certibuy poison); then lists the last 10 notifications (times in IST\n" +
				"unless --utc). A message the log or file sender handled is shown as simulated: it was not sent.\n" +
				"Exits 1 when a check fails.",
			example: "certibuy doctor"},
		{name: "notify-test", summary: "send a test e-mail and SMS of a notification type through the configured providers",
			usage: "notify-test --email <address> --phone <number> [--type <type>|all] [--wait <duration>] [--env-file <file>]",
			about: "Sends a test e-mail and a test SMS of one notification type (order_confirmed by default; all:\n" +
				"one of each) straight to the configured providers, with links of the configured shape for a\n" +
				"sample order, and prints what each provider answered and each SMS's text (what to register\n" +
				"with DLT). With no SMTP_URL the e-mail is written as an .eml file, and with no SMS provider the\n" +
				"SMS is only logged: both are reported as simulated (not sent).",
			example: "certibuy notify-test --email ops@shop.example.in --phone \"+91 98765 43210\"\n" +
				"certibuy notify-test --phone 9876543210 --type all"},
		{name: "poison", summary: "list the order events whose notifications were given up on, and request them again",
			usage: "poison [--request <event id>|all] [--utc] [--env-file <file>]",
			about: "Lists the order events the notification request handlers gave up on (the order_events_poison\n" +
				"topic): when (IST unless --utc), the event, its order, why, and whether its notifications were\n" +
				"requested since. The customer got no message about such an event. Once the cause is fixed,\n" +
				"--request asks for its e-mail and SMS again, as the handlers would have (all: every one not\n" +
				"requested since); the workers then send them. Asking twice requests nothing twice.",
			example: "certibuy poison\ncertibuy poison --request all\ncertibuy poison --request 01a23542-bfa3-7b77-a44c-f3549a51959b"},
		{name: "admin", summary: "manage admin users and API tokens: create, disable, enable, set passwords, list and revoke tokens",
			usage: "admin create-user|create-token|revoke-token|list-tokens|disable-user|enable-user|set-password [flags]",
			about: "Manages the people who may use the admin console and API. See each subcommand's --help.\n" +
				"An admin who leaves: disable-user. A leaked password: set-password. Both end every session at once.",
			example: "certibuy admin create-user --email ops@shop.example.in --name \"Priya Nair\"\n" +
				"certibuy admin create-token --email ops@shop.example.in --name deploy-bot --ttl 720h\n" +
				"certibuy admin disable-user --email ops@shop.example.in"},
		{name: "admin create-user", summary: "create an admin user",
			usage: "admin create-user --email <address> --name <name> [--env-file <file>]",
			about: "Creates an admin who can log in to the console (/admin/login) and the admin API. The password\n" +
				"(12 characters or more) is asked twice without being shown on a terminal; from a pipe, one line\n" +
				"of stdin is read. An admin disabled before is enabled again with enable-user, not created again.",
			example: "certibuy admin create-user --email ops@shop.example.in --name \"Priya Nair\"\n" +
				"printf '%s\\n' \"$PASSWORD\" | certibuy admin create-user --email bot@shop.example.in --name Bot"},
		{name: "admin create-token", summary: "issue an API token for an admin",
			usage: "admin create-token --email <address> [--name <label>] [--ttl <duration>] [--utc] [--env-file <file>]",
			about: "Issues a bearer token for the admin API (Authorization: Bearer <token>) and prints it once on\n" +
				"stdout; only its hash is stored. It lasts 90 days (2160h) unless --ttl says otherwise; --ttl 0\n" +
				"makes it last until revoked. Its id, to revoke it, and its expiry go to stderr (list-tokens shows\n" +
				"them again).",
			example: "certibuy admin create-token --email ops@shop.example.in --name deploy-bot --ttl 720h"},
		{name: "admin revoke-token", summary: "revoke an API token",
			usage:   "admin revoke-token --id <token id> [--env-file <file>]",
			about:   "Revokes a token by the id create-token or list-tokens printed; it stops working at once.",
			example: "certibuy admin revoke-token --id 0193f7c2-5b1e-7c4a-9d2e-3f4a5b6c7d8e"},
		{name: "admin list-tokens", summary: "list API tokens and console sessions, with their state",
			usage: "admin list-tokens [--email <address>] [--utc] [--env-file <file>]",
			about: "Lists the tokens of every admin, or of one with --email (a disabled one too), newest first:\n" +
				"id, label (login: a console or API login), admin, created, expires, last used (noted to the\n" +
				"minute) and revoked, in IST unless --utc. Never the token itself nor its hash.",
			example: "certibuy admin list-tokens --email ops@shop.example.in"},
		{name: "admin disable-user", summary: "disable an admin and revoke all their tokens and sessions",
			usage: "admin disable-user --email <address> [--env-file <file>]",
			about: "Disables an admin who leaves: they can no longer log in, and every API token and console\n" +
				"session of theirs is revoked at once (the next request is a 401, the console logs them out).\n" +
				"Disabling an admin already disabled says so and changes nothing else. enable-user undoes it.",
			example: "certibuy admin disable-user --email ops@shop.example.in"},
		{name: "admin enable-user", summary: "enable a disabled admin with a new password",
			usage: "admin enable-user --email <address> [--env-file <file>]",
			about: "Enables a disabled admin again with a new password, read as create-user reads it (the old one\n" +
				"may be why they were disabled). Their old tokens stay revoked. An enabled admin is refused.",
			example: "certibuy admin enable-user --email ops@shop.example.in"},
		{name: "admin set-password", summary: "change an admin's password and end all their sessions",
			usage: "admin set-password --email <address> [--env-file <file>]",
			about: "Sets a new password (12 characters or more), read as create-user reads it: on a terminal asked\n" +
				"twice without being shown; from a pipe, one line of stdin. Every API token and console session\n" +
				"of the admin is revoked at once: whoever had the old password is logged out. Issue new API\n" +
				"tokens with create-token. A disabled admin is refused (enable-user).",
			example: "certibuy admin set-password --email ops@shop.example.in\n" +
				"printf '%s\\n' \"$PASSWORD\" | certibuy admin set-password --email bot@shop.example.in"},
		{name: "bench", summary: "measure throughput and latency against baselines run alongside (scratch database)",
			usage: "bench [--idle] [--duration <d>] [--runs <n>] [--clients <n>] [--latency-events <n>] [--burst <n>] " +
				"[--forward <n>] [--workers <counts>] [--statements <n>] [--cpuprofile <file>] [--env-file <file>]",
			about: "Measures checkout, notification latency and notification throughput on a scratch database it\n" +
				"creates and drops, each figure beside a baseline measured in the same run, and prints the\n" +
				"machine's CPU time and PostgreSQL's work per order. It loads every core while it runs.\n" +
				"A run with the defaults takes about two to three minutes (each extra --runs adds about a\n" +
				"minute); --duration 1s --latency-events 0 gives the throughput figures in about a minute.",
			example: "certibuy bench --duration 1s --latency-events 0 --runs 5"},
		{name: "tail", summary: "print the events published on NATS JetStream as they come (what other services see)",
			usage: "tail [--subject <subject>] [--durable <name>] [--limit <n>] [--utc] [--env-file <file>]",
			about: "Follows the JetStream stream NATS_STREAM on NATS_URL and prints each event as it comes: time (IST\n" +
				"unless --utc), subject, stream and version, type and the published body (no personal data; see\n" +
				"docs/EVENTS.md). Without --durable it starts from now and leaves nothing behind; with --durable it\n" +
				"keeps a durable consumer of that name, which starts at the beginning of the stream the first time\n" +
				"and where it stopped after that. An example consumer for other services.",
			example: "certibuy tail --subject 'certibuy.order.>'\ncertibuy tail --subject 'certibuy.order.order_shipped' --durable warehouse"},
		{name: "help", summary: "show this list, or a command's help (certibuy help <command>)",
			usage: "help [command]", about: "Lists the commands, or shows one command's help.", example: "certibuy help audit"},
	}
}

func helpOf(name string) (commandHelp, bool) {
	for _, c := range commandList() {
		if c.name == name {
			return c, true
		}
	}
	return commandHelp{}, false
}

// printCommands writes the list of commands `certibuy help` shows.
func printCommands(w io.Writer) {
	fmt.Fprint(w, "certibuy: the CertiBuy order service and its tools\n\nUsage:\n  certibuy <command> [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commandList() {
		if !strings.Contains(c.name, " ") {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
	}
	_ = tw.Flush()
	fmt.Fprint(w, "\nEvery command takes --help. Settings come from the environment, or from a file given with\n"+
		"--env-file (the environment wins); see .env.example. With none set, the service uses\n"+
		"postgres://postgres@127.0.0.1:5432/certibuy (created when missing) and listens on :8080.\n")
}

// printHelp writes a command's help: what it does, its flags and an example.
func printHelp(w io.Writer, c commandHelp, fs *flag.FlagSet) {
	fmt.Fprintf(w, "certibuy %s: %s\n\nUsage:\n  certibuy %s\n\n%s\n", c.name, c.summary, c.usage, c.about)
	if fs != nil {
		var flags []*flag.Flag
		fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
		if len(flags) > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, f := range flags {
				name, usage := flag.UnquoteUsage(f)
				arg := "--" + f.Name
				if name != "" {
					arg += " <" + name + ">"
				}
				if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
					usage += " (default " + f.DefValue + ")"
				}
				fmt.Fprintf(tw, "  %s\t%s\n", arg, usage)
			}
			_ = tw.Flush()
		}
	}
	if c.name == "admin" {
		fmt.Fprint(w, "\nSubcommands:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range commandList() {
			if rest, ok := strings.CutPrefix(s.name, "admin "); ok {
				fmt.Fprintf(tw, "  %s\t%s\n", rest, s.summary)
			}
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "\nExample:\n  %s\n", strings.ReplaceAll(c.example, "\n", "\n  "))
}

// errHelpShown is a command's --help, printed: the run succeeded.
var errHelpShown = errors.New("help shown")

// shownUsageError is a usage error whose explanation was printed already: main prints nothing more.
type shownUsageError struct{ usageError }

// parse reads a command's flags. --help prints the command's help on stdout (exit 0); a flag it
// does not know, or a bad value, prints one line saying so (with the nearest known flag) and the
// command's usage, once, on stderr (exit 2).
func (m *Main) parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // the flag package's own messages are replaced by the ones below
	fs.Usage = func() {}
	err := fs.Parse(args)
	if err == nil {
		return nil
	}
	c, _ := helpOf(fs.Name())
	if errors.Is(err, flag.ErrHelp) {
		printHelp(m.Stdout, c, fs)
		return errHelpShown
	}
	line := flagProblem(fs, err)
	fmt.Fprintf(m.Stderr, "certibuy %s: %s\nusage: certibuy %s\n(certibuy %s --help shows every flag and an example)\n",
		fs.Name(), line, c.usage, fs.Name())
	return shownUsageError{usageError(line)}
}

// flagProblem says in one line what is wrong with a flag, from the flag package's error.
func flagProblem(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		if near := nearestFlag(fs, name); near != "" {
			return fmt.Sprintf("unknown flag --%s (did you mean --%s?)", name, near)
		}
		return fmt.Sprintf("unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("--%s needs a value", strings.TrimLeft(name, "-"))
	}
	// invalid value "x" for flag -limit: parse error
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if value, name, ok := strings.Cut(rest, " for flag -"); ok {
			name, _, _ = strings.Cut(name, ":")
			kind := "another value"
			if f := fs.Lookup(name); f != nil {
				k, _ := flag.UnquoteUsage(f)
				kind = map[string]string{"int": "a whole number", "duration": "a duration such as 10s or 720h",
					"": "true or false"}[k]
				if kind == "" {
					kind = "a " + k
				}
			}
			return fmt.Sprintf("--%s %s: want %s", name, value, kind)
		}
	}
	return strings.ReplaceAll(msg, " -", " --")
}

// nearestFlag is the known flag closest to name, or "" when none is close enough to be a typo.
func nearestFlag(fs *flag.FlagSet, name string) string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	fs.VisitAll(func(f *flag.Flag) {
		d := editDistance(strings.ToLower(name), f.Name)
		if strings.HasPrefix(f.Name, strings.ToLower(name)) || strings.HasPrefix(strings.ToLower(name), f.Name) {
			d = min(d, 1)
		}
		cands = append(cands, cand{f.Name, d})
	})
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].dist < cands[j].dist })
	if len(cands) == 0 || cands[0].dist > max(2, len(name)/3) {
		return ""
	}
	return cands[0].name
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// india is the shop's time zone: India has one, with no daylight saving.
func india() *time.Location { return time.FixedZone("IST", 5*60*60+30*60) }

// clock is where the CLI shows times: India (as the console does), or UTC with --utc.
func clock(utc bool) *time.Location {
	if utc {
		return time.UTC
	}
	return india()
}

// showTime writes a time as the CLI prints it: day first, as in India, with the zone named.
func showTime(t time.Time, utc bool) string {
	return t.In(clock(utc)).Format("02/01/2006 15:04:05 MST")
}
