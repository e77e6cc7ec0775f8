// Package outbox relays the events that actors queued in the store's outbox to the switchboard.events topic, and the
// configuration records among them to switchboard.config. It is
// at-least-once: an event is deleted from the outbox only after Kafka acknowledged it, so a crash can only make it be
// sent again, with the same id and content.
//
// The outbox in the store is the only queue: a notification only wakes the relay, which reads the durable outbox
// from the store in pages of BatchSize from a cursor. While Kafka is down the relay retries one page and holds
// nothing else; the backlog waits in Pebble, on disk.
//
// It imports the store, the record leaf ingest/inbox, actors/tenant (the topic's name), kafka-go and the Prometheus client; never the rules' callers
// (router, api).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Config configures a Relay. Zero values take the defaults given; negative numbers are invalid.
type Config struct {
	// Store holds the outbox. Required.
	Store *store.Store
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic is where events go. Default inbox.EventsTopic.
	Topic string
	// ConfigTopic is where configuration records go (store.Batch.PutConfigRecord), keyed by their own key. Default
	// tenant.ConfigTopic.
	ConfigTopic string
	// BatchSize is the most events read from the store and produced at once: the relay's whole memory of the
	// outbox. Default 1,000.
	BatchSize int
	// Poll is how often the relay looks at the outbox without being notified (entries of an earlier process, a
	// notification that came while it was busy). Default 1 s.
	Poll time.Duration
	// StopFlush bounds how long Run keeps relaying what is durable once it is stopped. Default 5 s.
	StopFlush time.Duration
	// Owner, when set, fences the relay (README, "Failover"): an entry whose tenant's partition the node does not
	// own now (revoked, or its lease expired) is neither produced nor deleted; it stays in the store, whose copy of
	// the partition is stale from then on. Nil relays every entry (a single node).
	Owner *ownership.Table
	// Registerer receives the relay's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = inbox.EventsTopic
	}
	if c.ConfigTopic == "" {
		c.ConfigTopic = tenant.ConfigTopic
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.StopFlush == 0 {
		c.StopFlush = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil || len(c.Brokers) == 0:
		return errors.New("outbox: Store and Brokers are required")
	case c.BatchSize < 0 || c.Poll < 0 || c.StopFlush < 0:
		return errors.New("outbox: BatchSize, Poll and StopFlush cannot be negative")
	}
	return nil
}

// Relay moves durable outbox entries to Kafka. Notify is safe for concurrent use and never blocks; Run is called
// once; Close is idempotent and safe from any goroutine.
type Relay struct {
	cfg Config
	w   *kafka.Writer
	// cw produces configuration records; they are rare, so it is separate rather than one writer naming a topic per
	// message.
	cw    *kafka.Writer
	cmsgs []kafka.Message
	wake  chan struct{}

	stop      chan struct{} // closed by Close
	stopOnce  sync.Once
	started   atomic.Bool
	done      chan struct{} // closed when Run returns
	closeOnce sync.Once
	closeErr  error

	// after is the cursor: every outbox entry up to it has been relayed. page is reused for every read.
	after uint64
	page  []store.OutboxEntry
	msgs  []kafka.Message
	keys  map[string][]byte // each tenant's message key, made once
	// held is how many entries the relay holds in memory: at most BatchSize (Held).
	held atomic.Int64

	published prometheus.Counter
	errors    prometheus.Counter
	fenced    prometheus.Counter
	backlog   prometheus.GaugeFunc
}

// New builds a relay; Run starts it. It needs no recovery step: entries an earlier process left in the outbox are
// read from the store like any other.
func New(cfg Config) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Relay{
		cfg:  cfg,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		w: &kafka.Writer{
			Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.Topic, Balancer: &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, BatchSize: cfg.BatchSize,
			WriteTimeout: 10 * time.Second,
			// The writer asks for its topic's partitions once per event; the answer is reused for a second.
			Transport: broker.CachedMetadata(nil, 0),
		},
		cw: &kafka.Writer{
			Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.ConfigTopic, Balancer: &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, WriteTimeout: 10 * time.Second,
		},
		page: make([]store.OutboxEntry, 0, cfg.BatchSize),
		keys: map[string][]byte{},
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_events_published_total",
			Help: "Events relayed from the outbox to switchboard.events (a repeat after a crash counts again).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_events_publish_errors_total",
			Help: "Failed attempts to produce outbox events; they are retried.",
		}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_events_fenced_total",
			Help: "Outbox entries not relayed because this node does not own their tenant's partition (any more).",
		}),
	}
	r.backlog = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "switchboard_outbox_pending",
		Help: "Events in the outbox waiting to be relayed to switchboard.events.",
	}, func() float64 { return float64(cfg.Store.OutboxLen()) })
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.published, r.errors, r.fenced, r.backlog} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("outbox metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Notify wakes the relay: outbox entries became durable. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Held is how many outbox entries the relay holds in memory: at most BatchSize, whatever the outbox holds.
func (r *Relay) Held() int { return int(r.held.Load()) }

// Run relays until ctx ends or Close is called, then relays what is durable for up to StopFlush more. Writes use
// their own deadline, not ctx, so a stop in the middle of a write does not turn a delivered batch into one sent
// again next start. It returns nil when stopped, or ErrRunTwice.
func (r *Relay) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	defer close(r.done)
	select {
	case <-r.stop:
		return nil // closed before it ran
	default:
	}
	defer r.closeWriter()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	poll := time.NewTimer(r.cfg.Poll)
	defer poll.Stop()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		n, err := r.flush(time.Time{})
		if err != nil {
			r.errors.Inc()
			r.cfg.Logger.Warn("relay events", "err", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		if n == r.cfg.BatchSize {
			continue // a full page: there may be more
		}
		poll.Reset(r.cfg.Poll)
		select {
		case <-r.wake:
		case <-poll.C:
		case <-ctx.Done():
		}
	}
	deadline := time.Now().Add(r.cfg.StopFlush)
	for time.Now().Before(deadline) {
		n, err := r.flush(deadline)
		if err != nil || n < r.cfg.BatchSize {
			break
		}
	}
	return nil
}

// Close stops Run if it is running, waits for it to return and releases the Kafka writer. It is idempotent; a Run
// after Close returns at once.
func (r *Relay) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	if r.started.Load() {
		<-r.done
	}
	r.closeWriter()
	return r.closeErr
}

func (r *Relay) closeWriter() {
	r.closeOnce.Do(func() {
		if err := r.w.Close(); err != nil {
			r.closeErr = fmt.Errorf("close events writer: %w", err)
		}
		if err := r.cw.Close(); err != nil && r.closeErr == nil {
			r.closeErr = fmt.Errorf("close configuration writer: %w", err)
		}
	})
}

// flush relays one page of the durable outbox after the cursor and returns how many events it held, giving Kafka 10 s
// and never past deadline (the zero time: no deadline). On error the cursor stays, and the same page is read again.
func (r *Relay) flush(deadline time.Time) (int, error) {
	page, through, err := r.cfg.Store.Outbox(r.page[:0], r.after, r.cfg.BatchSize)
	if err != nil {
		return 0, err
	}
	r.page = page
	n := len(page)
	r.held.Store(int64(n))
	defer func() {
		clear(r.page) // let the values go
		r.held.Store(0)
	}()
	if n > 0 && r.cfg.Owner != nil {
		// Fencing: only the entries of partitions owned now leave. The check is made once per page, just before the
		// produce: a partition lost while the page's request is in flight is the window of one request.
		own := page[:0:0]
		for i := range page {
			if r.cfg.Owner.Owns(page[i].Tenant) {
				own = append(own, page[i])
			}
		}
		if skipped := len(page) - len(own); skipped > 0 {
			r.fenced.Add(float64(skipped))
			page = own
		}
	}
	if len(page) > 0 {
		msgs, cmsgs := r.msgs[:0], r.cmsgs[:0]
		for i := range page {
			e := &page[i]
			if k, v, ok := e.ConfigRecord(); ok {
				cmsgs = append(cmsgs, kafka.Message{Key: k, Value: v})
				continue
			}
			key, ok := r.keys[e.Tenant]
			if !ok {
				key = []byte(e.Tenant)
				r.keys[e.Tenant] = key
			}
			msgs = append(msgs, kafka.Message{Key: key, Value: e.Value})
		}
		r.msgs, r.cmsgs = msgs, cmsgs
		defer clear(r.msgs)
		defer clear(r.cmsgs)
		limit := time.Now().Add(10 * time.Second)
		if !deadline.IsZero() && deadline.Before(limit) {
			limit = deadline
		}
		wctx, cancel := context.WithDeadline(context.Background(), limit)
		defer cancel()
		// Configuration records first: an event that reports a change never reaches a reader before the change.
		if len(cmsgs) > 0 {
			if err := r.cw.WriteMessages(wctx, cmsgs...); err != nil {
				return n, fmt.Errorf("produce %d configuration records: %w", len(cmsgs), err)
			}
		}
		if len(msgs) > 0 {
			if err := r.w.WriteMessages(wctx, msgs...); err != nil {
				return n, fmt.Errorf("produce %d events: %w", len(msgs), err)
			}
		}
		if err := r.cfg.Store.DeleteOutbox(page); err != nil {
			return n, fmt.Errorf("delete relayed events: %w", err)
		}
		r.published.Add(float64(len(page)))
	}
	r.after = through
	return n, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
