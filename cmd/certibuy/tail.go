package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certibuy/orders/adapters/nats"
	"github.com/certibuy/orders/domain/printable"
)

// runTail prints the events of the JetStream stream as they come: what another service following
// the shop sees (docs/EVENTS.md).
func (m *Main) runTail(ctx context.Context, args []string) error {
	fs := m.flagSet("tail")
	subject := fs.String("subject", "", "the `subject` to follow, wildcards allowed (default <NATS_SUBJECT_PREFIX>.>, every event)")
	durable := fs.String("durable", "", "follow through the durable consumer of this `name`: the first time from the stream's start, then from where it stopped (default: an ephemeral consumer from now)")
	limit := fs.Int("limit", 0, "stop after this many events (0: until Ctrl-C)")
	utc := fs.Bool("utc", false, "show times in UTC rather than India time (IST)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs.Args()); err != nil {
		return err
	}
	if *limit < 0 {
		return usageError("--limit must be at least 0")
	}
	cfg, err := m.config()
	if err != nil {
		return err
	}
	if cfg.NATS.URL == "" {
		return errors.New("NATS_URL is not set: events are not forwarded anywhere (see .env.example)")
	}
	if *subject == "" {
		*subject = cfg.NATS.SubjectPrefix + ".>"
	}
	nc, err := nats.Connect(cfg.NATS.URL, "certibuy-tail")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	var cons jetstream.Consumer
	if *durable != "" {
		cons, err = js.CreateOrUpdateConsumer(ctx, cfg.NATS.Stream, jetstream.ConsumerConfig{Durable: *durable, FilterSubject: *subject,
			DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy})
	} else {
		cons, err = js.OrderedConsumer(ctx, cfg.NATS.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{*subject},
			DeliverPolicy: jetstream.DeliverNewPolicy})
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("no stream %s on %s: a serve or worker with NATS_URL set creates it", cfg.NATS.Stream, nats.Redact(cfg.NATS.URL))
	}
	if err != nil {
		return fmt.Errorf("consumer on stream %s: %w", cfg.NATS.Stream, err)
	}
	from := "from now"
	if *durable != "" {
		from = "through durable consumer " + *durable
	}
	fmt.Fprintf(m.Stderr, "following %s on stream %s %s (Ctrl-C stops)\n", *subject, cfg.NATS.Stream, from)
	show := func(msg jetstream.Msg) {
		h := msg.Headers()
		at := h.Get(nats.HeaderOccurredAt)
		if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
			at = showTime(t, *utc)
		}
		// Published bodies hold no personal data, but the stream is not only ours to write.
		fmt.Fprintf(m.Stdout, "%s  %s  %s v%s  %s  %s\n", at, printable.Escape(msg.Subject()), printable.Escape(h.Get(nats.HeaderStreamID)),
			printable.Escape(h.Get(nats.HeaderStreamVersion)), printable.Escape(h.Get(nats.HeaderEventType)), printable.Escape(string(msg.Data())))
	}
	if *durable != "" {
		return tailDurable(ctx, cons, *limit, show)
	}
	iter, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer iter.Stop()
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	for n := 0; *limit == 0 || n < *limit; n++ {
		msg, err := iter.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("next event: %w", err)
		}
		show(msg)
	}
	return nil
}

// tailDurable shows the events of a durable consumer, acknowledging each once shown. A message
// fetched and not acked stays the consumer's own until JetStream's AckWait (30 s) runs out, and a
// run right after would wait that long for it: so it fetches no more than --limit leaves to show,
// each pull lasts a few seconds at most, and what was fetched but not shown when it stops is nak'd.
func tailDurable(ctx context.Context, cons jetstream.Consumer, limit int, show func(jetstream.Msg)) error {
	const batch, pull = 100, 5 * time.Second
	for n := 0; limit == 0 || n < limit; {
		want := batch
		if limit > 0 {
			want = min(batch, limit-n)
		}
		fctx, cancel := context.WithTimeout(ctx, pull)
		msgs, err := cons.Fetch(want, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil || past(ctx) {
				return nil
			}
			return fmt.Errorf("fetch events: %w", err)
		}
		var failed error
		for msg := range msgs.Messages() {
			if ctx.Err() != nil || failed != nil || (limit > 0 && n >= limit) {
				_ = msg.Nak() // someone else's, or the next run's, at once
				continue
			}
			show(msg)
			// Acked with the server's answer, so that a run right after this one does not see it again;
			// not with ctx, whose Ctrl-C must not leave a shown event unacked.
			actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := msg.DoubleAck(actx)
			acancel()
			if err != nil {
				failed = fmt.Errorf("ack: %w", err)
				continue
			}
			n++
		}
		cancel()
		if failed != nil {
			return failed
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("fetch events: %w", err)
		}
	}
	return nil
}

// past reports whether ctx's deadline has come. The client refuses a fetch whose deadline has passed
// by the clock, a moment before ctx's timer marks it done: that is the run's end too, not an error.
func past(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
