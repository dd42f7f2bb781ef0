package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"golang.org/x/term"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/domain/printable"
)

// errPasswordsDiffer is a create-user, set-password or enable-user whose two passwords were not the same.
var errPasswordsDiffer = errors.New("the two passwords are not the same; nothing was changed")

func (m *Main) runAdmin(ctx context.Context, args []string) error {
	help, _ := helpOf("admin")
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) == 0 {
			printHelp(m.Stderr, help, nil)
			return usageError("admin needs a subcommand: create-user, create-token, revoke-token, list-tokens, disable-user, enable-user or set-password")
		}
		printHelp(m.Stdout, help, nil)
		return errHelpShown
	}
	sub, rest := args[0], args[1:]
	fs := m.flagSet("admin " + sub)
	var email, name, id *string
	var ttl *time.Duration
	var utc *bool
	switch sub {
	case "create-user":
		email = fs.String("email", "", "the admin's e-mail `address`, to log in with")
		name = fs.String("name", "", "the admin's `name`, shown in the console beside what they did")
	case "create-token":
		email = fs.String("email", "", "the e-mail `address` of the admin the token acts for")
		name = fs.String("name", "", "a `label` for the token, e.g. deploy-bot")
		ttl = fs.Duration("ttl", command.DefaultTokenLifetime, "how long the token lasts, e.g. 720h; 0: until revoked")
		utc = fs.Bool("utc", false, "print the expiry in UTC rather than India time (IST)")
	case "revoke-token":
		id = fs.String("id", "", "the token's `id`, as create-token printed it")
	case "disable-user":
		email = fs.String("email", "", "the e-mail `address` of the admin to disable")
	case "enable-user":
		email = fs.String("email", "", "the e-mail `address` of the disabled admin to enable")
	case "set-password":
		email = fs.String("email", "", "the e-mail `address` of the admin whose password to change")
	case "list-tokens":
		email = fs.String("email", "", "list only the tokens of the admin with this e-mail `address`")
		utc = fs.Bool("utc", false, "print times in UTC rather than India time (IST)")
	default:
		printHelp(m.Stderr, help, nil)
		return usageError(fmt.Sprintf("unknown admin subcommand %q: want create-user, create-token, revoke-token, list-tokens, disable-user, enable-user or set-password", sub))
	}
	if err := m.parse(fs, rest); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	// Everything the command needs is checked and read before the database is opened (and perhaps
	// created and migrated): a mistake changes nothing.
	var password string
	var tokenID uuid.UUID
	switch sub {
	case "create-user":
		if *email == "" || *name == "" {
			return usageError("create-user needs --email and --name")
		}
		// Both flags before the password is typed.
		if _, err := order.NewEmail(*email); err != nil {
			return usageError(fmt.Sprintf("--email: %v", err))
		}
		if err := command.CheckAdminName(*name); err != nil {
			return flagError(err)
		}
		var err error
		if password, err = m.readPassword(); err != nil {
			return err
		}
		if err := command.CheckNewUser(*email, *name, password); err != nil {
			return err
		}
	case "create-token":
		if *email == "" {
			return usageError("create-token needs --email")
		}
		if _, err := order.NewEmail(*email); err != nil {
			return usageError(fmt.Sprintf("--email: %v", err))
		}
		if err := command.CheckTokenLabel(*name); err != nil {
			return flagError(err)
		}
		if *ttl < 0 {
			return usageError(fmt.Sprintf("--ttl %s: want 0 (until revoked) or a positive duration", *ttl))
		}
	case "revoke-token":
		if *id == "" {
			return usageError("revoke-token needs --id <token id>")
		}
		var err error
		if tokenID, err = uuid.Parse(*id); err != nil {
			return usageError(fmt.Sprintf("--id %q: not a token id; a token id is a UUID, such as 0193f7c2-5b1e-7c4a-9d2e-3f4a5b6c7d8e, as create-token printed it", *id))
		}
	case "disable-user", "enable-user", "set-password":
		if *email == "" {
			return usageError(sub + " needs --email")
		}
		if _, err := order.NewEmail(*email); err != nil {
			return usageError(fmt.Sprintf("--email: %v", err))
		}
		if sub == "disable-user" {
			break
		}
		var err error
		if password, err = m.readPassword(); err != nil {
			return err
		}
		if err := command.CheckPassword(password); err != nil {
			return err
		}
	case "list-tokens":
		if *email != "" {
			if _, err := order.NewEmail(*email); err != nil {
				return usageError(fmt.Sprintf("--email: %v", err))
			}
		}
	}

	deps, _, err := m.openDeps(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()
	admins := deps.App.Admins
	switch sub {
	case "create-user":
		u, err := admins.CreateUser(ctx, *email, *name, password)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "created admin %s <%s> (id %s)\n", printable.Escape(u.Name), printable.Escape(u.Email), u.ID)
	case "create-token":
		token, t, err := admins.CreateToken(ctx, *email, *name, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "token %q (id %s) for %s; it is shown once, store it now:\n", t.Name, t.ID, printable.Escape(*email))
		if t.ExpiresAt != nil {
			fmt.Fprintf(m.Stderr, "expires %s\n", showTime(*t.ExpiresAt, *utc))
		}
		fmt.Fprintln(m.Stdout, token)
	case "revoke-token":
		if err := admins.RevokeToken(ctx, tokenID); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "revoked token %s\n", tokenID)
	case "disable-user":
		c, err := admins.DisableUser(ctx, *email)
		if err != nil {
			return err
		}
		who := printable.Escape(c.User.Name) + " <" + printable.Escape(c.User.Email) + ">"
		if c.Changed {
			fmt.Fprintf(m.Stdout, "disabled admin %s; %s revoked (API tokens and console sessions)\n", who, tokensCount(c.Revoked))
		} else {
			// Not an error: the admin is disabled, as asked. Any token still live is revoked all the same.
			fmt.Fprintf(m.Stdout, "admin %s was already disabled on %s; %s revoked\n", who, showTime(*c.DisabledAt, false), tokensCount(c.Revoked))
		}
	case "enable-user", "set-password":
		change := admins.SetPassword
		if sub == "enable-user" {
			change = admins.EnableUser
		}
		c, err := change(ctx, *email, password)
		if err != nil {
			return err
		}
		done := "changed the password of"
		if sub == "enable-user" {
			done = "enabled, with a new password,"
		}
		fmt.Fprintf(m.Stdout, "%s admin %s <%s>; %s revoked (API tokens and console sessions)\n", done,
			printable.Escape(c.User.Name), printable.Escape(c.User.Email), tokensCount(c.Revoked))
	case "list-tokens":
		tokens, err := admins.Tokens(ctx, *email)
		if err != nil {
			return err
		}
		m.printTokens(tokens, *utc)
	}
	return nil
}

func tokensCount(n int) string {
	if n == 1 {
		return "1 token"
	}
	return fmt.Sprintf("%d tokens", n)
}

// printTokens prints list-tokens' table: what each token is and its state, never the token (not
// stored) nor its hash.
func (m *Main) printTokens(tokens []command.TokenEntry, utc bool) {
	if len(tokens) == 0 {
		fmt.Fprintln(m.Stdout, "no tokens")
		return
	}
	orNever := func(t *time.Time, never string) string {
		if t == nil {
			return never
		}
		return showTime(*t, utc)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tADMIN\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	for _, t := range tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, printable.Escape(t.Name), printable.Escape(t.Email),
			showTime(t.CreatedAt, utc), orNever(t.ExpiresAt, "never"), orNever(t.LastUsedAt, "never"), orNever(t.RevokedAt, "-"))
	}
	_ = tw.Flush()
}

// readPassword reads a new admin's password. On a terminal it asks twice, without echo, and the
// two must be the same; from a pipe (a script) it reads one line.
func (m *Main) readPassword() (string, error) {
	if f, ok := m.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		first, err := m.askHidden(f, "password (at least 12 characters): ")
		if err != nil {
			return "", err
		}
		second, err := m.askHidden(f, "the same password again: ")
		if err != nil {
			return "", err
		}
		if !bytes.Equal(first, second) {
			return "", errPasswordsDiffer
		}
		return string(first), nil
	}
	fmt.Fprintln(m.Stderr, "password (at least 12 characters), then Enter:")
	line, err := bufio.NewReader(m.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// askHidden prompts on stderr and reads a line from the terminal without showing it.
func (m *Main) askHidden(f *os.File, prompt string) ([]byte, error) {
	fmt.Fprint(m.Stderr, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(m.Stderr) // the Enter typed was not echoed either
	if err != nil {
		return nil, fmt.Errorf("read the password from the terminal: %w", err)
	}
	return b, nil
}

// noArgs refuses arguments a command does not take, which would otherwise be ignored.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", args[0]))
	}
	return nil
}
