-- events_correlation leaves out the three events of every notification sent (requested, attempted,
-- sent), six of a shipped order's seven events, as events_type does since 016. An audit by
-- correlation id finds those through their streams (adapters/postgres/audit.go, correlated).
DROP INDEX events_correlation;
CREATE INDEX events_correlation ON events ((metadata->>'correlation_id'))
    WHERE type NOT IN ('notification.requested.v1', 'notification.delivery_attempted.v1', 'notification.sent.v1');
