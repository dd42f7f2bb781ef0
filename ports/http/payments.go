package http

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
)

// webhooksPrefix is where the providers' webhooks are, and paymentCallbackPath where Razorpay's
// checkout has the customer's browser post the payment.
const (
	webhooksPrefix      = "/api/v1/webhooks/"
	paymentCallbackPath = "/api/v1/payments/razorpay/callback"
)

func (s *Server) registerPaymentRoutes(g *echo.Group) {
	g.POST("/payments/razorpay/callback", s.handlePaymentCallback) // paymentCallbackPath
	g.POST("/webhooks/razorpay", s.handleRazorpayWebhook)
	g.POST("/webhooks/msg91", s.handleDeliveryReports("msg91"))
	g.POST("/webhooks/fast2sms", s.handleDeliveryReports("fast2sms"))
	g.POST("/orders/:id/cancel", s.handleOrderCancel)
}

// callbackForm is what Razorpay's checkout posts back, as a form (browser) or JSON (API clients).
type callbackForm struct {
	OrderID   string `json:"razorpay_order_id" form:"razorpay_order_id"`
	PaymentID string `json:"razorpay_payment_id" form:"razorpay_payment_id"`
	Signature string `json:"razorpay_signature" form:"razorpay_signature"`
}

func (s *Server) handlePaymentCallback(c echo.Context) error {
	var f callbackForm
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	browser := ct == echo.MIMEApplicationForm
	if browser {
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, 16<<10)
		if err := c.Request().ParseForm(); err != nil {
			return apiErr(http.StatusBadRequest, "invalid_form", "", "cannot read the form: %v", err)
		}
		if err := checkValues(c.Request().PostForm); err != nil {
			return err
		}
		form := c.Request().PostForm
		if form.Get("razorpay_payment_id") == "" && form.Get("error[code]") != "" {
			return s.paymentFailed(c, form)
		}
		f = callbackForm{OrderID: form.Get("razorpay_order_id"), PaymentID: form.Get("razorpay_payment_id"), Signature: form.Get("razorpay_signature")}
	} else if err := decodeJSON(c, &f); err != nil {
		return err
	}
	res, err := s.app.Commands.ConfirmPayment.Handle(causation(c, es.System), command.ConfirmPayment{
		GatewayOrderID: f.OrderID, PaymentID: f.PaymentID, Signature: f.Signature})
	if err != nil && browser {
		// A customer's browser gets a page, not the API's JSON.
		if errors.Is(err, command.ErrBadSignature) {
			return s.renderCustomer(c, http.StatusBadRequest, s.customer.problem, problemPage{Status: http.StatusBadRequest, Shop: s.opts.Shop,
				Title:   "We could not confirm this payment here",
				Message: "If money was taken, it is safe: the payment gateway tells us of every payment, and we then confirm your order or refund the money. Write to us with your order number if you hear nothing within the hour."})
		}
		return s.renderProblem(c, err)
	}
	if err != nil {
		return err
	}
	if browser {
		// The customer lands on their order page, which shows the payment, or the refund of one the
		// order could not take; this service's page also says which in a line at the top.
		to := res.OrderURL
		if strings.HasPrefix(to, s.opts.PublicBaseURL+"/orders/") {
			done := "paid"
			if res.Unexpected {
				done = "refunding"
			}
			to += "&done=" + done
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
	return c.JSON(http.StatusOK, res)
}

// paymentFailed answers the callback of a payment that failed in Razorpay's checkout, which posts the
// error's fields (error[code], error[description], …) to the callback URL instead of a payment. Nothing
// is recorded: no money moved, and the webhook's payment.failed records the attempt. The customer goes
// back to their order, with a fresh link token, when the callback URL carries a good return token
// (returnQuery); else a page says what happened.
func (s *Server) paymentFailed(c echo.Context, form url.Values) error {
	ctx := c.Request().Context()
	s.logger.InfoContext(ctx, "payment failed in checkout", "code", form.Get("error[code]"),
		"reason", form.Get("error[reason]"), "source", form.Get("error[source]"), "step", form.Get("error[step]"))
	id, err := uuid.Parse(c.QueryParam("order"))
	switch {
	case err != nil: // no order named: the page below
	case c.QueryParam("r") != "" && s.opts.PaymentReturns != nil:
		if err := s.opts.PaymentReturns.CheckReturn(id, c.QueryParam("r")); err != nil {
			s.logger.InfoContext(ctx, "payment failed in checkout: the way back is refused", "order_id", id, "err", err)
			break
		}
		return c.Redirect(http.StatusSeeOther, "/orders/"+id.String()+"?"+url.Values{
			"t": {s.opts.PaymentReturns.Token(id)}, "done": {"payment_failed"}}.Encode())
	case c.QueryParam("t") != "":
		// Order pages opened before return tokens put the link token here: theirs still leads back, as
		// before (the order page checks it, and it gives nothing its holder does not have). To be
		// removed once no such page can still be open.
		return c.Redirect(http.StatusSeeOther, "/orders/"+id.String()+"?"+url.Values{"t": {c.QueryParam("t")}, "done": {"payment_failed"}}.Encode())
	}
	setCustomerHeaders(c.Response().Header())
	return s.renderCustomer(c, http.StatusOK, s.customer.problem, problemPage{Status: http.StatusOK, Shop: s.opts.Shop,
		Title:   "Your payment did not go through",
		Message: "Nothing was taken from your account. Go back to the shop to try again, or write to us with your order number."})
}

// maxWebhookBody bounds a webhook body; Razorpay's are a few kilobytes.
const maxWebhookBody = 256 << 10

// readWebhookBody reads a webhook's raw body, at most maxWebhookBody.
func readWebhookBody(c echo.Context) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apiErr(http.StatusRequestEntityTooLarge, "body_too_large", "", "the body is larger than %d bytes", maxWebhookBody)
		}
		return nil, apiErr(http.StatusBadRequest, "invalid_body", "", "cannot read the body")
	}
	return body, nil
}

// handleDeliveryReports takes an SMS provider's delivery reports. The URL carries the secret token
// (the providers sign nothing); the request log never shows query strings.
func (s *Server) handleDeliveryReports(provider string) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readWebhookBody(c)
		if err != nil {
			return err
		}
		res, err := s.app.Commands.DeliveryReports.Handle(c.Request().Context(), command.ReceiveDeliveryReports{
			Provider: provider, Token: c.QueryParam("token"), ContentType: c.Request().Header.Get(echo.HeaderContentType), Body: body})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}
}

func (s *Server) handleRazorpayWebhook(c echo.Context) error {
	body, err := readWebhookBody(c)
	if err != nil {
		return err
	}
	// The id is not signed (the signature covers the body): it is stored, so it must be text.
	eventID := c.Request().Header.Get("X-Razorpay-Event-Id")
	if len(eventID) > maxIdempotencyKey || !visibleASCII(eventID) {
		return apiErr(http.StatusBadRequest, "invalid_input", "X-Razorpay-Event-Id",
			"the X-Razorpay-Event-Id must be at most %d visible ASCII characters, without spaces", maxIdempotencyKey)
	}
	res, err := s.app.Commands.HandleWebhook.Handle(causation(c, es.System), command.HandleWebhook{
		EventID:   eventID,
		Signature: c.Request().Header.Get("X-Razorpay-Signature"),
		Body:      body,
	})
	if err != nil {
		return err
	}
	if res.Outcome == command.WebhookIgnored {
		s.logger.InfoContext(c.Request().Context(), "webhook ignored", "event", res.Event)
	}
	return c.JSON(http.StatusOK, res)
}

type cancelBody struct {
	Reason string `json:"reason"`
}

func (s *Server) handleOrderCancel(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return apiErr(http.StatusNotFound, "not_found", "", "order not found")
	}
	var b cancelBody
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &b); err != nil {
			return err
		}
	}
	res, err := s.app.Commands.CancelOrder.Handle(causation(c, es.Customer("guest")), command.CancelOrder{
		OrderID: id, AccessToken: bearer(c), Reason: b.Reason})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
