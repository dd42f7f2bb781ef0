package http

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/order"
)

// The customer's order page: server-rendered at /orders/{id}?t=<token>, opened from the links in the
// order's e-mails (and, through the short links /o/… of SMS, from its text messages). The token opens
// that one order; nothing else identifies the customer, so every form carries it back.

//go:embed customer/*.html customer/*.css
var customerFiles embed.FS

type customerPages struct {
	order, problem *template.Template
	css            []byte
	loc            *time.Location
}

func newCustomerPages(loc *time.Location) (*customerPages, error) {
	sub, err := fs.Sub(customerFiles, "customer")
	if err != nil {
		return nil, fmt.Errorf("customer pages: %w", err)
	}
	k := &customerPages{loc: loc}
	funcs := template.FuncMap{
		"when":        func(t time.Time) string { return t.In(loc).Format("2 Jan 2006, 3:04 pm") },
		"statusLabel": statusLabel,
		"phone":       displayPhone,
		"rupeesOf":    rupees,
		// A courier outside the carriers' table, shipped without its name, is "other": the page then
		// names no carrier rather than "other".
		"namedCarrier": func(c string) string {
			if strings.EqualFold(c, order.OtherCarrier) {
				return ""
			}
			return c
		},
		"refundSentence": func(status, amount, expectation string) string {
			switch status {
			case query.RefundProcessed:
				return "Your refund of " + amount + " is done: your bank or card shows it within " + expectation + "."
			case query.RefundPending:
				return "Your refund of " + amount + " is on its way: expect it in " + expectation + "."
			case query.RefundHandedOver:
				// The service gave up asking on its own: promise no retry, say who acts.
				return "Your refund of " + amount + " is owed to you, but the payment gateway has not accepted it yet. Our team is handling it and will contact you."
			}
			return "Your refund of " + amount + " will follow shortly: expect it in " + expectation + " after we start it."
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(sub, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("customer layout: %w", err)
	}
	for name, dst := range map[string]**template.Template{"order": &k.order, "problem": &k.problem} {
		page, err := base.Clone()
		if err == nil {
			page, err = page.ParseFS(sub, name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("customer page %s: %w", name, err)
		}
		*dst = page
	}
	if k.css, err = fs.ReadFile(sub, "customer.css"); err != nil {
		return nil, fmt.Errorf("customer stylesheet: %w", err)
	}
	return k, nil
}

func (s *Server) registerCustomerRoutes(e *echo.Echo) {
	get(e, "/assets/customer.css", s.handleCustomerCSS)
	get(e, "/orders/:id", s.handleOrderPage, s.customerHeaders)
	e.POST("/orders/:id/cancel", s.handleOrderPageCancel, s.customerHeaders)
	get(e, shortOrderPath+":number/:token", s.handleShortLink(false), s.customerHeaders)
	get(e, shortReviewPath+":number/:token", s.handleShortLink(true), s.customerHeaders)
}

// isCustomerRoute reports whether a route is one of the customer's pages, whose errors are pages.
func isCustomerRoute(path string) bool {
	return strings.HasPrefix(path, "/orders/") || strings.HasPrefix(path, shortOrderPath) || strings.HasPrefix(path, shortReviewPath)
}

// Short link paths of SMS (adapters/links makes them).
const (
	shortOrderPath  = "/o/"
	shortReviewPath = "/r/"
)

func (s *Server) handleCustomerCSS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", s.customer.css)
}

// customerHeaders keep the token in the page's address to this site (no Referer to a carrier's
// tracking page; same-origin rather than no-referrer, under which browsers send "Origin: null" on
// the page's own form), the page out of caches and search engines, and errors as pages, not JSON.
func (s *Server) customerHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setCustomerHeaders(c.Response().Header())
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		return s.renderProblem(c, err)
	}
}

func setCustomerHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// problemPage is the friendly page for a link that opens nothing, or anything else that went wrong.
type problemPage struct {
	Status  int
	Title   string
	Message string
	Shop    Shop
}

func (s *Server) renderProblem(c echo.Context, err error) error {
	setCustomerHeaders(c.Response().Header()) // again, for a path no route took
	p := problemPage{Shop: s.opts.Shop}
	switch {
	case errors.Is(err, query.ErrLinkExpired):
		p.Status, p.Title = http.StatusGone, "This link has expired"
		p.Message = "Links in our messages open your order for a limited time. Write to us with your order number and we will tell you where it stands."
	case errors.Is(err, query.ErrLinkInvalid), errors.Is(err, order.ErrNotFound), errors.Is(err, echo.ErrNotFound):
		p.Status, p.Title = http.StatusNotFound, "This link does not open an order"
		p.Message = "The link may have been cut short when it was copied. Open it again from the e-mail or SMS we sent, or write to us with your order number."
	default:
		ae := s.apiError(c, err)
		p.Status = ae.Status
		if ae.Code == "database_unavailable" {
			s.logger.ErrorContext(c.Request().Context(), "customer page failed", "route", c.Path(), "err", err)
			p.Title, p.Message = "Our shop's system is briefly unavailable", "Please try again in a minute or two. If it keeps happening, write to us with your order number."
		} else if ae.Status >= 500 {
			s.logger.ErrorContext(c.Request().Context(), "customer page failed", "route", c.Path(), "err", err)
			p.Title, p.Message = "Something went wrong on our side", "Please try again in a minute. If it keeps happening, write to us with your order number."
		} else {
			// The message as the API words it, naming the field: a refused parameter starts with its name.
			p.Title, p.Message = "We could not do that", ae.Message
		}
	}
	return s.renderCustomer(c, p.Status, s.customer.problem, p)
}

func (s *Server) renderCustomer(c echo.Context, status int, t *template.Template, data any) error {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return fmt.Errorf("render customer page: %w", err)
	}
	return c.HTMLBlob(status, b.Bytes())
}

// orderPageData is what the order page shows.
type orderPageData struct {
	query.OrderPageView
	Token string
	Shop  Shop
	Flash string
	// FlashIsBad shows Flash as news the customer did not want (a payment that failed).
	FlashIsBad bool
	// Pay is how the customer pays again: the simulator's page, or Razorpay's checkout script.
	PayURL    string
	Razorpay  *razorpayCheckout
	CancelErr string
}

// OrderNumberForHelp is the number the footer asks the customer to quote.
func (d orderPageData) OrderNumberForHelp() string { return d.Number }

// OrderNumberForHelp is empty: a link that opens nothing names no order.
func (problemPage) OrderNumberForHelp() string { return "" }

// razorpayCheckout is what Razorpay's checkout script needs to take the payment of the gateway order
// and post its callback here.
type razorpayCheckout struct {
	KeyID, OrderID, CallbackURL, Nonce string
	AmountPaise                        int64
}

func (s *Server) handleOrderPage(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return query.ErrLinkInvalid
	}
	token := c.QueryParam("t")
	v, err := s.app.Queries.OrderPage.Handle(c.Request().Context(), query.OrderPage{OrderID: id, Token: token})
	if err != nil {
		return err
	}
	return s.renderOrderPage(c, http.StatusOK, v, token, flashFor(c.QueryParam("done")), "")
}

func (s *Server) renderOrderPage(c echo.Context, status int, v query.OrderPageView, token, flash, cancelErr string) error {
	d := orderPageData{OrderPageView: v, Token: token, Shop: s.opts.Shop, Flash: flash, CancelErr: cancelErr,
		FlashIsBad: flash == flashFor("payment_failed")}
	if v.Payable {
		back := ""
		if s.opts.PaymentReturns != nil {
			back = returnQuery(v.ID, s.opts.PaymentReturns.ReturnToken(v.ID))
		}
		switch v.Payment.Gateway {
		case command.SimulatorGateway:
			if s.opts.Simulator != nil {
				d.PayURL = "/dev/pay/" + url.PathEscape(v.Payment.GatewayOrderID) + back
			}
		default:
			nonce := make([]byte, 16)
			if _, err := rand.Read(nonce); err != nil {
				return fmt.Errorf("order page nonce: %w", err)
			}
			d.Razorpay = &razorpayCheckout{KeyID: s.opts.RazorpayKeyID, OrderID: v.Payment.GatewayOrderID, AmountPaise: v.TotalPaise,
				CallbackURL: s.opts.PublicBaseURL + paymentCallbackPath + back, Nonce: base64.StdEncoding.EncodeToString(nonce)}
			// Razorpay's checkout is its script, which opens its own frame and posts the callback here.
			c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "+
				"script-src 'nonce-"+d.Razorpay.Nonce+"' https://checkout.razorpay.com; frame-src https://api.razorpay.com https://checkout.razorpay.com; "+
				"connect-src https://api.razorpay.com https://lumberjack.razorpay.com; form-action 'self' https://api.razorpay.com; frame-ancestors 'none'; base-uri 'none'")
		}
	}
	return s.renderCustomer(c, status, s.customer.order, d)
}

// returnQuery is the query that brings a customer back to their order after a failed payment: the
// order and a return token (PaymentReturns), which the order page adds to the gateway's callback URL
// (Razorpay keeps its query). Not the link token: the gateway's script and servers see this URL, and
// a return token opens nothing and expires within hours.
func returnQuery(orderID uuid.UUID, returnToken string) string {
	if returnToken == "" {
		return ""
	}
	return "?" + url.Values{"order": {orderID.String()}, "r": {returnToken}}.Encode()
}

// flashFor is the message a redirect after a cancellation or a payment asks for; only these fixed texts are
// shown, so a crafted link cannot put words on the page.
func flashFor(code string) string {
	switch code {
	case "cancelled":
		return "Your order is cancelled."
	case "paid":
		return "Thank you: we have received your payment."
	case "payment_failed":
		return "Your payment did not go through, and nothing was taken from your account. You can try again below."
	case "refunding":
		return "This order could not take your payment, so we are refunding it in full: see Refunds below."
	case "cancelled-refund-later":
		return "Your order is cancelled. The payment gateway did not start your refund just now; we ask it again on our own, and you will get a message when it is done."
	}
	return ""
}

// handleOrderPageCancel cancels the order from its page. The form carries the link's token, which
// only the holder of the message has: a page on another site cannot post it (and its Origin is
// refused too), so the form needs no cookie and no other CSRF value.
func (s *Server) handleOrderPageCancel(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return query.ErrLinkInvalid
	}
	r := c.Request()
	if o := r.Header.Get("Origin"); o != "" && !s.console.ownOrigin(r, o) {
		s.logger.WarnContext(r.Context(), "order page post from another origin refused")
		return apiErr(http.StatusForbidden, "foreign_origin", "", "this form was sent from another site")
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, consoleFormLimit)
	form, err := consoleForm(c)
	if err != nil {
		return err
	}
	token := form.Get("t")
	// Checked first for the friendly answer to an expired or wrong link; the command checks again.
	if _, err := s.app.Queries.OrderPage.Handle(r.Context(), query.OrderPage{OrderID: id, Token: token}); err != nil {
		return err
	}
	reason := strings.TrimSpace(form.Get("reason"))
	_, err = s.app.Commands.CancelOrder.Handle(causation(c, es.Customer("guest")), command.CancelOrder{
		OrderID: id, AccessToken: token, Reason: reason})
	done := "cancelled"
	switch {
	case errors.Is(err, command.ErrRefundFailed):
		// The cancellation is stored; the sweep asks for the refund (a first request: never one
		// handed over to staff).
		done = "cancelled-refund-later"
	case err != nil:
		ae := toAPIError(err)
		if ae.Status >= 500 {
			return err
		}
		v, err := s.app.Queries.OrderPage.Handle(r.Context(), query.OrderPage{OrderID: id, Token: token})
		if err != nil {
			return err
		}
		return s.renderOrderPage(c, ae.Status, v, token, "", sentence(ae.Message))
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+id.String()+"?"+url.Values{"t": {token}, "done": {done}}.Encode())
}

// handleShortLink answers an SMS's short link with a redirect to the page it stands for.
func (s *Server) handleShortLink(review bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		to, err := s.app.Queries.ShortLink.Handle(c.Request().Context(), query.ShortLink{
			Number: c.Param("number"), Token: c.Param("token"), Review: review})
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
}

// statusLabel is a status in a customer's words.
func statusLabel(st any) string {
	switch order.Status(fmt.Sprint(st)) {
	case order.StatusPlaced:
		return "Placed"
	case order.StatusPaid:
		return "Paid"
	case order.StatusConfirmed:
		return "Confirmed"
	case order.StatusShipped:
		return "Shipped"
	case order.StatusOutForDelivery:
		return "Out for delivery"
	case order.StatusDelivered:
		return "Delivered"
	case order.StatusCancelled:
		return "Cancelled"
	case order.StatusRefundPending:
		return "Refund on its way"
	case order.StatusRefunded:
		return "Refunded"
	}
	return fmt.Sprint(st)
}

// displayPhone writes an Indian number the way people read it: +91 98765 43210.
func displayPhone(e164 string) string {
	if len(e164) == 13 && strings.HasPrefix(e164, "+91") {
		return "+91 " + e164[3:8] + " " + e164[8:]
	}
	return e164
}
