package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certibuy/orders/domain/notification"
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

// Send writes m to <dir>/<Name>.eml (<dir>/<Message-ID>.eml when m has no Name), atomically: a crash
// leaves the old file or the new one, never half of one. A retry of the same message (the same
// Message-ID) replaces its file; another message of the same name, such as a second refund message
// of one order, gets "-2", "-3" after the name.
func (f *FileSender) Send(ctx context.Context, m Message) (Result, error) {
	res := Result{Provider: notification.ProviderFile}
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
	path, err := f.place(tmp.Name(), id, m.Name)
	if err != nil {
		return res, &TemporaryError{Err: err}
	}
	res.Response = "written to " + path
	return res, nil
}

// place moves the written file tmp to its name. A file of that name holding another message is
// kept: the next free "-n" name is taken instead. Linking never replaces a file, so two messages
// written at once cannot take the same name.
func (f *FileSender) place(tmp, messageID, name string) (string, error) {
	if name == "" {
		path := filepath.Join(f.dir, FileName(messageID))
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		return path, nil
	}
	base := strings.TrimSuffix(FileName(name), ".eml")
	for n := 1; n <= 1000; n++ {
		path := filepath.Join(f.dir, base+".eml")
		if n > 1 {
			path = filepath.Join(f.dir, fmt.Sprintf("%s-%d.eml", base, n))
		}
		err := os.Link(tmp, path)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		if fileMessageID(path) == messageID { // a retry: the new attempt replaces the old one
			if err := os.Rename(tmp, path); err != nil {
				return "", fmt.Errorf("write %s: %w", path, err)
			}
			return path, nil
		}
	}
	return "", fmt.Errorf("write %s: a thousand messages of this name already", base)
}

// fileMessageID is the Message-ID of the .eml file at path, or "" when it has none that can be read.
func fileMessageID(path string) string {
	file, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer file.Close()
	msg, err := netmail.ReadMessage(file)
	if err != nil {
		return ""
	}
	id, _ := NormalizeMessageID(msg.Header.Get("Message-Id"))
	return id
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
