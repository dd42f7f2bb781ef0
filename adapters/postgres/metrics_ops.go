package postgres

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OperationsCollector reports, at each scrape, what waits on a person: messages the routers gave up
// on (the poison topics), notifications that failed and were not resent, refunds owed or waiting for
// the gateway, and orders waiting to ship. docs/OPERATIONS.md says what to alert on, and why.
type OperationsCollector struct {
	reader *ConsoleReader

	poison, failed, refundsOwed, refundsPending, toShip *prometheus.Desc
}

// NewOperationsCollector returns the collector; register it with a Prometheus registry.
func NewOperationsCollector(db *DB, runner *Runner) *OperationsCollector {
	return &OperationsCollector{
		reader:         NewConsoleReader(db, runner),
		poison:         prometheus.NewDesc("certibuy_poison_messages", "Messages a router gave up on, by poison topic (they stay there).", []string{"topic"}, nil),
		failed:         prometheus.NewDesc("certibuy_notifications_failed", "Notifications that failed for good and were not resent.", nil, nil),
		refundsOwed:    prometheus.NewDesc("certibuy_refunds_owed", "Orders owing a refund the gateway was not asked for, or refused (counted up to 50).", nil, nil),
		refundsPending: prometheus.NewDesc("certibuy_refunds_pending", "Orders whose refund the gateway has not reported done.", nil, nil),
		toShip:         prometheus.NewDesc("certibuy_orders_waiting_to_ship", "Confirmed orders not shipped yet.", nil, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (c *OperationsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.poison, c.failed, c.refundsOwed, c.refundsPending, c.toShip} {
		ch <- d
	}
}

// Collect queries the database; when a query fails, the metrics are left out of this scrape.
func (c *OperationsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ops, err := c.reader.attention(ctx)
	if err != nil {
		return
	}
	for _, p := range ops.Poison {
		ch <- prometheus.MustNewConstMetric(c.poison, prometheus.GaugeValue, float64(p.Count), p.Topic)
	}
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(ops.FailedNotifications))
	ch <- prometheus.MustNewConstMetric(c.refundsOwed, prometheus.GaugeValue, float64(len(ops.RefundsOwed)))
	ch <- prometheus.MustNewConstMetric(c.refundsPending, prometheus.GaugeValue, float64(ops.RefundsPending))
	ch <- prometheus.MustNewConstMetric(c.toShip, prometheus.GaugeValue, float64(ops.WaitingToShip))
}
