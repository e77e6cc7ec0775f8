package outcome

import "testing"

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	ch, cancel := r.Register("a")
	defer cancel()
	r.Publish("b", Result{Status: 500}) // nobody waits: dropped, never blocks
	r.Publish("a", Result{Status: 200, Body: "x"})
	if got := <-ch; got.Status != 200 || got.Body != "x" {
		t.Fatalf("got %+v", got)
	}
	r.Publish("a", Result{Status: 409}) // a second result for the same id is dropped
	if r.Waiting() != 0 {
		t.Fatalf("waiting = %d, want 0", r.Waiting())
	}
	_, cancel2 := r.Register("c")
	cancel2()
	if r.Waiting() != 0 {
		t.Fatalf("cancel left a waiter")
	}
}
