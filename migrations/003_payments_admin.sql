-- Which order a gateway order belongs to: written in the same transaction as PaymentRequested, so
-- callbacks and webhooks find their order.
CREATE TABLE payment_requests (
    gateway_order_id TEXT PRIMARY KEY,
    order_id         UUID NOT NULL
);
CREATE INDEX payment_requests_order ON payment_requests (order_id);

-- Webhook deliveries already handled, by the gateway's delivery id (X-Razorpay-Event-Id). Claimed in
-- the same transaction as the order's events.
CREATE TABLE webhook_events (
    gateway     TEXT        NOT NULL,
    event_id    TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, event_id)
);

-- Admin users sign in with a password (bcrypt) and call the admin API with revocable bearer tokens,
-- stored as SHA-256 hashes.
CREATE TABLE admin_users (
    id            UUID PRIMARY KEY,
    email         TEXT        NOT NULL UNIQUE,
    name          TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at   TIMESTAMPTZ
);

CREATE TABLE admin_tokens (
    id           UUID PRIMARY KEY,
    user_id      UUID        NOT NULL REFERENCES admin_users (id),
    token_hash   BYTEA       NOT NULL UNIQUE,
    name         TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX admin_tokens_user ON admin_tokens (user_id);
