package notification

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/certibuy/orders/domain/order"
)

// Type is what a message is about; each has an e-mail and an SMS template.
type Type string

// The notification types, named as the catalogue's rows are.
const (
	PaymentSuccessful Type = "payment_successful"
	OrderConfirmed    Type = "order_confirmed"
	OrderShipped      Type = "order_shipped"
	OutForDelivery    Type = "out_for_delivery"
	OrderDelivered    Type = "order_delivered"
	OrderCancelled    Type = "order_cancelled"
	RefundProcessed   Type = "refund_processed"
)

// SMSVar names a variable of a registered SMS template: MSG91 Flow writes it ##name##, a Fast2SMS DLT
// template takes the values in the order of Kind.SMSVars. adapters/sms VarsFor gives each its value.
type SMSVar string

// The SMS template variables.
const (
	VarName     SMSVar = "name"     // the given name the SMS greets the customer by
	VarOrder    SMSVar = "order"    // order number, CB-7K3M9Q2X
	VarAmount   SMSVar = "amount"   // the refund when the message is about one, else the total: 1,29,900.00 (the template writes "Rs")
	VarPayment  SMSVar = "payment"  // payment id, pay_…
	VarCarrier  SMSVar = "carrier"  // courier name
	VarTracking SMSVar = "tracking" // tracking id
	VarLink     SMSVar = "link"     // short link to the order, empty without SMS_LINK_BASE_URL
	VarReview   SMSVar = "review"   // short link to the review page, empty without SMS_LINK_BASE_URL and REVIEW_URL
	VarDays     SMSVar = "days"     // when a refund arrives, "5-7 working days"
	VarRefund   SMSVar = "refund"   // a cancellation's sentence about the money: the refund and when, or that none was taken
)

// Kind is one row of the catalogue: a notification type and all the notifier derives from it.
type Kind struct {
	Type Type
	// On lists the order events that send it, by their current stored type names. An event sends one
	// type at most: its notifications' streams are named after the event (StreamID).
	On []string
	// Fills names the MessageData fields its messages say besides CommonFields and LinkFields. The
	// request stores only these (Keep), and the renderer refuses a template of the type that reads
	// another.
	Fills []string
	// SMSVars are the variables of its registered SMS template, in the order its text uses them.
	SMSVars []SMSVar
}

// Catalogue lists every notification type in lifecycle order. A new type is a row here, its
// templates (templates/emails/<type>.html and .txt, templates/sms/<type>.txt), its
// MSG91_TEMPLATE_<TYPE> line in .env.example, and its test data; the tests name whatever is missing.
func Catalogue() []Kind {
	return []Kind{
		{Type: PaymentSuccessful, On: []string{order.TypePaymentSucceeded},
			Fills:   []string{"PaymentID", "PaymentMethod"},
			SMSVars: []SMSVar{VarName, VarOrder, VarAmount, VarPayment}},
		{Type: OrderConfirmed, On: []string{order.TypeOrderConfirmed},
			SMSVars: []SMSVar{VarName, VarOrder, VarAmount, VarLink}},
		{Type: OrderShipped, On: []string{order.TypeOrderShipped},
			Fills:   []string{"Carrier", "TrackingID", "TrackingURL"},
			SMSVars: []SMSVar{VarName, VarOrder, VarCarrier, VarTracking}},
		{Type: OutForDelivery, On: []string{order.TypeOrderOutForDelivery},
			Fills:   []string{"Carrier", "TrackingID", "TrackingURL"},
			SMSVars: []SMSVar{VarName, VarOrder}},
		{Type: OrderDelivered, On: []string{order.TypeOrderDelivered},
			SMSVars: []SMSVar{VarName, VarOrder, VarReview}},
		// The refund fields are set only for a paid order: an unpaid one is promised no refund.
		{Type: OrderCancelled, On: []string{order.TypeOrderCancelled},
			Fills:   []string{"CancelReason", "RefundAmount", "RefundDigits", "RefundExpectation"},
			SMSVars: []SMSVar{VarName, VarOrder, VarRefund}},
		// The refund of a payment the order could not take says which payment and why; its SMS, one
		// registered text, says only the amount.
		{Type: RefundProcessed, On: []string{order.TypeRefundProcessed, order.TypeUnexpectedRefundProcessed},
			Fills:   []string{"RefundAmount", "RefundDigits", "RefundExpectation", "RefundARN", "RefundedPayment", "RefundCause"},
			SMSVars: []SMSVar{VarName, VarOrder, VarAmount, VarDays}},
	}
}

// CommonFields are the MessageData fields every e-mail may say: the shop, the customer, the order
// and its lines.
func CommonFields() []string {
	return []string{"ShopName", "SupportEmail", "CustomerName", "OrderNumber", "Items", "Total", "TotalDigits"}
}

// SMSCommonFields are those of CommonFields an SMS may say: one short part has no room for the
// lines or the support address, and writes amounts in digits (Rs, never ₹). An SMS request stores
// no more, about a third of an e-mail's.
func SMSCommonFields() []string {
	return []string{"ShopName", "CustomerName", "OrderNumber", "TotalDigits"}
}

// LinkFields are the MessageData fields of Links: every message may carry them, and they are filled
// as it is sent, never stored.
func LinkFields() []string {
	return []string{"OrderURL", "ReviewURL", "SMSOrderURL", "SMSReviewURL"}
}

// Says reports whether k's messages on ch may say the MessageData field named field.
func (k Kind) Says(ch Channel, field string) bool {
	return slices.Contains(k.fields(ch), field)
}

// fields lists the MessageData fields k's messages on ch may say.
func (k Kind) fields(ch Channel) []string {
	common := CommonFields()
	if ch == SMS {
		common = SMSCommonFields()
	}
	return slices.Concat(k.Fills, common, LinkFields())
}

// Keep returns d with the fields k's messages on ch do not say left empty, so that a notification
// stores what its templates can show and nothing more.
func (k Kind) Keep(ch Channel, d MessageData) MessageData {
	says := k.fields(ch) // once, not per field: it runs per request
	v := reflect.ValueOf(&d).Elem()
	for i := range v.NumField() {
		if !slices.Contains(says, v.Type().Field(i).Name) {
			v.Field(i).SetZero()
		}
	}
	return d
}

// Types lists every notification type in lifecycle order.
func Types() []Type {
	var out []Type
	for _, k := range Catalogue() {
		out = append(out, k.Type)
	}
	return out
}

// KindOf returns the catalogue's row for t.
func KindOf(t Type) (Kind, bool) {
	for _, k := range Catalogue() {
		if k.Type == t {
			return k, true
		}
	}
	return Kind{}, false
}

// ParseType returns the type named s.
func ParseType(s string) (Type, error) {
	if k, ok := KindOf(Type(s)); ok {
		return k.Type, nil
	}
	return "", fmt.Errorf("%w: unknown notification type %q", order.ErrInvalidInput, s)
}

// KindFor returns the row of the notification an order event calls for (an old version of the event
// too), and false for events that notify nobody.
func KindFor(orderEventType string) (Kind, bool) {
	current := order.CurrentType(orderEventType)
	for _, k := range Catalogue() {
		if slices.Contains(k.On, current) {
			return k, true
		}
	}
	return Kind{}, false
}

// TypeFor returns the notification an order event calls for, and false for events that notify nobody.
func TypeFor(orderEventType string) (Type, bool) {
	k, ok := KindFor(orderEventType)
	return k.Type, ok
}
