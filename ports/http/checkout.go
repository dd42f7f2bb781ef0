package http

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
)

func (s *Server) registerCheckoutRoutes(g *echo.Group) {
	g.POST("/checkout", s.handleCheckout, rateLimiter(s.opts.CheckoutLimit, s.logger))
	get(g, "/orders/:id", s.handleOrderGet)
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

func (s *Server) handleCheckout(c echo.Context) error {
	if err := s.checkCheckoutSignature(c); err != nil {
		return err
	}
	var cmd command.PlaceOrder
	if err := decodeJSON(c, &cmd); err != nil {
		return err
	}
	key := c.Request().Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey || !visibleASCII(key) {
		return apiErr(http.StatusBadRequest, "invalid_input", "Idempotency-Key",
			"the Idempotency-Key must be at most %d visible ASCII characters, without spaces", maxIdempotencyKey)
	}
	cmd.IdempotencyKey = key
	// The actor is who authenticated, and checkout authenticates nobody: a guest. A customer id in
	// the body is the shop's data about the order, never who acted.
	res, err := s.app.Commands.PlaceOrder.Handle(causation(c, es.Customer("guest")), cmd)
	if err != nil {
		return err
	}
	if s.opts.Simulator != nil && res.Payment != nil {
		res.Payment.PayURL = s.opts.PublicBaseURL + "/dev/pay/" + res.Payment.GatewayOrderID
	}
	if res.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/orders/"+res.OrderID.String())
	return c.JSON(http.StatusCreated, res)
}

func (s *Server) handleOrderGet(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apiErr(http.StatusNotFound, "not_found", "", "order not found")
	}
	v, err := s.app.Queries.CustomerOrder.Handle(c.Request().Context(), query.CustomerOrder{OrderID: id, AccessToken: bearer(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// bearer returns the token of an "Authorization: Bearer <token>" header; the scheme's name is
// case-insensitive (RFC 9110).
func bearer(c echo.Context) string {
	scheme, t, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(t)
}

// checkoutSignatureHeader carries the storefront's signature of a checkout's body.
const checkoutSignatureHeader = "X-Checkout-Signature"

// checkCheckoutSignature refuses a checkout the storefront did not sign, when the service has its
// key (Options.CheckoutSecret), and leaves the body to be decoded.
func (s *Server) checkCheckoutSignature(c echo.Context) error {
	if len(s.opts.CheckoutSecret) == 0 {
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(body))
	got, err := hex.DecodeString(c.Request().Header.Get(checkoutSignatureHeader))
	if err != nil || len(got) == 0 {
		return apiErr(http.StatusUnauthorized, "signature_required", checkoutSignatureHeader,
			"this shop takes orders from its storefront only: send %s, the hex HMAC-SHA256 of the body under the checkout key", checkoutSignatureHeader)
	}
	mac := hmac.New(sha256.New, s.opts.CheckoutSecret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return apiErr(http.StatusUnauthorized, "bad_signature", checkoutSignatureHeader,
			"%s does not match the body: sign the exact bytes sent, with the checkout key", checkoutSignatureHeader)
	}
	return nil
}
