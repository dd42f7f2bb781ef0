package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strings"

	gomail "github.com/go-mail/mail/v2"
)

// Check proves that mail can be sent without sending any: it connects, says EHLO, upgrades with
// STARTTLS as Send would, authenticates when the URL has credentials, and says QUIT. It is for the
// doctor command. Errors are classified like Send's (a 535 to AUTH is a *PermanentError).
func (s *SMTPSender) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.addr())
	if err != nil {
		return s.classify(fmt.Errorf("connect: %w", err))
	}
	// Closing the connection is the only way to interrupt net/smtp.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return s.classify(fmt.Errorf("set deadline: %w", err))
	}
	if s.ssl {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return s.classify(fmt.Errorf("TLS handshake: %w", err))
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return s.classify(fmt.Errorf("greeting: %w", err))
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return s.classify(fmt.Errorf("EHLO: %w", err))
	}
	if !s.ssl {
		ok, _ := c.Extension("STARTTLS")
		switch {
		case ok:
			if err := c.StartTLS(s.tls); err != nil {
				return s.classify(fmt.Errorf("STARTTLS: %w", err))
			}
		case s.policy == gomail.MandatoryStartTLS:
			return &PermanentError{Err: fmt.Errorf("%s does not offer STARTTLS, which a non-local server must", s.addr())}
		}
	}
	if s.username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return &PermanentError{Err: fmt.Errorf("%s does not offer AUTH, but the SMTP URL has credentials", s.addr())}
		}
		if err := c.Auth(s.auth(mechs)); err != nil {
			return s.classify(fmt.Errorf("AUTH as %s: %w", s.username, err))
		}
	}
	if err := c.Quit(); err != nil {
		return s.classify(fmt.Errorf("QUIT: %w", err))
	}
	return nil
}

// auth picks the mechanism the way go-mail's Dialer does, so Check tests what Send will use.
func (s *SMTPSender) auth(mechs string) smtp.Auth {
	switch {
	case strings.Contains(mechs, "CRAM-MD5"):
		return smtp.CRAMMD5Auth(s.username, s.password)
	case strings.Contains(mechs, "LOGIN") && !strings.Contains(mechs, "PLAIN"):
		return &loginAuth{username: s.username, password: s.password, host: s.host}
	default:
		return smtp.PlainAuth("", s.username, s.password, s.host)
	}
}

// loginAuth is the LOGIN mechanism, which net/smtp lacks; like smtp.PlainAuth it refuses to send the
// password unencrypted to anything but a local server.
type loginAuth struct {
	username, password, host string
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocal(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch {
	case bytes.EqualFold(fromServer, []byte("Username:")):
		return []byte(a.username), nil
	case bytes.EqualFold(fromServer, []byte("Password:")):
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", fromServer)
}
