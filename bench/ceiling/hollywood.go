package ceiling

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/bench/report"
)

// HollywoodConfig configures Hollywood.
type HollywoodConfig struct {
	// Duration is how long the sender sends. 0 means 3s.
	Duration time.Duration
	// InboxSize is the receiving actor's inbox size. 0 means 8, what the router's actors use.
	InboxSize int
	// MaxInFlight bounds the messages sent but not yet handled: hollywood inboxes grow without bound, so an
	// unbounded sender would measure the allocator. 0 means 8192.
	MaxInFlight int
}

func (c *HollywoodConfig) setDefaults() {
	if c.Duration == 0 {
		c.Duration = 3 * time.Second
	}
	if c.InboxSize == 0 {
		c.InboxSize = 8
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 8192
	}
}

// Validate reports the first invalid field.
func (c *HollywoodConfig) Validate() error {
	switch {
	case c.Duration < 0:
		return fmt.Errorf("%w: Duration %v is negative", ErrInvalidConfig, c.Duration)
	case c.InboxSize < 0:
		return fmt.Errorf("%w: InboxSize %d is negative", ErrInvalidConfig, c.InboxSize)
	case c.MaxInFlight < 0:
		return fmt.Errorf("%w: MaxInFlight %d is negative", ErrInvalidConfig, c.MaxInFlight)
	}
	return nil
}

// ping is the measured message: zero-sized, so sending it allocates nothing but hollywood's own envelope.
type ping struct{}

// hollywoodAckEvery is how many handled messages make the receiver wake a waiting sender.
const hollywoodAckEvery = 1024

// Hollywood measures raw local message passing in a hollywood engine: one goroutine sends to one actor spawned
// with an inbox of InboxSize, keeping at most MaxInFlight messages unhandled, for Duration. Throughput is messages
// handled per second, from the first send until the actor has handled the last one. It measures no latency.
func Hollywood(ctx context.Context, cfg HollywoodConfig) (report.Ceiling, error) {
	const name = "hollywood"
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: engine: %w", name, err)
	}
	var handled atomic.Int64
	// A wake-up, not a count: the sender re-reads handled after each one, so a dropped signal loses nothing.
	wake := make(chan struct{}, 1)
	pid := e.SpawnFunc(func(c *actor.Context) {
		if _, ok := c.Message().(ping); !ok {
			return
		}
		if handled.Add(1)%hollywoodAckEvery == 0 {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}, "ceiling", actor.WithInboxSize(cfg.InboxSize), actor.WithID("receiver"))

	start := time.Now()
	var stop atomic.Bool
	timer := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
	defer timer.Stop()
	bound := int64(cfg.MaxInFlight)
	var sent int64
	// At least one message, however late this goroutine runs after the timer started.
send:
	for {
		for sent-handled.Load() >= bound {
			select {
			case <-wake:
			case <-ctx.Done():
				break send
			}
		}
		e.Send(pid, ping{})
		sent++
		if stop.Load() || sent%hollywoodAckEvery == 0 && ctx.Err() != nil {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		<-e.Stop(pid).Done()
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	// A graceful stop handles what is still in the inbox first.
	select {
	case <-e.Poison(pid).Done():
	case <-ctx.Done():
		<-e.Stop(pid).Done()
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, ctx.Err())
	}
	elapsed := time.Since(start)
	n := handled.Load()
	if n != sent {
		return report.Ceiling{}, fmt.Errorf("BUG: ceiling %s: %d messages sent, %d handled", name, sent, n)
	}
	if n == 0 {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, ErrNothingMeasured)
	}
	return report.Ceiling{
		Name: name,
		Description: fmt.Sprintf("hollywood local Send, one sender to one actor (inbox %d), at most %d in flight",
			cfg.InboxSize, cfg.MaxInFlight),
		Throughput: rate(n, elapsed),
	}, nil
}
