package sms

import (
	"context"
	"strings"

	"github.com/certibuy/orders/app/command"
)

// Port makes a Sender (usually a Fallback) the SMS port of the application.
type Port struct {
	sender Sender
}

var _ command.SMSSender = (*Port)(nil)

// NewPort wraps s.
func NewPort(s Sender) *Port { return &Port{sender: s} }

// Name is the sender's name, e.g. "msg91>fast2sms".
func (p *Port) Name() string { return p.sender.Name() }

// Send sends m, through the provider called only when it is set. Every provider's raw answer goes
// into the result or the error, for the notification log.
func (p *Port) Send(ctx context.Context, m command.SMS, only string) (command.SendResult, error) {
	sender := p.sender
	if only != "" {
		if fb, ok := p.sender.(*Fallback); ok {
			if s, ok := fb.Provider(only); ok {
				sender = s
			}
		}
	}
	res, err := sender.Send(ctx, Message{To: m.To, Type: m.Type, Text: m.Text, Vars: VarsFor(m.Type, m.Data), Reference: m.Reference})
	response, refused := responseLog(res), refusedBy(res)
	if err == nil {
		return command.SendResult{Provider: res.Provider, ProviderMessageID: res.RequestID, Response: response, Refused: refused}, nil
	}
	provider := res.Provider
	if provider == "" {
		provider = sender.Name()
	}
	return command.SendResult{}, &command.SendError{Provider: provider, Response: response,
		Permanent: IsPermanent(err), Ambiguous: IsAmbiguous(err), Refused: refused, Err: err}
}

// refusedBy names the providers that refused the SMS, in the order they were tried.
func refusedBy(res Result) []string {
	var names []string
	for _, a := range res.AllAttempts() {
		if a.Refused {
			names = append(names, a.Provider)
		}
	}
	return names
}

// responseLog lists every provider's answer, one line each.
func responseLog(res Result) string {
	var lines []string
	for _, a := range res.AllAttempts() {
		if a.Provider == "" && a.Response == "" && a.Error == "" {
			continue
		}
		line := command.WithProvider(a.Provider, a.Response)
		switch {
		case a.Response == "":
			line = command.WithProvider(a.Provider, a.Error)
		case a.Error != "":
			line += " (" + strings.TrimPrefix(a.Error, a.Provider+": ") + ")"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
