package router

import "sync"

// tracker follows the records of one partition from fetch to durable application and tells which offset may be
// committed: the end of the contiguous prefix of durable records (docs/design.md, invariant 5). Records may finish out of
// order (different conversations sync independently); the commit point only moves over finished ones.
//
// It holds at most cap records not yet committable; the partition consumer acquires a slot (acquire) before it
// starts the next record, which is the consumer's back-pressure: a slow store stops fetching instead of growing actor
// inboxes.
type tracker struct {
	mu    sync.Mutex
	ring  []slot
	head  int // index of the oldest tracked record
	n     int // records tracked
	next  int64
	slots chan struct{}
	// idle, when not nil, is closed when the last tracked record leaves the ring (drained).
	idle chan struct{}
}

type slot struct {
	offset int64
	done   bool
}

// newTracker tracks up to capacity records. Until the first start, nothing is committable (committable is -1).
func newTracker(capacity int) *tracker {
	return &tracker{ring: make([]slot, capacity), next: -1, slots: make(chan struct{}, capacity)}
}

// acquire blocks until a slot is free or stop is closed; it reports false when stopped.
func (t *tracker) acquire(stop <-chan struct{}) bool {
	select {
	case t.slots <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

// start records that offset was fetched and is being applied. The caller holds a slot.
func (t *tracker) start(offset int64) {
	t.mu.Lock()
	if t.n == len(t.ring) {
		t.mu.Unlock()
		panic("BUG: tracker full: start without acquire")
	}
	if t.next < 0 {
		// The first fetched offset is where consumption starts; nothing before it is outstanding.
		t.next = offset
	}
	t.ring[(t.head+t.n)%len(t.ring)] = slot{offset: offset}
	t.n++
	t.mu.Unlock()
}

// finish marks offset durable and frees the slots of the records that became committable.
func (t *tracker) finish(offset int64) {
	t.mu.Lock()
	for i := 0; i < t.n; i++ {
		s := &t.ring[(t.head+i)%len(t.ring)]
		if s.offset == offset {
			s.done = true
			break
		}
	}
	popped := 0
	for t.n > 0 && t.ring[t.head].done {
		t.next = t.ring[t.head].offset + 1
		t.head = (t.head + 1) % len(t.ring)
		t.n--
		popped++
	}
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
	t.mu.Unlock()
	// A slot is freed when its record leaves the ring, not when it finishes: a finished record behind a slow one
	// still occupies the ring, and the bound is on records not yet committable.
	for ; popped > 0; popped-- {
		<-t.slots
	}
}

// committable is the offset to commit: every record before it is durable. -1 means nothing yet.
func (t *tracker) committable() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next
}

// inFlight is how many records are fetched and not yet durable.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// closedChan is what drained returns when nothing is tracked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// drained returns a channel closed once no record is tracked: every record started is durable and committable.
func (t *tracker) drained() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		return closedChan
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	return t.idle
}
