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
	ev := firstEvent(b)
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

// BenchmarkRecordCodec compares the encodings of the records the store keeps: JSON (the store's format before
// issue 15) and the binary encoding (codec.go), for an assigned conversation read by its operator and an
// outbound message the channel accepted. The binary decode copies its input, as the store's reads need.
//
//	go test ./actors/conversation -run '^$' -bench RecordCodec -benchmem
func BenchmarkRecordCodec(b *testing.B) {
	at := smAt(time.Minute)
	c, _, _ := Receive(Conversation{}, smIn("w0", "text", at, at), Policy{})
	c.Status, c.AssigneeID, c.LastOperatorID, c.AssignedAt, c.WaitingSince = Assigned, "op1", "op1", at, time.Time{}
	c.Labels = []string{"vip"}
	c.ReadBy = map[string]ReadMark{"op1": {Seq: 1, Inbound: 1, At: at}}
	m := Message{ConversationID: c.ID, Seq: 2, ID: "sb-01HZX3K4Q2", Direction: DirOut, Type: "text",
		Text: "Your order left the warehouse today and should arrive on Thursday", Status: Sent, SentAt: at,
		CreatedAt: at, StatusAt: at, OperatorID: "op1", WAMID: "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3OEIA"}
	for _, rec := range []struct {
		name  string
		v     binaryRecord
		fresh func() binaryRecord
	}{
		{"conversation", &c, func() binaryRecord { return new(Conversation) }},
		{"message", &m, func() binaryRecord { return new(Message) }},
	} {
		js, err := json.Marshal(rec.v)
		if err != nil {
			b.Fatal(err)
		}
		bin := rec.v.AppendBinary(nil)
		b.Run(rec.name+"/json-encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(js)))
			for b.Loop() {
				if _, err := json.Marshal(rec.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(rec.name+"/binary-encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bin)))
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				buf = rec.v.AppendBinary(buf[:0])
			}
		})
		b.Run(rec.name+"/json-decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(js)))
			for b.Loop() {
				if err := json.Unmarshal(js, rec.fresh()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(rec.name+"/binary-decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bin)))
			for b.Loop() {
				if err := rec.fresh().UnmarshalBinary(bin); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// firstEvent is the first event of a new conversation's first message, what the event benchmarks encode.
func firstEvent(b *testing.B) *Event {
	at := smAt(time.Minute)
	_, _, effects := Receive(Conversation{}, smIn("w1", "text", at, at), Policy{})
	for _, ef := range effects {
		if ef.Event != nil {
			return ef.Event
		}
	}
	b.Fatal("a new conversation's message emits no event")
	return nil
}
