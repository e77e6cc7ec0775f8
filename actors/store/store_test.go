package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

func TestOpenRequiresDir(t *testing.T) {
	if s, err := Open(Config{}); err == nil {
		s.Close()
		t.Fatal("Open without Dir succeeded")
	}
}

func TestOpenRefusesAMemtableOutOfRange(t *testing.T) {
	for _, n := range []int64{-1, 1000, 4 << 30} {
		_, err := Open(Config{Dir: t.TempDir(), MemTableBytes: n})
		if err == nil || !strings.Contains(err.Error(), "MemTableBytes") {
			t.Errorf("MemTableBytes %d: err %v, want one naming MemTableBytes", n, err)
		}
	}
	s, err := Open(Config{Dir: t.TempDir(), MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatalf("1 MiB memtable: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDirIsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("not a store"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Dir: path, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		s.Close()
		t.Fatal("Open on a regular file succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the directory", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	s := openStore(t, t.TempDir())
	putConvs(t, s, conv("a", "c1", conversation.Unassigned, ""))
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := Open(Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putConvs(t, s, conv("a", "c1", conversation.Unassigned, ""))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{"switchboard_store_commit_seconds", "switchboard_store_sync_errors_total"} {
		if !got[name] {
			t.Errorf("metric %s not registered (have %v)", name, got)
		}
	}
	if n := histogramCount(t, s.Metrics.CommitSeconds); n != 1 {
		t.Errorf("commit histogram has %d observations after one commit, want 1", n)
	}
}

func TestConversationRoundTrip(t *testing.T) {
	s := openStore(t, t.TempDir())
	c := conv("acme", conversation.ID("acme-wa", "15551230000"), conversation.Assigned, "alice")
	c.Labels = []string{"vip", "billing"}
	c.WindowExpiresAt = at.Add(conversation.Window)
	c.LastInboundAt = at
	c.Messages = 7
	c.Applied = conversation.Position{Offset: 1 << 33, Index: 4}
	putConvs(t, s, c)

	got, err := s.Conversation("acme", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
	}
	if _, err := s.Conversation("acme", c.ID+"x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown conversation: err = %v, want ErrNotFound", err)
	}
}

// TestStatusIndex changes one conversation's status through the lifecycle and checks after each step that it is
// listed under its current status and no other.
func TestStatusIndex(t *testing.T) {
	s := openStore(t, t.TempDir())
	statuses := []conversation.Status{conversation.Unassigned, conversation.Assigned, conversation.Snoozed,
		conversation.Closed}
	other := conv("a", "c2", conversation.Unassigned, "")
	putConvs(t, s, other)

	steps := []struct {
		st       conversation.Status
		assignee string
	}{
		{conversation.Unassigned, ""},
		{conversation.Assigned, "alice"},
		{conversation.Assigned, "bob"}, // same status: the index entry must stay
		{conversation.Closed, ""},
		{conversation.Unassigned, ""},
		{conversation.Snoozed, ""},
		{conversation.Unassigned, ""},
	}
	var prev conversation.Conversation
	for i, step := range steps {
		c := conv("a", "c1", step.st, step.assignee)
		commitWait(t, s, func(b *Batch) error { return b.PutConversation(&prev, &c) })
		prev = c
		for _, st := range statuses {
			ids := listAll(t, s, "a", Filter{Status: st})
			var want []string
			if st == step.st {
				want = append(want, "c1")
			}
			if st == conversation.Unassigned {
				want = append(want, "c2")
			}
			if !slices.Equal(ids, want) {
				t.Errorf("step %d (%s): status %s lists %q, want %q", i, step.st, st, ids, want)
			}
		}
		list, _, err := s.Conversations("a", Filter{Status: step.st})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 || list[0].ID != "c1" || list[0].AssigneeID != step.assignee {
			t.Errorf("step %d: listing by status returns %+v, want the current record of c1", i, list)
		}
	}
	if ids := listAll(t, s, "a", Filter{}); !slices.Equal(ids, []string{"c1", "c2"}) {
		t.Errorf("all conversations = %q, want [c1 c2]", ids)
	}
}

// TestStatusIndexRandom applies random status changes to many conversations, a few per batch, and checks that the
// index holds exactly one entry per conversation, under its current status, by scanning the raw keys.
func TestStatusIndexRandom(t *testing.T) {
	s := openStore(t, t.TempDir())
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []conversation.Status{conversation.Unassigned, conversation.Assigned, conversation.Snoozed,
		conversation.Closed}
	model := map[string]conversation.Conversation{}
	for round := range 300 {
		touched := map[string]bool{}
		b := s.NewBatch()
		for range 1 + rng.IntN(4) {
			id := fmt.Sprintf("c%d", rng.IntN(60))
			if touched[id] {
				continue // the caller's prev must be the stored state, so one change per id per batch
			}
			touched[id] = true
			prev := model[id]
			c := conv("t", id, statuses[rng.IntN(len(statuses))], "")
			if err := b.PutConversation(&prev, &c); err != nil {
				t.Fatal(err)
			}
			model[id] = c
		}
		done := make(chan error, 1)
		if err := s.Commit(b, func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if round%50 != 49 {
			continue
		}
		index := map[string]conversation.Status{}
		it, err := s.DB().NewIter(&pebble.IterOptions{LowerBound: []byte("t/t/x/"), UpperBound: []byte("t/t/x0")})
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			st, id, _ := strings.Cut(strings.TrimPrefix(string(it.Key()), "t/t/x/"), "/")
			if prev, dup := index[id]; dup {
				t.Errorf("round %d: %s indexed under %s and %s", round, id, prev, st)
			}
			index[id] = conversation.Status(st)
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		for id, c := range model {
			if index[id] != c.Status {
				t.Errorf("round %d: %s indexed as %q, is %s", round, id, index[id], c.Status)
			}
		}
		if len(index) != len(model) {
			t.Errorf("round %d: %d index entries for %d conversations", round, len(index), len(model))
		}
		for _, st := range statuses {
			var want []string
			for id, c := range model {
				if c.Status == st {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			if got := listAll(t, s, "t", Filter{Status: st, Limit: 7}); !slices.Equal(got, want) {
				t.Errorf("round %d: status %s lists %q, want %q", round, st, got, want)
			}
		}
	}
}

func TestConversationsPagination(t *testing.T) {
	for _, total := range []int{0, 1, 49, 50, 51, 237, 240} {
		t.Run(fmt.Sprint(total), func(t *testing.T) {
			s := openStore(t, t.TempDir())
			var all []conversation.Conversation
			var want []string
			for i := range total {
				// Ids of mixed lengths, several of them prefixes of others (c1, c10, c100): the cursor must
				// neither skip nor repeat them.
				id := fmt.Sprintf("c%d", i)
				if i%3 == 0 {
					id = conversation.ID("wa", fmt.Sprint(i))
				}
				all = append(all, conv("a", id, conversation.Unassigned, ""))
				want = append(want, id)
			}
			slices.Sort(want)
			for chunk := range slices.Chunk(all, 100) {
				putConvs(t, s, chunk...)
			}
			for _, limit := range []int{0, 1, 7, 10, 50, 1000} {
				if got := listAll(t, s, "a", Filter{Limit: limit}); !slices.Equal(got, want) {
					t.Errorf("limit %d: listed %d ids %q, want %d", limit, len(got), head(got), len(want))
				}
				if got := listAll(t, s, "a", Filter{Limit: limit, Status: conversation.Unassigned}); !slices.Equal(got, want) {
					t.Errorf("limit %d by status: listed %d ids, want %d", limit, len(got), len(want))
				}
			}
			list, _, err := s.Conversations("a", Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if want := min(total, 50); len(list) != want {
				t.Errorf("Limit 0 returned %d, want the default page of %d", len(list), want)
			}
		})
	}
}

func head(ids []string) []string { return ids[:min(len(ids), 5)] }

func TestConversationsAfterUnknownCursor(t *testing.T) {
	s := openStore(t, t.TempDir())
	putConvs(t, s, conv("a", "c1", conversation.Unassigned, ""), conv("a", "c3", conversation.Unassigned, ""),
		conv("a", "c5", conversation.Closed, ""))
	// A cursor need not name a stored conversation (it may have been deleted between pages).
	if got := listAll(t, s, "a", Filter{After: "c2"}); !slices.Equal(got, []string{"c3", "c5"}) {
		t.Errorf("after c2 = %q, want [c3 c5]", got)
	}
	if got := listAll(t, s, "a", Filter{After: "c5"}); len(got) != 0 {
		t.Errorf("after the last = %q, want none", got)
	}
	if got := listAll(t, s, "a", Filter{After: "c2", Status: conversation.Unassigned}); !slices.Equal(got, []string{"c3"}) {
		t.Errorf("unassigned after c2 = %q, want [c3]", got)
	}
}

func TestConversationsAssignee(t *testing.T) {
	s := openStore(t, t.TempDir())
	var cs []conversation.Conversation
	want := map[string][]string{}
	wantAssigned := map[string][]string{}
	for i := range 90 {
		id := fmt.Sprintf("c%03d", i)
		var c conversation.Conversation
		switch i % 5 {
		case 0, 1:
			c = conv("a", id, conversation.Assigned, "alice")
		case 2:
			c = conv("a", id, conversation.Assigned, "bob")
		case 3:
			c = conv("a", id, conversation.Closed, "alice") // closed, still naming its last operator
		default:
			c = conv("a", id, conversation.Unassigned, "")
		}
		cs = append(cs, c)
		if c.AssigneeID != "" {
			want[c.AssigneeID] = append(want[c.AssigneeID], id)
			if c.Status == conversation.Assigned {
				wantAssigned[c.AssigneeID] = append(wantAssigned[c.AssigneeID], id)
			}
		}
	}
	putConvs(t, s, cs...)
	for _, op := range []string{"alice", "bob", "carol"} {
		// Small pages, so that pages skip non-matching conversations and the cursor must carry over them.
		if got := listAll(t, s, "a", Filter{Assignee: op, Limit: 4}); !slices.Equal(got, want[op]) {
			t.Errorf("assignee %s: %d ids %q, want %d", op, len(got), head(got), len(want[op]))
		}
		got := listAll(t, s, "a", Filter{Assignee: op, Status: conversation.Assigned, Limit: 3})
		if !slices.Equal(got, wantAssigned[op]) {
			t.Errorf("assignee %s, assigned: %d ids, want %d", op, len(got), len(wantAssigned[op]))
		}
		list, _, err := s.Conversations("a", Filter{Assignee: op, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if c.AssigneeID != op {
				t.Errorf("assignee filter %s returned %s of %q", op, c.ID, c.AssigneeID)
			}
		}
	}
}

func TestMessages(t *testing.T) {
	s := openStore(t, t.TempDir())
	const n = 300 // more than 255, so sequence numbers span two bytes of the big-endian key
	commitWait(t, s, func(b *Batch) error {
		for seq := uint64(1); seq <= n; seq++ {
			// c1's messages and c10's: one conversation id is a prefix of the other.
			for _, id := range []string{"c1", "c10"} {
				m := msg(id, seq, fmt.Sprintf("wamid.%s.%d", id, seq))
				if err := b.PutMessage("a", &m); err != nil {
					return err
				}
			}
		}
		return nil
	})
	seqs := func(ms []conversation.Message, conv string) []uint64 {
		var out []uint64
		for _, m := range ms {
			if m.ConversationID != conv {
				t.Errorf("listing %s returned a message of %s", conv, m.ConversationID)
			}
			out = append(out, m.Seq)
		}
		return out
	}
	run := func(from, to uint64) []uint64 { // from down to to, inclusive
		var out []uint64
		for i := from; i >= to && i > 0; i-- {
			out = append(out, i)
		}
		return out
	}
	for _, tc := range []struct {
		before uint64
		limit  int
		want   []uint64
	}{
		{0, 10, run(300, 291)},
		{291, 10, run(290, 281)},
		{257, 3, run(256, 254)},
		{5, 10, run(4, 1)},
		{1, 10, nil},
		{0, 0, run(300, 251)}, // limit 0 means 50
		{0, 1000, run(300, 1)},
		{1000, 2, run(300, 299)},
	} {
		for _, id := range []string{"c1", "c10"} {
			ms, err := s.Messages("a", id, tc.before, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(ms, id); !slices.Equal(got, tc.want) {
				t.Errorf("Messages(%s, before %d, limit %d) = %v, want %v", id, tc.before, tc.limit, got, tc.want)
			}
		}
	}
	// Paging with the last seq as the next before visits every message once, newest first.
	var all []uint64
	for before := uint64(0); ; {
		ms, err := s.Messages("a", "c1", before, 13)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		all = append(all, seqs(ms, "c1")...)
		before = ms[len(ms)-1].Seq
	}
	if !slices.Equal(all, run(n, 1)) {
		t.Errorf("paging visited %d messages, want %d newest first", len(all), n)
	}
	if ms, err := s.Messages("a", "c", 0, 10); err != nil || len(ms) != 0 {
		t.Errorf("Messages of conversation c (a prefix of c1) = %d, %v; want none", len(ms), err)
	}

	got, err := s.Message("a", "c10", 258)
	if err != nil {
		t.Fatal(err)
	}
	if want := msg("c10", 258, "wamid.c10.258"); !reflect.DeepEqual(got, want) {
		t.Errorf("Message round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, err := s.Message("a", "c10", n+1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Message past the end: err = %v, want ErrNotFound", err)
	}
}

func TestMessageRef(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, tc := range []struct {
		conv  string
		seq   uint64
		wamid string
	}{
		{"c1", 1, "wamid.HBgLMTU1NTEyMzAwMDAVAgASGBQzQTQ5RjA2RjQ1QkU2RjM0QjA0OAA="},
		{conversation.ID("wa", "1555"), 258, "wamid.2"},
		{"c/with/slashes", 1<<40 + 7, "wamid.3"},
		{"c", 0x2f2f2f2f2f2f2f2f, "wamid.4"}, // a seq whose bytes are all '/'
	} {
		m := msg(tc.conv, tc.seq, tc.wamid)
		commitWait(t, s, func(b *Batch) error { return b.PutMessage("a", &m) })
		conv, seq, err := s.MessageRef("a", tc.wamid)
		if err != nil {
			t.Fatalf("MessageRef(%s): %v", tc.wamid, err)
		}
		if conv != tc.conv || seq != tc.seq {
			t.Errorf("MessageRef(%s) = %s/%d, want %s/%d", tc.wamid, conv, seq, tc.conv, tc.seq)
		}
	}
	if _, _, err := s.MessageRef("a", "wamid.unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown wamid: err = %v, want ErrNotFound", err)
	}
	// A message without a channel id (e.g. one not yet sent) is stored but not indexed.
	m := msg("c9", 1, "")
	commitWait(t, s, func(b *Batch) error { return b.PutMessage("a", &m) })
	if _, _, err := s.MessageRef("a", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty wamid: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Message("a", "c9", 1); err != nil {
		t.Errorf("message without a channel id not stored: %v", err)
	}
}

func TestParkedStatus(t *testing.T) {
	s := openStore(t, t.TempDir())
	st := inbox.Status{ID: "wamid.out", RecipientID: "15551230000", Status: "failed", Timestamp: 1_760_000_000,
		ErrorCode: 131047, ErrorTitle: "Re-engagement message"}
	if _, err := s.ParkedStatus("a", st.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before parking: err = %v, want ErrNotFound", err)
	}
	commitWait(t, s, func(b *Batch) error { return b.ParkStatus("a", &st) })
	got, err := s.ParkedStatus("a", st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != st {
		t.Errorf("parked status = %+v, want %+v", got, st)
	}
	// Parking again (Meta retries) replaces, it does not duplicate.
	st2 := st
	st2.Status, st2.Timestamp = "delivered", st.Timestamp+1
	commitWait(t, s, func(b *Batch) error { return b.ParkStatus("a", &st2) })
	if got, _ := s.ParkedStatus("a", st.ID); got != st2 {
		t.Errorf("re-parked status = %+v, want %+v", got, st2)
	}
	// A parked status is not a message: it must not show up under the message index.
	if _, _, err := s.MessageRef("a", st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("MessageRef of a parked status: err = %v, want ErrNotFound", err)
	}
	commitWait(t, s, func(b *Batch) error { return b.DeleteParkedStatus("a", st.ID) })
	if _, err := s.ParkedStatus("a", st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: err = %v, want ErrNotFound", err)
	}
	// Deleting what is not there is not an error.
	commitWait(t, s, func(b *Batch) error { return b.DeleteParkedStatus("a", "wamid.never") })
}

func TestCountMessagesByID(t *testing.T) {
	s := openStore(t, t.TempDir())
	if counts, err := s.CountMessagesByID("a"); err != nil || len(counts) != 0 {
		t.Fatalf("empty store: %v, %v", counts, err)
	}
	commitWait(t, s, func(b *Batch) error {
		for _, m := range []conversation.Message{
			msg("c1", 1, "w1"), msg("c1", 2, "w2"), msg("c2", 1, "w3"),
			msg("c2", 2, "w1"), // the same channel id stored twice: what the count exists to catch
			msg("c2", 3, ""),
		} {
			if err := b.PutMessage("a", &m); err != nil {
				return err
			}
		}
		m := msg("c1", 3, "w1")
		return b.PutMessage("ab", &m) // another tenant's message is not counted
	})
	counts, err := s.CountMessagesByID("a")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"w1": 2, "w2": 1, "w3": 1, "": 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
}

// TestTenantIsolation writes the same ids under tenants "a", "ab" and "a-b" (ids that are prefixes of each other,
// and one with a character sorting before the separator) and checks each tenant sees only its own records.
func TestTenantIsolation(t *testing.T) {
	s := openStore(t, t.TempDir())
	tenants := []string{"a", "ab", "a-b", "b"}
	// "ab" is written first and alone: "a" must see nothing of it.
	write := func(tenant string) {
		commitWait(t, s, func(b *Batch) error {
			c := conv(tenant, "c1", conversation.Assigned, "alice-of-"+tenant)
			if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
				return err
			}
			m := msg("c1", 1, "w1")
			m.Text = "from " + tenant
			if err := b.PutMessage(tenant, &m); err != nil {
				return err
			}
			return b.ParkStatus(tenant, &inbox.Status{ID: "w2", RecipientID: tenant, Status: "read"})
		})
	}
	write("ab")
	for _, tenant := range []string{"a", "a-b", "b"} {
		if _, err := s.Conversation(tenant, "c1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("tenant %s sees ab's conversation: %v", tenant, err)
		}
		if got := listAll(t, s, tenant, Filter{}); len(got) != 0 {
			t.Errorf("tenant %s lists %q", tenant, got)
		}
		if got := listAll(t, s, tenant, Filter{Status: conversation.Assigned}); len(got) != 0 {
			t.Errorf("tenant %s lists assigned %q", tenant, got)
		}
		if ms, _ := s.Messages(tenant, "c1", 0, 10); len(ms) != 0 {
			t.Errorf("tenant %s sees ab's messages", tenant)
		}
		if _, _, err := s.MessageRef(tenant, "w1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("tenant %s resolves ab's wamid: %v", tenant, err)
		}
		if _, err := s.ParkedStatus(tenant, "w2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("tenant %s sees ab's parked status: %v", tenant, err)
		}
		if counts, _ := s.CountMessagesByID(tenant); len(counts) != 0 {
			t.Errorf("tenant %s counts ab's messages: %v", tenant, counts)
		}
	}
	for _, tenant := range []string{"a", "a-b", "b"} {
		write(tenant)
	}
	for _, tenant := range tenants {
		c, err := s.Conversation(tenant, "c1")
		if err != nil || c.AssigneeID != "alice-of-"+tenant {
			t.Errorf("tenant %s conversation = %+v, %v", tenant, c, err)
		}
		list, _, err := s.Conversations(tenant, Filter{})
		if err != nil || len(list) != 1 || list[0].TenantID != tenant {
			t.Errorf("tenant %s lists %+v, %v; want its one conversation", tenant, list, err)
		}
		list, _, err = s.Conversations(tenant, Filter{Assignee: "alice-of-" + tenant, Status: conversation.Assigned})
		if err != nil || len(list) != 1 || list[0].TenantID != tenant {
			t.Errorf("tenant %s lists assigned %+v, %v; want its one conversation", tenant, list, err)
		}
		ms, err := s.Messages(tenant, "c1", 0, 10)
		if err != nil || len(ms) != 1 || ms[0].Text != "from "+tenant {
			t.Errorf("tenant %s messages = %+v, %v; want its one message", tenant, ms, err)
		}
		if counts, _ := s.CountMessagesByID(tenant); !reflect.DeepEqual(counts, map[string]int{"w1": 1}) {
			t.Errorf("tenant %s counts %v, want w1:1", tenant, counts)
		}
		if st, err := s.ParkedStatus(tenant, "w2"); err != nil || st.RecipientID != tenant {
			t.Errorf("tenant %s parked status = %+v, %v", tenant, st, err)
		}
	}
	// Every key is under its tenant's prefix "t/<tenant>/", so a tenant's state can be moved by a prefix scan.
	it, err := s.DB().NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	perTenant := map[string]int{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		rest, ok := bytes.CutPrefix(k, []byte("t/"))
		tenant, _, found := bytes.Cut(rest, []byte("/"))
		if !ok || !found || !slices.Contains(tenants, string(tenant)) {
			t.Errorf("key %q is not under a tenant prefix", k)
			continue
		}
		if kind, _, _ := bytes.Cut(rest[len(tenant)+1:], []byte("/")); string(kind) != "f" && string(kind) != "g" { // search postings
			perTenant[string(tenant)]++
		}
	}
	for _, tenant := range tenants {
		// conversation, status index entry, held index entry (assigned), lists' and owner index entries (three
		// sorts each), message, wamid index entry, parked status
		if perTenant[tenant] != 12 {
			t.Errorf("tenant %s has %d keys, want 12", tenant, perTenant[tenant])
		}
	}
}

// TestCloseLeavesNoLogToReplay: Close flushes the memtables, so the next Open has no write-ahead log to replay (a
// replay of up to 64 MiB took seconds on restart).
func TestCloseLeavesNoLogToReplay(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	const n, size = 200, 1024
	commitWait(t, s, func(b *Batch) error {
		for i := range n {
			if err := b.b.Set(fmt.Appendf(nil, "t/acme/zz/%04d", i), make([]byte, size), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What the next Open replays is what it holds in its memtables before writing anything: open read-only (no
	// flush of what it recovered) and look.
	ro, err := pebble.Open(dir, &pebble.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	tables := ro.Metrics().Total().TablesCount
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		t.Errorf("after Close the store holds no table: the next Open replays the %d bytes written from the write-ahead log", n*size)
	}
	s2 := openStore(t, dir)
	v, closer, err := s2.db.Get([]byte("t/acme/zz/0199"))
	if err != nil {
		t.Fatalf("the last write after reopening: %v", err)
	}
	defer closer.Close()
	if len(v) != size {
		t.Errorf("value of %d bytes, want %d", len(v), size)
	}
}
