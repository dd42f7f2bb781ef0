package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/certibuy/orders/domain/notification"
)

// TestEveryNotificationTypeHasItsSettings fails for a row of the notification catalogue whose MSG91
// template setting is not documented in .env.example or not read.
func TestEveryNotificationTypeHasItsSettings(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, typ := range notification.Types() {
		name := "MSG91_TEMPLATE_" + strings.ToUpper(string(typ))
		if !regexp.MustCompile(`(?m)^#?` + name + `=`).Match(example) {
			t.Errorf(".env.example has no line for %s", name)
		}
		env[name] = "tmpl_" + string(typ)
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range notification.Types() {
		if cfg.Notify.MSG91.Templates[typ] != "tmpl_"+string(typ) {
			t.Errorf("MSG91 template of %s not read: %v", typ, cfg.Notify.MSG91.Templates)
		}
	}
}
