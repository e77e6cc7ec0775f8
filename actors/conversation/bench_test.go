package conversation

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// BenchmarkReceive is the pure rule of an inbound message: the customer's next message in an assigned
// conversation (the common case), and the first message of a new customer.
//
//	go test ./actors/conversation -run '^$' -bench Receive -benchmem
func BenchmarkReceive(b *testing.B) {
	at := smAt(time.Minute)
	b.Run("assigned", func(b *testing.B) {
		c, _, _ := Receive(Conversation{}, smIn("w0", "text", at, at), Policy{})
		c.Status, c.AssigneeID = Assigned, "op1"
		ins := make([]Inbound, 1024)
		for i := range ins {
			ins[i] = smIn(fmt.Sprintf("w%d", i+1), "text", at, at)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			next, _, _ := Receive(c, ins[i%len(ins)], Policy{})
			_ = next
			i++
		}
	})
	b.Run("new", func(b *testing.B) {
		in := smIn("w1", "text", at, at)
		b.ReportAllocs()
		for b.Loop() {
			Receive(Conversation{}, in, Policy{})
		}
	})
}

// BenchmarkEventEncode is the encoding of one event for the outbox (and switchboard.events): the router encodes
// each event with encoding/json today.
func BenchmarkEventEncode(b *testing.B) {
	at := smAt(time.Minute)
	_, _, effects := Receive(Conversation{}, smIn("w1", "text", at, at), Policy{})
	var ev *Event
	for _, ef := range effects {
		if ef.Event != nil {
			ev = ef.Event
			break
		}
	}
	if ev == nil {
		b.Fatal("a new conversation's message emits no event")
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		v, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		n = len(v)
	}
	b.SetBytes(int64(n))
}
