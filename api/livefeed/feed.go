// Package livefeed feeds the live hub (api/live) from Kafka: it reads every partition of switchboard.events, without
// a consumer group (every node serving GET /v1/events reads all of them), starting each partition up to Backfill
// records before its end so the replay logs are filled, and publishes each event into the hub.
//
// The per-tenant sequence (the SSE id) is the event's offset in its partition: the topic is keyed by tenant, so all
// of a tenant's events are in one partition, in order, and the offset is durable, increasing per tenant and the same
// on every node. Offsets of one tenant are not contiguous (other tenants share the partition); the hub only needs
// them increasing, and this feed tells it which range of each partition it has read (Bounds), so a resume can tell
// "nothing missed" from "older than the log".
//
// It imports kafka-go, api/live and the Prometheus client; api itself links no Kafka.
package livefeed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/api/live"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Config configures a Feed. Zero values take the defaults given.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic is read. Default inbox.EventsTopic (switchboard.events).
	Topic string
	// Backfill is how many records before each partition's end the feed starts at. Default: Hub.ReplaySize.
	Backfill int64
	// MaxWait is how long a fetch waits at the broker for new records. Kafka (and the embedded broker) answer a
	// waiting fetch as soon as a record arrives, so this bounds idle round trips, not latency. Default 500 ms.
	MaxWait time.Duration
	// CatchUp bounds how long a stream resuming right after the feed started waits for the feed to read up to where
	// the partitions ended at its start (a restarted node's consoles all reconnect at once; judged before that,
	// their ids would look newer than anything read, and every one would be sent reset). Default 5 s.
	CatchUp time.Duration
	// Hub configures the hub the feed publishes into (its Bounds is the feed's).
	Hub live.Config
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = inbox.EventsTopic
	}
	if c.Hub.ReplaySize == 0 {
		c.Hub.ReplaySize = 4096
	}
	if c.Backfill == 0 {
		c.Backfill = int64(c.Hub.ReplaySize)
	}
	if c.MaxWait == 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.CatchUp == 0 {
		c.CatchUp = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Feed reads switchboard.events into a hub. Run is called once; Close is idempotent.
type Feed struct {
	cfg   Config
	hub   *live.Hub
	ids   []int // partition ids, ascending (as the writer's balancer sees them)
	parts map[int]*partition

	closeOnce sync.Once
}

type partition struct {
	r       *kafka.Reader
	floor   int64         // the offset before the first one read
	head    atomic.Int64  // the last offset published
	end     int64         // the partition's end when the feed started
	caught  chan struct{} // closed once head reached end-1
	catchUp sync.Once
}

// New finds the topic's partitions and their ends, positions a reader on each and builds the hub.
func New(ctx context.Context, cfg Config) (*Feed, error) {
	cfg.setDefaults()
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("livefeed: Brokers are required")
	}
	f := &Feed{cfg: cfg, parts: map[int]*partition{}}
	cfg.Hub.Bounds = f.Bounds
	hub, err := live.New(cfg.Hub)
	if err != nil {
		return nil, err
	}
	f.hub = hub
	conn, err := kafka.DialContext(ctx, "tcp", cfg.Brokers[0])
	if err != nil {
		return nil, fmt.Errorf("livefeed: dial %s: %w", cfg.Brokers[0], err)
	}
	ps, err := conn.ReadPartitions(cfg.Topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("livefeed: partitions of %s: %w", cfg.Topic, err)
	}
	for _, p := range ps {
		first, last, err := bounds(ctx, cfg.Brokers[0], cfg.Topic, p.ID)
		if err != nil {
			f.Close()
			return nil, err
		}
		start := max(first, last-cfg.Backfill)
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.Topic, Partition: p.ID,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: inbox.FetchWait(cfg.MaxWait), QueueCapacity: 1024})
		if err := r.SetOffset(start); err != nil {
			r.Close()
			f.Close()
			return nil, fmt.Errorf("livefeed: position on %s/%d: %w", cfg.Topic, p.ID, err)
		}
		pt := &partition{r: r, floor: start - 1, end: last, caught: make(chan struct{})}
		pt.head.Store(start - 1)
		if start >= last { // nothing to read up to
			pt.catchUp.Do(func() { close(pt.caught) })
		}
		f.parts[p.ID] = pt
		f.ids = append(f.ids, p.ID)
	}
	slices.Sort(f.ids)
	return f, nil
}

// bounds are a partition's first offset and the offset its next record will get.
func bounds(ctx context.Context, broker, topic string, p int) (first, last int64, err error) {
	conn, err := kafka.DialLeader(ctx, "tcp", broker, topic, p)
	if err != nil {
		return 0, 0, fmt.Errorf("livefeed: dial the leader of %s/%d: %w", topic, p, err)
	}
	defer conn.Close()
	first, last, err = conn.ReadOffsets()
	if err != nil {
		return 0, 0, fmt.Errorf("livefeed: offsets of %s/%d: %w", topic, p, err)
	}
	return first, last, nil
}

// Hub is the hub the feed publishes into.
func (f *Feed) Hub() *live.Hub { return f.hub }

// Bounds says which offsets of tenant's partition the feed has published: (floor, head]. Until the feed has read up
// to where the partition ended when it started, it waits for that, at most CatchUp.
func (f *Feed) Bounds(tenant string) (floor, head int64, ok bool) {
	if len(f.ids) == 0 {
		return 0, 0, false
	}
	id := kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: []byte(tenant)}, f.ids...)
	p := f.parts[id]
	select {
	case <-p.caught:
	default:
		t := time.NewTimer(f.cfg.CatchUp)
		select {
		case <-p.caught:
		case <-t.C:
		}
		t.Stop()
	}
	return p.floor, p.head.Load(), true
}

// Run reads every partition until ctx ends or Close is called, then closes the hub; it returns nil.
func (f *Feed) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, id := range f.ids {
		p := f.parts[id]
		wg.Go(func() { f.read(ctx, id, p) })
	}
	wg.Wait()
	f.hub.Close() // its streams end with the feed: their clients resume elsewhere or after the restart
	return nil
}

func (f *Feed) read(ctx context.Context, id int, p *partition) {
	var ev struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		TenantID   string `json:"tenant_id"`
		OperatorID string `json:"operator_id"`
	}
	backoff := 50 * time.Millisecond
	for {
		m, err := p.r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
				return // closed
			}
			f.cfg.Logger.Warn("read live events", "partition", id, "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		ev.ID, ev.Type, ev.TenantID, ev.OperatorID = "", "", "", ""
		data := m.Value
		if json.Unmarshal(data, &ev) == nil && ev.Type != "" {
			if ev.TenantID == "" {
				ev.TenantID = string(m.Key)
			}
			if bytes.IndexByte(data, '\n') >= 0 { // an SSE data line is one line
				var b bytes.Buffer
				if json.Compact(&b, data) == nil {
					data = b.Bytes()
				}
			}
			f.hub.Publish(live.Event{Seq: m.Offset, ID: ev.ID, Type: ev.Type, Tenant: ev.TenantID,
				Operator: ev.OperatorID, Data: data})
		}
		p.head.Store(m.Offset)
		if m.Offset >= p.end-1 {
			p.catchUp.Do(func() { close(p.caught) })
		}
	}
}

// Close stops the readers and closes the hub (its streams end). It is idempotent.
func (f *Feed) Close() error {
	f.closeOnce.Do(func() {
		for _, p := range f.parts {
			p.r.Close()
		}
		if f.hub != nil {
			f.hub.Close()
		}
	})
	return nil
}
