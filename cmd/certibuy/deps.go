package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/razorpay"
	"github.com/certibuy/orders/app"
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
	"github.com/certibuy/orders/migrations"
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
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL, postgres.PoolOptions{MaxConns: int32(cfg.DBMaxConns)})
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
	db := &postgres.DB{Pool: pool}
	store := postgres.NewEventStore(db, postgres.WithWatermillLogger(watermill.NewSlogLogger(logger)))
	orders := postgres.NewOrderRepository(store)
	tokens := postgres.NewAccessTokens(db)
	auditor := postgres.NewAuditor(store)
	read := postgres.NewOrderReadModel(db)
	gateway, sim, err := paymentGateway(cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	admins, err := command.NewAdminUsers(postgres.NewAdminStore(db), time.Now)
	if err != nil {
		pool.Close()
		return nil, err
	}
	runner := postgres.NewRunner(store, logger, []postgres.Projection{postgres.OrderSummary{}, postgres.StatusHistory{}},
		postgres.WithPollInterval(cfg.PollInterval))
	d := &Deps{Pool: pool, DB: db, Store: store, Orders: orders, Runner: runner, Simulator: sim}
	d.App = app.Application{
		Commands: app.Commands{
			PlaceOrder:      command.NewPlaceOrderHandler(orders, db, postgres.NewIdempotencyStore(db), tokens, gateway, rand.Reader),
			ConfirmPayment:  command.NewConfirmPaymentHandler(orders, orders, gateway),
			HandleWebhook:   command.NewHandleWebhookHandler(orders, orders, gateway, postgres.NewWebhookLog(db), db),
			CancelOrder:     command.NewCancelOrderHandler(orders, tokens, gateway),
			AdminTransition: command.NewAdminTransitionHandler(orders),
		},
		Queries: app.Queries{
			CustomerOrder: query.NewCustomerOrderHandler(orders, tokens, read),
			AuditEvents:   query.NewAuditEventsHandler(auditor),
			OrderAsOf:     query.NewOrderAsOfHandler(auditor),
			ListOrders:    query.NewListOrdersHandler(read),
			AdminOrder:    query.NewAdminOrderHandler(orders, read, auditor),
			OrderHistory:  query.NewOrderHistoryHandler(read),
			PaymentPage:   query.NewPaymentPageHandler(orders, orders),
		},
		Admins: admins,
	}
	return d, nil
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

// Ready reports whether the database answers and has every migration.
func (d *Deps) Ready(ctx context.Context) error {
	pending, err := postgres.PendingMigrations(ctx, d.Pool, migrations.FS)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("database: %d migrations pending", len(pending))
	}
	return nil
}

// Close closes the pool.
func (d *Deps) Close() { d.Pool.Close() }
