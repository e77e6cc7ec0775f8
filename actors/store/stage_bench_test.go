package store

import (
	"testing"

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
