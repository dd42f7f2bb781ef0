// Package smtptest runs an in-process SMTP server (github.com/emersion/go-smtp) on 127.0.0.1 for
// tests: it records what it receives and can refuse, slow down, demand authentication or offer TLS.
// It is safe for concurrent use.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	// From and To are the envelope: MAIL FROM and every RCPT TO.
	From string
	To   []string
	// Data is the raw message as sent after DATA (CRLF line endings, dot-stuffing removed).
	Data []byte
	// TLS says whether the session was encrypted (STARTTLS or implicit TLS).
	TLS bool
	// User is who authenticated, or "".
	User string
}

// Option configures a Server.
type Option func(*options)

type options struct {
	startTLS bool
	implicit bool
}

// WithStartTLS makes the server offer STARTTLS with a self-signed certificate for 127.0.0.1 and
// localhost; ClientTLSConfig trusts it.
func WithStartTLS() Option { return func(o *options) { o.startTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte, as an smtps:// server does; URL
// then returns smtps://.
func WithImplicitTLS() Option { return func(o *options) { o.implicit = true } }

// Server is a test SMTP server. Its zero value is not usable: call NewServer.
type Server struct {
	t         testing.TB
	srv       *smtp.Server
	addr      string
	implicit  bool
	clientTLS *tls.Config

	mu         sync.Mutex
	msgs       []Received
	arrived    chan struct{} // closed and replaced whenever a message is accepted
	refuseData refusal
	refuseRcpt refusal
	delay      time.Duration
	user, pass string
	closed     bool
	done       chan struct{} // closed at shutdown, to end delays early
	conns      map[*smtp.Conn]bool
	connCount  int
}

type refusal struct {
	n    int
	code int
	msg  string
}

// NewServer starts a server on 127.0.0.1 on a free port and stops it when the test ends. Without
// options it speaks plain SMTP and accepts every message.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{t: t, arrived: make(chan struct{}), done: make(chan struct{}), implicit: o.implicit, conns: map[*smtp.Conn]bool{}}
	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = "smtptest.local"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	// Plain-text AUTH on 127.0.0.1, as a local relay allows; SMTPSender only sends a password in the
	// clear to a local host.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = testLogger{s: s}

	var serverTLS *tls.Config
	if o.startTLS || o.implicit {
		serverTLS, s.clientTLS = selfSigned(t)
		srv.TLSConfig = serverTLS
	}
	var ln net.Listener
	var err error
	if o.implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.srv = srv
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // returns when Close closes the listener
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		s.mu.Unlock()
		_ = srv.Close()
		// Close only closes listeners Serve has registered; if no client came, Serve may not have
		// got that far yet.
		_ = ln.Close()
		<-served
	})
	return s
}

// Connections is how many client connections have greeted the server so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connCount
}

// DropConnections closes every client connection without a word, as a server does with idle
// connections past its timeout.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Conn().Close()
	}
	s.conns = map[*smtp.Conn]bool{}
}

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// URL is smtp://127.0.0.1:port, or smtps:// with WithImplicitTLS.
func (s *Server) URL() string {
	if s.implicit {
		return "smtps://" + s.addr
	}
	return "smtp://" + s.addr
}

// ClientTLSConfig trusts the server's self-signed certificate; nil without a TLS option.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// Messages returns a copy of every message accepted so far, in arrival order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneAll(s.msgs)
}

// WaitFor waits until at least n messages have been accepted and returns them all; after timeout it
// fails the test. Call it from the test's goroutine.
func (s *Server) WaitFor(n int, timeout time.Duration) []Received {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := cloneAll(s.msgs)
			s.mu.Unlock()
			return msgs
		}
		arrived := s.arrived
		got := len(s.msgs)
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline.C:
			s.t.Fatalf("smtptest: %d message(s) arrived within %s, want %d", got, timeout, n)
			return nil
		}
	}
}

// RefuseNext makes the server answer the next n messages with code and msg after reading their DATA
// (e.g. 451 "4.3.0 Try again later" or 550 "5.7.1 Rejected as spam"). Refused messages are not
// recorded.
func (s *Server) RefuseNext(n, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseData = refusal{n: n, code: code, msg: msg}
}

// RefuseNextRcpt makes the server answer the next n RCPT TO commands with code and msg (e.g. 550
// "5.1.1 No such user" or 452 "4.2.2 Mailbox full").
func (s *Server) RefuseNextRcpt(n, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseRcpt = refusal{n: n, code: code, msg: msg}
}

// SetDelay makes the server take d after the end of DATA before it answers, as a slow server does.
// The message is still recorded: a client that gave up has no way to know it arrived.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// RequireAuth makes the server offer AUTH PLAIN and refuse MAIL FROM until the client has
// authenticated as user with pass; a wrong password gets 535.
func (s *Server) RequireAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass = user, pass
}

func cloneAll(in []Received) []Received {
	out := make([]Received, len(in))
	for i, r := range in {
		out[i] = r
		out[i].To = append([]string(nil), r.To...)
		out[i].Data = append([]byte(nil), r.Data...)
	}
	return out
}

// take consumes one refusal, if any is left.
func (r *refusal) take() error {
	if r.n <= 0 {
		return nil
	}
	r.n--
	return replyError(r.code, r.msg)
}

// replyError makes the reply "code msg", using an enhanced status code at the start of msg ("5.1.1
// No such user") as the reply's own, so it is not written twice.
func replyError(code int, msg string) *smtp.SMTPError {
	var a, b, c int
	if head, rest, ok := strings.Cut(msg, " "); ok {
		if n, _ := fmt.Sscanf(head, "%d.%d.%d", &a, &b, &c); n == 3 && a == code/100 {
			return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{a, b, c}, Message: rest}
		}
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	if !b.s.conns[c] {
		b.s.conns[c] = true
		b.s.connCount++
	}
	b.s.mu.Unlock()
	_, isTLS := c.TLSConnectionState()
	return &session{s: b.s, tls: isTLS}, nil
}

type session struct {
	s    *Server
	tls  bool
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		ss.s.mu.Lock()
		wantUser, wantPass := ss.s.user, ss.s.pass
		ss.s.mu.Unlock()
		if (identity != "" && identity != user) || user != wantUser || pass != wantPass {
			return smtp.ErrAuthFailed // 535, as real servers answer
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.mu.Lock()
	needAuth := ss.s.user != ""
	ss.s.mu.Unlock()
	if needAuth && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	err := ss.s.refuseRcpt.take()
	ss.s.mu.Unlock()
	if err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read DATA: %w", err)
	}
	ss.s.mu.Lock()
	refused := ss.s.refuseData.take()
	delay, done := ss.s.delay, ss.s.done
	ss.s.mu.Unlock()
	if refused != nil {
		return refused
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-done:
			t.Stop()
			return errors.New("server shutting down")
		}
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.closed {
		return errors.New("server shutting down")
	}
	ss.s.msgs = append(ss.s.msgs, Received{From: ss.from, To: append([]string(nil), ss.to...), Data: data, TLS: ss.tls, User: ss.user})
	close(ss.s.arrived)
	ss.s.arrived = make(chan struct{})
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// testLogger sends the server's internal errors to the test log while the test runs.
type testLogger struct{ s *Server }

func (l testLogger) Printf(format string, v ...any) { l.log(fmt.Sprintf(format, v...)) }
func (l testLogger) Println(v ...any)               { l.log(fmt.Sprintln(v...)) }

func (l testLogger) log(msg string) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.s.closed {
		l.s.t.Logf("smtptest: %s", msg)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a client configuration that
// trusts it.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smtptest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}
