package templates_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/mail"
	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/domain/notification"
)

// minSupported is the least share of an e-mail's HTML and CSS, as Mailpit's HTML check weighs it
// against the caniemail.com data, that every notification e-mail must reach.
const minSupported = 97.0

// TestEveryEmailPassesMailpitsHTMLCheck sends each notification type's e-mail, rendered with the
// sample data and its links, through the SMTP sender to a real Mailpit and reads Mailpit's HTML
// check: how much of the HTML and CSS the mail clients of caniemail.com support, a measure of how
// many customers see the layout as designed. It logs each type's score (README quotes them) and
// what costs most.
func TestEveryEmailPassesMailpitsHTMLCheck(t *testing.T) {
	smtpURL, api := startMailpit(t)

	r, err := templates.New()
	if err != nil {
		t.Fatalf("templates.New: %v", err)
	}
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{URL: smtpURL})
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	t.Cleanup(func() { _ = sender.Close() })

	data := templates.SampleData()
	sent := make(map[string]notification.Type) // Message-ID (as Mailpit shows it) → type
	for _, k := range notification.Catalogue() {
		e, err := r.Email(k.Type, k.Keep(notification.Email, data)) // what a request of the type stores, as the worker sends it
		if err != nil {
			t.Fatalf("render %s: %v", k.Type, err)
		}
		id := "htmlcheck-" + string(k.Type) + "@certibuy.local"
		if _, err := sender.Send(t.Context(), mail.Message{To: "Asha Rao <asha@example.in>", Subject: e.Subject, Text: e.Text, HTML: e.HTML, MessageID: id}); err != nil {
			t.Fatalf("send %s to Mailpit: %v", k.Type, err)
		}
		sent[id] = k.Type
	}

	ids := mailpitIDs(t, api, sent)
	for _, typ := range notification.Types() {
		c := htmlCheck(t, api, ids[typ])
		if c.Total.Nodes == 0 {
			t.Errorf("%s: Mailpit found no HTML to check", typ)
			continue
		}
		t.Logf("%-18s %5.1f %% supported (%.1f %% partial, %.1f %% unsupported; %d elements); costliest: %s",
			typ, c.Total.Supported, c.Total.Partial, c.Total.Unsupported, c.Total.Nodes, strings.Join(c.costliest(3), ", "))
		if c.Total.Supported < minSupported {
			t.Errorf("%s e-mail: %.1f %% of its HTML is supported by mail clients, want at least %.0f %%; what costs most:\n  %s",
				typ, c.Total.Supported, minSupported, strings.Join(c.costliest(8), "\n  "))
		}
	}
}

// checkResult is the part of Mailpit's html-check answer (its internal/htmlcheck.Response) that the
// test reads. The total is 100 less the largest partial and the largest unsupported share, each a
// feature's share of its clients times the elements that use it over all elements.
type checkResult struct {
	Total struct {
		Nodes       int
		Supported   float64
		Partial     float64
		Unsupported float64
	}
	Warnings []struct {
		Slug  string
		Score struct {
			Found       int
			Partial     float64
			Unsupported float64
		}
	}
}

// costliest names the n features that cost most, costliest first, each with the number of elements
// that use it and what it takes off the total.
func (c checkResult) costliest(n int) []string {
	var out []string
	for _, w := range c.Warnings { // Mailpit sorts them costliest first
		s := w.Score
		if len(out) == n {
			break
		}
		if s.Found == 0 || s.Partial+s.Unsupported == 0 {
			continue
		}
		share := float64(s.Found) / float64(c.Total.Nodes)
		out = append(out, fmt.Sprintf("%s ×%d (−%.1f %% partial, −%.1f %% unsupported)", w.Slug, s.Found, s.Partial*share, s.Unsupported*share))
	}
	return out
}

// mailpitIDs waits until Mailpit lists every sent message and returns Mailpit's ID of each type's.
func mailpitIDs(t *testing.T, api string, sent map[string]notification.Type) map[notification.Type]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			Messages []struct{ ID, MessageID string }
		}
		getJSON(t, api+"/api/v1/messages?limit=100", &list)
		ids := make(map[notification.Type]string)
		for _, m := range list.Messages {
			if typ, ok := sent[m.MessageID]; ok {
				ids[typ] = m.ID
			}
		}
		if len(ids) == len(sent) {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mailpit lists %d of the %d e-mails sent", len(ids), len(sent))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func htmlCheck(t *testing.T, api, id string) checkResult {
	t.Helper()
	var c checkResult
	getJSON(t, api+"/api/v1/message/"+url.PathEscape(id)+"/html-check", &c)
	return c
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		t.Fatalf("GET %s: %s: %s", u, res.Status, b.String())
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", u, err)
	}
}

// startMailpit runs Mailpit, the version pinned in .ci/mailpit/go.mod, on free loopback ports
// until the test ends, and returns its SMTP URL and its API's base URL. Another process may take a
// port between our probe and Mailpit's bind, so a start that fails is tried again on other ports.
func startMailpit(t *testing.T) (smtpURL, api string) {
	t.Helper()
	bin := mailpitBinary(t)
	var lastErr error
	for range 3 {
		smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
		if lastErr = runMailpit(t, bin, smtpAddr, httpAddr); lastErr == nil {
			return "smtp://" + smtpAddr, "http://" + httpAddr
		}
	}
	t.Fatalf("Mailpit did not start: %v", lastErr)
	return "", ""
}

// mailpitBinary builds Mailpit (a tool of the separate module .ci/mailpit, so that its many
// dependencies stay out of the service's go.mod) and returns the executable's path. `go tool -n`
// builds it into the Go build cache and prints the path: after the first build, in a second or so.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", ".ci", "mailpit"))
	if err != nil {
		t.Fatal(err)
	}
	// A build from a clean module cache downloads and compiles about 50 modules.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "tool", "-n", "mailpit")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	bin := strings.TrimSpace(string(out))
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		t.Fatalf("cannot build Mailpit, which checks the e-mails' HTML (`go tool -n mailpit` in %s; it needs the Go module proxy or a module cache with its modules): %v\n%s", dir, err, stderr.String())
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// runMailpit starts Mailpit and waits until its API and SMTP server answer; it is stopped when the
// test ends. Its database is a file of the test's, and it fetches nothing from outside.
func runMailpit(t *testing.T, bin, smtpAddr, httpAddr string) error {
	cmd := exec.Command(bin,
		"--smtp", smtpAddr, "--listen", httpAddr,
		"--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check", "--smtp-disable-rdns", "--block-remote-css-and-fonts", "--quiet")
	var output bytes.Buffer // read only after Wait
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("mailpit exited (%w): %s", err, output.String())
		case <-time.After(50 * time.Millisecond):
		}
		if ready(httpAddr, smtpAddr) {
			t.Cleanup(stop)
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("mailpit did not answer on %s and %s within 20 s: %s", httpAddr, smtpAddr, output.String())
		}
	}
}

// ready reports whether Mailpit says it is ready and takes SMTP connections.
func ready(httpAddr, smtpAddr string) bool {
	c := http.Client{Timeout: time.Second}
	res, err := c.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false
	}
	conn, err := net.DialTimeout("tcp", smtpAddr, time.Second)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
