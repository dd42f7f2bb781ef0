-- Commits wake the readers of the store. A transaction that appends events sends one notification
-- on events_appended when it commits, however many events and statements (PostgreSQL folds
-- identical notifications of one transaction into one, and sends none for a rollback); the
-- process's one listening connection (adapters/postgres/wake.go) wakes its consumer groups and its
-- projections on it, so that they need not poll.
--
-- Readers stop below the oldest transaction still running, so an event can commit while still out
-- of their sight: a consumer group's or a projection's transaction that began writing before it is
-- still open. The commits of those (a group's offset, a projection's checkpoint) notify too, so that
-- a reader that found nothing looks again when what hid the event is gone.
CREATE FUNCTION notify_events_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events_appended', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_appended AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events_appended();
CREATE TRIGGER offsets_moved AFTER INSERT OR UPDATE ON watermill_offsets_order_events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events_appended();
CREATE TRIGGER checkpoints_moved AFTER INSERT OR UPDATE ON projection_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events_appended();
