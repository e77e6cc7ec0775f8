package live

import (
	"strings"
	"testing"
)

// TestErasedPreviewsLeaveTheLog: after conversation.erased, a subscriber resuming from before it is replayed the
// conversation's events without their previews and message ids (a wamid holds the customer's number); another
// conversation's events keep theirs.
func TestErasedPreviewsLeaveTheLog(t *testing.T) {
	h, err := New(Config{ReplaySize: 16, Bounds: func(string) (int64, int64, bool) { return 0, 10, true }})
	if err != nil {
		t.Fatal(err)
	}
	// Meta's documented example: the base64 of a record holding the number 16505076520.
	const wamid = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
	pub := func(seq int64, id, typ, conv, preview string) {
		data := `{"id":"` + id + `","type":"` + typ + `","tenant_id":"acme","conversation_id":"` + conv + `"`
		if typ == "message.received" || typ == "message.status" {
			data += `,"message_id":"` + wamid + `"`
		}
		if preview != "" {
			data += `,"preview":"` + preview + `"`
		}
		h.Publish(Event{Seq: seq, ID: id, Type: typ, Tenant: "acme", Data: []byte(data + "}")})
	}
	pub(1, "c1-1-0", "message.received", "c1", "my secret parcel")
	pub(2, "c2-1-0", "message.received", "c2", "another customer")
	pub(3, "c1-2-0", "message.queued", "c1", "about your secret parcel")
	pub(4, "c1-3-0", "message.status", "c1", "")
	s, err := h.Subscribe("acme", "alice", "0")
	if err != nil {
		t.Fatal(err)
	}
	var before strings.Builder
	for _, f := range s.Initial {
		before.Write(f.Data)
	}
	s.Close()
	if !strings.Contains(before.String(), "secret parcel") || strings.Count(before.String(), wamid) != 3 {
		t.Fatalf("the log holds no preview before the erase: the test proves nothing\n%s", before.String())
	}
	pub(5, "c1-4-1", TypeErased, "c1", "")
	s, err = h.Subscribe("acme", "alice", "0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var after strings.Builder
	for _, f := range s.Initial {
		after.Write(f.Data)
	}
	got := after.String()
	if strings.Contains(got, "secret parcel") || !strings.Contains(got, "another customer") || ids(s.Initial) != "1,2,3,4,5" ||
		strings.Count(got, wamid) != 1 || !strings.Contains(got, "event: message.status\ndata: {") ||
		!strings.Contains(got, "event: message.queued\ndata: {") {
		t.Fatalf("after the erase the log replays:\n%s", got)
	}
}
