// Package sessiontest is the conformance test every api.Sessions implementation passes: the in-memory one of
// package api and the node's Pebble-backed one.
//
// It imports api and testing; only tests import it.
package sessiontest

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/api"
)

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// New makes an empty Sessions that holds at most max sessions and reads the time from now.
type New func(t *testing.T, max int, now func() time.Time) api.Sessions

// Run checks the contract of api.Sessions on the implementation newSessions makes.
func Run(t *testing.T, newSessions New) {
	start := time.Date(2025, 10, 9, 10, 0, 0, 0, time.UTC)
	t.Run("put get delete", func(t *testing.T) {
		c := NewClock(start)
		s := newSessions(t, 10, c.Now)
		want := api.Session{Tenant: "acme", Operator: "alice", CSRF: "csrf-1", ExpiresAt: start.Add(time.Hour),
			Credential: [32]byte{1, 2, 3, 31: 9}}
		k := api.KeyOf("cookie-1")
		if err := s.Put(k, want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Get(k)
		if err != nil || !ok || got != want {
			t.Fatalf("Get = %+v %v %v, want %+v", got, ok, err, want)
		}
		if _, ok, _ := s.Get(api.KeyOf("cookie-2")); ok {
			t.Error("an unknown key is found")
		}
		if err := s.Delete(k); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(k); ok {
			t.Error("a deleted session is found")
		}
		if err := s.Delete(k); err != nil {
			t.Errorf("deleting again: %v", err)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		c := NewClock(start)
		s := newSessions(t, 10, c.Now)
		k := api.KeyOf("cookie")
		if err := s.Put(k, api.Session{Tenant: "acme", Operator: "alice", ExpiresAt: start.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Minute - time.Second)
		if _, ok, _ := s.Get(k); !ok {
			t.Error("a session is gone before it expires")
		}
		c.Add(time.Second)
		if _, ok, _ := s.Get(k); ok {
			t.Error("an expired session is found")
		}
	})
	t.Run("the oldest is evicted", func(t *testing.T) {
		c := NewClock(start)
		s := newSessions(t, 3, c.Now)
		for i := range 5 {
			c.Add(time.Second)
			if err := s.Put(api.KeyOf(strconv.Itoa(i)), api.Session{Tenant: "acme", Operator: "o" + strconv.Itoa(i),
				ExpiresAt: c.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			got, ok, err := s.Get(api.KeyOf(strconv.Itoa(i)))
			if err != nil {
				t.Fatal(err)
			}
			if ok != (i >= 2) || (ok && got.Operator != "o"+strconv.Itoa(i)) {
				t.Errorf("session %d: %+v held %v, want only the newest 3", i, got, ok)
			}
		}
		// A deleted session makes room: none of the others is evicted by the next.
		if err := s.Delete(api.KeyOf("4")); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(api.KeyOf("5"), api.Session{Tenant: "acme", ExpiresAt: c.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"2", "3", "5"} {
			if _, ok, _ := s.Get(api.KeyOf(k)); !ok {
				t.Errorf("session %s evicted", k)
			}
		}
	})
}
