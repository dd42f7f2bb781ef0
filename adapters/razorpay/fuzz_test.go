package razorpay_test

import (
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/certibuy/orders/adapters/razorpay"
)

// FuzzVerifyWebhookSignature: no input panics, a correct signature always verifies, and nothing
// but the correct signature (in either hex case) does. Seeds are in testdata/fuzz.
func FuzzVerifyWebhookSignature(f *testing.F) {
	f.Add("whsec", []byte(`{"entity":"event"}`), "e106670d3e7078a62664b01e3344543f4025bcb404e76425f67af58d811637ae")
	f.Add("whsec", []byte(`{"entity":"event"}`), "")
	f.Add("", []byte{}, "zz")
	f.Fuzz(func(t *testing.T, secret string, body []byte, signature string) {
		got := razorpay.VerifyWebhookSignature(secret, body, signature)
		want := razorpay.SignWebhook(secret, body)
		if got && (secret == "" || !strings.EqualFold(signature, want)) {
			t.Fatalf("signature %q verified; the right one is %q", signature, want)
		}
		if secret != "" && !razorpay.VerifyWebhookSignature(secret, body, want) {
			t.Fatalf("the correct signature %q did not verify", want)
		}
	})
}

// FuzzParseWebhook: no input panics, and what parses is an event with a name and the entity its
// kind promises, in a body with no key given twice. Seeds are in testdata/fuzz.
func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(`{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1","notes":[]}}}}`))
	f.Add([]byte(`{"entity":"event","event":"refund.failed","payload":{"refund":{"entity":{"id":"rfnd_1","acquirer_data":{"arn":null}}}}}`))
	f.Add([]byte(`{"entity":"event","event":"x","payload":{"payment":{"entity":{"notes":{"a":1.5e3,"b":null,"c":[1]}}}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"entity":"event","event":"payment.failed","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1"}}}}`))
	f.Add([]byte(`{"entity":"event","EVENT":"payment.captured","event":"x","payload":{"payment":{"entity":{"id":"pay_1","ID":"pay_2"}}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := razorpay.ParseWebhook(raw)
		if err != nil {
			return
		}
		if !jsontext.Value(raw).IsValid() { // duplicate names and invalid UTF-8 are invalid by default
			t.Fatalf("parsed a body with a key given twice or text that is not UTF-8: %q", raw)
		}
		if ev.Entity != "event" || ev.Event == "" {
			t.Fatalf("parsed %+v without entity event and an event name", ev)
		}
		if strings.HasPrefix(ev.Event, "payment.") && (ev.Payload.Payment == nil || ev.Payload.Payment.Entity.ID == "") {
			t.Fatalf("parsed %s without a payment", ev.Event)
		}
		if strings.HasPrefix(ev.Event, "refund.") && (ev.Payload.Refund == nil || ev.Payload.Refund.Entity.ID == "") {
			t.Fatalf("parsed %s without a refund", ev.Event)
		}
	})
}
