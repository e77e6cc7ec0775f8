package conversation

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPreview(t *testing.T) {
	long := strings.Repeat("é", 130)
	for _, tc := range []struct {
		typ, text, content, want string
	}{
		{"text", "hello\n  world", "", "hello world"},
		{"image", "", `{"id":"1"}`, "📷 Photo"},
		{"image", "the receipt", `{"id":"1","caption":"the receipt"}`, "📷 the receipt"},
		{"video", "", `{"id":"1"}`, "🎥 Video"},
		{"audio", "", `{"id":"1","voice":true}`, "🎤 Voice message"},
		{"audio", "", `{"id":"1"}`, "🎵 Audio"},
		{"document", "", `{"id":"1","filename":"invoice.pdf"}`, "📄 invoice.pdf"},
		{"document", "", `{"id":"1"}`, "📄 Document"},
		{"sticker", "", `{"id":"1"}`, "💟 Sticker"},
		{"location", "", `{"latitude":1,"longitude":2,"name":"Main St office"}`, "📍 Main St office"},
		{"location", "", `{"latitude":1,"longitude":2}`, "📍 Location"},
		{"contacts", "", `[{"name":{"formatted_name":"Ana Ruiz"}}]`, "👤 Contact: Ana Ruiz"},
		{"reaction", "", `{"message_id":"w","emoji":"👍"}`, "Reacted 👍"},
		{"template", "", `{"name":"order_update","language":"en"}`, "📋 Template: order_update"},
		{"button", "Yes", `{"text":"Yes"}`, "Yes"},
		{"order", "", `{}`, "Unsupported message (order)"},
		{"note", "<script>x</script>", "", "<script>x</script>"},
		{"text", long, "", strings.Repeat("é", 119) + "…"},
	} {
		got := Preview(tc.typ, tc.text, json.RawMessage(tc.content))
		if got != tc.want {
			t.Errorf("Preview(%s, %q, %s) = %q, want %q", tc.typ, tc.text, tc.content, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > PreviewLength || !utf8.ValidString(got) {
			t.Errorf("Preview(%s) has %d characters or is not UTF-8", tc.typ, n)
		}
	}
}

// ApplyLastStatus follows the last message's delivery status only, and does not touch the Version.
func TestApplyLastStatus(t *testing.T) {
	c := Conversation{Version: 7, LastMessage: &LastMessage{Seq: 3, Status: Pending}}
	if _, changed := ApplyLastStatus(c, Message{Seq: 2, Status: Read}); changed {
		t.Error("an earlier message changed the last message's status")
	}
	next, changed := ApplyLastStatus(c, Message{Seq: 3, Status: Delivered})
	if !changed || next.LastMessage.Status != Delivered || next.Version != 7 {
		t.Errorf("got %+v changed=%v, want delivered at version 7", next.LastMessage, changed)
	}
	if c.LastMessage.Status != Pending {
		t.Error("ApplyLastStatus modified its argument")
	}
	if _, changed := ApplyLastStatus(Conversation{}, Message{Seq: 1, Status: Sent}); changed {
		t.Error("a conversation without messages changed")
	}
}

// A read or a mention leaves the conversation it was applied to as it was: the maps are copied.
func TestReadAndMentionArePure(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c, _, _ := Receive(Conversation{}, smIn("w1", "text", at, at), Policy{})
	c1, _, err := ApplyCommand(c, Command{Type: CmdRead, OperatorID: "alice"}, Policy{}, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c1.LastActivityAt != c.LastActivityAt || c1.Version != c.Version+1 {
		t.Errorf("read moved activity to %v or version to %d", c1.LastActivityAt, c1.Version)
	}
	c2, _, err := ApplyCommand(c1, Command{Type: CmdRead, OperatorID: "bob"}, Policy{}, at.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c3, _, err := ApplyCommand(c2, Command{Type: CmdNote, OperatorID: "bob", Note: "@carol @alice", MessageID: "n1"}, Policy{}, at.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c4, _, err := ApplyCommand(c3, Command{Type: CmdNote, OperatorID: "bob", Note: "@dave", MessageID: "n2"}, Policy{}, at.Add(4*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(c1.ReadBy) != 1 || len(c2.ReadBy) != 2 || len(c3.MentionMarks) != 2 || len(c4.MentionMarks) != 3 {
		t.Errorf("read marks %v %v, mentions %v %v", c1.ReadBy, c2.ReadBy, c3.MentionMarks, c4.MentionMarks)
	}
	if !MentionUnread(&c4, "alice") || MentionUnread(&c4, "bob") || Unread(&c4, "alice") != 0 || Unread(&c4, "zed") != 1 {
		t.Errorf("mention/unread wrong: %+v", c4)
	}
}
