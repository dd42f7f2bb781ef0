package http

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// PaymentSimulator signs payments the way Razorpay's checkout would; only the development gateway has one.
type PaymentSimulator interface {
	Pay(gatewayOrderID string) (paymentID, signature string)
}

func (s *Server) registerDevRoutes(e *echo.Echo) {
	if s.opts.Simulator == nil {
		return
	}
	get(e, "/dev/pay/:gateway_order_id", s.handleDevPayPage)
	e.POST("/dev/pay/:gateway_order_id", s.handleDevPay)
}

var devPayPage = template.Must(template.New("pay").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simulated payment – {{.Number}}</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">
<p style="background:#fff3cd;border:1px solid #e0b000;padding:.6em 1em"><strong>SIMULATED PAYMENT.</strong>
This is CertiBuy's development gateway: no money moves. Set RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET to use Razorpay.</p>
<h1>Pay for order {{.Number}}</h1>
<p>Total: <strong>{{.Total}}</strong></p>
<form method="post"><button type="submit" style="font-size:1.2em;padding:.5em 2em">Pay {{.Total}}</button></form>
</body></html>`))

var devRedirectPage = template.Must(template.New("redirect").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simulated payment</title></head><body onload="document.forms[0].submit()">
<p><strong>SIMULATED PAYMENT</strong> – sending the signed callback…</p>
<form method="post" action="/api/v1/payments/razorpay/callback">
<input type="hidden" name="razorpay_order_id" value="{{.OrderID}}">
<input type="hidden" name="razorpay_payment_id" value="{{.PaymentID}}">
<input type="hidden" name="razorpay_signature" value="{{.Signature}}">
<noscript><button type="submit">Continue</button></noscript></form></body></html>`))

func (s *Server) handleDevPayPage(c echo.Context) error {
	v, err := s.app.Queries.PaymentPage.Handle(c.Request().Context(), c.Param("gateway_order_id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	return devPayPage.Execute(c.Response(), v)
}

// handleDevPay answers with a correctly signed checkout callback: as JSON for curl (post it to the
// callback URL), or as a page that posts it for a browser.
func (s *Server) handleDevPay(c echo.Context) error {
	gwID := c.Param("gateway_order_id")
	if _, err := s.app.Queries.PaymentPage.Handle(c.Request().Context(), gwID); err != nil {
		return err
	}
	paymentID, sig := s.opts.Simulator.Pay(gwID)
	s.logger.InfoContext(c.Request().Context(), "simulated payment signed", "gateway_order_id", gwID, "payment_id", paymentID)
	cb := map[string]string{"razorpay_order_id": gwID, "razorpay_payment_id": paymentID, "razorpay_signature": sig}
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		return devRedirectPage.Execute(c.Response(), map[string]string{"OrderID": gwID, "PaymentID": paymentID, "Signature": sig})
	}
	return c.JSON(http.StatusOK, map[string]any{"simulated": true, "callback_url": s.opts.PublicBaseURL + paymentCallbackPath, "callback": cb})
}
