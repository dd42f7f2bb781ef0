-- A queued notification's payload and metadata are written and read whole, never queried inside:
-- kept as text, they are no longer parsed into JSONB on every insert and printed back on every claim.
ALTER TABLE notification_queue
    ALTER COLUMN payload TYPE TEXT USING payload::text,
    ALTER COLUMN metadata TYPE TEXT USING metadata::text;
