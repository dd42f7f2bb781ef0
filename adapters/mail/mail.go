// Package mail sends the notification e-mails: over SMTP (SMTPSender, with go-mail) or, when no SMTP
// server is configured, as .eml files (FileSender). Both write the same message: multipart/alternative
// with text/plain first and text/html last, and a stable Message-ID per notification so a retry is
// recognisably the same e-mail.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/go-mail/mail/v2"
)

// DefaultFrom is the sender when none is configured (MAIL_FROM in .env.example).
const DefaultFrom = "CertiBuy <orders@certibuy.local>"

// Message is one rendered e-mail to one customer.
type Message struct {
	// To is the recipient: a plain address or "Name <address>".
	To      string
	Subject string
	// Text is the plain-text part; it is required, since some clients show nothing else.
	Text string
	// HTML is the HTML part; when empty the e-mail is plain text only.
	HTML string
	// MessageID is the stable Message-ID of the notification, the same on every retry, with or
	// without the angle brackets (a@b or <a@b>).
	MessageID string
	// Name, when set, names the .eml file the FileSender writes ("<order number>-<type>-email"), so
	// that a developer finds an order's messages in var/mail/ by its number; SMTP ignores it.
	Name string
}

// Result says who took the message and what they said, for the notification log.
type Result struct {
	// Provider is "smtp" or "file".
	Provider string
	// Response is the server's reply (or where the file was written), also on failure.
	Response string
}

// Sender sends one e-mail.
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// ErrInvalidMessage is wrapped by the errors for a message that can never be sent as it is: no
// recipient, an unparseable address, no Message-ID, no text part.
var ErrInvalidMessage = errors.New("invalid e-mail message")

// PermanentError is a failure that a retry will not fix: the server refused with a 5xx reply, or the
// message itself is invalid. The notification should be marked failed, not retried.
type PermanentError struct {
	// Code is the SMTP reply code (550, 535, …), or 0 when the message was refused before sending.
	Code int
	// Reply is the server's reply text without the code, if there was one.
	Reply string
	Err   error
}

func (e *PermanentError) Error() string { return "permanent e-mail failure: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// TemporaryError is a failure worth retrying later with the same Message-ID: a 4xx reply, a refused
// or dropped connection, a timeout. After a timeout during DATA the server may have taken the
// message, so a retry can deliver it twice; the stable Message-ID lets mail clients fold the copies.
type TemporaryError struct {
	// Code is the SMTP reply code (421, 451, …), or 0 when there was no reply.
	Code  int
	Reply string
	Err   error
}

func (e *TemporaryError) Error() string { return "temporary e-mail failure: " + e.Err.Error() }
func (e *TemporaryError) Unwrap() error { return e.Err }

// IsPermanent reports whether err says the message must not be retried.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// IsTemporary reports whether err says the message may be retried later.
func IsTemporary(err error) bool {
	var t *TemporaryError
	return errors.As(err, &t)
}

func invalid(format string, args ...any) error {
	return &PermanentError{Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, args...)...)}
}

// NormalizeMessageID returns id in its header form, <local@domain>, accepting it with or without the
// angle brackets.
func NormalizeMessageID(id string) (string, error) {
	bare := strings.TrimSpace(id)
	bare = strings.TrimSuffix(strings.TrimPrefix(bare, "<"), ">")
	local, domain, ok := strings.Cut(bare, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", invalid("Message-ID %q is not of the form local@domain", id)
	}
	for _, r := range bare {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`<>()[]\,;:"`, r) {
			return "", invalid("Message-ID %q has a character it cannot have (%q)", id, r)
		}
	}
	return "<" + bare + ">", nil
}

// compose builds the MIME message: headers From, To, Subject, Message-ID, Date, then text/plain and,
// when there is HTML, text/html as the last (preferred) alternative.
func compose(from *netmail.Address, m Message, now time.Time) (*gomail.Message, *netmail.Address, error) {
	if strings.TrimSpace(m.To) == "" {
		return nil, nil, invalid("no recipient")
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, nil, invalid("recipient %q: %v", m.To, err)
	}
	id, err := NormalizeMessageID(m.MessageID)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, nil, invalid("no text part")
	}
	g := gomail.NewMessage()
	g.SetAddressHeader("From", from.Address, from.Name)
	g.SetAddressHeader("To", to.Address, to.Name)
	// Header values are one line: a newline from the data must not start a new header.
	g.SetHeader("Subject", strings.Join(strings.Fields(m.Subject), " "))
	g.SetHeader("Message-ID", id)
	g.SetDateHeader("Date", now)
	g.SetBody("text/plain", m.Text)
	if m.HTML != "" {
		g.AddAlternative("text/html", m.HTML)
	}
	return g, to, nil
}

// parseFrom parses the configured sender.
func parseFrom(from string) (*netmail.Address, error) {
	if strings.TrimSpace(from) == "" {
		from = DefaultFrom
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail sender %q: %w", from, err)
	}
	return a, nil
}
