package sms_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/sms"
	"github.com/certibuy/orders/adapters/sms/smstest"
	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
)

const (
	msg91Key    = "msg91-test-authkey"
	fast2smsKey = "fast2sms-test-key"
)

var msg91Templates = map[notification.Type]string{
	notification.PaymentSuccessful: "65f1a2b3c4d5e6f7a8b9c0d1",
	notification.OrderShipped:      "65f1a2b3c4d5e6f7a8b9c0d3",
}

func phone(t *testing.T) order.Phone {
	t.Helper()
	p, err := order.NewPhone("+91 98765 43210")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func data() notification.MessageData {
	d := templates.SampleData()
	d.CustomerName = "Asha Rao"
	d.OrderNumber = "CB-7K3M9Q2X"
	d.TotalDigits = "1,29,900.00"
	d.PaymentID = "pay_29QQoUBi66xm2f"
	return d
}

func message(t *testing.T, typ notification.Type) sms.Message {
	t.Helper()
	r, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	text, err := r.SMS(typ, data())
	if err != nil {
		t.Fatal(err)
	}
	return sms.Message{To: phone(t), Type: typ, Text: text, Vars: sms.VarsFor(typ, data())}
}

func newMSG91(t *testing.T, base string, timeout time.Duration) *sms.MSG91 {
	t.Helper()
	c, err := sms.NewMSG91(sms.MSG91Config{AuthKey: msg91Key, BaseURL: base, Templates: msg91Templates, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFast2SMS(t *testing.T, cfg sms.Fast2SMSConfig) *sms.Fast2SMS {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = fast2smsKey
	}
	c, err := sms.NewFast2SMS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVarsFor(t *testing.T) {
	d := data()
	d.CustomerName = "K. Srinivasan"
	d.RefundDigits = "2,500.00"
	d.RefundExpectation = "5–7 working days"
	d.Carrier = "Blue Dart"
	d.TrackingID = "BD77120938IN"
	d.SMSOrderURL = "https://s.certibuy.in/o/CB-7K3M9Q2X/AAdWkF3sYq2Pz0cX"
	d.SMSReviewURL = "https://s.certibuy.in/r/CB-7K3M9Q2X/AAdWkF3sYq2Pz0cX"
	for typ, want := range map[notification.Type]map[string]string{
		notification.PaymentSuccessful: {"name": "Srinivasan", "order": "CB-7K3M9Q2X", "amount": "1,29,900.00", "payment": "pay_29QQoUBi66xm2f"},
		notification.OrderConfirmed:    {"name": "Srinivasan", "order": "CB-7K3M9Q2X", "amount": "1,29,900.00", "link": "https://s.certibuy.in/o/CB-7K3M9Q2X/AAdWkF3sYq2Pz0cX"},
		notification.OrderShipped:      {"name": "Srinivasan", "order": "CB-7K3M9Q2X", "carrier": "Blue Dart", "tracking": "BD77120938IN"},
		notification.OutForDelivery:    {"name": "Srinivasan", "order": "CB-7K3M9Q2X"},
		notification.OrderDelivered:    {"name": "Srinivasan", "order": "CB-7K3M9Q2X", "review": "https://s.certibuy.in/r/CB-7K3M9Q2X/AAdWkF3sYq2Pz0cX"},
		notification.RefundProcessed:   {"name": "Srinivasan", "order": "CB-7K3M9Q2X", "amount": "2,500.00", "days": "5-7 working days"},
		notification.OrderCancelled:    {"name": "Srinivasan", "order": "CB-7K3M9Q2X", "refund": "Rs 2,500.00 will be refunded in 5-7 working days."},
	} {
		got := sms.VarsFor(typ, d)
		if !maps.Equal(got, want) {
			t.Errorf("VarsFor(%s) = %v, want %v", typ, got, want)
		}
		if len(sms.VarNames(typ)) != len(want) {
			t.Errorf("VarNames(%s) = %v", typ, sms.VarNames(typ))
		}
	}
	if sms.VarsFor("parcel_lost", d) != nil {
		t.Error("VarsFor made variables for an unknown type")
	}
}

// TestEveryCatalogueVariableHasAValue fails for a catalogue row whose SMS variables VarsFor cannot
// fill: a registered template would go out with a blank.
func TestEveryCatalogueVariableHasAValue(t *testing.T) {
	d := templates.SampleData()
	for _, k := range notification.Catalogue() {
		vars := sms.VarsFor(k.Type, d)
		if len(vars) != len(k.SMSVars) {
			t.Errorf("%s: VarsFor = %v for variables %v", k.Type, vars, k.SMSVars)
		}
		for _, v := range k.SMSVars {
			if vars[string(v)] == "" {
				t.Errorf("%s: no value for %q with the sample data", k.Type, v)
			}
		}
		if !slices.Equal(sms.VarNames(k.Type), func() []string {
			var names []string
			for _, v := range k.SMSVars {
				names = append(names, string(v))
			}
			return names
		}()) {
			t.Errorf("%s: VarNames = %v, catalogue %v", k.Type, sms.VarNames(k.Type), k.SMSVars)
		}
	}
}

// TestTheCancellationsRefundVariableSaysWhatTheSMSSays: one MSG91 template serves paid and unpaid
// cancellations through the "refund" sentence, which must be the words of our own SMS.
func TestTheCancellationsRefundVariableSaysWhatTheSMSSays(t *testing.T) {
	r, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	k, _ := notification.KindOf(notification.OrderCancelled)
	paid := k.Keep(notification.SMS, data())
	paid.RefundAmount, paid.RefundDigits, paid.RefundExpectation = "₹1,29,900.00", "1,29,900.00", "5–7 working days"
	unpaid := paid
	unpaid.RefundAmount, unpaid.RefundDigits = "", ""
	for name, d := range map[string]notification.MessageData{"paid": paid, "unpaid": unpaid} {
		text, err := r.SMS(notification.OrderCancelled, d)
		if err != nil {
			t.Fatal(err)
		}
		refund := sms.VarsFor(notification.OrderCancelled, d)["refund"]
		if !strings.HasSuffix(text, " "+refund) {
			t.Errorf("%s: the SMS %q does not end with the variable %q", name, text, refund)
		}
	}
	if got := sms.VarsFor(notification.OrderCancelled, unpaid)["refund"]; strings.Contains(got, "Rs") || strings.Contains(got, "will be refunded") {
		t.Errorf("unpaid: %q promises a refund", got)
	}
}

func TestMSG91RequestShape(t *testing.T) {
	fake := smstest.NewMSG91(t, msg91Key)
	c := newMSG91(t, fake.URL(), 0)
	msg := message(t, notification.PaymentSuccessful)
	msg.Reference = "0193a0f4-5b6c-7d8e-9f00-112233445566-sms.2"
	res, err := c.Send(context.Background(), msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := fake.Received()
	if len(got) != 1 {
		t.Fatalf("fake received %d requests", len(got))
	}
	r := got[0]
	if r.AuthKey != msg91Key || r.ContentType != "application/json" {
		t.Errorf("headers authkey=%q content-type=%q", r.AuthKey, r.ContentType)
	}
	if r.TemplateID != "65f1a2b3c4d5e6f7a8b9c0d1" || r.ShortURL != "0" || r.Recipients != 1 {
		t.Errorf("template_id=%q short_url=%q recipients=%d", r.TemplateID, r.ShortURL, r.Recipients)
	}
	if r.Mobiles != "919876543210" {
		t.Errorf("mobiles = %q, want 919876543210", r.Mobiles)
	}
	if r.CRQID != msg.Reference {
		t.Errorf("CRQID = %q, want the notification and attempt %q", r.CRQID, msg.Reference)
	}
	want := map[string]string{"name": "Asha", "order": "CB-7K3M9Q2X", "amount": "1,29,900.00", "payment": "pay_29QQoUBi66xm2f"}
	if !maps.Equal(r.Vars, want) {
		t.Errorf("vars = %v, want %v", r.Vars, want)
	}
	if res.Provider != "msg91" || res.RequestID != r.RequestID || len(res.RequestID) != 24 || res.Response != r.Response || res.Ambiguous || res.Error != "" {
		t.Errorf("Result = %+v, fake answered %s", res, r.Response)
	}
	if !strings.Contains(res.Response, `"type":"success"`) {
		t.Errorf("Response %q is not the raw body", res.Response)
	}
}

func TestMSG91Rejections(t *testing.T) {
	for _, c := range []struct {
		name       string
		key        string
		status     int
		body       string
		wantStatus int
		wantCode   string
		wantMsg    string
		permanent  bool
	}{
		{name: "wrong authkey", key: "wrong-key", wantStatus: 401, wantCode: "401", wantMsg: "Invalid authkey", permanent: true},
		{name: "server error", status: 500, body: `{"type":"error","message":"Internal Server Error","code":"500"}`, wantStatus: 500, wantCode: "500", wantMsg: "Internal Server Error"},
		{name: "200 that says error", status: 200, body: `{"type":"error","message":"Insufficient balance","code":"302"}`, wantStatus: 200, wantCode: "302", wantMsg: "Insufficient balance"},
		{name: "numeric code", status: 400, body: `{"type":"error","message":"Template not approved","code":418}`, wantStatus: 400, wantCode: "418", wantMsg: "Template not approved", permanent: true},
		{name: "gateway page", status: 502, body: `<html><body>502 Bad Gateway</body></html>`, wantStatus: 502},
		{name: "rate limited", status: 429, body: `{"type":"error","message":"Too many requests","code":"429"}`, wantStatus: 429, wantCode: "429", wantMsg: "Too many requests"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := smstest.NewMSG91(t, msg91Key)
			key := msg91Key
			if c.key != "" {
				key = c.key
			}
			if c.status != 0 {
				fake.FailNext(1, c.status, c.body)
			}
			client, err := sms.NewMSG91(sms.MSG91Config{AuthKey: key, BaseURL: fake.URL(), Templates: msg91Templates})
			if err != nil {
				t.Fatal(err)
			}
			res, err := client.Send(context.Background(), message(t, notification.PaymentSuccessful))
			var rej *sms.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("err = %v, want a RejectedError", err)
			}
			if rej.Provider != "msg91" || rej.StatusCode != c.wantStatus || rej.Code != c.wantCode || rej.Message != c.wantMsg {
				t.Errorf("RejectedError = %+v", rej)
			}
			if rej.Permanent() != c.permanent {
				t.Errorf("Permanent() = %v, want %v", rej.Permanent(), c.permanent)
			}
			answered := fake.Received()[0].Response
			if rej.Body != answered || res.Response != answered {
				t.Errorf("raw body not kept: error %q, result %q, fake said %q", rej.Body, res.Response, answered)
			}
			if !sms.NotSent(err) || sms.IsAmbiguous(err) || res.Ambiguous || res.Error == "" {
				t.Errorf("classification: NotSent=%v ambiguous=%v result=%+v", sms.NotSent(err), sms.IsAmbiguous(err), res)
			}
		})
	}
}

func TestMSG91UnclearAnswerIsAmbiguous(t *testing.T) {
	fake := smstest.NewMSG91(t, msg91Key)
	fake.FailNext(1, 200, `<html>OK</html>`)
	res, err := newMSG91(t, fake.URL(), 0).Send(context.Background(), message(t, notification.PaymentSuccessful))
	if !sms.IsAmbiguous(err) || sms.NotSent(err) || !res.Ambiguous || res.Response != "<html>OK</html>" {
		t.Errorf("err = %v, result %+v; want ambiguous with the body kept", err, res)
	}
}

func TestMSG91TimeoutIsAmbiguous(t *testing.T) {
	fake := smstest.NewMSG91(t, msg91Key)
	fake.Delay(3 * time.Second)
	start := time.Now()
	res, err := newMSG91(t, fake.URL(), 200*time.Millisecond).Send(context.Background(), message(t, notification.PaymentSuccessful))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Send took %s with a 200ms timeout", took)
	}
	var amb *sms.AmbiguousError
	if !errors.As(err, &amb) || amb.Provider != "msg91" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want an AmbiguousError for a deadline", err)
	}
	if !res.Ambiguous || res.Provider != "msg91" || sms.NotSent(err) {
		t.Errorf("result %+v", res)
	}
	// The fake got the request and accepted it: the SMS went although the client cannot know.
	if got := fake.Received(); len(got) != 1 || got[0].Status != 200 {
		t.Errorf("fake received %+v", got)
	}
}

func TestMSG91MissingTemplateSendsNothing(t *testing.T) {
	fake := smstest.NewMSG91(t, msg91Key)
	_, err := newMSG91(t, fake.URL(), 0).Send(context.Background(), message(t, notification.OrderDelivered))
	var cfg *sms.ConfigError
	if !errors.As(err, &cfg) || !strings.Contains(err.Error(), "MSG91_TEMPLATE_ORDER_DELIVERED") {
		t.Errorf("err = %v, want a ConfigError naming the setting", err)
	}
	if !sms.NotSent(err) || !sms.IsPermanent(err) {
		t.Errorf("a missing template should be not-sent and permanent")
	}
	if n := len(fake.Received()); n != 0 {
		t.Errorf("fake received %d requests", n)
	}
}

func TestUnreachableProviderIsNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	_, err = newMSG91(t, base, time.Second).Send(context.Background(), message(t, notification.PaymentSuccessful))
	var un *sms.UnreachableError
	if !errors.As(err, &un) || !sms.NotSent(err) || sms.IsAmbiguous(err) {
		t.Errorf("err = %v, want an UnreachableError", err)
	}
}

func TestCancelledContextTriesNothing(t *testing.T) {
	fake := smstest.NewMSG91(t, msg91Key)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newMSG91(t, fake.URL(), 0).Send(ctx, message(t, notification.PaymentSuccessful))
	if !errors.Is(err, context.Canceled) || sms.NotSent(err) || sms.IsAmbiguous(err) {
		t.Errorf("err = %v", err)
	}
}

func TestFast2SMSQuickRoute(t *testing.T) {
	fake := smstest.NewFast2SMS(t, fast2smsKey)
	c := newFast2SMS(t, sms.Fast2SMSConfig{BaseURL: fake.URL()})
	m := message(t, notification.PaymentSuccessful)
	res, err := c.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := fake.Received()
	if len(got) != 1 {
		t.Fatalf("fake received %d requests", len(got))
	}
	r := got[0]
	if r.Authorization != fast2smsKey {
		t.Errorf("authorization header %q", r.Authorization)
	}
	if r.Route != "q" || r.Flash != "0" || len(r.Numbers) != 1 || r.Numbers[0] != "9876543210" {
		t.Errorf("route=%q flash=%q numbers=%v, want q, 0, [9876543210]", r.Route, r.Flash, r.Numbers)
	}
	if r.Message != m.Text || !strings.Contains(r.Message, "Rs 1,29,900.00") {
		t.Errorf("message = %q, want the rendered text %q", r.Message, m.Text)
	}
	if strings.Contains(r.Body, "+91") || strings.Contains(r.Body, "919876543210") {
		t.Errorf("body carries the number with its country code: %s", r.Body)
	}
	if res.Provider != "fast2sms" || res.RequestID != r.RequestID || res.RequestID == "" || res.Response != r.Response {
		t.Errorf("Result = %+v", res)
	}
}

func TestFast2SMSDLTRoute(t *testing.T) {
	fake := smstest.NewFast2SMS(t, fast2smsKey)
	c := newFast2SMS(t, sms.Fast2SMSConfig{
		BaseURL: fake.URL(), Route: "dlt", SenderID: "CRTBUY",
		DLTTemplates: map[notification.Type]string{notification.PaymentSuccessful: "171234"},
	})
	m := message(t, notification.PaymentSuccessful)
	m.Vars["payment"] = "pay|X" // a "|" would shift the values after it
	if _, err := c.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := fake.Received()[0]
	if r.Route != "dlt" || r.SenderID != "CRTBUY" || r.Message != "171234" || r.Numbers[0] != "9876543210" {
		t.Errorf("request %+v", r)
	}
	if r.VariablesValues != "Asha|CB-7K3M9Q2X|1,29,900.00|pay/X" {
		t.Errorf("variables_values = %q", r.VariablesValues)
	}
	_, err := c.Send(context.Background(), message(t, notification.OrderShipped))
	var cfg *sms.ConfigError
	if !errors.As(err, &cfg) || len(fake.Received()) != 1 {
		t.Errorf("no DLT template: err = %v, %d requests", err, len(fake.Received()))
	}
}

func TestFast2SMSConfigChecks(t *testing.T) {
	for name, cfg := range map[string]sms.Fast2SMSConfig{
		"no key":             {},
		"otp route":          {APIKey: "k", Route: "otp"},
		"dlt without sender": {APIKey: "k", Route: "dlt"},
		"bad base URL":       {APIKey: "k", BaseURL: "www.fast2sms.com"},
	} {
		if _, err := sms.NewFast2SMS(cfg); err == nil {
			t.Errorf("%s: NewFast2SMS accepted it", name)
		}
	}
}

func TestFast2SMSRejections(t *testing.T) {
	for _, c := range []struct {
		name      string
		key       string
		status    int
		body      string
		wantHTTP  int
		wantCode  string
		wantMsg   string
		permanent bool
		spam      bool
	}{
		{name: "wrong key", key: "nope", wantHTTP: 401, wantCode: "412", wantMsg: "Invalid Authentication, Check Authorization Key", permanent: true},
		{name: "key disabled", status: 401, body: `{"return":false,"status_code":413,"message":"Invalid Authentication, Authorization Key Disabled"}`, wantHTTP: 401, wantCode: "413", wantMsg: "Invalid Authentication, Authorization Key Disabled", permanent: true},
		{name: "no balance", status: 400, body: `{"return":false,"status_code":416,"message":"You don't have sufficient wallet balance"}`, wantHTTP: 400, wantCode: "416", wantMsg: "You don't have sufficient wallet balance", permanent: true},
		{name: "500 code", status: 400, body: `{"return":false,"status_code":500,"message":"Server error"}`, wantHTTP: 400, wantCode: "500", wantMsg: "Server error", permanent: true},
		{name: "999", status: 400, body: `{"return":false,"status_code":999,"message":"Complete single transaction of minimum 100 INR in Fast2SMS wallet before using API"}`, wantHTTP: 400, wantCode: "999", wantMsg: "Complete single transaction of minimum 100 INR in Fast2SMS wallet before using API", permanent: true},
		{name: "spam", status: 400, body: `{"return":false,"status_code":995,"message":"Spamming detected"}`, wantHTTP: 400, wantCode: "995", wantMsg: "Spamming detected", spam: true},
		{name: "invalid numbers", status: 400, body: `{"return":false,"status_code":411,"message":"Invalid Numbers"}`, wantHTTP: 400, wantCode: "411", wantMsg: "Invalid Numbers"},
		{name: "200 with return false", status: 200, body: `{"return":false,"status_code":407,"message":"Invalid words used in message"}`, wantHTTP: 200, wantCode: "407", wantMsg: "Invalid words used in message"},
		{name: "bare 503", status: 503, body: `Service Unavailable`, wantHTTP: 503},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := smstest.NewFast2SMS(t, fast2smsKey)
			if c.status != 0 {
				fake.FailNext(1, c.status, c.body)
			}
			client := newFast2SMS(t, sms.Fast2SMSConfig{APIKey: c.key, BaseURL: fake.URL()})
			res, err := client.Send(context.Background(), message(t, notification.PaymentSuccessful))
			var rej *sms.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("err = %v, want a RejectedError", err)
			}
			if rej.Provider != "fast2sms" || rej.StatusCode != c.wantHTTP || rej.Code != c.wantCode || rej.Message != c.wantMsg {
				t.Errorf("RejectedError = %+v", rej)
			}
			if rej.Permanent() != c.permanent || sms.IsPermanent(err) != c.permanent || rej.SpamDetected() != c.spam {
				t.Errorf("Permanent=%v SpamDetected=%v, want %v %v", rej.Permanent(), rej.SpamDetected(), c.permanent, c.spam)
			}
			if answered := fake.Received()[0].Response; rej.Body != answered || res.Response != answered {
				t.Errorf("raw body not kept: %q / %q, fake said %q", rej.Body, res.Response, answered)
			}
		})
	}
}

func TestFast2SMSTimeoutIsAmbiguous(t *testing.T) {
	fake := smstest.NewFast2SMS(t, fast2smsKey)
	fake.Delay(3 * time.Second)
	res, err := newFast2SMS(t, sms.Fast2SMSConfig{BaseURL: fake.URL(), Timeout: 200 * time.Millisecond}).Send(context.Background(), message(t, notification.OrderShipped))
	if !sms.IsAmbiguous(err) || !res.Ambiguous || res.Provider != "fast2sms" {
		t.Errorf("err = %v, result %+v; want ambiguous", err, res)
	}
}

func TestLogSenderMasksTheNumber(t *testing.T) {
	var out bytes.Buffer
	l := sms.NewLogSender(slog.New(slog.NewJSONHandler(&out, nil)))
	m := message(t, notification.OrderShipped)
	res, err := l.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	logged := out.String() + res.Response
	for _, full := range []string{"9876543210", "919876543210", "+919876543210"} {
		if strings.Contains(logged, full) {
			t.Errorf("log carries the full number %s: %s", full, logged)
		}
	}
	if !strings.Contains(out.String(), `"to":"*********3210"`) {
		t.Errorf("log lacks the masked number: %s", out.String())
	}
	if !strings.Contains(out.String(), "CB-7K3M9Q2X has shipped") || !strings.Contains(out.String(), `"parts":1`) {
		t.Errorf("log lacks the text or its part count: %s", out.String())
	}
	if res.Provider != "log" || !strings.HasPrefix(res.RequestID, "log-") || !strings.Contains(out.String(), res.RequestID) {
		t.Errorf("Result = %+v", res)
	}
}

// TestLogSenderLogsNoLinkToken: a link's token opens the order, and tokens never go into a log.
func TestLogSenderLogsNoLinkToken(t *testing.T) {
	var out bytes.Buffer
	l := sms.NewLogSender(slog.New(slog.NewJSONHandler(&out, nil)))
	m := message(t, notification.OrderConfirmed)
	m.Text = "CertiBuy: Hi Asha, order CB-7K3M9Q2X of Rs 1,299.00 is confirmed: https://s.certibuy.in/o/CB-7K3M9Q2X/AAdWkF3sYq2Pz0cX"
	if _, err := l.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "AAdWkF3sYq2Pz0cX") {
		t.Errorf("the log holds the token: %s", out.String())
	}
	if !strings.Contains(out.String(), "is confirmed: https://s.certibuy.in/…") || !strings.Contains(out.String(), `"length":118`) {
		t.Errorf("the log should show where the link goes and the real length: %s", out.String())
	}
}

func TestErrorsNeverShowSecretsOrNumbers(t *testing.T) {
	fake := smstest.NewMSG91(t, msg91Key)
	// A provider that echoes the number back in its message.
	fake.FailNext(1, 400, `{"type":"error","message":"Mobile 919876543210 is in DND","code":"400"}`)
	_, err := newMSG91(t, fake.URL(), 0).Send(context.Background(), message(t, notification.PaymentSuccessful))
	if err == nil || strings.Contains(err.Error(), "9876543210") || !strings.Contains(err.Error(), "********3210") {
		t.Errorf("error text %q should mask the echoed number", err)
	}
	for _, s := range []string{
		sms.MSG91Config{AuthKey: msg91Key}.String(),
		sms.Fast2SMSConfig{APIKey: fast2smsKey}.String(),
	} {
		if strings.Contains(s, msg91Key) || strings.Contains(s, fast2smsKey) || !strings.Contains(s, "(set)") {
			t.Errorf("config text %q", s)
		}
	}
}
