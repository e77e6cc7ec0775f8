// Package timers fires the due times that actors keep in the store (snooze wake-up, auto-close, reservation timeout,
// window warning). A due timer is not applied here: it is produced as a record to its tenant's partition, so it is
// ordered with every other input of the tenant and applied by the conversation's actor like any record
// (docs/design.md, invariant 7).
//
// It may import the store, the record leaf ingest/inbox and the Prometheus client.
package timers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Producer writes records to switchboard.inbox and returns once Kafka acknowledged them.
type Producer interface {
	Produce(ctx context.Context, recs []inbox.Record) error
}

// Config configures a Firer. Zero values take the defaults given; negative numbers are invalid.
type Config struct {
	// Store holds the timer index. Required.
	Store *store.Store
	// Producer takes the timer records. Required.
	Producer Producer
	// Interval is how often due timers are looked for. Default 100 ms: a timer fires at most this late.
	Interval time.Duration
	// Refire is how long a produced timer that is still in the index (its record not yet applied) waits before it is
	// produced again. Default 30 s.
	Refire time.Duration
	// Batch is the most timers fired per look, and the page size in which the timer index is read. Default 1,000.
	Batch int
	// Now is the wall clock that decides when a timer is due. Default time.Now. The record carries the due time
	// itself, which is the time the domain sees.
	Now func() time.Time
	// Owner, when set, fences the firer (README, "Failover"): a timer of a tenant whose partition the node does not
	// own now is not fired. Nil fires every due timer (a single node).
	Owner *ownership.Table
	// Registerer receives the firer's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Interval == 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Refire == 0 {
		c.Refire = 30 * time.Second
	}
	if c.Batch == 0 {
		c.Batch = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil || c.Producer == nil:
		return errors.New("timers: Store and Producer are required")
	case c.Interval < 0 || c.Refire < 0 || c.Batch < 0:
		return errors.New("timers: Interval, Refire and Batch cannot be negative")
	}
	return nil
}

// Firer produces due timers. Run it on nodes with the router role. Run is called once; Close is idempotent and
// safe from any goroutine; Fire is for Run and tests, not for concurrent use with Run.
type Firer struct {
	cfg Config
	// fired holds the timers produced within Refire; it is bounded by Batch per Interval over Refire.
	fired map[store.TimerKey]time.Time
	count prometheus.Counter

	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	started  atomic.Bool
	done     chan struct{} // closed when Run returns
}

// New builds a Firer; Run starts it.
func New(cfg Config) (*Firer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Firer{cfg: cfg, fired: map[store.TimerKey]time.Time{}, stop: make(chan struct{}), done: make(chan struct{}),
		count: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_timers_fired_total",
			Help: "Due timers produced to switchboard.inbox.",
		})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(f.count); err != nil {
			return nil, fmt.Errorf("timers metrics: %w", err)
		}
	}
	return f, nil
}

// Run fires due timers every Interval until ctx ends or Close is called. A failed look is logged and tried again at
// the next tick. It returns nil when stopped, or ErrRunTwice.
func (f *Firer) Run(ctx context.Context) error {
	if !f.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	defer close(f.done)
	select {
	case <-f.stop:
		return nil // closed before it ran
	default:
	}
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.stop:
			return nil
		case <-t.C:
		}
		if err := f.Fire(ctx); err != nil && ctx.Err() == nil {
			f.cfg.Logger.Warn("fire timers", "err", err)
		}
	}
}

// Close stops Run if it is running and waits for it to return. It is idempotent; a Run after Close returns at once.
func (f *Firer) Close() error {
	f.stopOnce.Do(func() { close(f.stop) })
	if f.started.Load() {
		<-f.done
	}
	return nil
}

// Fire produces up to Batch timers due now that were not produced within Refire.
func (f *Firer) Fire(ctx context.Context) error {
	now := f.cfg.Now()
	byTenant := map[string]*inbox.Record{}
	var order []string
	var fire []store.TimerKey
	// Timers produced and not yet applied stay in the index and come first: page past them.
	var after store.TimerKey
	for len(fire) < f.cfg.Batch {
		due, err := f.cfg.Store.DueTimers(now, after, f.cfg.Batch)
		if err != nil {
			return err
		}
		for _, k := range due {
			if len(fire) == f.cfg.Batch {
				break
			}
			if at, ok := f.fired[k]; ok && now.Sub(at) < f.cfg.Refire {
				continue
			}
			if !f.cfg.Owner.Owns(k.Tenant) {
				continue // another node's now: its firer fires it from the restored index
			}
			r := byTenant[k.Tenant]
			if r == nil {
				r = &inbox.Record{Tenant: k.Tenant, IngestAt: now.UnixMilli()}
				byTenant[k.Tenant] = r
				order = append(order, k.Tenant)
			}
			r.Items = append(r.Items, inbox.Item{Kind: inbox.KindTimer, Timer: &inbox.Timer{
				Kind: k.Kind, ConversationID: k.Conversation, Due: k.Due.UnixMilli(),
			}})
			fire = append(fire, k)
		}
		if len(due) < f.cfg.Batch {
			break
		}
		after = due[len(due)-1]
	}
	// Forget timers that left the index (applied) so the map only holds what is outstanding.
	for k, at := range f.fired {
		if now.Sub(at) >= f.cfg.Refire {
			delete(f.fired, k)
		}
	}
	if len(order) == 0 {
		return nil
	}
	recs := make([]inbox.Record, 0, len(order))
	for _, t := range order {
		recs = append(recs, *byTenant[t])
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.cfg.Producer.Produce(pctx, recs); err != nil {
		return fmt.Errorf("produce %d due timers: %w", len(fire), err)
	}
	for _, k := range fire {
		f.fired[k] = now
	}
	f.count.Add(float64(len(fire)))
	return nil
}
