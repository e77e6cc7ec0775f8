package routing

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Assignment is a routing decision: the conversation now belongs to the operator.
type Assignment struct {
	ConversationID string
	OperatorID     string
}

// Dispatcher is the routing state of one tenant: its operators and their loads, the queue of waiting conversations
// and which conversation is assigned to whom. Its methods change that state and return the decisions the change
// implies; they do nothing else, so the caller persists and announces those decisions.
//
// Routing is work-conserving and immediate: after every method returns, no conversation waits while an online
// operator with free capacity and the required skills exists, and there is no periodic sweep to wait for. An
// operator's load never rises above its capacity; lowering a capacity below the current load unassigns nothing but
// offers the operator nothing more until its load is below the new capacity.
//
// A Dispatcher is not safe for concurrent use: it belongs to the tenant's dispatcher actor, the single writer of the
// tenant's routing decisions. Slices returned by its methods (Assignments, released conversation ids) are reused by
// the next call that changes state; copy them to keep them. Slices given to it (Waiting.Skills, Operator.Skills) are
// kept, not copied, and must not be modified afterwards.
type Dispatcher struct {
	policy Policy
	// ops is sorted by ID, so that iteration is deterministic. Load is derived from held.
	ops   []Operator
	index map[string]int // operator ID → position in ops
	// freeOps holds, in no particular order, the positions in ops of the operators that are Online with
	// Load < Capacity, and freeAt[i] is operator i's place in it (-1 when it is not free). Only those operators can
	// be offered anything, and under load they are few, so routing looks at them instead of at every operator.
	freeOps []int
	freeAt  []int
	// buckets hold the queue, one per priority, highest priority first; queued finds an entry by binary search.
	buckets []bucket
	queued  map[string]queueKey
	held    map[string]holding // conversation ID → its operator
	out     []Assignment       // returned by the last call that assigned; reused
	rel     []string           // returned by the last SetAvailability that released; reused
}

// bucket is the part of the queue with one priority. Conversations mostly arrive at the back and leave from the
// front, so it is a deque over a slice: items[head:] are waiting, sorted by EnqueuedAt then ConversationID, and
// items[:head] are cleared slots left by departures, reclaimed once they are half the slice.
type bucket struct {
	priority int
	items    []Waiting
	head     int
}

// maxBuckets is how many buckets are kept before empty ones are dropped. Tenants use a handful of priorities, and
// keeping an empty bucket saves allocating it again each time its priority's queue empties and refills.
const maxBuckets = 8

// queueKey is the part of a Waiting that fixes its position in the queue (with the conversation id).
type queueKey struct {
	priority   int
	enqueuedAt int64
}

// holding is an assigned conversation: its operator, and its Waiting, kept to put it back in the queue when its
// operator goes offline under Policy.OfflineReleases.
type holding struct {
	op string
	w  Waiting
}

// New returns an empty Dispatcher for a tenant with policy p.
func New(p Policy) *Dispatcher {
	return &Dispatcher{
		policy: p,
		index:  make(map[string]int),
		queued: make(map[string]queueKey),
		held:   make(map[string]holding),
	}
}

// Status is where a conversation stands, as far as rebuilding the routing state goes. The values are those of the
// conversation record's status, so a record's status converts directly.
type Status string

// Conversation statuses (docs/design.md, "Conversation lifecycle").
const (
	// StatusUnassigned conversations wait in the queue.
	StatusUnassigned Status = "unassigned"
	// StatusAssigned conversations count against their Assignee's load.
	StatusAssigned Status = "assigned"
	// StatusSnoozed conversations are hidden: they neither wait nor count against a load.
	StatusSnoozed Status = "snoozed"
	// StatusClosed conversations neither wait nor count against a load.
	StatusClosed Status = "closed"
)

// Holds reports whether a conversation in status s with assignee counts against that operator's capacity: an
// assigned one, and a snoozed one that kept its operator, so that waking up can always give it back to that
// operator. It is the one definition of "holds capacity": the tenant dispatcher's loads and the loads the operator API
// shows (through the store's index of held conversations) both follow it.
func Holds(s Status, assignee string) bool {
	return assignee != "" && (s == StatusAssigned || s == StatusSnoozed)
}

// ConvState is a conversation as read from its record when a partition is (re)assigned, for Rebuild.
type ConvState struct {
	// Waiting carries the conversation's id and what routing needs of it; EnqueuedAt is when it entered the queue
	// (for an unassigned conversation) and is kept for an assigned one in case it is released to the queue again.
	Waiting
	Status Status
	// Assignee is the operator holding an assigned conversation; ignored for the other statuses.
	Assignee string
}

// Rebuild returns the Dispatcher whose state the records describe, and the assignments that state calls for at
// once (for example an operator whose capacity was raised while the partition moved). Operators' loads and the
// queue are derived from convs: each Assigned conversation counts against its Assignee, each Unassigned one waits;
// Snoozed, Closed and unknown statuses are skipped.
//
// Rebuild does not fail on inconsistent records; it keeps as much as it can and never assigns beyond a capacity.
// An operator or conversation listed more than once takes its last entry. An operator's Load is ignored; a negative
// capacity counts as 0 and an invalid availability as Offline. An assigned conversation without an Assignee waits
// in the queue. One whose Assignee is not among ops still counts against that operator, which is added as Offline
// with capacity 0, so the caller sees it in Operators and the load stays true to the records. Loads may exceed
// capacities (capacities can be lowered); such operators are offered nothing until their load drops.
//
// The returned slice belongs to the caller.
func Rebuild(ops []Operator, convs []ConvState, p Policy) (*Dispatcher, []Assignment) {
	d := New(p)
	// In id order every operator is appended; a stable sort keeps the last of duplicates last.
	ops = slices.Clone(ops)
	slices.SortStableFunc(ops, func(a, b Operator) int { return strings.Compare(a.ID, b.ID) })
	for _, o := range ops {
		if o.ID == "" {
			continue
		}
		if o.Capacity < 0 {
			o.Capacity = 0
		}
		if !o.Availability.Valid() {
			o.Availability = Offline
		}
		d.putOperator(o)
	}
	var queue []Waiting
	last := make(map[string]int, len(convs))
	for i := range convs {
		last[convs[i].ConversationID] = i
	}
	for i := range convs {
		c := &convs[i]
		id := c.ConversationID
		if id == "" || last[id] != i {
			continue
		}
		switch c.Status {
		case StatusAssigned:
			if c.Assignee != "" {
				j, ok := d.index[c.Assignee]
				if !ok {
					j = d.putOperator(Operator{ID: c.Assignee, Availability: Offline})
				}
				d.hold(c.Waiting, j)
				continue
			}
			fallthrough
		case StatusUnassigned:
			queue = append(queue, c.Waiting)
		}
	}
	// In queue order every insertion is at the back of its bucket.
	slices.SortFunc(queue, compareWaiting)
	for _, w := range queue {
		d.enqueue(w)
	}
	return d, d.drain(nil)
}

// Policy returns the routing policy the Dispatcher was made with.
func (d *Dispatcher) Policy() Policy { return d.policy }

// SetPolicy changes the routing policy (a tenant's settings changed) and returns the assignments that follow: leaving
// Policy.Manual offers the queue to the free operators at once; entering it offers nothing more and takes nothing
// back. What the other fields govern (Sticky, OfflineReleases) applies to what happens from now on.
func (d *Dispatcher) SetPolicy(p Policy) []Assignment {
	d.policy = p
	d.relistFree()
	return d.result(d.drain(d.out[:0]))
}

// UpsertOperator adds an operator, or replaces the Capacity and Skills of a known one (an admin's PATCH of the
// operator), and returns the assignments that follow from it. A new operator's Availability and IdleSince are
// taken from o ("" counts as Offline); a known operator's are kept, because they change only through
// SetAvailability, which applies the offline policy. o.Load is ignored: loads are derived from assignments.
// Nothing changes when the error is not nil.
func (d *Dispatcher) UpsertOperator(o Operator) ([]Assignment, error) {
	switch {
	case o.ID == "":
		return nil, fmt.Errorf("upsert operator: %w", ErrEmptyID)
	case o.Capacity < 0:
		return nil, fmt.Errorf("upsert operator %s: capacity %d: %w", o.ID, o.Capacity, ErrInvalidCapacity)
	case o.Availability != "" && !o.Availability.Valid():
		return nil, fmt.Errorf("upsert operator %s: %q: %w", o.ID, o.Availability, ErrInvalidAvailability)
	}
	if i, ok := d.index[o.ID]; ok {
		was := d.isFree(i)
		d.ops[i].Capacity = o.Capacity
		d.ops[i].Skills = o.Skills
		d.refree(i, was)
	} else {
		if o.Availability == "" {
			o.Availability = Offline
		}
		d.putOperator(o)
	}
	return d.result(d.drain(d.out[:0])), nil
}

// SetCapacity sets an operator's capacity and returns the assignments a raise makes possible. A capacity below the
// current load unassigns nothing. n must not be negative. Nothing changes when the error is not nil.
func (d *Dispatcher) SetCapacity(opID string, n int) ([]Assignment, error) {
	i, ok := d.index[opID]
	switch {
	case !ok:
		return nil, fmt.Errorf("set capacity of operator %s: %w", opID, ErrOperatorUnknown)
	case n < 0:
		return nil, fmt.Errorf("set capacity of operator %s to %d: %w", opID, n, ErrInvalidCapacity)
	}
	was := d.isFree(i)
	d.ops[i].Capacity = n
	d.refree(i, was)
	return d.result(d.drain(d.out[:0])), nil
}

// SetAvailability records that an operator is now online, away or offline at unix ms at, and returns the decisions
// that follow. Coming online sets the operator's IdleSince to at and offers it waiting conversations at once.
// Going offline under Policy.OfflineReleases takes every conversation the operator holds back to the queue: they are
// returned as released (sorted by id), wait again with EnqueuedAt = at and LastOperator = opID, and may be among
// the assignments to other operators. Going away, or offline without that policy, keeps them. Setting the current
// availability again does nothing. Nothing changes when the error is not nil.
func (d *Dispatcher) SetAvailability(opID string, a Availability, at int64) (
	assigned []Assignment, released []string, err error,
) {
	i, ok := d.index[opID]
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("set availability of operator %s: %w", opID, ErrOperatorUnknown)
	case !a.Valid():
		return nil, nil, fmt.Errorf("set availability of operator %s to %q: %w", opID, a, ErrInvalidAvailability)
	case d.ops[i].Availability == a:
		return nil, nil, nil
	}
	was := d.isFree(i)
	d.ops[i].Availability = a
	if a == Online {
		d.ops[i].IdleSince = at
	}
	d.refree(i, was)
	rel := d.rel[:0]
	if a == Offline && d.policy.OfflineReleases && d.ops[i].Load > 0 {
		rel = d.releaseAll(rel, i, at)
	}
	d.rel = rel
	if len(rel) == 0 {
		released = nil
	} else {
		released = rel
	}
	return d.result(d.drain(d.out[:0])), released, nil
}

// Enqueue puts a conversation that needs an operator (new, reopened to the queue, or unassigned) in the queue, or
// assigns it at once if an operator can take it: the result is then that one assignment. A conversation already
// waiting is requeued with w's priority, time and skills. A conversation that is assigned is refused with
// ErrConversationAssigned (release it first); nothing changes when the error is not nil.
func (d *Dispatcher) Enqueue(w Waiting) ([]Assignment, error) {
	id := w.ConversationID
	if id == "" {
		return nil, fmt.Errorf("enqueue conversation: %w", ErrEmptyID)
	}
	if h, ok := d.held[id]; ok {
		return nil, fmt.Errorf("enqueue conversation %s held by operator %s: %w", id, h.op, ErrConversationAssigned)
	}
	if _, ok := d.queued[id]; ok {
		d.dequeue(id)
	}
	// Everything already waiting was checked against every free operator when it arrived or when capacity last
	// freed, so only w can move now.
	if len(d.freeOps) > 0 {
		if i := d.pick(&w); i >= 0 {
			d.hold(w, i)
			d.out = append(d.out[:0], Assignment{id, d.ops[i].ID})
			return d.out, nil
		}
	}
	d.enqueue(w)
	return nil, nil
}

// CanAssign reports whether the operator may be given one more conversation by hand (take, admin assign, transfer):
// nil, or an error wrapping ErrOperatorUnknown, ErrOperatorNotOnline or ErrAtCapacity. Under Policy.Manual the
// operator's availability does not matter (operators attend from the queue online or not); its capacity does.
func (d *Dispatcher) CanAssign(opID string) error {
	i, ok := d.index[opID]
	if !ok {
		return fmt.Errorf("operator %s: %w", opID, ErrOperatorUnknown)
	}
	o := &d.ops[i]
	if o.Availability != Online && !d.policy.Manual {
		return fmt.Errorf("operator %s is %s: %w", opID, o.Availability, ErrOperatorNotOnline)
	}
	if o.Load >= o.Capacity {
		return fmt.Errorf("operator %s holds %d of %d: %w", opID, o.Load, o.Capacity, ErrAtCapacity)
	}
	return nil
}

// Assigned records an assignment made outside the queue (an operator takes a conversation, an admin assigns or
// transfers it, an operator takes over another's) at unix ms at, if CanAssign(opID) allows it; otherwise it returns
// CanAssign's error and changes nothing. Operator skills are not checked: a person chose. A waiting conversation
// leaves the queue; one held by another operator moves, freeing that operator's capacity (its IdleSince becomes
// at), and the returned assignments give the freed place to the queue. The assignment being recorded is not among
// them. Assigning a conversation to the operator that already holds it does nothing.
func (d *Dispatcher) Assigned(convID, opID string, at int64) ([]Assignment, error) {
	if convID == "" {
		return nil, fmt.Errorf("assign conversation: %w", ErrEmptyID)
	}
	h, wasHeld := d.held[convID]
	if wasHeld && h.op == opID {
		return nil, nil
	}
	if err := d.CanAssign(opID); err != nil {
		return nil, fmt.Errorf("assign conversation %s: %w", convID, err)
	}
	w := Waiting{ConversationID: convID}
	switch {
	case wasHeld:
		d.unhold(convID, h, at)
		w = h.w
	default:
		if _, ok := d.queued[convID]; ok {
			w = d.dequeue(convID)
		}
	}
	d.hold(w, d.index[opID])
	if !wasHeld {
		return nil, nil
	}
	return d.result(d.drain(d.out[:0])), nil
}

// Released records that a conversation no longer holds its operator at unix ms at (closed, snoozed, unassigned,
// or transferred out before the Assigned of its new owner), and returns the assignments the freed capacity allows at
// once. The operator's IdleSince becomes at. A conversation that was waiting leaves the queue instead, as with
// Remove, so a close can always be passed here whatever the conversation's state; an unknown one is ignored. An
// unassigned conversation that should wait again is passed to Enqueue afterwards.
func (d *Dispatcher) Released(convID string, at int64) []Assignment {
	if h, ok := d.held[convID]; ok {
		d.unhold(convID, h, at)
		return d.result(d.drain(d.out[:0]))
	}
	if _, ok := d.queued[convID]; ok {
		d.dequeue(convID)
	}
	return nil
}

// Remove takes a waiting conversation out of the queue (it was closed or snoozed before anyone took it) and reports
// whether it was waiting. It does not touch assigned conversations: those go through Released.
func (d *Dispatcher) Remove(convID string) bool {
	if _, ok := d.queued[convID]; !ok {
		return false
	}
	d.dequeue(convID)
	return true
}

// QueueLen is how many conversations wait; it does not allocate.
func (d *Dispatcher) QueueLen() int { return len(d.queued) }

// Queue returns the waiting conversations in the order they will be offered: Priority descending, then EnqueuedAt
// ascending, then ConversationID. The slice is a copy; the Skills in it are shared.
func (d *Dispatcher) Queue() []Waiting {
	q := make([]Waiting, 0, len(d.queued))
	for k := range d.buckets {
		q = append(q, d.buckets[k].items[d.buckets[k].head:]...)
	}
	return q
}

// Operators returns the operators sorted by ID, with their derived loads. The slice is a copy; the Skills in it are
// shared.
func (d *Dispatcher) Operators() []Operator { return slices.Clone(d.ops) }

// Load returns how many conversations are assigned to the operator; 0 for an unknown operator.
func (d *Dispatcher) Load(opID string) int {
	if i, ok := d.index[opID]; ok {
		return d.ops[i].Load
	}
	return 0
}

// Assignee returns the operator a conversation is assigned to, and false when it is not assigned.
func (d *Dispatcher) Assignee(convID string) (opID string, ok bool) {
	h, ok := d.held[convID]
	return h.op, ok
}

// drain offers waiting conversations, in queue order, to the operators that can take them, and appends the
// assignments to out. It stops as soon as no operator has free capacity, which after a close is usually right after
// the first conversation that operator can serve.
func (d *Dispatcher) drain(out []Assignment) []Assignment {
	for k := 0; k < len(d.buckets) && len(d.freeOps) > 0; k++ {
		b := &d.buckets[k]
		for i := b.head; i < len(b.items) && len(d.freeOps) > 0; i++ {
			w := &b.items[i]
			j := d.pick(w)
			if j < 0 {
				continue
			}
			delete(d.queued, w.ConversationID)
			out = append(out, Assignment{w.ConversationID, d.ops[j].ID})
			d.hold(*w, j)
			// Close the gap by moving the conversations skipped so far back by one: they stay in order, and this
			// costs no more than skipping them did.
			copy(b.items[b.head+1:i+1], b.items[b.head:i])
			b.items[b.head] = Waiting{}
			b.head++
		}
		b.reclaim()
	}
	return out
}

// pick is Pick over the free operators only: they are exactly Pick's candidates but for skills.
func (d *Dispatcher) pick(w *Waiting) int {
	if d.policy.Sticky && w.LastOperator != "" {
		if i, ok := d.index[w.LastOperator]; ok && d.freeAt[i] >= 0 && hasSkills(d.ops[i].Skills, w.Skills) {
			return i
		}
	}
	best := -1
	for _, i := range d.freeOps {
		if hasSkills(d.ops[i].Skills, w.Skills) && (best < 0 || better(&d.ops[i], &d.ops[best])) {
			best = i
		}
	}
	return best
}

// result returns out, or nil when it holds nothing, after keeping it for reuse.
func (d *Dispatcher) result(out []Assignment) []Assignment {
	d.out = out
	if len(out) == 0 {
		return nil
	}
	return out
}

// putOperator inserts o, or replaces the operator with its ID keeping the load, and returns its position in ops.
func (d *Dispatcher) putOperator(o Operator) int {
	if i, ok := d.index[o.ID]; ok {
		was := d.isFree(i)
		o.Load = d.ops[i].Load
		d.ops[i] = o
		d.refree(i, was)
		return i
	}
	o.Load = 0
	pos, _ := slices.BinarySearchFunc(d.ops, o.ID, func(e Operator, id string) int { return strings.Compare(e.ID, id) })
	d.ops = slices.Insert(d.ops, pos, o)
	d.freeAt = slices.Insert(d.freeAt, pos, -1)
	for k := pos; k < len(d.ops); k++ {
		d.index[d.ops[k].ID] = k
	}
	if pos == len(d.ops)-1 { // appended: no position moved
		d.refree(pos, false)
		return pos
	}
	// Positions moved: list the free operators again. Operators are added rarely, and Rebuild adds them in order.
	d.relistFree()
	return pos
}

// relistFree lists the free operators again from scratch.
func (d *Dispatcher) relistFree() {
	d.freeOps = d.freeOps[:0]
	for k := range d.ops {
		d.freeAt[k] = -1
		if d.isFree(k) {
			d.freeAt[k] = len(d.freeOps)
			d.freeOps = append(d.freeOps, k)
		}
	}
}

// isFree reports whether operator i is Online with room for one more conversation, so that it can be offered one.
// Under Policy.Manual nobody is offered anything, so nobody is free: the free list stays empty, and with it every
// path that offers (Enqueue, drain after a release, a capacity raise, coming online, Rebuild).
func (d *Dispatcher) isFree(i int) bool {
	o := &d.ops[i]
	return o.Load < o.Capacity && o.Availability == Online && !d.policy.Manual
}

// refree updates freeOps after operator i changed; was is isFree(i) before the change.
func (d *Dispatcher) refree(i int, was bool) {
	now := d.isFree(i)
	switch {
	case now == was:
	case now:
		d.freeAt[i] = len(d.freeOps)
		d.freeOps = append(d.freeOps, i)
	default:
		p, last := d.freeAt[i], d.freeOps[len(d.freeOps)-1]
		d.freeOps[p] = last
		d.freeAt[last] = p
		d.freeOps = d.freeOps[:len(d.freeOps)-1]
		d.freeAt[i] = -1
	}
}

// hold assigns w to operator i.
func (d *Dispatcher) hold(w Waiting, i int) {
	d.held[w.ConversationID] = holding{op: d.ops[i].ID, w: w}
	was := d.isFree(i)
	d.ops[i].Load++
	d.refree(i, was)
}

// unhold ends the assignment h of conversation id at unix ms at.
func (d *Dispatcher) unhold(id string, h holding, at int64) {
	delete(d.held, id)
	i, ok := d.index[h.op]
	if !ok {
		panic(fmt.Sprintf("BUG: routing: conversation %s held by unknown operator %s", id, h.op))
	}
	was := d.isFree(i)
	d.ops[i].Load--
	d.ops[i].IdleSince = at
	d.refree(i, was)
}

// bucket returns the position in d.buckets of the bucket for priority, or -1 if there is none and !create.
func (d *Dispatcher) bucket(priority int, create bool) int {
	find := func() (int, bool) {
		return slices.BinarySearchFunc(d.buckets, priority, func(b bucket, p int) int { return cmp.Compare(p, b.priority) })
	}
	k, found := find()
	switch {
	case found:
		return k
	case !create:
		return -1
	case len(d.buckets) >= maxBuckets:
		d.buckets = slices.DeleteFunc(d.buckets, func(b bucket) bool { return b.head == len(b.items) })
		k, _ = find()
	}
	d.buckets = slices.Insert(d.buckets, k, bucket{priority: priority})
	return k
}

// enqueue inserts w in the queue at its place.
func (d *Dispatcher) enqueue(w Waiting) {
	b := &d.buckets[d.bucket(w.Priority, true)]
	pos, _ := slices.BinarySearchFunc(b.items[b.head:], w, compareWaiting)
	pos += b.head
	switch {
	case pos == len(b.items):
		b.items = append(b.items, w)
	case pos == b.head && b.head > 0:
		b.head--
		b.items[b.head] = w
	default:
		b.items = slices.Insert(b.items, pos, w)
	}
	d.queued[w.ConversationID] = queueKey{w.Priority, w.EnqueuedAt}
}

// dequeue removes the waiting conversation id, which must be queued, and returns its entry.
func (d *Dispatcher) dequeue(id string) Waiting {
	key := d.queued[id]
	k := d.bucket(key.priority, false)
	if k < 0 {
		panic(fmt.Sprintf("BUG: routing: queued conversation %s has no bucket for priority %d", id, key.priority))
	}
	b := &d.buckets[k]
	pos, found := slices.BinarySearchFunc(b.items[b.head:],
		Waiting{ConversationID: id, Priority: key.priority, EnqueuedAt: key.enqueuedAt}, compareWaiting)
	if !found {
		panic(fmt.Sprintf("BUG: routing: queued conversation %s is not in the queue", id))
	}
	pos += b.head
	w := b.items[pos]
	if pos-b.head < len(b.items)-1-pos {
		copy(b.items[b.head+1:pos+1], b.items[b.head:pos])
		b.items[b.head] = Waiting{}
		b.head++
	} else {
		b.items = slices.Delete(b.items, pos, pos+1)
	}
	b.reclaim()
	delete(d.queued, id)
	return w
}

// reclaim gives the slots left at the front of b back once they are half of it, so a bucket that is always both
// filled and drained does not grow. Each slot is moved at most once per time it is freed.
func (b *bucket) reclaim() {
	switch {
	case b.head == len(b.items):
		b.items, b.head = b.items[:0], 0
	case b.head > 0 && 2*b.head >= len(b.items):
		n := copy(b.items, b.items[b.head:])
		clear(b.items[n:])
		b.items, b.head = b.items[:n], 0
	}
}

// compareWaiting orders the queue: Priority descending, EnqueuedAt ascending, then ConversationID.
func compareWaiting(a, b Waiting) int {
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	if c := cmp.Compare(a.EnqueuedAt, b.EnqueuedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ConversationID, b.ConversationID)
}

// Withdraw takes an operator out of routing for good (removed or disabled, issue 13): it is set Offline and every
// conversation it holds goes back to the queue whatever Policy.OfflineReleases says, as SetAvailability's releases
// do (returned sorted by id, waiting again with EnqueuedAt = at and LastOperator = opID). The result also holds the
// assignments of those conversations to other operators. An unknown operator is an error; nothing changes then.
func (d *Dispatcher) Withdraw(opID string, at int64) (assigned []Assignment, released []string, err error) {
	i, ok := d.index[opID]
	if !ok {
		return nil, nil, fmt.Errorf("withdraw operator %s: %w", opID, ErrOperatorUnknown)
	}
	was := d.isFree(i)
	d.ops[i].Availability = Offline
	d.refree(i, was)
	released = d.releaseAll(nil, i, at)
	return d.result(d.drain(d.out[:0])), released, nil
}

// releaseAll sends every conversation operator i (Offline) holds back to the queue at unix ms at, appending their
// ids, sorted, to rel: they wait again with EnqueuedAt = at and LastOperator the operator.
func (d *Dispatcher) releaseAll(rel []string, i int, at int64) []string {
	opID := d.ops[i].ID
	for id, h := range d.held {
		if h.op == opID {
			rel = append(rel, id)
		}
	}
	slices.Sort(rel)
	for _, id := range rel {
		h := d.held[id]
		delete(d.held, id)
		w := h.w
		w.EnqueuedAt = at
		w.LastOperator = opID
		d.enqueue(w)
	}
	d.ops[i].Load = 0 // offline: not free whatever its load, so free is unchanged
	return rel
}
