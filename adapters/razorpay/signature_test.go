package razorpay_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/certibuy/orders/adapters/razorpay"
)

// Known answers computed outside Go (openssl dgst -sha256 -hmac), so a wrong message layout such as
// paymentID|orderID or a different encoding fails here and not only in production.
func TestSignKnownAnswers(t *testing.T) {
	if got, want := razorpay.SignPayment("secret", "order_A", "pay_B"),
		"64302fe866b18d796052d1dcbf300cf4e855f198ec279dadef68c28610dd4844"; got != want {
		t.Errorf("SignPayment = %s, want %s", got, want)
	}
	if got, want := razorpay.SignWebhook("whsec", []byte(`{"entity":"event"}`)),
		"e106670d3e7078a62664b01e3344543f4025bcb404e76425f67af58d811637ae"; got != want {
		t.Errorf("SignWebhook = %s, want %s", got, want)
	}
}

func TestVerifyPaymentSignature(t *testing.T) {
	const secret = "key_secret_0123456789"
	valid := razorpay.SignPayment(secret, "order_A", "pay_1")
	otherOrder := razorpay.SignPayment(secret, "order_B", "pay_1")

	tests := []struct {
		name                              string
		secret, order, payment, signature string
		want                              bool
	}{
		{"valid", secret, "order_A", "pay_1", valid, true},
		{"valid, upper-case hex", secret, "order_A", "pay_1", strings.ToUpper(valid), true},
		{"signature of another order", secret, "order_A", "pay_1", otherOrder, false},
		{"another payment id", secret, "order_A", "pay_2", valid, false},
		{"wrong secret", "another_secret", "order_A", "pay_1", valid, false},
		{"ids swapped", secret, "pay_1", "order_A", valid, false},
		{"empty signature", secret, "order_A", "pay_1", "", false},
		{"not hex", secret, "order_A", "pay_1", "zz" + valid[2:], false},
		{"odd length", secret, "order_A", "pay_1", valid[:63], false},
		{"truncated", secret, "order_A", "pay_1", valid[:62], false},
		{"too long", secret, "order_A", "pay_1", valid + "00", false},
		{"one bit off", secret, "order_A", "pay_1", flipLastHex(valid), false},
		{"empty secret", "", "order_A", "pay_1", razorpay.SignPayment("", "order_A", "pay_1"), false},
		{"empty stored order id", secret, "", "pay_1", razorpay.SignPayment(secret, "", "pay_1"), false},
		{"empty payment id", secret, "order_A", "", razorpay.SignPayment(secret, "order_A", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := razorpay.VerifyPaymentSignature(tt.secret, tt.order, tt.payment, tt.signature); got != tt.want {
				t.Errorf("VerifyPaymentSignature = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerifyWebhookSignature(t *testing.T) {
	const (
		webhookSecret = "webhook_secret_abcdef"
		keySecret     = "key_secret_0123456789"
	)
	body, err := os.ReadFile("testdata/payment_captured.json")
	if err != nil {
		t.Fatal(err)
	}
	valid := razorpay.SignWebhook(webhookSecret, body)

	tampered := []byte(strings.Replace(string(body), `"amount": 100,`, `"amount": 900,`, 1))
	if string(tampered) == string(body) {
		t.Fatal("test body has no amount to tamper with")
	}
	// The same event re-encoded by a JSON library: equal meaning, different bytes.
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		secret    string
		body      []byte
		signature string
		want      bool
	}{
		{"valid", webhookSecret, body, valid, true},
		{"tampered body", webhookSecret, tampered, valid, false},
		{"re-encoded JSON", webhookSecret, reencoded, valid, false},
		{"trailing newline added", webhookSecret, append(append([]byte{}, body...), '\n'), valid, false},
		{"signed with the key secret", webhookSecret, body, razorpay.SignWebhook(keySecret, body), false},
		{"checked against the key secret", keySecret, body, valid, false},
		{"empty signature", webhookSecret, body, "", false},
		{"not hex", webhookSecret, body, "g" + valid[1:], false},
		{"odd length", webhookSecret, body, valid[:63], false},
		{"one bit off", webhookSecret, body, flipLastHex(valid), false},
		{"empty secret", "", body, razorpay.SignWebhook("", body), false},
		{"empty body, valid signature", webhookSecret, nil, razorpay.SignWebhook(webhookSecret, nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := razorpay.VerifyWebhookSignature(tt.secret, tt.body, tt.signature); got != tt.want {
				t.Errorf("VerifyWebhookSignature = %v, want %v", got, tt.want)
			}
		})
	}
}

// flipLastHex changes the last hex digit, which flips low bits of the MAC's last byte.
func flipLastHex(sig string) string {
	last := sig[len(sig)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return sig[:len(sig)-1] + string(repl)
}
