-- A queued notification's message is its request, the first event of its stream, which events
-- already holds: the queue row no longer carries a copy of it. The copy was written three times per
-- notification (the insert, and each claim's new version of the row), about a seventh of the WAL of
-- a shipped order. The claim reads the request from events by (stream_id, stream_version = 1).
-- Rows queued before this migration name a stream whose first event is its request too.
ALTER TABLE notification_queue DROP COLUMN payload;
