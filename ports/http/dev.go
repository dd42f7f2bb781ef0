package http

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/google/uuid"
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
{{if ne .Status "placed"}}<p id="not-payable" style="border:1px solid #b91c1c;padding:.6em 1em">This order is <strong>{{.Status}}</strong>: it takes no payment now.
A payment made anyway is one it cannot take, and is refunded in full.</p>{{end}}
<form method="post"><button type="submit" style="font-size:1.2em;padding:.5em 2em">{{if ne .Status "placed"}}Pay anyway{{else}}Pay {{.Total}}{{end}}</button></form>
<form method="post"><input type="hidden" name="outcome" value="fail"><button type="submit" id="fail">Make the payment fail</button></form>
</body></html>`))

// devRedirectPage posts what Razorpay's checkout posts to its callback_url: the signed payment, or
// the error of a failed one.
var devRedirectPage = template.Must(template.New("redirect").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simulated payment</title></head><body onload="document.forms[0].submit()">
<p><strong>SIMULATED PAYMENT</strong> – sending the gateway's callback…</p>
<form method="post" action="{{.Action}}">
{{range $name, $value := .Fields}}<input type="hidden" name="{{$name}}" value="{{$value}}">
{{end}}<noscript><button type="submit">Continue</button></noscript></form></body></html>`))

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
	// The order page sends its customer here with the order and a return token, as it gives them to
	// Razorpay's checkout in the callback URL, so that a failed payment leads back to the order.
	callback := paymentCallbackPath
	if id, err := uuid.Parse(c.QueryParam("order")); err == nil {
		callback += returnQuery(id, c.QueryParam("r"))
	}
	if c.FormValue("outcome") == "fail" {
		meta, _ := json.Marshal(map[string]string{"payment_id": "pay_simfailed", "order_id": gwID})
		s.logger.InfoContext(c.Request().Context(), "simulated payment failed", "gateway_order_id", gwID)
		return devPage(c, map[string]any{"Action": callback, "Fields": map[string]string{
			"error[code]": "BAD_REQUEST_ERROR", "error[description]": "Payment failed (simulated)", "error[source]": "customer",
			"error[step]": "payment_authorization", "error[reason]": "payment_failed", "error[metadata]": string(meta)}})
	}
	paymentID, sig := s.opts.Simulator.Pay(gwID)
	s.logger.InfoContext(c.Request().Context(), "simulated payment signed", "gateway_order_id", gwID, "payment_id", paymentID)
	cb := map[string]string{"razorpay_order_id": gwID, "razorpay_payment_id": paymentID, "razorpay_signature": sig}
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
		return devPage(c, map[string]any{"Action": callback, "Fields": cb})
	}
	return c.JSON(http.StatusOK, map[string]any{"simulated": true, "callback_url": s.opts.PublicBaseURL + paymentCallbackPath, "callback": cb})
}

func devPage(c echo.Context, data map[string]any) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	if err := devRedirectPage.Execute(c.Response(), data); err != nil {
		return fmt.Errorf("simulator page: %w", err)
	}
	return nil
}
