// Package router consumes switchboard.inbox as the consumer group "switchboard-router" and feeds each record to
// actors: one tenant actor per tenant of an assigned partition, one conversation actor per active conversation.
// Offsets are committed only over the contiguous prefix of records whose effects are durable in the store.
//
// It may import the pure rules (conversation, operator, routing), the store, the sender's queueing, outcome, tenant,
// ingest/inbox, hollywood, kafka-go and the Prometheus client; nothing imports it but cmd/switchboard/node.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/ownership"
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
	// Restore, when set, is called for each partition the group assigns, before any of its inbox records is
	// consumed (and before its tenant actors are rebuilt from the store): it makes the store hold the partition's
	// state (the changelog restore, actors/changelog/kafkalog). An error stops the router, so a partition whose
	// restore failed is never consumed. Nil (the default) restores nothing.
	Restore func(ctx context.Context, partition int, generation int32) error
	// Ownership, when set, is told of the partitions the group assigns (Grant, before Restore) and of those the
	// router stops (Revoke, once drained and committed), and its leases are renewed by a heartbeat of the
	// generation every SessionTimeout/6 (README, "Failover"). The relay, the sender, the timer firer and the
	// changelog replicator check it. Nil: none.
	Ownership *ownership.Table
	// Registerer registers the router's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// AuditPruneStep bounds the expired audit entries one input removes (retention.go). Default 1,000.
	AuditPruneStep int
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = inbox.Topic
	}
	if c.AuditPruneStep == 0 {
		c.AuditPruneStep = 1000
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
	case c.AuditPruneStep < 1:
		return errors.New("router: AuditPruneStep must be positive")
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

// Router is the consuming side of a node: New builds it, Run consumes until its context ends or it fails, and Close
// stops it for good. Ready and Close are safe for concurrent use.
type Router struct {
	cfg     Config
	log     *slog.Logger
	engine  *actor.Engine
	metrics *metrics
	watcher *actor.PID // counts hollywood's dead letters and restarts
	// parks counts the statuses parked, and local the store reads conversation actors answered themselves
	// (known.go).
	parks parkLog
	local localReads
	// trims counts the conversation actors that dropped their conversation while idle (trimMsg).
	trims atomic.Int64
	// grants keeps the conversation actors' grant requests between uses (at most grantCallsKept).
	grants grantCalls
	// persists keeps the callbacks of the conversation actors' changes between uses (at most persistsKept).
	persists persistDones

	ready    atomic.Bool
	failOnce sync.Once
	failErr  atomic.Pointer[error]

	mu     sync.Mutex // guards the fields below
	cancel context.CancelFunc
	// fenced is closed, and fence cancels the generation in progress, when a write of this node was refused for a
	// partition it no longer owns (a fence); nil between generations.
	fenced      chan struct{}
	fenceCancel context.CancelFunc
	running     chan struct{} // closed when the Run in progress returns; nil when none runs
	closed      bool
	stopped     chan struct{} // closed when the first Close returns
}

// New builds a router: its actor engine and metrics. It connects to nothing; Run does.
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
	r := &Router{cfg: cfg, log: cfg.Logger, engine: e, metrics: m, grants: grantCalls{make(freeList[grantCall], grantCallsKept)},
		persists: persistDones{make(freeList[persistDone], persistsKept)}}
	// hollywood broadcasts dead letters and restarts as events; count them.
	r.watcher = e.SpawnFunc(func(c *actor.Context) {
		switch ev := c.Message().(type) {
		case actor.DeadLetterEvent:
			m.deadLetters.Inc()
		case actor.ActorRestartedEvent:
			m.restarts.Inc()
			r.log.Error("BUG: actor restarted", "actor", ev.PID.String(), "reason", fmt.Sprint(ev.Reason))
		}
	}, "events", actor.WithInboxSize(64))
	e.Subscribe(r.watcher)
	return r, nil
}

// Ready reports whether the router has joined its group and is consuming its partitions.
func (r *Router) Ready() bool { return r.ready.Load() }

// fail stops the router on an error that makes going on unsafe (a store that cannot write). The node exits and
// restarts from the last committed offsets; replayed records are skipped where already applied.
//
// An error that wraps ownership.ErrNotOwner does not stop the router: see fence.
func (r *Router) fail(err error) {
	if errors.Is(err, ownership.ErrNotOwner) {
		r.fence(err)
		return
	}
	r.failOnce.Do(func() {
		r.failErr.Store(&err)
		r.log.Error("router stopping", "err", err)
		r.mu.Lock()
		cancel := r.cancel
		r.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	})
}

// fence ends the generation in progress after a durable write of this node was refused because it no longer owns
// the partition (its lease ran out: the node was paused, starved or cut off from the coordinator past its session).
// Its partitions stop without waiting for records that can no longer become durable, their actors (whose memory may
// hold the refused change) stop, the store forgets it holds them in full, and the router leaves the group and joins
// again: whatever it is given next is restored from the changelog. The node goes on serving; nothing refused was
// committed, so the partition's next owner consumes it again.
func (r *Router) fence(err error) {
	r.mu.Lock()
	ch, cancel := r.fenced, r.fenceCancel
	first := false
	if ch != nil {
		select {
		case <-ch:
		default:
			close(ch)
			first = true
		}
	}
	r.mu.Unlock()
	if !first {
		return
	}
	r.metrics.fences.Inc()
	r.log.Warn("a write was refused: this node no longer owns the partition; it stops its partitions and joins the group again",
		"err", err)
	cancel()
}

// Run joins the consumer group and consumes the partitions it is given until ctx ends, Close is called or the
// router fails. It returns nil after a stop by ctx or Close; the error that made going on unsafe (a store that
// cannot write, a partition that cannot fetch) after a failure; ErrClosed after Close; ErrRunning while another Run
// is in progress. On return every record it handed to actors is durable (or was still in flight after a 10 s drain,
// and is then not committed), each partition's contiguous durable prefix is committed, and the tenant and
// conversation actors of its partitions are stopped.
func (r *Router) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if r.running != nil {
		r.mu.Unlock()
		return ErrRunning
	}
	r.cancel = cancel
	running := make(chan struct{})
	r.running = running
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.cancel, r.running = nil, nil
		r.mu.Unlock()
		close(running)
	}()
	if p := r.failErr.Load(); p != nil {
		return *p // failed before it ran (a tenant actor fed without Run)
	}
	join := func() (*kafka.ConsumerGroup, error) {
		return kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
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
	}
	group, err := join()
	if err != nil {
		return fmt.Errorf("router: consumer group %s: %w", r.cfg.Group, err)
	}
	defer func() {
		// Leaving the group only speeds up the next rebalance; failing to is not worth failing the stop over.
		if err := group.Close(); err != nil {
			r.log.Warn("leave consumer group", "group", r.cfg.Group, "err", err)
		}
	}()
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
		fctx, fcancel := context.WithCancel(ctx)
		fenced := make(chan struct{})
		r.mu.Lock()
		r.fenced, r.fenceCancel = fenced, fcancel
		r.mu.Unlock()
		var wg, restored sync.WaitGroup
		if own := r.cfg.Ownership; own != nil {
			for _, pa := range assigned {
				own.Grant(pa.ID, gen.ID)
			}
			gen.Start(func(gctx context.Context) { r.renewLeases(gctx, gen) })
		}
		for _, pa := range assigned {
			wg.Add(1)
			restored.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				defer r.revoke(pa.ID, gen.ID)
				// A partition stops on a rebalance (gctx), on shutdown (ctx) or on a fence (fctx); either way it
				// drains and commits while the generation is still valid, before the group is left.
				pctx, pcancel := context.WithCancel(gctx)
				defer pcancel()
				stop := context.AfterFunc(fctx, pcancel)
				defer stop()
				if err := r.restore(pctx, pa.ID, gen.ID, &restored); err != nil {
					if pctx.Err() == nil {
						r.fail(err)
					}
					return
				}
				label := strconv.Itoa(pa.ID)
				r.metrics.owned.WithLabelValues(label).Set(float64(gen.ID))
				defer r.metrics.owned.DeleteLabelValues(label)
				if err := r.consumePartition(pctx, gen, pa.ID, pa.Offset, fenced); err != nil {
					r.fail(err)
				}
			})
		}
		// Ready once every assigned partition holds its state: the API reads the store.
		restored.Wait()
		r.ready.Store(true)
		wg.Wait()
		r.ready.Store(false)
		r.mu.Lock()
		r.fenced, r.fenceCancel = nil, nil
		r.mu.Unlock()
		fcancel()
		select {
		case <-fenced:
			if ctx.Err() != nil {
				break
			}
			// The store may hold a write the changelog refused; and kafka-go's generation may still be current
			// (a lease that ran out while heartbeats were late), which would give the same partitions back without
			// a restore: leave and join again.
			for _, pa := range assigned {
				r.cfg.Store.Stale(pa.ID)
			}
			if err := group.Close(); err != nil {
				r.log.Warn("leave consumer group after a fence", "group", r.cfg.Group, "err", err)
			}
			next, err := join()
			if err != nil { // the deferred Close closes the old group again, which is harmless
				return fmt.Errorf("router: consumer group %s: %w", r.cfg.Group, err)
			}
			group = next
		default:
		}
		if ctx.Err() != nil {
			if p := r.failErr.Load(); p != nil {
				return *p
			}
			return nil
		}
	}
}

// restore runs Config.Restore for a newly assigned partition, if set, and marks it restored either way.
func (r *Router) restore(ctx context.Context, partition int, gen int32, restored *sync.WaitGroup) error {
	defer restored.Done()
	if r.cfg.Restore == nil {
		return nil
	}
	if err := r.cfg.Restore(ctx, partition, gen); err != nil {
		return fmt.Errorf("partition %d: restore from the changelog: %w", partition, err)
	}
	return nil
}

// Close stops the router for good: it stops a Run in progress (which drains and commits, as when its context
// ends) and waits for it to return, then stops the actors the router started on its engine. hollywood's engine has
// no stop of its own; what remains of it after Close is its internal event stream actor, which holds no goroutine
// while idle. Close is idempotent and safe for concurrent use: every call returns once the router is stopped. It
// returns nil.
func (r *Router) Close() error {
	r.mu.Lock()
	if r.closed {
		stopped := r.stopped
		r.mu.Unlock()
		<-stopped
		return nil
	}
	r.closed = true
	r.stopped = make(chan struct{})
	defer close(r.stopped)
	cancel, running := r.cancel, r.running
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-running
	}
	r.engine.Unsubscribe(r.watcher)
	<-r.engine.Poison(r.watcher).Done()
	r.ready.Store(false)
	return nil
}

// revoke ends the node's ownership of partition part of generation gen, once its consumption stopped (drained,
// committed, actors stopped). A partition whose lease had expired first (the node was paused past its session, or
// cut off from the coordinator) may have been written past another owner's fence: the store forgets it holds it.
func (r *Router) revoke(part int, gen int32) {
	own := r.cfg.Ownership
	if own == nil {
		return
	}
	if err := own.Check(part, gen); err != nil {
		r.log.Warn("partition lost without a clean stop; its next restore starts from scratch", "partition", part,
			"generation", gen, "err", err)
		r.cfg.Store.Stale(part)
		r.metrics.revoked.WithLabelValues("lease_expired").Inc()
	} else {
		r.log.Info("partition stopped within its lease", "partition", part, "generation", gen)
		r.metrics.revoked.WithLabelValues("clean").Inc()
	}
	own.Revoke(part, gen)
}

// renewLeases sends a heartbeat of generation gen to the group's coordinator every SessionTimeout/6 until the
// generation ends, and renews the leases of gen's partitions from each one the coordinator accepts (from the time
// it was sent), or answers "rebalance in progress" to (the member still holds them until it joins again or the
// rebalance timeout ends). kafka-go heartbeats on its own too, but tells nothing of it; any other answer (the
// member was removed, the generation is over) or none renews nothing, and the leases run out.
func (r *Router) renewLeases(ctx context.Context, gen *kafka.Generation) {
	every := max(r.cfg.SessionTimeout/6, 10*time.Millisecond)
	client := &kafka.Client{Addr: kafka.TCP(r.cfg.Brokers...), Timeout: every}
	var coord net.Addr
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if coord == nil {
			res, err := client.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: gen.GroupID,
				KeyType: kafka.CoordinatorKeyTypeConsumer})
			if err != nil || res.Error != nil {
				continue
			}
			coord = kafka.TCP(net.JoinHostPort(res.Coordinator.Host, strconv.Itoa(res.Coordinator.Port)))
		}
		sent := time.Now()
		res, err := client.Heartbeat(ctx, &kafka.HeartbeatRequest{Addr: coord, GroupID: gen.GroupID,
			GenerationID: gen.ID, MemberID: gen.MemberID})
		switch {
		case err != nil:
			coord = nil // look it up again: it may have moved
		case errors.Is(res.Error, kafka.RebalanceInProgress):
			// Still a member of gen: the coordinator waits up to the rebalance timeout for it to join again before
			// it gives its partitions to others (the node's lease is shorter than both timeouts).
			r.cfg.Ownership.Renew(gen.ID, sent)
		case res.Error != nil:
			if errors.Is(res.Error, kafka.NotCoordinatorForGroup) {
				coord = nil
			}
		default:
			r.cfg.Ownership.Renew(gen.ID, sent)
		}
	}
}
