package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/google/uuid"

	"github.com/certibuy/orders/app/command"
)

// IdempotencyStore keeps first responses in idempotency_keys.
type IdempotencyStore struct {
	db *DB
}

// NewIdempotencyStore returns a store on db.
func NewIdempotencyStore(db *DB) *IdempotencyStore { return &IdempotencyStore{db: db} }

// Get returns the response stored under key, or nil.
func (s *IdempotencyStore) Get(ctx context.Context, scope, key string) (*command.StoredResponse, error) {
	var r command.StoredResponse
	err := s.db.Q(ctx).QueryRow(ctx,
		`SELECT request_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND key = $2`,
		scope, key).Scan(&r.RequestHash, &r.StatusCode, &r.Body)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	return &r, nil
}

// Save stores resp under key unless it is taken; a concurrent holder of the key makes the insert wait
// for its transaction, so the answer returned is always the one that committed.
func (s *IdempotencyStore) Save(ctx context.Context, scope, key string, resp command.StoredResponse) (*command.StoredResponse, error) {
	tag, err := s.db.Q(ctx).Exec(ctx,
		`INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT DO NOTHING`, scope, key, resp.RequestHash, resp.StatusCode, resp.Body)
	if err != nil {
		return nil, fmt.Errorf("save idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	stored, err := s.Get(ctx, scope, key)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, fmt.Errorf("idempotency key %q conflicted but is not stored", key)
	}
	return stored, nil
}

// AccessTokens issues and checks order access tokens, storing only their SHA-256.
type AccessTokens struct {
	db *DB
}

// NewAccessTokens returns a token store on db.
func NewAccessTokens(db *DB) *AccessTokens { return &AccessTokens{db: db} }

// Issue returns a new random token for the order.
func (s *AccessTokens) Issue(ctx context.Context, orderID uuid.UUID) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("draw access token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	if _, err := s.db.Q(ctx).Exec(ctx, `INSERT INTO order_access_tokens (token_hash, order_id) VALUES ($1, $2)`, sum[:], orderID); err != nil {
		return "", fmt.Errorf("store access token: %w", err)
	}
	return token, nil
}

// Opens reports whether token was issued for the order.
func (s *AccessTokens) Opens(ctx context.Context, orderID uuid.UUID, token string) (bool, error) {
	if token == "" {
		return false, nil
	}
	sum := sha256.Sum256([]byte(token))
	var ok bool
	err := s.db.Q(ctx).QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM order_access_tokens WHERE token_hash = $1 AND order_id = $2)`, sum[:], orderID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check access token: %w", err)
	}
	return ok, nil
}

// WebhookLog records handled webhook deliveries in webhook_events.
type WebhookLog struct {
	db *DB
}

// NewWebhookLog returns a log on db.
func NewWebhookLog(db *DB) *WebhookLog { return &WebhookLog{db: db} }

// Claim inserts the delivery id in the transaction in ctx; a concurrent claim waits on the unique key
// until the first transaction ends, then finds the id taken (or takes it, if the first rolled back).
func (l *WebhookLog) Claim(ctx context.Context, gateway, eventID string) (bool, error) {
	tag, err := l.db.Q(ctx).Exec(ctx, `INSERT INTO webhook_events (gateway, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, gateway, eventID)
	if err != nil {
		return false, fmt.Errorf("claim webhook %s: %w", eventID, err)
	}
	return tag.RowsAffected() == 1, nil
}
