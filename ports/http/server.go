// Package http is the HTTP port: it decodes requests, calls one use case and maps its errors to
// status codes. Nothing here decides business rules.
package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certibuy/orders/app"
	"github.com/certibuy/orders/domain/es"
)

// Readiness reports whether the service can serve: the database answers and is migrated. An error
// that is a *NotReady names its reason; any other is answered as "unknown".
type Readiness func(ctx context.Context) error

// Readiness reasons: the short codes /readyz answers with.
const (
	ReasonDatabaseUnreachable = "database_unreachable"
	ReasonNotMigrated         = "not_migrated"
)

// NotReady is why the service cannot serve. Reason is all /readyz tells its caller; Err, which may
// name the database's user, name and address, goes to the log only.
type NotReady struct {
	Reason string
	Err    error
}

func (e *NotReady) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *NotReady) Unwrap() error { return e.Err }

// Options tune the server.
type Options struct {
	// PublicBaseURL prefixes links the API returns.
	PublicBaseURL string
	// Simulator is set when payments go through the development gateway; it enables /dev/pay.
	Simulator PaymentSimulator
	// CheckoutSecret, when set, is the key of the shop's storefront: a checkout must carry
	// X-Checkout-Signature, the hex HMAC-SHA256 of its body under this key. Checkout trusts the
	// prices it is sent, so only the storefront, which knows them, may say them.
	CheckoutSecret []byte
	// CheckoutLimit and LoginLimit cap requests per client address.
	CheckoutLimit, LoginLimit RateLimit
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client (see
	// clientIPExtractor); none: the client is the connection's peer.
	TrustedProxies []*net.IPNet
	// Lockout counts failed logins per account; nil gets one with DefaultLockoutPolicy. It lives as
	// long as the process, so the wiring makes it (and a test gives it a clock).
	Lockout *LoginLockout
	// Metrics, when set, receives the HTTP metrics. It is not served here: /metrics has its own
	// listener (METRICS_ADDR), off the public API.
	Metrics *prometheus.Registry
	// Shop is what the customer's pages say about the shop.
	Shop Shop
	// RazorpayKeyID is the public key Razorpay's checkout script needs to let a customer pay again.
	RazorpayKeyID string
	// PaymentReturns, when set, lets a failed payment lead its customer back to the order page; without
	// it the callback answers a failed payment with a page saying so.
	PaymentReturns PaymentReturns
	// Unavailable, when set, says whether an error means the database cannot be reached for now
	// (the wiring gives postgres.IsUnreachable; this port knows no SQL driver). Such an error is a
	// 503 database_unavailable a client may retry, instead of a 500.
	Unavailable func(error) bool
}

// PaymentReturns makes the return tokens the order page puts in the gateway's callback URL instead of
// its link token (which would open the order for months in the gateway's hands), checks them, and
// makes the fresh link token a good one earns (adapters/links).
type PaymentReturns interface {
	ReturnToken(orderID uuid.UUID) string
	// CheckReturn returns nil for a good return token of the order, else an error.
	CheckReturn(orderID uuid.UUID, token string) error
	Token(orderID uuid.UUID) string
}

// Shop is the shop's name and where customers write for help.
type Shop struct {
	Name, SupportEmail string
}

// Server is the HTTP API and the admin web console.
type Server struct {
	echo         *echo.Echo
	app          app.Application
	logger       *slog.Logger
	ready        Readiness
	opts         Options
	adminGroup   *echo.Group
	loginLimiter echo.MiddlewareFunc
	console      *console
	customer     *customerPages
}

// NewServer builds the routes over application.
func NewServer(application app.Application, logger *slog.Logger, ready Readiness, opts Options) (*Server, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Client addresses come from the connection, not from headers a client can write, unless the
	// connection is from a proxy the operator trusts (TRUSTED_PROXIES): behind one, every client
	// would otherwise share the proxy's address, and its rate limits.
	e.IPExtractor = clientIPExtractor(opts.TrustedProxies)
	if opts.Lockout == nil {
		opts.Lockout = NewLoginLockout(DefaultLockoutPolicy())
	}
	cons, err := newConsole(opts)
	if err != nil {
		return nil, err
	}
	cust, err := newCustomerPages(cons.loc)
	if err != nil {
		return nil, err
	}
	s := &Server{echo: e, app: application, logger: logger, ready: ready, opts: opts, console: cons, customer: cust}
	s.loginLimiter = rateLimiter(opts.LoginLimit, logger)
	e.HTTPErrorHandler = s.handleError
	e.Use(nameRequest)
	e.Use(s.recoverer)
	e.Use(s.requestLog)
	if opts.Metrics != nil {
		m, err := newHTTPMetrics(opts.Metrics)
		if err != nil {
			return nil, fmt.Errorf("http metrics: %w", err)
		}
		e.Use(m.middleware)
	}
	// Last, so that a refusal is logged and counted like any answer.
	e.Use(s.checkParams)

	get(e, "/healthz", s.handleHealth)
	get(e, "/readyz", s.handleReady)
	api := e.Group("/api/v1")
	s.registerCheckoutRoutes(api)
	s.registerPaymentRoutes(api)
	s.registerAdminRoutes(api)
	s.registerDevRoutes(e)
	s.registerConsoleRoutes(e)
	s.registerCustomerRoutes(e)
	return s, nil
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Echo exposes the router, for tests that walk the route table.
func (s *Server) Echo() *echo.Echo { return s.echo }

func (s *Server) handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		reason := "unknown"
		var nr *NotReady
		if errors.As(err, &nr) {
			reason = nr.Reason
		}
		s.logger.WarnContext(ctx, "not ready", "reason", reason, "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": reason})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// requestIDMax is the longest X-Request-ID a client may send. The id becomes the correlation id of
// the events the request appends, which an index keys, and an index entry holds at most about
// 2.7 kB: a longer id failed the append, and the request with a 500.
const requestIDMax = 200

// newRequestID names a request that came without a usable id of its own.
func newRequestID() string { return es.NewID().String() }

// usableRequestID says whether a client's X-Request-ID can name its request, its log lines and its
// events: at most requestIDMax visible ASCII characters.
func usableRequestID(id string) bool { return len(id) <= requestIDMax && visibleASCII(id) }

// visibleASCII says whether s holds only visible ASCII characters: no space, no control character.
func visibleASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < '!' || r > '~' })
}

// nameRequest answers every request with an X-Request-ID: the client's when it is usable, else one
// of our own. An unusable one is then refused by checkParams, after the access log has started, so
// that the refusal is logged under the id it is answered with and the client's id never reaches a
// log line.
func nameRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderXRequestID, requestID(c.Request()))
		return next(c)
	}
}

// requestID is the id a request is answered under: the client's X-Request-ID when it is usable, else
// a new one.
func requestID(r *http.Request) string {
	id := r.Header.Get(echo.HeaderXRequestID)
	if id == "" || !usableRequestID(id) {
		id = newRequestID()
	}
	return id
}

// checkRequestID refuses a client's unusable X-Request-ID. A provider's webhook and the payment
// callback a customer's browser posts are taken under the id of our own that nameRequest gave them:
// the provider would send the same event again and again, and the customer would see an error page
// for a payment that went through.
func checkRequestID(req *http.Request) error {
	if usableRequestID(req.Header.Get(echo.HeaderXRequestID)) ||
		strings.HasPrefix(req.URL.Path, webhooksPrefix) || req.URL.Path == paymentCallbackPath {
		return nil
	}
	return apiErr(http.StatusBadRequest, "invalid_input", "X-Request-ID",
		"X-Request-ID must be at most %d visible ASCII characters, without spaces", requestIDMax)
}

// get routes GET and HEAD to h: net/http answers a HEAD with the headers and drops the body. Echo
// routes HEAD only where it is registered; a HEAD of a console page was a 405, or was sent to the
// login page, which sent it to itself.
func get(r interface {
	Match([]string, string, echo.HandlerFunc, ...echo.MiddlewareFunc) []*echo.Route
}, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.Match([]string{http.MethodGet, http.MethodHead}, path, h, m...)
}

// causation puts the request id in the context as the correlation id of the events it appends.
func causation(c echo.Context, actor es.Actor) context.Context {
	return es.WithCausation(c.Request().Context(), es.Causation{
		Actor:         actor,
		CorrelationID: c.Response().Header().Get(echo.HeaderXRequestID),
	})
}

func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.logger.ErrorContext(c.Request().Context(), "panic in handler", "panic", r, "path", c.Path())
				err = apiErr(http.StatusInternalServerError, "internal", "", "internal error")
			}
		}()
		return next(c)
	}
}

// requestLog logs one line per request: no bodies, no query strings (they may hold tokens).
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if c.Path() == "/healthz" || c.Path() == "/readyz" {
			level = slog.LevelDebug
		}
		s.logger.Log(c.Request().Context(), level, "http request",
			"method", methodName(c.Request().Method), "route", c.Path(), "status", status,
			"duration_ms", time.Since(start).Milliseconds(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		return nil
	}
}
