package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileSender writes each e-mail as an RFC 5322 .eml file instead of sending it: the default when no
// SMTP server is configured (var/mail/). The file is named after the Message-ID, so a retry of the
// same notification overwrites its file rather than adding a second one.
type FileSender struct {
	dir  string
	from string
}

// NewFileSender writes into dir, created on first use, with DefaultFrom as the sender.
func NewFileSender(dir string) *FileSender { return &FileSender{dir: dir, from: DefaultFrom} }

// WithFrom returns a copy of f that writes from as the sender.
func (f *FileSender) WithFrom(from string) *FileSender {
	c := *f
	c.from = from
	return &c
}

// Dir is where the files go.
func (f *FileSender) Dir() string { return f.dir }

// Send writes m to <dir>/<Message-ID>.eml, atomically: a crash leaves the old file or the new one,
// never half of one.
func (f *FileSender) Send(ctx context.Context, m Message) (Result, error) {
	res := Result{Provider: "file"}
	if err := ctx.Err(); err != nil {
		return res, &TemporaryError{Err: fmt.Errorf("write e-mail file: %w", err)}
	}
	from, err := parseFrom(f.from)
	if err != nil {
		return res, &PermanentError{Err: err}
	}
	g, _, err := compose(from, m, time.Now())
	if err != nil {
		res.Response = err.Error()
		return res, err
	}
	id, _ := NormalizeMessageID(m.MessageID)
	if err := os.MkdirAll(f.dir, 0o750); err != nil {
		return res, &TemporaryError{Err: fmt.Errorf("create mail directory: %w", err)}
	}
	path := filepath.Join(f.dir, FileName(id))
	tmp, err := os.CreateTemp(f.dir, ".writing-*.eml")
	if err != nil {
		return res, &TemporaryError{Err: fmt.Errorf("write e-mail file: %w", err)}
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if _, err := g.WriteTo(tmp); err != nil {
		tmp.Close()
		return res, &TemporaryError{Err: fmt.Errorf("write %s: %w", tmp.Name(), err)}
	}
	if err := tmp.Close(); err != nil {
		return res, &TemporaryError{Err: fmt.Errorf("write %s: %w", tmp.Name(), err)}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return res, &TemporaryError{Err: fmt.Errorf("write %s: %w", path, err)}
	}
	res.Response = "written to " + path
	return res, nil
}

// FileName is the .eml file name for a Message-ID: its characters that are unsafe in a file name
// become "_", and when that changed anything a short hash of the original keeps two IDs that differ
// only there apart.
func FileName(messageID string) string {
	bare := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(messageID), "<"), ">")
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '@', r == '+':
			return r
		}
		return '_'
	}, bare)
	safe = strings.TrimLeft(safe, ".") // no hidden files, no ".."
	if safe != bare || safe == "" {
		sum := sha256.Sum256([]byte(bare))
		safe += "-" + hex.EncodeToString(sum[:4])
	}
	return safe + ".eml"
}
