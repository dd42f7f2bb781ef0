package http

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/domain/strictjson"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// APIError is the body of every error answer: {"error": {"code", "message", "field"?}}.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Extra carries details some errors add, such as the current version of a conflict.
	Extra map[string]any `json:"details,omitempty"`
}

func (e *APIError) Error() string { return e.Message }

func apiErr(status int, code, field, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// toAPIError maps an error from the app layer to its HTTP answer. Unknown errors are 500s whose
// message says nothing of the cause; the cause goes to the log.
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok {
			msg = s
		}
		return apiErr(he.Code, strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_")), "", "%s", msg)
	}
	var fe *order.FieldError
	var ce *es.ConflictError
	var notYet *order.NotYetError
	switch {
	case errors.As(err, &fe):
		return apiErr(http.StatusBadRequest, "invalid_input", fe.Field, "%s", cleanMessage(fe.Err))
	case errors.Is(err, order.ErrInvalidInput):
		return apiErr(http.StatusBadRequest, "invalid_input", "", "%s", cleanMessage(err))
	case errors.Is(err, command.ErrBadSignature):
		return apiErr(http.StatusBadRequest, "invalid_signature", "", "the signature does not match this payment or body")
	case errors.Is(err, command.ErrGatewayUnavailable):
		return apiErr(http.StatusBadGateway, "gateway_unavailable", "", "%s", command.ErrGatewayUnavailable.Error())
	case errors.Is(err, command.ErrRefundFailed): // a customer's cancellation: staff routes answer refundFailure themselves
		return refundFailure(err, forCustomer, true, uuid.Nil)
	case errors.Is(err, command.ErrReportsOff):
		return apiErr(http.StatusUnauthorized, "reports_off", "token", "%s", command.ErrReportsOff.Error())
	case errors.Is(err, command.ErrBadReportToken):
		return apiErr(http.StatusUnauthorized, "unauthenticated", "token", "%s", command.ErrBadReportToken.Error())
	case errors.Is(err, command.ErrUnauthenticated):
		return apiErr(http.StatusUnauthorized, "unauthenticated", "Authorization", "a valid admin token is required")
	case errors.Is(err, command.ErrAdminExists):
		return apiErr(http.StatusConflict, "exists", "email", "%s", command.ErrAdminExists.Error())
	case errors.Is(err, command.ErrTokenNotFound):
		return apiErr(http.StatusNotFound, "not_found", "", "%s", command.ErrTokenNotFound.Error())
	case errors.Is(err, notification.ErrNotFound):
		return apiErr(http.StatusNotFound, "not_found", "", "notification not found")
	case errors.Is(err, notification.ErrNotFailed):
		return apiErr(http.StatusConflict, "not_failed", "", "only a failed notification, or one reported undelivered, can be resent")
	case errors.Is(err, command.ErrIdempotencyKeyReused):
		return apiErr(http.StatusUnprocessableEntity, "idempotency_key_reused", "Idempotency-Key", "%s", err.Error())
	case errors.As(err, &notYet): // as_of before the order was placed: still a 404, saying why
		e := apiErr(http.StatusNotFound, "not_found", "as_of", "the order did not exist yet at %s: it was placed later, at %s",
			notYet.At.Format(time.RFC3339Nano), notYet.PlacedAt.In(notYet.At.Location()).Format(time.RFC3339Nano))
		e.Extra = map[string]any{"placed_at": notYet.PlacedAt}
		return e
	case errors.Is(err, order.ErrNotFound):
		return apiErr(http.StatusNotFound, "not_found", "", "order not found")
	case errors.As(err, &ce) && strings.HasPrefix(ce.Stream, "notification-"):
		// Two resends of one notification at once (a double click): the other one won.
		return apiErr(http.StatusConflict, "notification_changed", "", "the notification changed meanwhile (resent by another request?); reload it to see where it stands")
	case errors.As(err, &ce):
		e := apiErr(http.StatusConflict, "version_conflict", "expected_version", "the order changed since you loaded it; reload it and try again")
		if ce.Actual >= 0 {
			e.Extra = map[string]any{"current_version": ce.Actual}
		}
		return e
	case errors.Is(err, order.ErrIllegalTransition):
		return apiErr(http.StatusConflict, "illegal_transition", "", "%s", lastPart(err))
	case errors.Is(err, order.ErrPaymentMismatch), errors.Is(err, order.ErrRefundMismatch):
		return apiErr(http.StatusUnprocessableEntity, "mismatch", "", "%s", lastPart(err))
	}
	return apiErr(http.StatusInternalServerError, "internal", "", "internal error")
}

// retryAfterUnavailable is the Retry-After, in seconds, of a database_unavailable answer: a pool
// reconnects at the next request, so a few seconds is enough to see whether it is back.
const retryAfterUnavailable = "5"

// apiError is toAPIError for a request: an error it would answer 500 whose cause is a database that
// cannot be reached for now (Options.Unavailable) is a 503 database_unavailable with a Retry-After,
// so that a storefront knows to try again. Every other error keeps its answer.
func (s *Server) apiError(c echo.Context, err error) *APIError {
	ae := toAPIError(err)
	if ae.Status == http.StatusInternalServerError && ae.Code == "internal" && s.opts.Unavailable != nil && s.opts.Unavailable(err) {
		c.Response().Header().Set("Retry-After", retryAfterUnavailable)
		return errDatabaseUnavailable()
	}
	return ae
}

// errDatabaseUnavailable is the answer to a request that needs the database while it cannot be
// reached; its Retry-After is retryAfterUnavailable.
func errDatabaseUnavailable() *APIError {
	return apiErr(http.StatusServiceUnavailable, "database_unavailable", "",
		"the shop's system is briefly unavailable (it cannot reach its database); try again in a few seconds")
}

// cleanMessage drops the "invalid input: " prefixes the sentinels add, leaving the reason.
func cleanMessage(err error) string {
	msg := err.Error()
	for _, p := range []string{"invalid input: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

// lastPart keeps the most specific part of a wrapped message ("update order x: cannot ship ...").
func lastPart(err error) string {
	msg := err.Error()
	for _, p := range []string{"illegal order transition: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	if i := strings.LastIndex(msg, ": cannot "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// handleError writes every error as the JSON envelope and logs the 5xx ones with their cause; under
// the console (/admin) and the customer's pages, which render their own errors, it renders the ones
// raised before them (a refused parameter, a panic) as such a page too.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	// An unrouted path (an SMS link with a slash added, say) gets the page of where it points.
	route := c.Path()
	if route == "" {
		route = c.Request().URL.Path
	}
	if isConsoleRoute(route) {
		if rerr := s.renderConsoleError(c, err); rerr != nil {
			s.logger.ErrorContext(c.Request().Context(), "console error page failed", "err", rerr)
		}
		return
	}
	if isCustomerRoute(route) {
		if rerr := s.renderProblem(c, err); rerr != nil {
			s.logger.ErrorContext(c.Request().Context(), "customer error page failed", "err", rerr)
		}
		return
	}
	ae := s.apiError(c, err)
	if ae.Status >= 500 {
		s.logger.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method,
			"path", c.Path(), "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	_ = c.JSON(ae.Status, map[string]*APIError{"error": ae})
}

// decodeJSON is the one reader of JSON bodies: the right content type, at most MaxBodyBytes, one
// value, read strictly (strictjson: a key given twice or in another case, an unknown field, a U+0000
// in a string are refused). Each refusal names what is wrong.
func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return apiErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type",
			"send the body as application/json (got %q)", ct)
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, MaxBodyBytes)
	if err := strictjson.Decode(body, v, true); err != nil {
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var (
		tooBig *http.MaxBytesError
		syn    *jsontext.SyntacticError
		sem    *json.SemanticError
		nul    *strictjson.NULError
	)
	switch {
	case errors.As(err, &tooBig):
		return apiErr(http.StatusRequestEntityTooLarge, "body_too_large", "", "the body is larger than %d bytes", MaxBodyBytes)
	case errors.As(err, &nul):
		f := strictjson.Field(nul.Pointer)
		return apiErr(http.StatusBadRequest, "invalid_input", f, "%s must not hold the character U+0000", fieldOr(f))
	case errors.As(err, &syn) && errors.Is(err, jsontext.ErrDuplicateName):
		f := strictjson.Field(syn.JSONPointer)
		return apiErr(http.StatusBadRequest, "duplicate_key", f, "%q is given twice; send each key once", f)
	case errors.As(err, &syn) && errors.Is(err, io.ErrUnexpectedEOF):
		if syn.ByteOffset == 0 {
			return apiErr(http.StatusBadRequest, "invalid_json", "", "the body is empty")
		}
		return apiErr(http.StatusBadRequest, "invalid_json", "", "the body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		return apiErr(http.StatusBadRequest, "invalid_json", "", "the body is not valid JSON at byte %d: %v", syn.ByteOffset, syn.Err)
	case errors.As(err, &sem) && errors.Is(err, json.ErrUnknownName):
		f := strictjson.Field(sem.JSONPointer)
		return apiErr(http.StatusBadRequest, "unknown_field", f, "unknown field %q (keys are matched exactly, case included)", f)
	case errors.As(err, &sem):
		f := strictjson.Field(sem.JSONPointer)
		return apiErr(http.StatusBadRequest, "invalid_input", f, "%s must be %s", fieldOr(f), strictjson.KindOf(sem.GoType))
	}
	return apiErr(http.StatusBadRequest, "invalid_json", "", "cannot read the body: %v", err)
}

func fieldOr(f string) string {
	if f == "" {
		return "the body"
	}
	return f
}
