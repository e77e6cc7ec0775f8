package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store/forensic"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// grepDir returns the files under dir that hold any of needles, tables decompressed.
func grepDir(t *testing.T, dir string, needles ...string) map[string][]string {
	t.Helper()
	found, err := forensic.Find(dir, needles...)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestEraseScrubsFiles writes a customer's conversation the way the conversation actor does, erases it, scrubs,
// and then finds neither the phone number, the text nor one of its words in any file of the Pebble directory,
// while another customer's text is still there.
func TestEraseScrubsFiles(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	const (
		tenant  = "acme"
		channel = "acme-wa"
		phone   = "15557770123"
		text    = "Zanzibarquokka parcel 4711 never arrived"
		word    = "zanzibarquokka" // a search token: keys hold it
		keep    = "Otherwombat keeps his data"
	)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	receive := func(c conversation.Conversation, from, id, txt, name string, at time.Time) conversation.Conversation {
		in := &inbox.Message{ID: id, From: from, ProfileName: name, Type: "text", Timestamp: at.Unix(), Text: txt}
		if strings.HasPrefix(txt, "photo") {
			in.Type, in.Content = "image", []byte(`{"id":"media-777","caption":"`+txt+`"}`)
		}
		next, m, effects := conversation.Receive(c, conversation.Inbound{TenantID: tenant, ChannelID: channel, At: at,
			Message: in}, conversation.Policy{})
		commitWait(t, s, func(b *Batch) error {
			if err := b.PutConversation(&c, &next); err != nil {
				return err
			}
			if err := b.PutMessage(tenant, &m); err != nil {
				return err
			}
			for _, ef := range effects {
				v, _ := json.Marshal(ef.Event)
				if err := b.PutOutbox(tenant, v); err != nil {
					return err
				}
			}
			return nil
		})
		return next
	}
	c := receive(conversation.Conversation{}, phone, "wamid.A1", text, "Quentin Xylophonist", t0)
	c = receive(c, phone, "wamid.A2", "photo of the "+word+" box", "", t0.Add(time.Second))
	other := receive(conversation.Conversation{}, "15550009999", "wamid.B1", keep, "Bob", t0)
	commitWait(t, s, func(b *Batch) error {
		return b.ParkStatus(tenant, &inbox.Status{ID: "wamid.out", RecipientID: phone, Status: "read"})
	})
	if err := s.DB().Flush(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.MediaRef(tenant, "media-777"); err != nil {
		t.Fatalf("media reference before the erase: %v", err)
	}
	if len(postingsOf(t, s, tenant, c.ID)) == 0 {
		t.Fatal("no search posting of the conversation before the erase")
	}
	needles := []string{phone, text, word, "Xylophonist"}
	// The test can fail: before the erase every needle is on disk.
	if found := grepDir(t, dir, needles...); len(found) == 0 {
		t.Fatalf("no file holds the customer's data before the erase")
	}

	next, er, _, eerr := conversation.Erase(c, conversation.Command{Type: conversation.CmdErase, OperatorID: "root", Role: "admin"},
		conversation.Policy{}, t0.Add(time.Hour))
	if eerr != nil {
		t.Fatal(eerr)
	}
	commitWait(t, s, func(b *Batch) error {
		if err := b.PutConversation(&c, &next); err != nil {
			return err
		}
		return b.EraseConversation(tenant, er)
	})
	// The relay drains the outbox (message previews) in the meantime.
	entries, _, err := s.Outbox(nil, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOutbox(entries); err != nil {
		t.Fatal(err)
	}

	// Reads: the messages, their ids, the postings and the parked status are gone; the counts stay.
	got, err := s.Conversation(tenant, c.ID)
	if err != nil || got.Messages != 2 || got.InboundCount != 2 || got.Contact.WaID != "" || got.Contact.Name != "" {
		t.Fatalf("erased conversation %+v, %v", got, err)
	}
	if msgs, err := s.Messages(tenant, c.ID, 0, 10); err != nil || len(msgs) != 0 {
		t.Fatalf("messages after erase: %v, %v", msgs, err)
	}
	if _, _, err := s.MessageRef(tenant, "wamid.A1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("message id index after erase: %v", err)
	}
	if _, _, err := s.MediaRef(tenant, "media-777"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("media reference after erase: %v", err)
	}
	if _, err := s.ParkedStatus(tenant, "wamid.out"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("parked status after erase: %v", err)
	}
	if left := postingsOf(t, s, tenant, c.ID); len(left) > 0 {
		t.Fatalf("search postings after erase: %q", left)
	}
	for _, q := range []string{word, "quentin", phone, "0123"} {
		if hits, _, err := s.Search(tenant, SearchQuery{Text: q}); err != nil || len(hits) != 0 {
			t.Fatalf("search %q after erase: %v, %v", q, hits, err)
		}
	}
	if hits, _, err := s.Search(tenant, SearchQuery{Text: "otherwombat"}); err != nil || len(hits) != 1 || hits[0].Conversation.ID != other.ID {
		t.Fatalf("search of the other customer: %v, %v", hits, err)
	}

	if err := s.Scrub(context.Background(), []string{tenant}); err != nil {
		t.Fatal(err)
	}
	if found := grepDir(t, dir, needles...); len(found) != 0 {
		t.Fatalf("after the scrub, files still hold the erased customer's data: %v", found)
	}
	if found := grepDir(t, dir, keep); len(found) == 0 {
		t.Fatalf("the scrub lost another customer's message")
	}

	// The store reopens from what is left, and the erase is still there.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, dir)
	if got, err := s2.Conversation(tenant, c.ID); err != nil || !conversation.Erased(&got) {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	if m, err := s2.Message(tenant, other.ID, 1); err != nil || m.Text != keep {
		t.Fatalf("other customer's message after reopening: %+v, %v", m, err)
	}
}

// TestRequestScrub: a request runs a scrub on the scrubber goroutine, requests made while it runs are not lost, and
// Close waits for the scrubber.
func TestRequestScrub(t *testing.T) {
	s := openStore(t, t.TempDir())
	scrubs := func() uint64 {
		var m dto.Metric
		if err := s.Metrics.ScrubSeconds.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	for i := range 3 {
		s.RequestScrub("acme")
		eventually.True(t, 30*time.Second, 5*time.Millisecond, func() bool { return scrubs() >= uint64(i+1) },
			"scrub %d to run", i+1)
	}
	for range 100 {
		s.RequestScrub("acme")
		s.RequestScrub("globex")
	}
	before := scrubs()
	eventually.True(t, 30*time.Second, 5*time.Millisecond, func() bool { return scrubs() > before },
		"the requests made in a row to be served")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestScrubMarks: an erase's mark outlives a store that stops before its scrub, and the reopened store scrubs it;
// a finished scrub deletes the marks it covered.
func TestScrubMarks(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, NoScrub: true}) // stops "before the scrub": nothing scrubs
	if err != nil {
		t.Fatal(err)
	}
	commitWait(t, s, func(b *Batch) error {
		return b.EraseConversation("acme", &conversation.Erasure{ConversationID: "c0123456789abcdefg", WaID: "15550001"})
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	eventually.True(t, 30*time.Second, 5*time.Millisecond, func() bool {
		var m dto.Metric
		if err := s.Metrics.ScrubSeconds.Write(&m); err != nil || m.GetHistogram().GetSampleCount() == 0 {
			return false
		}
		marks, err := s.scrubMarksOf(nil)
		return err == nil && len(marks) == 0
	}, "the reopened store to scrub and clear the mark")
}

// TestScrubDespiteASnapshot: a snapshot taken before the erase and open while the scrub compacts keeps the older
// values; the scrub sees it (Pebble's pinned keys) and compacts again once the snapshot is closed.
func TestScrubDespiteASnapshot(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	const text = "Quokkasnapshot secret text"
	c := conv("acme", "c0123456789abcdef", conversation.Unassigned, "")
	m := msg(c.ID, 1, "wamid.S1")
	m.Text = text
	commitWait(t, s, func(b *Batch) error {
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			return err
		}
		return b.PutMessage("acme", &m)
	})
	if err := s.DB().Flush(); err != nil {
		t.Fatal(err)
	}
	if found := grepDir(t, dir, text); len(found) == 0 {
		t.Fatal("no file holds the text before the erase: the test proves nothing")
	}
	snap := s.DB().NewSnapshot()
	commitWait(t, s, func(b *Batch) error {
		return b.EraseConversation("acme", &conversation.Erasure{ConversationID: c.ID, Through: 1, WaID: c.Contact.WaID})
	})
	// The snapshot stays open through the scrub's first compaction pass.
	passes := 0
	afterScrubPass = func(int) {
		if passes++; passes == 1 {
			snap.Close()
		}
	}
	defer func() { afterScrubPass = nil }()
	if err := s.Scrub(context.Background(), []string{"acme"}); err != nil {
		t.Fatal(err)
	}
	if passes < 2 {
		t.Fatalf("%d compaction passes, want a second one after the snapshot pinned keys in the first", passes)
	}
	if found := grepDir(t, dir, text); len(found) != 0 {
		t.Fatalf("after the scrub, files hold the erased text: %v", found)
	}
}
