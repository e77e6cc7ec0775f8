package outcome

import "testing"

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	ch, cancel := r.Register("a")
	defer cancel()
	r.Publish("b", Result{Code: CodeInternal}) // nobody waits: dropped, never blocks
	r.Publish("a", Result{Body: "x"})
	if got := <-ch; got.Code != "" || got.Body != "x" {
		t.Fatalf("got %+v", got)
	}
	r.Publish("a", Result{Code: CodeReplayed}) // a second result for the same id is dropped
	if r.Waiting() != 0 {
		t.Fatalf("waiting = %d, want 0", r.Waiting())
	}
	_, cancel2 := r.Register("c")
	cancel2()
	if r.Waiting() != 0 {
		t.Fatalf("cancel left a waiter")
	}
}
