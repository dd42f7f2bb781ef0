package main

import (
	"github.com/google/uuid"

	"github.com/certibuy/orders/adapters/links"
	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/app"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
)

// wireConsoleQueries adds the queries only the admin console asks: a notification with its message,
// the home page's figures, who an actor is, what a stream is about.
func wireConsoleQueries(q *app.Queries, d *Deps, auditor *postgres.Auditor, renderer *templates.Renderer, l *links.Links) {
	console := postgres.NewConsoleReader(d.DB, d.Runner)
	q.NotificationDetail = query.NewNotificationDetailHandler(auditor, consoleRenderer{renderer}, shownLinks{l})
	q.Dashboard = query.NewDashboardHandler(console, d.NotificationLog)
	q.People = query.NewPeopleHandler(console)
	q.StreamLabels = query.NewStreamLabelsHandler(console)
}

// consoleRenderer is the message renderer, with the SMS part count the console shows.
type consoleRenderer struct{ *templates.Renderer }

// SMSParts says how an SMS text is encoded and how many parts it takes.
func (consoleRenderer) SMSParts(text string) (string, int) { return templates.SMSParts(text) }

// shownLinks makes messages' links with the token left out.
type shownLinks struct{ *links.Links }

// ShownLinks returns the links of a message about the order, without a token.
func (s shownLinks) ShownLinks(orderID uuid.UUID, number string) notification.Links {
	return notification.Links(s.Links.Shown(orderID, number))
}
