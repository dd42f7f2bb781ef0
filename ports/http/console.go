package http

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/domain/printable"
)

// The admin web console: server-rendered pages at /admin over the same use cases as the admin JSON
// API. A login keeps the admin token Login issues in a cookie; every state-changing form carries a
// CSRF value derived from that token. This file holds the session, CSRF and rendering machinery;
// console_pages.go holds the pages.

//go:embed console/*.html console/*.css
var consoleFiles embed.FS

const (
	// sessionCookie holds "<token id>.<admin token>"; the id is kept so that logging out can revoke it.
	sessionCookie = "certibuy_session"
	// consoleFormLimit caps a posted form; the console's forms are a few short fields.
	consoleFormLimit = 64 << 10
	sessionKey       = "console_session"
)

// console is what the pages need besides the application, built once with the server.
type console struct {
	pages map[string]*template.Template
	css   []byte
	// loc is where the shop's staff are: dates in filters are days there, and times are shown there.
	loc *time.Location
	// publicOrigin is scheme://host of Options.PublicBaseURL; a POST from it is ours even behind a
	// proxy that rewrites Host.
	publicOrigin string
	secureCookie bool
}

// newConsole parses the embedded templates. They are part of the binary, so an error is a bug in
// them, found by any test that starts a server.
func newConsole(opts Options) (*console, error) {
	k := &console{
		pages:        map[string]*template.Template{},
		loc:          time.FixedZone("IST", 5*60*60+30*60), // India has one zone and no daylight saving
		secureCookie: strings.HasPrefix(opts.PublicBaseURL, "https:"),
	}
	if u, err := url.Parse(opts.PublicBaseURL); err == nil && u.Scheme != "" && u.Host != "" {
		k.publicOrigin = u.Scheme + "://" + u.Host
	}
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	base, err := template.New("layout.html").Funcs(k.funcs()).ParseFS(sub, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("console layout: %w", err)
	}
	// Each page is parsed into its own copy of the layout, which calls the page's "content".
	for _, name := range []string{"login", "error", "home", "orders", "order", "notifications", "notification", "audit"} {
		page, err := base.Clone()
		if err == nil {
			page, err = page.ParseFS(sub, name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("console page %s: %w", name, err)
		}
		k.pages[name] = page
	}
	if k.css, err = fs.ReadFile(sub, "console.css"); err != nil {
		return nil, fmt.Errorf("console stylesheet: %w", err)
	}
	return k, nil
}

func (s *Server) registerConsoleRoutes(e *echo.Echo) {
	g := e.Group("/admin", s.consolePages)
	get(g, "/console.css", s.handleConsoleCSS)
	get(g, "/login", s.handleConsoleLoginForm)
	g.POST("/login", s.handleConsoleLogin, s.loginLimiter)
	g.POST("/logout", s.handleConsoleLogout, s.requireSession, s.requireCSRF)
	get(g, "", s.handleConsoleHome, s.requireSession)
	get(g, "/orders", s.handleConsoleOrders, s.requireSession)
	get(g, "/orders/:id", s.handleConsoleOrder, s.requireSession)
	for _, action := range []string{command.ActionShip, command.ActionOutForDelivery, command.ActionDeliver} {
		g.POST("/orders/:id/"+action, s.handleConsoleTransition(action), s.requireSession, s.requireCSRF)
	}
	g.POST("/orders/:id/refund", s.handleConsoleRefund, s.requireSession, s.requireCSRF)
	g.POST("/orders/:id/cancel", s.handleConsoleCancel, s.requireSession, s.requireCSRF)
	get(g, "/notifications", s.handleConsoleNotifications, s.requireSession)
	get(g, "/notifications/:id", s.handleConsoleNotification, s.requireSession)
	get(g, "/notifications/:id/html", s.handleConsoleNotificationHTML, s.requireSession)
	g.POST("/notifications/:id/resend", s.handleConsoleResend, s.requireSession, s.requireCSRF)
	g.POST("/notifications/resend-failed", s.handleConsoleResendFailed, s.requireSession, s.requireCSRF)
	get(g, "/audit", s.handleConsoleAudit, s.requireSession)
	// Replaces the group's catch-all, so that an unknown page says nothing until the admin logs in.
	g.RouteNotFound("/*", echo.NotFoundHandler, s.requireSession)
}

// isConsoleRoute reports whether a route pattern is the console's (not the admin API's, which is
// under /api/v1/admin).
func isConsoleRoute(path string) bool {
	return path == "/admin" || strings.HasPrefix(path, "/admin/")
}

// setConsoleHeaders sets the headers of pages that hold customers' data. The only frame a page may
// hold is a message's HTML, served by this console (handleConsoleNotificationHTML) in a sandbox.
func setConsoleHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer browsers send "Origin: null" on our own posts.
	h.Set("Referrer-Policy", "same-origin")
}

// consolePages wraps every /admin request: headers for pages that hold customers' data, the size
// cap and Origin check on posts, and errors rendered as a page in the layout instead of JSON.
func (s *Server) consolePages(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setConsoleHeaders(c)
		r := c.Request()
		var err error
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, consoleFormLimit)
			if o := r.Header.Get("Origin"); o != "" && !s.console.ownOrigin(r, o) {
				s.logger.WarnContext(r.Context(), "console post from another origin refused", "route", c.Path())
				err = apiErr(http.StatusForbidden, "foreign_origin", "", "this form was sent from another site")
			}
		}
		if err == nil {
			err = next(c)
		}
		if err == nil {
			return nil
		}
		if c.Response().Committed {
			s.logger.ErrorContext(r.Context(), "console error after the answer started", "route", c.Path(), "err", err)
			return nil
		}
		return s.renderConsoleError(c, err)
	}
}

// ownOrigin reports whether an Origin header names this server: the public base URL, or the host the
// request was sent to.
func (k *console) ownOrigin(r *http.Request, origin string) bool {
	if k.publicOrigin != "" && strings.EqualFold(origin, k.publicOrigin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// session is a logged-in admin: the token from the cookie and the admin it belongs to.
type session struct {
	admin command.AdminUser
	token string
}

func sessionOf(c echo.Context) (session, bool) {
	sess, ok := c.Get(sessionKey).(session)
	return sess, ok
}

// requireSession lets a request through only with a live session cookie; without one the admin is
// sent to the login page, and back to the page they asked for after logging in.
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.readSession(c)
		if errors.Is(err, command.ErrUnauthenticated) {
			s.clearSessionCookie(c)
			to := "/admin/login"
			if c.Request().Method == http.MethodGet {
				to += "?" + url.Values{"next": {c.Request().URL.RequestURI()}}.Encode()
			}
			return c.Redirect(http.StatusSeeOther, to)
		}
		if err != nil {
			return err
		}
		c.Set(sessionKey, sess)
		return next(c)
	}
}

func (s *Server) readSession(c echo.Context) (session, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil {
		return session{}, command.ErrUnauthenticated
	}
	// The cookie is "<token id>.<token>"; only the token counts, the id just names the session.
	idPart, token, ok := strings.Cut(ck.Value, ".")
	if _, err := uuid.Parse(idPart); !ok || err != nil {
		return session{}, command.ErrUnauthenticated
	}
	u, err := s.app.Admins.Authenticate(c.Request().Context(), token)
	if err != nil {
		return session{}, err
	}
	return session{admin: u, token: token}, nil
}

func (s *Server) setSessionCookie(c echo.Context, token string, t command.AdminToken) {
	ck := &http.Cookie{Name: sessionCookie, Value: t.ID.String() + "." + token, Path: "/admin",
		HttpOnly: true, Secure: s.console.secureCookie, SameSite: http.SameSiteStrictMode}
	if t.ExpiresAt != nil {
		ck.Expires = *t.ExpiresAt
	}
	c.SetCookie(ck)
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/admin", MaxAge: -1,
		HttpOnly: true, Secure: s.console.secureCookie, SameSite: http.SameSiteStrictMode})
}

// csrfToken is the value a session's forms carry. It is derived from the session token, so it needs
// no storage, changes with every login, and does not reveal the token.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("csrf:" + sessionToken))
	return hex.EncodeToString(sum[:])
}

// requireCSRF refuses a posted form whose csrf field is not the session's, before anything changes.
func (s *Server) requireCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, ok := sessionOf(c)
		if !ok {
			return errors.New("requireCSRF runs without a session") // a routing mistake
		}
		form, err := consoleForm(c)
		if err != nil {
			return err
		}
		if !hmac.Equal([]byte(form.Get("csrf")), []byte(csrfToken(sess.token))) {
			s.logger.WarnContext(c.Request().Context(), "console form without a valid csrf value refused", "route", c.Path())
			return apiErr(http.StatusForbidden, "csrf", "csrf",
				"this form does not belong to your session (it may be older than your login); reload the page and try again")
		}
		return next(c)
	}
}

// consoleForm is the posted form (the body only, never the query string), read once: the one
// reader of the console's forms, which checks every field as checkParams checks parameters.
func consoleForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apiErr(http.StatusRequestEntityTooLarge, "body_too_large", "", "the form is larger than %d bytes", consoleFormLimit)
		}
		return nil, apiErr(http.StatusBadRequest, "invalid_form", "", "the form could not be read")
	}
	if err := checkValues(r.PostForm); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// consolePage is what the layout renders: the page's title and data, and what every page shows.
type consolePage struct {
	Title string
	Nav   string // the nav entry to mark as current
	Flash string
	Error *APIError
	Data  any
	// People names the actors the page shows (by their stored form); Labels says what its streams are
	// about. An actor or stream missing from them is shown as stored.
	People map[string]query.Person
	Labels map[string]query.StreamLabel
	// Admin and CSRF are filled in by render from the session, when there is one.
	Admin *command.AdminUser
	CSRF  string
}

// render executes a page into a buffer first, so that a template error is a clean 500, not half a page.
func (s *Server) render(c echo.Context, status int, name string, p consolePage) error {
	if sess, ok := sessionOf(c); ok {
		p.Admin, p.CSRF = &sess.admin, csrfToken(sess.token)
	}
	t, ok := s.console.pages[name]
	if !ok {
		return fmt.Errorf("render: no console page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	// html/template keeps HTML out of the data, not the characters that reorder or hide text (a
	// right-to-left override in a name): the whole page shows them escaped, so no page can forget.
	return c.HTMLBlob(status, []byte(printable.EscapeKeepingLayout(buf.String())))
}

// renderConsoleError shows an error as toAPIError maps it; a 5xx says nothing of its cause, which
// goes to the log.
func (s *Server) renderConsoleError(c echo.Context, err error) error {
	setConsoleHeaders(c)
	ae := s.apiError(c, err)
	if ae.Status >= 500 {
		s.logger.ErrorContext(c.Request().Context(), "console request failed", "method", c.Request().Method,
			"route", c.Path(), "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	if rerr := s.render(c, ae.Status, "error", consolePage{Title: http.StatusText(ae.Status), Error: ae}); rerr != nil {
		s.logger.ErrorContext(c.Request().Context(), "console error page failed", "err", rerr)
		return c.String(ae.Status, printable.Escape(ae.Message))
	}
	return nil
}

// pageError splits a use case's error into one to show on the page (a 4xx, such as a bad filter)
// and one to fail the request with.
func pageError(err error) (*APIError, error) {
	if err == nil {
		return nil, nil
	}
	ae := toAPIError(err)
	if ae.Status >= 500 {
		return nil, err
	}
	return ae, nil
}

func (k *console) funcs() template.FuncMap {
	return template.FuncMap{
		"when":   k.when,
		"day":    func(t time.Time) string { return t.In(k.loc).Format("02/01/2006") },
		"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"since":  func(t time.Time) string { return span(time.Since(t)) },
		"span":   span,
		"label":  func(s string) string { return strings.ReplaceAll(s, "_", " ") },
		"upper":  strings.ToUpper,
		"rupees": rupees,
		"phone":  displayPhone,
		"refundState": func(s string) string {
			return map[string]string{query.RefundOwed: "owed: to be asked again", query.RefundPending: "asked, waiting for the gateway",
				query.RefundProcessed:  "processed",
				query.RefundHandedOver: fmt.Sprintf("owed, yours: refused %d times, the service no longer asks", order.MaxRefusedRefunds)}[s]
		},
		"sentence":   sentence,
		"statusText": http.StatusText,
		"orderOf": func(stream string) string {
			if id, ok := strings.CutPrefix(stream, order.StreamPrefix); ok {
				if _, err := uuid.Parse(id); err == nil {
					return id
				}
			}
			return ""
		},
		"who": func(people map[string]query.Person, actor string) query.Person {
			if p, ok := people[actor]; ok {
				return p
			}
			return query.PersonOf(actor)
		},
		"labelOf": func(labels map[string]query.StreamLabel, stream string) query.StreamLabel { return labels[stream] },
		"pretty":  prettyJSON,
		"short": func(s string) string {
			if r := []rune(s); len(r) > 8 {
				return string(r[:8]) + "…"
			}
			return s
		},
		"nstatus": notificationStatus,
		"channel": func(ch string) string { return map[string]string{"email": "e-mail", "sms": "SMS"}[ch] },
	}
}

// notificationStatus is a notification's status in words: a message a stand-in provider handled
// was not sent, whatever its status says.
func notificationStatus(status string, simulated bool) string {
	if simulated {
		return "simulated (not sent)"
	}
	return status
}

// prettyJSON indents an event's data, or a provider's answer, for reading; what is not JSON is
// shown as it is.
func prettyJSON(v any) string {
	var data []byte
	switch x := v.(type) {
	case []byte:
		data = x
	case json.RawMessage:
		data = x
	case string:
		data = []byte(x)
	default:
		return fmt.Sprint(v)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "  "); err == nil {
		return b.String()
	}
	// A provider's answer may be JSON after a word saying whose ("msg91: {…}").
	if i := bytes.IndexAny(data, "{["); i > 0 {
		if err := json.Indent(&b, data[i:], "", "  "); err == nil {
			return string(data[:i]) + b.String()
		}
	}
	return string(data)
}

// span writes a duration the way people say it: "45 s", "12 min", "3 h 20 min", "2 days 4 h".
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days %d h", int(d.Hours())/24, int(d.Hours())%24)
}

// when shows a time in India, day first, to the second; it takes the times the queries return:
// time.Time, *time.Time, or RFC 3339 text (the status history).
func (k *console) when(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	case string:
		p, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return x
		}
		t = p
	default:
		return fmt.Sprint(v)
	}
	if t.IsZero() {
		return ""
	}
	return t.In(k.loc).Format("02/01/2006, 3:04:05 pm MST")
}

// sentence starts a message with a capital letter: the API's messages are written to follow a colon.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
