package store

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// A message carrying a media id indexes it for its tenant only; a text message, a link and another tenant's id
// index nothing.
func TestMediaRef(t *testing.T) {
	s := openStore(t, t.TempDir())
	msgs := []conversation.Message{
		{ConversationID: "c1", Seq: 1, ID: "wamid.1", Direction: conversation.DirIn, Type: "image",
			Content: json.RawMessage(`{"id":"1001","mime_type":"image/jpeg"}`)},
		{ConversationID: "c1", Seq: 2, ID: "sb.2", Direction: conversation.DirOut, Type: "document",
			Content: json.RawMessage(`{"id":"1002","filename":"a.pdf"}`)},
		{ConversationID: "c1", Seq: 3, ID: "sb.3", Direction: conversation.DirOut, Type: "image",
			Content: json.RawMessage(`{"link":"https://example.com/a.png"}`)},
		{ConversationID: "c1", Seq: 4, ID: "wamid.4", Direction: conversation.DirIn, Type: "text", Text: "1003"},
	}
	commitWait(t, s, func(b *Batch) error {
		for i := range msgs {
			if err := b.PutMessage("acme", &msgs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	for id, seq := range map[string]uint64{"1001": 1, "1002": 2} {
		conv, got, err := s.MediaRef("acme", id)
		if err != nil || conv != "c1" || got != seq {
			t.Errorf("MediaRef(acme, %s) = %s %d %v, want c1 %d", id, conv, got, err, seq)
		}
		if _, _, err := s.MediaRef("globex", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("MediaRef(globex, %s) = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"1003", "", "https://example.com/a.png"} {
		if _, _, err := s.MediaRef("acme", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("MediaRef(acme, %q) = %v, want ErrNotFound", id, err)
		}
	}
}

// Erasing a message's media reference makes the id nobody's; a reference rewritten by a later message stays.
func TestDeleteMediaRef(t *testing.T) {
	s := openStore(t, t.TempDir())
	a := conversation.Message{ConversationID: "c1", Seq: 1, Type: "image", Content: json.RawMessage(`{"id":"7"}`)}
	b := conversation.Message{ConversationID: "c1", Seq: 2, Type: "image", Content: json.RawMessage(`{"id":"8"}`)}
	c := conversation.Message{ConversationID: "c2", Seq: 1, Type: "image", Content: json.RawMessage(`{"id":"8"}`)}
	commitWait(t, s, func(bt *Batch) error {
		for _, m := range []*conversation.Message{&a, &b, &c} {
			if err := bt.PutMessage("acme", m); err != nil {
				return err
			}
		}
		return nil
	})
	commitWait(t, s, func(bt *Batch) error {
		if err := bt.DeleteMediaRef(s, "acme", &a); err != nil {
			return err
		}
		return bt.DeleteMediaRef(s, "acme", &b) // 8 points at c now
	})
	if _, _, err := s.MediaRef("acme", "7"); !errors.Is(err, ErrNotFound) {
		t.Errorf("7 after its message's erasure: %v", err)
	}
	if conv, _, err := s.MediaRef("acme", "8"); err != nil || conv != "c2" {
		t.Errorf("8 = %s %v, want c2's", conv, err)
	}
}
