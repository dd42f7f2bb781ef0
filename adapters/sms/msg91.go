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

// DefaultMSG91BaseURL is MSG91's API host.
const DefaultMSG91BaseURL = "https://control.msg91.com"

// MSG91Config configures the MSG91 Flow API client.
type MSG91Config struct {
	AuthKey string
	// BaseURL defaults to DefaultMSG91BaseURL; tests point it at a fake.
	BaseURL string
	// Templates maps each notification type to its MSG91 template id (MSG91_TEMPLATE_<TYPE>). A
	// type without one is not sent through MSG91 (a *ConfigError, so a Fallback moves on).
	Templates map[notification.Type]string
	// Timeout bounds one call; DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient defaults to a new client with no timeout of its own (Timeout applies).
	HTTPClient *http.Client
}

// String describes the configuration without the auth key.
func (c MSG91Config) String() string {
	return fmt.Sprintf("MSG91Config{BaseURL: %s, AuthKey: %s, Templates: %d}", c.BaseURL, redact(c.AuthKey), len(c.Templates))
}

// LogValue makes slog print the configuration without the auth key.
func (c MSG91Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redact says whether a secret is set without showing it.
func redact(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "(set)"
}

// MSG91 sends SMS through MSG91's Flow API: the text is MSG91's registered template, filled in with
// Message.Vars. It is safe for concurrent use.
type MSG91 struct {
	client
	authKey   string
	templates map[notification.Type]string
}

var _ Sender = (*MSG91)(nil)

// NewMSG91 checks cfg and returns a client.
func NewMSG91(cfg MSG91Config) (*MSG91, error) {
	if strings.TrimSpace(cfg.AuthKey) == "" {
		return nil, errors.New("msg91: no auth key (MSG91_AUTHKEY)")
	}
	c, err := newClient("msg91", cfg.BaseURL, DefaultMSG91BaseURL, "/api/v5/flow", cfg.Timeout, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &MSG91{client: c, authKey: cfg.AuthKey, templates: maps.Clone(cfg.Templates)}, nil
}

// Name is "msg91".
func (m *MSG91) Name() string { return ProviderMSG91 }

// msg91Reply is MSG91's answer: {"type": "success", "message": "<request id>"} or {"type": "error",
// "message": "…", "code": "…"} (code is sometimes a number).
type msg91Reply struct {
	Type    string          `json:"type"`
	Message string          `json:"message"`
	Code    json.RawMessage `json:"code"`
}

// Send posts {"template_id", "short_url": "0", "recipients": [{"mobiles": "91…", <vars>}]}.
// Success is a 2xx with type "success"; a non-2xx or type "error" is a *RejectedError; a timeout
// after the request went, or a 2xx body that says neither, is an *AmbiguousError.
func (m *MSG91) Send(ctx context.Context, msg Message) (Result, error) {
	res := Result{Provider: ProviderMSG91}
	fail := func(err error) (Result, error) {
		res.Error = err.Error()
		res.Ambiguous = IsAmbiguous(err)
		res.Refused = IsRefused(err)
		return res, err
	}
	if err := validate(msg); err != nil {
		return fail(err)
	}
	tpl := m.templates[msg.Type]
	if tpl == "" {
		return fail(&ConfigError{Provider: ProviderMSG91, Err: fmt.Errorf("no template id for %s (set MSG91_TEMPLATE_%s)", msg.Type, strings.ToUpper(string(msg.Type)))})
	}
	recipient := make(map[string]string, len(msg.Vars)+1)
	maps.Copy(recipient, msg.Vars)
	recipient["mobiles"] = msg.To.WithCountryCode()
	req := map[string]any{
		"template_id": tpl,
		"short_url":   "0", // our links are already short, and MSG91's shortener would change them
		"recipients":  []map[string]string{recipient},
	}
	if ref := clientReference(msg.Reference); ref != "" {
		req["CRQID"] = ref // comes back in every delivery report
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail(fmt.Errorf("msg91: encode request: %w", err))
	}
	h := http.Header{}
	h.Set("authkey", m.authKey)
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	rep, err := post(ctx, m.http, m.timeout, ProviderMSG91, m.url, h, body)
	if err != nil {
		return fail(err)
	}
	res.Response = string(rep.body)

	var r msg91Reply
	parseErr := json.Unmarshal(rep.body, &r)
	switch {
	case !ok2xx(rep.status):
		return fail(&RejectedError{Provider: ProviderMSG91, StatusCode: rep.status, Code: jsonCode(r.Code), Message: r.Message, Body: res.Response})
	case rep.readErr != nil:
		return fail(&AmbiguousError{Provider: ProviderMSG91, Err: fmt.Errorf("HTTP %d, then reading the answer: %w", rep.status, rep.readErr)})
	case parseErr == nil && r.Type == "success":
		res.RequestID = r.Message
		return res, nil
	case parseErr == nil && r.Type == "error":
		return fail(&RejectedError{Provider: ProviderMSG91, StatusCode: rep.status, Code: jsonCode(r.Code), Message: r.Message, Body: res.Response})
	default:
		// A 2xx that neither confirms nor refuses: the Fallback rule allows no switch, since MSG91
		// may have taken it.
		return fail(&AmbiguousError{Provider: ProviderMSG91, Err: fmt.Errorf("HTTP %d with an answer that is neither success nor error", rep.status)})
	}
}

// clientReference keeps what MSG91 takes in a CRQID: letters, digits, "_", "." and "-", at most 80.
func clientReference(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, s)
	return s[:min(len(s), 80)]
}

// jsonCode returns a JSON string or number as text.
func jsonCode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
