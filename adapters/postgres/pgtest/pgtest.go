// Package pgtest gives each test a fresh, migrated PostgreSQL database of its own and drops it when the
// test ends. It talks to the server in TEST_DATABASE_URL, or the local default.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/migrations"
)

// DefaultURL is the local server tests use when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the server tests create their databases on.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// TB is the part of testing.TB that pgtest needs; benchmarks and tests both have it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	Name() string
}

// NewDatabase creates an empty, migrated database, drops it when tb ends, and returns its URL.
func NewDatabase(tb TB) string {
	tb.Helper()
	return NewDatabaseAt(tb, migrations.FS)
}

// NewDatabaseAt is NewDatabase with the migrations of fsys only (an upgrade test builds an older
// schema with them, then applies the rest).
func NewDatabaseAt(tb TB, fsys fs.FS) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(ServerURL())
	if err != nil {
		tb.Fatalf("pgtest: parse server URL: %v", err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v (is PostgreSQL running? pg_ctlcluster 15 main start)", postgres.Redact(ServerURL()), err)
	}
	defer admin.Close(context.Background())

	sweep(ctx, admin)
	name := DatabaseName()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			tb.Fatalf("pgtest: connect to drop %s: %v", name, err)
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Fatalf("pgtest: drop database %s: %v", name, err)
		}
	})

	dbCfg := cfg.Copy()
	dbCfg.Database = name
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", dbCfg.User, dbCfg.Host, dbCfg.Port, name)
	if dbCfg.Password != "" {
		url = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", dbCfg.User, dbCfg.Password, dbCfg.Host, dbCfg.Port, name)
	}
	pool, err := postgres.Connect(ctx, url, postgres.PoolOptions{MaxConns: 2})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool, fsys); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return url
}

// prefix starts every test database's name; the creation time follows it.
const prefix = "certibuy_test_"

// DatabaseName returns a fresh name for a test database. A test that creates its database by other
// means must name it so: sweep drops a test database whose name does not say it is recent.
func DatabaseName() string {
	// Lower case: the name goes unquoted into SQL.
	return fmt.Sprintf("%s%d_%s", prefix, time.Now().Unix(), strings.ToLower(rand.Text()[:12]))
}

// sweep drops test databases older than an hour that nobody is connected to: those of test processes
// that were killed before their cleanup ran (a fuzzing worker, an interrupted run).
func sweep(ctx context.Context, admin *pgx.Conn) {
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database d WHERE datname LIKE $1
		AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`, prefix+"%")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		ts, _, _ := strings.Cut(strings.TrimPrefix(n, prefix), "_")
		created, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(created, 0)) > time.Hour {
			// Without FORCE: a database someone connected to since the check stays.
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize())
		}
	}
}

// NewPool creates a fresh database (see NewDatabase) and returns a pool on it, closed when tb ends.
func NewPool(tb TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	url := NewDatabase(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := postgres.Connect(ctx, url, postgres.PoolOptions{MaxConns: maxConns})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	// Registered after the drop, so it runs before it: the pool must be closed before the database goes.
	tb.Cleanup(pool.Close)
	return pool
}

// NewDB is NewPool wrapped in a postgres.DB.
func NewDB(tb TB, maxConns int32) *postgres.DB {
	tb.Helper()
	return &postgres.DB{Pool: NewPool(tb, maxConns)}
}
