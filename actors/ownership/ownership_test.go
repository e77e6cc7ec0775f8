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
	past := New(1, func(string) int { return 0 }, time.Millisecond)
	past.Grant(0, 7)
	past.Activate(0, 7)
	deadline := time.Now().Add(10 * time.Second)
	for past.Owns("x") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if past.Owns("x") {
		t.Fatal("the lease never expired")
	}
	if err := past.Check(0, 7); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("an expired lease: %v", err)
	}
	past.Renew(7, time.Now().Add(time.Hour)) // a heartbeat accepted (sent "later", so the lease holds for the test)
	if !past.Owns("x") {
		t.Fatal("a renewed lease is not owned")
	}
}
