// Package kafkalog writes the store's replicated writes to switchboard.changelog and restores a partition's state
// from it (README, "Changelog"). The Replicator is the store's Replicator: one producer goroutine per partition
// batches whatever was handed over while its previous request was in flight into one produce request (acks=all),
// so a partition's records keep their order and its acknowledgements come in order; the changes waiting per
// partition are bounded (Replicate blocks beyond the bound, which holds the store's sync pipeline back). Restore
// reads a changelog partition to its end into the store.
//
// It may import the store, the record format (actors/changelog), kafka-go and the Prometheus client.
package kafkalog

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

	"github.com/switchboard-hq/switchboard/actors/changelog"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
)

// Config configures a Replicator.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic is the changelog topic. Default changelog.Topic.
	Topic string
	// Partitions is the changelog's partition count (the inbox's). Required.
	Partitions int
	// MaxBatch is the most records of one produce request. Default 2,048.
	MaxBatch int
	// MaxBytes bounds the keys and envelopes of one produce request (Kafka refuses a record batch above the
	// broker's message.max.bytes, 1 MiB by default); a batch of the store larger than that spans several requests.
	// Default 768 KiB.
	MaxBytes int
	// MaxQueued bounds the changes handed over and not yet acknowledged, per partition: Replicate blocks while
	// it is reached. Default 65,536.
	MaxQueued int
	// Timeout bounds one produce request, retries included; a batch still not acknowledged then fails. Default 10 s.
	Timeout time.Duration
	// Owner, when set, fences the replicator (README, "Failover"): a request for a partition the node does not own
	// now, in the generation its records carry, is not produced and its batches fail with an error wrapping
	// ownership.ErrNotOwner (the router then ends its generation and joins the group again). Nil produces for every
	// partition (tests, a single node).
	Owner *ownership.Table
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = changelog.Topic
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 2048
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 768 << 10
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = 65536
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("changelog: no brokers")
	case c.Partitions < 1:
		return errors.New("changelog: Partitions must be positive")
	case c.MaxBatch < 1 || c.MaxBytes < 1 || c.MaxQueued < 1:
		return errors.New("changelog: MaxBatch, MaxBytes and MaxQueued must be positive")
	}
	return nil
}

// Replicator produces the store's replicated writes to the changelog. It is safe for concurrent use.
type Replicator struct {
	cfg     Config
	log     *slog.Logger
	client  *kafka.Client
	m       metrics
	parts   []*partitionQueue
	gens    []atomic.Int32
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// partitionQueue is what waits for one partition's producer.
type partitionQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	calls   []call
	queued  int // changes in calls
	started bool
	closed  bool
}

type call struct {
	changes []store.Change
	done    func(int64, error)
}

// New builds a replicator; it connects lazily.
func New(cfg Config) (*Replicator, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Replicator{cfg: cfg, log: cfg.Logger, m: m, ctx: ctx, cancel: cancel,
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: cfg.Timeout},
		parts:  make([]*partitionQueue, cfg.Partitions), gens: make([]atomic.Int32, cfg.Partitions)}
	for i := range r.parts {
		q := &partitionQueue{}
		q.cond = sync.NewCond(&q.mu)
		r.parts[i] = q
		r.gens[i].Store(changelog.NoGeneration)
	}
	return r, nil
}

// SetGeneration stamps partition part's records from now on with gen, the consumer group generation that assigned
// the partition to this node.
func (r *Replicator) SetGeneration(part int, gen int32) {
	if part >= 0 && part < len(r.gens) {
		r.gens[part].Store(gen)
	}
}

// Replicate implements store.Replicator.
func (r *Replicator) Replicate(part int, changes []store.Change, done func(int64, error)) {
	if part < 0 || part >= len(r.parts) {
		done(0, fmt.Errorf("changelog: partition %d of %d", part, len(r.parts)))
		return
	}
	q := r.parts[part]
	q.mu.Lock()
	for !q.closed && q.queued > 0 && q.queued+len(changes) > r.cfg.MaxQueued {
		q.cond.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		done(0, errors.New("changelog: replicator closed"))
		return
	}
	q.calls = append(q.calls, call{changes: changes, done: done})
	q.queued += len(changes)
	r.m.queued.Add(float64(len(changes)))
	if !q.started {
		q.started = true
		r.wg.Add(1)
		go r.produceLoop(part, q)
	}
	q.cond.Broadcast()
	q.mu.Unlock()
}

// produceLoop produces partition part's queued calls, one request at a time, until Close.
func (r *Replicator) produceLoop(part int, q *partitionQueue) {
	defer r.wg.Done()
	var recs []kafka.Record
	var buf []byte
	for {
		q.mu.Lock()
		for len(q.calls) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.calls) == 0 {
			q.mu.Unlock()
			return
		}
		// Take whole calls up to MaxBatch records (at least one call, however large).
		n, count := 0, 0
		for n < len(q.calls) && (n == 0 || count+len(q.calls[n].changes) <= r.cfg.MaxBatch) {
			count += len(q.calls[n].changes)
			n++
		}
		batch := append([]call{}, q.calls[:n]...)
		q.mu.Unlock()

		if err := r.produceCalls(part, batch, &recs, &buf); err != nil {
			for _, c := range batch {
				if c.done != nil {
					c.done(0, err)
				}
			}
		}
		q.mu.Lock()
		clear(q.calls[:n])
		q.calls = q.calls[n:]
		q.queued -= count
		r.m.queued.Sub(float64(count))
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// produceCalls produces the changes of calls in order, in requests of at most MaxBatch records and MaxBytes bytes
// (a call larger than that spans several), and calls each call's done once its last change is acknowledged,
// setting it to nil. On an error it returns at once: the calls left with a done are failed by the caller. recs and
// buf are reused across calls.
func (r *Replicator) produceCalls(part int, calls []call, recs *[]kafka.Record, buf *[]byte) error {
	gen := r.gens[part].Load()
	ci, chi := 0, 0 // the next change to produce: calls[ci].changes[chi]
	for ci < len(calls) {
		// Plan the request: from (ci, chi), as many changes as fit.
		n, size := 0, 0
		for pc, pch := ci, chi; pc < len(calls); {
			if pch == len(calls[pc].changes) {
				pc, pch = pc+1, 0
				continue
			}
			ch := calls[pc].changes[pch]
			sz := len(ch.Key) + changelog.HeaderLen + len(ch.Value)
			if n > 0 && (n == r.cfg.MaxBatch || size+sz > r.cfg.MaxBytes) {
				break
			}
			n, size, pch = n+1, size+sz, pch+1
		}
		// One buffer for the request's envelopes, grown first, so the records' slices into it stay valid.
		if cap(*buf) < size {
			*buf = make([]byte, 0, size)
		}
		b, rs, now := (*buf)[:0], (*recs)[:0], time.Now()
		for pc, pch := ci, chi; len(rs) < n; {
			if pch == len(calls[pc].changes) {
				pc, pch = pc+1, 0
				continue
			}
			ch := calls[pc].changes[pch]
			start := len(b)
			b = changelog.Append(b, ch.Key, ch.Value, gen, ch.Delete)
			env := b[start:len(b):len(b)]
			rec := kafka.Record{Key: kafka.NewBytes(ch.Key), Time: now}
			if ch.Delete {
				rec.Headers = []kafka.Header{{Key: changelog.DeleteHeader, Value: env}}
			} else {
				rec.Value = kafka.NewBytes(env)
			}
			rs = append(rs, rec)
			pch++
		}
		*buf, *recs = b, rs
		// Fencing: checked before each request, so a node that lost the partition (or whose lease expired while
		// it was paused) writes at most the request already in flight.
		if err := r.cfg.Owner.Check(part, gen); err != nil {
			r.m.errors.Inc()
			return fmt.Errorf("changelog: refused to write %s partition %d: %w", r.cfg.Topic, part, err)
		}
		base, err := r.produce(part, rs)
		if err != nil {
			return err
		}
		r.m.records.Add(float64(n))
		r.m.bytes.Add(float64(size))
		// Acknowledge the calls whose last change this request carried.
		off := base
		for k := 0; k < n || (ci < len(calls) && chi == len(calls[ci].changes)); {
			if chi == len(calls[ci].changes) {
				calls[ci].done(off, nil)
				calls[ci].done = nil
				ci, chi = ci+1, 0
				continue
			}
			chi, off, k = chi+1, off+1, k+1
		}
	}
	return nil
}

// produce writes recs to partition part with acks=all, retrying within Timeout, and returns the offset of the first.
func (r *Replicator) produce(part int, recs []kafka.Record) (int64, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	backoff := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := r.client.Produce(ctx, &kafka.ProduceRequest{Topic: r.cfg.Topic, Partition: part,
			RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(recs...)})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			r.m.produceSeconds.Observe(time.Since(start).Seconds())
			return res.BaseOffset, nil
		}
		r.m.retries.Inc()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			r.m.errors.Inc()
			return 0, fmt.Errorf("produce %d records to %s partition %d (%d attempts): %w", len(recs), r.cfg.Topic, part, attempt, err)
		case <-t.C:
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// Close produces what is queued, then stops. Replicate calls after it fail. It is idempotent.
func (r *Replicator) Close() error {
	r.closeMu.Lock()
	if r.closed {
		r.closeMu.Unlock()
		return nil
	}
	r.closed = true
	r.closeMu.Unlock()
	for _, q := range r.parts {
		q.mu.Lock()
		q.closed = true
		q.cond.Broadcast()
		q.mu.Unlock()
	}
	r.wg.Wait()
	r.cancel()
	return nil
}
