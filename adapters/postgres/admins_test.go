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

// TestDisablingAnAdminTwiceKeepsWhenAndRevokesWhatIsLive: the second disable keeps the first time
// and changes nothing, but still revokes a token issued meanwhile (a login racing the first).
func TestDisablingAnAdminTwiceKeepsWhenAndRevokesWhatIsLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t, 2)
	store := postgres.NewAdminStore(db)
	admins, err := command.NewAdminUsers(store, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	u, err := admins.CreateUser(ctx, "ops@certibuy.in", "Ops", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	first, err := admins.DisableUser(ctx, "ops@certibuy.in")
	if err != nil || !first.Changed || first.DisabledAt == nil || first.Revoked != 0 {
		t.Fatalf("disable: %+v, %v", first, err)
	}
	if _, _, err := store.IssueToken(ctx, u.ID, "login", nil); err != nil {
		t.Fatal(err)
	}
	again, err := admins.DisableUser(ctx, "ops@certibuy.in")
	if err != nil || again.Changed || again.DisabledAt == nil || !again.DisabledAt.Equal(*first.DisabledAt) || again.Revoked != 1 {
		t.Fatalf("disable again: %+v, %v (first %v)", again, err, first.DisabledAt)
	}
	tokens, err := admins.Tokens(ctx, "ops@certibuy.in")
	if err != nil || len(tokens) != 1 || tokens[0].RevokedAt == nil {
		t.Fatalf("tokens: %+v, %v", tokens, err)
	}
	if _, err := admins.DisableUser(ctx, "nobody@certibuy.in"); !errors.Is(err, command.ErrAdminNotFound) {
		t.Fatalf("disable no one: %v", err)
	}
	if _, err := admins.Tokens(ctx, "nobody@certibuy.in"); !errors.Is(err, command.ErrAdminNotFound) {
		t.Fatalf("tokens of no one: %v", err)
	}
}
