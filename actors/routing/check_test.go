package routing

import (
	"fmt"
	"slices"
	"strings"
)

// check verifies the Dispatcher's internal invariants; every scenario and randomised step calls it.
func (d *Dispatcher) check() error {
	if !slices.IsSortedFunc(d.ops, func(a, b Operator) int { return strings.Compare(a.ID, b.ID) }) {
		return fmt.Errorf("operators not sorted by id")
	}
	if len(d.index) != len(d.ops) {
		return fmt.Errorf("index has %d operators, ops %d", len(d.index), len(d.ops))
	}
	loads := make(map[string]int, len(d.ops))
	for id, h := range d.held {
		if _, ok := d.index[h.op]; !ok {
			return fmt.Errorf("conversation %s held by unknown operator %s", id, h.op)
		}
		if h.w.ConversationID != id {
			return fmt.Errorf("conversation %s holds the entry of %s", id, h.w.ConversationID)
		}
		if _, ok := d.queued[id]; ok {
			return fmt.Errorf("conversation %s both assigned to %s and queued", id, h.op)
		}
		loads[h.op]++
	}
	free := 0
	for i, o := range d.ops {
		if d.index[o.ID] != i {
			return fmt.Errorf("index of %s is %d, want %d", o.ID, d.index[o.ID], i)
		}
		if o.Load != loads[o.ID] {
			return fmt.Errorf("operator %s has load %d but holds %d conversations", o.ID, o.Load, loads[o.ID])
		}
		if !o.Availability.Valid() {
			return fmt.Errorf("operator %s has availability %q", o.ID, o.Availability)
		}
		p := d.freeAt[i]
		switch {
		case d.isFree(i) != (p >= 0):
			return fmt.Errorf("operator %s free %t but at %d in the free list", o.ID, d.isFree(i), p)
		case p >= 0 && (p >= len(d.freeOps) || d.freeOps[p] != i):
			return fmt.Errorf("operator %s not at %d in the free list %v", o.ID, p, d.freeOps)
		case p >= 0:
			free++
		}
	}
	if len(d.freeAt) != len(d.ops) || free != len(d.freeOps) {
		return fmt.Errorf("free list %v, free positions %v, %d free", d.freeOps, d.freeAt, free)
	}
	n := 0
	for k := range d.buckets {
		b := &d.buckets[k]
		if k > 0 && d.buckets[k-1].priority <= b.priority {
			return fmt.Errorf("buckets out of order at priority %d", b.priority)
		}
		if b.head < 0 || b.head > len(b.items) {
			return fmt.Errorf("bucket %d: head %d of %d", b.priority, b.head, len(b.items))
		}
		for _, w := range b.items[:b.head] {
			if w.ConversationID != "" || w.Skills != nil {
				return fmt.Errorf("bucket %d: slot before the head not cleared: %v", b.priority, w)
			}
		}
		live := b.items[b.head:]
		if !slices.IsSortedFunc(live, compareWaiting) {
			return fmt.Errorf("bucket %d not sorted", b.priority)
		}
		for i := range live {
			w := &live[i]
			if w.Priority != b.priority {
				return fmt.Errorf("conversation %s of priority %d in bucket %d", w.ConversationID, w.Priority, b.priority)
			}
			if _, ok := d.held[w.ConversationID]; ok {
				return fmt.Errorf("conversation %s both assigned and queued", w.ConversationID)
			}
			k, ok := d.queued[w.ConversationID]
			if !ok || k != (queueKey{w.Priority, w.EnqueuedAt}) {
				return fmt.Errorf("queued index of %s is %v (present %t), entry %d/%d", w.ConversationID, k, ok,
					w.Priority, w.EnqueuedAt)
			}
			if j := pick(d.ops, w, d.policy); j >= 0 {
				return fmt.Errorf("conversation %s waits although operator %s can take it", w.ConversationID,
					d.ops[j].ID)
			}
			n++
		}
	}
	if n != len(d.queued) {
		return fmt.Errorf("queued index has %d entries, queue %d", len(d.queued), n)
	}
	return nil
}
