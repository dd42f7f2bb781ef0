package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/go-mail/mail/v2"
)

// DefaultSMTPTimeout bounds each step of an SMTP conversation when SMTPConfig.Timeout is zero.
const DefaultSMTPTimeout = 10 * time.Second

// SMTPConfig says where and how to send e-mail.
type SMTPConfig struct {
	// URL is smtp://user:pass@host:port (STARTTLS; port 587 when left out) or smtps://… for implicit
	// TLS (port 465 when left out). User and password are optional and URL-encoded.
	URL string
	// From is the sender, e.g. "CertiBuy <orders@certibuy.local>" (DefaultFrom when empty).
	From string
	// Timeout bounds connecting and each step of the conversation; DefaultSMTPTimeout when zero.
	Timeout time.Duration
	// TLSConfig is used for STARTTLS and smtps (tests pass one that trusts their certificate). Its
	// ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// MaxIdle is how many connections are kept open between sends (DefaultMaxIdle when zero; -1
	// keeps none). Reusing a connection saves the connect, greeting, EHLO, STARTTLS and AUTH of
	// every message; size it to the number of concurrent sends.
	MaxIdle int
	// IdleTimeout closes a kept connection unused this long (DefaultIdleTimeout when zero), before
	// the server is likely to drop it.
	IdleTimeout time.Duration
}

// Defaults of the connection reuse.
const (
	DefaultMaxIdle     = 8
	DefaultIdleTimeout = 30 * time.Second
)

// String describes the configuration without the password, so it is safe to log.
func (c SMTPConfig) String() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "SMTPConfig{URL: (invalid)}"
	}
	return fmt.Sprintf("SMTPConfig{URL: %s, From: %s, Timeout: %s}", u.Redacted(), c.From, c.Timeout)
}

// LogValue makes slog print the configuration without the password.
func (c SMTPConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// SMTPSender sends e-mail through an SMTP server with go-mail. It is safe for concurrent use: each
// connection gets its own go-mail Dialer, because Dialer.Dial stores the chosen authentication on
// the Dialer. Connections are kept between sends (see SMTPConfig.MaxIdle); Close ends them.
type SMTPSender struct {
	host     string
	port     int
	username string
	password string
	ssl      bool
	policy   gomail.StartTLSPolicy
	from     *netmail.Address
	timeout  time.Duration
	tls      *tls.Config
	redacted string // the URL without the password, for messages

	idle        chan idleConn // kept connections, most recently used last
	idleTimeout time.Duration
}

// idleConn is a kept connection and when it was last used.
type idleConn struct {
	sc   gomail.SendCloser
	used time.Time
}

// NewSMTPSender checks cfg and returns a sender for it. It does not connect: see Check.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	// The URL holds the password: no error below may quote it.
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("SMTP URL is not a valid URL (want smtp://user:pass@host:port or smtps://…; special characters in the password must be %-encoded)")
	}
	s := &SMTPSender{timeout: cfg.Timeout, redacted: u.Redacted()}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.ssl, s.port = true, 465
	default:
		return nil, fmt.Errorf("SMTP URL %s: scheme must be smtp or smtps", s.redacted)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, fmt.Errorf("SMTP URL %s: no host", s.redacted)
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port <= 0 || s.port > 65535 {
			return nil, fmt.Errorf("SMTP URL %s: bad port %q", s.redacted, p)
		}
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	if s.timeout <= 0 {
		s.timeout = DefaultSMTPTimeout
	}
	maxIdle := cfg.MaxIdle
	if maxIdle == 0 {
		maxIdle = DefaultMaxIdle
	}
	s.idle = make(chan idleConn, max(maxIdle, 0))
	s.idleTimeout = cfg.IdleTimeout
	if s.idleTimeout <= 0 {
		s.idleTimeout = DefaultIdleTimeout
	}
	if s.from, err = parseFrom(cfg.From); err != nil {
		return nil, err
	}
	s.policy = startTLSPolicy(s.host)
	if cfg.TLSConfig != nil {
		s.tls = cfg.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s, nil
}

// startTLSPolicy demands STARTTLS from every server but a local one: a password or a customer's
// e-mail must not cross a network in the clear, while a local relay or test server often has no
// certificate.
func startTLSPolicy(host string) gomail.StartTLSPolicy {
	if isLocal(host) {
		return gomail.OpportunisticStartTLS
	}
	return gomail.MandatoryStartTLS
}

func isLocal(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// String describes the sender without the password.
func (s *SMTPSender) String() string { return "smtp " + s.redacted }

// addr is host:port, for messages.
func (s *SMTPSender) addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// dialer returns a fresh go-mail Dialer for one connection.
func (s *SMTPSender) dialer() *gomail.Dialer {
	host := s.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // go-mail joins host and port with %s:%d, which an IPv6 literal needs brackets for
	}
	return &gomail.Dialer{
		Host:           host,
		Port:           s.port,
		Username:       s.username,
		Password:       s.password,
		SSL:            s.ssl,
		TLSConfig:      s.tls,
		StartTLSPolicy: s.policy,
		Timeout:        s.timeout,
		// A kept connection the server has dropped fails at MAIL FROM, before any of the message
		// went out; go-mail then reconnects once and sends again. Every other failure is returned,
		// and recorded as an attempt of the notification.
		RetryFailure: true,
	}
}

// conn returns a kept connection, or a new one.
func (s *SMTPSender) conn() (gomail.SendCloser, error) {
	for {
		select {
		case c := <-s.idle:
			if time.Since(c.used) < s.idleTimeout {
				return c.sc, nil
			}
			_ = c.sc.Close()
		default:
			return s.dialer().Dial()
		}
	}
}

// keep puts a connection that just sent a message back for the next send, or closes it when enough
// are kept.
func (s *SMTPSender) keep(sc gomail.SendCloser) {
	select {
	case s.idle <- idleConn{sc: sc, used: time.Now()}:
	default:
		_ = sc.Close()
	}
}

// Close ends the kept connections (QUIT). Sends may go on; they open new connections.
func (s *SMTPSender) Close() error {
	for {
		select {
		case c := <-s.idle:
			_ = c.sc.Close()
		default:
			return nil
		}
	}
}

// send delivers g over a kept or new connection. A connection that failed is closed, not kept: after
// an error its state is unknown.
func (s *SMTPSender) send(g *gomail.Message) error {
	sc, err := s.conn()
	if err != nil {
		return err
	}
	if err := gomail.Send(sc, g); err != nil {
		_ = sc.Close()
		return err
	}
	s.keep(sc)
	return nil
}

// Send delivers m. A 5xx reply or an invalid message is a *PermanentError, anything else a
// *TemporaryError. go-mail takes no context: when ctx ends first, Send returns at once while the
// abandoned conversation runs out its own timeout (SMTPConfig.Timeout per step).
func (s *SMTPSender) Send(ctx context.Context, m Message) (Result, error) {
	res := Result{Provider: "smtp"}
	g, _, err := compose(s.from, m, time.Now())
	if err != nil {
		res.Response = err.Error()
		return res, err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= 0 {
		return res, &TemporaryError{Err: fmt.Errorf("send to %s: %w", s.addr(), context.DeadlineExceeded)}
	}
	if err := ctx.Err(); err != nil {
		return res, &TemporaryError{Err: fmt.Errorf("send to %s: %w", s.addr(), err)}
	}
	done := make(chan error, 1) // buffered: an abandoned send must not block forever
	go func() { done <- s.send(g) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return res, &TemporaryError{Err: fmt.Errorf("send to %s: gave up waiting (the server may still accept it): %w", s.addr(), ctx.Err())}
	}
	if err != nil {
		err = s.classify(err)
		res.Response = reply(err)
		return res, err
	}
	id, _ := NormalizeMessageID(m.MessageID)
	// net/smtp only returns from DATA without an error on a 250 reply; it does not pass on the text.
	res.Response = fmt.Sprintf("250 accepted by %s for Message-ID %s", s.addr(), id)
	return res, nil
}

// classify turns a go-mail or net/smtp error into a PermanentError (5xx) or TemporaryError, with
// the server's address and without the password.
func (s *SMTPSender) classify(err error) error {
	var se *gomail.SendError // it has no Unwrap method
	if errors.As(err, &se) && se.Cause != nil {
		err = se.Cause
	}
	err = s.scrub(err)
	wrapped := fmt.Errorf("send to %s: %w", s.addr(), err)
	var tp *textproto.Error
	if errors.As(err, &tp) {
		if tp.Code >= 500 && tp.Code < 600 {
			return &PermanentError{Code: tp.Code, Reply: tp.Msg, Err: wrapped}
		}
		return &TemporaryError{Code: tp.Code, Reply: tp.Msg, Err: wrapped}
	}
	return &TemporaryError{Err: wrapped}
}

// scrub replaces err by its text without the password, in the unlikely case that some layer quoted
// it (a server echoing an AUTH line, say).
func (s *SMTPSender) scrub(err error) error {
	if s.password == "" || !strings.Contains(err.Error(), s.password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.password, "xxxxx"))
}

// reply is what the notification log keeps of a failed send: the server's reply when there was one.
func reply(err error) string {
	var p *PermanentError
	if errors.As(err, &p) && p.Code != 0 {
		return fmt.Sprintf("%d %s", p.Code, p.Reply)
	}
	var t *TemporaryError
	if errors.As(err, &t) && t.Code != 0 {
		return fmt.Sprintf("%d %s", t.Code, t.Reply)
	}
	return err.Error()
}
