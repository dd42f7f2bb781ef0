package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/certibuy/orders/adapters/razorpay"
)

// queryNames are the query parameters routes read, and one no route reads.
var queryNames = []string{"status", "q", "from", "to", "after", "limit", "type", "actor", "stream", "correlation_id",
	"order", "as_of", "channel", "event_type", "next", "msg", "zz"}

// formNames are the fields the console's forms and the browser's payment callback post.
var formNames = []string{"email", "password", "next", "carrier", "carrier_name", "tracking_id", "expected_version", "back", "reason",
	"razorpay_order_id", "razorpay_payment_id", "razorpay_signature"}

// paramWalk is an admin with a token and a console session, walking the route table.
type paramWalk struct {
	t       *testing.T
	s       *testService
	cc      *consoleClient
	token   string
	csrf    string
	orderID string
}

func newParamWalk(t *testing.T) *paramWalk {
	s := startService(t, map[string]string{"CHECKOUT_RATE_PER_MINUTE": "0", "LOGIN_RATE_PER_MINUTE": "0"})
	o := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil).json(t)
	createAdmin(t, s, "ops@certibuy.in")
	token, _, err := s.deps.App.Admins.CreateToken(context.Background(), "ops@certibuy.in", "walk", 0)
	if err != nil {
		t.Fatal(err)
	}
	cc := newConsoleClient(t, s)
	if res := cc.post("/admin/login", url.Values{"email": {"ops@certibuy.in"}, "password": {consolePassword}}, nil); res.status != http.StatusSeeOther {
		t.Fatalf("login: %d", res.status)
	}
	cc.cookie = &http.Cookie{Name: cc.lastSet.Name, Value: cc.lastSet.Value}
	w := &paramWalk{t: t, s: s, cc: cc, token: token, orderID: o["order_id"].(string)}
	w.csrf = csrfOf(t, cc.get("/admin/orders/"+w.orderID))
	return w
}

// send asks as the admin, with the token and the session; a console post carries the csrf value.
func (w *paramWalk) send(method, path string, form url.Values) response {
	w.t.Helper()
	if method == echo.RouteNotFound {
		method = http.MethodGet
	}
	header := map[string]string{"Authorization": "Bearer " + w.token}
	if method == http.MethodPost && form == nil {
		form = url.Values{}
	}
	if form != nil {
		form.Set("csrf", w.csrf)
	}
	if method == http.MethodGet {
		form = nil
	}
	return w.cc.send(method, path, form, header)
}

// wantRefused wants a 400 naming param: JSON {"error": {"field": param}} from the API, an error page
// saying it from the console.
func (w *paramWalk) wantRefused(what string, res response, param string) {
	w.t.Helper()
	if res.status != http.StatusBadRequest {
		w.t.Errorf("%s: %d, want 400: %.300s", what, res.status, res.body)
		return
	}
	if strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		if !strings.Contains(string(res.body), `id="error"`) || !strings.Contains(string(res.body), param+" ") {
			w.t.Errorf("%s: the page does not name %s: %s", what, param, res.body)
		}
		return
	}
	if _, field, _ := apiError(w.t, res); field != param {
		w.t.Errorf("%s: field %q, want %q: %s", what, field, param, res.body)
	}
}

// Every parameter of every route, and every path segment, with a NUL or a byte that is not UTF-8, or
// given twice: never a 5xx, and a parameter is a 400 naming it (a console page under /admin, JSON
// elsewhere).
func TestEveryRouteRefusesANULBadUTF8OrARepeatInAnyParameter(t *testing.T) {
	t.Parallel()
	w := newParamWalk(t)
	routes := w.s.api.Echo().Routes()
	if len(routes) < 30 {
		t.Fatalf("the route table has %d routes", len(routes))
	}
	for _, r := range routes {
		if r.Method == http.MethodHead {
			continue // the GET route's handler; its answer has no body to read
		}
		segments := strings.Split(r.Path, "/")
		valid := make([]string, len(segments))
		for i, seg := range segments {
			switch {
			case seg == ":id" && strings.Contains(r.Path, "notifications"):
				valid[i] = "notification-x"
			case seg == ":id":
				valid[i] = w.orderID
			case strings.HasPrefix(seg, ":") || seg == "*":
				valid[i] = "x"
			default:
				valid[i] = seg
			}
		}
		isConsole := r.Path == "/admin" || strings.HasPrefix(r.Path, "/admin/")
		for _, bad := range []struct{ escaped, raw string }{{"%00", "\x00"}, {"%ff", "\xff"}} {
			// A path parameter; a static segment (another route, or none).
			for i, seg := range segments {
				if seg == "" {
					continue
				}
				path := slicesWith(valid, i, valid[i]+bad.escaped)
				res := w.send(r.Method, path, nil)
				switch {
				case strings.HasPrefix(seg, ":"):
					w.wantRefused(r.Method+" "+path, res, strings.TrimPrefix(seg, ":"))
				case seg == "*":
					w.wantRefused(r.Method+" "+path, res, "path")
				case res.status >= 500:
					t.Errorf("%s %s: %d", r.Method, path, res.status)
				}
			}
			// Every query parameter.
			for _, q := range queryNames {
				path := strings.Join(valid, "/") + "?" + q + "=a" + bad.escaped
				w.wantRefused(r.Method+" "+path, w.send(r.Method, path, nil), q)
			}
			// Every form field a console page or the payment callback posts.
			if r.Method == http.MethodPost && (isConsole || r.Path == "/api/v1/payments/razorpay/callback") {
				for _, f := range formNames {
					res := w.send(r.Method, strings.Join(valid, "/"), url.Values{f: {"a" + bad.raw}})
					w.wantRefused(r.Method+" "+r.Path+" form "+f, res, f)
				}
			}
		}
	}
	// A query parameter or a form field given twice: the reader would take the first.
	for _, r := range routes {
		if r.Method == http.MethodHead {
			continue
		}
		path := strings.NewReplacer(":id", w.orderID, ":", "", "*", "x").Replace(r.Path)
		for _, q := range queryNames {
			w.wantRefused(r.Method+" "+path+" "+q+" twice", w.send(r.Method, path+"?"+q+"=a&"+q+"=b", nil), q)
		}
		if r.Method == http.MethodPost && (strings.HasPrefix(r.Path, "/admin") || r.Path == "/api/v1/payments/razorpay/callback") {
			for _, f := range formNames {
				w.wantRefused(r.Method+" "+r.Path+" form "+f+" twice", w.send(r.Method, path, url.Values{f: {"a", "b"}}), f)
			}
		}
	}
	// The examples, one by one.
	for path, param := range map[string]string{
		"/api/v1/admin/audit/events?actor=%00":          "actor",
		"/api/v1/admin/audit/events?type=%00":           "type",
		"/api/v1/admin/audit/events?stream=%ff":         "stream",
		"/api/v1/admin/audit/events?correlation_id=%00": "correlation_id",
		"/api/v1/admin/notifications?event_type=%00":    "event_type",
		"/admin/audit?actor=%00":                        "actor",
	} {
		w.wantRefused(path, w.send(http.MethodGet, path, nil), param)
	}
	w.wantRefused("resend notification-%00", w.send(http.MethodPost, "/api/v1/admin/notifications/notification-%00/resend", nil), "id")
	page := w.send(http.MethodGet, "/admin/audit?actor=%00", nil)
	if !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || page.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("the console's refusal is not one of its pages: %v", page.header)
	}
	if n := w.s.count(t, `SELECT count(*) FROM events WHERE type <> 'order.placed.v1' AND type <> 'order.payment_requested.v1'`); n != 0 {
		t.Fatalf("refused requests appended %d events", n)
	}
}

// slicesWith joins segments as a path, with segment i replaced by v.
func slicesWith(segments []string, i int, v string) string {
	out := append([]string(nil), segments...)
	out[i] = v
	return strings.Join(out, "/")
}

// The webhook's delivery id is a header the signature does not cover, and it is stored: a byte that
// is not UTF-8 in it was a 500.
func TestAWebhookDeliveryIDMustBeText(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	gw := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil).json(t)["payment"].(map[string]any)["gateway_order_id"].(string)
	body := []byte(`{"entity":"event","event":"payment.failed","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_1","amount":129900,"order_id":"` + gw + `","error_code":"BAD_REQUEST_ERROR"}}}}`)
	sig := razorpay.SignWebhook(razorpay.SimulatorWebhookSecret, body)
	res := s.do(t, "POST", "/api/v1/webhooks/razorpay", body, map[string]string{"X-Razorpay-Signature": sig, "X-Razorpay-Event-Id": "evt_\xff"})
	if _, field, _ := apiError(t, res); res.status != http.StatusBadRequest || field != "X-Razorpay-Event-Id" {
		t.Fatalf("a delivery id with a byte that is not UTF-8: %d %s", res.status, res.body)
	}
	if res := s.do(t, "POST", "/api/v1/webhooks/razorpay", body, map[string]string{"X-Razorpay-Signature": sig, "X-Razorpay-Event-Id": "evt_1"}); res.status != http.StatusOK {
		t.Fatalf("a plain delivery id: %d %s", res.status, res.body)
	}
}
