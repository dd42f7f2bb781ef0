package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/certibuy/orders/app/command"
)

// StatsCollector reports, at each scrape, what the database says about the pipeline: how far each
// outbox consumer group and each projection is behind, how many notifications wait, and the last
// hour of notification outcomes. Each query is cheap: they read indexes or small tables.
type StatsCollector struct {
	db     *DB
	runner *Runner

	up, outboxBehind, projectionBehind, queued, queuedDue, recent, reports *prometheus.Desc
}

// NewStatsCollector returns the collector; register it with a Prometheus registry.
func NewStatsCollector(db *DB, runner *Runner) *StatsCollector {
	return &StatsCollector{
		db: db, runner: runner,
		up: prometheus.NewDesc("certibuy_database_up", "1 when this scrape's queries reached the database, 0 when it could not be reached "+
			"(the other certibuy_ gauges are then missing from the scrape).", nil, nil),
		outboxBehind:     prometheus.NewDesc("certibuy_outbox_messages_behind", "Outbox messages a consumer group has not acked.", []string{"group"}, nil),
		projectionBehind: prometheus.NewDesc("certibuy_projection_events_behind", "Committed events a projection has not applied.", []string{"projection"}, nil),
		queued:           prometheus.NewDesc("certibuy_notifications_queued", "Notifications waiting for delivery.", []string{"topic"}, nil),
		queuedDue:        prometheus.NewDesc("certibuy_notifications_due", "Queued notifications ready for a worker: their time has come, no worker is sending them, and no earlier one of their order waits before them.", []string{"topic"}, nil),
		recent:           prometheus.NewDesc("certibuy_notifications_last_hour", "Notifications requested in the last hour, by channel and status.", []string{"channel", "status"}, nil),
		reports: prometheus.NewDesc("certibuy_sms_delivery_reports_last_hour", "SMS delivery reports received in the last hour, by provider and "+
			"what they said (delivered, undelivered, rejected) or became (pending: its attempt is not known yet; unknown: no attempt has its request id).",
			[]string{"provider", "outcome"}, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (c *StatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.outboxBehind, c.projectionBehind, c.queued, c.queuedDue, c.recent, c.reports} {
		ch <- d
	}
}

// Collect queries the database; a metric whose query fails is left out of this scrape. Whether the
// database answered is certibuy_database_up, which is always there: the alerts on the other gauges
// find no series while it is down, and so would never fire during an outage.
func (c *StatsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.db.Pool.Ping(ctx); err != nil {
		// The other queries would fail too, each after its own wait.
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	if groups, err := OutboxLag(ctx, c.db.Pool); err == nil {
		for _, g := range groups {
			ch <- prometheus.MustNewConstMetric(c.outboxBehind, prometheus.GaugeValue, float64(g.Behind), g.Group)
		}
	}
	if lags, err := c.runner.Lags(ctx); err == nil {
		for _, l := range lags {
			ch <- prometheus.MustNewConstMetric(c.projectionBehind, prometheus.GaugeValue, float64(l.Events), l.Projection)
		}
	}
	// Every delivery topic, with nothing queued too: a gauge that vanishes reads "no data", not 0.
	if rows, err := c.db.Pool.Query(ctx, `SELECT t.topic, count(q.topic), count(q.topic) FILTER (WHERE `+queueReady+`)
		FROM unnest($1::text[]) AS t(topic) LEFT JOIN notification_queue q ON q.topic = t.topic GROUP BY t.topic`,
		[]string{command.EmailTopic, command.SMSTopic}); err == nil {
		for rows.Next() {
			var topic string
			var n, due int64
			if rows.Scan(&topic, &n, &due) == nil {
				ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(n), topic)
				ch <- prometheus.MustNewConstMetric(c.queuedDue, prometheus.GaugeValue, float64(due), topic)
			}
		}
		rows.Close()
	}
	if rows, err := c.db.Pool.Query(ctx, `SELECT channel, status, count(*) FROM notification_log
		WHERE created_at > now() - interval '1 hour' GROUP BY channel, status`); err == nil {
		for rows.Next() {
			var channel, status string
			var n int64
			if rows.Scan(&channel, &status, &n) == nil {
				ch <- prometheus.MustNewConstMetric(c.recent, prometheus.GaugeValue, float64(n), channel, status)
			}
		}
		rows.Close()
	}
	if rows, err := c.db.Pool.Query(ctx, `SELECT provider, CASE WHEN outcome = 'unknown' THEN 'unknown'
			WHEN settled_at IS NULL THEN 'pending' WHEN delivered THEN 'delivered' WHEN rejected THEN 'rejected' ELSE 'undelivered' END, count(*)
		FROM sms_delivery_reports WHERE received_at > now() - interval '1 hour' GROUP BY 1, 2`); err == nil {
		for rows.Next() {
			var provider, outcome string
			var n int64
			if rows.Scan(&provider, &outcome, &n) == nil {
				ch <- prometheus.MustNewConstMetric(c.reports, prometheus.GaugeValue, float64(n), provider, outcome)
			}
		}
		rows.Close()
	}
}

// GroupLag is how far one consumer group of the outbox is behind.
type GroupLag struct {
	Group  string
	Behind int
	Oldest time.Duration
}

// ConnectedApplications returns which of names are the application_name of a session on this
// database now, each once, sorted.
func ConnectedApplications(ctx context.Context, q Querier, names []string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT application_name FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = ANY($1) ORDER BY 1`, names)
	if err != nil {
		return nil, fmt.Errorf("connected applications: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("connected applications: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// OutboxLag reports, for each consumer group of the order_events topic, how many of its events it has
// not acked and how long the oldest has waited. A group that reads one partition counts its own.
func OutboxLag(ctx context.Context, q Querier) ([]GroupLag, error) {
	rows, err := q.Query(ctx, `SELECT o.consumer_group, count(e.position), coalesce(extract(epoch FROM now() - min(e.recorded_at)), 0)
		FROM watermill_offsets_order_events o
		LEFT JOIN outbox_partitions p ON p.consumer_group = o.consumer_group
		LEFT JOIN events e ON e.topic = $1 AND (e.tx_id, e.position) > (o.last_processed_transaction_id, o.offset_acked)
		  AND (p.partitions IS NULL OR e.stream_hash % p.partitions = p.partition)
		GROUP BY o.consumer_group ORDER BY o.consumer_group`, OrderEventsTopic)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []GroupLag
	for rows.Next() {
		var g GroupLag
		var secs float64
		if err := rows.Scan(&g.Group, &g.Behind, &secs); err != nil {
			return nil, err
		}
		g.Oldest = time.Duration(secs * float64(time.Second))
		out = append(out, g)
	}
	return out, rows.Err()
}
