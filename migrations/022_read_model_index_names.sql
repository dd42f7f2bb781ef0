-- A replay before this migration swapped in copies of the read-model tables whose indexes (and the
-- constraints they back) were named after the copy, such as order_summary_rebuild_placed_at_idx, and
-- migrations name indexes to drop or replace them. Each index of the read models gets back the name
-- the migrations gave it, found by its definition. `certibuy replay` keeps the names since.
DO $$
DECLARE
    want record;
    have text;
BEGIN
    FOR want IN SELECT * FROM (VALUES
        ('order_summary', 'order_summary_pkey', 'btree (order_id)'),
        ('order_summary', 'order_summary_order_number_key', 'btree (order_number)'),
        ('order_summary', 'order_summary_email', 'btree (lower(customer_email))'),
        ('order_summary', 'order_summary_phone', 'btree (customer_phone)'),
        ('order_summary', 'order_summary_placed', 'btree (placed_at)'),
        ('order_summary', 'order_summary_status_placed', 'btree (status, placed_at DESC)'),
        ('order_status_history', 'order_status_history_pkey', 'btree (order_id, "position")'),
        ('notification_log', 'notification_log_pkey', 'btree (notification_id)'),
        ('notification_log', 'notification_log_created', 'btree (created_at, notification_id)'),
        ('notification_log', 'notification_log_failed', 'btree (created_at, notification_id) WHERE (failed_at IS NOT NULL)'),
        ('notification_log', 'notification_log_order', 'btree (order_id)'),
        ('notification_log', 'notification_log_recipient', 'btree (lower(recipient))')
    ) AS w(tbl, name, def) LOOP
        SELECT c.relname INTO have FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = want.tbl::regclass AND c.relname <> want.name
          AND regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', '') = want.def
        LIMIT 1;
        IF have IS NOT NULL AND to_regclass(want.name) IS NULL THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', have, want.name);
        END IF;
    END LOOP;
END $$;
