package sms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one provider call when the configuration gives none.
const DefaultTimeout = 10 * time.Second

// maxBody is as much of a response as is kept; provider answers are a few hundred bytes.
const maxBody = 64 << 10

// reply is a provider's HTTP answer.
type reply struct {
	status int
	body   []byte
	// readErr is set when the body could not be read to the end.
	readErr error
}

// post sends body to u and returns the answer. A failure before the request was fully written is an
// *UnreachableError (the provider cannot have acted on it); a failure after is an *AmbiguousError.
// If ctx itself ends before the request is written, the error wraps ctx.Err() and is neither: the
// caller gave up and no provider should be tried now.
func post(ctx context.Context, client *http.Client, timeout time.Duration, provider, u string, header http.Header, body []byte) (reply, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				written.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return reply{}, &ConfigError{Provider: provider, Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		err = stripURL(err)
		switch {
		case written.Load():
			return reply{}, &AmbiguousError{Provider: provider, Err: err}
		case parent.Err() != nil:
			return reply{}, fmt.Errorf("%s: not sent: %w", provider, parent.Err())
		default:
			return reply{}, &UnreachableError{Provider: provider, Err: err}
		}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return reply{status: resp.StatusCode, body: b, readErr: stripURL(err)}, nil
}

// stripURL drops the request URL from an HTTP client error: it says nothing the provider name does
// not, and a base URL can carry credentials.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// endpoint joins a base URL and a path, checking the base.
func endpoint(base, path string) (string, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("base URL must be http(s)://host[:port]")
	}
	return u.String() + path, nil
}

// ok2xx reports a success status.
func ok2xx(status int) bool { return status >= 200 && status < 300 }

// client is what each provider's HTTP client shares: the endpoint, a timeout and the http.Client.
type client struct {
	url     string
	timeout time.Duration
	http    *http.Client
}

// newClient resolves path against base (or def when base is empty) and fills in the defaults.
func newClient(provider, base, def, path string, timeout time.Duration, hc *http.Client) (client, error) {
	if base == "" {
		base = def
	}
	u, err := endpoint(base, path)
	if err != nil {
		return client{}, fmt.Errorf("%s: %w", provider, err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return client{url: u, timeout: timeout, http: hc}, nil
}
