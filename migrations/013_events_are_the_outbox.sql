-- The events table is the outbox. Watermill's subscribers read the events of a topic straight from
-- it (adapters/postgres/watermill.go), so an append writes each event once instead of twice (the
-- event, then its payload and metadata again in watermill_order_events).
--
-- topic: the Watermill topic an event is published on (order_events for order streams), NULL for
-- events no consumer group reads. stream_hash: es.StreamHash(stream_id), which the request
-- partitions select on (stream_hash % n = k); the event store computes it for every new event.
ALTER TABLE events ADD COLUMN topic TEXT, ADD COLUMN stream_hash BIGINT;

-- es.StreamHash (32-bit FNV-1a over the stream id's UTF-8 bytes) for the events already stored; a
-- test checks that both agree. A temporary function: new events get their hash from Go.
CREATE FUNCTION pg_temp.fnv1a32(s TEXT) RETURNS BIGINT LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    b BYTEA := convert_to(s, 'UTF8');
    h BIGINT := 2166136261;
BEGIN
    FOR i IN 0 .. octet_length(b) - 1 LOOP
        h := ((h # get_byte(b, i)) * 16777619) % 4294967296;
    END LOOP;
    RETURN h;
END $$;

UPDATE events e SET stream_hash = s.hash
FROM (SELECT stream_id, pg_temp.fnv1a32(stream_id) AS hash FROM (SELECT DISTINCT stream_id FROM events) d) s
WHERE s.stream_id = e.stream_id;
ALTER TABLE events ALTER COLUMN stream_hash SET NOT NULL;

-- Every event that was published through the old outbox is on its topic: a consumer group that has
-- not read it yet still will, and a new group reads from the start as before.
UPDATE events e SET topic = 'order_events'
FROM watermill_order_events m WHERE m.uuid = e.event_id::text;

-- A topic's select walks this index from the group's offset, in commit-safe order.
CREATE INDEX events_topic_commit_order ON events (topic, tx_id, position) WHERE topic IS NOT NULL;

-- The consumer groups keep their offsets table; an offset is now an event's position. An old offset
-- (transaction id, outbox offset) becomes (the same transaction id, the position of the last event
-- of that transaction it had acked): the outbox rows of a transaction were written in the order of
-- its events, and with the same transaction id, so nothing consumed comes again and nothing
-- unconsumed is skipped.
UPDATE watermill_offsets_order_events o SET offset_acked = coalesce((
    SELECT max(e.position) FROM watermill_order_events m JOIN events e ON e.event_id::text = m.uuid
    WHERE m.transaction_id = o.last_processed_transaction_id AND m."offset" <= o.offset_acked), 0);

DROP TABLE watermill_order_events;
