-- A queued notification's row keeps the version its stream had when it was queued, in place of a
-- JSON copy of its message's metadata (that version and a correlation id), which the insert and each
-- claim wrote again. The claim reads the correlation id from the event at that version, the one that
-- queued it (the request, a resend, a reroute), whose correlation id it was.
ALTER TABLE notification_queue ADD COLUMN stream_version INTEGER NOT NULL DEFAULT 1;
UPDATE notification_queue SET stream_version = (metadata::jsonb->>'stream_version')::int
    WHERE metadata::jsonb->>'stream_version' ~ '^[0-9]+$' AND metadata::jsonb->>'stream_version' <> '1';
ALTER TABLE notification_queue DROP COLUMN metadata;
