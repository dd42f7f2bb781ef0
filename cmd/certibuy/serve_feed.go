package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/certibuy/orders/adapters/nats"
	"github.com/certibuy/orders/adapters/postgres"
)

// runningFeed is the forwarder to JetStream: cancel stops it, done is closed when it has.
type runningFeed struct {
	cancel context.CancelFunc
	done   chan struct{}
	fw     *nats.Forwarder
}

// newFeed builds the feed of the event store to the JetStream stream of cfg.
func newFeed(cfg Config, deps *Deps, logger *slog.Logger) (*postgres.Feed, *nats.Forwarder) {
	fw := nats.NewForwarder(nats.Config{URL: cfg.NATS.URL, Stream: cfg.NATS.Stream, SubjectPrefix: cfg.NATS.SubjectPrefix, Logger: logger})
	return postgres.NewFeed(deps.DB, postgres.FeedName(cfg.NATS.Stream), fw, logger, postgres.WithFeedPoll(cfg.EventsWait(), time.Second)), fw
}

// startFeed forwards the events to JetStream when NATS_URL is set. Every serve and worker process
// starts one; the database lets one forward at a time, and another takes over when it stops. It runs
// on its own goroutine and connection: NATS being away delays the events to other services and
// nothing else.
func (s *Service) startFeed() {
	if s.cfg.NATS.URL == "" {
		return
	}
	feed, fw := newFeed(s.cfg, s.deps, s.logger)
	ctx, cancel := context.WithCancel(context.Background())
	s.feed = &runningFeed{cancel: cancel, done: make(chan struct{}), fw: fw}
	go func() {
		defer close(s.feed.done)
		_ = feed.Run(ctx, s.waker)
	}()
	s.logger.Info("forwarding events to JetStream when this process holds the feed", "nats", nats.Redact(s.cfg.NATS.URL),
		"stream", s.cfg.NATS.Stream, "subjects", s.cfg.NATS.SubjectPrefix+".>")
}

func (s *Service) stopFeed() {
	if s.feed == nil {
		return
	}
	s.feed.cancel()
	<-s.feed.done
	s.feed.fw.Close()
	s.feed = nil
}
