package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/term"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/domain/printable"
)

// errPasswordsDiffer is a create-user whose two passwords were not the same.
var errPasswordsDiffer = errors.New("the two passwords are not the same; no admin was created")

func (m *Main) runAdmin(ctx context.Context, args []string) error {
	help, _ := helpOf("admin")
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		if len(args) == 0 {
			printHelp(m.Stderr, help, nil)
			return usageError("admin needs a subcommand: create-user, create-token or revoke-token")
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
		ttl = fs.Duration("ttl", 0, "how long the token lasts, e.g. 720h (0: until revoked)")
		utc = fs.Bool("utc", false, "print the expiry in UTC rather than India time (IST)")
	case "revoke-token":
		id = fs.String("id", "", "the token's `id`, as create-token printed it")
	default:
		printHelp(m.Stderr, help, nil)
		return usageError(fmt.Sprintf("unknown admin subcommand %q: want create-user, create-token or revoke-token", sub))
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
	}
	return nil
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
