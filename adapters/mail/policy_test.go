package mail

import (
	"testing"

	gomail "github.com/go-mail/mail/v2"
)

func TestStartTLSPolicy(t *testing.T) {
	for host, want := range map[string]gomail.StartTLSPolicy{
		"smtp.gmail.com":                      gomail.MandatoryStartTLS,
		"email-smtp.ap-south-1.amazonaws.com": gomail.MandatoryStartTLS,
		"10.0.0.5":                            gomail.MandatoryStartTLS,
		"localhost":                           gomail.OpportunisticStartTLS,
		"LOCALHOST":                           gomail.OpportunisticStartTLS,
		"127.0.0.1":                           gomail.OpportunisticStartTLS,
		"::1":                                 gomail.OpportunisticStartTLS,
	} {
		if got := startTLSPolicy(host); got != want {
			t.Errorf("startTLSPolicy(%q) = %v, want %v", host, got, want)
		}
	}
	s, err := NewSMTPSender(SMTPConfig{URL: "smtps://u:p@smtp.example.in"})
	if err != nil {
		t.Fatal(err)
	}
	d := s.dialer()
	if !d.SSL || d.Port != 465 || d.Timeout != DefaultSMTPTimeout || !d.RetryFailure || d.TLSConfig.ServerName != "smtp.example.in" {
		t.Errorf("smtps dialer = %+v", d)
	}
	if s.dialer() == d {
		t.Error("dialer is shared between connections")
	}
	s, _ = NewSMTPSender(SMTPConfig{URL: "smtp://smtp.example.in"})
	if d := s.dialer(); d.SSL || d.Port != 587 || d.StartTLSPolicy != gomail.MandatoryStartTLS {
		t.Errorf("smtp dialer = %+v", d)
	}
}

func TestNormalizeMessageID(t *testing.T) {
	for in, want := range map[string]string{
		"a@b":                "<a@b>",
		"<a@b>":              "<a@b>",
		" <n-1.x@certibuy> ": "<n-1.x@certibuy>",
	} {
		if got, err := NormalizeMessageID(in); err != nil || got != want {
			t.Errorf("NormalizeMessageID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "<>", "ab", "a@", "@b", "a b@c", "a@b@c", "<a@b>>", "a@b\r\nBcc: x"} {
		if got, err := NormalizeMessageID(bad); err == nil {
			t.Errorf("NormalizeMessageID(%q) = %q, want an error", bad, got)
		}
	}
}
