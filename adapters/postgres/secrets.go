package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
)

// ServiceSecret returns the secret of this name, making a random one of size bytes the first time it
// is asked for. Processes starting together agree on one: the first insert wins and every process
// reads what was stored.
func (db *DB) ServiceSecret(ctx context.Context, name string, size int) ([]byte, error) {
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("make secret %s: %w", name, err)
	}
	var secret []byte
	var err error
	// A second try reads a secret that another process inserted after this statement's snapshot was
	// taken: the insert waited for it, then did nothing, and the select could not see it yet.
	for try := 0; try < 2; try++ {
		err = db.Q(ctx).QueryRow(ctx, `WITH ins AS (
				INSERT INTO service_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING secret)
			SELECT secret FROM ins UNION ALL SELECT secret FROM service_secrets WHERE name = $1 LIMIT 1`, name, fresh).Scan(&secret)
		if !isNoRows(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	return secret, nil
}
