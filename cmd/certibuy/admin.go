package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/printable"
)

const adminUsage = `usage:
  certibuy admin create-user --email <address> --name <name>   (reads the password from stdin)
  certibuy admin create-token --email <address> [--name <label>] [--ttl <duration>]
  certibuy admin revoke-token --id <token id>`

func (m *Main) runAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, adminUsage)
		return usageError("admin needs a subcommand")
	}
	sub, rest := args[0], args[1:]
	fs := m.flagSet("admin " + sub)
	email := fs.String("email", "", "the admin's e-mail address")
	name := fs.String("name", "", "the admin's name, or the token's label")
	ttl := fs.Duration("ttl", 0, "token lifetime (0: until revoked)")
	id := fs.String("id", "", "token id")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	deps, _, err := m.openDeps(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()
	admins := deps.App.Admins
	switch sub {
	case "create-user":
		if *email == "" || *name == "" {
			return usageError("create-user needs --email and --name")
		}
		fmt.Fprintln(m.Stderr, "password (at least 12 characters), then Enter:")
		line, err := bufio.NewReader(m.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		u, err := admins.CreateUser(ctx, *email, *name, strings.TrimRight(line, "\r\n"))
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "created admin %s <%s> (id %s)\n", printable.Escape(u.Name), printable.Escape(u.Email), u.ID)
	case "create-token":
		if *email == "" {
			return usageError("create-token needs --email")
		}
		token, t, err := admins.CreateToken(ctx, *email, *name, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "token %q (id %s) for %s; it is shown once, store it now:\n", t.Name, t.ID, printable.Escape(*email))
		if t.ExpiresAt != nil {
			fmt.Fprintf(m.Stderr, "expires %s\n", t.ExpiresAt.Format(time.RFC3339))
		}
		fmt.Fprintln(m.Stdout, token)
	case "revoke-token":
		tid, err := uuid.Parse(*id)
		if err != nil {
			return usageError("revoke-token needs --id <token id>")
		}
		if err := admins.RevokeToken(ctx, tid); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "revoked token %s\n", tid)
	default:
		fmt.Fprintln(m.Stderr, adminUsage)
		return usageError(fmt.Sprintf("unknown admin subcommand %q", sub))
	}
	return nil
}
