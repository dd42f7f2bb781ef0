package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/printable"
)

// givenUpListed is the most order events given up on that the list shows, those not requested
// since first; the counts cover them all.
const givenUpListed = 100

// runPoison lists the order events whose notifications the request handlers gave up on, and with
// --request asks for those notifications again, through the same use case as the handlers: once the
// cause is fixed, the customers get the messages they missed. Asking twice requests nothing twice
// (a notification's stream is named after its order event).
func (m *Main) runPoison(ctx context.Context, args []string) error {
	fs := m.flagSet("poison")
	request := fs.String("request", "", "request again the notifications of this order `event` (its id as listed), or of every one not requested since (all)")
	utc := fs.Bool("utc", false, "show times in UTC rather than India time (IST)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	var only uuid.UUID
	if *request != "" && *request != "all" {
		id, err := uuid.Parse(*request)
		if err != nil {
			return usageError(fmt.Sprintf("--request %q: want an order event's id, as the list shows it, or all", printable.Escape(*request)))
		}
		only = id
	}
	deps, _, err := m.openDeps(ctx)
	if err != nil {
		return err
	}
	defer deps.Close()
	given, err := postgres.GivenUpOrderEvents(ctx, deps.DB.Pool)
	if err != nil {
		return err
	}
	if *request == "" {
		printGivenUp(m, given, *utc)
		return nil
	}

	seen := map[string]bool{}
	tried, failed := 0, 0
	for _, g := range given {
		if seen[g.MessageID] || (only != uuid.Nil && g.MessageID != only.String()) {
			continue
		}
		seen[g.MessageID] = true
		if only == uuid.Nil && g.Requested {
			continue
		}
		tried++
		what, err := requestAgain(ctx, deps.RequestNotifications, g)
		if err != nil {
			failed++
			fmt.Fprintf(m.Stdout, "event %s: %s\n", printable.Escape(g.MessageID), printable.Escape(err.Error()))
			continue
		}
		fmt.Fprintf(m.Stdout, "event %s: %s\n", printable.Escape(g.MessageID), printable.Escape(what))
	}
	switch {
	case only != uuid.Nil && tried == 0:
		return fmt.Errorf("event %s is not among the order events given up on (certibuy poison lists them)", only)
	case tried == 0:
		fmt.Fprintln(m.Stdout, "every order event given up on has its notifications already; nothing to request")
	case failed > 0:
		return fmt.Errorf("%d of %d order events could not be requested again: fix the cause the line says and run it again", failed, tried)
	}
	return nil
}

// requestAgain requests the notifications of an order event given up on, and says what it did.
func requestAgain(ctx context.Context, h command.RequestNotificationsHandler, g postgres.GivenUp) (string, error) {
	if g.Event == nil {
		return "", errors.New("no stored event has this id; nothing to request")
	}
	e, order := g.Event, orderOf(g)
	if g.Requested {
		return fmt.Sprintf("the notifications of %s for order %s were requested already", e.Type, order), nil
	}
	if _, ok := notification.KindFor(e.Type); !ok {
		return fmt.Sprintf("%s of order %s calls for no notification; nothing to request", e.Type, order), nil
	}
	cmd, err := command.StoredRequest(e.EventID, e.StreamID, e.StreamVersion, e.Type, e.Data)
	if err != nil {
		return "", err
	}
	if err := h.Handle(ctx, cmd); err != nil {
		return "", err
	}
	return fmt.Sprintf("requested the e-mail and SMS of %s for order %s", e.Type, order), nil
}

// printGivenUp lists the order events given up on: those not requested since first, then the
// others, oldest first in each part.
func printGivenUp(m *Main, given []postgres.GivenUp, utc bool) {
	if len(given) == 0 {
		fmt.Fprintln(m.Stdout, "no order event was given up on: every order event's notifications were requested")
		return
	}
	// Stable: the query's order, oldest first, within each part.
	sorted := slices.Clone(given)
	slices.SortStableFunc(sorted, func(a, b postgres.GivenUp) int {
		switch {
		case a.Requested == b.Requested:
			return 0
		case b.Requested:
			return -1
		}
		return 1
	})
	waiting := 0
	for _, g := range given {
		if !g.Requested {
			waiting++
		}
	}
	fmt.Fprintf(m.Stdout, "Order events whose notifications were given up on (order_events_poison): %d, %d not requested since\n",
		len(given), waiting)
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GIVEN UP\tEVENT\tTYPE\tORDER\tNOTIFICATIONS\tREASON")
	for _, g := range sorted[:min(len(sorted), givenUpListed)] {
		typ := "?"
		if g.Event != nil {
			typ = g.Event.Type
		}
		state := "not requested"
		if g.Requested {
			state = "requested"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", showTime(g.At, utc), printable.Escape(g.MessageID), typ,
			printable.Escape(orderOf(g)), state, printable.Escape(firstLine(g.Reason)))
	}
	_ = tw.Flush()
	if len(sorted) > givenUpListed {
		fmt.Fprintf(m.Stdout, "… and %d more\n", len(sorted)-givenUpListed)
	}
	if waiting > 0 {
		fmt.Fprintln(m.Stdout, "Once the reason is fixed: certibuy poison --request all (or --request <event>).")
	}
}

// orderOf names the order of an event given up on: its number, or its stream when its summary
// lacks it, or "?" when no stored event has the message's id.
func orderOf(g postgres.GivenUp) string {
	switch {
	case g.OrderNumber != "":
		return g.OrderNumber
	case g.Event != nil:
		return g.Event.StreamID
	}
	return "?"
}

// firstLine is s's first line: the reason is the last column, and its cause at its end.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
