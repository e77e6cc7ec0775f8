package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// fakeReplicator keeps each partition's acknowledged changes in memory, in order, like a changelog topic. held
// makes it keep the calls for the test to acknowledge (ack); fail makes it fail them.
type fakeReplicator struct {
	mu    sync.Mutex
	held  bool
	fail  error
	calls []fakeCall
	log   map[int][]Change
}

type fakeCall struct {
	part    int
	changes []Change
	done    func(int64, error)
}

func newFakeReplicator() *fakeReplicator { return &fakeReplicator{log: map[int][]Change{}} }

func (f *fakeReplicator) Replicate(part int, changes []Change, done func(int64, error)) {
	f.mu.Lock()
	if f.held {
		f.calls = append(f.calls, fakeCall{part, changes, done})
		f.mu.Unlock()
		return
	}
	next, err := f.append(part, changes)
	f.mu.Unlock()
	done(next, err)
}

// append copies changes into the log (under mu): the store's slices are only valid until done.
func (f *fakeReplicator) append(part int, changes []Change) (int64, error) {
	if f.fail != nil {
		return 0, f.fail
	}
	for _, c := range changes {
		f.log[part] = append(f.log[part], Change{Key: bytes.Clone(c.Key), Value: bytes.Clone(c.Value), Delete: c.Delete})
	}
	return int64(len(f.log[part])), nil
}

// waitCalls waits until n calls are held and returns them.
func (f *fakeReplicator) waitCalls(t *testing.T, n int) []fakeCall {
	t.Helper()
	for range 1000 {
		f.mu.Lock()
		if len(f.calls) >= n {
			calls := append([]fakeCall{}, f.calls...)
			f.mu.Unlock()
			return calls
		}
		f.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d replicate calls", n)
	return nil
}

// ack acknowledges a held call.
func (f *fakeReplicator) ack(c fakeCall, err error) {
	f.mu.Lock()
	next, aerr := f.append(c.part, c.changes)
	f.mu.Unlock()
	if err == nil {
		err = aerr
	}
	c.done(next, err)
}

// partitionOf is the tests' partitioner: tenants named "p<n>-…" are in partition n.
func partitionOf(tenant string) int {
	var p int
	if _, err := fmt.Sscanf(tenant, "p%d-", &p); err != nil {
		panic("BUG: test tenant " + tenant + " names no partition")
	}
	return p
}

func openReplicated(tb testing.TB, dir string, r Replicator) *Store {
	tb.Helper()
	return openStoreConfig(tb, Config{Dir: dir, Replicator: r, Partition: partitionOf})
}

func commitAsync(t *testing.T, s *Store, fill func(b *Batch) error) <-chan error {
	t.Helper()
	b := s.NewBatch()
	if err := fill(b); err != nil {
		t.Fatalf("fill batch: %v", err)
	}
	done := make(chan error, 1)
	if err := s.Commit(b, func(err error) { done <- err }); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return done
}

func TestReplicatedDoneWaitsForTheAck(t *testing.T) {
	f := newFakeReplicator()
	f.held = true
	s := openReplicated(t, t.TempDir(), f)
	c := conv("p0-acme", "c1", conversation.Unassigned, "")
	done := commitAsync(t, s, func(b *Batch) error {
		return errors.Join(b.PutConversation(&conversation.Conversation{}, &c), b.PutOutbox("p0-acme", []byte(`{"e":1}`)))
	})
	calls := f.waitCalls(t, 1)
	select {
	case err := <-done:
		t.Fatalf("done ran (%v) before the replicator acknowledged", err)
	case <-time.After(50 * time.Millisecond):
	}
	// The outbox entry is durable in Pebble but not replicated: the relay must not see it yet.
	if got, _, err := s.Outbox(nil, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("outbox before the ack: %d entries, %v", len(got), err)
	}
	f.ack(calls[0], nil)
	if err := <-done; err != nil {
		t.Fatalf("done: %v", err)
	}
	if got, _, err := s.Outbox(nil, 0, 10); err != nil || len(got) != 1 {
		t.Fatalf("outbox after the ack: %d entries, %v", len(got), err)
	}
}

func TestReplicatorErrorReachesDone(t *testing.T) {
	f := newFakeReplicator()
	f.fail = errors.New("broker unreachable")
	s := openReplicated(t, t.TempDir(), f)
	c := conv("p1-acme", "c1", conversation.Unassigned, "")
	err := <-commitAsync(t, s, func(b *Batch) error { return b.PutConversation(&conversation.Conversation{}, &c) })
	if err == nil || !strings.Contains(err.Error(), "broker unreachable") {
		t.Fatalf("done got %v, want the replicator's error", err)
	}
}

// TestReplicatedDoneKeepsCommitOrder: a later batch acknowledged first still finishes after the earlier one.
func TestReplicatedDoneKeepsCommitOrder(t *testing.T) {
	f := newFakeReplicator()
	f.held = true
	s := openReplicated(t, t.TempDir(), f)
	var mu sync.Mutex
	var order []string
	commit := func(tenant string) {
		c := conv(tenant, "c1", conversation.Unassigned, "")
		b := s.NewBatch()
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(b, func(error) { mu.Lock(); order = append(order, tenant); mu.Unlock() }); err != nil {
			t.Fatal(err)
		}
	}
	commit("p0-first")
	calls := f.waitCalls(t, 1)
	commit("p1-second")
	calls = f.waitCalls(t, 2)
	f.ack(calls[1], nil)
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if len(order) != 0 {
		t.Fatalf("finished %v before the first batch was acknowledged", order)
	}
	mu.Unlock()
	f.ack(calls[0], nil)
	for range 1000 {
		mu.Lock()
		n := len(order)
		mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != "p0-first,p1-second" {
		t.Fatalf("done order %v", order)
	}
}

// TestReplicateGroupsByPartition: one batch writing two tenants of two partitions, an outbox entry, a timer and a
// scrub mark is replicated as one group per partition, in batch order, without the node-local keys.
func TestReplicateGroupsByPartition(t *testing.T) {
	f := newFakeReplicator()
	f.held = true
	s := openReplicated(t, t.TempDir(), f)
	a := conv("p0-a", "c1", conversation.Unassigned, "")
	b3 := conv("p3-b", "c2", conversation.Unassigned, "")
	done := commitAsync(t, s, func(b *Batch) error {
		return errors.Join(
			b.PutOperator("p3-b", &OperatorState{ID: "op1", Availability: "online"}),
			b.PutConversation(&conversation.Conversation{}, &a),
			b.PutOutbox("p3-b", []byte("event")),
			b.PutTimer(TimerKey{Due: at, Tenant: "p0-a", Conversation: "c1", Kind: "auto_close"}),
			b.MarkScrub("p0-a", "c1"),
			b.DeleteParkedStatus("p3-b", "wamid1"),
			b.PutConversation(&conversation.Conversation{}, &b3),
		)
	})
	calls := f.waitCalls(t, 2)
	byPart := map[int][]Change{}
	for _, c := range calls {
		if _, dup := byPart[c.part]; dup {
			t.Fatalf("partition %d handed over twice for one batch", c.part)
		}
		byPart[c.part] = c.changes
	}
	if len(byPart) != 2 || byPart[0] == nil || byPart[3] == nil {
		t.Fatalf("groups for partitions %v, want 0 and 3", byPart)
	}
	for part, changes := range byPart {
		prefix := fmt.Sprintf("t/p%d-", part)
		for i, c := range changes {
			k := string(c.Key)
			switch {
			case strings.HasPrefix(k, prefix):
			case part == 3 && strings.HasPrefix(k, "q/") && strings.HasSuffix(k, "/p3-b"):
			default:
				t.Errorf("partition %d got key %q", part, k)
			}
			if i > 0 && k == string(changes[i-1].Key) {
				t.Errorf("key %q twice", k)
			}
		}
	}
	keys := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, string(c.Key))
		}
		return out
	}
	p3 := keys(byPart[3])
	// Batch order within the partition: the operator, the outbox entry, the parked status delete, then b's
	// conversation writes.
	if !strings.HasPrefix(p3[0], "t/p3-b/o/op1") || !strings.HasPrefix(p3[1], "q/") ||
		p3[2] != "t/p3-b/s/wamid1" || !byPart[3][2].Delete || byPart[3][0].Delete {
		t.Fatalf("partition 3 changes %q", p3)
	}
	if !bytes.Contains(byPart[3][0].Value, []byte(`"availability":"online"`)) {
		t.Fatalf("operator value %q", byPart[3][0].Value)
	}
	for _, c := range calls {
		f.ack(c, nil)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReplicatedBatchRefusesRangeDeletes: a write the changelog cannot carry fails the batch instead of leaving the
// changelog behind Pebble.
func TestReplicatedBatchRefusesRangeDeletes(t *testing.T) {
	s := openReplicated(t, t.TempDir(), newFakeReplicator())
	err := <-commitAsync(t, s, func(b *Batch) error { return b.b.DeleteRange([]byte("t/p0-a/"), []byte("t/p0-a0"), nil) })
	if err == nil || !strings.Contains(err.Error(), "cannot be replicated") {
		t.Fatalf("done got %v", err)
	}
}

// replicatedState returns every replicated key of the store (tenant-scoped and outbox) with its value, and the
// timer index.
func replicatedState(t *testing.T, s *Store) (state, timers map[string]string) {
	t.Helper()
	state, timers = map[string]string{}, map[string]string{}
	for _, p := range []string{"t/", outboxPrefix} {
		if err := s.eachKey([]byte(p), func(k, v []byte) error { state[string(k)] = string(v); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.eachKey([]byte(timerPrefix), func(k, v []byte) error { timers[string(k)] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return state, timers
}

// TestRestoreFromReplicatedLog: what a store replicated restores a wiped store to the same keys and values, the timer
// index rebuilt; the partition not restored stays as it was; and a clean Close leaves a checkpoint.
func TestRestoreFromReplicatedLog(t *testing.T) {
	f := newFakeReplicator()
	dir := t.TempDir()
	s := openReplicated(t, dir, f)
	for i := range 20 {
		tenant := fmt.Sprintf("p%d-t%d", i%2, i%4)
		c := conv(tenant, fmt.Sprintf("c%d", i), conversation.Unassigned, "")
		c.Timers.AutoClose = at.Add(time.Duration(i) * time.Hour)
		commitWait(t, s, func(b *Batch) error {
			return errors.Join(b.PutConversation(&conversation.Conversation{}, &c),
				b.PutTimer(TimerKey{Due: c.Timers.AutoClose, Tenant: tenant, Conversation: c.ID, Kind: "auto_close"}),
				b.PutMessage(tenant, &conversation.Message{ID: fmt.Sprintf("m%d", i), ConversationID: c.ID, Seq: 1, Text: "hello"}),
				b.PutOutbox(tenant, []byte(fmt.Sprintf("event %d", i))))
		})
		if i%5 == 0 { // deletes are replicated too
			commitWait(t, s, func(b *Batch) error { return b.DeleteParkedStatus(tenant, "none") })
			prev := c
			c.Status = conversation.Closed
			commitWait(t, s, func(b *Batch) error { return b.PutConversation(&prev, &c) })
		}
	}
	entries, _, err := s.Outbox(nil, 0, 5)
	if err != nil || len(entries) != 5 {
		t.Fatalf("outbox: %d, %v", len(entries), err)
	}
	if err := s.DeleteOutbox(entries); err != nil {
		t.Fatal(err)
	}
	wantState, wantTimers := replicatedState(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A new store restores partition 0 from the log and is given partition 1 from nowhere: it has none of it. It
	// replicates to the same log, as a node that takes a partition over writes to the same changelog.
	log := append([]Change{}, f.log[0]...)
	r := openReplicated(t, t.TempDir(), f)
	if _, ok := r.Checkpoint(0); ok {
		t.Fatal("a new store has a checkpoint")
	}
	// Some stale state of partition 0 that the wipe must remove, and of partition 1 that must stay.
	stale := conv("p0-t0", "stale", conversation.Unassigned, "")
	other := conv("p1-t9", "kept", conversation.Unassigned, "")
	commitWait(t, r, func(b *Batch) error {
		return errors.Join(b.PutConversation(&conversation.Conversation{}, &stale), b.PutConversation(&conversation.Conversation{}, &other),
			b.PutTimer(TimerKey{Due: at, Tenant: "p0-t0", Conversation: "stale", Kind: "auto_close"}))
	})
	if err := r.WipePartition(0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(log); i += 7 { // in several batches, as the Kafka restore does
		end := min(i+7, len(log))
		if err := r.ApplyRestored(0, log[i:end], int64(end)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.FinishRestore(0, int64(len(log))); err != nil {
		t.Fatal(err)
	}
	gotState, gotTimers := replicatedState(t, r)
	for k, v := range wantState {
		if partitionOf(string(replicatedTenant([]byte(k)))) != 0 {
			continue
		}
		if g, ok := gotState[k]; !ok || g != v {
			t.Errorf("key %q: restored %q (present %v), want %q", k, g, ok, v)
		}
	}
	for k := range gotState {
		tenant := string(replicatedTenant([]byte(k)))
		if _, ok := wantState[k]; !ok && partitionOf(tenant) == 0 {
			t.Errorf("restored key %q that the original does not hold", k)
		}
		if partitionOf(tenant) == 1 && tenant != "p1-t9" {
			t.Errorf("partition 1 key %q appeared", k)
		}
	}
	if _, ok := gotState[string(convKey("p1-t9", "kept"))]; !ok {
		t.Error("the wipe of partition 0 removed partition 1's conversation")
	}
	nTimers := 0
	for k := range wantTimers {
		tk, _ := parseTimerKey([]byte(k))
		if partitionOf(tk.Tenant) != 0 {
			continue
		}
		nTimers++
		if _, ok := gotTimers[k]; !ok {
			t.Errorf("timer %q not rebuilt", k)
		}
	}
	for k := range gotTimers {
		if tk, _ := parseTimerKey([]byte(k)); tk.Tenant == "p0-t0" && tk.Conversation == "stale" {
			t.Errorf("stale timer %q survived the restore", k)
		}
	}
	if nTimers == 0 {
		t.Fatal("the test wrote no timers of partition 0")
	}
	// The relay reads the restored outbox: every entry of partition 0 that was not relayed.
	var restoredOutbox int
	for k := range wantState {
		if strings.HasPrefix(k, outboxPrefix) && partitionOf(string(replicatedTenant([]byte(k)))) == 0 {
			restoredOutbox++
		}
	}
	got, _, err := r.Outbox(nil, ^uint64(0)-1, 100)
	if err != nil || len(got) != restoredOutbox || restoredOutbox == 0 {
		t.Fatalf("outbox read from the relay's cursor after the restore: %d entries (%v), want %d", len(got), err, restoredOutbox)
	}
	// New entries sort after the restored ones.
	commitWait(t, r, func(b *Batch) error { return b.PutOutbox("p0-t0", []byte("new")) })
	got, _, _ = r.Outbox(nil, 0, 100)
	if last := got[len(got)-1]; string(last.Value) != "new" {
		t.Fatalf("the new outbox entry sorts before a restored one: last %q", last.Value)
	}

	// Assigned again in the same run, the partition is current up to its last acknowledged write.
	if ck, ok := r.Checkpoint(0); !ok || ck.Next != int64(len(f.log[0])) {
		t.Fatalf("checkpoint of partition 0 in the run that restored it: %+v %v, want %d", ck, ok, len(f.log[0]))
	}
	if _, ok := r.Checkpoint(1); ok {
		t.Fatal("a checkpoint of partition 1, which the store did not restore")
	}
	// A clean Close leaves the checkpoint of the restored partition (and only of it), counting the write since.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := openReplicated(t, r.dir, newFakeReplicator())
	ck, ok := r2.Checkpoint(0)
	if !ok || ck.Next != int64(len(f.log[0])) {
		t.Fatalf("checkpoint of partition 0 after a clean close: %+v %v", ck, ok)
	}
	if _, ok := r2.Checkpoint(1); ok {
		t.Fatal("checkpoint of a partition the store never held in full")
	}
	// Open took the checkpoints out of Pebble: a crash from now on restores from scratch.
	var left int
	_ = r2.eachKey([]byte(checkpointPrefix), func(k, v []byte) error { left++; return nil })
	if left != 0 {
		t.Fatalf("%d checkpoints left in Pebble after Open", left)
	}
}

// TestApplyRestoredRefusesForeignKeys: a changelog partition holding another partition's tenant or a node-local key
// is not this store's, and nothing of the batch is applied.
func TestApplyRestoredRefusesForeignKeys(t *testing.T) {
	s := openReplicated(t, t.TempDir(), newFakeReplicator())
	for _, k := range []string{"t/p1-x/c/c1", "a/session", "z/timer"} {
		err := s.ApplyRestored(0, []Change{{Key: []byte("t/p0-x/c/ok"), Value: []byte("{}")}, {Key: []byte(k), Value: []byte("v")}}, 2)
		if err == nil {
			t.Fatalf("key %q restored into partition 0", k)
		}
		if _, closer, err := s.db.Get([]byte("t/p0-x/c/ok")); !errors.Is(err, pebble.ErrNotFound) {
			if err == nil {
				closer.Close()
			}
			t.Fatalf("part of a refused batch was applied (%v)", err)
		}
	}
}
