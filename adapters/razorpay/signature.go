package razorpay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// SignPayment returns the checkout signature Razorpay gives the browser after a payment:
// hex(HMAC_SHA256(keySecret, orderID + "|" + paymentID)). The fake server and the local payment
// simulator use it; production code only verifies.
func SignPayment(keySecret, orderID, paymentID string) string {
	return hex.EncodeToString(mac([]byte(keySecret), []byte(orderID+"|"+paymentID)))
}

// VerifyPaymentSignature reports whether signature is the checkout signature of paymentID on the
// Razorpay order storedOrderID.
//
// Pass the Razorpay order id WE stored when we created the order, not the razorpay_order_id from
// the callback: the callback comes through the customer's browser, and a signature that is valid
// for some other (cheaper) order of the same account would otherwise pay for this one.
//
// The comparison is constant-time. A signature that is not hex, or not 32 bytes long, is invalid;
// so is anything checked against an empty secret or empty ids.
func VerifyPaymentSignature(keySecret, storedOrderID, paymentID, signature string) bool {
	if keySecret == "" || storedOrderID == "" || paymentID == "" {
		return false
	}
	return equalHexMAC(signature, mac([]byte(keySecret), []byte(storedOrderID+"|"+paymentID)))
}

// SignWebhook returns what Razorpay sends in the X-Razorpay-Signature header of a webhook:
// hex(HMAC_SHA256(secret, body)).
func SignWebhook(secret string, body []byte) string {
	return hex.EncodeToString(mac([]byte(secret), body))
}

// VerifyWebhookSignature reports whether signature (the X-Razorpay-Signature header) signs
// rawBody with the webhook secret. rawBody must be the request body exactly as received: JSON
// decoded and encoded again differs in spacing, key order or escaping, and no longer verifies.
// The webhook secret is set per webhook in the Razorpay dashboard and is not the API key secret.
//
// The comparison is constant-time. A signature that is not hex, or not 32 bytes long, is invalid;
// so is anything checked against an empty secret.
func VerifyWebhookSignature(webhookSecret string, rawBody []byte, signature string) bool {
	if webhookSecret == "" {
		return false
	}
	return equalHexMAC(signature, mac([]byte(webhookSecret), rawBody))
}

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// equalHexMAC decodes the given hex signature and compares it with want in constant time. Decoding
// rather than comparing hex strings keeps the comparison on the MAC bytes themselves.
func equalHexMAC(signature string, want []byte) bool {
	if len(signature) != hex.EncodedLen(len(want)) {
		return false
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	return hmac.Equal(got, want)
}
