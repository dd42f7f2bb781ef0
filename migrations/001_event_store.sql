-- The event store: every change to an order (and later to a notification) is one row here.
CREATE TABLE events (
    position       BIGSERIAL PRIMARY KEY,
    -- The writing transaction's id. Readers follow (tx_id, position) and stop at the oldest
    -- transaction still running, so an append that commits late is never skipped.
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id      TEXT        NOT NULL,
    stream_version INTEGER     NOT NULL CHECK (stream_version > 0),
    event_id       UUID        NOT NULL UNIQUE,
    type           TEXT        NOT NULL,
    schema_version INTEGER     NOT NULL DEFAULT 1,
    data           JSONB       NOT NULL,
    metadata       JSONB       NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Optimistic concurrency: two writers cannot both append version N to one stream.
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_commit_order ON events (tx_id, position);

-- Order numbers are claimed in the same transaction as OrderPlaced, so no two orders share one.
CREATE TABLE order_numbers (
    order_number TEXT PRIMARY KEY,
    order_id     UUID NOT NULL UNIQUE
);

-- Checkout requests with an Idempotency-Key: the first response is kept and replayed.
CREATE TABLE idempotency_keys (
    scope        TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    request_hash BYTEA       NOT NULL,
    status_code  INTEGER     NOT NULL,
    response     JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- The outbox: watermill-sql's PostgreSQL tables for topic order_events, written in the same
-- transaction as the events, and its poison queue. Created here rather than by Watermill at run
-- time, so that the schema has one owner.
CREATE TABLE "watermill_order_events" (
    "offset"         BIGSERIAL,
    "uuid"           VARCHAR(36) NOT NULL,
    "created_at"     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload"        JSON DEFAULT NULL,
    "metadata"       JSON DEFAULT NULL,
    "transaction_id" xid8        NOT NULL,
    PRIMARY KEY ("transaction_id", "offset")
);

CREATE TABLE "watermill_offsets_order_events" (
    consumer_group                VARCHAR(255) NOT NULL,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8         NOT NULL,
    PRIMARY KEY (consumer_group)
);

CREATE TABLE "watermill_order_events_poison" (
    "offset"         BIGSERIAL,
    "uuid"           VARCHAR(36) NOT NULL,
    "created_at"     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload"        JSON DEFAULT NULL,
    "metadata"       JSON DEFAULT NULL,
    "transaction_id" xid8        NOT NULL,
    PRIMARY KEY ("transaction_id", "offset")
);

CREATE TABLE "watermill_offsets_order_events_poison" (
    consumer_group                VARCHAR(255) NOT NULL,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8         NOT NULL,
    PRIMARY KEY (consumer_group)
);

-- Order access tokens: shown to the customer once at checkout, stored only as a SHA-256 hash.
CREATE TABLE order_access_tokens (
    token_hash BYTEA PRIMARY KEY,
    order_id   UUID        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_access_tokens_order ON order_access_tokens (order_id);
