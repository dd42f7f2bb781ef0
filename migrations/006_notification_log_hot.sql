-- A notification's log row is inserted when it is requested and updated once it is sent. That
-- update changed status, which an index held, so it could not be a heap-only (HOT) update: every
-- send wrote a new entry into each of the table's six indexes. The status filter's index gives way
-- to one on failed_at, which a send leaves alone (the filter for failed notifications needs an
-- index; pending and sent ones are found walking the newest first), and each page keeps room for
-- the updated versions of the rows inserted there, which are about twice their size.
ALTER TABLE notification_log ADD COLUMN failed_at TIMESTAMPTZ;
UPDATE notification_log SET failed_at = updated_at WHERE status = 'failed';
DROP INDEX notification_log_status;
CREATE INDEX notification_log_failed ON notification_log (created_at DESC, notification_id DESC) WHERE failed_at IS NOT NULL;
ALTER TABLE notification_log SET (fillfactor = 30);
