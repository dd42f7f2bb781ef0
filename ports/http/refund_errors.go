package http

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/order"
)

// refundReader is who reads the answer to a refund the gateway did not take.
type refundReader int

const (
	forCustomer refundReader = iota // the customer's API and page: what happens next, not the gateway's reason
	forStaffAPI                     // the admin API: the reason, and the route that asks again
	forConsole                      // the console: the reason, and the button that asks again
)

// refundFailure is the answer to a refund that could not be asked for (the gateway did not answer)
// or that the gateway refused (command.ErrRefundFailed): a 502 refund_failed either way, as before
// refusals were told apart, with details.refused saying which. Staff are told the gateway's reason
// and what they can do; a customer is not told the reason, which is about the shop's account.
// cancelled says the request had just cancelled the order, which stays cancelled.
func refundFailure(err error, reader refundReader, cancelled bool, id uuid.UUID) *APIError {
	var refused *command.RefundRefusedError
	isRefused := errors.As(err, &refused)
	var b strings.Builder
	if cancelled {
		b.WriteString("the order is cancelled, but ")
	}
	askAgain := "ask again with POST /api/v1/admin/orders/" + id.String() + "/refund."
	if reader == forConsole {
		askAgain = "press “Ask the gateway for the refund again” on this page."
	}
	switch {
	case isRefused && reader == forCustomer:
		b.WriteString("the payment gateway did not start the refund. It is still owed: ")
		if refused.HandedOver() {
			b.WriteString("the shop's team is handling it and will contact you.")
		} else {
			b.WriteString("we ask the gateway again on our own, and you will get a message when it is done.")
		}
	case isRefused:
		fmt.Fprintf(&b, "the payment gateway refused the refund: %s. ", strings.TrimRight(refused.Reason, ". "))
		if refused.HandedOver() {
			fmt.Fprintf(&b, "It has refused it %d times, so the service no longer asks on its own: the refund is yours. ", refused.Refusals)
		} else {
			fmt.Fprintf(&b, "The refund is still owed; the service asks again on its own every few minutes until the gateway has refused it %d times (%d so far). ",
				order.MaxRefusedRefunds, refused.Refusals)
		}
		b.WriteString("Fix the cause first (in Razorpay's dashboard: is the payment captured, is the balance enough for refunds?), then " + askAgain)
	case reader == forCustomer:
		b.WriteString("the payment gateway did not answer the refund request. The refund is still owed: we ask again on our own, " +
			"and cancelling again asks again now, with the same refund.")
	default:
		b.WriteString("the payment gateway did not answer the refund request (it was unreachable, or failed on its side). " +
			"The refund is still owed: the service asks again on its own every few minutes, with the same refund; or " + askAgain)
	}
	e := apiErr(http.StatusBadGateway, "refund_failed", "", "%s", b.String())
	e.Extra = map[string]any{"refused": isRefused}
	if isRefused {
		e.Extra["refusals"], e.Extra["max_refusals"], e.Extra["handed_over"] = refused.Refusals, order.MaxRefusedRefunds, refused.HandedOver()
		if reader != forCustomer {
			e.Extra["reason"] = refused.Reason
		}
	}
	return e
}
