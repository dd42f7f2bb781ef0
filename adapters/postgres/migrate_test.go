package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/migrations"
)

func TestMigrationsApplyOnceEvenWhenStartsRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A database with nothing applied: create it through EnsureDatabase, as `certibuy serve` does.
	cfg, err := pgx.ParseConfig(pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	name := pgtest.DatabaseName()
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	created, err := postgres.EnsureDatabase(ctx, url)
	if err != nil || !created {
		t.Fatalf("EnsureDatabase: created %v, %v", created, err)
	}
	t.Cleanup(func() {
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	if again, err := postgres.EnsureDatabase(ctx, url); err != nil || again {
		t.Fatalf("second EnsureDatabase: created %v, %v", again, err)
	}

	pool, err := postgres.Connect(ctx, url, postgres.PoolOptions{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pending, err := postgres.PendingMigrations(ctx, pool, migrations.FS)
	if err != nil || len(pending) == 0 {
		t.Fatalf("pending on an empty database: %v, %v", pending, err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			applied, err := postgres.Migrate(ctx, pool, migrations.FS)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += len(applied)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != len(pending) {
		t.Fatalf("four racing starts applied %d migrations in all, want each of the %d once", total, len(pending))
	}
	if left, err := postgres.PendingMigrations(ctx, pool, migrations.FS); err != nil || len(left) != 0 {
		t.Fatalf("pending after migrate: %v, %v", left, err)
	}
}
