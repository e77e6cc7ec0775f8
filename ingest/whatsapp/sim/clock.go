package sim

import "time"

// clock is the simulator's time. The rate limit, the receive times, Latency, the status webhooks' schedule and
// Customers' pacing all read it, so a test can drive them with a clock it advances by hand and check exact counts
// and waits instead of how long something took on the machine running it.
type clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed (at once when d <= 0).
	After(d time.Duration) <-chan time.Time
}

// machineClock is the machine's clock, the one outside tests.
type machineClock struct{}

func (machineClock) Now() time.Time                         { return time.Now() }
func (machineClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
