package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Recover produces every answer an earlier process recorded and did not see applied — here 700, more than one
// batch — as delivery records on switchboard.inbox, through the embedded broker.
func TestRecoverProducesEveryRecordedAnswer(t *testing.T) {
	b, err := broker.StartEmbedded(broker.Config{Addr: "127.0.0.1:0", NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := broker.EnsureTopics(ctx, []string{b.Addr()}, 1, 1, inbox.Topic); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := tenant.Parse([]byte(`tenants:
  - id: t
    channels:
      - {id: t-wa, type: whatsapp, phone_number_id: "1", app_secret: "s", verify_token: "v", access_token: "a"}
`))
	if err != nil {
		t.Fatal(err)
	}
	const n = 700
	batch := st.NewBatch()
	for i := range n {
		rec := inbox.Record{Tenant: "t", IngestAt: 1, Items: []inbox.Item{{Kind: inbox.KindDelivery, Channel: "t-wa",
			Delivery: &inbox.Delivery{ConversationID: "c", Seq: uint64(i + 1), MessageID: fmt.Sprintf("m%d", i), WAMID: fmt.Sprintf("wamid.%d", i)}}}}
		v, _ := json.Marshal(rec)
		if err := batch.Set(noteKey(jobKey("t-wa", uint64(i+1))), v); err != nil {
			t.Fatal(err)
		}
	}
	synced := make(chan error, 1)
	if err := st.Commit(batch, func(err error) { synced <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	p, err := inbox.NewProducer(inbox.ProducerConfig{Brokers: []string{b.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: p, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: inbox.Topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d deliveries: %v", len(seen), n, err)
		}
		var rec inbox.Record
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatal(err)
		}
		for _, it := range rec.Items {
			if it.Kind != inbox.KindDelivery || seen[it.Delivery.MessageID] {
				t.Fatalf("unexpected or repeated item %+v", it)
			}
			seen[it.Delivery.MessageID] = true
		}
	}
	if hw, _ := r.ReadLag(ctx); hw != 0 {
		t.Errorf("%d records beyond the %d deliveries", hw, n)
	}
}
