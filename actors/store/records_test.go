package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// oldRecords are the values in testdata/json-values: conversations and messages as the store wrote them before the
// binary encoding (encoding/json; written by that code, never regenerated), with what that store read back from
// them (json.Unmarshal into a zero value).
type oldRecords struct {
	convRaw [][]byte
	convs   []conversation.Conversation
	msgRaw  [][]byte
	msgs    []conversation.Message // all of convs[0], in seq order
}

func loadOldRecords(t *testing.T) oldRecords {
	t.Helper()
	var o oldRecords
	for _, name := range []string{"assigned", "snoozed", "unassigned"} {
		raw := readOld(t, "conversation-"+name+".json", &o.convs)
		o.convRaw = append(o.convRaw, raw)
	}
	for _, seq := range []string{"1", "2", "3", "4", "5"} {
		o.msgRaw = append(o.msgRaw, readOld(t, "message-"+seq+".json", &o.msgs))
	}
	return o
}

// readOld returns the value in file of testdata/json-values and appends it, decoded, to list.
func readOld[T any](t *testing.T, file string, list *[]T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "json-values", file))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	*list = append(*list, v)
	return bytes.TrimSpace(raw)
}

// putOld writes o into s as the store before the binary encoding left it: the indexes PutConversation and
// PutMessage write (the same before and after), and the records' values in JSON.
func putOld(t *testing.T, s *Store, tenant string, o oldRecords) {
	t.Helper()
	commitWait(t, s, func(b *Batch) error {
		for i := range o.convs {
			if err := b.PutConversation(&conversation.Conversation{}, &o.convs[i]); err != nil {
				return err
			}
		}
		for i := range o.msgs {
			if err := b.PutMessage(tenant, &o.msgs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	commitWait(t, s, func(b *Batch) error {
		for i, c := range o.convs {
			if err := b.b.Set(convKey(tenant, c.ID), o.convRaw[i], nil); err != nil {
				return err
			}
		}
		for i, m := range o.msgs {
			if err := b.b.Set(msgKey(tenant, m.ConversationID, m.Seq), o.msgRaw[i], nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// rawValue is the stored value of key.
func rawValue(t *testing.T, s *Store, key []byte) []byte {
	t.Helper()
	v, closer, err := s.db.Get(key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

// TestRecordsWrittenAsJSON: a store holding the conversations and messages an older node wrote in JSON reads them
// through every public read as that node did; holding a mix of JSON and binary values (an old record updated, new
// ones added) it reads, lists, searches, counts and erases them all; and a changelog of JSON values restores with
// the timer index rebuilt from them.
func TestRecordsWrittenAsJSON(t *testing.T) {
	const tenant = "acme"
	o := loadOldRecords(t)
	s := openStore(t, t.TempDir())
	putOld(t, s, tenant, o)
	full := o.convs[0]
	for _, key := range [][]byte{convKey(tenant, full.ID), msgKey(tenant, full.ID, 3)} {
		if v := rawValue(t, s, key); v[0] != '{' {
			t.Fatalf("the old value of %q starts with %#x", key, v[0])
		}
	}

	checkConv := func(when string, want conversation.Conversation) {
		t.Helper()
		got, err := s.Conversation(tenant, want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Conversation(%s) = %+v, %v\nwant %+v", when, want.ID, got, err, want)
		}
	}
	checkMessages := func(when string, want []conversation.Message) {
		t.Helper()
		for _, m := range want {
			if got, err := s.Message(tenant, m.ConversationID, m.Seq); err != nil || !reflect.DeepEqual(got, m) {
				t.Errorf("%s: Message(%d) = %+v, %v\nwant %+v", when, m.Seq, got, err, m)
			}
		}
		newestFirst := slices.Clone(want)
		slices.Reverse(newestFirst)
		if got, err := s.Messages(tenant, full.ID, 0, 50); err != nil || !reflect.DeepEqual(got, newestFirst) {
			t.Errorf("%s: Messages = %+v, %v\nwant %+v", when, got, err, newestFirst)
		}
	}
	checkSearch := func(when, text string, field string, seq uint64, want conversation.Conversation) {
		t.Helper()
		hits, _, err := s.Search(tenant, SearchQuery{Text: text})
		if err != nil || len(hits) != 1 {
			t.Fatalf("%s: Search(%q) = %+v, %v; want one hit", when, text, hits, err)
		}
		h := hits[0]
		if h.Field != field || h.Seq != seq || !reflect.DeepEqual(h.Conversation, want) ||
			!strings.Contains(strings.ToLower(h.Snippet), strings.ToLower(text)) {
			t.Errorf("%s: Search(%q) = %+v (conversation %+v)\nwant field %s seq %d in %s", when, text, h, h.Conversation,
				field, seq, want.ID)
		}
	}
	checkLists := func(when string, want []conversation.Conversation) {
		t.Helper()
		all, _, err := s.Conversations(tenant, Filter{})
		if err != nil || !reflect.DeepEqual(all, want) { // in id order, as the golden ids are
			t.Errorf("%s: Conversations = %+v, %v\nwant %+v", when, all, err, want)
		}
		for _, c := range want {
			byStatus, _, err := s.Conversations(tenant, Filter{Status: c.Status})
			if err != nil || !slices.ContainsFunc(byStatus, func(g conversation.Conversation) bool {
				return reflect.DeepEqual(g, c)
			}) {
				t.Errorf("%s: Conversations(status %s) = %+v, %v; want %s in it", when, c.Status, byStatus, err, c.ID)
			}
			listed, _, err := s.ListConversations(tenant, ListQuery{Status: c.Status})
			if err != nil || !slices.ContainsFunc(listed, func(g conversation.Conversation) bool {
				return reflect.DeepEqual(g, c)
			}) {
				t.Errorf("%s: ListConversations(status %s) = %+v, %v; want %s in it", when, c.Status, listed, err, c.ID)
			}
		}
		if missing, err := s.MissingPostings(tenant); err != nil || len(missing) != 0 {
			t.Errorf("%s: MissingPostings = %v, %v", when, missing, err)
		}
	}

	checkConv("old", full)
	checkMessages("old", o.msgs)
	checkLists("old", o.convs)
	checkSearch("old", "courier", MatchMessage, 5, full)
	checkSearch("old", "ågren", MatchContactName, 0, full)
	if counts, err := s.CountMessagesByID(tenant); err != nil || len(counts) != len(o.msgs) {
		t.Errorf("old: CountMessagesByID = %v, %v", counts, err)
	}
	if counts, err := s.InboxCounts(tenant, "alice"); err != nil || counts == (InboxCounts{}) {
		t.Errorf("old: InboxCounts = %+v, %v", counts, err)
	}

	// An old conversation updated, an old message's status updated and a message added: written in binary, beside
	// JSON values.
	next := full
	next.Labels = append(slices.Clone(full.Labels), "refund")
	next.Messages, next.Version = 6, full.Version+1
	next.LastMessage = &conversation.LastMessage{Seq: 6, Direction: conversation.DirIn, Type: "text",
		Preview: "the parcel came back damaged", At: full.UpdatedAt.Add(time.Minute), Status: conversation.Received}
	m3 := o.msgs[2]
	m3.Status, m3.StatusAt = conversation.Read, m3.StatusAt.Add(time.Minute)
	m6 := conversation.Message{ConversationID: full.ID, Seq: 6, ID: "wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQUFB",
		Direction: conversation.DirIn, Type: "text", Text: "the parcel came back damaged", Status: conversation.Received,
		SentAt: next.LastMessage.At.Truncate(time.Second), CreatedAt: next.LastMessage.At}
	commitWait(t, s, func(b *Batch) error {
		return errors.Join(b.PutConversation(&full, &next), b.UpdateMessage(tenant, &o.msgs[2], &m3),
			b.PutMessage(tenant, &m6))
	})
	for key, want := range map[string]byte{
		string(convKey(tenant, full.ID)): conversation.FormatV1, string(msgKey(tenant, full.ID, 3)): conversation.FormatV1,
		string(msgKey(tenant, full.ID, 6)): conversation.FormatV1, string(msgKey(tenant, full.ID, 2)): '{',
		string(convKey(tenant, o.convs[1].ID)): '{',
	} {
		if v := rawValue(t, s, []byte(key)); v[0] != want {
			t.Errorf("value of %q starts with %#x, want %#x", key, v[0], want)
		}
	}
	mixed := []conversation.Message{o.msgs[0], o.msgs[1], m3, o.msgs[3], o.msgs[4], m6}
	checkConv("mixed", next)
	checkConv("mixed", o.convs[2])
	checkMessages("mixed", mixed)
	checkLists("mixed", []conversation.Conversation{next, o.convs[1], o.convs[2]})
	checkSearch("mixed", "courier", MatchMessage, 5, next)
	checkSearch("mixed", "damaged", MatchMessage, 6, next)
	if counts, err := s.CountMessagesByID(tenant); err != nil || len(counts) != len(mixed) {
		t.Errorf("mixed: CountMessagesByID = %v, %v", counts, err)
	}

	// The erase reads every message it deletes, JSON or binary, for the ids it unindexes.
	erased := next
	erased.Version++
	commitWait(t, s, func(b *Batch) error {
		return errors.Join(b.EraseConversation(tenant, &conversation.Erasure{ConversationID: full.ID, Through: 6,
			WaID: full.Contact.WaID}), b.PutConversation(&next, &erased))
	})
	if got, err := s.Messages(tenant, full.ID, 0, 50); err != nil || len(got) != 0 {
		t.Errorf("messages after the erase: %+v, %v", got, err)
	}
	for _, m := range mixed {
		for _, id := range []string{m.ID, m.WAMID} {
			if _, _, err := s.MessageRef(tenant, id); id != "" && !errors.Is(err, ErrNotFound) {
				t.Errorf("message id %s still indexed after the erase: %v", id, err)
			}
		}
	}

	// A changelog an older node wrote holds JSON values: restored, its conversations rebuild the timer index.
	r := openReplicated(t, t.TempDir(), newFakeReplicator())
	var changes []Change
	var wantTimers []TimerKey
	for i, c := range o.convs {
		changes = append(changes, Change{Key: convKey("p0-old", c.ID), Value: o.convRaw[i]})
		for _, kind := range conversation.TimerKinds {
			if due := c.Timers.Due(kind); !due.IsZero() {
				wantTimers = append(wantTimers, TimerKey{Due: due, Tenant: "p0-old", Conversation: c.ID, Kind: string(kind)})
			}
		}
	}
	if err := r.ApplyRestored(0, changes, int64(len(changes))); err != nil {
		t.Fatal(err)
	}
	if err := r.FinishRestore(0, int64(len(changes))); err != nil {
		t.Fatal(err)
	}
	gotTimers, err := r.DueTimers(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), TimerKey{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	sortTimers := func(ts []TimerKey) {
		slices.SortFunc(ts, func(a, b TimerKey) int { return strings.Compare(string(timerKey(a)), string(timerKey(b))) })
	}
	sortTimers(gotTimers)
	sortTimers(wantTimers)
	if len(wantTimers) < 4 || !reflect.DeepEqual(gotTimers, wantTimers) {
		t.Errorf("timers rebuilt from a JSON changelog: %+v\nwant %+v", gotTimers, wantTimers)
	}
	if got, err := r.Conversation("p0-old", o.convs[1].ID); err != nil || !reflect.DeepEqual(got, o.convs[1]) {
		t.Errorf("restored JSON conversation = %+v, %v", got, err)
	}
}

// TestRecordsCorrupt: a conversation or message value the store cannot decode — a format a newer node wrote, a
// truncated record — is an error of the read that names the key, never a panic or a zero value.
func TestRecordsCorrupt(t *testing.T) {
	const tenant = "acme"
	s := openStore(t, t.TempDir())
	c := conv(tenant, "c0001", conversation.Unassigned, "")
	m := msg("c0001", 1, "w1")
	enc := m.AppendBinary(nil)
	commitWait(t, s, func(b *Batch) error {
		return errors.Join(b.b.Set(convKey(tenant, c.ID), append([]byte{conversation.FormatV1 + 1}, 1, 2, 3), nil),
			b.b.Set(msgKey(tenant, m.ConversationID, 1), enc[:len(enc)/2], nil))
	})
	if _, err := s.Conversation(tenant, c.ID); !errors.Is(err, conversation.ErrUnknownFormat) ||
		!strings.Contains(err.Error(), c.ID) {
		t.Errorf("Conversation of a newer format: %v", err)
	}
	if _, _, err := s.Conversations(tenant, Filter{}); !errors.Is(err, conversation.ErrUnknownFormat) {
		t.Errorf("Conversations over a newer format: %v", err)
	}
	if _, err := s.Message(tenant, m.ConversationID, 1); !errors.Is(err, conversation.ErrMalformed) {
		t.Errorf("Message truncated: %v", err)
	}
	if _, err := s.Messages(tenant, m.ConversationID, 0, 10); !errors.Is(err, conversation.ErrMalformed) {
		t.Errorf("Messages over a truncated one: %v", err)
	}
}

// TestJSONValuesForARollingUpgrade: with Config.JSONValues the store writes conversation and message values exactly
// as a store before the binary encoding did (encoding/json of the record), through PutConversation, PutMessage and
// UpdateMessage, so a node of that release reading them (json.Unmarshal) gets the record; reads are the same.
func TestJSONValuesForARollingUpgrade(t *testing.T) {
	const tenant = "acme"
	o := loadOldRecords(t)
	s := openStoreConfig(t, Config{Dir: t.TempDir(), JSONValues: true})
	c := o.convs[0]
	msgs := slices.Clone(o.msgs)
	commitWait(t, s, func(b *Batch) error {
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			return err
		}
		for i := range msgs {
			if err := b.PutMessage(tenant, &msgs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	prev := msgs[0]
	msgs[0].Status, msgs[0].StatusAt = conversation.Read, prev.CreatedAt.Add(time.Minute).UTC()
	commitWait(t, s, func(b *Batch) error { return b.UpdateMessage(tenant, &prev, &msgs[0]) })

	olderRead := func(key []byte, want any, into any) {
		t.Helper()
		raw := rawValue(t, s, key)
		enc, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, enc) {
			t.Fatalf("%s: stored %q, want the JSON an older store wrote, %q", key, raw, enc)
		}
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatalf("%s: an older node's read: %v", key, err)
		}
	}
	var oc conversation.Conversation
	olderRead(convKey(tenant, c.ID), &c, &oc)
	if !reflect.DeepEqual(oc, c) {
		t.Errorf("an older node reads the conversation as %+v, want %+v", oc, c)
	}
	for _, m := range msgs {
		var om conversation.Message
		olderRead(msgKey(tenant, m.ConversationID, m.Seq), &m, &om)
		if !reflect.DeepEqual(om, m) {
			t.Errorf("an older node reads message %d as %+v, want %+v", m.Seq, om, m)
		}
	}
	got, err := s.Message(tenant, msgs[0].ConversationID, msgs[0].Seq)
	if err != nil || got.Status != conversation.Read {
		t.Errorf("Message after the update = %+v, %v; want status read", got, err)
	}
	// Every posting is there conversation first too, which an older node's searches and erases read.
	var want []string
	for _, k := range postingsOf(t, s, tenant, c.ID) {
		if rest, ok := strings.CutPrefix(k, string(postingsPrefix(tenant))); ok {
			tok, conv, field, err := parsePosting([]byte(rest))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, string(forwardKey(tenant, string(conv), string(tok), field)))
		}
	}
	var forward []string
	for _, k := range postingsOf(t, s, tenant, c.ID) {
		if strings.HasPrefix(k, string(tenantKey(0, tenant, 'g'))) {
			forward = append(forward, k)
		}
	}
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(forward, want) {
		t.Errorf("postings conversation first %q, want %q", forward, want)
	}
}
