package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/links"
	"github.com/certibuy/orders/adapters/mail"
	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/adapters/sms"
	"github.com/certibuy/orders/adapters/templates"
	"github.com/certibuy/orders/app"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/domain/notification"
	"github.com/certibuy/orders/domain/order"
	"github.com/certibuy/orders/migrations"
	"github.com/certibuy/orders/ports/events"
	httpport "github.com/certibuy/orders/ports/http"
)

// Deps is everything wired from the settings: the pool, the adapters and the application.
type Deps struct {
	Pool   *pgxpool.Pool
	DB     *postgres.DB
	Store  *postgres.EventStore
	Orders *postgres.OrderRepository
	// Runner keeps the read models current; replay rebuilds them.
	Runner *postgres.Runner
	App    app.Application
	// Simulator is set when payments are simulated.
	Simulator *razorpay.Simulator
	// Notifier use cases, run by the event routers rather than by ports.
	RequestNotifications command.RequestNotificationsHandler
	// RequestBatches is the request handlers' writer; the request groups' subscribers are given it too.
	RequestBatches      *postgres.RequestBatches
	DeliverNotification command.DeliverNotificationHandler
	// MailProvider and SMSProvider name where messages go, for the start-up log and doctor.
	MailProvider, SMSProvider string
	SMTP                      *mail.SMTPSender
	Mailer                    command.Mailer
	SMS                       command.SMSSender
	Renderer                  *templates.Renderer
	NotificationLog           *postgres.NotificationLogReader
	// Links makes the links in customers' messages and checks the tokens they carry.
	Links *links.Links
}

// OpenDeps creates the database when missing, migrates it and wires the application.
func OpenDeps(ctx context.Context, cfg Config, logger *slog.Logger) (*Deps, error) {
	created, err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("created database", "url", postgres.Redact(cfg.DatabaseURL))
	}
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL, postgres.PoolOptions{MaxConns: int32(cfg.DBMaxConns), ApplicationName: cfg.ProcessName})
	if err != nil {
		return nil, err
	}
	applied, err := postgres.Migrate(ctx, pool, migrations.FS)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if len(applied) > 0 {
		logger.Info("applied migrations", "names", strings.Join(applied, ","))
	}
	db := &postgres.DB{Pool: pool, Commits: postgres.NewCommitNotifier(pool, events.Logger(logger))}
	store := postgres.NewEventStore(db)
	orders := postgres.NewOrderRepository(store, postgres.NewRecentOrders(recentOrders))
	tokens := postgres.NewAccessTokens(db)
	auditor := postgres.NewAuditor(store)
	read := postgres.NewOrderReadModel(db)
	gateway, sim, err := paymentGateway(cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	maxTotal, err := order.NewMoney(cfg.MaxOrderTotalPaise)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("MAX_ORDER_TOTAL_PAISE: %w", err)
	}
	admins, err := command.NewAdminUsers(postgres.NewAdminStore(db), time.Now)
	if err != nil {
		pool.Close()
		return nil, err
	}
	runner := postgres.NewRunner(store, logger, projections(), postgres.WithWait(cfg.EventsWait()))
	notifications := postgres.NewNotificationRepository(store)
	mailer, smtp, err := newMailer(cfg.Notify)
	if err != nil {
		pool.Close()
		return nil, err
	}
	smsSender, err := newSMSSender(cfg.Notify, logger)
	if err != nil {
		pool.Close()
		return nil, err
	}
	renderer, err := templates.New()
	if err != nil {
		pool.Close()
		return nil, err
	}
	orderLinks, err := newLinks(ctx, cfg, db)
	if err != nil {
		pool.Close()
		return nil, err
	}
	requests := postgres.NewRequestBatches(store, orders, notifications, events.RequestLoadsOrder)
	d := &Deps{Pool: pool, DB: db, Store: store, Orders: orders, Runner: runner, Simulator: sim,
		RequestNotifications: command.NewRequestNotificationsHandler(requests, command.ShopInfo{
			Name: cfg.Notify.ShopName, SupportEmail: cfg.Notify.SupportEmail, RefundExpectation: cfg.Notify.RefundExpectation}),
		DeliverNotification: command.NewDeliverNotificationHandler(notifications, mailer, smsSender, renderer,
			MessageLinks{orderLinks}, cfg.Notify.Policy, time.Now, mailDomain(cfg.Notify.MailFrom), logger),
		MailProvider: mailer.Name(), SMSProvider: smsSender.Name(), SMTP: smtp,
		Mailer: mailer, SMS: smsSender, Renderer: renderer, NotificationLog: postgres.NewNotificationLogReader(db),
		Links: orderLinks, RequestBatches: requests,
	}
	d.App = app.Application{
		Commands: app.Commands{
			PlaceOrder:         command.NewPlaceOrderHandler(orders, db, postgres.NewIdempotencyStore(db), tokens, gateway, rand.Reader).WithMaxTotal(maxTotal),
			ConfirmPayment:     command.NewConfirmPaymentHandler(orders, orders, gateway, orderLinks, logger),
			HandleWebhook:      command.NewHandleWebhookHandler(orders, orders, gateway, postgres.NewWebhookLog(db), db, logger),
			CancelOrder:        command.NewCancelOrderHandler(orders, command.AnyAccess{tokens, orderLinks}, gateway),
			AdminTransition:    command.NewAdminTransitionHandler(orders),
			ResendNotification: command.NewResendNotificationHandler(notifications),
			RetryRefund:        command.NewRetryRefundHandler(orders, gateway),
			SweepRefunds:       command.NewSweepRefundsHandler(read, orders, gateway),
			DeliveryReports: command.NewDeliveryReportsHandler(cfg.Notify.SMSWebhookToken,
				map[string]command.ReportParser{sms.ProviderMSG91: sms.MSG91Reports{}, sms.ProviderFast2SMS: sms.Fast2SMSReports{}},
				postgres.NewReportInbox(db), notifications, rerouteTo(cfg.Notify), logger),
		},
		Queries: app.Queries{
			CustomerOrder: query.NewCustomerOrderHandler(orders, command.AnyAccess{tokens, orderLinks}, read),
			AuditEvents:   query.NewAuditEventsHandler(auditor),
			OrderAsOf:     query.NewOrderAsOfHandler(auditor),
			ListOrders:    query.NewListOrdersHandler(read),
			AdminOrder:    query.NewAdminOrderHandler(orders, auditor, d.NotificationLog),
			OrderHistory:  query.NewOrderHistoryHandler(read),
			PaymentPage:   query.NewPaymentPageHandler(orders, orders),
			Notifications: query.NewListNotificationsHandler(d.NotificationLog),
			OrderPage:     query.NewOrderPageHandler(orders, orderLinks, auditor, cfg.Notify.RefundExpectation),
			ShortLink:     query.NewShortLinkHandler(orders, orderLinks),
		},
		Admins: admins,
	}
	wireConsoleQueries(&d.App.Queries, d, auditor, renderer, orderLinks)
	return d, nil
}

// projections are the read models the runner keeps current, and replay rebuilds.
func projections() []postgres.Projection {
	return []postgres.Projection{postgres.OrderSummary{}, postgres.StatusHistory{}, postgres.NotificationLog{}}
}

// newMailer sends through SMTP when SMTP_URL is set, else writes .eml files.
func newMailer(cfg NotifyConfig) (*mail.Port, *mail.SMTPSender, error) {
	if cfg.SMTPURL == "" {
		return mail.NewPort(mail.NewFileSender(cfg.MailDir).WithFrom(cfg.MailFrom), notification.ProviderFile), nil, nil
	}
	// As many kept connections as e-mails may be sent at once.
	s, err := mail.NewSMTPSender(mail.SMTPConfig{URL: cfg.SMTPURL, From: cfg.MailFrom, Timeout: cfg.SendTimeout, MaxIdle: cfg.Concurrency})
	if err != nil {
		return nil, nil, err
	}
	return mail.NewPort(s, "smtp"), s, nil
}

// newSMSSender builds the primary SMS provider and its fallback.
func newSMSSender(cfg NotifyConfig, logger *slog.Logger) (*sms.Port, error) {
	build := func(name string) (sms.Sender, error) {
		switch name {
		case "msg91":
			c := cfg.MSG91
			c.Timeout = cfg.SendTimeout
			return sms.NewMSG91(c)
		case "fast2sms":
			c := cfg.Fast2SMS
			c.Timeout = cfg.SendTimeout
			return sms.NewFast2SMS(c)
		case "log":
			return sms.NewLogSender(logger), nil
		}
		return nil, nil
	}
	primary, err := build(cfg.SMSProvider)
	if err != nil {
		return nil, err
	}
	secondary, err := build(cfg.SMSFallback)
	if err != nil {
		return nil, err
	}
	return sms.NewPort(sms.NewFallback(primary, secondary)), nil
}

// mailDomain is the domain of the sender address, for Message-IDs.
func mailDomain(from string) string {
	if i := strings.LastIndex(from, "@"); i >= 0 {
		return strings.TrimRight(from[i+1:], "> ")
	}
	return "certibuy.local"
}

// paymentGateway is Razorpay when configured, else the development simulator.
func paymentGateway(cfg Config) (command.PaymentGateway, *razorpay.Simulator, error) {
	if cfg.PaymentGateway == "razorpay" {
		g, err := razorpay.NewGateway(cfg.Razorpay)
		if err != nil {
			return nil, nil, err
		}
		return g, nil, nil
	}
	sim := &razorpay.Simulator{}
	return sim, sim, nil
}

// Ready reports whether the database answers and has every migration. The error's reason is what
// /readyz answers; the cause goes to the log.
func (d *Deps) Ready(ctx context.Context) error {
	pending, err := postgres.PendingMigrations(ctx, d.Pool, migrations.FS)
	if err != nil {
		return &httpport.NotReady{Reason: httpport.ReasonDatabaseUnreachable, Err: fmt.Errorf("database: %w", err)}
	}
	if len(pending) > 0 {
		return &httpport.NotReady{Reason: httpport.ReasonNotMigrated,
			Err: fmt.Errorf("database: %d migrations pending: %s", len(pending), strings.Join(pending, ", "))}
	}
	return nil
}

// Close ends the kept SMTP connections and closes the pool.
func (d *Deps) Close() {
	if d.SMTP != nil {
		_ = d.SMTP.Close()
	}
	d.DB.Commits.Close()
	d.Pool.Close()
}

// MessageLinks makes the order links of adapters/links the links of the notifier's messages.
type MessageLinks struct{ *links.Links }

// ForMessage returns the links of a message about the order, with a fresh token.
func (m MessageLinks) ForMessage(orderID uuid.UUID, number string) notification.Links {
	return notification.Links(m.Links.ForMessage(orderID, number))
}

// newLinks builds the order links under ORDER_LINK_SECRET, or under a key the database makes once
// and keeps, so that every process of the deployment signs and checks links alike.
func newLinks(ctx context.Context, cfg Config, db *postgres.DB) (*links.Links, error) {
	lc := cfg.Links
	lc.Key = []byte(cfg.OrderLinkSecret)
	if len(lc.Key) == 0 {
		var err error
		if lc.Key, err = db.ServiceSecret(ctx, "order_links", links.MinKeyBytes); err != nil {
			return nil, err
		}
	}
	now := cfg.LinkClock
	if now == nil {
		now = time.Now
	}
	return links.New(lc, now)
}

// rerouteTo says which provider an SMS rejected by one provider's template goes through instead:
// the other one, when both are configured.
func rerouteTo(n NotifyConfig) map[string]string {
	if n.SMSFallback == "none" || n.SMSFallback == "" || n.SMSProvider == "log" {
		return nil
	}
	return map[string]string{n.SMSProvider: n.SMSFallback, n.SMSFallback: n.SMSProvider}
}

// EventsWait is how the consumer groups and the projections wait for events.
func (c Config) EventsWait() postgres.WaitConfig {
	return postgres.WaitConfig{SafetyPoll: c.PollInterval, Recheck: c.Recheck}
}

// recentOrders is how many orders the repository keeps copies of to decide changes on (see
// postgres.RecentOrders): a few megabytes at most.
const recentOrders = 4096
