package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	crec "github.com/switchboard-hq/switchboard/actors/contact"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestKeyspace writes one of every kind of record for two tenants whose ids are prefixes of each other and checks
// that each key is under its tenant's prefix with a kind keys.go lists, or under one of the two global prefixes.
func TestKeyspace(t *testing.T) {
	s := openStore(t, t.TempDir())
	tenants := []string{"a", "ab"}
	for _, tn := range tenants {
		commitWait(t, s, func(b *Batch) error {
			c := conv(tn, "c1", conversation.Assigned, "alice")
			m := msg("c1", 1, "w1")
			_, err := b.PutSendJob(tn, tn+"-wa", []byte(`{}`))
			return firstErr(
				b.PutConversation(&conversation.Conversation{}, &c),
				b.PutMessage(tn, &m),
				b.ParkStatus(tn, &inbox.Status{ID: "w2", RecipientID: "x", Status: "read"}),
				b.PutOperator(tn, &OperatorState{ID: "alice"}),
				err,
				b.PutDeliveryNote(tn, NoteRef{Conversation: "c1", Seq: 1}, []byte(`{}`)),
				b.PutOutbox(tn, []byte(`{}`)),
				b.PutTenantConfig(tn, []byte(`{}`)),
				b.PutConfigRecord(tn, tn+"/tenant/settings", []byte(`{}`)),
				b.PutTimer(TimerKey{Due: at, Tenant: tn, Conversation: "c1", Kind: "auto_close"}),
				b.PutContactErased(tn, "k1", crec.Position{Offset: 7}),
				b.PutAudit(tn, &audit.Entry{ID: "7-0-0", TenantID: tn, At: at, Action: audit.ActionSettingsChanged}),
			)
		})
	}
	it, err := s.DB().NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	kinds := map[string][]string{}
	global := map[string]int{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if bytes.HasPrefix(k, []byte(outboxPrefix)) || bytes.HasPrefix(k, []byte(timerPrefix)) {
			global[string(k[:2])]++
			continue
		}
		rest, ok := bytes.CutPrefix(k, []byte("t/"))
		tn, rest, found := bytes.Cut(rest, []byte("/"))
		if !ok || !found || !slices.Contains(tenants, string(tn)) || len(rest) < 2 || rest[1] != '/' {
			t.Errorf("key %q is neither under a tenant prefix nor global", k)
			continue
		}
		kinds[string(tn)] = append(kinds[string(tn)], string(rest[:1]))
	}
	for _, tn := range tenants {
		// configuration, conversation, search postings (by token only since issue 15: no g), held index, lists' index, owner index, message, parked status, operator, status index, delivery note,
		// erased contact, message id index, send job, audit entry
		if got := strings.Join(slices.Compact(kinds[tn]), ""); got != "bcfhijmostvwxyz" {
			t.Errorf("tenant %s has keys of kinds %q, want %q", tn, got, "bcfhijmostvwxyz")
		}
	}
	if global["q/"] != 4 || global["z/"] != 2 {
		t.Errorf("global keys %v, want two outbox entries (an event, a configuration record) and one timer per tenant", global)
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func putOutbox(t *testing.T, b *Batch, tenant string, n int) {
	t.Helper()
	if err := b.PutOutbox(tenant, fmt.Appendf(nil, `{"n":%d}`, n)); err != nil {
		t.Fatal(err)
	}
}

func commitAndWait(t *testing.T, s *Store, b *Batch) {
	t.Helper()
	done := make(chan error, 1)
	if err := s.Commit(b, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func outboxValues(t *testing.T, s *Store, after uint64) (vals []string, through uint64) {
	t.Helper()
	page, through, err := s.Outbox(nil, after, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page {
		vals = append(vals, e.Tenant+string(e.Value))
	}
	return vals, through
}

// An outbox reader never sees an entry before it is durable, and a cursor moved past the entries it saw never skips
// one that becomes durable later: the batch that took an earlier sequence number holds the watermark back until it
// is durable or discarded.
func TestOutboxWatermark(t *testing.T) {
	s := openStore(t, t.TempDir())
	first := s.NewBatch()
	putOutbox(t, first, "a", 1) // takes the lower sequence number, committed last
	second := s.NewBatch()
	putOutbox(t, second, "b", 2)
	commitAndWait(t, s, second)
	if vals, through := outboxValues(t, s, 0); len(vals) != 0 {
		t.Fatalf("outbox read %v (through %d) while an earlier entry's batch is open", vals, through)
	}
	if _, err := s.Conversation("a", "x"); !errors.Is(err, ErrNotFound) { // the store keeps working meanwhile
		t.Fatal(err)
	}
	dropped := s.NewBatch()
	putOutbox(t, dropped, "c", 3)
	commitAndWait(t, s, first)
	vals, through := outboxValues(t, s, 0)
	if want := []string{`a{"n":1}`, `b{"n":2}`}; !slices.Equal(vals, want) {
		t.Fatalf("outbox read %v, want %v", vals, want)
	}
	dropped.Discard()
	third := s.NewBatch()
	putOutbox(t, third, "d", 4)
	commitAndWait(t, s, third)
	vals, _ = outboxValues(t, s, through)
	if want := []string{`d{"n":4}`}; !slices.Equal(vals, want) {
		t.Fatalf("after the cursor: %v, want %v", vals, want)
	}
	if n := s.OutboxLen(); n != 3 {
		t.Errorf("OutboxLen = %d, want 3", n)
	}
}

// The outbox is read in pages from a cursor; deleted entries leave the count; the count and the order survive a
// reopen, and new entries sort after the old ones.
func TestOutboxPagesAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	b := s.NewBatch()
	for n := range 25 {
		putOutbox(t, b, "a", n)
	}
	commitAndWait(t, s, b)
	var after uint64
	var got int
	for {
		page, through, err := s.Outbox(nil, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 10 {
			t.Fatalf("page of %d, limit 10", len(page))
		}
		got += len(page)
		after = through
		if len(page) < 10 {
			break
		}
	}
	if got != 25 {
		t.Fatalf("read %d entries in pages, want 25", got)
	}
	page, _, err := s.Outbox(nil, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOutbox(page); err != nil {
		t.Fatal(err)
	}
	if n := s.OutboxLen(); n != 20 {
		t.Fatalf("OutboxLen = %d after deleting 5 of 25", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if n := s.OutboxLen(); n != 20 {
		t.Fatalf("OutboxLen = %d after reopening, want 20", n)
	}
	b = s.NewBatch()
	putOutbox(t, b, "a", 99)
	commitAndWait(t, s, b)
	vals, _ := outboxValues(t, s, 0)
	if len(vals) != 21 || vals[0] != `a{"n":5}` || vals[20] != `a{"n":99}` {
		t.Errorf("after reopening the outbox reads %v", vals)
	}
}

// Send jobs are read per channel in queue order, only once durable, in pages after a position; the recorded
// answers are read per tenant by conversation and message.
func TestSendJobsAndDeliveryNotes(t *testing.T) {
	s := openStore(t, t.TempDir())
	var refs []SendRef
	b := s.NewBatch()
	for i := range 5 {
		for _, ch := range []string{"wa", "wa-2"} {
			r, err := b.PutSendJob("a", ch, fmt.Appendf(nil, "%s-%d", ch, i))
			if err != nil {
				t.Fatal(err)
			}
			if ch == "wa" {
				refs = append(refs, r)
			}
		}
	}
	if jobs, err := s.SendJobs("a", "wa", 0, 10); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs of an uncommitted batch: %v, %v", jobs, err)
	}
	commitAndWait(t, s, b)
	jobs, err := s.SendJobs("a", "wa", 0, 3)
	if err != nil || len(jobs) != 3 || string(jobs[0].Value) != "wa-0" || jobs[2].Ref != refs[2] {
		t.Fatalf("first page %+v, %v", jobs, err)
	}
	jobs, err = s.SendJobs("a", "wa", jobs[2].Ref.Seq, 10)
	if err != nil || len(jobs) != 2 || string(jobs[1].Value) != "wa-4" {
		t.Fatalf("second page %+v, %v", jobs, err)
	}
	if jobs, _ := s.SendJobs("ab", "wa", 0, 10); len(jobs) != 0 {
		t.Errorf("tenant ab sees a's jobs: %+v", jobs)
	}
	commitWait(t, s, func(b *Batch) error {
		return firstErr(b.DeleteSendJob(refs[0]),
			b.PutDeliveryNote("a", NoteRef{Conversation: "c1", Seq: 2}, []byte("r2")),
			b.PutDeliveryNote("a", NoteRef{Conversation: "c1", Seq: 10}, []byte("r10")),
			b.PutDeliveryNote("a", NoteRef{Conversation: "c0", Seq: 7}, []byte("r7")))
	})
	if q, err := s.SendJobQueued(refs[0]); err != nil || q {
		t.Errorf("deleted job queued = %v, %v", q, err)
	}
	if q, err := s.SendJobQueued(refs[1]); err != nil || !q {
		t.Errorf("job queued = %v, %v", q, err)
	}
	notes, err := s.DeliveryNotes("a", NoteRef{}, 2)
	if err != nil || len(notes) != 2 || notes[0].NoteRef != (NoteRef{"c0", 7}) || notes[1].NoteRef != (NoteRef{"c1", 2}) {
		t.Fatalf("first page of notes %+v, %v", notes, err)
	}
	notes, err = s.DeliveryNotes("a", notes[1].NoteRef, 2)
	if err != nil || len(notes) != 1 || string(notes[0].Record) != "r10" {
		t.Fatalf("second page of notes %+v, %v", notes, err)
	}
	commitWait(t, s, func(b *Batch) error { return b.DeleteDeliveryNote("a", NoteRef{"c1", 10}) })
	if notes, _ := s.DeliveryNotes("a", NoteRef{}, 10); len(notes) != 2 {
		t.Errorf("%d notes after deleting one of 3", len(notes))
	}
}

// Reads that return a whole set (a dispatcher's rebuild) page through the store: more entries than one page are
// all returned, once.
func TestRebuildReadsPage(t *testing.T) {
	s := openStore(t, t.TempDir())
	const n = 2*scanPage + 7
	commitWait(t, s, func(b *Batch) error {
		for i := range n {
			c := conv("a", fmt.Sprintf("c%05d", i), conversation.Unassigned, "")
			if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
				return err
			}
			if err := b.PutOperator("a", &OperatorState{ID: fmt.Sprintf("op%05d", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	convs, err := s.OpenConversations("a", conversation.Unassigned, conversation.Assigned)
	if err != nil || len(convs) != n {
		t.Fatalf("OpenConversations: %d, %v; want %d", len(convs), err, n)
	}
	ops, err := s.Operators("a")
	if err != nil || len(ops) != n {
		t.Fatalf("Operators: %d, %v; want %d", len(ops), err, n)
	}
	for i := range ops {
		if ops[i].ID != fmt.Sprintf("op%05d", i) || convs[i].ID != fmt.Sprintf("c%05d", i) {
			t.Fatalf("entry %d: operator %s, conversation %s", i, ops[i].ID, convs[i].ID)
		}
	}
}

// Due timers are read in pages after a cursor.
func TestDueTimersPage(t *testing.T) {
	s := openStore(t, t.TempDir())
	commitWait(t, s, func(b *Batch) error {
		for i := range 5 {
			if err := b.PutTimer(TimerKey{Due: at.Add(time.Duration(i) * time.Second), Tenant: "a", Conversation: "c", Kind: "k"}); err != nil {
				return err
			}
		}
		return nil
	})
	first, err := s.DueTimers(at.Add(3*time.Second), TimerKey{}, 2)
	if err != nil || len(first) != 2 || !first[0].Due.Equal(at) {
		t.Fatalf("first page %v, %v", first, err)
	}
	rest, err := s.DueTimers(at.Add(3*time.Second), first[1], 10)
	if err != nil || len(rest) != 2 || !rest[1].Due.Equal(at.Add(3*time.Second)) {
		t.Fatalf("second page %v, %v (timers due after now must not be read)", rest, err)
	}
}

// The queue sequence continues after the highest send job of any channel of any tenant, found by seeking, wherever
// that job is.
func TestLastSendJobSeq(t *testing.T) {
	queues := [][2]string{{"a", "wa"}, {"b", "wa-1"}, {"b", "wa"}, {"ab", "z"}, {"a", "wa-2"}}
	for rot := range queues {
		s := openStore(t, t.TempDir())
		if last, err := s.lastSendJobSeq(); err != nil || last != 0 {
			t.Fatalf("empty store: %d, %v", last, err)
		}
		var want uint64
		commitWait(t, s, func(b *Batch) error {
			c := conv("a", "c1", conversation.Assigned, "x")
			if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
				return err
			}
			for i := range queues {
				q := queues[(rot+i)%len(queues)]
				r, err := b.PutSendJob(q[0], q[1], []byte("{}"))
				if err != nil {
					return err
				}
				want = r.Seq
			}
			return b.PutOperator("b", &OperatorState{ID: "o"})
		})
		if last, err := s.lastSendJobSeq(); err != nil || last != want {
			t.Fatalf("highest job on %v: lastSendJobSeq = %d, %v; want %d", queues[(rot+len(queues)-1)%len(queues)], last, err, want)
		}
	}
}

// Many writers commit outbox entries concurrently, some slowly between taking a sequence number and committing,
// some discarding their batch, while a reader moves a cursor through the outbox as the relay does. Every committed
// entry is read exactly once and no discarded one ever. (With the watermark taken away — the cursor bounded only by
// what is visible — it fails: entries committed after a later one was read are skipped.)
func TestOutboxCursorNeverSkips(t *testing.T) {
	s := openStore(t, t.TempDir())
	const writers, batches = 6, 150
	var mu sync.Mutex
	committed := map[string]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range batches {
				b := s.NewBatch()
				var vals []string
				for j := range 1 + rng.IntN(3) {
					v := fmt.Sprintf("w%d-%d-%d", w, i, j)
					if err := b.PutOutbox("a", []byte(v)); err != nil {
						t.Error(err)
						return
					}
					vals = append(vals, v)
					if rng.IntN(4) == 0 {
						time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
					}
				}
				if rng.IntN(10) == 0 {
					b.Discard()
					continue
				}
				mu.Lock()
				for _, v := range vals {
					committed[v] = true
				}
				mu.Unlock()
				done := make(chan error, 1)
				if err := s.Commit(b, func(err error) { done <- err }); err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(2) == 0 {
					if err := <-done; err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()
	seen := map[string]int{}
	var after uint64
	for finished := false; ; {
		select {
		case <-writing:
			finished = true
		default:
		}
		page, through, err := s.Outbox(nil, after, 17)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, e := range page {
			if !committed[string(e.Value)] {
				t.Errorf("read %s, which was never committed", e.Value)
			}
			seen[string(e.Value)]++
		}
		mu.Unlock()
		after = through
		// Done once every writer has returned and every batch it committed is resolved: a commit returns before its
		// batch is synced, so the watermark can equal the cursor while a batch is still on its way.
		if finished && len(page) == 0 && s.outboxSeqs.settled() && s.outboxSeqs.watermark() == after {
			break
		}
	}
	for v := range committed {
		if seen[v] != 1 {
			t.Errorf("%s read %d times, want once", v, seen[v])
		}
	}
	if len(seen) != len(committed) {
		t.Errorf("read %d distinct entries, %d committed", len(seen), len(committed))
	}
}

// settled reports whether no batch holds an unresolved sequence number.
func (q *queueSeqs) settled() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.open) == 0
}

// TestConfigRecordInOutbox: a configuration record comes out of the outbox with its key and value, in order with the
// tenant's events, and an event is never taken for one; the tenant's configuration reads back.
func TestConfigRecordInOutbox(t *testing.T) {
	s := openStore(t, t.TempDir())
	commitWait(t, s, func(b *Batch) error {
		return firstErr(b.PutOutbox("acme", []byte(`{"id":"e1"}`)),
			b.PutConfigRecord("acme", "acme/operator/bob", []byte(`{"version":2}`)),
			b.PutTenantConfig("acme", []byte(`{"id":"acme"}`)))
	})
	page, _, err := s.Outbox(nil, 0, 10)
	if err != nil || len(page) != 2 {
		t.Fatalf("outbox = %v, %v", page, err)
	}
	if _, _, ok := page[0].ConfigRecord(); ok {
		t.Error("an event was read as a configuration record")
	}
	k, v, ok := page[1].ConfigRecord()
	if !ok || string(k) != "acme/operator/bob" || string(v) != `{"version":2}` || page[1].Tenant != "acme" {
		t.Errorf("config record = %q %q %v", k, v, ok)
	}
	if got, err := s.TenantConfig("acme"); err != nil || string(got) != `{"id":"acme"}` {
		t.Errorf("TenantConfig = %q, %v", got, err)
	}
	if _, err := s.TenantConfig("ac"); !errors.Is(err, ErrNotFound) {
		t.Errorf("TenantConfig of another tenant: %v, want ErrNotFound", err)
	}
}
