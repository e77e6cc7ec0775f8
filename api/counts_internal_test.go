package api

import (
	"errors"
	"testing"
)

func TestCountsCacheIsExactPerHead(t *testing.T) {
	var c countsCache
	calls := 0
	compute := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(v), nil }
	}
	get := func(tenant, op string, head int64, v string) string {
		t.Helper()
		b, err := c.get(tenant, op, head, compute(v))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := get("acme", "alice", 7, "a7"); got != "a7" || calls != 1 {
		t.Fatalf("first get = %q after %d computes", got, calls)
	}
	if got := get("acme", "alice", 7, "other"); got != "a7" || calls != 1 {
		t.Fatalf("a second stream at the same head = %q after %d computes, want the shared a7 after 1", got, calls)
	}
	if got := get("acme", "alice", 8, "a8"); got != "a8" || calls != 2 {
		t.Fatalf("after a new event = %q after %d computes, want a fresh a8", got, calls)
	}
	if got := get("acme", "bob", 8, "b8"); got != "b8" || calls != 3 {
		t.Fatalf("another operator = %q after %d computes, want its own b8", got, calls)
	}
	if got := get("other", "alice", 8, "o8"); got != "o8" {
		t.Fatalf("another tenant's alice = %q, want her own o8", got)
	}
	if _, err := c.get("acme", "carol", 8, func() ([]byte, error) { return nil, errors.New("store down") }); err == nil {
		t.Fatal("a failed compute was not reported")
	}
	if got := get("acme", "carol", 8, "c8"); got != "c8" {
		t.Fatalf("after a failed compute = %q, want c8 (failures are not cached)", got)
	}
}
