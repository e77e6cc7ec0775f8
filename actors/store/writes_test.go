package store

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// A change that moves no list (its last message's status) writes the conversation's record and nothing of the
// lists' indexes, and the lists still find it; a change that moves its activity rewrites only the activity entries.
func TestListsWriteOnlyWhatMoved(t *testing.T) {
	s := openStore(t, t.TempDir())
	prev := conv("acme", "c0001", conversation.Assigned, "op1")
	prev.LastMessage = &conversation.LastMessage{Seq: 3, Direction: conversation.DirOut, Type: "text",
		Preview: "Your order left the warehouse today", Status: conversation.Sent}
	commitWait(t, s, func(b *Batch) error { return b.PutConversation(&conversation.Conversation{}, &prev) })

	next := prev
	lm := *prev.LastMessage
	lm.Status = conversation.Delivered
	next.LastMessage = &lm
	b := s.NewBatch()
	if err := b.PutConversation(&prev, &next); err != nil {
		t.Fatal(err)
	}
	if n := b.b.Count(); n != 1 {
		t.Errorf("a status-only change wrote %d keys, want 1 (the record)", n)
	}
	commitAndWait(t, s, b)

	moved := next
	moved.LastActivityAt = next.LastActivityAt.Add(time.Minute)
	b = s.NewBatch()
	if err := b.PutConversation(&next, &moved); err != nil {
		t.Fatal(err)
	}
	// The record, and for the activity sort the status and owner entries: each deleted and set again.
	if n := b.b.Count(); n != 1+2+2 {
		t.Errorf("a change of activity wrote %d keys, want 5", n)
	}
	commitAndWait(t, s, b)
	for _, q := range []ListQuery{{Sort: SortActivity}, {Sort: SortWaiting}, {Sort: SortCreated}, {Owner: "op1"},
		{Status: conversation.Assigned, Sort: SortActivity, Desc: true}} {
		list, _, err := s.ListConversations("acme", q)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != "c0001" || list[0].LastMessage.Status != conversation.Delivered {
			t.Errorf("list %+v = %+v, want c0001 with its delivered last message", q, list)
		}
	}
}

// A message's new state (the channel's id, then a status) writes its record and the ids it did not have: its text
// is not indexed again, and the message is still found by its text and by both ids.
func TestUpdateMessageIndexesOnlyWhatChanged(t *testing.T) {
	s := openStore(t, t.TempDir())
	c := conv("acme", "c0001", conversation.Assigned, "op1")
	m := conversation.Message{ConversationID: "c0001", Seq: 1, ID: "sb.1", Direction: conversation.DirOut,
		Type: "text", Text: "your parcel is on its way", Status: conversation.Pending}
	commitWait(t, s, func(b *Batch) error {
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			return err
		}
		return b.PutMessage("acme", &m)
	})
	accepted := m
	accepted.WAMID, accepted.Status = "wamid.A1", conversation.Sent
	read := accepted
	read.Status = conversation.Read
	for _, step := range []struct {
		prev, next conversation.Message
		keys       uint32
	}{{m, accepted, 2}, {accepted, read, 1}} {
		b := s.NewBatch()
		if err := b.UpdateMessage("acme", &step.prev, &step.next); err != nil {
			t.Fatal(err)
		}
		if n := b.b.Count(); n != step.keys {
			t.Errorf("update to %s wrote %d keys, want %d", step.next.Status, n, step.keys)
		}
		commitAndWait(t, s, b)
	}
	for _, id := range []string{"sb.1", "wamid.A1"} {
		if conv, seq, err := s.MessageRef("acme", id); err != nil || conv != "c0001" || seq != 1 {
			t.Errorf("MessageRef(%s) = %s, %d, %v", id, conv, seq, err)
		}
	}
	if got, err := s.Message("acme", "c0001", 1); err != nil || got.Status != conversation.Read {
		t.Errorf("stored message = %+v, %v; want it read", got, err)
	}
	hits, _, err := s.Search("acme", SearchQuery{Text: "parcel"})
	if err != nil || len(hits) != 1 || hits[0].Seq != 1 {
		t.Errorf("search parcel = %+v, %v", hits, err)
	}
	other := read
	other.Seq = 2
	if err := s.NewBatch().UpdateMessage("acme", &read, &other); err == nil {
		t.Error("an update naming another message was accepted")
	}
}
