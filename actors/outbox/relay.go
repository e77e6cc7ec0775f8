// Package outbox relays the events that actors queued in the store's outbox to the switchboard.events topic. It is
// at-least-once: an event is deleted from the outbox only after Kafka acknowledged it, so a crash can only make it be
// sent again, with the same id and content.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Config configures a Relay.
type Config struct {
	// Store holds the outbox. Required.
	Store *store.Store
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic is where events go. Default inbox.EventsTopic.
	Topic string
	// BatchSize is the most events produced in one call. Default 1,000.
	BatchSize  int
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = inbox.EventsTopic
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Relay moves durable outbox entries to Kafka. Notify is safe for concurrent use.
type Relay struct {
	cfg Config
	w   *kafka.Writer

	// pending is bounded by the router: each partition holds at most MaxInFlight records not yet durable, and
	// each of their items writes a few events, so pending cannot outgrow partitions × MaxInFlight × events per item
	// while the relay keeps up; when Kafka is down it holds what was written meanwhile, as the store does.
	mu      sync.Mutex
	pending []store.OutboxEntry
	wake    chan struct{}

	published prometheus.Counter
	errors    prometheus.Counter
	backlog   prometheus.GaugeFunc
}

// New builds a relay. Call Recover before anything writes to the outbox, then Run.
func New(cfg Config) (*Relay, error) {
	cfg.setDefaults()
	if cfg.Store == nil || len(cfg.Brokers) == 0 {
		return nil, errors.New("outbox: Store and Brokers are required")
	}
	r := &Relay{
		cfg:  cfg,
		wake: make(chan struct{}, 1),
		w: &kafka.Writer{
			Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.Topic, Balancer: &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, BatchSize: cfg.BatchSize,
			WriteTimeout: 10 * time.Second,
		},
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_events_published_total",
			Help: "Events relayed from the outbox to switchboard.events (a repeat after a crash counts again).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_events_publish_errors_total",
			Help: "Failed attempts to produce outbox events; they are retried.",
		}),
	}
	r.backlog = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "switchboard_outbox_pending",
		Help: "Durable events waiting to be relayed to switchboard.events.",
	}, func() float64 { r.mu.Lock(); defer r.mu.Unlock(); return float64(len(r.pending)) })
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.published, r.errors, r.backlog} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// Recover queues every event already in the outbox: they were left by an earlier process, so they are durable. It
// must run before this process writes to the outbox, or it could relay an event whose batch is not yet synced.
func (r *Relay) Recover() error {
	var after []byte
	for {
		page, err := r.cfg.Store.Outbox(after, 10000)
		if err != nil {
			return fmt.Errorf("recover outbox: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		r.Notify(page...)
		after = page[len(page)-1].Key
	}
}

// Notify queues entries whose batch is durable. It never blocks.
func (r *Relay) Notify(entries ...store.OutboxEntry) {
	r.mu.Lock()
	r.pending = append(r.pending, entries...)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, then relays what is pending for up to 5 more seconds. Writes use their own deadline,
// not ctx, so a stop in the middle of a write does not turn a delivered batch into one sent again next start.
func (r *Relay) Run(ctx context.Context) error {
	defer r.w.Close()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		n, err := r.flush()
		if err != nil {
			r.errors.Inc()
			r.cfg.Logger.Warn("relay events", "err", err)
			select {
			case <-time.After(backoff):
				backoff = min(2*backoff, 5*time.Second)
			case <-ctx.Done():
			}
			continue
		}
		backoff = 50 * time.Millisecond
		if n > 0 {
			continue
		}
		select {
		case <-r.wake:
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := r.flush()
		if err != nil || n == 0 {
			break
		}
	}
	return nil
}

// flush relays one batch of pending events and returns how many.
func (r *Relay) flush() (int, error) {
	r.mu.Lock()
	n := min(len(r.pending), r.cfg.BatchSize)
	batch := r.pending[:n:n]
	r.mu.Unlock()
	if n == 0 {
		return 0, nil
	}
	msgs := make([]kafka.Message, n)
	for i, e := range batch {
		msgs[i] = kafka.Message{Key: []byte(e.Tenant), Value: e.Value}
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.w.WriteMessages(wctx, msgs...); err != nil {
		return 0, fmt.Errorf("produce %d events: %w", n, err)
	}
	if err := r.cfg.Store.DeleteOutbox(batch); err != nil {
		return 0, fmt.Errorf("delete relayed events: %w", err)
	}
	r.published.Add(float64(n))
	r.mu.Lock()
	r.pending = r.pending[n:]
	if len(r.pending) == 0 {
		r.pending = nil
	}
	r.mu.Unlock()
	return n, nil
}
