-- Fewer index entries per notification: each shipped order writes two, each of three events, a
-- queue row that is claimed once, and a log row.
--
-- The three events of every notification sent (requested, attempted, sent) are most of the table.
-- events_type keeps the other types, the ones an audit by type picks out of the many; an audit by
-- one of these three reads in commit order, where most events are of the type it looks for. The
-- readers add the index's predicate, word for word, when they look for another type.
DROP INDEX events_type;
CREATE INDEX events_type ON events (type, tx_id, position)
    WHERE type NOT IN ('notification.requested.v1', 'notification.delivery_attempted.v1', 'notification.sent.v1');

-- A queued notification is found by its stream, unique already: the stream is the key, and the
-- row's id only orders the messages of an order (notification_queue_due, notification_queue_order).
-- Its own index took an entry at each insert and again at each claim.
ALTER TABLE notification_queue
    DROP CONSTRAINT notification_queue_pkey,
    DROP CONSTRAINT notification_queue_stream_id_key,
    ADD CONSTRAINT notification_queue_pkey PRIMARY KEY (stream_id);

-- The log is searched by order number through the order's summary (order_summary_order_number_key)
-- and notification_log_order.
DROP INDEX notification_log_number;

-- Only an attempt a provider answered with a request id can be named by a delivery report: an
-- e-mail's attempt has none, and the index no longer keeps an entry for it.
DROP INDEX events_provider_message_id;
CREATE INDEX events_provider_message_id ON events ((data->>'provider_message_id'))
    WHERE type = 'notification.delivery_attempted.v1' AND data->>'provider_message_id' IS NOT NULL;
