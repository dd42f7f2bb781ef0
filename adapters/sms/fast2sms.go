package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/certibuy/orders/domain/notification"
)

// DefaultFast2SMSBaseURL is Fast2SMS's API host.
const DefaultFast2SMSBaseURL = "https://www.fast2sms.com"

// The Fast2SMS routes this client uses.
const (
	// RouteQuick sends Message.Text as it is.
	RouteQuick = "q"
	// RouteDLT sends a template registered on the DLT platform, filled with Message.Vars.
	RouteDLT = "dlt"
)

// Fast2SMSConfig configures the Fast2SMS bulkV2 client.
type Fast2SMSConfig struct {
	APIKey string
	// BaseURL defaults to DefaultFast2SMSBaseURL; tests point it at a fake.
	BaseURL string
	// Route is RouteQuick (the default) or RouteDLT.
	Route string
	// SenderID is the DLT sender id (header); required for RouteDLT.
	SenderID string
	// DLTTemplates maps each notification type to its DLT Message_ID; required per type for RouteDLT.
	DLTTemplates map[notification.Type]string
	// Timeout bounds one call; DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient defaults to a new client with no timeout of its own (Timeout applies).
	HTTPClient *http.Client
}

// String describes the configuration without the API key.
func (c Fast2SMSConfig) String() string {
	return fmt.Sprintf("Fast2SMSConfig{BaseURL: %s, APIKey: %s, Route: %s, SenderID: %s}", c.BaseURL, redact(c.APIKey), c.Route, c.SenderID)
}

// LogValue makes slog print the configuration without the API key.
func (c Fast2SMSConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Fast2SMS sends SMS through Fast2SMS's bulkV2 API. It is safe for concurrent use.
type Fast2SMS struct {
	client
	apiKey   string
	route    string
	senderID string
	dlt      map[notification.Type]string
}

var _ Sender = (*Fast2SMS)(nil)

// NewFast2SMS checks cfg and returns a client.
func NewFast2SMS(cfg Fast2SMSConfig) (*Fast2SMS, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("fast2sms: no API key (FAST2SMS_API_KEY)")
	}
	c, err := newClient("fast2sms", cfg.BaseURL, DefaultFast2SMSBaseURL, "/dev/bulkV2", cfg.Timeout, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	f := &Fast2SMS{client: c, apiKey: cfg.APIKey, route: cfg.Route, senderID: cfg.SenderID, dlt: maps.Clone(cfg.DLTTemplates)}
	switch f.route {
	case "":
		f.route = RouteQuick
	case RouteQuick:
	case RouteDLT:
		if f.senderID == "" {
			return nil, errors.New("fast2sms: route dlt needs a sender id (FAST2SMS_SENDER_ID)")
		}
	default:
		return nil, fmt.Errorf("fast2sms: route %q is not q or dlt", cfg.Route)
	}
	return f, nil
}

// Name is "fast2sms".
func (f *Fast2SMS) Name() string { return ProviderFast2SMS }

// fast2smsReply is Fast2SMS's answer: {"return": true, "request_id": "…", "message": ["…"]} or
// {"return": false, "status_code": 412, "message": "…"}.
type fast2smsReply struct {
	Return     *bool           `json:"return"`
	RequestID  string          `json:"request_id"`
	StatusCode json.RawMessage `json:"status_code"`
	Message    json.RawMessage `json:"message"`
}

// text returns the message as one string, whether Fast2SMS sent a string or a list.
func (r fast2smsReply) text() string {
	var s string
	if json.Unmarshal(r.Message, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(r.Message, &list) == nil {
		return strings.Join(list, "; ")
	}
	return ""
}

// Send posts a JSON body to /dev/bulkV2 with the number as 10 national digits. Route q sends the
// text; route dlt sends the sender id, the DLT Message_ID and the variables as "v1|v2" in VarNames
// order. Success is HTTP 200 with "return": true; "return": false or a non-2xx is a
// *RejectedError carrying Fast2SMS's status_code; a timeout after the request went is an
// *AmbiguousError.
func (f *Fast2SMS) Send(ctx context.Context, msg Message) (Result, error) {
	res := Result{Provider: ProviderFast2SMS}
	fail := func(err error) (Result, error) {
		res.Error = err.Error()
		res.Ambiguous = IsAmbiguous(err)
		res.Refused = IsRefused(err)
		return res, err
	}
	if err := validate(msg); err != nil {
		return fail(err)
	}
	req := map[string]string{"route": f.route, "numbers": msg.To.National(), "flash": "0"}
	switch f.route {
	case RouteQuick:
		if strings.TrimSpace(msg.Text) == "" {
			return fail(fmt.Errorf("%w: no text", ErrInvalidMessage))
		}
		req["message"] = msg.Text
	case RouteDLT:
		id := f.dlt[msg.Type]
		if id == "" {
			return fail(&ConfigError{Provider: ProviderFast2SMS, Err: fmt.Errorf("no DLT template for %s", msg.Type)})
		}
		values := make([]string, 0, len(VarNames(msg.Type)))
		for _, n := range VarNames(msg.Type) {
			// "|" separates the values: one inside a value would shift the rest.
			values = append(values, strings.ReplaceAll(msg.Vars[n], "|", "/"))
		}
		req["sender_id"] = f.senderID
		req["message"] = id
		req["variables_values"] = strings.Join(values, "|")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail(fmt.Errorf("fast2sms: encode request: %w", err))
	}
	h := http.Header{}
	h.Set("authorization", f.apiKey)
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("Cache-Control", "no-cache")
	rep, err := post(ctx, f.http, f.timeout, ProviderFast2SMS, f.url, h, body)
	if err != nil {
		return fail(err)
	}
	res.Response = string(rep.body)

	var r fast2smsReply
	parseErr := json.Unmarshal(rep.body, &r)
	rejected := func() error {
		return &RejectedError{Provider: ProviderFast2SMS, StatusCode: rep.status, Code: jsonCode(r.StatusCode), Message: r.text(), Body: res.Response}
	}
	switch {
	case !ok2xx(rep.status):
		return fail(rejected())
	case rep.readErr != nil:
		return fail(&AmbiguousError{Provider: ProviderFast2SMS, Err: fmt.Errorf("HTTP %d, then reading the answer: %w", rep.status, rep.readErr)})
	case parseErr == nil && r.Return != nil && *r.Return:
		res.RequestID = r.RequestID
		return res, nil
	case parseErr == nil && r.Return != nil && !*r.Return:
		return fail(rejected())
	default:
		return fail(&AmbiguousError{Provider: ProviderFast2SMS, Err: fmt.Errorf("HTTP %d with an answer that is neither success nor failure", rep.status)})
	}
}
