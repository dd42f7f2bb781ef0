// Package razorpay talks to the Razorpay API as its public documentation describes it: orders,
// refunds, checkout and webhook signatures, webhook envelopes. It uses the standard library only.
//
// Every call answers with the raw response body as well as the decoded entity (the Raw field, or
// APIError.Body), because the notification log keeps what the provider said. Neither the key
// secret nor the webhook secret ever appears in an error or a formatted Config or Client.
package razorpay
