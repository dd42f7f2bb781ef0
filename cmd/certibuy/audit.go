package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/domain/printable"
)

func (m *Main) runAudit(ctx context.Context, args []string) error {
	fs := m.flagSet("audit")
	var (
		orderRef = fs.String("order", "", "order id or number (CB-…)")
		typ      = fs.String("type", "", "event type, e.g. order.shipped.v2")
		actor    = fs.String("actor", "", "actor, e.g. admin:<id>, customer:<id>, gateway:razorpay, system")
		corr     = fs.String("correlation-id", "", "correlation id")
		from     = fs.String("from", "", "recorded at or after this `time` (RFC 3339), or from the start of this day (2026-11-27 or 27/11/2026)")
		to       = fs.String("to", "", "recorded before this `time` (RFC 3339), or up to the end of this day")
		after    = fs.String("after", "", "the `cursor` the previous page printed")
		limit    = fs.Int("limit", 50, "events per page (1-1000)")
		asJSON   = fs.Bool("json", false, "print JSON (times in RFC 3339)")
		asOf     = fs.String("as-of", "", "with --order: print the order as it stood at this `time`")
		utc      = fs.Bool("utc", false, "show times, and read days, in UTC rather than India time (IST)")
	)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	f := query.AuditFilter{Type: *typ, Actor: *actor, CorrelationID: *corr, After: *after, Limit: *limit}
	var err error
	loc := clock(*utc)
	if f.From, err = parseTime("--from", *from, loc, false); err != nil {
		return err
	}
	if f.To, err = parseTime("--to", *to, loc, true); err != nil {
		return err
	}
	if *orderRef != "" {
		if id, err := uuid.Parse(*orderRef); err == nil {
			f.OrderID = id
		} else {
			f.OrderNumber = *orderRef
		}
	}
	// Every flag is checked before the database is opened (and perhaps created and migrated).
	if *limit < 1 {
		return usageError(fmt.Sprintf("--limit %d: must be between 1 and 1000", *limit))
	}
	if err := f.Check(); err != nil {
		return flagError(err)
	}
	// The texts filtered on follow the text rules: one the store cannot hold (not UTF-8) would
	// otherwise fail only in PostgreSQL, after the database was created.
	for _, t := range []struct{ flag, value string }{{"type", *typ}, {"actor", *actor}, {"correlation-id", *corr}} {
		if err := order.CheckText(t.flag, t.value, 1000, false); err != nil {
			return flagError(err)
		}
	}
	if err := postgres.CheckAuditCursor(*after); err != nil {
		return usageError(fmt.Sprintf("--after %q: not a cursor certibuy audit printed; take the one after --after on the \"more:\" line of the previous page (it looks like 1234-56)", *after))
	}
	var at time.Time
	if *asOf != "" {
		if *orderRef == "" {
			return usageError("--as-of needs --order")
		}
		if at, err = parseTime("--as-of", *asOf, loc, false); err != nil {
			return err
		}
	}
	deps, _, err := m.openDeps(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()

	if *asOf != "" {
		v, err := deps.App.Queries.OrderAsOf.Handle(ctx, query.OrderAsOf{OrderID: f.OrderID, OrderNumber: f.OrderNumber, At: at})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(m, v)
		}
		// Everything printed from the store came from outside once: shown, not obeyed, by a terminal.
		p := printable.Escape
		fmt.Fprintf(m.Stdout, "order %s (%s) as of %s\nstatus:  %s (version %d)\ntotal:   %s\ncustomer: %s <%s>\n",
			p(v.Number), v.ID, showTime(at, *utc), p(v.Status), v.Version, p(v.Total), p(v.Customer.Name), p(v.Customer.Email))
		for _, it := range v.Items {
			fmt.Fprintf(m.Stdout, "  %d × %s (%s)\n", it.Quantity, p(it.Name), p(it.SKU))
		}
		if v.Shipment != nil {
			fmt.Fprintf(m.Stdout, "shipped: %s %s\n", p(v.Shipment.Carrier), p(v.Shipment.TrackingID))
		}
		return nil
	}

	page, err := deps.App.Queries.AuditEvents.Handle(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(m, page)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tRECORDED\tSTREAM\tV\tTYPE\tACTOR\tCORRELATION")
	p := printable.Escape
	for _, e := range page.Events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Position, showTime(e.RecordedAt, *utc), p(e.Stream),
			e.StreamVersion, p(e.Type), p(e.Actor), p(e.CorrelationID))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if page.HasMore {
		fmt.Fprintf(m.Stdout, "more: certibuy audit %s--after %s\n", rerunFlags(args), page.Next)
	}
	return nil
}

// writeJSON prints v as indented JSON, with the characters a terminal would obey escaped in it.
func writeJSON(m *Main, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	if _, err := m.Stdout.Write(append(printable.EscapeJSON(b), '\n')); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// rerunFlags repeats the filters of args without --after, for the "more" hint.
func rerunFlags(args []string) string {
	var b strings.Builder
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--after" || a == "-after" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--after=") || strings.HasPrefix(a, "-after=") {
			continue
		}
		b.WriteString(a + " ")
	}
	return b.String()
}

// parseTime reads a time flag as query.ParseTime does; "" is no time.
func parseTime(flagName, s string, loc *time.Location, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := query.ParseTime(s, loc, endOfDay)
	if err != nil {
		return time.Time{}, usageError(fmt.Sprintf("%s %q: %v", flagName, s, err))
	}
	return t, nil
}

// flagError is a use case's refusal of a field as the usage error of the flag of the same name.
func flagError(err error) error {
	var fe *order.FieldError
	if errors.As(err, &fe) {
		return usageError("--" + fe.Field + ": " + strings.ReplaceAll(fe.Err.Error(), "invalid input: ", ""))
	}
	return err
}
