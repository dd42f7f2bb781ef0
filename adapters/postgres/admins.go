package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/certibuy/orders/app/command"
)

// AdminStore keeps admin users and their API tokens (as SHA-256 hashes).
type AdminStore struct {
	db *DB
}

var _ command.AdminStore = (*AdminStore)(nil)

// NewAdminStore returns the store on db.
func NewAdminStore(db *DB) *AdminStore { return &AdminStore{db: db} }

// CreateUser inserts an admin user.
func (s *AdminStore) CreateUser(ctx context.Context, u command.AdminUser, passwordHash string) error {
	_, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO admin_users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)`,
		u.ID, u.Email, u.Name, passwordHash)
	if isCode(err, "23505") {
		return fmt.Errorf("%w: %s", command.ErrAdminExists, u.Email)
	}
	if err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	return nil
}

// UserByEmail finds an enabled admin and their password hash.
func (s *AdminStore) UserByEmail(ctx context.Context, email string) (command.AdminUser, string, error) {
	var u command.AdminUser
	var hash string
	err := s.db.Q(ctx).QueryRow(ctx, `SELECT id, email, name, password_hash FROM admin_users WHERE email = $1 AND disabled_at IS NULL`, email).
		Scan(&u.ID, &u.Email, &u.Name, &hash)
	if isNoRows(err) {
		return u, "", command.ErrAdminNotFound
	}
	if err != nil {
		return u, "", fmt.Errorf("find admin user: %w", err)
	}
	return u, hash, nil
}

// IssueToken stores the hash of a new random token and returns the token.
func (s *AdminStore) IssueToken(ctx context.Context, userID uuid.UUID, name string, expiresAt *time.Time) (string, command.AdminToken, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", command.AdminToken{}, fmt.Errorf("draw token: %w", err)
	}
	token := "cba_" + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	t := command.AdminToken{ID: uuid.New(), UserID: userID, Name: name, ExpiresAt: expiresAt}
	err := s.db.Q(ctx).QueryRow(ctx, `INSERT INTO admin_tokens (id, user_id, token_hash, name, expires_at) VALUES ($1, $2, $3, $4, $5)
		RETURNING created_at`, t.ID, userID, sum[:], name, expiresAt).Scan(&t.CreatedAt)
	if err != nil {
		return "", command.AdminToken{}, fmt.Errorf("issue token: %w", err)
	}
	return token, t, nil
}

// RevokeToken marks a token revoked.
func (s *AdminStore) RevokeToken(ctx context.Context, id uuid.UUID) error {
	tag, err := s.db.Q(ctx).Exec(ctx, `UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return command.ErrTokenNotFound
	}
	return nil
}

// RevokeOwnToken marks the token of this value revoked.
func (s *AdminStore) RevokeOwnToken(ctx context.Context, token string) error {
	sum := sha256.Sum256([]byte(token))
	tag, err := s.db.Q(ctx).Exec(ctx, `UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE token_hash = $1`, sum[:])
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return command.ErrTokenNotFound
	}
	return nil
}

// ListTokens lists a user's tokens, newest first.
func (s *AdminStore) ListTokens(ctx context.Context, userID uuid.UUID) ([]command.AdminToken, error) {
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT id, user_id, name, created_at, expires_at, revoked_at FROM admin_tokens
		WHERE user_id = $1 ORDER BY created_at DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []command.AdminToken
	for rows.Next() {
		var t command.AdminToken
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// UserByToken returns the admin a live token belongs to: not revoked, not expired, user enabled.
// It notes when the token was last used to the minute: an integration calling the API many times a
// second would otherwise commit a write, and wait for its flush, with every request.
func (s *AdminStore) UserByToken(ctx context.Context, token string) (command.AdminUser, error) {
	sum := sha256.Sum256([]byte(token))
	var u command.AdminUser
	err := s.db.Q(ctx).QueryRow(ctx, `WITH live AS (
			SELECT t.id, t.last_used_at, u.id AS user_id, u.email, u.name FROM admin_tokens t JOIN admin_users u ON u.id = t.user_id
			WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL)
		, touched AS (
			UPDATE admin_tokens t SET last_used_at = now() FROM live
			WHERE t.id = live.id AND (live.last_used_at IS NULL OR live.last_used_at < now() - interval '1 minute'))
		SELECT user_id, email, name FROM live`, sum[:]).Scan(&u.ID, &u.Email, &u.Name)
	if isNoRows(err) {
		return u, command.ErrUnauthenticated
	}
	if err != nil {
		return u, fmt.Errorf("check token: %w", err)
	}
	return u, nil
}

// DisableUser sets disabled_at (kept when already set) and revokes every live token of the admin,
// in one statement: no token outlives the disabling.
func (s *AdminStore) DisableUser(ctx context.Context, email string) (command.AccessChange, error) {
	var c command.AccessChange
	var was *time.Time
	err := s.db.Q(ctx).QueryRow(ctx, `WITH u AS (
			SELECT id, email, name, disabled_at FROM admin_users WHERE email = $1 FOR UPDATE)
		, d AS (
			UPDATE admin_users a SET disabled_at = now() FROM u WHERE a.id = u.id AND u.disabled_at IS NULL RETURNING a.disabled_at)
		, r AS (
			UPDATE admin_tokens t SET revoked_at = now() FROM u WHERE t.user_id = u.id AND t.revoked_at IS NULL RETURNING t.id)
		SELECT u.id, u.email, u.name, u.disabled_at, (SELECT disabled_at FROM d), (SELECT count(*) FROM r) FROM u`, email).
		Scan(&c.User.ID, &c.User.Email, &c.User.Name, &was, &c.DisabledAt, &c.Revoked)
	if isNoRows(err) {
		return c, command.ErrAdminNotFound
	}
	if err != nil {
		return c, fmt.Errorf("disable admin user: %w", err)
	}
	c.Changed = was == nil
	if was != nil {
		c.DisabledAt = was
	}
	return c, nil
}

// SetPassword replaces the password hash and revokes every live token of the admin, in one
// statement, when the admin is disabled exactly when enable is true; enabling clears disabled_at.
func (s *AdminStore) SetPassword(ctx context.Context, email, passwordHash string, enable bool) (command.AccessChange, error) {
	var c command.AccessChange
	err := s.db.Q(ctx).QueryRow(ctx, `WITH u AS (
			SELECT id, email, name, disabled_at FROM admin_users WHERE email = $1 FOR UPDATE)
		, p AS (
			UPDATE admin_users a SET password_hash = $2, disabled_at = NULL FROM u
			WHERE a.id = u.id AND (u.disabled_at IS NOT NULL) = $3 RETURNING a.id)
		, r AS (
			UPDATE admin_tokens t SET revoked_at = now() FROM p WHERE t.user_id = p.id AND t.revoked_at IS NULL RETURNING t.id)
		SELECT u.id, u.email, u.name, u.disabled_at, EXISTS (SELECT 1 FROM p), (SELECT count(*) FROM r) FROM u`,
		email, passwordHash, enable).
		Scan(&c.User.ID, &c.User.Email, &c.User.Name, &c.DisabledAt, &c.Changed, &c.Revoked)
	if isNoRows(err) {
		return c, command.ErrAdminNotFound
	}
	if err != nil {
		return c, fmt.Errorf("set admin password: %w", err)
	}
	if c.Changed {
		c.DisabledAt = nil
	}
	return c, nil
}

// Tokens lists the tokens of the admin with this e-mail (a disabled one too), or every admin's for
// "", newest first. It reads neither the token (never stored) nor its hash.
func (s *AdminStore) Tokens(ctx context.Context, email string) ([]command.TokenEntry, error) {
	if email != "" {
		var found bool
		if err := s.db.Q(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM admin_users WHERE email = $1)`, email).Scan(&found); err != nil {
			return nil, fmt.Errorf("find admin user: %w", err)
		}
		if !found {
			return nil, command.ErrAdminNotFound
		}
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT t.id, t.user_id, t.name, t.created_at, t.expires_at, t.revoked_at, u.email, t.last_used_at
		FROM admin_tokens t JOIN admin_users u ON u.id = t.user_id
		WHERE $1 = '' OR u.email = $1 ORDER BY t.created_at DESC, t.id`, email)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []command.TokenEntry
	for rows.Next() {
		var t command.TokenEntry
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.Email, &t.LastUsedAt); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}
