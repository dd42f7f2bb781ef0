-- Projections: read models built from the event store. Each stores its checkpoint (a place in the
-- commit-safe order) in the same transaction as its rows.
CREATE TABLE projection_checkpoints (
    name       TEXT PRIMARY KEY,
    tx_id      xid8        NOT NULL DEFAULT '0',
    position   BIGINT      NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per order, for the admin lists.
CREATE TABLE order_summary (
    order_id       UUID PRIMARY KEY,
    order_number   TEXT        NOT NULL UNIQUE,
    customer_name  TEXT        NOT NULL,
    customer_email TEXT        NOT NULL,
    customer_phone TEXT        NOT NULL,
    status         TEXT        NOT NULL,
    total_paise    BIGINT      NOT NULL,
    currency       TEXT        NOT NULL,
    item_count     INTEGER     NOT NULL,
    carrier        TEXT,
    tracking_id    TEXT,
    placed_at      TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    version        INTEGER     NOT NULL
);
CREATE INDEX order_summary_email ON order_summary (lower(customer_email));
CREATE INDEX order_summary_phone ON order_summary (customer_phone);
CREATE INDEX order_summary_status_placed ON order_summary (status, placed_at DESC);
CREATE INDEX order_summary_placed ON order_summary (placed_at DESC);

-- One row per status change, keyed by order and the event's position (unique, like the event id,
-- but in the order rows are read: one index serves both uniqueness and the per-order history).
CREATE TABLE order_status_history (
    event_id     UUID        NOT NULL,
    order_id     UUID        NOT NULL,
    order_number TEXT        NOT NULL,
    from_status  TEXT,
    to_status    TEXT        NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    actor        TEXT        NOT NULL,
    note         TEXT,
    position     BIGINT      NOT NULL,
    PRIMARY KEY (order_id, position)
);

-- Audit queries over millions of events: by type, actor and correlation id in commit order, and by time.
CREATE INDEX events_type ON events (type, tx_id, position);
CREATE INDEX events_actor ON events ((metadata->>'actor'), tx_id, position);
CREATE INDEX events_correlation ON events ((metadata->>'correlation_id'));
CREATE INDEX events_recorded_at ON events (recorded_at);
