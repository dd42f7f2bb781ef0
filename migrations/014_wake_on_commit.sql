-- A transaction that appends events tells the readers of the store when it commits: one
-- notification on events_appended, however many events and statements (PostgreSQL folds identical
-- notifications of one transaction into one, and sends none for a transaction that rolls back). The
-- process's one listening connection (adapters/postgres/wake.go) wakes its consumer groups and its
-- projections on it, so that they need not poll.
CREATE FUNCTION notify_events_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events_appended', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_appended AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_events_appended();
