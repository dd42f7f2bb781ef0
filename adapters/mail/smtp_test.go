package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/mail"
	"github.com/certibuy/orders/adapters/mail/smtptest"
)

const subject = "Payment of ₹1,29,900.00 received for order CB-7K3M9Q2X"

func message(id string) mail.Message {
	return mail.Message{
		To:        "Asha Rao <asha@example.in>",
		Subject:   subject,
		Text:      "Hi Asha Rao,\n\nWe have received ₹1,29,900.00 for order CB-7K3M9Q2X.\n",
		HTML:      "<!DOCTYPE html><html><body><p>We have received <strong>₹1,29,900.00</strong> for order CB-7K3M9Q2X.</p></body></html>\n",
		MessageID: id,
	}
}

// parsed is an e-mail as a mail client sees it.
type parsed struct {
	header netmail.Header
	types  []string // the parts' media types, in order
	bodies []string // the parts' decoded bodies
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	p := parsed{header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if mt != "multipart/alternative" {
		t.Fatalf("Content-Type is %s, want multipart/alternative", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		pt, pparams, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type: %v", err)
		}
		if !strings.EqualFold(pparams["charset"], "utf-8") {
			t.Errorf("part %s has charset %q, want UTF-8", pt, pparams["charset"])
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		p.types = append(p.types, pt)
		p.bodies = append(p.bodies, string(body))
	}
	return p
}

// checkMessage asserts what every sender must write for message(id).
func checkMessage(t *testing.T, raw []byte, wantID string) {
	t.Helper()
	p := parse(t, raw)
	if got := p.header.Get("Message-Id"); got != wantID {
		t.Errorf("Message-ID = %q, want %q", got, wantID)
	}
	from, err := p.header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "orders@certibuy.local" || from[0].Name != "CertiBuy" {
		t.Errorf("From = %v (%v), want CertiBuy <orders@certibuy.local>", from, err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "asha@example.in" || to[0].Name != "Asha Rao" {
		t.Errorf("To = %v (%v), want Asha Rao <asha@example.in>", to, err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	if err != nil || subj != subject {
		t.Errorf("Subject = %q (%v), want %q", subj, err, subject)
	}
	date, err := p.header.Date()
	if err != nil || time.Since(date).Abs() > time.Minute {
		t.Errorf("Date = %v (%v), want about now", date, err)
	}
	if strings.Join(p.types, ",") != "text/plain,text/html" {
		t.Fatalf("parts are %v, want text/plain first and text/html last", p.types)
	}
	if !strings.Contains(p.bodies[0], "We have received ₹1,29,900.00 for order CB-7K3M9Q2X.") {
		t.Errorf("text part lost the ₹ amount: %q", p.bodies[0])
	}
	if !strings.Contains(p.bodies[1], "<strong>₹1,29,900.00</strong>") {
		t.Errorf("HTML part lost the ₹ amount: %q", p.bodies[1])
	}
}

func newSender(t *testing.T, cfg mail.SMTPConfig) *mail.SMTPSender {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "CertiBuy <orders@certibuy.local>"
	}
	s, err := mail.NewSMTPSender(cfg)
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	return s
}

func TestSMTPSenderSendsMultipartAlternative(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newSender(t, mail.SMTPConfig{URL: srv.URL()})
	for i, id := range []string{"notif-1@certibuy.local", "<notif-2@certibuy.local>"} {
		res, err := s.Send(context.Background(), message(id))
		if err != nil {
			t.Fatalf("Send(%s): %v", id, err)
		}
		want := "<notif-" + fmt.Sprint(i+1) + "@certibuy.local>"
		if res.Provider != "smtp" || !strings.HasPrefix(res.Response, "250 ") || !strings.Contains(res.Response, want) {
			t.Errorf("Result = %+v", res)
		}
		got := srv.WaitFor(i+1, 5*time.Second)[i]
		if got.From != "orders@certibuy.local" || len(got.To) != 1 || got.To[0] != "asha@example.in" {
			t.Errorf("envelope from %q to %v", got.From, got.To)
		}
		if got.TLS {
			t.Errorf("plain server reported TLS")
		}
		checkMessage(t, got.Data, want)
	}
}

func TestSMTPSenderKeepsHeadersOnOneLine(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newSender(t, mail.SMTPConfig{URL: srv.URL()})
	m := message("inject@certibuy.local")
	m.Subject = "Order CB-7K3M9Q2X\r\nBcc: victim@example.com"
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(1, 5*time.Second)[0]
	msg, err := netmail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" || len(got.To) != 1 {
		t.Errorf("a newline in the subject added a header: Bcc=%q, envelope to %v", msg.Header.Get("Bcc"), got.To)
	}
	if s := msg.Header.Get("Subject"); s != "Order CB-7K3M9Q2X Bcc: victim@example.com" {
		t.Errorf("Subject = %q", s)
	}
}

func TestSMTPSenderTemporaryReplyIsRetriable(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newSender(t, mail.SMTPConfig{URL: srv.URL()})
	srv.RefuseNext(1, 451, "4.3.0 Try again later")

	res, err := s.Send(context.Background(), message("retry@certibuy.local"))
	var tmp *mail.TemporaryError
	if !errors.As(err, &tmp) || tmp.Code != 451 {
		t.Fatalf("err = %v, want a TemporaryError with code 451", err)
	}
	if mail.IsPermanent(err) || !mail.IsTemporary(err) {
		t.Errorf("451 classified permanent")
	}
	if res.Response != "451 4.3.0 Try again later" {
		t.Errorf("Response = %q, want the server's reply", res.Response)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server kept %d refused messages", n)
	}

	// The retry, with the same Message-ID, goes through.
	if _, err := s.Send(context.Background(), message("retry@certibuy.local")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	checkMessage(t, srv.WaitFor(1, 5*time.Second)[0].Data, "<retry@certibuy.local>")
}

func TestSMTPSenderPermanentReplies(t *testing.T) {
	for _, c := range []struct {
		name   string
		refuse func(*smtptest.Server)
		want   string
	}{
		{"550 at DATA", func(s *smtptest.Server) { s.RefuseNext(1, 550, "5.7.1 Message rejected as spam") }, "550 5.7.1 Message rejected as spam"},
		{"550 at RCPT", func(s *smtptest.Server) { s.RefuseNextRcpt(1, 550, "5.1.1 No such user") }, "550 5.1.1 No such user"},
		{"452 at RCPT is temporary", func(s *smtptest.Server) { s.RefuseNextRcpt(1, 452, "4.2.2 Mailbox full") }, "452 4.2.2 Mailbox full"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.NewServer(t)
			s := newSender(t, mail.SMTPConfig{URL: srv.URL()})
			c.refuse(srv)
			res, err := s.Send(context.Background(), message("p@certibuy.local"))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			wantPermanent := strings.HasPrefix(c.want, "5")
			if mail.IsPermanent(err) != wantPermanent || mail.IsTemporary(err) == wantPermanent {
				t.Errorf("IsPermanent = %v for %v", mail.IsPermanent(err), err)
			}
			if res.Response != c.want {
				t.Errorf("Response = %q, want %q", res.Response, c.want)
			}
			if !strings.Contains(err.Error(), srv.Addr()) {
				t.Errorf("error %q does not name the server", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server kept %d messages", n)
			}
		})
	}
}

func TestSMTPSenderAuthenticates(t *testing.T) {
	const password = "s3cret-p@ss/word"
	srv := smtptest.NewServer(t)
	srv.RequireAuth("orders", password)
	withAuth := func(user, pass string) string {
		return "smtp://" + url.UserPassword(user, pass).String() + "@" + srv.Addr()
	}

	s := newSender(t, mail.SMTPConfig{URL: withAuth("orders", password)})
	if _, err := s.Send(context.Background(), message("auth@certibuy.local")); err != nil {
		t.Fatalf("Send with the right password: %v", err)
	}
	if got := srv.WaitFor(1, 5*time.Second)[0]; got.User != "orders" {
		t.Errorf("server saw user %q", got.User)
	}

	wrong := newSender(t, mail.SMTPConfig{URL: withAuth("orders", "hunter2-wrong")})
	res, err := wrong.Send(context.Background(), message("auth2@certibuy.local"))
	var perm *mail.PermanentError
	if !errors.As(err, &perm) || perm.Code != 535 {
		t.Fatalf("wrong password: err = %v, want a PermanentError with code 535", err)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(res.Response, "hunter2") {
		t.Errorf("the password leaked: %v / %q", err, res.Response)
	}

	anonymous := newSender(t, mail.SMTPConfig{URL: srv.URL()})
	if _, err := anonymous.Send(context.Background(), message("auth3@certibuy.local")); !errors.As(err, &perm) || perm.Code != 530 {
		t.Errorf("no credentials: err = %v, want 530", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server has %d messages, want only the authenticated one", n)
	}
}

func TestSMTPSenderSlowServerIsTemporary(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.SetDelay(3 * time.Second)
	s := newSender(t, mail.SMTPConfig{URL: srv.URL(), Timeout: 300 * time.Millisecond})
	start := time.Now()
	_, err := s.Send(context.Background(), message("slow@certibuy.local"))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Send took %s with a 300ms timeout", took)
	}
	var ne net.Error
	if !mail.IsTemporary(err) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a temporary timeout", err)
	}
}

func TestSMTPSenderContext(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.SetDelay(3 * time.Second)
	s := newSender(t, mail.SMTPConfig{URL: srv.URL(), Timeout: time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Send(ctx, message("ctx@certibuy.local"))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Send took %s past a 300ms context deadline", took)
	}
	if !mail.IsTemporary(err) {
		t.Errorf("err = %v, want temporary", err)
	}

	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := s.Send(cancelled, message("ctx2@certibuy.local")); !errors.Is(err, context.Canceled) || !mail.IsTemporary(err) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

func TestSMTPSenderConnectionRefusedIsTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := newSender(t, mail.SMTPConfig{URL: "smtp://" + addr, Timeout: 2 * time.Second})
	_, err = s.Send(context.Background(), message("refused@certibuy.local"))
	if !mail.IsTemporary(err) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want a temporary connection-refused error", err)
	}
}

func TestSMTPSenderTLS(t *testing.T) {
	t.Run("STARTTLS when offered", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.WithStartTLS())
		srv.RequireAuth("orders", "pw")
		u := "smtp://orders:pw@" + srv.Addr()
		s := newSender(t, mail.SMTPConfig{URL: u, TLSConfig: srv.ClientTLSConfig()})
		if _, err := s.Send(context.Background(), message("tls@certibuy.local")); err != nil {
			t.Fatal(err)
		}
		if got := srv.WaitFor(1, 5*time.Second)[0]; !got.TLS || got.User != "orders" {
			t.Errorf("TLS = %v, user %q; want an encrypted, authenticated session", got.TLS, got.User)
		}
	})
	t.Run("the certificate is verified", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.WithStartTLS())
		s := newSender(t, mail.SMTPConfig{URL: srv.URL()}) // system roots do not know the test CA
		_, err := s.Send(context.Background(), message("tls2@certibuy.local"))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err = %v, want a certificate error", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages went over an unverified connection", n)
		}
	})
	t.Run("smtps", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.WithImplicitTLS())
		if !strings.HasPrefix(srv.URL(), "smtps://") {
			t.Fatalf("URL %q", srv.URL())
		}
		s := newSender(t, mail.SMTPConfig{URL: srv.URL(), TLSConfig: srv.ClientTLSConfig()})
		if _, err := s.Send(context.Background(), message("smtps@certibuy.local")); err != nil {
			t.Fatal(err)
		}
		got := srv.WaitFor(1, 5*time.Second)[0]
		if !got.TLS {
			t.Error("smtps session not encrypted")
		}
		checkMessage(t, got.Data, "<smtps@certibuy.local>")
	})
	t.Run("a non-local server must offer STARTTLS", func(t *testing.T) {
		srv := smtptest.NewServer(t) // no STARTTLS
		_, port, _ := net.SplitHostPort(srv.Addr())
		// ::ffff:127.0.0.1 reaches the test server but is not one of the names treated as local.
		s := newSender(t, mail.SMTPConfig{URL: "smtp://orders:pw@[::ffff:127.0.0.1]:" + port})
		_, err := s.Send(context.Background(), message("nostarttls@certibuy.local"))
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("err = %v, want a refusal to go on without STARTTLS", err)
		}
		if strings.Contains(err.Error(), "pw@") {
			t.Errorf("error quotes the credentials: %v", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages went in the clear", n)
		}
	})
}

func TestSMTPSenderConcurrentSends(t *testing.T) {
	srv := smtptest.NewServer(t)
	srv.RequireAuth("orders", "pw")
	s := newSender(t, mail.SMTPConfig{URL: "smtp://orders:pw@" + srv.Addr()})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := s.Send(context.Background(), message(fmt.Sprintf("c%d@certibuy.local", i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ids := map[string]bool{}
	for _, r := range srv.WaitFor(n, 10*time.Second) {
		msg, err := netmail.ReadMessage(bytes.NewReader(r.Data))
		if err != nil {
			t.Fatal(err)
		}
		ids[msg.Header.Get("Message-Id")] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct messages arrived, want %d", len(ids), n)
	}
}

func TestSMTPSenderRefusesInvalidMessages(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newSender(t, mail.SMTPConfig{URL: srv.URL()})
	for name, m := range map[string]mail.Message{
		"no Message-ID":  func() mail.Message { m := message(""); return m }(),
		"bad Message-ID": message("no at sign"),
		"no recipient":   func() mail.Message { m := message("x@y"); m.To = ""; return m }(),
		"bad recipient":  func() mail.Message { m := message("x@y"); m.To = "asha at example"; return m }(),
		"no text":        func() mail.Message { m := message("x@y"); m.Text = " "; return m }(),
	} {
		_, err := s.Send(context.Background(), m)
		if !mail.IsPermanent(err) || !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("%s: err = %v, want a permanent ErrInvalidMessage", name, err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d invalid messages reached the server", n)
	}
}

func TestSMTPConfigNeverShowsThePassword(t *testing.T) {
	const pw = "hunter2"
	cfg := mail.SMTPConfig{URL: "smtp://orders:" + pw + "@smtp.example.in:587", From: mail.DefaultFrom}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("mail", "config", cfg)
	s, err := mail.NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{
		"%v":      fmt.Sprintf("%v", cfg),
		"%+v":     fmt.Sprintf("%+v", cfg),
		"slog":    logged.String(),
		"sender":  fmt.Sprint(s),
		"bad URL": errText(mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://orders:" + pw + "@host:port\x7f"})),
		"scheme":  errText(mail.NewSMTPSender(mail.SMTPConfig{URL: "http://orders:" + pw + "@host"})),
		"port":    errText(mail.NewSMTPSender(mail.SMTPConfig{URL: "smtp://orders:" + pw + "@host:0"})),
	} {
		if strings.Contains(text, pw) {
			t.Errorf("%s shows the password: %s", what, text)
		}
		if text == "" {
			t.Errorf("%s: no text", what)
		}
	}
}

func errText(_ *mail.SMTPSender, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCheck(t *testing.T) {
	t.Run("plain local server", func(t *testing.T) {
		srv := smtptest.NewServer(t)
		if err := newSender(t, mail.SMTPConfig{URL: srv.URL()}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("Check sent %d messages", n)
		}
	})
	t.Run("STARTTLS and AUTH", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.WithStartTLS())
		srv.RequireAuth("orders", "pw")
		ok := newSender(t, mail.SMTPConfig{URL: "smtp://orders:pw@" + srv.Addr(), TLSConfig: srv.ClientTLSConfig()})
		if err := ok.Check(context.Background()); err != nil {
			t.Errorf("right password: %v", err)
		}
		bad := newSender(t, mail.SMTPConfig{URL: "smtp://orders:nope@" + srv.Addr(), TLSConfig: srv.ClientTLSConfig()})
		var perm *mail.PermanentError
		if err := bad.Check(context.Background()); !errors.As(err, &perm) || perm.Code != 535 {
			t.Errorf("wrong password: %v, want 535", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("Check sent %d messages", n)
		}
	})
	t.Run("smtps", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.WithImplicitTLS())
		if err := newSender(t, mail.SMTPConfig{URL: srv.URL(), TLSConfig: srv.ClientTLSConfig()}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("non-local server without STARTTLS", func(t *testing.T) {
		srv := smtptest.NewServer(t)
		_, port, _ := net.SplitHostPort(srv.Addr())
		err := newSender(t, mail.SMTPConfig{URL: "smtp://[::ffff:127.0.0.1]:" + port}).Check(context.Background())
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		if err := newSender(t, mail.SMTPConfig{URL: "smtp://" + addr}).Check(context.Background()); !mail.IsTemporary(err) {
			t.Errorf("err = %v, want temporary", err)
		}
	})
}

// Consecutive sends share one connection; one the server dropped meanwhile is replaced without a
// failed send; MaxIdle -1 opens one per message.
func TestSMTPSenderReusesConnections(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newSender(t, mail.SMTPConfig{URL: srv.URL()})
	for i := range 3 {
		if _, err := s.Send(context.Background(), message(fmt.Sprintf("r%d@certibuy.local", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("3 sends in a row used %d connections, want 1", n)
	}
	srv.DropConnections()
	if _, err := s.Send(context.Background(), message("after-drop@certibuy.local")); err != nil {
		t.Fatalf("send after the server dropped the kept connection: %v", err)
	}
	if n := len(srv.WaitFor(4, 5*time.Second)); n != 4 {
		t.Fatalf("%d messages arrived, want 4", n)
	}
	if n := srv.Connections(); n != 2 {
		t.Errorf("after a drop, %d connections in all, want 2", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	fresh := smtptest.NewServer(t)
	each := newSender(t, mail.SMTPConfig{URL: fresh.URL(), MaxIdle: -1})
	for i := range 3 {
		if _, err := each.Send(context.Background(), message(fmt.Sprintf("e%d@certibuy.local", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := fresh.Connections(); n != 3 {
		t.Errorf("with MaxIdle -1, 3 sends used %d connections, want 3", n)
	}
}
