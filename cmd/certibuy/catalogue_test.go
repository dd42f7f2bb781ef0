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

// TestTheRefundWordingAndShopNameKeepSMSInOnePart: REFUND_EXPECTATION has its default and may be
// reworded; a shop name or a wording too long for one SMS part stops the service at start-up.
func TestTheRefundWordingAndShopNameKeepSMSInOnePart(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		return LoadConfig(func(k string) string { return env[k] }, io.Discard)
	}
	cfg, err := load(nil)
	if err != nil || cfg.Notify.RefundExpectation != "5–7 working days" {
		t.Fatalf("default refund expectation %q, %v", cfg.Notify.RefundExpectation, err)
	}
	cfg, err = load(map[string]string{"REFUND_EXPECTATION": "7 to 10 working days", "SHOP_NAME": "CertiBuy Store"})
	if err != nil || cfg.Notify.RefundExpectation != "7 to 10 working days" || cfg.Notify.ShopName != "CertiBuy Store" {
		t.Fatalf("%+v, %v", cfg.Notify, err)
	}
	for name, env := range map[string]map[string]string{
		"long wording":       {"REFUND_EXPECTATION": "within ten to fourteen working days of the return"},
		"two lines":          {"REFUND_EXPECTATION": "5-7 days\nor so"},
		"long shop name":     {"SHOP_NAME": "CertiBuy Electronics"},
		"shop name not GSM":  {"SHOP_NAME": "सर्टीबाय"},
		"extension doubling": {"SHOP_NAME": "[CertiBuy]~|"}, // 12 characters, 16 septets
	} {
		if _, err := load(env); err == nil {
			t.Errorf("%s: accepted %v", name, env)
		}
	}
}
