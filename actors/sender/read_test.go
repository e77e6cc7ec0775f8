package sender

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestReadReceipts: read receipts queued in the store (before Run, as after a restart, and through Notify) reach the
// simulator as Meta's mark-as-read call, leave the queue once answered, produce no delivery record, and one the API
// refuses is counted as failed and dropped, not retried.
func TestReadReceipts(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	st := storetest.Open(t, store.Config{})
	meta := startSim(t)
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "100", app_secret: "s", verify_token: "v", access_token: "a"}`)
	reg := prometheus.NewRegistry()
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: producer(t, b.Addr()),
		BaseURL: meta.URL(), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// Left in the store by an earlier process: a read receipt and a reply, in one batch as a conversation actor
	// writes them.
	c := &conversation.Conversation{ID: "c1", TenantID: "t", ChannelID: "t-wa", Contact: conversation.Contact{WaID: "27000000001"}}
	batch := st.NewBatch()
	if _, err := QueueRead(batch, "t", "t-wa", "wamid.in-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := Queue(batch, c, &conversation.Message{ConversationID: "c1", Seq: 2, ID: "m1", Direction: conversation.DirOut,
		Type: "text", Text: "hi", Status: conversation.Pending}); err != nil {
		t.Fatal(err)
	}
	storetest.Commit(t, st, batch)

	ctx, stop := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = s.Run(ctx) }()
	defer func() { stop(); <-runDone }()

	// Queued while running, and one Meta refuses (no message id): 400, code 100, final.
	batch = st.NewBatch()
	j2, err := QueueRead(batch, "t", "t-wa", "wamid.in-2")
	if err != nil {
		t.Fatal(err)
	}
	j3, err := QueueRead(batch, "t", "t-wa", "")
	if err != nil {
		t.Fatal(err)
	}
	storetest.Commit(t, st, batch)
	s.Notify(j2, j3)

	reads := func(r string) float64 {
		return testutil.ToFloat64(s.m.reads.WithLabelValues(r))
	}
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error {
		if reads("sent") != 2 || reads("failed") != 1 {
			return fmt.Errorf("read receipts sent %v, failed %v; want 2 and 1", reads("sent"), reads("failed"))
		}
		return accepted(meta, 1)
	}, "the read receipts and the reply answered")
	got := map[string]bool{}
	for _, r := range meta.Reads() {
		if r.PhoneNumberID != "100" {
			t.Errorf("read on %s, want 100", r.PhoneNumberID)
		}
		got[r.MessageID] = true
	}
	if len(got) != 2 || !got["wamid.in-1"] || !got["wamid.in-2"] {
		t.Errorf("the simulator marked %v read, want wamid.in-1 and wamid.in-2", got)
	}
	if m := meta.Messages(); len(m) != 1 || m[0].IdempotencyKey != "m1" {
		t.Errorf("messages sent %+v, want the reply m1 only", m)
	}
	if got := testutil.ToFloat64(s.m.failed.WithLabelValues("100")); got != 0 {
		t.Errorf("the refused read receipt counted as %v failed messages", got)
	}
	eventually.NoError(t, 10*time.Second, 10*time.Millisecond, func() error {
		jobs, err := st.SendJobs("t", "t-wa", 0, 10)
		if err != nil || len(jobs) != 0 {
			return fmt.Errorf("%d jobs left in the queue (%v)", len(jobs), err)
		}
		return nil
	}, "the queue empty")

	// One delivery record, the reply's: a read receipt changes no conversation.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: inbox.Topic, Partition: 0, MaxWait: inbox.FetchWait(50 * time.Millisecond)})
	defer r.Close()
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually.NoError(t, 30*time.Second, 20*time.Millisecond, func() error {
		conn, err := kafka.DialLeader(rctx, "tcp", b.Addr(), inbox.Topic, 0)
		if err != nil {
			return err
		}
		defer conn.Close()
		last, err := conn.ReadLastOffset()
		if err != nil || last != 1 {
			return fmt.Errorf("%d records on %s (%v), want 1", last, inbox.Topic, err)
		}
		return nil
	}, "one delivery record")
	m, err := r.ReadMessage(rctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := inbox.Decode(m.Value); err != nil || rec.Items[0].Delivery.MessageID != "m1" {
		t.Errorf("delivery record %s (%v), want the reply's", m.Value, err)
	}
}
