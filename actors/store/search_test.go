package store

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/search"
)

// textMsg is message seq of a conversation with a text.
func textMsg(convID string, seq uint64, dir conversation.Direction, text string) conversation.Message {
	m := msg(convID, seq, fmt.Sprintf("wamid.%s.%d", convID, seq))
	m.Direction, m.Text = dir, text
	return m
}

func contact(c conversation.Conversation, name, phone string) conversation.Conversation {
	c.Contact.Name, c.Contact.WaID = name, phone
	return c
}

func putMsgs(tb testing.TB, s *Store, tenant string, ms ...conversation.Message) {
	tb.Helper()
	commitWait(tb, s, func(b *Batch) error {
		for i := range ms {
			if err := b.PutMessage(tenant, &ms[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// searchIDs runs a query and returns the ids of its hits (one page) and each hit as "<id> <field> <seq> <snippet>".
func searchIDs(tb testing.TB, s *Store, tenant, q string) ([]string, []string) {
	tb.Helper()
	hits, _, err := s.Search(tenant, SearchQuery{Text: q, Limit: 100})
	if err != nil {
		tb.Fatalf("Search(%q): %v", q, err)
	}
	var ids, desc []string
	for _, h := range hits {
		if h.Conversation.TenantID != tenant {
			tb.Errorf("Search(%q) in %s returned %s of tenant %s", q, tenant, h.Conversation.ID, h.Conversation.TenantID)
		}
		ids = append(ids, h.Conversation.ID)
		desc = append(desc, fmt.Sprintf("%s %s %d %s", h.Conversation.ID, h.Field, h.Seq, h.Snippet))
	}
	return ids, desc
}

func searchFixture(t *testing.T) *Store {
	s := openStore(t, t.TempDir())
	putConvs(t, s,
		contact(conv("acme", "c01", conversation.Unassigned, ""), "Alice Martin", "15551230001"),
		contact(conv("acme", "c02", conversation.Unassigned, ""), "Bob Stone", "447700112299"),
		contact(conv("acme", "c03", conversation.Unassigned, ""), "José Álvarez", "34600111222"),
		contact(conv("globex", "c01", conversation.Unassigned, ""), "Alice Other", "15551239999"),
		contact(conv("globex", "c09", conversation.Unassigned, ""), "Mallory", "15550000000"),
	)
	putMsgs(t, s, "acme",
		textMsg("c01", 1, conversation.DirIn, "Where is my order?"),
		textMsg("c02", 1, conversation.DirIn, "I want a refund for order 99"),
		textMsg("c02", 2, conversation.DirOut, "Sorry to hear that, Bob."),
		textMsg("c02", 3, conversation.DirNote, "Customer is angry, escalate"),
		textMsg("c03", 1, conversation.DirIn, "Hola, necesito ayuda con mi pedido"),
	)
	putMsgs(t, s, "globex", textMsg("c09", 1, conversation.DirIn, "order secret refund plans"))
	return s
}

func TestSearchMatches(t *testing.T) {
	s := searchFixture(t)
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"alice", []string{"c01 contact_name 0 Alice Martin"}},
		{"ALI", []string{"c01 contact_name 0 Alice Martin"}},
		{"martin alice", []string{"c01 contact_name 0 Alice Martin"}},
		{"+1 555 123", []string{"c01 phone 0 15551230001"}},
		{"0001", []string{"c01 phone 0 15551230001"}},
		{"4477", []string{"c02 phone 0 447700112299"}},
		{"order", []string{"c01 message 1 Where is my order?", "c02 message 1 I want a refund for order 99"}},
		{"refund order", []string{"c02 message 1 I want a refund for order 99"}},
		{"refund ord", []string{"c02 message 1 I want a refund for order 99"}},
		{"order refund ", []string{"c02 message 1 I want a refund for order 99"}},
		{"angry", []string{"c02 message 3 Customer is angry, escalate"}},
		{"bob", []string{"c02 contact_name 0 Bob Stone"}}, // the name comes before the outbound message naming him
		{"jose", []string{"c03 contact_name 0 José Álvarez"}},
		{"JOSÉ alv", []string{"c03 contact_name 0 José Álvarez"}},
		{"pedido", []string{"c03 message 1 Hola, necesito ayuda con mi pedido"}},
		{"refund secret", nil},   // globex's words never match in acme
		{"mallory", nil},         // nor its names
		{"15550000", nil},        // nor its phones
		{"alice order bob", nil}, // every term must match
		{"a", nil},               // no term: nothing
		{"<b>order</b> where", []string{"c01 message 1 Where is my order?"}},
	} {
		_, got := searchIDs(t, s, "acme", tc.q)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Search(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
	if ids, _ := searchIDs(t, s, "globex", "alice"); !reflect.DeepEqual(ids, []string{"c01"}) {
		t.Errorf("globex alice = %v, want its own c01", ids)
	}
	if missing, err := s.MissingPostings("acme"); err != nil || len(missing) > 0 {
		t.Errorf("MissingPostings = %v, %v", missing, err)
	}
}

func TestSearchRename(t *testing.T) {
	s := searchFixture(t)
	prev, err := s.Conversation("acme", "c01")
	if err != nil {
		t.Fatal(err)
	}
	next := contact(prev, "Alicia Martin", "15559990001")
	commitWait(t, s, func(b *Batch) error { return b.PutConversation(&prev, &next) })
	for q, want := range map[string][]string{
		"alice ":   nil,
		"alicia":   {"c01"},
		"martin":   {"c01"},
		"1555123":  nil,
		"1555999":  {"c01"},
		"0001":     {"c01"},
		"where":    {"c01"}, // its messages stay indexed
		"alicia w": {"c01"},
	} {
		if got, _ := searchIDs(t, s, "acme", q); !reflect.DeepEqual(got, want) {
			t.Errorf("after rename, Search(%q) = %v, want %v", q, got, want)
		}
	}
	// An update that keeps the contact writes no posting and deletes none.
	again := next
	again.Status = conversation.Closed
	commitWait(t, s, func(b *Batch) error { return b.PutConversation(&next, &again) })
	if got, _ := searchIDs(t, s, "acme", "alicia"); !reflect.DeepEqual(got, []string{"c01"}) {
		t.Errorf("after close, alicia = %v", got)
	}
}

// TestSearchPages pages through a query matching many conversations: each comes once, in id order, across pages of
// every size, and with a tiny work budget the pages still cover everything (some of them empty, never stuck).
func TestSearchPages(t *testing.T) {
	s := openStore(t, t.TempDir())
	var want []string
	var ms []conversation.Message
	for i := range 60 {
		id := fmt.Sprintf("c%03d", i)
		c := contact(conv("acme", id, conversation.Unassigned, ""), fmt.Sprintf("Customer %d", i), "")
		putConvs(t, s, c)
		text := "hello"
		if i%3 == 0 {
			text = "hello parcel lost"
			want = append(want, id)
		}
		ms = append(ms, textMsg(id, 1, conversation.DirIn, text))
	}
	putMsgs(t, s, "acme", ms...)
	for _, budget := range []int{maxSeeks, 7} {
		for _, limit := range []int{1, 3, 7, 100} {
			old := maxSeeks
			maxSeeks = budget
			var got []string
			cursor, pages := "", 0
			for {
				hits, next, err := s.Search("acme", SearchQuery{Text: "hello lost", After: cursor, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if len(hits) > limit {
					t.Fatalf("page of %d hits, limit %d", len(hits), limit)
				}
				for _, h := range hits {
					got = append(got, h.Conversation.ID)
				}
				pages++
				if next == "" {
					break
				}
				if next <= cursor || pages > 200 {
					t.Fatalf("budget %d limit %d: cursor %q after %q: no progress", budget, limit, next, cursor)
				}
				cursor = next
			}
			maxSeeks = old
			if !reflect.DeepEqual(got, want) {
				t.Errorf("budget %d limit %d: pages gave %v, want %v", budget, limit, got, want)
			}
		}
	}
}

// TestSearchPostingsInTheBatch: the postings are in the batch of the message and the conversation they index, so
// they are durable together or not at all: a discarded batch leaves none, a committed one survives a reopen.
func TestSearchPostingsInTheBatch(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	c := contact(conv("acme", "c01", conversation.Unassigned, ""), "Zed Quill", "15551112222")
	m := textMsg("c01", 1, conversation.DirIn, "parcel damaged")
	b := s.NewBatch()
	if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
		t.Fatal(err)
	}
	if err := b.PutMessage("acme", &m); err != nil {
		t.Fatal(err)
	}
	b.Discard()
	for _, q := range []string{"zed", "1555111", "parcel"} {
		if ids, _ := searchIDs(t, s, "acme", q); len(ids) > 0 {
			t.Errorf("discarded batch: Search(%q) = %v", q, ids)
		}
	}
	commitWait(t, s, func(b *Batch) error {
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			return err
		}
		return b.PutMessage("acme", &m)
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	for _, q := range []string{"zed", "1555111", "parcel damaged"} {
		if ids, _ := searchIDs(t, s, "acme", q); !reflect.DeepEqual(ids, []string{"c01"}) {
			t.Errorf("after reopen: Search(%q) = %v, want c01", q, ids)
		}
	}
	if missing, err := s.MissingPostings("acme"); err != nil || len(missing) > 0 {
		t.Errorf("MissingPostings = %v, %v", missing, err)
	}
}

// TestSearchRandom compares Search with a brute-force match over random conversations and queries.
func TestSearchRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	vocab := []string{"ab", "abc", "abcd", "abd", "bcd", "be", "bee", "cat", "cater", "dog", "doge", "éclair",
		"eclat", "zz", "zzz", "order", "ordeal"}
	word := func() string { return vocab[rng.IntN(len(vocab))] }
	defer func(m, c int) { maxMergedTokens, maxCollected = m, c }(maxMergedTokens, maxCollected)
	s := openStore(t, t.TempDir())
	type doc struct{ id, name, phone, text string }
	var docs []doc
	for i := range 120 {
		d := doc{fmt.Sprintf("c%03d", i), word() + " " + word(), fmt.Sprintf("%d", 1000000+rng.IntN(9000000)), ""}
		for range rng.IntN(6) {
			d.text += word() + " "
		}
		docs = append(docs, d)
		putConvs(t, s, contact(conv("acme", d.id, conversation.Unassigned, ""), d.name, d.phone))
		putMsgs(t, s, "acme", textMsg(d.id, 1, conversation.DirIn, d.text))
	}
	matches := func(d doc, q search.Query) bool {
		toks := append(append(search.Tokens(d.name), search.PhoneTokens(d.phone)...), search.Tokens(d.text)...)
		for i, term := range q.Terms {
			prefix := q.Prefix && i == len(q.Terms)-1
			if !slices.ContainsFunc(toks, func(tok string) bool {
				return tok == term || (prefix && strings.HasPrefix(tok, term))
			}) {
				return false
			}
		}
		return true
	}
	for i := range 300 {
		switch i % 3 {
		case 0: // small prefixes are read into memory
			maxCollected, maxMergedTokens = 10000, 8
		case 1: // prefixes merge their tokens' postings
			maxCollected, maxMergedTokens = 0, 8
		case 2: // a prefix that is not alone is checked per candidate
			maxCollected, maxMergedTokens = 0, 1
		}
		var q string
		switch rng.IntN(3) {
		case 0:
			q = fmt.Sprint(1000 + rng.IntN(9000))[:2+rng.IntN(3)]
		default:
			for range 1 + rng.IntN(3) {
				w := word()
				q += w[:1+rng.IntN(len(w))] + " "
			}
			if rng.IntN(2) == 0 {
				q = strings.TrimSpace(q)
			}
		}
		pq := search.ParseQuery(q)
		var want []string
		for _, d := range docs {
			if len(pq.Terms) > 0 && matches(d, pq) {
				want = append(want, d.id)
			}
		}
		var got []string
		cursor := ""
		for {
			hits, next, err := s.Search("acme", SearchQuery{Text: q, After: cursor, Limit: 9})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hits {
				got = append(got, h.Conversation.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Search(%q) = %v, want %v", q, got, want)
		}
	}
}

// MissingPostings finds a message stored without its postings (as a write outside PutMessage would leave it).
func TestMissingPostingsFindsGaps(t *testing.T) {
	s := openStore(t, t.TempDir())
	c := contact(conv("acme", "c01", conversation.Unassigned, ""), "Zed", "")
	putConvs(t, s, c)
	m := textMsg("c01", 1, conversation.DirIn, "unindexed words")
	commitWait(t, s, func(b *Batch) error { return b.putJSON(msgKey("acme", "c01", 1), &m) })
	missing, err := s.MissingPostings("acme")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"t/acme/f/unindexed/c01/t", "t/acme/f/words/c01/t"}
	if !reflect.DeepEqual(missing, want) {
		t.Errorf("MissingPostings = %q, want %q", missing, want)
	}
}
