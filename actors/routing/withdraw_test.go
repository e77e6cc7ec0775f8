package routing

import (
	"errors"
	"slices"
	"testing"
)

// Withdraw releases every conversation of the operator, even when going offline would keep them, and offers them
// to the others.
func TestWithdraw(t *testing.T) {
	d := New(Policy{}) // OfflineReleases false: SetAvailability(offline) would keep them
	for _, o := range []Operator{{ID: "a", Availability: Online, Capacity: 2}, {ID: "b", Availability: Offline, Capacity: 1}} {
		if _, err := d.UpsertOperator(o); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"c1", "c2"} {
		if as, err := d.Enqueue(Waiting{ConversationID: c, EnqueuedAt: 1}); err != nil || len(as) != 1 || as[0].OperatorID != "a" {
			t.Fatalf("Enqueue %s = %v, %v", c, as, err)
		}
	}
	if _, _, err := d.SetAvailability("b", Online, 2); err != nil {
		t.Fatal(err)
	}
	as, rel, err := d.Withdraw("a", 10)
	if err != nil || !slices.Equal(rel, []string{"c1", "c2"}) {
		t.Fatalf("Withdraw = %v, %v, %v", as, rel, err)
	}
	if len(as) != 1 || as[0].OperatorID != "b" || d.Load("a") != 0 || d.QueueLen() != 1 {
		t.Fatalf("assigned %v, load(a) %d, queue %d; want one to b, 0, 1", as, d.Load("a"), d.QueueLen())
	}
	if q := d.Queue(); q[0].LastOperator != "a" || q[0].EnqueuedAt != 10 {
		t.Fatalf("queued %+v, want last operator a at 10", q[0])
	}
	if _, _, err := d.Withdraw("zed", 11); !errors.Is(err, ErrOperatorUnknown) {
		t.Fatalf("Withdraw(unknown) err = %v", err)
	}
	if err := d.check(); err != nil {
		t.Fatal(err)
	}
}
