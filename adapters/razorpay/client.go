package razorpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for Config.
const (
	DefaultBaseURL = "https://api.razorpay.com"
	DefaultTimeout = 10 * time.Second
)

// maxResponseBytes bounds what we read of one answer; Razorpay's are a few kilobytes.
const maxResponseBytes = 1 << 20

// Config says how to reach Razorpay.
type Config struct {
	KeyID         string
	KeySecret     string
	WebhookSecret string        // for VerifyWebhook; not the key secret
	BaseURL       string        // default DefaultBaseURL; tests point it at a fake
	Timeout       time.Duration // per call, default DefaultTimeout
	HTTPClient    *http.Client  // default a new http.Client
}

// String keeps the secrets out of logs and error messages that format a Config.
func (c Config) String() string {
	return fmt.Sprintf("razorpay.Config{KeyID: %q, KeySecret: %s, WebhookSecret: %s, BaseURL: %q, Timeout: %s}",
		c.KeyID, redactedOrUnset(c.KeySecret), redactedOrUnset(c.WebhookSecret), c.BaseURL, c.Timeout)
}

// GoString is String, so %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

func redactedOrUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return "[redacted]"
}

// Client calls the Razorpay API. It is safe for concurrent use.
type Client struct {
	keyID         string
	keySecret     string
	webhookSecret string
	base          *url.URL
	timeout       time.Duration
	http          *http.Client
}

// NewClient checks cfg and fills in its defaults.
func NewClient(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.KeyID) == "" {
		return nil, errors.New("razorpay: key id missing")
	}
	if cfg.KeySecret == "" {
		return nil, errors.New("razorpay: key secret missing")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold credentials; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("razorpay: base URL: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("razorpay: base URL %q: want an http or https URL with a host", base.Redacted())
	}
	if base.User != nil {
		// Credentials go in the Authorization header; a URL with them would leak into error messages.
		return nil, fmt.Errorf("razorpay: base URL %q: must not hold credentials", base.Redacted())
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("razorpay: base URL %q: must not have a query or fragment", base.Redacted())
	}
	timeout := cfg.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		return nil, fmt.Errorf("razorpay: timeout %s is negative", timeout)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{
		keyID:         cfg.KeyID,
		keySecret:     cfg.KeySecret,
		webhookSecret: cfg.WebhookSecret,
		base:          base,
		timeout:       timeout,
		http:          hc,
	}, nil
}

// String keeps the secrets out of anything that formats a Client. The value receiver covers a
// dereferenced copy as well as the pointer.
func (c Client) String() string {
	return fmt.Sprintf("razorpay.Client{KeyID: %q, BaseURL: %q}", c.keyID, c.base.String())
}

// GoString is String, so %#v does not print the secrets either.
func (c Client) GoString() string { return c.String() }

// VerifyPayment checks a checkout callback's signature with the configured key secret. Pass the
// Razorpay order id we stored, not the one in the callback (see VerifyPaymentSignature).
func (c *Client) VerifyPayment(storedOrderID, paymentID, signature string) bool {
	return VerifyPaymentSignature(c.keySecret, storedOrderID, paymentID, signature)
}

// VerifyWebhook checks a webhook's X-Razorpay-Signature over the raw body with the configured
// webhook secret. Without a webhook secret nothing verifies.
func (c *Client) VerifyWebhook(rawBody []byte, signature string) bool {
	return VerifyWebhookSignature(c.webhookSecret, rawBody, signature)
}

// call is one HTTP exchange. It returns the status and raw body of a 2xx answer; any other answer
// is an *APIError, and a missing or cut-short answer wraps ErrUnreachable.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body any, header http.Header) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := c.base.JoinPath(path)
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var reqBody io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("razorpay %s: encode request: %w", op, err)
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reqBody)
	if err != nil {
		return 0, nil, fmt.Errorf("razorpay %s: build request: %w", op, err)
	}
	req.SetBasicAuth(c.keyID, c.keySecret)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("razorpay %s: %w: %w", op, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("razorpay %s: HTTP %d, reading the body: %w: %w", op, resp.StatusCode, ErrUnreachable, err)
	}
	if len(raw) > maxResponseBytes {
		return resp.StatusCode, nil, &ResponseError{Op: op, StatusCode: resp.StatusCode, Body: raw[:maxResponseBytes],
			Err: fmt.Errorf("body longer than %d bytes", maxResponseBytes)}
	}
	raw = c.scrub(raw)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, raw, parseAPIError(op, resp.StatusCode, raw)
	}
	return resp.StatusCode, raw, nil
}

// scrub replaces the API secrets wherever an answer echoes them, so neither the raw body we keep
// nor an error built from it holds them. Razorpay does not echo them; a misbehaving proxy might.
func (c *Client) scrub(b []byte) []byte {
	for _, s := range []string{c.keySecret, c.webhookSecret} {
		if len(s) >= 8 && bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[redacted]"))
		}
	}
	return b
}

// decode reads a 2xx body into v, turning failure into a *ResponseError.
func decode(op string, status int, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return &ResponseError{Op: op, StatusCode: status, Body: raw, Err: err}
	}
	return nil
}

// parseAPIError reads Razorpay's error envelope; a body without one still gives an APIError.
func parseAPIError(op string, status int, raw []byte) *APIError {
	e := &APIError{Op: op, StatusCode: status, Body: raw}
	var env struct {
		Error *struct {
			Code        string         `json:"code"`
			Description string         `json:"description"`
			Source      string         `json:"source"`
			Step        string         `json:"step"`
			Reason      string         `json:"reason"`
			Field       string         `json:"field"`
			Metadata    map[string]any `json:"metadata"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error != nil {
		e.Code = env.Error.Code
		e.Description = env.Error.Description
		e.Source = env.Error.Source
		e.Step = env.Error.Step
		e.Reason = env.Error.Reason
		e.Field = env.Error.Field
		e.Metadata = env.Error.Metadata
		return e
	}
	// A field of the wrong type (metadata as [] is Razorpay's empty object) must not lose the rest.
	var loose struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &loose) == nil && loose.Error != nil {
		str := func(k string) string {
			var s string
			_ = json.Unmarshal(loose.Error[k], &s)
			return s
		}
		e.Code, e.Description, e.Source = str("code"), str("description"), str("source")
		e.Step, e.Reason, e.Field = str("step"), str("reason"), str("field")
		_ = json.Unmarshal(loose.Error["metadata"], &e.Metadata)
	}
	return e
}
