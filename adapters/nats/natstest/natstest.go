// Package natstest gives each test a JetStream stream name and subject prefix of its own on the
// NATS server in TEST_NATS_URL (or the local default), deletes the stream when the test ends, and
// offers a TCP proxy a test can cut to make the server unreachable.
package natstest

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultURL is the local server tests use when TEST_NATS_URL is not set (.ci/run starts one).
const DefaultURL = "nats://127.0.0.1:4222"

// URL returns the URL of the server tests use.
func URL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Target is a test's own stream and subject prefix.
type Target struct {
	URL, Stream, Prefix string
	JS                  jetstream.JetStream
}

// New returns a fresh stream name and subject prefix, and deletes the stream (if anything created
// it) when t ends.
func New(t testing.TB) Target {
	t.Helper()
	nc, err := nats.Connect(URL(), nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatalf("natstest: connect to %s: %v (is nats-server -js running?)", URL(), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatalf("natstest: %v", err)
	}
	id := strings.ToLower(rand.Text()[:10])
	tg := Target{URL: URL(), Stream: "TEST_" + strings.ToUpper(id), Prefix: "test_" + id, JS: js}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, tg.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("natstest: delete stream %s: %v", tg.Stream, err)
		}
		nc.Close()
	})
	return tg
}

// Messages reads every message the stream holds, in stream order.
func (tg Target) Messages(t testing.TB) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := tg.JS.Stream(ctx, tg.Stream)
	if err != nil {
		t.Fatalf("natstest: stream %s: %v", tg.Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("natstest: stream %s: %v", tg.Stream, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		// A deadline per message: a kill test's stream holds some 16,000, one round trip each, which
		// one deadline for them all did not cover on a slow machine.
		mctx, mcancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := s.GetMsg(mctx, seq)
		mcancel()
		if err != nil {
			t.Fatalf("natstest: stream %s message %d: %v", tg.Stream, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// Count returns how many messages the stream holds (0 when it does not exist yet).
func (tg Target) Count(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := tg.JS.Stream(ctx, tg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("natstest: stream %s: %v", tg.Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("natstest: stream %s: %v", tg.Stream, err)
	}
	return int(info.State.Msgs)
}

// Proxy forwards TCP connections to the NATS server until cut.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

// NewProxy listens on a free local port and forwards to the server of URL(); it closes when t ends.
func NewProxy(t testing.TB) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(URL(), "nats://")
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
	})
	return p
}

// URL is the proxy's NATS URL.
func (p *Proxy) URL() string { return "nats://" + p.ln.Addr().String() }

// Cut closes every forwarded connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 3*time.Second)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}
