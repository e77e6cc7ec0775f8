package outbox

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
)

// TestFencedRelayLeavesALostPartitionsEntries: with an ownership table, the relay relays the entries of the
// tenants whose partition the node owns and leaves the others in the store, neither produced nor deleted; once the
// node is given that partition (and the store rewound, as a restore does), they are relayed too.
func TestFencedRelayLeavesALostPartitionsEntries(t *testing.T) {
	b := brokertest.Start(t, events("", ""))
	partOf := map[string]int{"mine": 0, "theirs": 1}
	own := ownership.New(2, func(tenant string) int { return partOf[tenant] }, time.Minute)
	own.Grant(0, 3)
	own.Activate(0, 3)
	s := storetest.Open(t, store.Config{})
	putEvents(t, s, []string{"mine", "theirs"}, 0, 5)
	r, reg, _ := runRelay(t, Config{Store: s, Brokers: []string{b.Addr()}, Owner: own})
	checkRelayed(t, readEvents(t, b.Addr(), 5), []string{"mine"}, 5)
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool {
		return metric(t, reg, "switchboard_events_fenced_total") >= 5
	}, "the other partition's entries fenced")
	if n := outboxLen(t, s); n != 5 {
		t.Fatalf("outbox holds %d entries, want the 5 of the partition not owned", n)
	}
	if n := topicSize(t, b.Addr()); n != 5 {
		t.Fatalf("%d events relayed, want 5", n)
	}

	own.Grant(1, 3)
	own.Activate(1, 3)
	s.RewindOutbox()
	r.Notify()
	// (not waitOutboxEmpty: its own read of the outbox would take the rewind meant for the relay)
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool { return s.OutboxLen() == 0 }, "the rest relayed")
	if n := topicSize(t, b.Addr()); n != 10 {
		t.Fatalf("%d events relayed once both partitions are owned, want 10", n)
	}
}
