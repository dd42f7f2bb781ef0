-- Notifications waiting to be delivered: one row per notification, from its request until its
-- delivery is acknowledged (sent, or failed for good). Workers claim rows with a lease instead of
-- holding a transaction while they talk to a provider, so a slow provider holds back no other reader.
CREATE TABLE notification_queue (
    id          BIGSERIAL PRIMARY KEY,
    stream_id   TEXT        NOT NULL UNIQUE,
    topic       TEXT        NOT NULL,
    order_id    UUID        NOT NULL,
    payload     JSONB       NOT NULL,
    metadata    JSONB       NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until TIMESTAMPTZ,
    deliveries  INTEGER     NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notification_queue_due ON notification_queue (topic, due_at, id);
-- Per-order order: a row is claimable only when no earlier row of the same order and topic is left.
CREATE INDEX notification_queue_order ON notification_queue (order_id, topic, id);

-- The notification log: a projection of the notification events, so a replay rebuilds it.
CREATE TABLE notification_log (
    notification_id   TEXT PRIMARY KEY,
    order_id          UUID        NOT NULL,
    order_number      TEXT        NOT NULL,
    channel           TEXT        NOT NULL,
    notification_type TEXT        NOT NULL,
    event_type        TEXT        NOT NULL,
    order_event_id    UUID        NOT NULL,
    recipient         TEXT        NOT NULL,
    status            TEXT        NOT NULL,
    provider          TEXT,
    attempts          INTEGER     NOT NULL DEFAULT 0,
    response_log      JSONB       NOT NULL DEFAULT '[]',
    error_message     TEXT,
    message_id        TEXT,
    provider_message_id TEXT,
    sent_at           TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    version           INTEGER     NOT NULL
);
CREATE INDEX notification_log_created ON notification_log (created_at DESC, notification_id DESC);
CREATE INDEX notification_log_order ON notification_log (order_id);
CREATE INDEX notification_log_number ON notification_log (order_number);
CREATE INDEX notification_log_recipient ON notification_log (lower(recipient));
CREATE INDEX notification_log_status ON notification_log (status, created_at DESC);

-- Poison topic of the delivery handlers (watermill-sql tables, as for order_events_poison).
CREATE TABLE "watermill_notifications_poison" (
    "offset"         BIGSERIAL,
    "uuid"           VARCHAR(36) NOT NULL,
    "created_at"     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload"        JSON DEFAULT NULL,
    "metadata"       JSON DEFAULT NULL,
    "transaction_id" xid8        NOT NULL,
    PRIMARY KEY ("transaction_id", "offset")
);
CREATE TABLE "watermill_offsets_notifications_poison" (
    consumer_group                VARCHAR(255) NOT NULL,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8         NOT NULL,
    PRIMARY KEY (consumer_group)
);
