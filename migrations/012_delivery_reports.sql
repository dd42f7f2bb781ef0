-- SMS delivery reports, as MSG91 and Fast2SMS post them, kept until each folds into the notification
-- whose attempt it names (a report can come before the attempt's own outcome is recorded), and
-- after: the same report posted again is the same row.
CREATE TABLE sms_delivery_reports (
    id          BIGSERIAL PRIMARY KEY,
    provider    TEXT        NOT NULL,
    request_id  TEXT        NOT NULL,
    number      TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    reason      TEXT        NOT NULL DEFAULT '',
    reference   TEXT        NOT NULL DEFAULT '',
    delivered   BOOLEAN     NOT NULL,
    rejected    BOOLEAN     NOT NULL,
    reported_at TIMESTAMPTZ,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set once the report folded into its notification (outcome 'applied', with the stream), or
    -- when no attempt has its request id ('unknown').
    settled_at  TIMESTAMPTZ,
    outcome     TEXT,
    stream_id   TEXT,
    UNIQUE (provider, request_id, number, status)
);
CREATE INDEX sms_delivery_reports_pending ON sms_delivery_reports (received_at) WHERE settled_at IS NULL;

-- Which attempt a provider's request id belongs to: reports name the request id the send was
-- answered with. Only attempts have the key, so the index holds nothing else.
CREATE INDEX events_provider_message_id ON events ((data->>'provider_message_id'))
    WHERE type = 'notification.delivery_attempted.v1';

-- The notification log shows what the provider reported beside sent.
ALTER TABLE notification_log
    ADD COLUMN delivery_status      TEXT,
    ADD COLUMN delivery_reason      TEXT,
    ADD COLUMN delivery_reported_at TIMESTAMPTZ;
