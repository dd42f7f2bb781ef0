package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// gather scrapes a registry holding the collectors of /metrics on db, by metric name.
func gather(t *testing.T, db *postgres.DB) map[string]*dto.MetricFamily {
	t.Helper()
	runner := postgres.NewRunner(postgres.NewEventStore(db), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(postgres.NewStatsCollector(db, runner), postgres.NewOperationsCollector(db, runner))
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range families {
		out[f.GetName()] = f
	}
	return out
}

// certibuy_database_up says whether the scrape reached the database, and is there when the other
// gauges are not: an alert on it fires during the very outage that empties the rest.
func TestDatabaseUpIsScrapedWhetherOrNotTheDatabaseAnswers(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, 2)
	up := gather(t, db)
	if f := up["certibuy_database_up"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("database answering: certibuy_database_up = %v", f)
	}
	if up["certibuy_notifications_queued"] == nil {
		t.Fatal("database answering: the queue gauges are missing")
	}

	// A pool on a port nothing listens on: what the service's pool is during an outage. (pgxpool.New
	// connects only when asked for a connection.)
	proxy := pgtest.NewProxy(t, pgtest.ServerURL(), true)
	down, err := pgxpool.New(context.Background(), proxy.URL(pgtest.ServerURL()))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	got := gather(t, &postgres.DB{Pool: down})
	if f := got["certibuy_database_up"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Fatalf("database down: certibuy_database_up = %v", f)
	}
}
