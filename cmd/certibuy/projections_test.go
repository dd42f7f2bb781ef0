package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/mail/smtptest"
	"github.com/certibuy/orders/adapters/sms/smstest"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
)

// TestProjectionsEqualARebuildAndAReplayNotifiesNobody drives 500 orders along random lifecycles
// through the application (checkout, payment, admin actions, cancellations with refunds), from
// several goroutines and a fixed seed. Every projection must then equal a rebuild from scratch, and
// rebuilding them all must send no e-mail and no SMS.
func TestProjectionsEqualARebuildAndAReplayNotifiesNobody(t *testing.T) {
	t.Parallel()
	smtp := smtptest.NewServer(t)
	msg91 := smstest.NewMSG91(t, "k")
	env := map[string]string{"SMTP_URL": smtp.URL(), "MSG91_AUTHKEY": "k", "MSG91_BASE_URL": msg91.URL(), "LOG_LEVEL": "warn"}
	for _, typ := range notification.Types() {
		env["MSG91_TEMPLATE_"+strings.ToUpper(string(typ))] = "tmpl_" + string(typ)
	}
	s := startService(t, env)
	ctx := context.Background()
	app := s.deps.App

	type step func(ctx context.Context, o command.PlaceOrderResult) error
	pay := func(ctx context.Context, o command.PlaceOrderResult) error {
		p, sig := s.deps.Simulator.Pay(o.Payment.GatewayOrderID)
		_, err := app.Commands.ConfirmPayment.Handle(ctx, command.ConfirmPayment{GatewayOrderID: o.Payment.GatewayOrderID, PaymentID: p, Signature: sig})
		return err
	}
	adminStep := func(action string) step {
		return func(ctx context.Context, o command.PlaceOrderResult) error {
			_, err := app.Commands.AdminTransition.Handle(ctx, command.AdminTransition{OrderID: o.OrderID, AdminID: "7", Action: action,
				Carrier: "Delhivery", TrackingID: "DLV" + o.OrderNumber})
			return err
		}
	}
	cancel := func(ctx context.Context, o command.PlaceOrderResult) error {
		_, err := app.Commands.CancelOrder.Handle(ctx, command.CancelOrder{OrderID: o.OrderID, AccessToken: o.AccessToken, Reason: "changed my mind"})
		return err
	}
	ship, ofd, deliver := adminStep(command.ActionShip), adminStep(command.ActionOutForDelivery), adminStep(command.ActionDeliver)
	paths := [][]step{{}, {pay}, {pay, ship}, {pay, ship, ofd}, {pay, ship, ofd, deliver}, {cancel}, {pay, cancel}}
	rng := rand.New(rand.NewPCG(42, 42))
	const orders = 500
	plans := make([][]step, orders)
	for i := range plans {
		plans[i] = paths[rng.IntN(len(paths))]
	}
	err := parallel(orders, 8, func(i int) error {
		o, err := app.Commands.PlaceOrder.Handle(es.WithCausation(ctx, es.Causation{Actor: es.Customer("guest")}), command.PlaceOrder{
			Customer:        command.CustomerInput{Name: "Asha Rao", Email: "asha@example.in", Phone: "9876543210"},
			Items:           []command.ItemInput{{SKU: "TEA-1", Name: "Assam tea", Quantity: int64(1 + i%3), UnitPricePaise: 34950}},
			ShippingAddress: command.AddressInput{Line1: "12 MG Road", City: "Bengaluru", State: "Karnataka", Pincode: "560001"}})
		if err != nil {
			return err
		}
		for _, st := range plans[i] {
			if err := st(ctx, o); err != nil {
				return fmt.Errorf("order %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Let the notifier finish and the projections catch up.
	waitFor(t, 120*time.Second, func() bool {
		return requestsCaughtUp(t, s.deps.Pool) &&
			s.count(t, `SELECT count(*) FROM notification_queue`) == 0 &&
			s.count(t, `SELECT count(*) FROM events WHERE type = 'notification.requested.v1'`) ==
				s.count(t, `SELECT count(*) FROM events WHERE type = 'notification.sent.v1'`)
	}, "the notifier never finished")
	assertReadModelsEqualARebuild(t, s.deps, 60*time.Second)
	if n := s.count(t, `SELECT count(*) FROM order_summary`); n != orders {
		t.Fatalf("%d order summaries", n)
	}

	mails, texts := len(smtp.Messages()), len(msg91.Received())
	notificationEvents := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'notification-%'`)
	if mails == 0 || texts == 0 {
		t.Fatal("the workload sent nothing: the replay check proves nothing")
	}
	if out, err := runCLI(t, s.cfg.DatabaseURL, "replay", "--projection", "all"); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	// Give a wrongly woken notifier the time it would need to send.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if len(smtp.Messages()) != mails || len(msg91.Received()) != texts {
			t.Fatalf("the replay sent messages: %d e-mails and %d SMS before, %d and %d after", mails, texts, len(smtp.Messages()), len(msg91.Received()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := s.count(t, `SELECT count(*) FROM events WHERE stream_id LIKE 'notification-%'`); n != notificationEvents {
		t.Fatalf("the replay appended %d notification events", n-notificationEvents)
	}
	if n := s.count(t, `SELECT count(*) FROM notification_log WHERE status = 'sent'`); n != s.count(t, `SELECT count(*) FROM events WHERE type = 'notification.sent.v1'`) {
		t.Fatalf("the rebuilt notification log shows %d sent", n)
	}
	// The rebuilt log keeps the room its pages leave for sends (migration 006).
	if n := s.count(t, `SELECT count(*) FROM pg_class WHERE relname = 'notification_log' AND 'fillfactor=30' = ANY(reloptions)`); n != 1 {
		t.Fatal("the rebuilt notification log lost its fillfactor")
	}
}
