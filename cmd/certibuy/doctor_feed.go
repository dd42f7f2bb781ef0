package main

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certibuy/orders/adapters/nats"
	"github.com/certibuy/orders/adapters/postgres"
)

// checkFeed checks the forwarding to JetStream: the server answers, the stream is there, and how
// many events wait in PostgreSQL for it.
func checkFeed(ctx context.Context, cfg Config, deps *Deps, add func(name, status, format string, a ...any)) {
	if cfg.NATS.URL == "" {
		add("events feed", "ok", "off: NATS_URL not set, events are not forwarded to other services")
		return
	}
	name := postgres.FeedName(cfg.NATS.Stream)
	lag, err := postgres.FeedLagOf(ctx, deps.Pool, name)
	if err != nil {
		add("events feed", "FAIL", "%v", err)
	} else {
		status := "ok"
		// An event waiting for a minute: no process forwards, or NATS refuses.
		if lag.Events > 0 && lag.Oldest > time.Minute {
			status = "FAIL"
		}
		since := "never forwarded yet"
		if !lag.UpdatedAt.IsZero() {
			since = "last batch " + time.Since(lag.UpdatedAt).Round(time.Second).String() + " ago"
		}
		add("events feed", status, "%d events behind, oldest waiting %s (%s)", lag.Events, lag.Oldest.Round(time.Second), since)
	}
	nc, err := nats.Connect(cfg.NATS.URL, "certibuy-doctor")
	if err != nil {
		add("nats", "FAIL", "%v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		add("nats", "FAIL", "jetstream: %v", err)
		return
	}
	s, err := js.Stream(ctx, cfg.NATS.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		add("nats", "warn", "%s answers; no stream %s yet (serve or worker creates it)", nats.Redact(cfg.NATS.URL), cfg.NATS.Stream)
		return
	}
	if err != nil {
		add("nats", "FAIL", "stream %s: %v", cfg.NATS.Stream, err)
		return
	}
	info, err := s.Info(ctx)
	if err != nil {
		add("nats", "FAIL", "stream %s: %v", cfg.NATS.Stream, err)
		return
	}
	add("nats", "ok", "%s, stream %s: %d events, subjects %v, duplicate window %s", nats.Redact(cfg.NATS.URL), cfg.NATS.Stream,
		info.State.Msgs, info.Config.Subjects, info.Config.Duplicates)
}
