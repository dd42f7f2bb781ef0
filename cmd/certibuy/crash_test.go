package main

import (
	"context"
	"encoding/json"

	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/mail/smtptest"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/adapters/sms/smstest"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
	"github.com/certibuy/orders/domain/notification"
)

// TestAWorkerKilledMidwayLosesAndDoublesNothing runs the notifier as a separate `certibuy worker`
// process, kills it (SIGKILL) at a random point while 200 order events are being notified, and starts
// another, with the default lease. Every notification must end sent exactly once per event and
// channel, within seconds of the kill (a lease, not minutes); those in flight at the kill show the
// lost attempt as one whose outcome is unknown, then the attempt that sent it. The test logs how
// many messages reached a customer twice (a send the provider took just before the kill).
func TestAWorkerKilledMidwayLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	smtp := smtptest.NewServer(t)
	smtp.SetDelay(15 * time.Millisecond) // so that some sends are in flight when the worker dies
	msg91 := smstest.NewMSG91(t, "k")
	msg91.Delay(10 * time.Millisecond)
	env := map[string]string{
		"DATABASE_URL": pgtest.NewDatabase(t), "LOG_LEVEL": "warn", "LOG_FORMAT": "json",
		"SMTP_URL": smtp.URL(), "MSG91_AUTHKEY": "k", "MSG91_BASE_URL": msg91.URL(),
		"NOTIFY_BACKOFF": "50ms", "NOTIFY_CONCURRENCY": "8", "EVENTS_POLL_INTERVAL": "10ms",
		"NOTIFY_POLL_INTERVAL": "200ms", "MAIL_DIR": t.TempDir(), "METRICS_ADDR": "127.0.0.1:0",
	}
	for _, typ := range notification.Types() {
		env["MSG91_TEMPLATE_"+strings.ToUpper(string(typ))] = "tmpl_" + string(typ)
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := LoadConfig(getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	deps, err := OpenDeps(context.Background(), cfg, cfg.NewLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer deps.Close()

	startWorker := func(name string) (*exec.Cmd, *pgtest.LogBuffer) {
		cmd := exec.Command(bin, "worker")
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
		logs := &pgtest.LogBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		return cmd, logs
	}
	first, firstLogs := startWorker("first worker")
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = first.Process.Kill()
			_ = first.Wait()
		}
	})

	// 40 orders, each paid (PaymentSucceeded, OrderConfirmed), shipped, out for delivery and
	// delivered: 200 order events that notify, 400 notifications.
	const orders = 40
	sim := razorpay.Simulator{}
	admin := es.WithCausation(context.Background(), es.Causation{Actor: es.Admin("crash-test")})
	walked := make(chan error, 1)
	go func() { walked <- parallel(orders, orders, func(int) error { return walkOrder(admin, deps, sim) }) }()
	// Kill the worker once a random share of the messages has gone out.
	seed := uint64(time.Now().UnixNano())
	killAt := 40 + rand.New(rand.NewPCG(seed, 7)).IntN(280)
	t.Logf("seed %d: killing the first worker after %d messages", seed, killAt)
	waitFor(t, 60*time.Second, func() bool { return len(smtp.Messages())+len(msg91.Received()) >= killAt }, "the first worker sends nothing")
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	killed = true
	killedAt := time.Now()
	sentBeforeKill := len(smtp.Messages()) + len(msg91.Received())
	if err := <-walked; err != nil {
		t.Fatal(err)
	}

	second, secondLogs := startWorker("second worker")
	t.Cleanup(func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	})
	count := func(sql string) int {
		var n int
		if err := deps.Pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(90 * time.Second)
	for count(`SELECT count(*) FROM events WHERE type = 'notification.sent.v1'`) != 2*5*orders {
		if time.Now().After(deadline) {
			t.Fatalf("not every notification was sent:\nfirst worker:\n%s\nsecond worker:\n%s", firstLogs.String(), secondLogs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	settled := time.Since(killedAt)
	// A lease (15 s) and a poll after the kill, with room for a loaded machine: not the minutes a
	// long lease cost.
	if settled > 45*time.Second {
		t.Fatalf("every notification was settled %s after the kill", settled.Round(time.Second))
	}

	if n := count(`SELECT count(*) FROM events WHERE type = 'notification.requested.v1'`); n != 2*5*orders {
		t.Fatalf("%d notifications requested for %d event-channel pairs", n, 2*5*orders)
	}
	if n := count(`SELECT count(*) FROM (SELECT stream_id FROM events WHERE type = 'notification.sent.v1' GROUP BY stream_id HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d notifications sent twice", n)
	}
	// Attempts per notification: one, or, for those in flight when the worker died, the lost attempt
	// recorded as one whose outcome is unknown and the attempt that sent it.
	rows, err := deps.Pool.Query(context.Background(), `SELECT stream_id,
		count(*) FILTER (WHERE type = 'notification.delivery_attempted.v1'),
		count(*) FILTER (WHERE type = 'notification.delivery_attempted.v1' AND data->>'outcome' = 'unknown'
			AND data->>'error' = 'outcome unknown: the worker stopped, or could not record the answer' AND (data->>'attempt')::int = 1),
		max((data->>'attempts')::int) FILTER (WHERE type = 'notification.sent.v1')
		FROM events WHERE stream_id LIKE 'notification-%' GROUP BY stream_id`)
	if err != nil {
		t.Fatal(err)
	}
	lost := map[string]bool{}
	for rows.Next() {
		var stream string
		var answered, unknown, attempts int
		if err := rows.Scan(&stream, &answered, &unknown, &attempts); err != nil {
			t.Fatal(err)
		}
		switch {
		case answered == 1 && attempts == 1:
		case answered == 2 && unknown == 1 && attempts == 2:
			lost[stream] = true
		default:
			t.Errorf("%s: %d attempts recorded (%d unknown), sent at attempt %d", stream, answered, unknown, attempts)
		}
	}
	rows.Close()
	if len(lost) > 2*8 {
		t.Fatalf("%d notifications show a lost attempt, more than could be in flight", len(lost))
	}
	if len(lost) > 0 {
		// The log is a read model: wait for it to catch up with the streams.
		logged := func() int {
			return count(`SELECT count(*) FROM notification_log WHERE response_log::text LIKE '%outcome unknown: the worker stopped, or could not record the answer%'`)
		}
		deadline := time.Now().Add(30 * time.Second)
		for logged() != len(lost) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := logged(); n != len(lost) {
			t.Errorf("the notification log shows %d lost attempts, the streams %d", n, len(lost))
		}
	}
	// A message in flight may have reached the provider before the kill, so it may arrive twice;
	// every other one arrives exactly once. E-mails are told apart by their Message-ID, SMS by the
	// client reference they carry (the notification and the attempt).
	twice := 0
	perID := map[string]int{}
	for _, m := range smtp.Messages() {
		id := headerValue(m.Data, "Message-Id")
		perID[id]++
	}
	for id, n := range perID {
		stream := "notification-" + strings.TrimPrefix(strings.Split(id, "@")[0], "<")
		if n > 1 {
			twice++
			if !lost[stream] {
				t.Errorf("%s arrived %d times but shows no lost attempt", id, n)
			}
		}
	}
	if len(perID) != 5*orders {
		t.Fatalf("%d distinct e-mails, want %d", len(perID), 5*orders)
	}
	perSMS := map[string]int{}
	for _, r := range msg91.Received() {
		stream, attempt, ok := strings.Cut(r.CRQID, ".")
		if !ok || attempt == "" || !strings.HasSuffix(stream, "-sms") {
			t.Fatalf("an SMS went with the client reference %q, not the notification and attempt", r.CRQID)
		}
		perSMS["notification-"+stream]++
	}
	for stream, n := range perSMS {
		if n > 1 {
			twice++
			if !lost[stream] {
				t.Errorf("%s reached MSG91 %d times but shows no lost attempt", stream, n)
			}
		}
	}
	t.Logf("%d messages before the kill; %d notifications in flight at the kill; %d messages reached a customer twice; every notification settled %s after the kill",
		sentBeforeKill, len(lost), twice, settled.Round(100*time.Millisecond))
}

// walkOrder places an order and takes it to delivered through the application, as checkout, the
// gateway and an admin would.
func walkOrder(ctx context.Context, deps *Deps, sim razorpay.Simulator) error {
	var cmd command.PlaceOrder
	cmd.Customer = command.CustomerInput{Name: "Asha Rao", Email: "asha@example.in", Phone: "9876543210"}
	cmd.Items = []command.ItemInput{{SKU: "TEA-1", Name: "Assam tea", Quantity: 1, UnitPricePaise: 34950}}
	cmd.ShippingAddress = command.AddressInput{Line1: "12 MG Road", City: "Bengaluru", State: "Karnataka", Pincode: "560001"}
	res, err := deps.App.Commands.PlaceOrder.Handle(ctx, cmd)
	if err != nil {
		return err
	}
	pay, sig := sim.Pay(res.Payment.GatewayOrderID)
	if _, err := deps.App.Commands.ConfirmPayment.Handle(ctx, command.ConfirmPayment{GatewayOrderID: res.Payment.GatewayOrderID, PaymentID: pay, Signature: sig}); err != nil {
		return err
	}
	for _, action := range []string{command.ActionShip, command.ActionOutForDelivery, command.ActionDeliver} {
		if _, err := deps.App.Commands.AdminTransition.Handle(ctx, command.AdminTransition{OrderID: res.OrderID, AdminID: "crash-test",
			Action: action, Carrier: "DTDC", TrackingID: "D" + res.OrderNumber}); err != nil {
			return err
		}
	}
	return nil
}

func headerValue(raw []byte, name string) string {
	for _, line := range strings.Split(string(raw), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
		if line == "" {
			break
		}
	}
	return ""
}

// buildBinary builds certibuy for tests that run it as a separate process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "certibuy")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestServeStopsGracefullyOnSIGTERM starts `certibuy serve`, places an order, sends SIGTERM and
// expects a clean exit (status 0) with the shutdown logged.
func TestServeStopsGracefullyOnSIGTERM(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + pgtest.NewDatabase(t), "HTTP_ADDR=127.0.0.1:0",
		"METRICS_ADDR=", "LOG_FORMAT=json", "MAIL_DIR=" + t.TempDir()}
	logs := &pgtest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var addr string
	waitFor(t, 30*time.Second, func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"listening"`) {
				var entry struct{ Addr string }
				if json.Unmarshal([]byte(line), &entry) == nil && entry.Addr != "" {
					addr = entry.Addr
					return true
				}
			}
		}
		return false
	}, "serve never listened:\n"+logs.String())
	s := &testService{base: "http://" + addr, logs: logs}
	if res := s.do(t, "POST", "/api/v1/checkout", []byte(validCheckout), nil); res.status != 201 {
		t.Fatalf("checkout: %d %s", res.status, res.body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM:\n%s", logs.String())
	}
	for _, want := range []string{`"msg":"metrics off: METRICS_ADDR is empty"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("the log lacks %s:\n%s", want, logs.String())
		}
	}
}
