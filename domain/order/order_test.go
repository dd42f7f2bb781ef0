package order_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/certibuy/orders/domain/order"
)

func mustMoney(t *testing.T, p int64) order.Money {
	t.Helper()
	m, err := order.NewMoney(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func validInput(t *testing.T) order.PlaceInput {
	t.Helper()
	email, err := order.NewEmail("asha@example.in")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := order.NewPhone("98765 43210")
	if err != nil {
		t.Fatal(err)
	}
	num, err := order.ParseNumber("CB-7K3M9Q2X")
	if err != nil {
		t.Fatal(err)
	}
	return order.PlaceInput{
		ID:       uuid.New(),
		Number:   num,
		Customer: order.Customer{Name: "Asha Rao", Email: email, Phone: phone},
		Lines: []order.Line{
			{SKU: "TEA-1", Name: "Assam tea 500g", Quantity: 2, UnitPrice: mustMoney(t, 34950)},
			{SKU: "MUG-2", Name: "Steel tumbler", Quantity: 1, UnitPrice: mustMoney(t, 60000)},
		},
		Address: order.Address{Line1: "12 MG Road", City: "Bengaluru", State: "Karnataka", Pincode: "560001"},
	}
}

// steps walks a fresh order to each status; the test table starts from these.
var lifecycle = []struct {
	status order.Status
	step   func(o *order.Order) error
}{
	{order.StatusPlaced, func(o *order.Order) error { return nil }},
	{order.StatusPaid, func(o *order.Order) error {
		if err := o.RequestPayment("razorpay", "order_A"); err != nil {
			return err
		}
		return o.ReceivePayment(order.PaymentSucceeded{GatewayOrderID: "order_A", PaymentID: "pay_1", AmountPaise: o.Total().Paise(), Method: "upi"})
	}},
	{order.StatusConfirmed, func(o *order.Order) error { return o.Confirm() }},
	{order.StatusShipped, func(o *order.Order) error { return o.Ship("Delhivery", "DLV123", "") }},
	{order.StatusOutForDelivery, func(o *order.Order) error { return o.MarkOutForDelivery() }},
	{order.StatusDelivered, func(o *order.Order) error { return o.Deliver() }},
}

func orderIn(t *testing.T, s order.Status) *order.Order {
	t.Helper()
	o, err := order.Place(validInput(t))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("walking to %s: %v", s, err)
		}
	}
	walkTo := func(target order.Status) {
		for _, st := range lifecycle {
			must(st.step(o))
			if st.status == target {
				return
			}
		}
	}
	switch s {
	case order.StatusCancelled:
		must(o.Cancel("changed my mind"))
	case "cancelled_paid", order.StatusRefundPending, order.StatusRefunded:
		walkTo(order.StatusConfirmed)
		must(o.Cancel("out of stock"))
		if s != "cancelled_paid" {
			must(o.InitiateRefund(o.Payment().PaymentID, "rfnd_1", o.Payment().Amount))
		}
		if s == order.StatusRefunded {
			must(o.CompleteRefund(order.RefundProcessed{RefundID: "rfnd_1", AmountPaise: o.Total().Paise()}))
		}
	default:
		walkTo(s)
	}
	return clean(o)
}

// clean rebuilds the order from its events, as the repository does, so the test sees only new changes.
func clean(o *order.Order) *order.Order {
	r, err := order.FromHistory(o.Changes())
	if err != nil {
		panic(err)
	}
	return r
}

func TestPlaceComputesTheTotalFromTheLines(t *testing.T) {
	o, err := order.Place(validInput(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Total().Paise(); got != 2*34950+60000 {
		t.Fatalf("total = %d paise, want %d", got, 2*34950+60000)
	}
	if o.Status() != order.StatusPlaced || o.Version() != 1 {
		t.Fatalf("status %s version %d, want placed 1", o.Status(), o.Version())
	}
	ch := o.Changes()
	placed, ok := ch[0].(order.OrderPlaced)
	if len(ch) != 1 || !ok {
		t.Fatalf("changes = %#v, want one OrderPlaced", ch)
	}
	if placed.Customer.Phone != "+919876543210" || placed.Currency != "INR" || placed.TotalPaise != 129900 {
		t.Fatalf("OrderPlaced = %+v", placed)
	}
}

func TestPlaceRefusesBadInputNamingTheField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(in *order.PlaceInput)
		field string
	}{
		{"no items", func(in *order.PlaceInput) { in.Lines = nil }, "items"},
		{"quantity zero", func(in *order.PlaceInput) { in.Lines[1].Quantity = 0 }, "items[1].quantity"},
		{"negative quantity", func(in *order.PlaceInput) { in.Lines[0].Quantity = -3 }, "items[0].quantity"},
		{"huge quantity", func(in *order.PlaceInput) { in.Lines[0].Quantity = 1001 }, "items[0].quantity"},
		{"free item", func(in *order.PlaceInput) { in.Lines[0].UnitPrice = order.Money{} }, "items[0].unit_price_paise"},
		{"no sku", func(in *order.PlaceInput) { in.Lines[0].SKU = " " }, "items[0].sku"},
		{"no customer name", func(in *order.PlaceInput) { in.Customer.Name = "" }, "customer.name"},
		{"no email", func(in *order.PlaceInput) { in.Customer.Email = order.Email{} }, "customer.email"},
		{"no phone", func(in *order.PlaceInput) { in.Customer.Phone = order.Phone{} }, "customer.phone"},
		{"bad pincode", func(in *order.PlaceInput) { in.Address.Pincode = "06001" }, "shipping_address.pincode"},
		{"no city", func(in *order.PlaceInput) { in.Address.City = "" }, "shipping_address.city"},
		{"control character in name", func(in *order.PlaceInput) { in.Lines[0].Name = "tea\x00" }, "items[0].name"},
		{"total under a rupee", func(in *order.PlaceInput) {
			in.Lines = []order.Line{{SKU: "X", Name: "Sticker", Quantity: 1, UnitPrice: mustMoney(t, 99)}}
		}, "items"},
		{"total overflows", func(in *order.PlaceInput) {
			in.Lines[0].UnitPrice = mustMoney(t, 1<<62)
			in.Lines[0].Quantity = 4
		}, "items[0].unit_price_paise"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := validInput(t)
			c.edit(&in)
			o, err := order.Place(in)
			var fe *order.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("err = %v, want a FieldError on %s", err, c.field)
			}
			if !errors.Is(err, order.ErrInvalidInput) {
				t.Fatalf("err = %v is not ErrInvalidInput", err)
			}
			if o != nil {
				t.Fatalf("got an order for bad input")
			}
		})
	}
}

type action struct {
	name string
	do   func(o *order.Order) error
}

var (
	requestPayment = action{"request payment", func(o *order.Order) error { return o.RequestPayment("razorpay", "order_B") }}
	pay            = action{"pay", func(o *order.Order) error {
		return o.ReceivePayment(order.PaymentSucceeded{GatewayOrderID: o.Payment().GatewayOrderID, PaymentID: "pay_2", AmountPaise: o.Total().Paise()})
	}}
	failPayment = action{"fail payment", func(o *order.Order) error {
		return o.FailPayment(order.PaymentFailed{GatewayOrderID: o.Payment().GatewayOrderID, Code: "BAD_REQUEST_ERROR", Reason: "card declined"})
	}}
	confirm        = action{"confirm", func(o *order.Order) error { return o.Confirm() }}
	ship           = action{"ship", func(o *order.Order) error { return o.Ship("BlueDart", "BD42", "") }}
	outForDelivery = action{"out for delivery", func(o *order.Order) error { return o.MarkOutForDelivery() }}
	deliver        = action{"deliver", func(o *order.Order) error { return o.Deliver() }}
	cancel         = action{"cancel", func(o *order.Order) error { return o.Cancel("customer asked") }}
	refund         = action{"initiate refund", func(o *order.Order) error {
		return o.InitiateRefund(o.Payment().PaymentID, "rfnd_9", o.Payment().Amount)
	}}
	completeRefund = action{"complete refund", func(o *order.Order) error {
		return o.CompleteRefund(order.RefundProcessed{RefundID: o.Refund().ID, AmountPaise: o.Refund().Amount.Paise(), ARN: "ARN1"})
	}}
	failRefund = action{"fail refund", func(o *order.Order) error {
		return o.FailRefund(order.RefundFailed{RefundID: o.Refund().ID, Reason: "bank down"})
	}}
)

func TestEveryMoveFromEveryStatus(t *testing.T) {
	// want: the status after the move, or the error it must fail with. "" status with nil error means a no-op.
	type want struct {
		status order.Status
		event  string
		err    error
	}
	ok := func(s order.Status, ev string) want { return want{status: s, event: ev} }
	noop := want{}
	fail := func(err error) want { return want{err: err} }

	// cancelled_paid is a cancelled order that had been paid.
	table := map[order.Status]map[string]want{
		order.StatusPlaced: {
			requestPayment.name: ok(order.StatusPlaced, order.TypePaymentRequested),
			pay.name:            fail(order.ErrPaymentNotRequested),
			failPayment.name:    fail(order.ErrPaymentNotRequested),
			confirm.name:        fail(order.ErrIllegalTransition),
			ship.name:           fail(order.ErrIllegalTransition),
			outForDelivery.name: fail(order.ErrIllegalTransition),
			deliver.name:        fail(order.ErrIllegalTransition),
			cancel.name:         ok(order.StatusCancelled, order.TypeOrderCancelled),
			refund.name:         fail(order.ErrNotRefundable),
			completeRefund.name: fail(order.ErrIllegalTransition),
			failRefund.name:     fail(order.ErrRefundMismatch),
		},
		order.StatusPaid: {
			requestPayment.name: fail(order.ErrIllegalTransition),
			pay.name:            ok(order.StatusPaid, order.TypeUnexpectedPaymentReceived),
			failPayment.name:    noop,
			confirm.name:        ok(order.StatusConfirmed, order.TypeOrderConfirmed),
			ship.name:           fail(order.ErrIllegalTransition),
			outForDelivery.name: fail(order.ErrIllegalTransition),
			deliver.name:        fail(order.ErrIllegalTransition),
			cancel.name:         ok(order.StatusCancelled, order.TypeOrderCancelled),
			refund.name:         fail(order.ErrNotRefundable),
			completeRefund.name: fail(order.ErrIllegalTransition),
			failRefund.name:     fail(order.ErrRefundMismatch),
		},
		order.StatusConfirmed: {
			requestPayment.name: fail(order.ErrIllegalTransition),
			pay.name:            ok(order.StatusConfirmed, order.TypeUnexpectedPaymentReceived),
			failPayment.name:    noop,
			confirm.name:        fail(order.ErrIllegalTransition),
			ship.name:           ok(order.StatusShipped, order.TypeOrderShipped),
			outForDelivery.name: fail(order.ErrIllegalTransition),
			deliver.name:        fail(order.ErrIllegalTransition),
			cancel.name:         ok(order.StatusCancelled, order.TypeOrderCancelled),
			refund.name:         fail(order.ErrNotRefundable),
			completeRefund.name: fail(order.ErrIllegalTransition),
			failRefund.name:     fail(order.ErrRefundMismatch),
		},
		order.StatusShipped: {
			ship.name:           fail(order.ErrIllegalTransition),
			outForDelivery.name: ok(order.StatusOutForDelivery, order.TypeOrderOutForDelivery),
			deliver.name:        fail(order.ErrIllegalTransition),
			cancel.name:         fail(order.ErrCancelAfterShipping),
			refund.name:         fail(order.ErrNotRefundable),
			pay.name:            ok(order.StatusShipped, order.TypeUnexpectedPaymentReceived),
		},
		order.StatusOutForDelivery: {
			outForDelivery.name: fail(order.ErrIllegalTransition),
			deliver.name:        ok(order.StatusDelivered, order.TypeOrderDelivered),
			cancel.name:         fail(order.ErrCancelAfterShipping),
			ship.name:           fail(order.ErrIllegalTransition),
		},
		order.StatusDelivered: {
			deliver.name:        fail(order.ErrIllegalTransition),
			cancel.name:         fail(order.ErrCancelAfterShipping),
			outForDelivery.name: fail(order.ErrIllegalTransition),
			refund.name:         fail(order.ErrNotRefundable),
		},
		order.StatusCancelled: {
			requestPayment.name: fail(order.ErrIllegalTransition),
			pay.name:            fail(order.ErrPaymentNotRequested),
			confirm.name:        fail(order.ErrIllegalTransition),
			ship.name:           fail(order.ErrIllegalTransition),
			cancel.name:         fail(order.ErrIllegalTransition),
			refund.name:         fail(order.ErrNotRefundable),
			failPayment.name:    noop,
			failRefund.name:     noop,
		},
		"cancelled_paid": {
			refund.name:  ok(order.StatusRefundPending, order.TypeRefundInitiated),
			cancel.name:  fail(order.ErrIllegalTransition),
			ship.name:    fail(order.ErrIllegalTransition),
			confirm.name: fail(order.ErrIllegalTransition),
			pay.name:     ok(order.StatusCancelled, order.TypeUnexpectedPaymentReceived),
		},
		order.StatusRefundPending: {
			completeRefund.name: ok(order.StatusRefunded, order.TypeRefundProcessed),
			failRefund.name:     ok(order.StatusCancelled, order.TypeRefundFailed),
			refund.name:         fail(order.ErrNotRefundable),
			cancel.name:         fail(order.ErrIllegalTransition),
		},
		order.StatusRefunded: {
			completeRefund.name: noop,
			failRefund.name:     noop,
			refund.name:         fail(order.ErrNotRefundable),
			cancel.name:         fail(order.ErrIllegalTransition),
			ship.name:           fail(order.ErrIllegalTransition),
		},
	}
	actions := []action{requestPayment, pay, failPayment, confirm, ship, outForDelivery, deliver, cancel, refund, completeRefund, failRefund}
	for from, moves := range table {
		for _, a := range actions {
			w, listed := moves[a.name]
			if !listed {
				continue
			}
			t.Run(fmt.Sprintf("%s from %s", a.name, from), func(t *testing.T) {
				o := orderIn(t, from)
				before := o.Status()
				err := a.do(o)
				switch {
				case w.err != nil:
					if !errors.Is(err, w.err) {
						t.Fatalf("err = %v, want %v", err, w.err)
					}
					if len(o.Changes()) != 0 || o.Status() != before {
						t.Fatalf("a refused move recorded %v and moved to %s", o.Changes(), o.Status())
					}
				case w.status == "":
					if err != nil || len(o.Changes()) != 0 {
						t.Fatalf("want a no-op, got err %v and changes %v", err, o.Changes())
					}
				default:
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					ch := o.Changes()
					if len(ch) != 1 || ch[0].EventType() != w.event {
						t.Fatalf("changes = %v, want one %s", ch, w.event)
					}
					if o.Status() != w.status {
						t.Fatalf("status = %s, want %s", o.Status(), w.status)
					}
				}
			})
		}
	}
}

func TestPaymentChecks(t *testing.T) {
	o, err := order.Place(validInput(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.RequestPayment("razorpay", "order_A"); err != nil {
		t.Fatal(err)
	}
	total := o.Total().Paise()
	cases := []struct {
		name string
		p    order.PaymentSucceeded
		err  error
	}{
		{"another gateway order", order.PaymentSucceeded{GatewayOrderID: "order_Z", PaymentID: "pay_1", AmountPaise: total}, order.ErrPaymentMismatch},
		{"no payment id", order.PaymentSucceeded{GatewayOrderID: "order_A", AmountPaise: total}, order.ErrInvalidInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := clean(o)
			if err := o.ReceivePayment(c.p); !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if len(o.Changes()) != 0 {
				t.Fatalf("recorded %v", o.Changes())
			}
		})
	}
	t.Run("the same payment twice records it once", func(t *testing.T) {
		o := clean(o)
		p := order.PaymentSucceeded{GatewayOrderID: "order_A", PaymentID: "pay_1", AmountPaise: total}
		if err := o.ReceivePayment(p); err != nil {
			t.Fatal(err)
		}
		if err := o.ReceivePayment(p); err != nil {
			t.Fatalf("repeat: %v", err)
		}
		if len(o.Changes()) != 1 {
			t.Fatalf("changes = %v, want one PaymentSucceeded", o.Changes())
		}
		if o.Payment().Gateway != "razorpay" {
			t.Fatalf("gateway = %q, want it taken from the request", o.Payment().Gateway)
		}
	})
	t.Run("requesting the same gateway order again records nothing", func(t *testing.T) {
		o := clean(o)
		if err := o.RequestPayment("razorpay", "order_A"); err != nil || len(o.Changes()) != 0 {
			t.Fatalf("err %v changes %v", err, o.Changes())
		}
	})
}

func TestRefundChecks(t *testing.T) {
	o := orderIn(t, "cancelled_paid")
	if err := o.InitiateRefund(o.Payment().PaymentID, "rfnd_1", mustMoney(t, o.Total().Paise()+1)); !errors.Is(err, order.ErrInvalidInput) {
		t.Fatalf("refund over the paid amount: err = %v", err)
	}
	if err := o.InitiateRefund("pay_unknown", "rfnd_1", o.Total()); !errors.Is(err, order.ErrNotRefundable) {
		t.Fatalf("refund of a payment the order never had: err = %v", err)
	}
	if err := o.InitiateRefund(o.Payment().PaymentID, "rfnd_1", o.Total()); err != nil {
		t.Fatal(err)
	}
	if err := o.CompleteRefund(order.RefundProcessed{RefundID: "rfnd_other", AmountPaise: o.Total().Paise()}); !errors.Is(err, order.ErrRefundMismatch) {
		t.Fatalf("another refund id: err = %v", err)
	}
	if err := o.CompleteRefund(order.RefundProcessed{RefundID: "rfnd_1", AmountPaise: 1}); !errors.Is(err, order.ErrRefundMismatch) {
		t.Fatalf("another amount: err = %v", err)
	}
}

func TestFromHistoryRebuildsTheSameOrder(t *testing.T) {
	o := orderIn(t, order.StatusDelivered)
	// Rebuild from a round trip through JSON, as the store does.
	all := walk(t)
	var decoded []order.Event
	for _, e := range all.Changes() {
		data, err := jsonMarshal(e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := order.DecodeEvent(e.EventType(), data)
		if err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, d)
	}
	if !reflect.DeepEqual(decoded, all.Changes()) {
		t.Fatalf("JSON round trip changed events:\n%v\n%v", decoded, all.Changes())
	}
	r, err := order.FromHistory(decoded)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status() != order.StatusDelivered || r.Version() != 7 || r.StoredVersion() != 7 {
		t.Fatalf("rebuilt status %s version %d stored %d", r.Status(), r.Version(), r.StoredVersion())
	}
	if r.Shipment().TrackingID != "DLV123" || r.Payment().PaymentID != "pay_1" || r.Customer().Phone.String() != "+919876543210" {
		t.Fatalf("rebuilt order lost data: %+v %+v", r.Shipment(), r.Payment())
	}
	if o.Version() != r.Version() {
		t.Fatalf("versions differ: %d and %d", o.Version(), r.Version())
	}
	if _, err := order.FromHistory([]order.Event{order.OrderShipped{}}); err == nil {
		t.Fatal("a stream not starting with OrderPlaced rebuilt without error")
	}
}

func walk(t *testing.T) *order.Order {
	o, err := order.Place(validInput(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range lifecycle {
		if err := st.step(o); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// A payment captured for an order that was cancelled meanwhile (the customer paid in another tab) is
// the customer's money: the order records it, owes it back and keeps its status; the refund goes
// through its own steps, and repeated reports change nothing.
func TestAPaymentForACancelledOrderIsRecordedAndOwedBack(t *testing.T) {
	o, err := order.Place(validInput(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.RequestPayment("razorpay", "order_A"); err != nil {
		t.Fatal(err)
	}
	if err := o.Cancel("changed my mind"); err != nil {
		t.Fatal(err)
	}
	before := len(o.Changes())
	late := order.PaymentSucceeded{GatewayOrderID: "order_A", PaymentID: "pay_late", AmountPaise: o.Total().Paise(), Method: "upi"}
	if err := o.ReceivePayment(late); err != nil {
		t.Fatal(err)
	}
	if err := o.ReceivePayment(late); err != nil {
		t.Fatalf("the same payment again: %v", err)
	}
	ch := o.Changes()[before:]
	if len(ch) != 1 || ch[0].EventType() != order.TypeUnexpectedPaymentReceived {
		t.Fatalf("changes = %v, want one UnexpectedPaymentReceived", ch)
	}
	if got := ch[0].(order.UnexpectedPaymentReceived); got.PaymentID != "pay_late" || got.AmountPaise != o.Total().Paise() || got.Reason != "the order was cancelled" {
		t.Fatalf("recorded %+v", got)
	}
	if o.Status() != order.StatusCancelled || o.Payment().PaymentID != "" || o.NeedsRefund() {
		t.Fatalf("status %s, payment %q: the order must stay an unpaid cancelled one", o.Status(), o.Payment().PaymentID)
	}
	owed := o.OwedRefunds()
	if len(owed) != 1 || owed[0].PaymentID != "pay_late" || owed[0].Amount != o.Total() || owed[0].Attempt != 0 {
		t.Fatalf("owed refunds %+v", owed)
	}

	if err := o.InitiateRefund("pay_late", "rfnd_1", o.Total()); err != nil {
		t.Fatal(err)
	}
	if len(o.OwedRefunds()) != 0 || !o.AskedForRefund("rfnd_1") {
		t.Fatalf("after asking: owed %+v", o.OwedRefunds())
	}
	if err := o.FailRefund(order.RefundFailed{RefundID: "rfnd_1", Reason: "bank down"}); err != nil {
		t.Fatal(err)
	}
	if owed := o.OwedRefunds(); len(owed) != 1 || owed[0].Attempt != 1 {
		t.Fatalf("after a refused refund: owed %+v, want it owed again as attempt 1", owed)
	}
	if err := o.InitiateRefund("pay_late", "rfnd_2", o.Total()); err != nil {
		t.Fatal(err)
	}
	done := order.RefundProcessed{RefundID: "rfnd_2", AmountPaise: o.Total().Paise(), ARN: "ARN9"}
	if err := o.CompleteRefund(done); err != nil {
		t.Fatal(err)
	}
	if err := o.CompleteRefund(done); err != nil {
		t.Fatalf("the same report again: %v", err)
	}
	var types []string
	for _, e := range o.Changes()[before:] {
		types = append(types, e.EventType())
	}
	want := []string{order.TypeUnexpectedPaymentReceived, order.TypeUnexpectedRefundInitiated, order.TypeUnexpectedRefundFailed,
		order.TypeUnexpectedRefundInitiated, order.TypeUnexpectedRefundProcessed}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	if o.Status() != order.StatusCancelled {
		t.Fatalf("status %s: refunds of a payment the order could not take never move it", o.Status())
	}
	u := clean(o).UnexpectedPayments()
	if len(u) != 1 || !u[0].Refunded || u[0].Refund.ID != "rfnd_2" || u[0].Refund.ARN != "ARN9" || u[0].FailedRefunds != 1 {
		t.Fatalf("rebuilt from its events: %+v", u)
	}
}

// A payment on a placed order of another amount than its total, or in another currency, was taken by
// the gateway all the same: it is recorded with its amount and currency, owed back, and the order
// stays placed and can still be paid.
func TestAPaymentOfAnotherAmountOrCurrencyIsRecordedAndOwedBack(t *testing.T) {
	for _, c := range []struct {
		name, currency string
		amount         func(total int64) int64
		wantReason     string
	}{
		{"short", "INR", func(total int64) int64 { return total - 1 }, "paid ₹1,298.99 (129899 in the smallest unit of INR), the order is ₹1,299.00 (129900 paise)"},
		{"over", "INR", func(total int64) int64 { return total * 2 }, "paid ₹2,598.00 (259800 in the smallest unit of INR), the order is ₹1,299.00 (129900 paise)"},
		{"in dollars", "USD", func(total int64) int64 { return total }, "paid USD 1299.00 (129900 in the smallest unit of USD), the order is ₹1,299.00 (129900 paise)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := order.Place(validInput(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := o.RequestPayment("razorpay", "order_A"); err != nil {
				t.Fatal(err)
			}
			before := len(o.Changes())
			p := order.PaymentSucceeded{GatewayOrderID: "order_A", PaymentID: "pay_odd", AmountPaise: c.amount(o.Total().Paise()),
				Method: "card", Currency: c.currency}
			if err := o.ReceivePayment(p); err != nil {
				t.Fatal(err)
			}
			if err := o.ReceivePayment(p); err != nil {
				t.Fatalf("the same payment again: %v", err)
			}
			ch := o.Changes()[before:]
			if len(ch) != 1 || ch[0].EventType() != order.TypeUnexpectedPaymentReceived {
				t.Fatalf("changes = %v, want one UnexpectedPaymentReceived", ch)
			}
			got := ch[0].(order.UnexpectedPaymentReceived)
			if got.Cause != order.CauseWrongAmount || got.Reason != c.wantReason || got.AmountPaise != p.AmountPaise || got.Currency != c.currency {
				t.Fatalf("recorded %+v", got)
			}
			if o.Status() != order.StatusPlaced || o.Payment().PaymentID != "" {
				t.Fatalf("status %s, payment %q: the order must stay placed and unpaid", o.Status(), o.Payment().PaymentID)
			}
			owed := o.OwedRefunds()
			if len(owed) != 1 || owed[0].PaymentID != "pay_odd" || owed[0].Amount.Paise() != p.AmountPaise {
				t.Fatalf("owed refunds %+v", owed)
			}
			if u := clean(o).UnexpectedPayments(); len(u) != 1 || u[0].Currency != c.currency || u[0].Cause != order.CauseWrongAmount {
				t.Fatalf("rebuilt from its events: %+v", u)
			}
			right := order.PaymentSucceeded{GatewayOrderID: "order_A", PaymentID: "pay_right", AmountPaise: o.Total().Paise(), Currency: "INR"}
			if err := o.ReceivePayment(right); err != nil || o.Status() != order.StatusPaid {
				t.Fatalf("paying the order's total afterwards: %v, status %s", err, o.Status())
			}
		})
	}
}

// Payments stored before events carried a currency were all in rupees, and read so.
func TestPaymentsStoredWithoutACurrencyAreInRupees(t *testing.T) {
	stored := []struct{ typ, data string }{
		{order.TypePaymentSucceeded, `{"gateway":"razorpay","gateway_order_id":"order_A","payment_id":"pay_1","amount_paise":129900,"method":"upi"}`},
		{order.TypeUnexpectedPaymentReceived, `{"gateway":"razorpay","gateway_order_id":"order_A","payment_id":"pay_2","amount_paise":129900,"cause":"already_paid","reason":"the order was already paid by payment pay_1"}`},
	}
	o, err := order.Place(validInput(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.RequestPayment("razorpay", "order_A"); err != nil {
		t.Fatal(err)
	}
	history := o.Changes()
	for _, s := range stored {
		e, err := order.DecodeEvent(s.typ, []byte(s.data))
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, e)
	}
	r, err := order.FromHistory(history)
	if err != nil {
		t.Fatal(err)
	}
	if r.Payment().Currency != "INR" || r.UnexpectedPayments()[0].Currency != "INR" || r.Status() != order.StatusPaid {
		t.Fatalf("payment %+v, unexpected %+v", r.Payment(), r.UnexpectedPayments())
	}
	data, err := jsonMarshal(order.PaymentSucceeded{PaymentID: "pay_1"})
	if err != nil || string(data) != `{"gateway":"","gateway_order_id":"","payment_id":"pay_1","amount_paise":0,"method":""}` {
		t.Fatalf("a payment without a currency is written %s (%v): the field must stay optional", data, err)
	}
}

// Asking again for a refund the order does not owe says why: refunded already, waiting for the
// gateway, or nothing was ever paid.
func TestARefundThatIsNotOwedSaysWhy(t *testing.T) {
	for _, c := range []struct {
		status order.Status
		err    error
		says   string
	}{
		{order.StatusRefunded, order.ErrAlreadyRefunded, "no refund is outstanding: the order was already refunded"},
		{order.StatusRefundPending, order.ErrRefundPending, "no refund is outstanding: its refund was asked for and is waiting for the gateway"},
		{order.StatusCancelled, order.ErrNotRefundable, "only a cancelled, paid order can be refunded"},
		{order.StatusPlaced, order.ErrNotRefundable, "only a cancelled, paid order can be refunded"},
		{"cancelled_paid", nil, ""},
	} {
		err := orderIn(t, c.status).CheckRefundOwed()
		if !errors.Is(err, c.err) || (err != nil && (!errors.Is(err, order.ErrIllegalTransition) || !strings.HasSuffix(err.Error(), c.says))) {
			t.Errorf("%s: err = %v, want %v", c.status, err, c.err)
		}
	}
	o := orderIn(t, order.StatusConfirmed)
	if err := o.ReceivePayment(order.PaymentSucceeded{GatewayOrderID: o.Payment().GatewayOrderID, PaymentID: "pay_2", AmountPaise: 1}); err != nil {
		t.Fatal(err)
	}
	if err := o.CheckRefundOwed(); err != nil {
		t.Fatalf("a second payment not yet refunded: %v", err)
	}
	if err := o.InitiateRefund("pay_2", "rfnd_2", mustMoney(t, 1)); err != nil {
		t.Fatal(err)
	}
	if err := o.CheckRefundOwed(); !errors.Is(err, order.ErrNoRefundOwed) || errors.Is(err, order.ErrNotRefundable) {
		t.Fatalf("once the second payment's refund is asked for: %v", err)
	}
}

// A second payment with another id on a paid order is refunded on its own; the order's payment and
// status stay as they were.
func TestASecondPaymentOnAPaidOrderLeavesTheFirstAlone(t *testing.T) {
	o := orderIn(t, order.StatusConfirmed)
	first := o.Payment()
	second := order.PaymentSucceeded{GatewayOrderID: first.GatewayOrderID, PaymentID: "pay_2", AmountPaise: o.Total().Paise()}
	if err := o.ReceivePayment(second); err != nil {
		t.Fatal(err)
	}
	if o.Payment() != first || o.Status() != order.StatusConfirmed || o.NeedsRefund() {
		t.Fatalf("payment %+v, status %s", o.Payment(), o.Status())
	}
	u := o.UnexpectedPayments()
	if len(u) != 1 || u[0].Reason != "the order was already paid by payment pay_1" {
		t.Fatalf("unexpected payments %+v", u)
	}
	if owed := o.OwedRefunds(); len(owed) != 1 || owed[0].PaymentID != "pay_2" {
		t.Fatalf("owed %+v, want pay_2 only", owed)
	}
	// Cancelling now owes both: the order's own payment and the second one.
	if err := o.Cancel("out of stock"); err != nil {
		t.Fatal(err)
	}
	if owed := o.OwedRefunds(); len(owed) != 2 || owed[0].PaymentID != "pay_1" || owed[1].PaymentID != "pay_2" {
		t.Fatalf("owed after cancelling %+v", owed)
	}
}

func TestShippingWritesTheCarriersTrackingPage(t *testing.T) {
	for _, c := range []struct{ carrier, id, url, wantCarrier, wantURL string }{
		{"delhivery", "DL 1", "", "Delhivery", "https://www.delhivery.com/track/package/DL%201"},
		{"BlueDart", "BD42", "", "Blue Dart", "https://www.bluedart.com/tracking?trackFor=0&trackNo=BD42"},
		{"Ekart", "FMPC1", "", "Ekart", "https://ekartlogistics.com/shipmenttrack/FMPC1"},
		{"Speed Post", "EE1IN", "", "India Post", "https://www.indiapost.gov.in/_layouts/15/dop.portal.tracking/trackconsignment.aspx?consignment=EE1IN"},
		{"other", "X1", "https://track.smartr.in/X1", "other", "https://track.smartr.in/X1"},
		{"Smartr", "X1", "https://track.smartr.in/X1", "Smartr", "https://track.smartr.in/X1"},
	} {
		o := orderIn(t, order.StatusConfirmed)
		if err := o.Ship(c.carrier, c.id, c.url); err != nil {
			t.Fatalf("%s: %v", c.carrier, err)
		}
		if s := o.Shipment(); s.Carrier != c.wantCarrier || s.TrackingURL != c.wantURL {
			t.Fatalf("%s: shipped with %+v", c.carrier, s)
		}
	}
	for _, bad := range []struct{ carrier, url string }{
		{"other", ""}, {"Smartr", ""}, {"other", "http://track.smartr.in/X1"}, {"other", "javascript:alert(1)"},
		{"other", "https://track.smartr.in/\"><script>"},
	} {
		o := orderIn(t, order.StatusConfirmed)
		var fe *order.FieldError
		if err := o.Ship(bad.carrier, "X1", bad.url); !errors.As(err, &fe) || fe.Field != "tracking_url" {
			t.Fatalf("%s with %q: err = %v, want a tracking_url error", bad.carrier, bad.url, err)
		}
		if len(o.Changes()) != 0 {
			t.Fatal("a refused shipment recorded something")
		}
	}
}

// A refund the gateway refused when asked is recorded as refused with its reason, stays owed with a
// new attempt, and after MaxRefusedRefunds refusals is handed over to staff; the same holds for the
// refund of a payment the order could not take.
func TestARefundRefusedWhenAskedStaysOwedAndIsHandedOverAfterThree(t *testing.T) {
	o := orderIn(t, "cancelled_paid")
	pay := o.Payment().PaymentID
	if err := o.ReceivePayment(order.PaymentSucceeded{GatewayOrderID: o.Payment().GatewayOrderID, PaymentID: "pay_late", AmountPaise: 100}); err != nil {
		t.Fatal(err)
	}
	before := len(o.Changes())
	for i := 1; i <= order.MaxRefusedRefunds; i++ {
		for _, p := range []string{pay, "pay_late"} {
			if err := o.RefuseRefund(p, "insufficient balance"); err != nil {
				t.Fatalf("refusal %d of %s: %v", i, p, err)
			}
		}
		owed := o.OwedRefunds()
		if len(owed) != 2 || owed[0].Attempt != i || owed[1].Attempt != i || owed[0].HandedOver() != (i == order.MaxRefusedRefunds) {
			t.Fatalf("after refusal %d: owed %+v", i, owed)
		}
	}
	got := o.Changes()[before:]
	if len(got) != 2*order.MaxRefusedRefunds {
		t.Fatalf("events %v", got)
	}
	if e, ok := got[0].(order.RefundFailed); !ok || e.RefundID != "" || e.Reason != "insufficient balance" {
		t.Fatalf("first event %#v", got[0])
	}
	if e, ok := got[1].(order.UnexpectedRefundFailed); !ok || e.PaymentID != "pay_late" || e.RefundID != "" {
		t.Fatalf("second event %#v", got[1])
	}
	if o.Status() != order.StatusCancelled || o.LastRefundRefusal() != "insufficient balance" || o.UnexpectedPayments()[0].LastRefusal != "insufficient balance" {
		t.Fatalf("status %s, refusals %q %q", o.Status(), o.LastRefundRefusal(), o.UnexpectedPayments()[0].LastRefusal)
	}
	if s := order.HistoryNote(got[0]); s != "refund refused: insufficient balance" {
		t.Fatalf("history note %q", s)
	}
	if err := o.RefuseRefund("pay_unknown", "x"); !errors.Is(err, order.ErrNotRefundable) {
		t.Fatalf("a payment the order never had: %v", err)
	}
	// Staff ask again: a refund asked for is no longer refusable as owed.
	if err := o.InitiateRefund(pay, "rfnd_4", o.Payment().Amount); err != nil {
		t.Fatal(err)
	}
	if err := o.RefuseRefund(pay, "x"); !errors.Is(err, order.ErrNotRefundable) {
		t.Fatalf("a refund pending: %v", err)
	}
}
