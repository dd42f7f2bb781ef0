package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certibuy/orders/adapters/postgres"
	"github.com/certibuy/orders/adapters/postgres/pgtest"
	"github.com/certibuy/orders/app/command"
)

// TestATokenInUseIsNotedOnceAMinuteNotAtEveryRequest: checking a bearer token writes its last use
// only when the last one noted is a minute old, so that an integration's every API call is not a
// write; a revoked token is still refused at once.
func TestATokenInUseIsNotedOnceAMinuteNotAtEveryRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, 2)
	admins, err := command.NewAdminUsers(postgres.NewAdminStore(db), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admins.CreateUser(ctx, "ops@certibuy.in", "Ops", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	token, info, err := admins.CreateToken(ctx, "ops@certibuy.in", "warehouse", 0)
	if err != nil {
		t.Fatal(err)
	}
	version := func() (xmin string, used *time.Time) {
		t.Helper()
		if err := db.Pool.QueryRow(ctx, `SELECT xmin::text, last_used_at FROM admin_tokens WHERE id = $1`, info.ID).Scan(&xmin, &used); err != nil {
			t.Fatal(err)
		}
		return xmin, used
	}
	authenticate := func() {
		t.Helper()
		u, err := admins.Authenticate(ctx, token)
		if err != nil || u.Email != "ops@certibuy.in" {
			t.Fatalf("authenticate: %+v, %v", u, err)
		}
	}

	authenticate()
	first, used := version()
	if used == nil {
		t.Fatal("the first use was not noted")
	}
	for range 5 {
		authenticate()
	}
	if again, _ := version(); again != first {
		t.Fatalf("uses within the minute wrote the token's row again (xmin %s, then %s)", first, again)
	}

	if _, err := db.Pool.Exec(ctx, `UPDATE admin_tokens SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, info.ID); err != nil {
		t.Fatal(err)
	}
	before, _ := version()
	authenticate()
	after, used := version()
	if after == before || used == nil || time.Since(*used) > time.Minute {
		t.Fatalf("a use after a minute was not noted: xmin %s then %s, last used %v", before, after, used)
	}

	if err := admins.RevokeToken(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := admins.Authenticate(ctx, token); !errors.Is(err, command.ErrUnauthenticated) {
		t.Fatalf("a revoked token: %v", err)
	}
}
