package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

var listOps = []string{"alice", "bob", "carol"}

// randomConv is a conversation of tenant in a random state, consistent the way the state machine keeps it.
func randomConv(r *rand.Rand, tenant string, i int) conversation.Conversation {
	st := listStatuses[r.IntN(len(listStatuses))]
	c := conv(tenant, fmt.Sprintf("c%016d", i), st, "")
	c.ChannelID = tenant + []string{"-wa", "-wa2"}[r.IntN(2)]
	c.CreatedAt = at.Add(time.Duration(r.IntN(1000)) * time.Minute)
	c.LastActivityAt = c.CreatedAt.Add(time.Duration(r.IntN(1000)) * time.Minute)
	c.LastInboundAt = c.CreatedAt.Add(time.Duration(r.IntN(1000)) * time.Second)
	c.InboundCount = uint64(r.IntN(4))
	if r.IntN(3) == 0 {
		c.LastOperatorID = listOps[r.IntN(len(listOps))]
	}
	switch st {
	case conversation.Unassigned:
		c.WaitingSince = c.LastActivityAt
	case conversation.Assigned:
		c.AssigneeID = listOps[r.IntN(len(listOps))]
		c.LastOperatorID = c.AssigneeID
	case conversation.Snoozed:
		if r.IntN(2) == 0 {
			c.AssigneeID = listOps[r.IntN(len(listOps))]
			c.LastOperatorID = c.AssigneeID
		}
	case conversation.Closed:
		if r.IntN(2) == 0 {
			c.ClosedBy = c.LastOperatorID
		}
	}
	if r.IntN(4) == 0 {
		c.Labels = []string{"vip"}
	}
	for _, op := range listOps {
		if r.IntN(3) == 0 {
			if c.ReadBy == nil {
				c.ReadBy = map[string]conversation.ReadMark{}
			}
			c.ReadBy[op] = conversation.ReadMark{Seq: uint64(r.IntN(5)), Inbound: uint64(r.IntN(int(c.InboundCount) + 1))}
		}
		if r.IntN(4) == 0 {
			if c.MentionMarks == nil {
				c.MentionMarks = map[string]conversation.MentionMark{}
			}
			c.MentionMarks[op] = conversation.MentionMark{Seq: uint64(r.IntN(5)), At: c.CreatedAt.Add(time.Duration(r.IntN(100)) * time.Second)}
		}
	}
	return c
}

// seedLists writes n random conversations of tenant, then changes each of them at random a few times (each change a
// PutConversation from its previous state), checking the indexes after every batch. It returns the final records.
func seedLists(t testing.TB, s *Store, r *rand.Rand, tenant string, n int) []conversation.Conversation {
	cs := make([]conversation.Conversation, n)
	for i := range cs {
		cs[i] = randomConv(r, tenant, i)
	}
	putConvs(t, s, cs...)
	for round := 0; round < 3; round++ {
		commitWait(t, s, func(b *Batch) error {
			for i := range cs {
				if r.IntN(2) == 0 {
					continue
				}
				next := randomConv(r, tenant, i)
				if err := b.PutConversation(&cs[i], &next); err != nil {
					return err
				}
				cs[i] = next
			}
			return nil
		})
		if err := s.CheckIndexes(tenant); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	return cs
}

// pageAll follows ListConversations' cursor to the end and returns the ids in the order listed.
func pageAll(t testing.TB, s *Store, tenant string, q ListQuery) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("cursor does not end")
		}
		list, next, err := s.ListConversations(tenant, q)
		if err != nil {
			t.Fatalf("ListConversations(%+v): %v", q, err)
		}
		for _, c := range list {
			ids = append(ids, c.ID)
		}
		if next == "" {
			return ids
		}
		q.Cursor = next
	}
}

// TestListConversations compares every status, owner, sort and direction, paged in small pages with a small scan
// bound, with the order computed from the records themselves; and each filter with the records it should keep.
func TestListConversations(t *testing.T) {
	s := openStore(t, t.TempDir())
	r := rand.New(rand.NewPCG(11, 12))
	cs := seedLists(t, s, r, "acme", 60)
	other := seedLists(t, s, r, "acme-2", 10) // another tenant, whose ids must never appear
	_ = other

	want := func(q ListQuery) []string {
		var kept []conversation.Conversation
		for i := range cs {
			c := &cs[i]
			switch {
			case q.Status != "" && c.Status != q.Status,
				q.Owner != "" && Owner(c) != q.Owner,
				q.Unowned && Owner(c) != "",
				q.MentionsOf != "" && c.MentionMarks[q.MentionsOf].At.IsZero(),
				!keep(c, &q):
				continue
			}
			kept = append(kept, *c)
		}
		key := func(c *conversation.Conversation) string {
			t := sortTime(c, q.Sort)
			if q.MentionsOf != "" {
				t = c.MentionMarks[q.MentionsOf].At
			}
			return string(appendListSuffix(nil, t, c.ID))
		}
		slices.SortFunc(kept, func(a, b conversation.Conversation) int { return strings.Compare(key(&a), key(&b)) })
		var ids []string
		for _, c := range kept {
			ids = append(ids, c.ID)
		}
		if q.Desc {
			slices.Reverse(ids)
		}
		return ids
	}
	var queries []ListQuery
	for _, st := range append([]conversation.Status{""}, listStatuses...) {
		for _, sort := range listSorts {
			for _, desc := range []bool{false, true} {
				queries = append(queries,
					ListQuery{Status: st, Sort: sort, Desc: desc},
					ListQuery{Status: st, Sort: sort, Desc: desc, Owner: "alice"},
					ListQuery{Status: st, Sort: sort, Desc: desc, Unowned: true})
			}
		}
	}
	queries = append(queries,
		ListQuery{Label: "vip", Sort: SortCreated},
		ListQuery{Channel: "acme-wa2", Sort: SortCreated, Desc: true},
		ListQuery{Status: conversation.Closed, ClosedBy: "bob", Sort: SortActivity, Desc: true},
		ListQuery{UnreadFor: "carol", Owner: "carol", Sort: SortWaiting},
		ListQuery{MentionsOf: "bob", Desc: true},
		ListQuery{MentionsOf: "bob", UnreadFor: "bob"},
		ListQuery{MentionsOf: "alice", Status: conversation.Assigned, Owner: "alice"},
	)
	nonEmpty := 0
	for _, q := range queries {
		w := want(q)
		for _, page := range []struct{ limit, scan int }{{1000, 0}, {7, 0}, {3, 5}} {
			q.Limit, q.MaxScan = page.limit, page.scan
			if got := pageAll(t, s, "acme", q); !slices.Equal(got, w) {
				t.Errorf("%+v:\n got %v\nwant %v", q, got, w)
			}
		}
		if len(w) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < len(queries)*2/3 {
		t.Errorf("only %d of %d queries match anything: the test data is too thin", nonEmpty, len(queries))
	}
	if _, _, err := s.ListConversations("acme", ListQuery{Cursor: "not a cursor"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: err = %v, want ErrBadCursor", err)
	}

	// The counts agree with the records.
	for _, op := range listOps {
		var w InboxCounts
		for i := range cs {
			c := &cs[i]
			switch c.Status {
			case conversation.Unassigned:
				w.Unassigned++
			case conversation.Assigned:
				w.All++
				if c.AssigneeID == op {
					w.Mine++
					if conversation.Unread(c, op) > 0 {
						w.Unread++
					}
				}
			case conversation.Snoozed:
				w.Snoozed++
			case conversation.Closed:
				w.Closed++
			}
			if conversation.MentionUnread(c, op) {
				w.Mentions++
			}
		}
		got, err := s.InboxCounts("acme", op)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("InboxCounts(%s) = %+v, want %+v", op, got, w)
		}
	}
}

// A conversation record written before the lists' indexes existed is indexed by BackfillLists once, and by its
// next PutConversation.
func TestBackfillLists(t *testing.T) {
	s := openStore(t, t.TempDir())
	r := rand.New(rand.NewPCG(1, 2))
	old := []conversation.Conversation{randomConv(r, "acme", 1), randomConv(r, "acme", 2)}
	commitWait(t, s, func(b *Batch) error {
		for i := range old {
			if err := b.putJSON(convKey("acme", old[i].ID), &old[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.CheckIndexes("acme"); err == nil {
		t.Fatal("CheckIndexes found nothing missing for records written without index entries")
	}
	// A change indexes the record even though its previous state implies the same entries.
	commitWait(t, s, func(b *Batch) error { return b.PutConversation(&old[0], &old[0]) })
	if n, err := s.BackfillLists("acme"); err != nil || n != 2 {
		t.Fatalf("BackfillLists = %d, %v; want 2", n, err)
	}
	if err := s.CheckIndexes("acme"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.BackfillLists("acme"); err != nil || n != 0 {
		t.Fatalf("second BackfillLists = %d, %v; want 0", n, err)
	}
}

// seedBench opens a store holding a tenant of 10,000 conversations in random states.
func seedBench(b *testing.B) *Store {
	s := openStore(b, b.TempDir())
	r := rand.New(rand.NewPCG(3, 4))
	cs := make([]conversation.Conversation, 10_000)
	for i := range cs {
		cs[i] = randomConv(r, "acme", i)
	}
	for i := 0; i < len(cs); i += 1000 {
		putConvs(b, s, cs[i:i+1000]...)
	}
	return s
}

// BenchmarkInboxCounts measures the tabs' counts of one operator over a tenant of 10,000 conversations.
func BenchmarkInboxCounts(b *testing.B) {
	s := seedBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.InboxCounts("acme", "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListConversations measures a first page of 50 of the Unassigned tab over 10,000 conversations.
func BenchmarkListConversations(b *testing.B) {
	s := seedBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := s.ListConversations("acme", ListQuery{Status: conversation.Unassigned, Sort: SortWaiting}); err != nil {
			b.Fatal(err)
		}
	}
}
