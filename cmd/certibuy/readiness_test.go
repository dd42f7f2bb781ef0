package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/app"
	httpport "github.com/certibuy/orders/ports/http"
)

// /readyz says ready or not and why in a word; the database's user, name, address and error text go
// to the log only.
func TestReadinessNamesACauseAndNothingOfTheDatabase(t *testing.T) {
	t.Parallel()
	s := startService(t, nil)
	if res := s.do(t, "GET", "/readyz", nil, nil); res.status != http.StatusOK || string(res.body) != `{"status":"ready"}`+"\n" {
		t.Fatalf("ready service: %d %s", res.status, res.body)
	}
	if _, err := s.deps.Pool.Exec(context.Background(), `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	res := s.do(t, "GET", "/readyz", nil, nil)
	if res.status != http.StatusServiceUnavailable || string(res.body) != `{"reason":"not_migrated","status":"unavailable"}`+"\n" {
		t.Fatalf("unmigrated database: %d %s", res.status, res.body)
	}
	if !strings.Contains(s.logs.String(), "migrations pending") {
		t.Fatalf("the log does not say why the service is not ready:\n%s", grepLines(s.logs.String(), "not ready"))
	}

	// A database that does not answer: the pool points at a port nobody listens on.
	pool, err := pgxpool.New(context.Background(), "postgres://shop_reader:hunter2@127.0.0.1:1/shop_secret_db?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	logs := &pgtest.LogBuffer{}
	srv, err := httpport.NewServer(app.Application{}, slog.New(slog.NewJSONHandler(logs, nil)), (&Deps{Pool: pool}).Ready, httpport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusServiceUnavailable || string(body) != `{"reason":"database_unreachable","status":"unavailable"}`+"\n" {
		t.Fatalf("unreachable database: %d %s", rec.Code, body)
	}
	for _, secret := range []string{"shop_reader", "shop_secret_db", "127.0.0.1", "hunter2"} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("/readyz tells %q: %s", secret, body)
		}
	}
	if !strings.Contains(logs.String(), "127.0.0.1") || strings.Contains(logs.String(), "hunter2") {
		t.Fatalf("the log lacks the cause, or holds the password: %s", logs.String())
	}
}
