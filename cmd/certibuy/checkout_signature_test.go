package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// With CHECKOUT_SECRET set, only a checkout the storefront signed places an order: a body with its
// prices changed, or no signature, is refused naming the header, and nothing is stored.
func TestACheckoutTheStorefrontDidNotSignIsRefused(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef-storefront"
	s := startService(t, map[string]string{"CHECKOUT_SECRET": secret})
	sign := func(body string) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		return hex.EncodeToString(mac.Sum(nil))
	}
	cheap := strings.Replace(validCheckout, `"unit_price_paise": 34950`, `"unit_price_paise": 100`, 1)
	for _, c := range []struct {
		what, body, signature, code string
	}{
		{"no signature", validCheckout, "", "signature_required"},
		{"a signature that is not hex", validCheckout, "not-hex", "signature_required"},
		{"another key's signature", validCheckout, hex.EncodeToString(hmac.New(sha256.New, []byte("guess")).Sum(nil)), "bad_signature"},
		{"the storefront's signature over other prices", cheap, sign(validCheckout), "bad_signature"},
	} {
		res := s.do(t, "POST", "/api/v1/checkout", []byte(c.body), map[string]string{"X-Checkout-Signature": c.signature, "Idempotency-Key": "k-" + c.code})
		if res.status != 401 {
			t.Fatalf("%s: %d %s, want 401", c.what, res.status, res.body)
		}
		e := res.json(t)["error"].(map[string]any)
		if e["code"] != c.code || e["field"] != "X-Checkout-Signature" {
			t.Errorf("%s: %s, want code %s naming X-Checkout-Signature", c.what, res.body, c.code)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("%d events stored by refused checkouts", n)
	}
	res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), map[string]string{"X-Checkout-Signature": sign(validCheckout)})
	if res.status != 201 || res.json(t)["total_paise"] != float64(129900) {
		t.Fatalf("a signed checkout: %d %s", res.status, res.body)
	}
}
