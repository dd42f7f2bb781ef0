package mail_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/mail"
)

func emlFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFileSenderWritesParseableEML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "mail") // does not exist yet
	f := mail.NewFileSender(dir)
	res, err := f.Send(context.Background(), message("<notif-7@certibuy.local>"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "notif-7@certibuy.local.eml")
	if res.Provider != "file" || res.Response != "written to "+path {
		t.Errorf("Result = %+v", res)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, raw, "<notif-7@certibuy.local>")
	if names := emlFiles(t, dir); len(names) != 1 {
		t.Errorf("files %v, want one", names)
	}
}

func TestFileSenderRetryOverwrites(t *testing.T) {
	dir := t.TempDir()
	f := mail.NewFileSender(dir)
	first := message("notif-8@certibuy.local")
	if _, err := f.Send(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	retry := message("<notif-8@certibuy.local>") // same ID, with brackets this time
	retry.Text = "second attempt ₹1,29,900.00\n"
	if _, err := f.Send(context.Background(), retry); err != nil {
		t.Fatal(err)
	}
	names := emlFiles(t, dir)
	if len(names) != 1 || names[0] != "notif-8@certibuy.local.eml" {
		t.Fatalf("files %v, want only notif-8@certibuy.local.eml", names)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, names[0]))
	if p := parse(t, raw); !strings.Contains(p.bodies[0], "second attempt") {
		t.Errorf("the retry did not replace the file: %q", p.bodies[0])
	}

	if _, err := f.Send(context.Background(), message("notif-9@certibuy.local")); err != nil {
		t.Fatal(err)
	}
	if names := emlFiles(t, dir); len(names) != 2 {
		t.Errorf("files %v, want two for two notifications", names)
	}
}

// A developer finds an order's messages in var/mail/ by the order's number: the file is named
// <order number>-<type>-<channel>.eml. A retry replaces it; another message of the same name (a
// second refund message of the order) is kept beside it.
func TestFileSenderNamesFilesAfterTheOrderAndType(t *testing.T) {
	dir := t.TempDir()
	f := mail.NewFileSender(dir)
	send := func(id, text string) string {
		t.Helper()
		m := message(id)
		m.Name, m.Text = "CB-7K3M9Q2X-refund_processed-email", text
		res, err := f.Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		return res.Response
	}
	if got := send("<n1@certibuy.local>", "first\n"); got != "written to "+filepath.Join(dir, "CB-7K3M9Q2X-refund_processed-email.eml") {
		t.Fatalf("first: %s", got)
	}
	if got := send("<n1@certibuy.local>", "retry\n"); got != "written to "+filepath.Join(dir, "CB-7K3M9Q2X-refund_processed-email.eml") {
		t.Fatalf("a retry went to %s", got)
	}
	if got := send("<n2@certibuy.local>", "another\n"); got != "written to "+filepath.Join(dir, "CB-7K3M9Q2X-refund_processed-email-2.eml") {
		t.Fatalf("a second message of the same name went to %s", got)
	}
	names := emlFiles(t, dir)
	if len(names) != 2 {
		t.Fatalf("files %v", names)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "CB-7K3M9Q2X-refund_processed-email.eml"))
	if p := parse(t, raw); !strings.Contains(p.bodies[0], "retry") {
		t.Errorf("the retry did not replace the first file: %q", p.bodies[0])
	}
	raw, _ = os.ReadFile(filepath.Join(dir, "CB-7K3M9Q2X-refund_processed-email-2.eml"))
	if got := parse(t, raw).header.Get("Message-Id"); got != "<n2@certibuy.local>" {
		t.Errorf("the second file holds %s", got)
	}
}

func TestFileSenderFrom(t *testing.T) {
	dir := t.TempDir()
	f := mail.NewFileSender(dir).WithFrom("CertiBuy Support <help@certibuy.in>")
	if _, err := f.Send(context.Background(), message("from@certibuy.local")); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "from@certibuy.local.eml"))
	if p := parse(t, raw); p.header.Get("From") != `"CertiBuy Support" <help@certibuy.in>` {
		t.Errorf("From = %q", p.header.Get("From"))
	}
}

func TestFileSenderRefusesInvalidMessage(t *testing.T) {
	dir := t.TempDir()
	_, err := mail.NewFileSender(dir).Send(context.Background(), message(""))
	if !mail.IsPermanent(err) {
		t.Errorf("err = %v, want permanent", err)
	}
	if names := emlFiles(t, dir); len(names) != 0 {
		t.Errorf("files %v written for an invalid message", names)
	}
}

func TestFileName(t *testing.T) {
	for id, want := range map[string]string{
		"notif-1@certibuy.local":   "notif-1@certibuy.local.eml",
		"<notif-1@certibuy.local>": "notif-1@certibuy.local.eml",
	} {
		if got := mail.FileName(id); got != want {
			t.Errorf("FileName(%q) = %q, want %q", id, got, want)
		}
	}
	unsafe := mail.FileName("../../etc/passwd@x")
	if strings.ContainsAny(unsafe, "/\\") || strings.HasPrefix(unsafe, ".") {
		t.Errorf("FileName kept a path: %q", unsafe)
	}
	if a, b := mail.FileName("a/b@x"), mail.FileName("a_b@x"); a == b {
		t.Errorf("two IDs share the file %q", a)
	}
}
