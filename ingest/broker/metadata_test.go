package broker

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
)

// countingTransport counts the metadata requests that reach the real transport.
type countingTransport struct {
	next     kafka.RoundTripper
	metadata atomic.Int64
}

func (c *countingTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if _, ok := req.(*metadataAPI.Request); ok {
		c.metadata.Add(1)
	}
	return c.next.RoundTrip(ctx, addr, req)
}

// TestCachedMetadata: a writer over CachedMetadata writes to every partition as before, asks the real transport
// for its topic's metadata about once per TTL instead of once per message, and learns of a topic it could not see
// before (an answer with an error is not kept).
func TestCachedMetadata(t *testing.T) {
	e, err := NewEmbedded(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := []string{e.Addr()}
	const topic = "metadata.test"
	if err := EnsureTopics(ctx, brokers, 3, 1, topic); err != nil {
		t.Fatal(err)
	}
	counting := &countingTransport{next: kafka.DefaultTransport}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{},
		Transport: CachedMetadata(counting, time.Hour), BatchTimeout: time.Millisecond}
	defer w.Close()
	const writes = 50
	for i := 0; i < writes; i++ {
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte{byte('a' + i%26)}, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := counting.metadata.Load(); n != 1 {
		t.Errorf("%d metadata requests reached the transport for %d writes, want 1", n, writes)
	}
	seen := map[int]bool{}
	for p := 0; p < 3; p++ {
		c, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := c.ReadLastOffset()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		seen[p] = last > 0
	}
	if !seen[0] || !seen[1] || !seen[2] {
		t.Errorf("partitions written: %v, want all 3", seen)
	}

	// A topic not there yet: its error answer is not reused once the topic exists.
	const later = "metadata.later"
	cache := CachedMetadata(counting, time.Hour)
	req := &metadataAPI.Request{TopicNames: []string{later}}
	res, err := cache.RoundTrip(ctx, kafka.TCP(brokers...), req)
	if err == nil && res.(*metadataAPI.Response).Topics[0].ErrorCode == 0 {
		t.Fatalf("topic %s known before it was created", later)
	}
	if err := EnsureTopics(ctx, brokers, 2, 1, later); err != nil {
		t.Fatal(err)
	}
	var parts int
	for i := 0; i < 100 && parts != 2; i++ { // the transport's own cache may need a moment
		res, err = cache.RoundTrip(ctx, kafka.TCP(brokers...), req)
		if err == nil && res.(*metadataAPI.Response).Topics[0].ErrorCode == 0 {
			parts = len(res.(*metadataAPI.Response).Topics[0].Partitions)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if parts != 2 {
		t.Errorf("topic %s: %d partitions seen through the cache, want 2", later, parts)
	}
}
