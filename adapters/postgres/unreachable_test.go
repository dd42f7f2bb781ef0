package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
)

// IsUnreachable tells a database that does not answer (worth waiting for, a 503 to retry) from
// errors that waiting does not mend, with the errors pgx really returns.
func TestIsUnreachableTellsAnOutageFromAMistake(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connect := func(url string) error {
		c, err := pgx.Connect(ctx, url)
		if err == nil {
			_ = c.Close(ctx)
		}
		return err
	}
	down := pgtest.NewProxy(t, pgtest.ServerURL(), true)
	pool := pgtest.NewPool(t, 2)
	_, syntaxErr := pool.Exec(ctx, "SELEC 1")
	_, uniqueErr := pool.Exec(ctx, "CREATE TEMP TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1), (1)")
	host := strings.SplitN(strings.SplitN(pgtest.ServerURL(), "@", 2)[1], "/", 2)[0]

	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"refused":          {fmt.Errorf("begin: %w", connect(down.URL(pgtest.ServerURL()))), true},
		"starting up":      {&pgconn.PgError{Code: "57P03"}, true},
		"too many clients": {&pgconn.PgError{Code: "53300"}, true},
		"unknown role":     {connect("postgres://no_such_role_certibuy@" + host + "/postgres?sslmode=disable"), false},
		"bad URL":          {connect("postgres://postgres@127.0.0.1:notaport/x"), false},
		"syntax error":     {syntaxErr, false},
		"unique violation": {uniqueErr, false},
		"plain error":      {errors.New("something else"), false},
		"no rows":          {pgx.ErrNoRows, false},
		"cancelled by ctx": {context.Canceled, false},
		"nil":              {nil, false},
	} {
		if got := postgres.IsUnreachable(c.err); got != c.want {
			t.Errorf("%s: IsUnreachable(%v) = %v, want %v", name, c.err, got, c.want)
		}
	}
}
