package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

func (s *Server) handleConsoleCSS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", s.console.css)
}

type loginPage struct {
	Email, Next string
}

func (s *Server) handleConsoleLoginForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", consolePage{Title: "Log in", Flash: flashText(c.QueryParam("msg")),
		Data: loginPage{Next: safeNext(c.QueryParam("next"))}})
}

// handleConsoleLogin is POST /api/v1/admin/login for a browser: the token goes into the session cookie.
func (s *Server) handleConsoleLogin(c echo.Context) error {
	form, err := consoleForm(c)
	if err != nil {
		return err
	}
	email, next := strings.TrimSpace(form.Get("email")), safeNext(form.Get("next"))
	if secs, locked := s.accountLocked(c, email); locked {
		return s.render(c, http.StatusTooManyRequests, "login", consolePage{Title: "Log in",
			Error: apiErr(http.StatusTooManyRequests, "account_locked", "",
				"Too many failed logins for this e-mail address: try again in %d seconds", secs),
			Data: loginPage{Email: email, Next: next}})
	}
	token, t, err := s.app.Admins.Login(c.Request().Context(), email, form.Get("password"))
	if errors.Is(err, command.ErrBadCredentials) {
		s.loginFailed(c, email)
		return s.render(c, http.StatusUnauthorized, "login", consolePage{Title: "Log in",
			Error: apiErr(http.StatusUnauthorized, "bad_credentials", "", "Wrong e-mail or password"),
			Data:  loginPage{Email: email, Next: next}})
	}
	if err != nil {
		return err
	}
	s.opts.Lockout.Succeeded(email)
	s.setSessionCookie(c, token, t)
	return c.Redirect(http.StatusSeeOther, next)
}

// safeNext is where to go after logging in: a console page, never another site; the home page by default.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, "/admin/") ||
		strings.ContainsRune(next, '\\') || strings.HasPrefix(next, "/admin/login") {
		return "/admin"
	}
	return next
}

// handleConsoleLogout revokes the token the session authenticated with, named by its value rather
// than by the id beside it in the cookie, and clears the cookie.
func (s *Server) handleConsoleLogout(c echo.Context) error {
	sess, _ := sessionOf(c)
	s.clearSessionCookie(c)
	// A token gone since the session was checked is as logged out as a revoked one.
	if err := s.app.Admins.Logout(c.Request().Context(), sess.token); err != nil && !errors.Is(err, command.ErrTokenNotFound) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/login?msg=logged-out")
}

// flashText is the message a redirect after an action asks for. Only these fixed texts are shown, so
// a crafted link cannot put words on the page.
func flashText(code string) string {
	switch code {
	case "shipped":
		return "Order shipped."
	case "out-for-delivery":
		return "Order marked out for delivery."
	case "delivered":
		return "Order marked delivered."
	case "cancelled":
		return "Order cancelled. The customer is told; a paid order's refund is asked of the gateway."
	case "resent":
		return "The notification is queued to be sent again."
	case "refund":
		return "The refund was asked of the gateway."
	case "logged-out":
		return "You are logged out."
	}
	return ""
}

// option is one entry of a filter's select.
type option struct {
	Value    string
	Selected bool
}

func options[T ~string](values []T, selected string) []option {
	out := make([]option, len(values))
	for i, v := range values {
		out[i] = option{Value: string(v), Selected: string(v) == selected}
	}
	return out
}

// pageURL is a link to path with the non-empty values of v.
func pageURL(path string, v url.Values) string {
	q := url.Values{}
	for k, vs := range v {
		if len(vs) > 0 && vs[0] != "" {
			q.Set(k, vs[0])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// day reads a date filter as a day in India, written the Indian way (27/11/2026) or as a date
// input sends it (2026-11-27), or a time, as the API and the CLI do (query.ParseTime). The queries take To as exclusive, so the end of a range is the next
// day's start: "to 27/11/2026" includes 27 November.
func (k *console) day(v url.Values, name string, end bool) (time.Time, error) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return time.Time{}, nil
	}
	d, err := query.ParseTime(s, k.loc, end)
	if err != nil {
		return time.Time{}, apiErr(http.StatusBadRequest, "invalid_input", name, "%s must be a date such as 27/11/2026 (day/month/year)", name)
	}
	return d, nil
}

type ordersPage struct {
	Status, Q, From, To, Limit string
	Statuses                   []option
	Orders                     []query.OrderSummary
	NextURL                    string
}

func (s *Server) handleConsoleOrders(c echo.Context) error {
	v := c.QueryParams()
	p := ordersPage{Status: v.Get("status"), Q: v.Get("q"), From: v.Get("from"), To: v.Get("to"), Limit: v.Get("limit")}
	p.Statuses = options(order.Statuses(), p.Status)
	list, err := s.listOrders(c, v)
	shown, err := pageError(err)
	if err != nil {
		return err
	}
	p.Orders = list.Orders
	if list.Next != "" {
		p.NextURL = pageURL("/admin/orders", url.Values{"status": {p.Status}, "q": {p.Q}, "from": {p.From}, "to": {p.To},
			"limit": {p.Limit}, "after": {list.Next}})
	}
	return s.render(c, statusOf(shown), "orders", consolePage{Title: "Orders", Nav: "orders", Error: shown, Data: p})
}

func (s *Server) listOrders(c echo.Context, v url.Values) (query.OrderList, error) {
	q := query.ListOrders{Status: v.Get("status"), Search: v.Get("q"), After: v.Get("after")}
	var err error
	if q.Limit, err = limitOf(v); err != nil {
		return query.OrderList{}, err
	}
	if q.From, err = s.console.day(v, "from", false); err != nil {
		return query.OrderList{}, err
	}
	if q.To, err = s.console.day(v, "to", true); err != nil {
		return query.OrderList{}, err
	}
	return s.app.Queries.ListOrders.Handle(c.Request().Context(), q)
}

func statusOf(shown *APIError) int {
	if shown == nil {
		return http.StatusOK
	}
	return shown.Status
}

type orderPage struct {
	Order query.AdminOrderView
	// Action is the form the page offers for the order's status; the domain still decides, so a form
	// on a page left open is refused with its message.
	Action string
	// CanCancel offers the cancel form: until the order ships.
	CanCancel bool
	// Carriers are the ship form's choices: the carrier table, then "other".
	Carriers []string
	// RefundHandedOver says a refund owed was refused MaxRefusals times: the service no longer asks.
	RefundHandedOver bool
	MaxRefusals      int
	// What was typed into a form, when it is shown again. CarrierName names an "other" carrier.
	Carrier, CarrierName, TrackingID, TrackingURL, Reason string
}

func (s *Server) handleConsoleOrder(c echo.Context) error {
	id, err := orderID(c)
	if err != nil {
		return err
	}
	return s.renderOrder(c, id, http.StatusOK, nil, flashText(c.QueryParam("msg")), orderPage{})
}

func (s *Server) renderOrder(c echo.Context, id uuid.UUID, status int, shown *APIError, flash string, p orderPage) error {
	v, err := s.app.Queries.AdminOrder.Handle(c.Request().Context(), query.AdminOrder{OrderID: id})
	if err != nil {
		return err
	}
	p.Order, p.Action = v, nextAction(order.Status(v.Status))
	if owesRefund(v.OrderView) {
		p.Action = actionRefund
	}
	p.RefundHandedOver, p.MaxRefusals = handedOver(v.OrderView), order.MaxRefusedRefunds
	st := order.Status(v.Status)
	p.CanCancel = !st.Shipped() && st != order.StatusCancelled && st != order.StatusRefundPending && st != order.StatusRefunded
	for _, c := range order.Carriers() {
		p.Carriers = append(p.Carriers, c.Name)
	}
	p.Carriers = append(p.Carriers, order.OtherCarrier)
	var actors []string
	for _, h := range v.History {
		actors = append(actors, h.Actor)
	}
	for _, e := range v.Timeline {
		actors = append(actors, e.Actor)
	}
	people, err := s.app.Queries.People.Handle(c.Request().Context(), actors)
	if err != nil {
		return err
	}
	return s.render(c, status, "order", consolePage{Title: "Order " + v.Number, Nav: "orders", Flash: flash, Error: shown, Data: p, People: people})
}

// renderRefundFailure answers a refund the gateway did not take with the order's page: what was done
// is stored and the refund is still owed, so the page, with its button that asks again, is where the
// operator goes on, and the message says why and what to do.
func (s *Server) renderRefundFailure(c echo.Context, id uuid.UUID, err error, cancelled bool) error {
	s.logger.WarnContext(c.Request().Context(), "console: the gateway did not take a refund", "order_id", id, "err", err)
	return s.renderOrder(c, id, http.StatusBadGateway, refundFailure(err, forConsole, cancelled, id), "", orderPage{})
}

// actionRefund is the console's form for asking the gateway again for an outstanding refund.
const actionRefund = "refund"

// owesRefund reports whether a refund is owed and not asked for: the order's own payment once
// cancelled, or a payment it could not take.
func owesRefund(v query.OrderView) bool {
	owed := func(status string) bool { return status == query.RefundOwed || status == query.RefundHandedOver }
	if v.Refund != nil && owed(v.Refund.Status) {
		return true
	}
	for _, u := range v.UnexpectedPayments {
		if owed(u.Refund.Status) {
			return true
		}
	}
	return false
}

// handedOver reports whether a refund the order owes was refused so often that the service no
// longer asks for it on its own.
func handedOver(v query.OrderView) bool {
	if v.Refund != nil && v.Refund.Status == query.RefundHandedOver {
		return true
	}
	for _, u := range v.UnexpectedPayments {
		if u.Refund.Status == query.RefundHandedOver {
			return true
		}
	}
	return false
}

// handleConsoleCancel cancels the order for the shop at the version the page showed, refunding a
// paid one; the reason is required, since the customer is told it.
func (s *Server) handleConsoleCancel(c echo.Context) error {
	return s.consoleOrderAction(c, "cancelled", func(form url.Values) orderPage {
		return orderPage{Reason: strings.TrimSpace(form.Get("reason"))}
	}, func(ctx context.Context, cmd consoleAction, typed orderPage) error {
		_, err := s.app.Commands.CancelOrder.Handle(ctx, command.CancelOrder{
			OrderID: cmd.id, AdminID: cmd.adminID, ExpectedVersion: cmd.version, Reason: typed.Reason})
		return err
	})
}

// consoleAction is who acts on which order, at which version of it.
type consoleAction struct {
	id      uuid.UUID
	adminID string
	version int
}

// consoleOrderAction reads an order form posted from the console (the order, the version the page
// showed, and what was typed), runs do as the admin, and answers as afterOrderAction does.
func (s *Server) consoleOrderAction(c echo.Context, flash string, read func(url.Values) orderPage,
	do func(ctx context.Context, cmd consoleAction, typed orderPage) error) error {
	id, err := orderID(c)
	if err != nil {
		return err
	}
	form, err := consoleForm(c)
	if err != nil {
		return err
	}
	typed := read(form)
	version, err := strconv.Atoi(form.Get("expected_version"))
	if err != nil || version < 1 {
		return s.renderOrder(c, id, http.StatusBadRequest, apiErr(http.StatusBadRequest, "invalid_input", "expected_version",
			"the form did not say which version of the order it was filled in on; try again from this page"), "", typed)
	}
	u := sessionAdmin(c)
	err = do(causation(c, es.Admin(u.ID.String())), consoleAction{id: id, adminID: u.ID.String(), version: version}, typed)
	return s.afterOrderAction(c, id, err, flash, typed)
}

func nextAction(st order.Status) string {
	switch st {
	case order.StatusConfirmed:
		return command.ActionShip
	case order.StatusShipped:
		return command.ActionOutForDelivery
	case order.StatusOutForDelivery:
		return command.ActionDeliver
	}
	return ""
}

// handleConsoleRefund asks the gateway again for an outstanding refund.
func (s *Server) handleConsoleRefund(c echo.Context) error {
	id, err := orderID(c)
	if err != nil {
		return err
	}
	if _, err := consoleForm(c); err != nil {
		return err
	}
	u := sessionAdmin(c)
	_, err = s.app.Commands.RetryRefund.Handle(causation(c, es.Admin(u.ID.String())), command.RetryRefund{OrderID: id, AdminID: u.ID.String()})
	if errors.Is(err, command.ErrRefundFailed) {
		return s.renderRefundFailure(c, id, err, false)
	}
	shown, err := pageError(err)
	if err != nil {
		return err
	}
	if shown == nil {
		return c.Redirect(http.StatusSeeOther, "/admin/orders/"+id.String()+"?msg=refund")
	}
	if shown.Status == http.StatusNotFound {
		return shown
	}
	return s.renderOrder(c, id, shown.Status, shown, "", orderPage{})
}

// handleConsoleTransition applies an action at the version the page showed (see afterOrderAction).
func (s *Server) handleConsoleTransition(action string) echo.HandlerFunc {
	flash := map[string]string{command.ActionShip: "shipped", command.ActionOutForDelivery: "out-for-delivery",
		command.ActionDeliver: "delivered"}[action]
	return func(c echo.Context) error {
		return s.consoleOrderAction(c, flash, func(form url.Values) orderPage {
			return orderPage{Carrier: strings.TrimSpace(form.Get("carrier")), CarrierName: strings.TrimSpace(form.Get("carrier_name")),
				TrackingID: strings.TrimSpace(form.Get("tracking_id")), TrackingURL: strings.TrimSpace(form.Get("tracking_url"))}
		}, func(ctx context.Context, cmd consoleAction, typed orderPage) error {
			carrier := typed.Carrier
			if strings.EqualFold(carrier, order.OtherCarrier) && typed.CarrierName != "" {
				carrier = typed.CarrierName // the customer's messages name it
			}
			_, err := s.app.Commands.AdminTransition.Handle(ctx, command.AdminTransition{
				OrderID: cmd.id, AdminID: cmd.adminID, Action: action, ExpectedVersion: cmd.version,
				Carrier: carrier, TrackingID: typed.TrackingID, TrackingURL: typed.TrackingURL})
			return err
		})
	}
}

// afterOrderAction answers a console action on an order: on success a redirect to the order (so a
// reload does not post again), with a flash message; a refusal shows the order as it is now, with why.
func (s *Server) afterOrderAction(c echo.Context, id uuid.UUID, err error, flash string, typed orderPage) error {
	if errors.Is(err, command.ErrRefundFailed) {
		return s.renderRefundFailure(c, id, err, flash == "cancelled")
	}
	shown, err := pageError(err)
	if err != nil {
		return err
	}
	if shown == nil {
		return c.Redirect(http.StatusSeeOther, "/admin/orders/"+id.String()+"?msg="+flash)
	}
	if shown.Code == "version_conflict" {
		shown = apiErr(shown.Status, shown.Code, "", "This order changed since you loaded it. Here it is as it is now: check it and try again.")
	}
	if shown.Status == http.StatusNotFound {
		return shown
	}
	return s.renderOrder(c, id, shown.Status, shown, "", typed)
}

func sessionAdmin(c echo.Context) command.AdminUser {
	sess, _ := sessionOf(c)
	return sess.admin
}

type notificationsPage struct {
	Channel, Status, Type, EventType, Delivery, Q     string
	Channels, Statuses, Types, EventTypes, Deliveries []option
	Rows                                              []query.NotificationEntry
	NextURL                                           string
	// Back is this page's query, posted with a resend so that the answer comes back to the same list.
	Back string
}

// notificationEventTypes are the order events that send notifications, as the log's event_type holds them.
func notificationEventTypes() []string {
	var out []string
	for _, k := range notification.Catalogue() {
		out = append(out, k.On...)
	}
	return out
}

func (s *Server) handleConsoleNotifications(c echo.Context) error {
	return s.renderNotifications(c, c.QueryParams(), http.StatusOK, nil, flashText(c.QueryParam("msg")))
}

func (s *Server) renderNotifications(c echo.Context, v url.Values, status int, shown *APIError, flash string) error {
	p := notificationsPage{Channel: v.Get("channel"), Status: v.Get("status"), Type: v.Get("type"), EventType: v.Get("event_type"),
		Delivery: v.Get("delivery"), Q: v.Get("q")}
	p.Channels = options(notification.Channels(), p.Channel)
	p.Statuses = options([]notification.Status{notification.StatusPending, notification.StatusSent, notification.StatusFailed}, p.Status)
	p.Types = options(notification.Types(), p.Type)
	p.EventTypes = options(notificationEventTypes(), p.EventType)
	p.Deliveries = options([]string{notification.DeliveryDelivered, notification.DeliveryUndelivered, query.DeliveryNone}, p.Delivery)
	filter := url.Values{"channel": {p.Channel}, "status": {p.Status}, "type": {p.Type}, "event_type": {p.EventType}, "delivery": {p.Delivery}, "q": {p.Q},
		"limit": {v.Get("limit")}, "after": {v.Get("after")}}
	p.Back = strings.TrimPrefix(pageURL("", filter), "?")
	page, err := s.listNotifications(c, v)
	listErr, err := pageError(err)
	if err != nil {
		return err
	}
	if shown == nil && listErr != nil {
		shown, status = listErr, listErr.Status
	}
	p.Rows = page.Notifications
	if page.Next != "" {
		filter.Set("after", page.Next)
		p.NextURL = pageURL("/admin/notifications", filter)
	}
	return s.render(c, status, "notifications", consolePage{Title: "Notifications", Nav: "notifications", Flash: flash, Error: shown, Data: p})
}

func (s *Server) listNotifications(c echo.Context, v url.Values) (query.NotificationPage, error) {
	limit, err := limitOf(v)
	if err != nil {
		return query.NotificationPage{}, err
	}
	if et := v.Get("event_type"); et != "" && !slices.Contains(notificationEventTypes(), et) {
		return query.NotificationPage{}, apiErr(http.StatusBadRequest, "invalid_input", "event_type",
			"event_type %q sends no notification: want one of %s", et, strings.Join(notificationEventTypes(), ", "))
	}
	return s.app.Queries.Notifications.Handle(c.Request().Context(), query.ListNotifications{Channel: v.Get("channel"),
		Status: v.Get("status"), Type: v.Get("type"), EventType: v.Get("event_type"), Delivery: v.Get("delivery"), Search: v.Get("q"),
		After: v.Get("after"), Limit: limit})
}

// notificationPage is one notification: what it was, its attempts, and its message.
type notificationPage struct {
	N query.NotificationDetailView
	// Back is where the page's resend form returns.
	Back string
}

func (s *Server) handleConsoleNotification(c echo.Context) error {
	return s.renderNotification(c, c.Param("id"), http.StatusOK, nil, flashText(c.QueryParam("msg")))
}

func (s *Server) renderNotification(c echo.Context, id string, status int, shown *APIError, flash string) error {
	v, err := s.app.Queries.NotificationDetail.Handle(c.Request().Context(), query.NotificationDetail{ID: id})
	if err != nil {
		return err
	}
	actors := make([]string, 0, len(v.Events))
	for _, e := range v.Events {
		actors = append(actors, e.Actor)
	}
	people, err := s.app.Queries.People.Handle(c.Request().Context(), actors)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s %s to %s", label(v.Type), map[string]string{"email": "e-mail", "sms": "SMS"}[v.Channel], v.OrderNumber)
	return s.render(c, status, "notification", consolePage{Title: sentence(title), Nav: "notifications", Flash: flash, Error: shown,
		Data: notificationPage{N: v}, People: people})
}

// handleConsoleNotificationHTML serves a message's HTML part, rendered again, for the frame of its
// page. It is the customer's e-mail, made from text customers typed: it may not run scripts, load
// anything, submit forms or navigate its parent, whether framed or opened on its own.
func (s *Server) handleConsoleNotificationHTML(c echo.Context) error {
	v, err := s.app.Queries.NotificationDetail.Handle(c.Request().Context(), query.NotificationDetail{ID: c.Param("id")})
	if err != nil {
		return err
	}
	if v.Message.HTML == "" {
		return apiErr(http.StatusNotFound, "not_found", "", "this notification has no HTML part")
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	return c.HTMLBlob(http.StatusOK, []byte(v.Message.HTML))
}

// maxResendAll bounds the failed notifications one press queues again; the flash says when more are
// left, and pressing again takes the next ones.
const maxResendAll = 1000

// handleConsoleResendFailed queues again every failed notification the list's filters select: after
// an outage longer than the retry budget (a relay refusing for an hour), one press rather than one
// per message. Each goes through the same use case as a single resend, under the admin's name.
func (s *Server) handleConsoleResendFailed(c echo.Context) error {
	form, err := consoleForm(c)
	if err != nil {
		return err
	}
	filter, err := url.ParseQuery(form.Get("back"))
	if err != nil {
		filter = url.Values{}
	}
	filter.Set("status", string(notification.StatusFailed))
	filter.Set("limit", "200")
	filter.Del("after")
	u := sessionAdmin(c)
	ctx := causation(c, es.Admin(u.ID.String()))
	resent, skipped, more := 0, 0, false
	for resent+skipped < maxResendAll {
		page, err := s.listNotifications(c, filter)
		if shown, err := pageError(err); err != nil || shown != nil {
			if err != nil {
				return err
			}
			return s.renderNotifications(c, filter, shown.Status, shown, "")
		}
		for _, n := range page.Notifications {
			if resent+skipped == maxResendAll {
				more = true
				break
			}
			err := s.app.Commands.ResendNotification.Handle(ctx, command.ResendNotification{Stream: n.ID, AdminID: u.ID.String()})
			if _, err := pageError(err); err != nil {
				return err
			}
			if err != nil {
				skipped++ // resent meanwhile (the list lags its events by moments), or changed by another
				continue
			}
			resent++
		}
		if page.Next == "" || more {
			break
		}
		filter.Set("after", page.Next)
	}
	filter.Del("after")
	filter.Del("limit")
	flash := fmt.Sprintf("%d failed messages are queued to be sent again.", resent)
	if resent == 1 {
		flash = "1 failed message is queued to be sent again."
	}
	if more {
		flash += fmt.Sprintf(" There are more: press again for the next %d.", maxResendAll)
	}
	return s.renderNotifications(c, filter, http.StatusOK, nil, flash)
}

// handleConsoleResend queues a failed notification again and goes back where the form was: the
// home page, the notification's page, or the list with its filters.
func (s *Server) handleConsoleResend(c echo.Context) error {
	id := c.Param("id")
	if !strings.HasPrefix(id, "notification-") || len(id) > 100 {
		return apiErr(http.StatusNotFound, "not_found", "", "notification not found")
	}
	form, err := consoleForm(c)
	if err != nil {
		return err
	}
	back, err := url.ParseQuery(form.Get("back"))
	if err != nil {
		back = url.Values{}
	}
	u := sessionAdmin(c)
	err = s.app.Commands.ResendNotification.Handle(causation(c, es.Admin(u.ID.String())),
		command.ResendNotification{Stream: id, AdminID: u.ID.String()})
	shown, err := pageError(err)
	if err != nil {
		return err
	}
	from := form.Get("from")
	if shown != nil {
		if from == "page" && shown.Status != http.StatusNotFound {
			return s.renderNotification(c, id, shown.Status, shown, "")
		}
		return s.renderNotifications(c, back, shown.Status, shown, "")
	}
	switch from {
	case "home":
		return c.Redirect(http.StatusSeeOther, "/admin?msg=resent")
	case "page":
		return c.Redirect(http.StatusSeeOther, "/admin/notifications/"+url.PathEscape(id)+"?msg=resent")
	}
	return c.Redirect(http.StatusSeeOther, pageURL("/admin/notifications", url.Values{
		"channel": {back.Get("channel")}, "status": {back.Get("status")}, "type": {back.Get("type")}, "event_type": {back.Get("event_type")},
		"delivery": {back.Get("delivery")},
		"q":        {back.Get("q")}, "limit": {back.Get("limit")}, "after": {back.Get("after")}, "msg": {"resent"}}))
}

type auditPage struct {
	Order, Type, Actor, CorrelationID, From, To, Limit string
	// Oldest lists in commit order, oldest first; the default is newest first.
	Oldest  bool
	Events  []query.AuditEvent
	NextURL string
	// SortURL is this list the other way round.
	SortURL string
}

func (s *Server) handleConsoleAudit(c echo.Context) error {
	v := c.QueryParams()
	p := auditPage{Order: strings.TrimSpace(v.Get("order")), Type: v.Get("type"), Actor: v.Get("actor"),
		CorrelationID: v.Get("correlation_id"), From: v.Get("from"), To: v.Get("to"), Limit: v.Get("limit")}
	switch v.Get("sort") {
	case "", "newest":
	case "oldest":
		p.Oldest = true
	default:
		return s.render(c, http.StatusBadRequest, "audit", consolePage{Title: "Audit", Nav: "audit", Data: p,
			Error: apiErr(http.StatusBadRequest, "invalid_input", "sort", "sort must be newest or oldest")})
	}
	filter := url.Values{"order": {p.Order}, "type": {p.Type}, "actor": {p.Actor}, "correlation_id": {p.CorrelationID},
		"from": {p.From}, "to": {p.To}, "limit": {p.Limit}}
	other := "oldest"
	if p.Oldest {
		filter.Set("sort", "oldest")
		other = "newest"
	}
	sorted := url.Values{"sort": {other}}
	for k, vs := range filter {
		if k != "sort" {
			sorted[k] = vs
		}
	}
	p.SortURL = pageURL("/admin/audit", sorted)
	page, err := s.auditEvents(c, p, v.Get("after"))
	shown, err := pageError(err)
	if err != nil {
		return err
	}
	p.Events = page.Events
	if page.HasMore {
		filter.Set("after", page.Next)
		p.NextURL = pageURL("/admin/audit", filter)
	}
	var actors, streams []string
	for _, e := range p.Events {
		actors, streams = append(actors, e.Actor), append(streams, e.Stream)
	}
	ctx := c.Request().Context()
	people, err := s.app.Queries.People.Handle(ctx, actors)
	if err != nil {
		return err
	}
	labels, err := s.app.Queries.StreamLabels.Handle(ctx, streams)
	if err != nil {
		return err
	}
	return s.render(c, statusOf(shown), "audit", consolePage{Title: "Audit", Nav: "audit", Error: shown, Data: p, People: people, Labels: labels})
}

func (s *Server) auditEvents(c echo.Context, p auditPage, after string) (query.AuditPage, error) {
	f := query.AuditFilter{Type: p.Type, Actor: p.Actor, CorrelationID: p.CorrelationID, After: after, Newest: !p.Oldest}
	if id, err := uuid.Parse(p.Order); err == nil {
		f.OrderID = id
	} else {
		f.OrderNumber = p.Order
	}
	v := url.Values{"from": {p.From}, "to": {p.To}, "limit": {p.Limit}}
	var err error
	if f.Limit, err = limitOf(v); err != nil {
		return query.AuditPage{}, err
	}
	if f.From, err = s.console.day(v, "from", false); err != nil {
		return query.AuditPage{}, err
	}
	if f.To, err = s.console.day(v, "to", true); err != nil {
		return query.AuditPage{}, err
	}
	return s.app.Queries.AuditEvents.Handle(c.Request().Context(), f)
}

// homePage is what needs attention today.
type homePage struct {
	query.DashboardView
	// Day is the shop's today, as the order list's date filter writes it.
	Day string
	// TodayTotal is how many orders were placed today.
	TodayTotal int
}

// handleConsoleHome is the console's home page: today's orders, and what waits on someone.
func (s *Server) handleConsoleHome(c echo.Context) error {
	now := time.Now().In(s.console.loc)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.console.loc)
	v, err := s.app.Queries.Dashboard.Handle(c.Request().Context(), query.Dashboard{DayStart: start, DayEnd: start.AddDate(0, 0, 1)})
	if err != nil {
		return err
	}
	p := homePage{DashboardView: v, Day: start.Format("02/01/2006")}
	for _, st := range v.Today {
		p.TodayTotal += st.Count
	}
	return s.render(c, http.StatusOK, "home", consolePage{Title: "Today, " + now.Format("Monday 2 January 2006"), Nav: "home",
		Flash: flashText(c.QueryParam("msg")), Data: p})
}

// limitOf reads the page size a link or an API call may ask for; without one, 0 leaves it to the
// query's default, so a limit given as 0 or less is refused here, and the query checks the most.
func limitOf(v url.Values) (int, error) {
	s := v.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-"):
		return 0, apiErr(http.StatusBadRequest, "invalid_input", "limit", "limit is too large")
	case err != nil:
		return 0, apiErr(http.StatusBadRequest, "invalid_input", "limit", "limit must be a whole number")
	case n < 1:
		return 0, apiErr(http.StatusBadRequest, "invalid_input", "limit", "limit must be 1 or more")
	}
	return n, nil
}

// rupees writes paise the way the queries write totals.
func rupees(paise int64) string {
	m, err := order.NewMoney(paise)
	if err != nil {
		return strconv.FormatInt(paise, 10) + " paise"
	}
	return m.String()
}

// label writes a code name in words: order_confirmed is "order confirmed".
func label(s string) string { return strings.ReplaceAll(s, "_", " ") }
