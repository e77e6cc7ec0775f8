package router

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// drainTimeout bounds how long a stopping partition waits for the records it handed to actors to become durable.
// They only wait for a store sync, so only a stuck store reaches it; what is not durable then is not committed and
// is consumed again by the partition's next owner.
const drainTimeout = 10 * time.Second

// partitionConsumer feeds the records of one partition of switchboard.inbox, for one consumer group generation, to
// tenant actors. Its contract:
//
//   - Records in flight are bounded (docs/design.md, invariant 9): deliver takes a tracker slot before it hands a
//     record on and blocks while Config.MaxInFlight records are not yet committable, so a slow store stops fetching
//     instead of growing actor inboxes.
//   - Only the contiguous prefix of durably applied records is committed (invariant 5): commit asks the tracker for
//     the end of that prefix and commits it if it moved, never an offset past a record that is not durable.
//   - It spawns one tenant actor per tenant the partition carries, on the first record of that tenant, and stop
//     stops them all: a partition that moves away takes its actors with it, and its next owner rebuilds them from
//     the store.
//
// deliver is called from one goroutine (the fetch loop); commit and the accessors are safe for concurrent use.
type partitionConsumer struct {
	r         *Router
	partition int
	gen       int32
	log       *slog.Logger
	tr        *tracker
	// commitTo commits next as the partition's committed offset: every record before it is durable.
	commitTo func(next int64) error
	tenants  map[string]*actor.PID // owned by the deliver goroutine until stop
	// fenced, when closed, ends stop's drain at once (Router.fence). Nil: never.
	fenced <-chan struct{}
	// tenantOpts are added to the tenant actors' spawn options: the scenario tests hold a tenant's records with a
	// middleware. Nil in production.
	tenantOpts []actor.OptFunc
	// convOpts are added to the conversation actors' spawn options: the scenario tests check what a conversation
	// actor is sent against the store. Nil in production.
	convOpts []actor.OptFunc

	commitMu  sync.Mutex
	committed int64 // the last offset commitTo accepted; -1 before the first
	gauge     prometheus.Gauge
}

// newPartitionConsumer prepares partition for generation gen; commitTo is how its offsets are committed.
func newPartitionConsumer(r *Router, partition int, gen int32, commitTo func(next int64) error) *partitionConsumer {
	return &partitionConsumer{
		r: r, partition: partition, gen: gen, log: r.log.With("partition", partition),
		tr: newTracker(r.cfg.MaxInFlight), commitTo: commitTo, tenants: map[string]*actor.PID{}, committed: -1,
		gauge: r.metrics.committed.WithLabelValues(strconv.Itoa(partition)),
	}
}

// consumePartition runs one partition of one generation over Kafka until ctx ends (a rebalance or a shutdown) or
// fetching fails. Either way it drains and commits before it returns, while the generation is still valid.
//
// fenced is closed when the generation is fenced (Router.fence): the partition then stops without waiting for its
// records in flight, which can no longer become durable.
func (r *Router) consumePartition(ctx context.Context, gen *kafka.Generation, partition int, offset int64, fenced <-chan struct{}) error {
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   r.cfg.Brokers,
		Topic:     r.cfg.Topic,
		Partition: partition,
		MinBytes:  1,
		MaxBytes:  8 << 20,
		MaxWait:   inbox.FetchWait(250 * time.Millisecond),
	})
	defer func() {
		if err := rd.Close(); err != nil {
			r.log.Warn("close partition reader", "partition", partition, "err", err)
		}
	}()
	if offset < 0 {
		offset = kafka.FirstOffset
	}
	if err := rd.SetOffset(offset); err != nil {
		return fmt.Errorf("partition %d: set offset %d: %w", partition, offset, err)
	}
	p := newPartitionConsumer(r, partition, gen.ID, func(next int64) error {
		return gen.CommitOffsets(map[string]map[int]int64{r.cfg.Topic: {partition: next}})
	})
	p.fenced = fenced
	return p.run(ctx, rd)
}

// run fetches from rd and delivers until ctx ends or a fetch fails, committing every CommitInterval; then it stops
// (drain, last commit, tenant actors stopped). It returns the fetch error, or nil when ctx ended.
func (p *partitionConsumer) run(ctx context.Context, rd *kafka.Reader) error {
	label := strconv.Itoa(p.partition)
	lag := p.r.metrics.lag.WithLabelValues(label)
	// A revoked partition's gauges go away with it, or they would keep their last values (and alerts) forever.
	defer p.r.metrics.lag.DeleteLabelValues(label)
	defer p.r.metrics.committed.DeleteLabelValues(label)

	tickerDone := make(chan struct{})
	stopTicker := make(chan struct{})
	go func() {
		defer close(tickerDone)
		t := time.NewTicker(p.r.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.commit()
				lag.Set(float64(rd.Stats().Lag))
			case <-stopTicker:
				return
			}
		}
	}()
	defer func() {
		close(stopTicker)
		<-tickerDone
		p.stop()
	}()
	for {
		msg, err := rd.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("partition %d: fetch: %w", p.partition, err)
		}
		if !p.deliver(ctx.Done(), msg.Offset, msg.Value) {
			return nil
		}
	}
}

// deliver hands the record at offset to its tenant actor. It first takes a slot of the in-flight bound, blocking
// while the bound is reached; it reports false, having delivered nothing, when stop closed meanwhile. A record that
// does not decode, or holds no item, is counted and finished at once.
func (p *partitionConsumer) deliver(stop <-chan struct{}, offset int64, value []byte) bool {
	if !p.tr.acquire(stop) {
		return false
	}
	p.tr.start(offset)
	p.r.metrics.fetched.Inc()
	rec, err := inbox.Decode(value)
	if err != nil {
		p.r.metrics.skippedBy.Get("bad_record").Inc()
		p.log.Warn("skipping undecodable inbox record", "offset", offset, "err", err)
		p.tr.finish(offset)
		return true
	}
	if len(rec.Items) == 0 {
		p.tr.finish(offset)
		return true
	}
	pid := p.tenants[rec.Tenant]
	if pid == nil {
		r, t, convOpts := p.r, rec.Tenant, p.convOpts
		opts := append([]actor.OptFunc{actor.WithID(fmt.Sprintf("%s-p%d-g%d", t, p.partition, p.gen)),
			actor.WithInboxSize(256)}, p.tenantOpts...)
		pid = r.engine.Spawn(func() actor.Receiver {
			return &tenantActor{r: r, tenant: t, lastAvail: map[string]int{}, convOpts: convOpts}
		}, "tenant", opts...)
		p.tenants[rec.Tenant] = pid
	}
	m := &recordMsg{rec: rec, offset: offset}
	m.ack = &m.acks
	m.acks.tr, m.acks.offset = p.tr, offset
	m.acks.remaining.Store(int32(len(rec.Items)))
	p.r.engine.Send(pid, m)
	return true
}

// commit commits the end of the contiguous durable prefix if it moved since the last commit. A failed commit is
// logged and left to the next one, which covers the same records.
func (p *partitionConsumer) commit() {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	next := p.tr.committable()
	if next < 0 || next <= p.committed {
		return
	}
	if err := p.commitTo(next); err != nil {
		p.log.Warn("commit offsets", "offset", next, "err", err)
		return
	}
	p.committed = next
	p.gauge.Set(float64(next))
}

// lastCommitted is the last offset committed, -1 before the first commit.
func (p *partitionConsumer) lastCommitted() int64 {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	return p.committed
}

// stop drains and stops the partition: it waits up to drainTimeout for the records handed on to become durable,
// commits their prefix, and stops the actors. deliver must have returned for good.
//
// The conversation actors stop first, each tenant actor answering meanwhile (stopKidsMsg): a conversation actor
// that asks its tenant actor for a grant while stopping (a proposal or a report may reach it after the drain) is
// refused at once, where a tenant actor stopping them itself could not answer it until its grant timed out and
// failed the router. Then the tenant actors stop.
func (p *partitionConsumer) stop() {
	t := time.NewTimer(drainTimeout)
	select {
	case <-p.tr.drained():
	case <-p.fenced:
		p.log.Warn("partition fenced: records in flight are consumed again by its next owner", "records", p.tr.inFlight())
	case <-t.C:
		p.log.Warn("records still in flight when the partition stopped; they are consumed again by its next owner",
			"records", p.tr.inFlight())
	}
	t.Stop()
	p.commit()
	var kids []context.Context
	for tenant, pid := range p.tenants {
		res, err := p.r.engine.Request(pid, stopKidsMsg{}, drainTimeout).Result()
		if err != nil {
			// Only a tenant actor stuck or gone gets here; stopping it below stops what is left of its children.
			p.log.Warn("tenant actor did not stop its conversation actors", "tenant", tenant, "err", err)
			continue
		}
		ks, ok := res.(*kidsStopping)
		if !ok {
			panic(fmt.Sprintf("BUG: stopKidsMsg answered with %T", res))
		}
		kids = append(kids, ks.done...)
	}
	for _, done := range kids {
		<-done.Done()
	}
	for _, pid := range p.tenants {
		<-p.r.engine.Poison(pid).Done()
	}
	clear(p.tenants)
}
