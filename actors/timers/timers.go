// Package timers fires the due times that actors keep in the store (snooze wake-up, auto-close, reservation timeout,
// window warning). A due timer is not applied here: it is produced as a record to its tenant's partition, so it is
// ordered with every other input of the tenant and applied by the conversation's actor like any record
// (docs/design.md, invariant 7).
package timers

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Producer writes records to switchboard.inbox and returns once Kafka acknowledged them.
type Producer interface {
	Produce(ctx context.Context, recs []inbox.Record) error
}

// Config configures a Firer.
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
	// Batch is the most timers fired per look. Default 1,000.
	Batch int
	// Now is the wall clock that decides when a timer is due. Default time.Now. The record carries the due time
	// itself, which is the time the domain sees.
	Now        func() time.Time
	Registerer prometheus.Registerer
	Logger     *slog.Logger
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

// Firer produces due timers. Run it on nodes with the router role.
type Firer struct {
	cfg   Config
	fired map[store.TimerKey]time.Time
	count prometheus.Counter
}

// New builds a Firer.
func New(cfg Config) (*Firer, error) {
	cfg.setDefaults()
	if cfg.Store == nil || cfg.Producer == nil {
		return nil, errors.New("timers: Store and Producer are required")
	}
	f := &Firer{cfg: cfg, fired: map[store.TimerKey]time.Time{}, count: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_timers_fired_total",
		Help: "Due timers produced to switchboard.inbox.",
	})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(f.count); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Run fires due timers until ctx ends.
func (f *Firer) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := f.Fire(ctx); err != nil && ctx.Err() == nil {
			f.cfg.Logger.Warn("fire timers", "err", err)
		}
	}
}

// Fire produces the timers due now that were not produced within Refire.
func (f *Firer) Fire(ctx context.Context) error {
	now := f.cfg.Now()
	// Timers produced and not yet applied stay in the index and come first; look past them.
	due, err := f.cfg.Store.DueTimers(now, f.cfg.Batch+len(f.fired))
	if err != nil {
		return err
	}
	byTenant := map[string]*inbox.Record{}
	var order []string
	var fire []store.TimerKey
	for _, k := range due {
		if at, ok := f.fired[k]; ok && now.Sub(at) < f.cfg.Refire {
			continue
		}
		if len(fire) == f.cfg.Batch {
			break
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
		return err
	}
	for _, k := range fire {
		f.fired[k] = now
	}
	f.count.Add(float64(len(fire)))
	return nil
}
