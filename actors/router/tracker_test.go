package router

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
)

// trackerOp is one step of a tracker scenario: start or finish an offset, then expect committable.
type trackerOp struct {
	start bool
	off   int64
	want  int64
}

func s(off, want int64) trackerOp { return trackerOp{start: true, off: off, want: want} }
func f(off, want int64) trackerOp { return trackerOp{off: off, want: want} }

func TestTrackerScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		cap  int
		ops  []trackerOp
	}{
		{"in order", 8, []trackerOp{
			s(0, 0), s(1, 0), s(2, 0),
			f(0, 1), f(1, 2), f(2, 3),
			s(3, 3), f(3, 4),
		}},
		{"out of order", 8, []trackerOp{
			s(0, 0), s(1, 0), s(2, 0), s(3, 0), s(4, 0),
			f(2, 0), f(4, 0), f(0, 1), f(1, 3), f(3, 5),
		}},
		{"reverse order", 8, []trackerOp{
			s(100, 100), s(101, 100), s(102, 100), s(103, 100),
			f(103, 100), f(102, 100), f(101, 100), f(100, 104),
		}},
		// Offsets need not be contiguous (compaction, transaction markers): the commit point follows the fetched
		// ones.
		{"gaps in offsets", 8, []trackerOp{
			s(10, 10), s(11, 10), s(15, 10), s(16, 10),
			f(15, 10), f(10, 11), f(16, 11), f(11, 17),
		}},
		{"gap finished first", 8, []trackerOp{
			s(10, 10), s(15, 10),
			f(15, 10), f(10, 16),
			s(40, 16), f(40, 41),
		}},
		{"starts after resume", 4, []trackerOp{
			s(5000, 5000), f(5000, 5001), s(5001, 5001), s(5002, 5001), f(5002, 5001), f(5001, 5003),
		}},
		{"ring wraps", 3, []trackerOp{
			s(0, 0), s(1, 0), s(2, 0), f(0, 1), s(3, 1), f(1, 2), s(4, 2),
			f(4, 2), f(3, 2), f(2, 5), s(5, 5), s(6, 5), f(6, 5), f(5, 7),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTracker(tc.cap)
			if got := tr.committable(); got != -1 {
				t.Fatalf("committable before any start = %d, want -1", got)
			}
			started := 0
			for i, op := range tc.ops {
				what := fmt.Sprintf("finish(%d)", op.off)
				if op.start {
					what = fmt.Sprintf("start(%d)", op.off)
					if !tr.acquire(nil) {
						t.Fatalf("op %d: acquire failed", i)
					}
					tr.start(op.off)
					started++
				} else {
					tr.finish(op.off)
				}
				if got := tr.committable(); got != op.want {
					t.Fatalf("op %d %s: committable = %d, want %d", i, what, got, op.want)
				}
			}
			if n := tr.inFlight(); n != 0 {
				t.Errorf("inFlight after every record finished = %d, want 0", n)
			}
		})
	}
}

func TestTrackerNothingBeforeStart(t *testing.T) {
	tr := newTracker(4)
	if got := tr.committable(); got != -1 {
		t.Errorf("committable = %d, want -1", got)
	}
	if got := tr.inFlight(); got != 0 {
		t.Errorf("inFlight = %d, want 0", got)
	}
}

func TestTrackerInFlight(t *testing.T) {
	tr := newTracker(4)
	for off := range int64(3) {
		tr.acquire(nil)
		tr.start(off)
		if got := tr.inFlight(); got != int(off+1) {
			t.Fatalf("after start(%d): inFlight = %d, want %d", off, got, off+1)
		}
	}
	tr.finish(0)
	if got := tr.inFlight(); got != 2 {
		t.Errorf("after finish(0): inFlight = %d, want 2", got)
	}
	tr.finish(1)
	tr.finish(2)
	if got := tr.inFlight(); got != 0 {
		t.Errorf("after all finished: inFlight = %d, want 0", got)
	}
}

// TestTrackerAcquireBlocksAtCapacity uses synctest so that "blocked" is a fact the runtime reports, not a guess
// from a sleep.
func TestTrackerAcquireBlocksAtCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker(2)
		stop := make(chan struct{})
		for off := range int64(2) {
			if !tr.acquire(stop) {
				t.Fatal("acquire below capacity failed")
			}
			tr.start(off)
		}
		got := make(chan bool, 1)
		go func() { got <- tr.acquire(stop) }()
		synctest.Wait()
		select {
		case ok := <-got:
			t.Fatalf("acquire at capacity returned %v instead of blocking", ok)
		default:
		}
		tr.finish(0) // the head finishes: a slot is free
		synctest.Wait()
		select {
		case ok := <-got:
			if !ok {
				t.Fatal("acquire returned false after a slot was freed")
			}
		default:
			t.Fatal("acquire still blocked after a slot was freed")
		}
		tr.start(2)
		if got := tr.committable(); got != 1 {
			t.Errorf("committable = %d, want 1", got)
		}
	})
}

func TestTrackerAcquireStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker(1)
		stop := make(chan struct{})
		if !tr.acquire(stop) {
			t.Fatal("first acquire failed")
		}
		tr.start(0)
		got := make(chan bool, 1)
		go func() { got <- tr.acquire(stop) }()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("acquire at capacity did not block")
		default:
		}
		close(stop)
		synctest.Wait()
		select {
		case ok := <-got:
			if ok {
				t.Fatal("acquire returned true when stopped at capacity")
			}
		default:
			t.Fatal("acquire still blocked after stop was closed")
		}
		// At capacity with stop already closed, acquire returns false at once.
		if tr.acquire(stop) {
			t.Error("acquire at capacity with a closed stop returned true")
		}
	})
}

// TestTrackerOutOfOrderAtCapacity is the partition consumer's loop at its in-flight bound: the oldest record is slow
// (its conversation's sync is behind) and a younger one finishes first. Whether or not that frees a slot, a
// successful acquire must be followed by a start that has room for the fetched record.
func TestTrackerOutOfOrderAtCapacity(t *testing.T) {
	tr := newTracker(2)
	for off := range int64(2) {
		if !tr.acquire(nil) {
			t.Fatal("acquire failed")
		}
		tr.start(off)
	}
	tr.finish(1) // 0 is still being applied
	if tryAcquire(tr) {
		if err := startRecovered(tr, 2); err != nil {
			t.Fatal(err)
		}
		tr.finish(0)
		if got := tr.committable(); got != 2 {
			t.Errorf("committable = %d, want 2", got)
		}
	} else {
		tr.finish(0)
		if got := tr.committable(); got != 2 {
			t.Errorf("committable = %d, want 2", got)
		}
		if !tryAcquire(tr) {
			t.Fatal("no slot with nothing in flight")
		}
		if err := startRecovered(tr, 2); err != nil {
			t.Fatal(err)
		}
	}
	tr.finish(2)
	if got := tr.committable(); got != 3 {
		t.Errorf("committable = %d, want 3", got)
	}
}

// tryAcquire reports whether the tracker has a free slot, without blocking: acquire with a closed stop returns false
// at once when no slot is free, and picks either case at random when one is, so it is asked until it says true.
func tryAcquire(tr *tracker) bool {
	stopped := make(chan struct{})
	close(stopped)
	for range 64 {
		if tr.acquire(stopped) {
			return true
		}
	}
	return false // wrong with probability 2^-64
}

// startRecovered calls start and returns its panic, if any, as an error.
func startRecovered(tr *tracker, off int64) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start(%d) after a successful acquire panicked: %v", off, r)
		}
	}()
	tr.start(off)
	return nil
}

func TestTrackerStartWithoutAcquirePanics(t *testing.T) {
	tr := newTracker(1)
	tr.acquire(nil)
	tr.start(0)
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("start beyond capacity did not panic")
		}
		if msg := fmt.Sprint(r); !strings.HasPrefix(msg, "BUG:") {
			t.Errorf("panic %q does not start with BUG:", msg)
		}
	}()
	tr.start(1)
}

// model is the reference for the tracker: committable is 1 + the largest started offset whose predecessors (among
// the started ones) are all finished, the first started offset while that one is unfinished, and -1 before any
// start. Across a gap it is one past the finished prefix, not the next fetched offset: the offsets in the gap do not
// exist, so resuming from either fetches the same records.
type model struct {
	started  []int64
	finished map[int64]bool
}

func (m *model) committable() int64 {
	if len(m.started) == 0 {
		return -1
	}
	c := m.started[0]
	for _, off := range m.started {
		if !m.finished[off] {
			break
		}
		c = off + 1
	}
	return c
}

// TestTrackerRandom starts N offsets (with random gaps), finishes them in a random order and checks committable
// against the model after every finish.
func TestTrackerRandom(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(500)
		tr := newTracker(n)
		m := &model{finished: map[int64]bool{}}
		off := rng.Int64N(1000)
		for range n {
			if !tr.acquire(nil) {
				t.Fatal("acquire failed")
			}
			tr.start(off)
			m.started = append(m.started, off)
			off += 1 + rng.Int64N(3)
		}
		if got, want := tr.committable(), m.started[0]; got != want {
			t.Fatalf("seed %d: committable before any finish = %d, want %d", seed, got, want)
		}
		order := rng.Perm(n)
		for i, idx := range order {
			o := m.started[idx]
			tr.finish(o)
			m.finished[o] = true
			if got, want := tr.committable(), m.committable(); got != want {
				t.Fatalf("seed %d: finish #%d (offset %d): committable = %d, want %d", seed, i, o, got, want)
			}
		}
		if got := tr.inFlight(); got != 0 {
			t.Fatalf("seed %d: inFlight = %d after all finished", seed, got)
		}
	}
}

// TestTrackerRandomBounded drives the tracker as the partition consumer does, with a small capacity: fetch (acquire
// a slot, start the next offset) while a slot is free, and finish a random unfinished record at random or when none
// is. After every step committable must match the model; never more than capacity records may be unfinished, and a
// tracker with nothing unfinished must have a free slot.
func TestTrackerRandomBounded(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 11))
		capacity := 1 + rng.IntN(8)
		tr := newTracker(capacity)
		m := &model{finished: map[int64]bool{}}
		var unfinished []int64
		off := int64(0)
		for step := 0; step < 2000; step++ {
			fetched := false
			if len(unfinished) == 0 || rng.IntN(3) > 0 {
				if tryAcquire(tr) {
					if len(unfinished) == capacity {
						t.Fatalf("seed %d step %d: a slot with %d of %d unfinished", seed, step, len(unfinished), capacity)
					}
					if err := startRecovered(tr, off); err != nil {
						t.Fatalf("seed %d step %d, capacity %d, %d unfinished: %v", seed, step, capacity, len(unfinished), err)
					}
					m.started = append(m.started, off)
					unfinished = append(unfinished, off)
					off += 1 + rng.Int64N(2)
					fetched = true
				} else if len(unfinished) == 0 {
					t.Fatalf("seed %d step %d: no slot with nothing unfinished", seed, step)
				}
			}
			if !fetched {
				i := rng.IntN(len(unfinished))
				o := unfinished[i]
				unfinished = append(unfinished[:i], unfinished[i+1:]...)
				tr.finish(o)
				m.finished[o] = true
			}
			if got, want := tr.committable(), m.committable(); got != want {
				t.Fatalf("seed %d step %d: committable = %d, want %d", seed, step, got, want)
			}
		}
	}
}

// drained is closed exactly when no record is tracked: at once when idle, after the last finish otherwise, even when
// records finish out of order.
func TestTrackerDrained(t *testing.T) {
	tr := newTracker(4)
	select {
	case <-tr.drained():
	default:
		t.Fatal("an idle tracker is not drained")
	}
	for _, off := range []int64{7, 8, 9} {
		tr.acquire(nil)
		tr.start(off)
	}
	d := tr.drained()
	for _, off := range []int64{9, 7} {
		tr.finish(off)
		select {
		case <-d:
			t.Fatalf("drained after finish(%d) with offset 8 in flight", off)
		default:
		}
	}
	tr.finish(8)
	select {
	case <-d:
	default:
		t.Fatal("not drained after the last finish")
	}
	if got := tr.committable(); got != 10 {
		t.Fatalf("committable = %d, want 10", got)
	}
}
