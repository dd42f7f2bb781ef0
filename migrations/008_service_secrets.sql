-- Keys the service makes for itself when the settings give none, such as the key that signs the
-- order links in customers' messages. Every process of one deployment reads the same key here, so a
-- link made by one opens the page served by another, and links survive a restart.
CREATE TABLE service_secrets (
    name       TEXT PRIMARY KEY,
    secret     BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
