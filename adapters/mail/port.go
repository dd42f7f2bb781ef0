package mail

import (
	"context"

	"github.com/certibuy/orders/app/command"
)

// Port makes a Sender the e-mail port of the application.
type Port struct {
	sender Sender
	name   string
}

var _ command.Mailer = (*Port)(nil)

// NewPort wraps s; name is the provider name the log shows ("smtp" or "file").
func NewPort(s Sender, name string) *Port { return &Port{sender: s, name: name} }

// Name is the provider name.
func (p *Port) Name() string { return p.name }

// Send sends m; a refusal the server will repeat (5xx) is a permanent SendError.
func (p *Port) Send(ctx context.Context, m command.Email) (command.SendResult, error) {
	msg := Message{To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML, MessageID: m.MessageID}
	if m.OrderNumber != "" && m.Type != "" {
		msg.Name = m.OrderNumber + "-" + string(m.Type) + "-email"
	}
	res, err := p.sender.Send(ctx, msg)
	if err != nil {
		return command.SendResult{}, &command.SendError{Provider: p.name, Response: res.Response, Permanent: IsPermanent(err), Err: err}
	}
	return command.SendResult{Provider: p.name, Response: res.Response}, nil
}
