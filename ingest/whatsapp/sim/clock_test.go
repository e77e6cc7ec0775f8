package sim

import (
	"sync"
	"time"
)

// manualClock is a clock that moves only when the test advances it. Its timers fire inside Advance, so after
// Advance returns every wait that ended has been released, and every other one is still waiting.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiting []manualTimer
}

type manualTimer struct {
	at    time.Time
	asked time.Duration
	c     chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiting = append(c.waiting, manualTimer{at: c.now.Add(d), asked: d, c: ch})
	return ch
}

// Advance moves the clock d forward and releases the waits that end by then.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiting[:0]
	for _, w := range c.waiting {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.c <- c.now
	}
	c.waiting = kept
}

// Waiting returns the durations asked for by the waits not yet released, oldest first.
func (c *manualClock) Waiting() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, len(c.waiting))
	for i, w := range c.waiting {
		out[i] = w.asked
	}
	return out
}
