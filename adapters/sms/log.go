package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/certibuy/orders/adapters/templates"
)

// LogSender writes each SMS to the log instead of sending it: the default when no provider is
// configured. The number is masked; the text is logged so a developer can read what would go out.
type LogSender struct {
	logger *slog.Logger
}

var _ Sender = (*LogSender)(nil)

// NewLogSender logs through logger (slog.Default() when nil).
func NewLogSender(logger *slog.Logger) *LogSender {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogSender{logger: logger}
}

// Name is "log".
func (l *LogSender) Name() string { return ProviderLog }

// linkPath is what follows the host in a link.
var linkPath = regexp.MustCompile(`(https?://[^/\s?#]+)[/?#]\S*`)

// hideLinks leaves only the address of each link: the rest holds a token that opens the order,
// and tokens never go into a log.
func hideLinks(s string) string { return linkPath.ReplaceAllString(s, "$1/…") }

// Send logs the SMS (its links cut short) and returns a made-up request id.
func (l *LogSender) Send(ctx context.Context, m Message) (Result, error) {
	res := Result{Provider: ProviderLog}
	if err := validate(m); err != nil {
		res.Error = err.Error()
		return res, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return res, fmt.Errorf("log sms: request id: %w", err)
	}
	res.RequestID = "log-" + hex.EncodeToString(b[:])
	enc, parts := templates.SMSParts(m.Text)
	l.logger.InfoContext(ctx, "SMS not sent: SMS_PROVIDER is log",
		"to", m.To.Masked(),
		"type", string(m.Type),
		"text", hideLinks(m.Text),
		"length", len([]rune(m.Text)),
		"encoding", enc,
		"parts", parts,
		"request_id", res.RequestID,
	)
	resp, err := json.Marshal(map[string]any{"logged": true, "request_id": res.RequestID, "to": m.To.Masked()})
	if err != nil {
		return res, fmt.Errorf("log sms: %w", err)
	}
	res.Response = string(resp)
	return res, nil
}
