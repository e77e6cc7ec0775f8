package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// BenchmarkConversationGet is the point read of a conversation record (an actor's activation, the API's reads).
// BenchmarkPutConversation is the write of a conversation record into a batch, with its indexes, when only its
// last message status changed: today the whole record is encoded again (issue 15). Neither commits: BenchmarkCommit
// measures that.
//
//	go test ./actors/store -run '^$' -bench 'ConversationGet|PutConversation' -benchmem
func BenchmarkConversationGet(b *testing.B) {
	s := openStore(b, b.TempDir())
	c := conv("bench", "c0001", conversation.Assigned, "op1")
	commitWait(b, s, func(batch *Batch) error { return batch.PutConversation(&conversation.Conversation{}, &c) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Conversation("bench", "c0001"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutConversation(b *testing.B) {
	s := openStore(b, b.TempDir())
	prev := conv("bench", "c0001", conversation.Assigned, "op1")
	prev.LastMessage = &conversation.LastMessage{Seq: 3, Direction: conversation.DirOut, Type: "text",
		Preview: "Your order left the warehouse today", Status: conversation.Sent}
	next := prev
	lm := *prev.LastMessage
	lm.Status = conversation.Delivered
	next.LastMessage = &lm
	b.ReportAllocs()
	for b.Loop() {
		batch := s.NewBatch()
		if err := batch.PutConversation(&prev, &next); err != nil {
			b.Fatal(err)
		}
		batch.Discard()
	}
}

// BenchmarkMessageGet is the point read of a message record (a status webhook finds the message it updates).
// BenchmarkUpdateMessage is the write of a message record into a batch when only its delivery status changed,
// BenchmarkMessages the read of a page of 50 messages (the API's history). Like the two above, none commits.
//
//	go test ./actors/store -run '^$' -bench 'MessageGet|UpdateMessage|Messages$' -benchmem
func BenchmarkMessageGet(b *testing.B) {
	s := openStore(b, b.TempDir())
	m := benchMessage(1)
	commitWait(b, s, func(batch *Batch) error { return batch.PutMessage("bench", &m) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Message("bench", "c0001", 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateMessage(b *testing.B) {
	s := openStore(b, b.TempDir())
	prev := benchMessage(1)
	next := prev
	next.Status, next.StatusAt = conversation.Delivered, prev.SentAt.Add(2*time.Second)
	b.ReportAllocs()
	for b.Loop() {
		batch := s.NewBatch()
		if err := batch.UpdateMessage("bench", &prev, &next); err != nil {
			b.Fatal(err)
		}
		batch.Discard()
	}
}

func BenchmarkMessages(b *testing.B) {
	s := openStore(b, b.TempDir())
	commitWait(b, s, func(batch *Batch) error {
		for seq := uint64(1); seq <= 50; seq++ {
			m := benchMessage(seq)
			if err := batch.PutMessage("bench", &m); err != nil {
				return err
			}
		}
		return nil
	})
	b.ReportAllocs()
	for b.Loop() {
		if list, err := s.Messages("bench", "c0001", 0, 50); err != nil || len(list) != 50 {
			b.Fatal(len(list), err)
		}
	}
}

// benchMessage is an outbound text message as the sender leaves it once the channel accepted it.
func benchMessage(seq uint64) conversation.Message {
	m := msg("c0001", seq, fmt.Sprintf("sb-%d", seq))
	m.Direction, m.Status, m.OperatorID = conversation.DirOut, conversation.Sent, "op1"
	m.Text = "Your order left the warehouse today and should arrive on Thursday"
	m.WAMID = fmt.Sprintf("wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI%04d", seq)
	m.StatusAt = m.SentAt
	return m
}

// BenchmarkPutMessage is the write of a new message with its indexes (search postings, ids) into a batch and the
// batch's apply to the memtable, unsynced: what a customer message's persist spends on the message itself, Pebble's
// skiplist insertion of every key included (issue 15). "bench" is the standard bench's text ("hello <n>"),
// "sentence" a customer's sentence of 13 words. It reports the keys each message writes.
//
//	go test ./actors/store -run '^$' -bench PutMessage -benchmem
func BenchmarkPutMessage(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"bench", "hello 4417"},
		{"sentence", "Hi, my order 4417 has not arrived yet, can you check where it is please?"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := openStore(b, b.TempDir())
			m := msg("c0001", 0, "")
			m.Direction, m.Status, m.Text = conversation.DirIn, conversation.Received, tc.text
			keys := 0
			b.ReportAllocs()
			for b.Loop() {
				m.Seq++
				m.ID = fmt.Sprintf("wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQ%08d", m.Seq)
				batch := s.NewBatch()
				if err := batch.PutMessage("bench", &m); err != nil {
					b.Fatal(err)
				}
				keys = int(batch.b.Count())
				if err := s.db.Apply(batch.b, pebble.NoSync); err != nil {
					b.Fatal(err)
				}
				batch.Discard()
			}
			b.ReportMetric(float64(keys), "keys/op")
		})
	}
}

// BenchmarkPutNewConversation is the write of a new customer's conversation and its first message into a batch,
// with ids of their real length (conversation.ID, ContactID, a wamid), so that keys longer than the compiler's
// small stack buffers count: the routing bench's path for every new customer. None commits.
//
//	go test ./actors/store -run '^$' -bench PutNewConversation -benchmem
func BenchmarkPutNewConversation(b *testing.B) {
	s := openStore(b, b.TempDir())
	id := conversation.ID("bench-wa", "2701000001")
	next := conv("bench", id, conversation.Unassigned, "")
	next.Contact = conversation.Contact{ID: conversation.ContactID("2701000001"), WaID: "2701000001"}
	m := msg(id, 1, "wamid.HBgLMjcwMTAwMDAwMDEVAgASGBQzQUI3RkM2")
	m.Text = "hello"
	b.ReportAllocs()
	for b.Loop() {
		batch := s.NewBatch()
		if err := batch.PutConversation(&conversation.Conversation{}, &next); err != nil {
			b.Fatal(err)
		}
		if err := batch.PutMessage("bench", &m); err != nil {
			b.Fatal(err)
		}
		batch.Discard()
	}
}
