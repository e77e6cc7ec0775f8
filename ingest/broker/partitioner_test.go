package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestPartitionerIsTheProducers: Partitioner names the partition the Producer put each tenant's record in.
func TestPartitionerIsTheProducers(t *testing.T) {
	e, err := NewEmbedded(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := []string{e.Addr()}
	const n = 5
	if err := EnsureTopics(ctx, brokers, n, 1, inbox.Topic); err != nil {
		t.Fatal(err)
	}
	p, err := NewProducer(ProducerConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []inbox.Record
	for i := range 40 {
		recs = append(recs, inbox.Record{Tenant: fmt.Sprintf("tenant-%d", i)})
	}
	if err := p.Produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	part := Partitioner(n)
	used := map[int]bool{}
	seen := 0
	for id := range n {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: inbox.Topic, Partition: id, MaxWait: inbox.FetchWait(100 * time.Millisecond)})
		c := &kafka.Client{Addr: kafka.TCP(brokers...)}
		res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{inbox.Topic: {kafka.LastOffsetOf(id)}}})
		if err != nil {
			t.Fatal(err)
		}
		end := res.Topics[inbox.Topic][0].LastOffset
		for range end {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := part(string(m.Key)); got != id {
				t.Errorf("tenant %s: produced to partition %d, Partitioner says %d", m.Key, id, got)
			}
			used[id] = true
			seen++
		}
		_ = rd.Close()
	}
	if seen != len(recs) || len(used) < 3 {
		t.Fatalf("read %d records from %d partitions", seen, len(used))
	}
}
