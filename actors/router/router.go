// Package router consumes switchboard.inbox as the consumer group "switchboard-router" and feeds each record to
// actors: one tenant actor per tenant of an assigned partition, one conversation actor per active conversation.
// Offsets are committed only over the contiguous prefix of records whose effects are durable in the store.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/sender"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Group is the consumer group of router nodes.
const Group = "switchboard-router"

// Config configures a Router.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic is the inbox topic. Default inbox.Topic.
	Topic string
	// Group is the consumer group. Default Group.
	Group string
	// Store is where state goes. Required.
	Store *store.Store
	// Directory gives tenants' settings and operators. Required.
	Directory *tenant.Directory
	// Outcomes receives commands' results for the API calls waiting on them. Required.
	Outcomes *outcome.Registry
	// Relay is told of outbox events once they are durable; nil leaves them in the outbox.
	Relay Notifier
	// Sender is told of outbound messages once they are durable; nil leaves them queued in the store.
	Sender JobNotifier
	// MaxInFlight bounds the records of one partition fetched and not yet durable. Default 4,096.
	MaxInFlight int
	// IdleAfter stops a conversation actor this long after its last item. Default 2 minutes.
	IdleAfter time.Duration
	// CommitInterval is how often each partition commits its durable prefix. Default 200 ms.
	CommitInterval time.Duration
	// SessionTimeout is the consumer group session timeout: how long a dead node holds its partitions. Default 6 s.
	SessionTimeout time.Duration
	// RebalanceTimeout bounds how long a rebalance waits for members to rejoin. Default 6 s.
	RebalanceTimeout time.Duration
	Registerer       prometheus.Registerer
	Logger           *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = inbox.Topic
	}
	if c.Group == "" {
		c.Group = Group
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 4096
	}
	if c.IdleAfter == 0 {
		c.IdleAfter = 2 * time.Minute
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 200 * time.Millisecond
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 6 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 6 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("router: no brokers")
	case c.Store == nil:
		return errors.New("router: no store")
	case c.Directory == nil || c.Outcomes == nil:
		return errors.New("router: Directory and Outcomes are required")
	case c.MaxInFlight < 1:
		return errors.New("router: MaxInFlight must be positive")
	case c.IdleAfter < 0 || c.CommitInterval < 0:
		return errors.New("router: negative interval")
	}
	return nil
}

// Notifier is woken when outbox entries became durable (the outbox relay reads them from the store).
type Notifier interface {
	Notify()
}

// JobNotifier takes outbound messages whose batch is durable (the sender).
type JobNotifier interface {
	Notify(jobs ...sender.Job)
}

// Router is the consuming side of a node.
type Router struct {
	cfg     Config
	log     *slog.Logger
	engine  *actor.Engine
	metrics *metrics

	ready    atomic.Bool
	failOnce sync.Once
	failErr  atomic.Pointer[error]
	cancel   context.CancelFunc
	closeMu  sync.Mutex
	closed   bool
}

// New builds a router; Run starts it.
func New(cfg Config) (*Router, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, fmt.Errorf("router: actor engine: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, log: cfg.Logger, engine: e, metrics: m}
	// hollywood broadcasts dead letters and restarts as events; count them.
	watcher := e.SpawnFunc(func(c *actor.Context) {
		switch ev := c.Message().(type) {
		case actor.DeadLetterEvent:
			m.deadLetters.Inc()
		case actor.ActorRestartedEvent:
			m.restarts.Inc()
			r.log.Error("BUG: actor restarted", "actor", ev.PID.String(), "reason", fmt.Sprint(ev.Reason))
		}
	}, "events", actor.WithInboxSize(64))
	e.Subscribe(watcher)
	return r, nil
}

// Ready reports whether the router has joined its group and is consuming its partitions.
func (r *Router) Ready() bool { return r.ready.Load() }

// fail stops the router on an error that makes going on unsafe (a store that cannot write). The node exits and
// restarts from the last committed offsets; replayed records are skipped where already applied.
func (r *Router) fail(err error) {
	r.failOnce.Do(func() {
		r.failErr.Store(&err)
		r.log.Error("router stopping", "err", err)
		if r.cancel != nil {
			r.cancel()
		}
	})
}

// Run consumes until ctx ends or the router fails. On return every record it acknowledged is durable and its
// offsets committed as far as they were contiguous.
func (r *Router) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.cancel = cancel
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                     r.cfg.Group,
		Brokers:                r.cfg.Brokers,
		Topics:                 []string{r.cfg.Topic},
		SessionTimeout:         r.cfg.SessionTimeout,
		RebalanceTimeout:       r.cfg.RebalanceTimeout,
		HeartbeatInterval:      r.cfg.SessionTimeout / 4,
		PartitionWatchInterval: 5 * time.Second,
		WatchPartitionChanges:  true,
		StartOffset:            kafka.FirstOffset,
		JoinGroupBackoff:       500 * time.Millisecond,
		Timeout:                5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("router: consumer group %s: %w", r.cfg.Group, err)
	}
	defer group.Close()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			r.ready.Store(false)
			if ctx.Err() != nil {
				if p := r.failErr.Load(); p != nil {
					return *p
				}
				return nil
			}
			r.log.Warn("consumer group generation failed; rejoining", "err", err)
			select {
			case <-time.After(time.Second):
				continue
			case <-ctx.Done():
				continue
			}
		}
		assigned := gen.Assignments[r.cfg.Topic]
		r.log.Info("partitions assigned", "generation", gen.ID, "count", len(assigned))
		var wg sync.WaitGroup
		for _, pa := range assigned {
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				// A partition stops on a rebalance (gctx) or on shutdown (ctx); either way it drains and commits
				// while the generation is still valid, before the group is left.
				pctx, pcancel := context.WithCancel(gctx)
				defer pcancel()
				stop := context.AfterFunc(ctx, pcancel)
				defer stop()
				r.consume(pctx, gen, pa.ID, pa.Offset)
			})
		}
		r.ready.Store(true)
		wg.Wait()
		r.ready.Store(false)
		if ctx.Err() != nil {
			if p := r.failErr.Load(); p != nil {
				return *p
			}
			return nil
		}
	}
}

// Close stops the actors. Run must have returned. It is idempotent.
func (r *Router) Close() error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return nil
}

// consume runs one partition for one generation.
func (r *Router) consume(ctx context.Context, gen *kafka.Generation, partition int, offset int64) {
	log := r.log.With("partition", partition)
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   r.cfg.Brokers,
		Topic:     r.cfg.Topic,
		Partition: partition,
		MinBytes:  1,
		MaxBytes:  8 << 20,
		MaxWait:   250 * time.Millisecond,
	})
	defer rd.Close()
	if offset < 0 {
		offset = kafka.FirstOffset
	}
	if err := rd.SetOffset(offset); err != nil {
		r.fail(fmt.Errorf("partition %d: set offset %d: %w", partition, offset, err))
		return
	}
	lagGauge := r.metrics.lag.WithLabelValues(strconv.Itoa(partition))
	// A revoked partition's gauges go away with it, or they would keep their last values (and alerts) forever.
	defer r.metrics.lag.DeleteLabelValues(strconv.Itoa(partition))
	defer r.metrics.committed.DeleteLabelValues(strconv.Itoa(partition))
	tr := newTracker(r.cfg.MaxInFlight)
	stop := make(chan struct{})
	tenants := map[string]*actor.PID{}
	defer func() {
		for _, pid := range tenants {
			<-r.engine.Poison(pid).Done()
		}
	}()

	committed := int64(-1)
	commit := func() {
		next := tr.committable()
		if next < 0 || next <= committed {
			return
		}
		if err := gen.CommitOffsets(map[string]map[int]int64{r.cfg.Topic: {partition: next}}); err != nil {
			log.Warn("commit offsets", "offset", next, "err", err)
			return
		}
		committed = next
		r.metrics.committed.WithLabelValues(strconv.Itoa(partition)).Set(float64(next))
	}
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		t := time.NewTicker(r.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				commit()
				lagGauge.Set(float64(rd.Stats().Lag))
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-commitDone
		// Drain: records handed to actors finish (they only wait for a sync) and their offsets are committed.
		deadline := time.Now().Add(10 * time.Second)
		for tr.inFlight() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		commit()
	}()

	for {
		msg, err := rd.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("partition %d: fetch: %w", partition, err))
			}
			return
		}
		if !tr.acquire(ctx.Done()) {
			return
		}
		tr.start(msg.Offset)
		r.metrics.fetched.Inc()
		rec, err := inbox.Decode(msg.Value)
		if err != nil {
			r.metrics.skipped.WithLabelValues("bad_record").Inc()
			log.Warn("skipping undecodable inbox record", "offset", msg.Offset, "err", err)
			tr.finish(msg.Offset)
			continue
		}
		if len(rec.Items) == 0 {
			tr.finish(msg.Offset)
			continue
		}
		pid := tenants[rec.Tenant]
		if pid == nil {
			t := rec.Tenant
			pid = r.engine.Spawn(func() actor.Receiver { return &tenantActor{r: r, tenant: t, lastAvail: map[string]int{}} },
				"tenant", actor.WithID(fmt.Sprintf("%s-p%d-g%d", t, partition, gen.ID)), actor.WithInboxSize(256))
			tenants[rec.Tenant] = pid
		}
		off := msg.Offset
		ack := &recordAck{finish: func() { tr.finish(off) }}
		ack.remaining.Store(int32(len(rec.Items)))
		r.engine.Send(pid, &recordMsg{rec: rec, offset: msg.Offset, ack: ack})
	}
}
