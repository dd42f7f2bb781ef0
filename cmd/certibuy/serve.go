package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/migrations"
	"github.com/certibuy/orders/ports/events"
	httpport "github.com/certibuy/orders/ports/http"
)

func (m *Main) runServe(ctx context.Context, args []string, withHTTP bool) error {
	name := "serve"
	if !withHTTP {
		name = "worker"
	}
	fs := m.flagSet(name)
	var noEvents *bool
	if withHTTP {
		noEvents = fs.Bool("no-events", false, "answer HTTP only: leave the events (notifications, projections, sweeps, forwarding) to worker processes")
	}
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	cfg.NoEvents = noEvents != nil && *noEvents
	logger := cfg.NewLogger(m.Stderr)
	svc, err := StartService(ctx, cfg, logger, withHTTP)
	if errors.Is(err, errStoppedWaiting) {
		logger.Info("stopped before the database could be reached")
		return nil // a SIGTERM while waiting is an ordinary stop
	}
	if err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return svc.Stop(stopCtx)
}

// The application_name of a service's database connections: doctor looks for the first two to
// tell whether any process takes the events.
const (
	processServe         = "certibuy serve"
	processWorker        = "certibuy worker"
	processServeNoEvents = "certibuy serve --no-events"
)

// takerNames are the processes that take events.
func takerNames() []string { return []string{processServe, processWorker} }

func processName(withHTTP, noEvents bool) string {
	switch {
	case !withHTTP:
		return processWorker
	case noEvents:
		return processServeNoEvents
	}
	return processServe
}

// Service is a running certibuy: HTTP API (unless a worker), event router and database pool.
type Service struct {
	cfg      Config
	logger   *slog.Logger
	deps     *Deps
	http     *http.Server
	listener net.Listener
	// handler is what http answers with: the waiting handler until the API is built (startHTTP).
	handler *handoff
	api     *httpport.Server
	// registry holds the service's metrics; metricsHTTP serves them on METRICS_ADDR.
	registry        *prometheus.Registry
	metricsHTTP     *http.Server
	metricsListener net.Listener
	routers         []runningRouter
	cancel          context.CancelFunc
	// waker is the process's one LISTEN connection: it wakes the consumer groups, the delivery
	// queue's claimers and the projections when a commit has work for them.
	waker *postgres.Waker
	// projections stops the projection runner; projectionsDone reports its end.
	projections     context.CancelFunc
	projectionsDone chan error
	// sweeps are the periodic jobs (refunds still owed, delivery reports not folded yet).
	sweeps []sweep
	// feed forwards the events to JetStream when NATS_URL is set.
	feed *runningFeed
}

// sweep is a running periodic job: cancel stops it, done is closed when it has.
type sweep struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartService prepares the database, wires everything and starts serving. It returns once the HTTP
// API answers and the router is running. While the database cannot be reached it waits for it (see
// openDepsWaiting) until ctx ends; the HTTP listener is bound first, and answers meanwhile with
// httpport.WaitingForDatabase.
func StartService(ctx context.Context, cfg Config, logger *slog.Logger, withHTTP bool) (*Service, error) {
	cfg.ProcessName = processName(withHTTP, cfg.NoEvents)
	s := &Service{cfg: cfg, logger: logger, registry: prometheus.NewRegistry()}
	if withHTTP {
		if err := s.listenHTTP(); err != nil {
			return nil, err
		}
	}
	deps, err := openDepsWaiting(ctx, cfg, logger, dbWaitFirst, dbWaitMax)
	if err != nil {
		s.closeHTTP()
		return nil, err
	}
	s.deps, s.waker = deps, postgres.NewWaker(deps.Pool, events.Logger(logger), deps.DB.Commits)
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		postgres.NewStatsCollector(deps.DB, deps.Runner), postgres.NewOperationsCollector(deps.DB, deps.Runner))
	if cfg.NATS.URL != "" {
		s.registry.MustRegister(postgres.NewFeedCollector(deps.DB, postgres.FeedName(cfg.NATS.Stream)))
	}
	if deps.Simulator != nil {
		logger.Warn("payments are SIMULATED: no money moves; pay an order at " + cfg.PublicBaseURL +
			"/dev/pay/<gateway_order_id>; set RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET to use Razorpay")
	} else {
		logger.Info("payments go through Razorpay", "key_id", cfg.Razorpay.KeyID)
		if cfg.CheckoutSecret == "" {
			logger.Warn("checkout takes the prices it is sent, from anyone; set CHECKOUT_SECRET and sign checkouts in the storefront's server (docs/OPERATIONS.md)")
		}
	}
	if deps.SMTP == nil {
		logger.Warn("e-mail is written as .eml files under " + cfg.Notify.MailDir + "/; set SMTP_URL to send it")
	}
	if deps.SMSProvider == "log" {
		logger.Warn("SMS are logged, not sent; set MSG91_AUTHKEY or FAST2SMS_API_KEY to send them")
	}
	if cfg.NoEvents {
		logger.Info("taking no events (--no-events): notifications, projections and forwarding are left to worker processes")
	} else {
		pctx, cancel := context.WithCancel(context.Background())
		s.projections, s.projectionsDone = cancel, make(chan error, 1)
		go func() { s.projectionsDone <- deps.Runner.Run(pctx, s.waker) }()
		if err := s.startRouter(); err != nil {
			_ = s.Stop(context.Background())
			return nil, err
		}
		s.startRefundSweep()
		s.startReportSweep()
		s.startFeed()
	}
	if withHTTP {
		if err := s.startHTTP(); err != nil {
			_ = s.Stop(context.Background())
			return nil, err
		}
	}
	if err := s.startMetrics(); err != nil {
		_ = s.Stop(context.Background())
		return nil, err
	}
	s.logReady(withHTTP)
	return s, nil
}

// How long the long-running commands wait between attempts to reach the database at start-up: the
// first wait, doubled after each attempt up to the longest.
const (
	dbWaitFirst = time.Second
	dbWaitMax   = 30 * time.Second
)

// errStoppedWaiting is the end of a start-up that ctx ended while the database could not be reached.
var errStoppedWaiting = errors.New("stopped while waiting for the database")

// openDepsWaiting is OpenDeps for serve and worker: a database that cannot be reached yet (the host
// rebooted and PostgreSQL is not up, a failover during a deploy) is waited for, with a backoff from
// first doubling up to most, and one WARN line per attempt, rather than ending the process, which
// nothing would start again. A mistake that waiting does not mend (a bad URL, a refused login) fails
// at once; the one-shot commands call OpenDeps and fail fast.
func openDepsWaiting(ctx context.Context, cfg Config, logger *slog.Logger, first, most time.Duration) (*Deps, error) {
	start := time.Now()
	wait := first
	for attempt := 1; ; attempt++ {
		deps, err := OpenDeps(ctx, cfg, logger)
		if err == nil {
			if attempt > 1 {
				logger.Info("database reached", "url", postgres.Redact(cfg.DatabaseURL), "attempts", attempt,
					"waited", time.Since(start).Round(time.Second).String())
			}
			return deps, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", errStoppedWaiting, err)
		}
		if !postgres.IsUnreachable(err) {
			return nil, err
		}
		// The error names the host and user, never the password; the URL is redacted.
		logger.Warn("waiting for the database", "url", postgres.Redact(cfg.DatabaseURL), "attempt", attempt,
			"waited", time.Since(start).Round(time.Second).String(), "next_in", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", errStoppedWaiting, err)
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}

// logReady says in one line where to go: the API, the console and the metrics.
func (s *Service) logReady(withHTTP bool) {
	var attrs []any
	if withHTTP {
		attrs = append(attrs, "api", s.cfg.PublicBaseURL+"/api/v1", "console", s.cfg.PublicBaseURL+"/admin",
			"listen", s.listener.Addr().String())
	}
	metrics := "off (METRICS_ADDR is empty)"
	if s.metricsListener != nil {
		metrics = "http://" + s.metricsListener.Addr().String() + "/metrics"
	}
	s.logger.Info("ready", append(attrs, "metrics", metrics)...)
}

// startRefundSweep asks the gateway again, every RefundSweep, for the refunds still owed.
func (s *Service) startRefundSweep() {
	every := s.cfg.RefundSweep
	if every <= 0 {
		return
	}
	s.startSweep(every, func(ctx context.Context) {
		res, err := s.deps.App.Commands.SweepRefunds.Handle(ctx, command.SweepRefunds{OlderThan: every})
		for _, r := range res.Refused {
			// Recorded on the order; a warning, since the next sweep may ask again, until it is staff's.
			s.logger.Warn("refund sweep: the gateway refused a refund", "order_id", r.OrderID, "payment_id", r.Err.PaymentID,
				"reason", r.Err.Reason, "refusals", r.Err.Refusals, "handed_over_to_staff", r.Err.HandedOver())
		}
		if err != nil && ctx.Err() == nil {
			s.logger.Error("refund sweep", "asked", res.Asked, "failed", res.Failed, "error", err)
		} else if res.Asked > 0 {
			s.logger.Info("refund sweep", "asked", res.Asked)
		}
	})
}

// reportSweep is how often delivery reports that came before their attempt was recorded are tried
// again, and reportUnknownAfter how long one may wait for it before it counts as unknown.
const (
	reportSweep        = 5 * time.Second
	reportUnknownAfter = 30 * time.Minute
)

// startReportSweep folds the delivery reports kept while their attempt was not known.
func (s *Service) startReportSweep() {
	if s.cfg.Notify.SMSWebhookToken == "" {
		return // no reports come in
	}
	s.startSweep(reportSweep, func(ctx context.Context) {
		res, err := s.deps.App.Commands.DeliveryReports.Sweep(ctx, command.SweepReports{UnknownAfter: reportUnknownAfter, Now: time.Now()})
		if err != nil && ctx.Err() == nil {
			s.logger.Error("delivery report sweep", "applied", res.Applied, "unknown", res.Unknown, "error", err)
		}
	})
}

// startSweep runs fn every interval until the service stops.
func (s *Service) startSweep(every time.Duration, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	sw := sweep{cancel: cancel, done: make(chan struct{})}
	s.sweeps = append(s.sweeps, sw)
	go func() {
		defer close(sw.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fn(ctx)
		}
	}()
}

func (s *Service) startRouter() error {
	wlog := events.Logger(s.logger)
	retry := events.RetryConfig{MaxRetries: s.cfg.RetryMax, InitialInterval: s.cfg.RetryInitial,
		MaxInterval: s.cfg.RetryMaxDelay, Multiplier: 2, RandomizationFactor: 0.2}
	// The order-events router: its handlers only touch the database, in the transaction that
	// delivered the message (each attempt in a savepoint), so their writes commit with the offset.
	orders, err := events.NewRouter(events.Config{
		Retry:          retry,
		HandlerTimeout: s.cfg.HandlerTimeout,
		Subscribers: func(group string) (message.Subscriber, error) {
			var partition *postgres.Partition
			var batches *postgres.RequestBatches
			if p, ok := events.RequestPartitionOf(group); ok {
				// Each request partition selects its own orders' events, and no other, and keeps a
				// batch for the request handlers' writer.
				partition = &postgres.Partition{Index: p, Of: s.cfg.Notify.RequestPartitions}
				batches = s.deps.RequestBatches
			}
			return postgres.NewSubscriber(s.deps.Pool, group, postgres.SubscriberConfig{
				Partition: partition,
				Batches:   batches,
				Waker:     s.waker,
				Commits:   s.deps.DB.Commits,
				Wait:      s.cfg.EventsWait(),
				// Longer than every retry can take, so a message is never redelivered while still in hand.
				AckDeadline: 2*retry.Budget(s.cfg.HandlerTimeout) + 10*time.Second,
				// Handlers here only touch the database: a batch per transaction saves a commit per message.
				BatchSize: s.cfg.EventsBatchSize,
				// What they write (notification requests, queue rows) is acted on only by delivery
				// workers, whose claim commits in the ordinary way and so makes it durable first.
				Redoable: true,
			}, wlog)
		},
		Poison: postgres.NewTxPublisher(s.deps.Pool, wlog),
		Inner:  []message.HandlerMiddleware{postgres.JoinDeliveryTx},
		Logger: s.logger,
	})
	if err != nil {
		return err
	}
	if err := orders.AddGroup(events.EventLogGroup, events.EventLogHandlers(s.logger)...); err != nil {
		return err
	}
	for p := 0; p < s.cfg.Notify.RequestPartitions; p++ {
		if err := orders.AddGroup(events.RequestGroup(p), events.RequestHandlers(s.deps.RequestNotifications)...); err != nil {
			return err
		}
	}

	// The delivery router: it takes notifications from the queue, which holds no transaction while a
	// provider is slow, and many at once. Short waits are retried in the handler; longer ones go back
	// to the queue; a notification that failed for good goes to the poison topic.
	n := s.cfg.Notify
	queue := postgres.NewQueueSubscriber(s.deps.Pool, postgres.QueueConfig{Concurrency: n.Concurrency,
		Lease: n.Lease, PollInterval: n.QueuePoll, RetryAfter: n.Policy.Backoff, Waker: s.waker}, wlog)
	delivery, err := events.NewRouter(events.Config{
		GroupTopics: map[string]string{events.EmailDeliveryGroup: command.EmailTopic, events.SMSDeliveryGroup: command.SMSTopic},
		PoisonTopic: events.NotificationsPoisonTopic,
		PoisonIf:    func(err error) bool { return !events.IsRetryLater(err) },
		RetryIf:     events.ShouldRetryDelivery,
		Outer:       []message.HandlerMiddleware{events.Requeue(n.InlineRetry)},
		Retry: events.RetryConfig{MaxRetries: 2, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second,
			Multiplier: 2, RandomizationFactor: 0.2},
		HandlerTimeout: 2*n.SendTimeout + 10*time.Second,
		Subscribers:    func(string) (message.Subscriber, error) { return queue, nil },
		Poison:         postgres.NewTxPublisher(s.deps.Pool, wlog),
		Logger:         s.logger,
		// A notification in the poison topic failed for good: the handler has logged why, at WARN.
		PoisonLogLevel: slog.LevelWarn,
	})
	if err != nil {
		return err
	}
	if err := delivery.AddGroup(events.EmailDeliveryGroup, events.SendEmailOnNotificationRequested(s.deps.DeliverNotification)); err != nil {
		return err
	}
	if err := delivery.AddGroup(events.SMSDeliveryGroup, events.SendSMSOnNotificationRequested(s.deps.DeliverNotification)); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, r := range []*events.Router{orders, delivery} {
		done := make(chan error, 1)
		s.routers = append(s.routers, runningRouter{r, done})
		go func() { done <- r.Run(ctx) }()
		select {
		case <-r.Running():
		case err := <-done:
			done <- err
			return fmt.Errorf("event router stopped at start: %w", err)
		case <-time.After(30 * time.Second):
			return errors.New("event router did not start within 30s")
		}
	}
	return nil
}

type runningRouter struct {
	*events.Router
	done chan error
}

// handoff is the HTTP server's handler, which startHTTP changes once: the server, its listener and
// the connections it holds stay, and the API takes over from the waiting handler.
type handoff struct{ current atomic.Pointer[http.Handler] }

func (h *handoff) set(next http.Handler) { h.current.Store(&next) }

func (h *handoff) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*h.current.Load()).ServeHTTP(w, r)
}

// listenHTTP binds HTTP_ADDR and serves httpport.WaitingForDatabase on it, before the database is
// reached: a load balancer or a liveness probe then finds a process that is up and not ready (503),
// not a refused connection, and a port taken by another process stops the start at once.
func (s *Service) listenHTTP() error {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.HTTPAddr, err)
	}
	s.listener, s.handler = ln, &handoff{}
	s.handler.set(httpport.WaitingForDatabase())
	s.http = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// closeHTTP stops the listener of a start that ends before it has its database.
func (s *Service) closeHTTP() {
	if s.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
}

// startHTTP builds the API and hands it the listener listenHTTP opened.
func (s *Service) startHTTP() error {
	lockout := httpport.DefaultLockoutPolicy()
	lockout.Now = s.cfg.LoginClock
	opts := httpport.Options{PublicBaseURL: s.cfg.PublicBaseURL, CheckoutLimit: s.cfg.CheckoutLimit, LoginLimit: s.cfg.LoginLimit,
		TrustedProxies: s.cfg.TrustedProxies, Lockout: httpport.NewLoginLockout(lockout),
		Shop: httpport.Shop{Name: s.cfg.Notify.ShopName, SupportEmail: s.cfg.Notify.SupportEmail}, RazorpayKeyID: s.cfg.Razorpay.KeyID,
		CheckoutSecret: []byte(s.cfg.CheckoutSecret), PaymentReturns: s.deps.Links}
	if s.deps.Simulator != nil {
		opts.Simulator = s.deps.Simulator
	}
	opts.Metrics = s.registry
	opts.Unavailable = postgres.IsUnreachable
	srv, err := httpport.NewServer(s.deps.App, s.logger, s.deps.Ready, opts)
	if err != nil {
		return err
	}
	s.api = srv
	s.handler.set(srv)
	s.logger.Info("listening", "addr", s.listener.Addr().String(), "public_url", s.cfg.PublicBaseURL)
	return nil
}

// startMetrics serves /metrics on METRICS_ADDR, a listener of its own: the public API port does not
// show the service's internals.
func (s *Service) startMetrics() error {
	if s.cfg.MetricsAddr == "" {
		s.logger.Info("metrics off: METRICS_ADDR is empty")
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on METRICS_ADDR %s: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.metricsListener = ln
	s.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		if err := s.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("metrics server stopped", "err", err)
		}
	}()
	s.logger.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return nil
}

// Addr is the address the HTTP API listens on.
func (s *Service) Addr() string { return s.listener.Addr().String() }

// MetricsAddr is the address /metrics is served on, or "" when it is off.
func (s *Service) MetricsAddr() string {
	if s.metricsListener == nil {
		return ""
	}
	return s.metricsListener.Addr().String()
}

// Stop stops accepting requests and lets those in flight finish, then drains the router and closes
// the pool.
func (s *Service) Stop(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if s.metricsHTTP != nil {
		if err := s.metricsHTTP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("metrics shutdown: %w", err))
		}
	}
	for _, sw := range s.sweeps {
		sw.cancel()
		<-sw.done
	}
	s.stopFeed()
	if err := s.stopRouters(); err != nil {
		errs = append(errs, err)
	}
	if err := s.stopProjections(); err != nil {
		errs = append(errs, fmt.Errorf("projections: %w", err))
	}
	s.waker.Close()
	s.deps.Close()
	s.logger.Info("stopped")
	return errors.Join(errs...)
}

// stopRouters closes the event routers, letting the handlers in flight finish; startRouter starts
// them again.
func (s *Service) stopRouters() error {
	var errs []error
	for _, r := range s.routers {
		if err := r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("router close: %w", err))
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	for _, r := range s.routers {
		if err := <-r.done; err != nil {
			errs = append(errs, fmt.Errorf("router: %w", err))
		}
	}
	s.routers, s.cancel = nil, nil
	return errors.Join(errs...)
}

func (s *Service) stopProjections() error {
	if s.projections == nil {
		return nil // --no-events, or stopped already
	}
	s.projections()
	s.projections = nil
	return <-s.projectionsDone
}

func (m *Main) runMigrate(ctx context.Context, args []string) error {
	fs := m.flagSet("migrate")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	if _, err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL, postgres.PoolOptions{MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := postgres.Migrate(ctx, pool, migrations.FS)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(m.Stdout, "database is up to date")
	}
	for _, name := range applied {
		fmt.Fprintln(m.Stdout, "applied", name)
	}
	return nil
}
