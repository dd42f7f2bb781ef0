package http

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
)

// requireAdmin lets a request through only with a live admin bearer token; every route of the admin
// group sits behind it.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := s.app.Admins.Authenticate(c.Request().Context(), bearer(c))
		if errors.Is(err, command.ErrUnauthenticated) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="certibuy-admin"`)
			return apiErr(http.StatusUnauthorized, "unauthenticated", "Authorization", "a valid admin token is required (Authorization: Bearer <token>)")
		}
		if err != nil {
			return err
		}
		c.Set("admin", u)
		return next(c)
	}
}

func admin(c echo.Context) command.AdminUser {
	u, _ := c.Get("admin").(command.AdminUser)
	return u
}

func (s *Server) registerAdminRoutes(api *echo.Group) {
	api.POST("/admin/login", s.handleAdminLogin, s.loginLimiter)
	g := api.Group("/admin", s.requireAdmin)
	get(g, "/orders", s.handleAdminOrderList)
	get(g, "/orders/:id", s.handleAdminOrderGet)
	get(g, "/orders/:id/history", s.handleAdminOrderHistory)
	g.POST("/orders/:id/ship", s.handleAdminTransition(command.ActionShip))
	g.POST("/orders/:id/out-for-delivery", s.handleAdminTransition(command.ActionOutForDelivery))
	g.POST("/orders/:id/deliver", s.handleAdminTransition(command.ActionDeliver))
	g.POST("/orders/:id/refund", s.handleAdminRefund)
	g.POST("/orders/:id/cancel", s.handleAdminCancel)
	get(g, "/audit/events", s.handleAuditEvents)
	get(g, "/notifications", s.handleNotificationList)
	g.POST("/notifications/:id/resend", s.handleNotificationResend)
	s.adminGroup = g
}

type loginBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) handleAdminLogin(c echo.Context) error {
	var b loginBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if secs, locked := s.accountLocked(c, b.Email); locked {
		return apiErr(http.StatusTooManyRequests, "account_locked", "",
			"too many failed logins for this e-mail address; try again in %d seconds", secs)
	}
	token, t, err := s.app.Admins.Login(c.Request().Context(), b.Email, b.Password)
	if errors.Is(err, command.ErrBadCredentials) {
		s.loginFailed(c, b.Email)
		return apiErr(http.StatusUnauthorized, "bad_credentials", "", "wrong e-mail or password")
	}
	if err != nil {
		return err
	}
	s.opts.Lockout.Succeeded(b.Email)
	return c.JSON(http.StatusOK, map[string]any{"token": token, "expires_at": t.ExpiresAt})
}

func (s *Server) handleAdminOrderList(c echo.Context) error {
	q := query.ListOrders{Status: c.QueryParam("status"), Search: c.QueryParam("q"), After: c.QueryParam("after")}
	var err error
	if q.Limit, err = limitOf(c.QueryParams()); err != nil {
		return err
	}
	if q.From, err = s.timeParam(c, "from"); err != nil {
		return err
	}
	if q.To, err = s.timeParam(c, "to"); err != nil {
		return err
	}
	list, err := s.app.Queries.ListOrders.Handle(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func orderID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, apiErr(http.StatusNotFound, "not_found", "", "order not found")
	}
	return id, nil
}

func (s *Server) handleAdminOrderGet(c echo.Context) error {
	id, err := orderID(c)
	if err != nil {
		return err
	}
	if asOf := c.QueryParam("as_of"); asOf != "" {
		at, err := s.timeParam(c, "as_of")
		if err != nil {
			return err
		}
		v, err := s.app.Queries.OrderAsOf.Handle(c.Request().Context(), query.OrderAsOf{OrderID: id, At: at})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"as_of": at, "order": v})
	}
	v, err := s.app.Queries.AdminOrder.Handle(c.Request().Context(), query.AdminOrder{OrderID: id})
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", strconv.Quote(strconv.Itoa(v.Version)))
	return c.JSON(http.StatusOK, v)
}

func (s *Server) handleAdminOrderHistory(c echo.Context) error {
	id, err := orderID(c)
	if err != nil {
		return err
	}
	h, err := s.app.Queries.OrderHistory.Handle(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"order_id": id, "history": h})
}

type transitionBody struct {
	ExpectedVersion int    `json:"expected_version"`
	Carrier         string `json:"carrier"`
	TrackingID      string `json:"tracking_id"`
	TrackingURL     string `json:"tracking_url"`
}

func (s *Server) handleAdminTransition(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := orderID(c)
		if err != nil {
			return err
		}
		var b transitionBody
		if c.Request().ContentLength != 0 {
			if err := decodeJSON(c, &b); err != nil {
				return err
			}
		}
		if b.ExpectedVersion, err = expectedVersion(c, b.ExpectedVersion); err != nil {
			return err
		}
		u := admin(c)
		res, err := s.app.Commands.AdminTransition.Handle(causation(c, es.Admin(u.ID.String())), command.AdminTransition{
			OrderID: id, AdminID: u.ID.String(), Action: action, ExpectedVersion: b.ExpectedVersion,
			Carrier: b.Carrier, TrackingID: b.TrackingID, TrackingURL: b.TrackingURL})
		if err != nil {
			return err
		}
		c.Response().Header().Set("ETag", strconv.Quote(strconv.Itoa(res.Version)))
		return c.JSON(http.StatusOK, res)
	}
}

// expectedVersion is the order version an admin acted on: the body's expected_version or the
// If-Match header (an ETag of GET …/orders/{id}); both given must agree.
func expectedVersion(c echo.Context, fromBody int) (int, error) {
	m := c.Request().Header.Get("If-Match")
	if m == "" {
		return fromBody, nil
	}
	v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(m, "W/"), `"`))
	if err != nil {
		return 0, apiErr(http.StatusBadRequest, "invalid_input", "If-Match", "If-Match must be the order version, such as \"4\"")
	}
	if fromBody != 0 && fromBody != v {
		return 0, apiErr(http.StatusBadRequest, "invalid_input", "If-Match", "If-Match and expected_version disagree")
	}
	return v, nil
}

type adminCancelBody struct {
	ExpectedVersion int    `json:"expected_version"`
	Reason          string `json:"reason"`
}

// handleAdminCancel cancels an order for the shop, refunding a paid one as a customer's cancellation
// does; the reason is required, since the customer is told it.
func (s *Server) handleAdminCancel(c echo.Context) error {
	id, err := orderID(c)
	if err != nil {
		return err
	}
	var b adminCancelBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if b.ExpectedVersion, err = expectedVersion(c, b.ExpectedVersion); err != nil {
		return err
	}
	u := admin(c)
	res, err := s.app.Commands.CancelOrder.Handle(causation(c, es.Admin(u.ID.String())), command.CancelOrder{
		OrderID: id, AdminID: u.ID.String(), ExpectedVersion: b.ExpectedVersion, Reason: b.Reason})
	if errors.Is(err, command.ErrRefundFailed) {
		return refundFailure(err, forStaffAPI, true, id)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", strconv.Quote(strconv.Itoa(res.Version)))
	return c.JSON(http.StatusOK, res)
}

func (s *Server) handleAuditEvents(c echo.Context) error {
	f := query.AuditFilter{Type: c.QueryParam("type"), Actor: c.QueryParam("actor"), CorrelationID: c.QueryParam("correlation_id"),
		Stream: c.QueryParam("stream"), After: c.QueryParam("after")}
	if ref := c.QueryParam("order"); ref != "" {
		if id, err := uuid.Parse(ref); err == nil {
			f.OrderID = id
		} else {
			f.OrderNumber = ref
		}
	}
	var err error
	if f.Limit, err = limitOf(c.QueryParams()); err != nil {
		return err
	}
	if f.From, err = s.timeParam(c, "from"); err != nil {
		return err
	}
	if f.To, err = s.timeParam(c, "to"); err != nil {
		return err
	}
	page, err := s.app.Queries.AuditEvents.Handle(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if page.Events == nil {
		page.Events = []query.AuditEvent{}
	}
	return c.JSON(http.StatusOK, page)
}

// timeParam reads a time filter as the CLI reads its flags (query.ParseTime): a day is one in India,
// as for the staff, and "to" a day includes that day.
func (s *Server) timeParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := query.ParseTime(v, s.console.loc, name == "to")
	if err != nil {
		return time.Time{}, apiErr(http.StatusBadRequest, "invalid_input", name, "%s: %v", name, err)
	}
	return t, nil
}

func (s *Server) handleNotificationList(c echo.Context) error {
	q := query.ListNotifications{Channel: c.QueryParam("channel"), Status: c.QueryParam("status"), Type: c.QueryParam("type"),
		EventType: c.QueryParam("event_type"), Delivery: c.QueryParam("delivery"), Search: c.QueryParam("q"), After: c.QueryParam("after")}
	var err error
	if q.Limit, err = limitOf(c.QueryParams()); err != nil {
		return err
	}
	page, err := s.app.Queries.Notifications.Handle(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (s *Server) handleNotificationResend(c echo.Context) error {
	id := c.Param("id")
	if !strings.HasPrefix(id, "notification-") || len(id) > 100 {
		return apiErr(http.StatusNotFound, "not_found", "", "notification not found")
	}
	u := admin(c)
	if err := s.app.Commands.ResendNotification.Handle(causation(c, es.Admin(u.ID.String())),
		command.ResendNotification{Stream: id, AdminID: u.ID.String()}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"id": id, "status": "pending"})
}

func (s *Server) handleAdminRefund(c echo.Context) error {
	id, err := orderID(c)
	if err != nil {
		return err
	}
	u := admin(c)
	res, err := s.app.Commands.RetryRefund.Handle(causation(c, es.Admin(u.ID.String())), command.RetryRefund{OrderID: id, AdminID: u.ID.String()})
	if errors.Is(err, command.ErrRefundFailed) {
		return refundFailure(err, forStaffAPI, false, id)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
