package whatsapp

import (
	"testing"
	"time"
)

// TestSharedDeadline: every context handed out expires between timeout-timeout/64 and timeout after the call,
// calls within a slice share one, and a later call gets a new one.
func TestSharedDeadline(t *testing.T) {
	const timeout = 640 * time.Millisecond
	s := newSharedDeadline(timeout)
	first := s.context()
	for i := 0; i < 1000; i++ {
		before := time.Now()
		ctx := s.context()
		after := time.Now()
		d, ok := ctx.Deadline()
		if !ok {
			t.Fatal("no deadline")
		}
		if d.Before(before.Add(timeout-timeout/deadlineSlices)) || d.After(after.Add(timeout)) {
			t.Fatalf("deadline %v after the call, want between %v and %v", d.Sub(before), timeout-timeout/deadlineSlices, timeout)
		}
		if ctx != first {
			return // a new slice began: a new context
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the same context after 1,000 calls over more than a slice")
}

func BenchmarkSharedDeadline(b *testing.B) {
	s := newSharedDeadline(DefaultProduceTimeout)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.context().Done() // a produce waits on its done channel
	}
}
