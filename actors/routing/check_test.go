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
		if d.isFree(i) {
			free++
		}
	}
	if free != d.free {
		return fmt.Errorf("free count %d, want %d", d.free, free)
	}
	if !slices.IsSortedFunc(d.queue, compareWaiting) {
		return fmt.Errorf("queue not sorted")
	}
	if len(d.queued) != len(d.queue) {
		return fmt.Errorf("queued index has %d entries, queue %d", len(d.queued), len(d.queue))
	}
	for i := range d.queue {
		w := &d.queue[i]
		if i > 0 && d.queue[i-1].ConversationID == w.ConversationID {
			return fmt.Errorf("conversation %s queued twice", w.ConversationID)
		}
		k, ok := d.queued[w.ConversationID]
		if !ok || k != (queueKey{w.Priority, w.EnqueuedAt}) {
			return fmt.Errorf("queued index of %s is %v (present %t), entry %d/%d", w.ConversationID, k, ok,
				w.Priority, w.EnqueuedAt)
		}
		if j := pick(d.ops, w, d.policy); j >= 0 {
			return fmt.Errorf("conversation %s waits although operator %s can take it", w.ConversationID, d.ops[j].ID)
		}
	}
	return nil
}
