package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"

	gomail "github.com/go-mail/mail/v2"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/domain/es"
)

var shippedSubject = regexp.MustCompile(`Order (CB-[0-9A-Z]+) has shipped`)

// confirmedOrders places and pays n orders through the application and waits until their own
// notifications are out, so that what follows measures only the shipping e-mails.
func confirmedOrders(ctx context.Context, svc *Service, smtpSrv *benchSMTP, n int) ([]command.PlaceOrderResult, error) {
	app := svc.deps.App
	smtpSrv.reset()
	out := make([]command.PlaceOrderResult, n)
	err := parallel(n, 16, func(i int) error {
		o, err := app.Commands.PlaceOrder.Handle(ctx, command.PlaceOrder{
			Customer:        command.CustomerInput{Name: "Asha Rao", Email: "asha@example.in", Phone: "9876543210"},
			Items:           []command.ItemInput{{SKU: "TEA-1", Name: "Assam tea", Quantity: 1, UnitPricePaise: 34950}},
			ShippingAddress: command.AddressInput{Line1: "12 MG Road", City: "Bengaluru", State: "Karnataka", Pincode: "560001"}})
		if err != nil {
			return err
		}
		pay, sig := svc.deps.Simulator.Pay(o.Payment.GatewayOrderID)
		if _, err := app.Commands.ConfirmPayment.Handle(ctx, command.ConfirmPayment{GatewayOrderID: o.Payment.GatewayOrderID, PaymentID: pay, Signature: sig}); err != nil {
			return err
		}
		out[i] = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Two e-mails per paid order: payment received and confirmed.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		if _, count := smtpSrv.arrivals(); count >= 2*n {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the preparation e-mails did not all arrive")
		}
		time.Sleep(50 * time.Millisecond)
	}
	smtpSrv.reset()
	// The SMS, the sends' records and the read models may still be on their way: a measurement that
	// began now would pay for them.
	if err := quiesce(ctx, svc); err != nil {
		return nil, err
	}
	return out, nil
}

// quiesce waits until every consumer group has read the whole outbox, the delivery queue is empty and
// every projection has caught up.
func quiesce(ctx context.Context, svc *Service) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		busy, err := pipelineBusy(ctx, svc)
		if err != nil {
			return err
		}
		if !busy {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the preparation's notifications were not all done within 10 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pipelineBusy(ctx context.Context, svc *Service) (bool, error) {
	groups, err := postgres.OutboxLag(ctx, svc.deps.Pool)
	if err != nil {
		return false, fmt.Errorf("outbox lag: %w", err)
	}
	for _, g := range groups {
		if g.Behind > 0 {
			return true, nil
		}
	}
	var queued int
	if err := svc.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM notification_queue`).Scan(&queued); err != nil {
		return false, fmt.Errorf("queue length: %w", err)
	}
	if queued > 0 {
		return true, nil
	}
	lags, err := svc.deps.Runner.Lags(ctx)
	if err != nil {
		return false, err
	}
	for _, l := range lags {
		if l.Events > 0 {
			return true, nil
		}
	}
	return false, nil
}

func ship(ctx context.Context, svc *Service, o command.PlaceOrderResult) error {
	_, err := svc.deps.App.Commands.AdminTransition.Handle(es.WithCausation(ctx, es.Causation{Actor: es.Admin("bench")}),
		command.AdminTransition{OrderID: o.OrderID, AdminID: "bench", Action: command.ActionShip, Carrier: "DTDC", TrackingID: "D1"})
	return err
}

// benchNotifyLatency ships n orders at a steady 100 a second and measures, for each, the time from
// the commit of OrderShipped to the SMTP server accepting its e-mail. The baseline is the same
// server accepting an e-mail sent to it directly.
func benchNotifyLatency(ctx context.Context, w io.Writer, svc *Service, smtpSrv *benchSMTP, n int) error {
	smtpSrv.setDelay(0)
	orders, err := confirmedOrders(ctx, svc, smtpSrv, n)
	if err != nil {
		return err
	}
	committed := make(map[string]time.Time, n)
	tick := time.NewTicker(10 * time.Millisecond)
	for _, o := range orders {
		<-tick.C
		if err := ship(ctx, svc, o); err != nil {
			tick.Stop()
			return err
		}
		committed[o.OrderNumber] = time.Now()
	}
	tick.Stop()
	arrived, err := waitShipped(smtpSrv, n)
	if err != nil {
		return err
	}
	var lat []time.Duration
	for number, at := range arrived {
		lat = append(lat, at.Sub(committed[number]))
	}
	slices.Sort(lat)
	base, err := directSendLatency(smtpSrv, 200)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "baseline  direct SMTP send to the same server (go-mail, one at a time): p50 %s\n", base.Round(100*time.Microsecond))
	fmt.Fprintf(w, "notify    OrderShipped commit → SMTP accepted, %d events at 100/s: p50 %s, p99 %s, max %s  (p50 is %.1f× the direct send)\n",
		n, pct(lat, 50).Round(100*time.Microsecond), pct(lat, 99).Round(100*time.Microsecond), lat[len(lat)-1].Round(time.Millisecond),
		float64(pct(lat, 50))/float64(base))
	return nil
}

// benchNotifyThroughput measures e-mails per second through an SMTP server that takes 20 ms per
// message, twice: while n orders are being shipped (the service makes the events and notifies on the
// same two cores), and for a backlog of n shipped orders that the notifier finds when it starts (the
// notifier alone, as after an outage). With runs > 1 it does so runs times and reports the medians:
// on a shared machine single runs vary by a third. The baseline is 32 goroutines sending to the
// server directly.
func benchNotifyThroughput(ctx context.Context, w io.Writer, svc *Service, smtpSrv *benchSMTP, n, runs int, stats *statementStats) error {
	var live, backlog []float64
	for range runs {
		rate, err := shippedRate(ctx, w, svc, smtpSrv, n, false, stats)
		if err != nil {
			return err
		}
		live = append(live, rate)
		if rate, err = shippedRate(ctx, w, svc, smtpSrv, n, true, stats); err != nil {
			return err
		}
		backlog = append(backlog, rate)
	}
	smtpSrv.reset()
	smtpSrv.setDelay(20 * time.Millisecond)
	defer smtpSrv.setDelay(0)
	base, err := directSendRate(smtpSrv, 32, 1000)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "baseline  direct SMTP sends, 32 goroutines, 20 ms server: %8.0f e-mails/s\n", base)
	fmt.Fprintf(w, "notify    %d orders shipped meanwhile → e-mails through the 20 ms server: %s\n", n, rateSummary(live, base))
	fmt.Fprintf(w, "notify    backlog of %d shipped orders → e-mails through the 20 ms server: %s\n", n, rateSummary(backlog, base))
	return nil
}

// rateSummary prints one rate, or the median of several with their range, against the baseline.
func rateSummary(rates []float64, base float64) string {
	sorted := slices.Clone(rates)
	slices.Sort(sorted)
	median := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	if len(sorted) == 1 {
		return fmt.Sprintf("%8.0f e-mails/s  (%.2f of the direct baseline)", median, median/base)
	}
	return fmt.Sprintf("%8.0f e-mails/s, median of %d runs (%.0f–%.0f)  (%.2f of the direct baseline)",
		median, len(sorted), sorted[0], sorted[len(sorted)-1], median/base)
}

// shippedRate ships n confirmed orders and returns how many shipping e-mails a second arrived, from
// the first ship (or, for a backlog, from the start of the notifier) to the last e-mail.
func shippedRate(ctx context.Context, w io.Writer, svc *Service, smtpSrv *benchSMTP, n int, backlog bool, stats *statementStats) (float64, error) {
	smtpSrv.setDelay(0)
	orders, err := confirmedOrders(ctx, svc, smtpSrv, n)
	if err != nil {
		return 0, err
	}
	settle(ctx, svc)
	smtpSrv.setDelay(20 * time.Millisecond)
	defer smtpSrv.setDelay(0)
	if backlog {
		if err := svc.stopRouters(); err != nil {
			return 0, err
		}
	}
	time.Sleep(statsFlush) // the preparation's counters, before the phase's
	stats.reset(ctx, w, svc)
	cpuBefore, cpuErr := machineCPU()
	ownBefore, ownErr := processCPU()
	pgBefore, pgErr := databaseWork(ctx, svc)
	start := time.Now()
	if err := parallel(n, 16, func(i int) error { return ship(ctx, svc, orders[i]) }); err != nil {
		return 0, err
	}
	shipped := time.Since(start)
	if backlog {
		time.Sleep(statsFlush) // the ships' counters, before the backlog's
		if cpuBefore, cpuErr = machineCPU(); cpuErr != nil {
			return 0, cpuErr
		}
		if ownBefore, ownErr = processCPU(); ownErr != nil {
			return 0, ownErr
		}
		pgBefore, pgErr = databaseWork(ctx, svc)
		stats.reset(ctx, w, svc)
		start = time.Now()
		if err := svc.startRouter(); err != nil {
			return 0, err
		}
	}
	arrived, err := waitShipped(smtpSrv, n)
	if err != nil {
		return 0, err
	}
	var last time.Time
	for _, at := range arrived {
		if at.After(last) {
			last = at
		}
	}
	cpuAfter, err := machineCPU()
	ownAfter, ownAfterErr := processCPU()
	stats.print(ctx, w, svc, n)
	what := "shipped order: the ship, its e-mail and SMS"
	if backlog {
		what = "order in the backlog: its e-mail and SMS"
	}
	if cpuErr == nil && err == nil && ownErr == nil && ownAfterErr == nil {
		// A tick is 10 ms.
		fmt.Fprintf(w, "          (machine CPU per %s: %.2f ms, of which this process, with the bench's servers: %.2f ms)\n",
			what, float64(cpuAfter-cpuBefore)*10/float64(n), float64(ownAfter-ownBefore)/float64(time.Millisecond)/float64(n))
	}
	time.Sleep(statsFlush)
	if pgAfter, err := databaseWork(ctx, svc); pgErr == nil && err == nil {
		fmt.Fprintf(w, "          (PostgreSQL per order: %.2f write transactions, %.1f kB of WAL with %.2f full-page images, %.0f buffer accesses, %.1f rows written)\n",
			float64(pgAfter.xids-pgBefore.xids)/float64(n), float64(pgAfter.walBytes-pgBefore.walBytes)/1000/float64(n),
			float64(pgAfter.fullPages-pgBefore.fullPages)/float64(n),
			float64(pgAfter.buffers-pgBefore.buffers)/float64(n), float64(pgAfter.rows-pgBefore.rows)/float64(n))
	}
	var reqFirst, reqLast, sentFirst, sentLast time.Time
	_ = svc.deps.Pool.QueryRow(ctx, `SELECT min(recorded_at), max(recorded_at) FROM events WHERE type = 'notification.requested.v1' AND recorded_at >= $1`, start).Scan(&reqFirst, &reqLast)
	_ = svc.deps.Pool.QueryRow(ctx, `SELECT min(recorded_at), max(recorded_at) FROM events WHERE type = 'notification.sent.v1' AND recorded_at >= $1`, start).Scan(&sentFirst, &sentLast)
	fmt.Fprintf(w, "          (ships committed within %s; requests recorded %s to %s after the start; sends recorded %s to %s)\n",
		shipped.Round(time.Millisecond), reqFirst.Sub(start).Round(time.Millisecond), reqLast.Sub(start).Round(time.Millisecond),
		sentFirst.Sub(start).Round(time.Millisecond), sentLast.Sub(start).Round(time.Millisecond))
	return float64(n) / last.Sub(start).Seconds(), nil
}

// pgWork is how far PostgreSQL has gone: transaction ids handed out (one per transaction that
// writes), WAL written and the full-page images in it, and the bench database's buffer accesses
// and rows inserted, updated or deleted. A page's first change after a checkpoint writes the whole
// page (up to 8 kB) to the WAL; each phase starts just after one (settle), so its pages all pay
// that once, where a service between checkpoints minutes apart pays it once in many orders. Unlike CPU time, none depends on how busy the machine's host is, so they show a change in
// the work per order that the CPU figures are too noisy to show.
type pgWork struct {
	xids, walBytes, fullPages, buffers, rows int64
}

// statsFlush is how long PostgreSQL's backends may keep their buffer and row counts to themselves: a
// backend publishes them at most once a second, and one gone idle within a second.
const statsFlush = 1100 * time.Millisecond

// databaseWork reads pgWork without taking a transaction id of its own.
func databaseWork(ctx context.Context, svc *Service) (pgWork, error) {
	var p pgWork
	err := svc.deps.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, (SELECT wal_fpi FROM pg_stat_wal),
		blks_hit + blks_read, tup_inserted + tup_updated + tup_deleted
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&p.xids, &p.walBytes, &p.fullPages, &p.buffers, &p.rows)
	if err != nil {
		return p, fmt.Errorf("database work: %w", err)
	}
	return p, nil
}

// settle vacuums and analyzes the tables the preparation churned through, so that the measurement
// neither pays for the preparation's autovacuum nor depends on when it ran. A role without the
// rights is refused; the measurement then goes on without.
func settle(ctx context.Context, svc *Service) {
	_, _ = svc.deps.Pool.Exec(ctx, "VACUUM ANALYZE")
	// A checkpoint due in the middle of a measurement would make it pay for writing out the pages
	// the preparation dirtied.
	_, _ = svc.deps.Pool.Exec(ctx, "CHECKPOINT")
}

func waitShipped(smtpSrv *benchSMTP, n int) (map[string]time.Time, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		seen, _ := smtpSrv.arrivals()
		got := map[string]time.Time{}
		for subject, at := range seen {
			if m := shippedSubject.FindStringSubmatch(subject); m != nil {
				got[m[1]] = at
			}
		}
		if len(got) >= n {
			return got, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d shipping e-mails arrived", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[(len(sorted)-1)*p/100]
}

func directMessage(i int) *gomail.Message {
	m := gomail.NewMessage()
	m.SetHeader("From", "orders@certibuy.local")
	m.SetHeader("To", "asha@example.in")
	m.SetHeader("Subject", fmt.Sprintf("direct %d", i))
	m.SetBody("text/plain", "hello")
	m.AddAlternative("text/html", "<p>hello</p>")
	return m
}

func directDialer(smtpSrv *benchSMTP) *gomail.Dialer {
	host, port := splitHostPort(smtpSrv.addr)
	d := gomail.NewDialer(host, port, "", "")
	d.StartTLSPolicy = gomail.OpportunisticStartTLS
	d.Timeout = 10 * time.Second
	return d
}

func directSendLatency(smtpSrv *benchSMTP, n int) (time.Duration, error) {
	var lat []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := directDialer(smtpSrv).DialAndSend(directMessage(i)); err != nil {
			return 0, fmt.Errorf("direct send: %w", err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return pct(lat, 50), nil
}

func directSendRate(smtpSrv *benchSMTP, workers, n int) (float64, error) {
	start := time.Now()
	if err := parallel(n, workers, func(i int) error { return directDialer(smtpSrv).DialAndSend(directMessage(i)) }); err != nil {
		return 0, fmt.Errorf("direct send: %w", err)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
