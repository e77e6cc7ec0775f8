package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestRescanSendsRestoredJobs: a restore writes send jobs (queued earlier, on another store, so their queue positions
// are below what the running sender has read past) and a recorded answer into the store, without Notify. Rescan
// sends every restored job exactly once and produces the answer again.
func TestRescanSendsRestoredJobs(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	meta := startSim(t)
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "100", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: 1000}`)
	c := &conversation.Conversation{ID: "c1", TenantID: "t", ChannelID: "t-wa", Contact: conversation.Contact{WaID: "27000000001"}}
	queue := func(st *store.Store, from, n int) {
		for i := from; i < from+n; i++ {
			m := &conversation.Message{ConversationID: c.ID, Seq: uint64(i + 1), ID: fmt.Sprintf("m%03d", i),
				Direction: conversation.DirOut, Type: "text", Text: "reply", Status: conversation.Pending}
			batch := st.NewBatch()
			if _, err := Queue(batch, c, m); err != nil {
				t.Fatal(err)
			}
			storetest.Commit(t, st, batch)
		}
	}
	// The other store queues first: its queue positions are the lower ones.
	other := storetest.Open(t, store.Config{Partition: func(string) int { return 0 }})
	queue(other, 0, 20)
	note, _ := json.Marshal(inbox.Record{Tenant: "t", IngestAt: 1, Items: []inbox.Item{{Kind: inbox.KindDelivery, Channel: "t-wa",
		Delivery: &inbox.Delivery{ConversationID: "c9", Seq: 1, MessageID: "restored-note", WAMID: "wamid.r"}}}})
	nb := other.NewBatch()
	if err := nb.PutDeliveryNote("t", store.NoteRef{Conversation: "c9", Seq: 1}, note); err != nil {
		t.Fatal(err)
	}
	storetest.Commit(t, other, nb)

	st := storetest.Open(t, store.Config{Partition: func(string) int { return 0 }})
	queue(st, 100, 10)
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: producer(t, b.Addr()), BaseURL: meta.URL(),
		Workers: 2, QueueLen: 2, RecipientBurst: 10000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runSender(t, s)
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, 10) }, "the node's own jobs sent")

	// The restore: the other store's replicated keys applied as a restore applies them.
	var changes []store.Change
	if err := other.EachReplicated(-1, func(k, v []byte) error {
		changes = append(changes, store.Change{Key: append([]byte{}, k...), Value: append([]byte{}, v...)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyRestored(0, changes, int64(len(changes))); err != nil {
		t.Fatal(err)
	}
	if err := s.Rescan(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, 30) }, "the restored jobs sent")
	time.Sleep(200 * time.Millisecond)
	sent := map[string]int{}
	for _, r := range meta.Messages() {
		sent[r.IdempotencyKey]++
	}
	if len(sent) != 30 {
		t.Fatalf("%d distinct messages sent, want 30", len(sent))
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("message %s sent %d times", id, n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: inbox.Topic, Partition: 0, MaxWait: inbox.FetchWait(50 * time.Millisecond)})
	defer r.Close()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("the restored answer was not produced: %v", err)
		}
		rec, err := inbox.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Items) == 1 && rec.Items[0].Delivery != nil && rec.Items[0].Delivery.MessageID == "restored-note" {
			break
		}
	}
}

// runSender runs s until the test ends, then closes it and checks that Run returned nil.
func runSender(t *testing.T, s *Sender) {
	t.Helper()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
