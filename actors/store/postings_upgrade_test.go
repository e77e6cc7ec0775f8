package store

import (
	"encoding/binary"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/search"
)

// putOldForm writes conversations and messages as a node before issue 15 left them: the records, their indexes, and
// every search posting in both forms, by token (f) and conversation first (g), each with its value. The messages of
// the conversations in jsonConvs are JSON values, as releases before the binary forms wrote them.
func putOldForm(tb testing.TB, s *Store, tenant string, cs []conversation.Conversation, ms []conversation.Message,
	jsonConvs ...string) {
	tb.Helper()
	commitWait(tb, s, func(b *Batch) error {
		both := func(token, conv string, field byte, v []byte) error {
			if err := b.b.Set(postingKey(tenant, token, conv, field), v, nil); err != nil {
				return err
			}
			return b.b.Set(forwardKey(tenant, conv, token, field), v, nil)
		}
		for i := range cs {
			c := &cs[i]
			if err := b.PutConversation(&conversation.Conversation{}, c); err != nil {
				return err
			}
			for _, t := range search.Tokens(c.Contact.Name) {
				if err := both(t, c.ID, fieldName, nil); err != nil {
					return err
				}
			}
			for _, t := range search.PhoneTokens(c.Contact.WaID) {
				if err := both(t, c.ID, fieldPhone, nil); err != nil {
					return err
				}
			}
		}
		for i := range ms {
			m := &ms[i]
			put := func() error { return b.PutMessage(tenant, m) }
			if slices.Contains(jsonConvs, m.ConversationID) {
				put = func() error { return b.putJSON(msgKey(tenant, m.ConversationID, m.Seq), m) }
			}
			if err := put(); err != nil {
				return err
			}
			for _, t := range search.Tokens(m.Text) {
				if err := both(t, m.ConversationID, fieldText, binary.BigEndian.AppendUint64(nil, m.Seq)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// postingsOf returns the keys of every search posting of conversation conv, in either form.
func postingsOf(tb testing.TB, s *Store, tenant, conv string) []string {
	tb.Helper()
	var keys []string
	for _, p := range [][]byte{postingsPrefix(tenant), tenantKey(0, tenant, 'g')} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			tb.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := string(it.Key())
			if strings.Contains(k, "/"+conv+"/") {
				keys = append(keys, k)
			}
		}
		if err := it.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

// TestSearchOverOldPostings: a store written before issue 15 (every posting in both forms; some messages JSON, as
// before the binary forms) is searched, checked,
// renamed and erased by the new code: every kind of query finds what it did (a broad prefix checked on each
// candidate too), a message written since is found beside the old ones, a renamed contact loses its old tokens in
// both forms, and an erased conversation keeps no posting of either form while the others keep theirs.
func TestSearchOverOldPostings(t *testing.T) {
	s := openStore(t, t.TempDir())
	cs := []conversation.Conversation{
		contact(conv("acme", "c01", conversation.Unassigned, ""), "Alice Martin", "15551230001"),
		contact(conv("acme", "c02", conversation.Unassigned, ""), "Bob Stone", "447700112299"),
		contact(conv("acme", "c03", conversation.Unassigned, ""), "Carol Marsh", "34600111222"),
	}
	putOldForm(t, s, "acme", cs, []conversation.Message{
		textMsg("c01", 1, conversation.DirIn, "Where is my order? It is late"),
		textMsg("c02", 1, conversation.DirIn, "I want a refund for order 99"),
		textMsg("c02", 2, conversation.DirOut, "Sorry to hear that, Bob."),
		textMsg("c03", 1, conversation.DirIn, "order arrived, marvellous"),
	}, "c03")
	// Written by the new code: by token only.
	putMsgs(t, s, "acme", textMsg("c01", 2, conversation.DirIn, "also the parcel is damaged"))
	if missing, err := s.MissingPostings("acme"); err != nil || len(missing) > 0 {
		t.Fatalf("MissingPostings = %v, %v", missing, err)
	}
	queries := []struct {
		q    string
		want []string
	}{
		{"alice", []string{"c01 contact_name 0 Alice Martin"}},
		{"0001", []string{"c01 phone 0 15551230001"}},
		{"order", []string{"c01 message 1 Where is my order? It is late", "c02 message 1 I want a refund for order 99",
			"c03 message 1 order arrived, marvellous"}},
		{"parcel", []string{"c01 message 2 also the parcel is damaged"}},
		{"order dam", []string{"c01 message 1 Where is my order? It is late"}}, // old and new messages of c01
		{"order mar", []string{"c01 message 1 Where is my order? It is late", "c03 message 1 order arrived, marvellous"}},
		{"refund sto", []string{"c02 message 1 I want a refund for order 99"}},
		{"order 4477", []string{"c02 message 1 I want a refund for order 99"}},
		{"order zz", nil},
	}
	defer func(m, c int) { maxMergedTokens, maxCollected = m, c }(maxMergedTokens, maxCollected)
	for _, paths := range []struct {
		name            string
		merged, collect int
	}{{"collected", 8, 20000}, {"merged", 8, 0}, {"checked", 0, 0}} {
		maxMergedTokens, maxCollected = paths.merged, paths.collect
		for _, tc := range queries {
			if _, got := searchIDs(t, s, "acme", tc.q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: Search(%q) = %q, want %q", paths.name, tc.q, got, tc.want)
			}
		}
	}

	// A renamed contact: its old name's postings go in both forms.
	prev := cs[1]
	next := contact(prev, "Robert Stone", prev.Contact.WaID)
	commitWait(t, s, func(b *Batch) error { return b.PutConversation(&prev, &next) })
	for _, k := range postingsOf(t, s, "acme", "c02") {
		if strings.Contains(k, "/bob/") && strings.HasSuffix(k, "/n") { // its message to Bob keeps a text posting
			t.Errorf("after the rename, posting %q is left", k)
		}
	}
	if _, got := searchIDs(t, s, "acme", "robert"); !reflect.DeepEqual(got, []string{"c02 contact_name 0 Robert Stone"}) {
		t.Errorf("after the rename, robert = %q", got)
	}

	// Erase c01 (old postings and a new one) and c02 (old ones and a rename).
	for _, c := range []conversation.Conversation{cs[0], next} {
		c.Messages = 2
		if len(postingsOf(t, s, "acme", c.ID)) == 0 {
			t.Fatalf("%s has no postings before its erase", c.ID)
		}
		erased, er, _, err := conversation.Erase(c, conversation.Command{Type: conversation.CmdErase, OperatorID: "root",
			Role: "admin"}, conversation.Policy{}, c.UpdatedAt)
		if err != nil {
			t.Fatal(err)
		}
		commitWait(t, s, func(b *Batch) error {
			if err := b.PutConversation(&c, &erased); err != nil {
				return err
			}
			return b.EraseConversation("acme", er)
		})
		if left := postingsOf(t, s, "acme", c.ID); len(left) > 0 {
			t.Errorf("erased %s keeps postings %q", c.ID, left)
		}
	}
	for _, q := range []string{"alice", "0001", "parcel", "where", "refund", "robert", "4477"} {
		if ids, _ := searchIDs(t, s, "acme", q); len(ids) > 0 {
			t.Errorf("after the erases, Search(%q) = %v", q, ids)
		}
	}
	if _, got := searchIDs(t, s, "acme", "order mar"); !slices.Equal(got, []string{"c03 message 1 order arrived, marvellous"}) {
		t.Errorf("after the erases, order mar = %q", got)
	}
	if missing, err := s.MissingPostings("acme"); err != nil || len(missing) > 0 {
		t.Errorf("after the erases, MissingPostings = %v, %v", missing, err)
	}
}
