package broker

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// MetadataTTL is how long a writer built with CachedMetadata reuses a topic's metadata answer.
const MetadataTTL = time.Second

// metadataEntries bounds the answers one cache keeps: a writer asks about its own topic, or the few its messages
// name; a topic beyond the bound is asked of the transport each time, as without the cache.
const metadataEntries = 8

// CachedMetadata wraps next (kafka.DefaultTransport when nil) for one kafka.Writer (give each writer its own): the writer asks the transport
// for its topic's metadata once per message it writes, only to count the topic's partitions, and kafka.Transport
// answers each ask with a filtered copy of its cached metadata (two allocations per message). The wrapper reuses a
// successful answer about one topic for ttl (MetadataTTL when 0), so a topic's new partitions are used up to ttl
// later; every other request, and an answer carrying an error, passes through. Safe for concurrent use.
func CachedMetadata(next kafka.RoundTripper, ttl time.Duration) kafka.RoundTripper {
	if next == nil {
		next = kafka.DefaultTransport
	}
	if ttl <= 0 {
		ttl = MetadataTTL
	}
	return &metadataCache{next: next, ttl: ttl, entries: make(map[metadataKey]metadataEntry, 1)}
}

type metadataCache struct {
	next    kafka.RoundTripper
	ttl     time.Duration
	mu      sync.Mutex
	entries map[metadataKey]metadataEntry // at most metadataEntries
}

// metadataKey names an answer. It holds no address: a cache serves one writer, which asks one address (kafka.TCP's
// address of several brokers is a slice, which could not be a key anyway).
type metadataKey struct {
	topic string
	auto  bool
}

type metadataEntry struct {
	res     *metadataAPI.Response // shared, read only: the writer only counts its partitions
	expires time.Time
}

// RoundTrip implements kafka.RoundTripper.
func (c *metadataCache) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	mr, ok := req.(*metadataAPI.Request)
	if !ok || len(mr.TopicNames) != 1 {
		return c.next.RoundTrip(ctx, addr, req)
	}
	k := metadataKey{topic: mr.TopicNames[0], auto: mr.AllowAutoTopicCreation}
	now := time.Now()
	c.mu.Lock()
	e, hit := c.entries[k]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return e.res, nil
	}
	res, err := c.next.RoundTrip(ctx, addr, req)
	if err != nil {
		return res, err
	}
	r, ok := res.(*metadataAPI.Response)
	if !ok || len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || r.Topics[0].Name != k.topic {
		return res, nil
	}
	c.mu.Lock()
	if _, had := c.entries[k]; had || len(c.entries) < metadataEntries {
		c.entries[k] = metadataEntry{res: r, expires: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return res, nil
}
