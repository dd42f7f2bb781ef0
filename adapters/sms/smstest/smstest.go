// Package smstest runs fake MSG91 and Fast2SMS servers (httptest) that follow the contracts of
// docs/PROVIDERS.md, error shapes included. They check the auth header and the body,
// record every request, and can be told to fail or to answer slowly. They are safe for concurrent
// use.
package smstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fake is what both servers share: the recorded requests, the queued failures and the delay.
type fake struct {
	srv *httptest.Server

	mu    sync.Mutex
	fails []canned
	delay time.Duration
	done  chan struct{} // closed when the test ends, to cut delays short
}

type canned struct {
	status int
	body   string
}

func newFake(t testing.TB, h http.Handler) *fake {
	f := &fake{done: make(chan struct{})}
	f.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

// failNext queues n canned answers.
func (f *fake) failNext(n, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.fails = append(f.fails, canned{status: status, body: body})
	}
}

// nextFailure takes the next canned answer, if one is queued.
func (f *fake) nextFailure() (canned, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fails) == 0 {
		return canned{}, false
	}
	c := f.fails[0]
	f.fails = f.fails[1:]
	return c, true
}

func (f *fake) setDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// wait sleeps for the delay, or less if the client gives up or the test ends; it reports whether the
// client is still there to answer.
func (f *fake) wait(ctx context.Context) bool {
	f.mu.Lock()
	d := f.delay
	f.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-f.done:
		return false
	}
}

// reply writes a JSON answer.
func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// randomID returns n hex digits.
func randomID(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)[:n]
}
