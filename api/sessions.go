package api

// Session storage and the sign-in rate limiter.

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Session is a signed-in operator's browser session.
type Session struct {
	Tenant   string
	Operator string
	// CSRF is the token a cookie-authenticated write must carry in X-CSRF-Token.
	CSRF      string
	ExpiresAt time.Time
	// Credential is the hash (tenant.HashToken) of the token the session was signed in with: when the token leaves
	// the configuration (rotated after a leak), its sessions end with it. Zero accepts any credential of the
	// operator (sessions stored before this field).
	Credential [32]byte
}

// SessionKey is the SHA-256 of a session cookie's value: sessions are stored by it, never by the value.
type SessionKey [32]byte

// KeyOf is the key of a cookie value.
func KeyOf(cookie string) SessionKey { return sha256.Sum256([]byte(cookie)) }

// Sessions stores sessions by key. Implementations must be safe for concurrent use, bound how many sessions they
// hold, and never return a session past its ExpiresAt.
type Sessions interface {
	// Put stores s under k.
	Put(k SessionKey, s Session) error
	// Get returns the unexpired session under k; ok is false when there is none.
	Get(k SessionKey) (s Session, ok bool, err error)
	// Delete forgets k; deleting a missing key is no error.
	Delete(k SessionKey) error
}

// MemorySessions is Sessions in memory: a node's sessions do not survive its restart, and a node does not see
// another node's sessions. When full, the oldest session is evicted.
type MemorySessions struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	m     map[SessionKey]Session
	order []SessionKey // insertion order (every session lives equally long: expiry order too); may hold stale keys
}

// NewMemorySessions holds at most max sessions (0 means 100,000); now is the expiry clock (nil: time.Now).
func NewMemorySessions(max int, now func() time.Time) *MemorySessions {
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	return &MemorySessions{max: max, now: now, m: map[SessionKey]Session{}}
}

// Put implements Sessions.
func (s *MemorySessions) Put(k SessionKey, sess Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for len(s.order) > 0 {
		front := s.order[0]
		old, ok := s.m[front]
		if ok && len(s.m) < s.max && old.ExpiresAt.After(now) {
			break
		}
		delete(s.m, front) // expired, stale (signed out) or the oldest of a full store
		s.order = s.order[1:]
	}
	if len(s.order) > 2*len(s.m)+1024 { // sign-outs left many stale keys behind: compact
		kept := make([]SessionKey, 0, len(s.m)+1)
		for _, k := range s.order {
			if _, ok := s.m[k]; ok {
				kept = append(kept, k)
			}
		}
		s.order = kept
	}
	s.m[k] = sess
	s.order = append(s.order, k)
	return nil
}

// Get implements Sessions.
func (s *MemorySessions) Get(k SessionKey) (Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[k]
	if !ok {
		return Session{}, false, nil
	}
	if !sess.ExpiresAt.After(s.now()) {
		delete(s.m, k)
		return Session{}, false, nil
	}
	return sess, true, nil
}

// Delete implements Sessions.
func (s *MemorySessions) Delete(k SessionKey) error {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
	return nil
}

// Len is how many sessions are held (expired ones not yet swept included).
func (s *MemorySessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// limiter counts failures per key in fixed windows: a key with max failures in its current window is limited until
// the window ends. It holds at most maxKeys keys; when full it forgets expired windows, then arbitrary ones.
type limiter struct {
	max     int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	start time.Time
	n     int
}

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, maxKeys: 100_000, now: now, m: map[string]*failures{}}
}

// retryAfter is how long key stays limited; 0 when it is not.
func (l *limiter) retryAfter(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.m[key]
	if !ok || f.n < l.max {
		return 0
	}
	left := f.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.m, key)
		return 0
	}
	return left
}

// fail counts a failure of key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f, ok := l.m[key]
	if ok && now.Sub(f.start) >= l.window {
		f.start, f.n = now, 0
	}
	if !ok {
		if len(l.m) >= l.maxKeys {
			l.sweep(now)
		}
		f = &failures{start: now}
		l.m[key] = f
	}
	f.n++
}

func (l *limiter) sweep(now time.Time) {
	for k, f := range l.m {
		if now.Sub(f.start) >= l.window {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < l.maxKeys {
			break
		}
		delete(l.m, k)
	}
}
