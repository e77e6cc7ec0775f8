package broker

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestProducerFormats: a producer writes binary records by default and JSON ones, as nodes before the binary layout
// read them, with Format inbox.FormatJSON; Decode reads both back to what was produced.
func TestProducerFormats(t *testing.T) {
	e, err := NewEmbedded(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := []string{e.Addr()}
	if err := EnsureTopics(ctx, brokers, 1, 1, inbox.Topic); err != nil {
		t.Fatal(err)
	}
	// A record long enough that it outgrows the producer's buffer for the batch.
	text := string(make([]byte, 600))
	recs := func(tag string) []inbox.Record {
		return []inbox.Record{
			{Tenant: "acme", IngestAt: 1, Items: []inbox.Item{{Kind: inbox.KindMessage, Channel: "acme-wa",
				Message: &inbox.Message{ID: "wamid." + tag, From: "1555", Type: "text", Timestamp: 2, Text: tag + text}}}},
			{Tenant: "acme", IngestAt: 3, Items: []inbox.Item{{Kind: inbox.KindTimer,
				Timer: &inbox.Timer{Kind: "auto_close", ConversationID: "c-" + tag, Due: 4}}}},
		}
	}
	var want []inbox.Record
	for _, f := range []inbox.Format{"", inbox.FormatJSON, inbox.FormatBinary} {
		p, err := NewProducer(ProducerConfig{Brokers: brokers, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		rs := recs(string(f))
		if err := p.Produce(ctx, rs); err != nil {
			t.Fatal(err)
		}
		_ = p.Close()
		want = append(want, rs...)
	}
	if _, err := NewProducer(ProducerConfig{Brokers: brokers, Format: "xml"}); err == nil {
		t.Error("a producer of format xml was built")
	}

	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: inbox.Topic, Partition: 0, MaxWait: inbox.FetchWait(100 * time.Millisecond)})
	defer rd.Close()
	for i, w := range want {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		isJSON := i/2 == 1
		if isJSON {
			var r inbox.Record
			if err := json.Unmarshal(m.Value, &r); err != nil {
				t.Fatalf("record %d of the JSON producer: %v: %q", i, err, m.Value)
			}
		} else if m.Value[0] == '{' {
			t.Fatalf("record %d of a binary producer is JSON: %s", i, m.Value)
		}
		got, err := inbox.Decode(m.Value)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
}
