package store

// Tests of Commit's contract: writes are visible when Commit returns, done is called once per batch after the batch
// is durable, and what done acknowledged survives a close, a reopen and a kill -9.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
)

func TestCommitVisibleOnReturn(t *testing.T) {
	s := openStore(t, t.TempDir())
	var calls atomic.Int32
	done := make(chan error, 2)
	for i := range 50 {
		id := fmt.Sprintf("c%d", i)
		c := conv("a", id, conversation.Unassigned, "")
		m := msg(id, 1, "w"+id)
		b := s.NewBatch()
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			t.Fatal(err)
		}
		if err := b.PutMessage("a", &m); err != nil {
			t.Fatal(err)
		}
		if b.Empty() {
			t.Fatal("batch with writes reports Empty")
		}
		if err := s.Commit(b, func(err error) { calls.Add(1); done <- err }); err != nil {
			t.Fatal(err)
		}
		// No waiting for done: an actor reads its own writes right after Commit.
		if _, err := s.Conversation("a", id); err != nil {
			t.Fatalf("conversation %s not visible when Commit returned: %v", id, err)
		}
		if _, seq, err := s.MessageRef("a", "w"+id); err != nil || seq != 1 {
			t.Fatalf("wamid of %s not visible when Commit returned: %d, %v", id, seq, err)
		}
		if got := listAll(t, s, "a", Filter{Status: conversation.Unassigned}); len(got) != i+1 {
			t.Fatalf("status index has %d entries after %d commits", len(got), i+1)
		}
		if err := <-done; err != nil {
			t.Fatalf("done(%v)", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 50 {
		t.Errorf("done called %d times for 50 batches", n)
	}
}

// TestCommitDoneAfterFsync checks that done follows a WAL fsync. One committer waits for each batch's done before
// the next commit, so each batch needs an fsync of its own; Pebble's WAL flusher counts an fsync in its latency
// histogram before it can start the next one, so when done of the k-th batch runs, at least k-1 fsyncs are counted.
// A done released before the sync lets the committer run ahead of the fsyncs and breaks the bound at once.
func TestCommitDoneAfterFsync(t *testing.T) {
	s := openStore(t, t.TempDir())
	before := fsyncs(t, s)
	const n = 200
	seen := make(chan uint64, 1)
	for k := uint64(1); k <= n; k++ {
		b := s.NewBatch()
		m := msg("c1", k, fmt.Sprintf("w%d", k))
		if err := b.PutMessage("a", &m); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(b, func(err error) {
			if err != nil {
				t.Errorf("done(%v)", err)
			}
			seen <- fsyncs(t, s) - before
		}); err != nil {
			t.Fatal(err)
		}
		if got := <-seen; got < k-1 {
			t.Fatalf("done of batch %d ran after only %d WAL fsyncs, want at least %d", k, got, k-1)
		}
	}
}

func TestCommitEmptyBatch(t *testing.T) {
	s := openStore(t, t.TempDir())
	b := s.NewBatch()
	if !b.Empty() {
		t.Fatal("new batch is not Empty")
	}
	done := make(chan error, 1)
	if err := s.Commit(b, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	// An actor may commit a record that changed nothing (a replayed duplicate); its effects still wait on done.
	if err := <-done; err != nil {
		t.Fatalf("done(%v) for an empty batch", err)
	}
}

func TestDiscard(t *testing.T) {
	s := openStore(t, t.TempDir())
	b := s.NewBatch()
	c := conv("a", "c1", conversation.Unassigned, "")
	if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
		t.Fatal(err)
	}
	b.Discard()
	if _, err := s.Conversation("a", "c1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("discarded write is visible: %v", err)
	}
}

// TestCommitDoneInOrder: one committer's batches are acknowledged in the order it committed them, so effects
// released on done leave in the order the actor decided them.
func TestCommitDoneInOrder(t *testing.T) {
	s := openStore(t, t.TempDir())
	const n = 500
	var mu sync.Mutex
	var order []int
	for i := range n {
		b := s.NewBatch()
		c := conv("a", fmt.Sprintf("c%d", i), conversation.Unassigned, "")
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(b, func(err error) {
			if err != nil {
				t.Errorf("done(%v)", err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // Close waits for every done
		t.Fatal(err)
	}
	if len(order) != n {
		t.Fatalf("%d done calls for %d batches", len(order), n)
	}
	for i, got := range order {
		if got != i {
			t.Fatalf("done #%d was for batch %d", i, got)
		}
	}
}

// TestCloseWaitsForDone: Close returns only after every committed batch's done has run, so a stopping node releases
// (or reports) every effect it made durable.
func TestCloseWaitsForDone(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	const n = 300
	var calls atomic.Int32
	for i := range n {
		b := s.NewBatch()
		m := msg("c1", uint64(i+1), fmt.Sprintf("w%d", i))
		if err := b.PutMessage("a", &m); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(b, func(error) { calls.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != n {
		t.Fatalf("Close returned with %d of %d done calls made", got, n)
	}
	s = openStore(t, dir)
	ms, err := s.Messages("a", "c1", 0, n+1)
	if err != nil || len(ms) != n {
		t.Fatalf("after reopen: %d messages, %v; want %d", len(ms), err, n)
	}
}

// TestConcurrentCommit runs many committers at once, as conversation actors do, and checks every batch is
// acknowledged once with nil, readable at once, and still there after Close and Open. It also checks that the
// batches shared fsyncs (group commit).
func TestConcurrentCommit(t *testing.T) {
	const goroutines, batches = 64, 200
	dir := t.TempDir()
	s := openStore(t, dir)
	fsyncsBefore := fsyncs(t, s)
	var acked, failed atomic.Int64
	var durable sync.WaitGroup
	var committers sync.WaitGroup
	for g := range goroutines {
		committers.Go(func() {
			var prev conversation.Conversation
			for i := range batches {
				c := conv("a", fmt.Sprintf("g%02d", g), conversation.Unassigned, "")
				if i%2 == 1 {
					c.Status, c.AssigneeID = conversation.Assigned, fmt.Sprintf("op%d", g%4)
				}
				c.Messages = uint64(i + 1)
				m := msg(c.ID, c.Messages, fmt.Sprintf("w-%02d-%03d", g, i))
				b := s.NewBatch()
				if err := b.PutConversation(&prev, &c); err != nil {
					t.Error(err)
					return
				}
				if err := b.PutMessage("a", &m); err != nil {
					t.Error(err)
					return
				}
				prev = c
				durable.Add(1)
				var once atomic.Bool
				if err := s.Commit(b, func(err error) {
					if once.Swap(true) {
						failed.Add(1) // done called twice
					}
					if err != nil {
						failed.Add(1)
					}
					acked.Add(1)
					durable.Done()
				}); err != nil {
					t.Error(err)
					durable.Done()
					return
				}
				// Read-your-writes from the committing goroutine, before done.
				if got, err := s.Conversation("a", c.ID); err != nil || got.Messages != c.Messages {
					t.Errorf("g%02d batch %d: read back %d messages, %v", g, i, got.Messages, err)
					return
				}
			}
		})
	}
	committers.Wait()
	durable.Wait()
	const total = goroutines * batches
	if acked.Load() != total || failed.Load() != 0 {
		t.Fatalf("%d of %d batches acknowledged, %d failures or repeats", acked.Load(), total, failed.Load())
	}
	if n := histogramCount(t, s.Metrics.CommitSeconds); n != total {
		t.Errorf("commit histogram has %d observations, want %d", n, total)
	}
	if n := counterValue(t, s.Metrics.SyncErrors); n != 0 {
		t.Errorf("%v sync errors", n)
	}
	// Pebble observes an fsync after waking its waiters, so the count may trail by the last group: wait for it.
	var syncs uint64
	eventually.True(t, time.Minute, time.Millisecond, func() bool {
		syncs = fsyncs(t, s) - fsyncsBefore
		return syncs > 0
	}, "WAL fsyncs observed for synced commits")
	t.Logf("%d batches in %d fsyncs (%.1f batches per fsync)", total, syncs, float64(total)/float64(syncs))
	if syncs >= total {
		t.Errorf("%d fsyncs for %d batches from %d committers: no group commit", syncs, total, goroutines)
	}

	check := func(s *Store, when string) {
		t.Helper()
		list := listAll(t, s, "a", Filter{Limit: 17})
		if len(list) != goroutines {
			t.Fatalf("%s: %d conversations, want %d", when, len(list), goroutines)
		}
		assigned := listAll(t, s, "a", Filter{Status: conversation.Assigned})
		unassigned := listAll(t, s, "a", Filter{Status: conversation.Unassigned})
		// Each goroutine's last batch (i = 199) is Assigned.
		if len(assigned) != goroutines || len(unassigned) != 0 {
			t.Errorf("%s: %d assigned, %d unassigned; want %d, 0", when, len(assigned), len(unassigned), goroutines)
		}
		for g := range goroutines {
			id := fmt.Sprintf("g%02d", g)
			c, err := s.Conversation("a", id)
			if err != nil || c.Messages != batches {
				t.Fatalf("%s: %s = %d messages, %v; want %d", when, id, c.Messages, err, batches)
			}
			ms, err := s.Messages("a", id, 0, batches+1)
			if err != nil || len(ms) != batches {
				t.Fatalf("%s: %s has %d messages, %v; want %d", when, id, len(ms), err, batches)
			}
		}
		counts, err := s.CountMessagesByID("a")
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != total {
			t.Errorf("%s: %d distinct wamids, want %d", when, len(counts), total)
		}
		for id, n := range counts {
			if n != 1 {
				t.Errorf("%s: wamid %s stored %d times", when, id, n)
			}
		}
	}
	check(s, "before close")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openStore(t, dir), "after reopen")
}

// crashDirEnv tells a re-executed test binary to be the child of TestDoneMeansDurableAcrossKill.
const crashDirEnv = "SWITCHBOARD_STORE_CRASH_DIR"

// TestDoneMeansDurableAcrossKill runs committers in a child process that prints the id of every batch whose done
// reported it durable, kills the child with SIGKILL after a random number of acknowledgements, reopens the store and
// checks that every batch the child acknowledged is there, whole. A kill cannot tell written from fsynced, and Pebble
// writes the WAL microseconds after the apply, so this is not the test of "done after the fsync"
// (TestCommitDoneAfterFsync is); it catches acknowledged state that recovery does not bring back.
func TestDoneMeansDurableAcrossKill(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	for round := range 5 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestDoneMeansDurableAcrossKill$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 200 + rand.IntN(3000)
		// A child that stops acknowledging must not hang the test: kill it after a while, and fail below.
		watchdog := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
		var acked []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			id, ok := strings.CutPrefix(sc.Text(), "durable ")
			if !ok {
				continue
			}
			acked = append(acked, id)
			if len(acked) == killAt {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Lines already in the pipe when the child died were acknowledged before it died: they count too.
		err = cmd.Wait()
		watchdog.Stop()
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL ||
			len(acked) < killAt {
			t.Fatalf("round %d: child ended with %v after %d acknowledgements, want SIGKILL after %d\n%s",
				round, err, len(acked), killAt, stderr.String())
		}

		s, err := Open(Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		lost := 0
		for _, id := range acked {
			gid, seq := splitCrashID(t, id)
			c, err := s.Conversation("a", gid)
			if err != nil || c.Messages < seq {
				lost++
				continue
			}
			m, err := s.Message("a", gid, seq)
			if err != nil || m.ID != id {
				lost++
				continue
			}
			if ref, rseq, err := s.MessageRef("a", id); err != nil || ref != gid || rseq != seq {
				lost++
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if lost > 0 {
			t.Errorf("round %d: %d of %d acknowledged batches lost or partial after kill -9", round, lost, len(acked))
		} else {
			t.Logf("round %d: killed after %d acknowledged batches; all present", round, len(acked))
		}
	}
}

// crashChild commits forever from several goroutines, printing "durable <id>" from each done. The parent kills it.
func crashChild(dir string) {
	s, err := Open(Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 0) // unbuffered: a line is out of the process once done returns
	for g := range 8 {
		go func() {
			var prev conversation.Conversation
			for seq := uint64(1); ; seq++ {
				c := conv("a", fmt.Sprintf("g%d", g), conversation.Unassigned, "")
				c.Messages = seq
				id := fmt.Sprintf("g%d:%d", g, seq)
				m := msg(c.ID, seq, id)
				b := s.NewBatch()
				if err := b.PutConversation(&prev, &c); err != nil {
					panic(err)
				}
				if err := b.PutMessage("a", &m); err != nil {
					panic(err)
				}
				prev = c
				if err := s.Commit(b, func(err error) {
					if err != nil {
						fmt.Fprintln(os.Stderr, "done:", err)
						os.Exit(3)
					}
					// done is called from the store's one sync goroutine: the writes do not interleave.
					fmt.Fprintf(w, "durable %s\n", id)
					w.Flush()
				}); err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					os.Exit(3)
				}
			}
		}()
	}
	time.Sleep(2 * time.Minute) // the parent kills the child long before, or its watchdog does
	fmt.Fprintln(os.Stderr, "child was not killed")
	os.Exit(4)
}

func splitCrashID(t *testing.T, id string) (string, uint64) {
	t.Helper()
	g, seq, ok := strings.Cut(id, ":")
	var n uint64
	if _, err := fmt.Sscan(seq, &n); !ok || err != nil {
		t.Fatalf("bad id %q from child", id)
	}
	return g, n
}
