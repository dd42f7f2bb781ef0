-- The request handlers split the order events among partitions by stream, one consumer group each;
-- every group read every message and skipped those of the other partitions. With the stream's hash
-- stored with each message, a partition's select returns its own messages only. Messages written
-- before this migration have no hash: every partition reads them and the handlers skip them as before.
ALTER TABLE watermill_order_events ADD COLUMN stream_hash BIGINT;

-- Which partition a consumer group reads, written by its subscriber, so that the lag report counts
-- only the messages the group will read.
CREATE TABLE outbox_partitions (
    consumer_group TEXT PRIMARY KEY,
    partition      INTEGER NOT NULL,
    partitions     INTEGER NOT NULL CHECK (partitions > 0 AND partition >= 0 AND partition < partitions)
);
