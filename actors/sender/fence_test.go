package sender

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestFencedSenderSendsNothingForALostPartition: with an ownership table, the sender sends the jobs of a partition
// the node owns; once the partition is revoked (or its lease expired) it sends none of the jobs it is handed — they
// stay in the store — and when the partition is given back and restored, a Rescan sends each of them once.
func TestFencedSenderSendsNothingForALostPartition(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	meta := startSim(t)
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "100", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: 1000}`)
	c := &conversation.Conversation{ID: "c1", TenantID: "t", ChannelID: "t-wa", Contact: conversation.Contact{WaID: "27000000001"}}
	st := storetest.Open(t, store.Config{Partition: func(string) int { return 0 }})
	queue := func(from, n int) (jobs []Job) {
		for i := from; i < from+n; i++ {
			_, j := queueJob(t, st, c, i)
			jobs = append(jobs, j)
		}
		return jobs
	}
	own := ownership.New(1, func(string) int { return 0 }, time.Minute)
	own.Grant(0, 4)
	own.Activate(0, 4)
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: producer(t, b.Addr()), BaseURL: meta.URL(),
		Workers: 2, RecipientBurst: 10000, Owner: own, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runSender(t, s)
	s.Notify(queue(0, 5)...)
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, 5) }, "the owned partition's jobs sent")

	own.Revoke(0, 4)
	s.Notify(queue(5, 5)...)
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool { return testutil.ToFloat64(s.m.fenced) >= 5 },
		"the lost partition's jobs fenced")
	if got := meta.Stats().Accepted; got != 5 {
		t.Fatalf("%d messages accepted after the partition was lost, want still 5", got)
	}

	own.Grant(0, 6)
	own.Activate(0, 6)
	if err := s.Rescan(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, 10) }, "the jobs sent once the partition is back")
	sent := map[string]int{}
	for _, r := range meta.Messages() {
		sent[r.IdempotencyKey]++
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("message %s sent %d times", id, n)
		}
	}
	if len(sent) != 10 {
		t.Errorf("%d distinct messages sent, want 10", len(sent))
	}
}
