package http

import (
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// LockoutPolicy says when failed logins lock an account (an e-mail address, whether or not an admin
// has it) and for how long.
type LockoutPolicy struct {
	// Failures within Window lock the account.
	Failures int
	Window   time.Duration
	// Lock is the first lock; each lock that follows before the account has been quiet for Window
	// doubles it, up to MaxLock.
	Lock, MaxLock time.Duration
	// MaxAccounts is how many accounts are remembered; past it the oldest are forgotten first.
	MaxAccounts int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// DefaultLockoutPolicy locks an account for a minute after 5 failed logins within 15 minutes, then
// for 2, 4, … up to 60 minutes while the failures go on.
func DefaultLockoutPolicy() LockoutPolicy {
	return LockoutPolicy{Failures: 5, Window: 15 * time.Minute, Lock: time.Minute, MaxLock: time.Hour, MaxAccounts: 10_000}
}

// LoginLockout counts failed logins per account, beside the per-address rate limit: a guesser who
// spreads attempts over many addresses is slowed all the same. It is kept in the process's memory
// (each process counts its own), and knows accounts only by a hash of the e-mail.
type LoginLockout struct {
	p        LockoutPolicy
	mu       sync.Mutex
	accounts map[[sha256.Size]byte]*accountFailures
}

type accountFailures struct {
	failures    int       // since first, while it is within the window
	first, last time.Time // of the failures counted; last also says when the entry goes stale
	lockedUntil time.Time
	locks       int // locks in a row, which make the next one longer
}

// NewLoginLockout returns a lockout of policy p; zero fields take DefaultLockoutPolicy's values.
func NewLoginLockout(p LockoutPolicy) *LoginLockout {
	d := DefaultLockoutPolicy()
	if p.Failures <= 0 {
		p.Failures = d.Failures
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	if p.Lock <= 0 {
		p.Lock = d.Lock
	}
	if p.MaxLock < p.Lock {
		p.MaxLock = max(d.MaxLock, p.Lock)
	}
	if p.MaxAccounts <= 0 {
		p.MaxAccounts = d.MaxAccounts
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return &LoginLockout{p: p, accounts: map[[sha256.Size]byte]*accountFailures{}}
}

// accountKey is how an account is known: the e-mail as Login looks it up (trimmed, lower case),
// hashed, so that an entry takes the same room however long the e-mail a stranger sends.
func accountKey(email string) [sha256.Size]byte {
	return sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
}

// Locked says how much longer the account's logins are refused; 0 when they are not.
func (l *LoginLockout) Locked(email string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.accounts[accountKey(email)]
	if !ok {
		return 0
	}
	return max(a.lockedUntil.Sub(l.p.Now()), 0)
}

// Failed counts a failed login. When it locks the account it returns how long for; else 0, so that
// the caller reports a lock once, when it starts.
func (l *LoginLockout) Failed(email string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, key := l.p.Now(), accountKey(email)
	a, ok := l.accounts[key]
	if ok && l.stale(a, now) {
		delete(l.accounts, key)
		ok = false
	}
	if !ok {
		l.makeRoom(now)
		a = &accountFailures{}
		l.accounts[key] = a
	}
	if now.Before(a.lockedUntil) {
		// A login that was checked before the lock began; the lock already answers for it.
		return 0
	}
	if a.failures == 0 || now.Sub(a.first) > l.p.Window {
		a.failures, a.first = 0, now
	}
	a.failures++
	a.last = now
	if a.failures < l.p.Failures {
		return 0
	}
	d := l.p.Lock
	for i := 0; i < a.locks && d < l.p.MaxLock; i++ {
		d *= 2
	}
	d = min(d, l.p.MaxLock)
	a.lockedUntil, a.locks, a.failures = now.Add(d), a.locks+1, 0
	return d
}

// Succeeded forgets the account's failures: a right password ends the count and the growing locks.
func (l *LoginLockout) Succeeded(email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.accounts, accountKey(email))
}

// stale says whether an entry no longer matters: unlocked, and quiet for a window since its last
// failure and since its lock ended (so locks in a row stop growing once the guessing stops).
func (l *LoginLockout) stale(a *accountFailures, now time.Time) bool {
	return now.Sub(a.last) > l.p.Window && now.Sub(a.lockedUntil) > l.p.Window
}

// makeRoom keeps the map within MaxAccounts before an entry is added: stale entries go first, then
// the one whose last failure is oldest. A flood of made-up e-mails can thus push a real account's
// count out, but only at the per-address rate limit's pace, and never while it is locked unless
// every entry is.
func (l *LoginLockout) makeRoom(now time.Time) {
	if len(l.accounts) < l.p.MaxAccounts {
		return
	}
	for k, a := range l.accounts {
		if l.stale(a, now) {
			delete(l.accounts, k)
		}
	}
	for len(l.accounts) >= l.p.MaxAccounts {
		var (
			oldest    [sha256.Size]byte
			oldestAt  time.Time
			found     bool
			oldLocked bool
		)
		for k, a := range l.accounts {
			locked := now.Before(a.lockedUntil)
			// An unlocked entry goes before a locked one; among equals, the oldest failure first.
			if !found || (oldLocked && !locked) || (oldLocked == locked && a.last.Before(oldestAt)) {
				oldest, oldestAt, found, oldLocked = k, a.last, true, locked
			}
		}
		delete(l.accounts, oldest)
	}
}

// Len is how many accounts are remembered.
func (l *LoginLockout) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accounts)
}
