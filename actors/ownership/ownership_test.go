package ownership

import (
	"errors"
	"testing"
	"time"
)

// A partition is acted for only once granted and activated, in the generation it was granted in, while its lease
// holds; a revoke of an older generation does not undo a newer grant; a renew extends only that generation's lease.
func TestOwnership(t *testing.T) {
	tab := New(2, func(tenant string) int { return map[string]int{"a": 0, "b": 1}[tenant] }, time.Hour)
	if tab.Owns("a") || tab.Check(0, 1) == nil {
		t.Fatal("a partition never granted is owned")
	}
	tab.Grant(0, 3)
	if err := tab.Check(0, 3); err != nil {
		t.Fatalf("granted: %v", err)
	}
	if tab.Owns("a") {
		t.Fatal("acted for before its restore (Activate)")
	}
	if err := tab.Check(0, 2); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("an older generation: %v", err)
	}
	tab.Activate(0, 3)
	if !tab.Owns("a") || tab.Owns("b") {
		t.Fatal("Owns after Activate")
	}
	tab.Grant(0, 5)
	tab.Revoke(0, 3) // the stop of generation 3 comes after the grant of 5
	if err := tab.Check(0, 5); err != nil {
		t.Fatalf("a late revoke of an older generation undid the newer grant: %v", err)
	}
	tab.Revoke(0, 5)
	if tab.Owns("a") || tab.Check(0, 5) == nil {
		t.Fatal("owned after its revoke")
	}
	var none *Table
	if !none.Owns("a") || none.Check(0, 1) != nil {
		t.Fatal("a nil table owns everything")
	}
}

func TestLeaseExpiresWithoutRenewal(t *testing.T) {
	tab := New(1, func(string) int { return 0 }, time.Hour)
	tab.Grant(0, 7)
	tab.Activate(0, 7)
	tab.Renew(7, time.Now().Add(-2*time.Hour)) // an old heartbeat renews nothing
	if !tab.Owns("x") {
		t.Fatal("an older heartbeat shortened the lease")
	}
	// A clock of the test's own: the lease is a second.
	past := New(1, func(string) int { return 0 }, time.Second)
	var elapsed time.Duration
	past.since = func(time.Time) time.Duration { return elapsed }
	at := func(d time.Duration) time.Time { return past.base.Add(d) }
	past.Grant(0, 7)
	past.Activate(0, 7)
	elapsed = 900 * time.Millisecond
	past.Renew(7, at(800*time.Millisecond)) // in time: the lease runs to 1.8 s
	elapsed = 1700 * time.Millisecond
	if !past.Owns("x") {
		t.Fatal("a lease renewed in time is not owned")
	}
	elapsed = 1800 * time.Millisecond
	if past.Owns("x") {
		t.Fatal("the lease never expired")
	}
	if err := past.Check(0, 7); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("an expired lease: %v", err)
	}
	elapsed = 9 * time.Second
	past.Renew(7, at(9*time.Second)) // a heartbeat accepted after the lease ran out (a node paused past it) revives nothing
	if past.Owns("x") || past.Check(0, 7) == nil {
		t.Fatal("a heartbeat accepted after the lease expired revived it")
	}
	past.Grant(0, 8) // a new generation does
	past.Activate(0, 8)
	if !past.Owns("x") || past.Check(0, 8) != nil {
		t.Fatal("a new grant is not owned")
	}
}
