package main

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// benchSMTP is an SMTP server inside the bench process: it records when each message arrived, by
// subject, and can take a fixed time per message, as a slow relay does.
type benchSMTP struct {
	srv   *smtp.Server
	addr  string
	mu    sync.Mutex
	delay time.Duration
	seen  map[string]time.Time // subject → arrival
	count int
}

func startBenchSMTP() (*benchSMTP, error) {
	b := &benchSMTP{seen: map[string]time.Time{}}
	srv := smtp.NewServer(b)
	srv.Domain = "bench.local"
	srv.AllowInsecureAuth = true
	srv.MaxRecipients = 5
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench smtp: %w", err)
	}
	b.srv, b.addr = srv, ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	return b, nil
}

func (b *benchSMTP) URL() string { return "smtp://" + b.addr }
func (b *benchSMTP) Close()      { _ = b.srv.Close() }

func (b *benchSMTP) setDelay(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delay = d
}

// arrivals returns the arrival time of each subject seen so far, and how many messages came.
func (b *benchSMTP) arrivals() (map[string]time.Time, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]time.Time, len(b.seen))
	for k, v := range b.seen {
		out[k] = v
	}
	return out, b.count
}

func (b *benchSMTP) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen, b.count = map[string]time.Time{}, 0
}

func (b *benchSMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &benchSession{b: b}, nil }

type benchSession struct{ b *benchSMTP }

func (s *benchSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *benchSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *benchSession) Reset()                               {}
func (s *benchSession) Logout() error                        { return nil }

func (s *benchSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	d := s.b.delay
	s.b.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	subject := ""
	if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	}
	now := time.Now()
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.seen[subject] = now
	s.b.count++
	return nil
}

func splitHostPort(addr string) (string, int) {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscanf(port, "%d", &p)
	return host, p
}
