package pgtest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// Proxy is a TCP proxy to the test server that a test can cut and restore, to see how the code
// behaves while the database cannot be reached, without stopping the server others share.
type Proxy struct {
	tb     TB
	addr   string // where it listens, the same after each Restore
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy starts a proxy on a free loopback port to the server of databaseURL, and stops it when tb
// ends. Down says whether it starts cut: its port is then free, and a connection to it is refused.
func NewProxy(tb TB, databaseURL string, down bool) *Proxy {
	tb.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		tb.Fatalf("pgtest: proxy: parse %q: %v", databaseURL, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{tb: tb, addr: ln.Addr().String(), target: u.Host, conns: map[net.Conn]struct{}{}}
	if down {
		_ = ln.Close()
	} else {
		p.serve(ln)
	}
	tb.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the host:port the proxy listens on.
func (p *Proxy) Addr() string { return p.addr }

// URL is databaseURL with its host and port replaced by the proxy's.
func (p *Proxy) URL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		p.tb.Fatalf("pgtest: proxy: parse %q: %v", databaseURL, err)
	}
	u.Host = p.addr
	return u.String()
}

// Cut closes the listener and every connection through it: the database is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore listens again on the same address: the database is back.
func (p *Proxy) Restore() {
	p.tb.Helper()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; another process taking it meanwhile is unlikely, and retried.
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.tb.Fatalf("pgtest: proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

// forward copies both ways between c and a new connection to the server, until either ends or Cut.
func (p *Proxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// String names the proxy in test messages.
func (p *Proxy) String() string { return fmt.Sprintf("proxy %s → %s", p.addr, p.target) }
