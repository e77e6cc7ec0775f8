// Package ownership is a node's view of which partitions of switchboard.inbox it owns, and in which consumer group
// generation: the fence that the router's changelog replicator, the outbox relay, the sender and the timer firer
// check before each produce, send or fire for a tenant (README, "Failover"). A partition is owned from the moment
// the group assigns it (Grant) until the node stops it (Revoke) — and only while the node's lease is current: the
// lease is renewed by each heartbeat the group coordinator accepts for the generation, and lasts a fraction of the
// session timeout past the heartbeat's sending. A node paused past its session (SIGSTOP, a long GC, a frozen VM)
// therefore finds its lease expired when it resumes and sends nothing more for the partitions it has lost, before
// it even learns that it lost them. What it had already handed to the network when it paused (one request per
// sender worker, relay or replicator) is the documented window.
//
// It is a leaf: the standard library only. A nil *Table owns everything (a single node without the changelog).
package ownership

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// None is the generation of a partition the node does not own.
const None int32 = -1

// ErrNotOwner is wrapped by the errors of work refused because the node does not own the partition (any more).
var ErrNotOwner = errors.New("partition not owned by this node")

// Table holds the owned generation and the lease of each partition. Safe for concurrent use; every check is two
// atomic loads.
type Table struct {
	partOf func(tenant string) int
	lease  time.Duration
	base   time.Time // the monotonic origin of the leases
	parts  []slot
	// since is time.Since; the tests set their own clock.
	since func(time.Time) time.Duration
}

type slot struct {
	gen   atomic.Int32
	until atomic.Int64 // nanoseconds since base; the lease ends then
	// active is set once the partition's state is restored: the relay, the sender and the timer firer act for its
	// tenants only then (the store's copy may be stale before: sends another owner made since).
	active atomic.Bool
}

// New builds a table of n partitions, none owned; partOf maps a tenant to its partition (the inbox's partitioner)
// and lease is how long past a heartbeat's sending the ownership holds without the next one.
func New(n int, partOf func(tenant string) int, lease time.Duration) *Table {
	t := &Table{partOf: partOf, lease: lease, base: time.Now(), parts: make([]slot, n), since: time.Since}
	for i := range t.parts {
		t.parts[i].gen.Store(None)
	}
	return t
}

func (t *Table) now() int64 { return int64(t.since(t.base)) }

func (t *Table) slot(part int) *slot {
	if part < 0 || part >= len(t.parts) {
		return nil
	}
	return &t.parts[part]
}

// Grant makes the node the owner of part in generation gen, with a lease from now: its durable writes for part
// pass Check (the restore's seed, the fence record). Its tenants' effects (Owns) wait for Activate.
func (t *Table) Grant(part int, gen int32) {
	if s := t.slot(part); s != nil {
		s.active.Store(false)
		s.until.Store(t.now() + int64(t.lease))
		s.gen.Store(gen)
	}
}

// Activate lets the relay, the sender and the timer firer act for part's tenants: the partition, owned in
// generation gen, is restored.
func (t *Table) Activate(part int, gen int32) {
	if s := t.slot(part); s != nil && s.gen.Load() == gen {
		s.active.Store(true)
	}
}

// Renew extends the lease of every partition owned in generation gen to lease past sent, when the coordinator
// accepted a heartbeat of gen sent then. A lease that had already run out when the heartbeat was sent stays out:
// another node may have been given the partition in the gap, and only a new Grant (a new generation) makes the node
// its owner again — whatever a coordinator answers to a member that was away past its session.
func (t *Table) Renew(gen int32, sent time.Time) {
	at := int64(sent.Sub(t.base))
	until := at + int64(t.lease)
	for i := range t.parts {
		s := &t.parts[i]
		if cur := s.until.Load(); s.gen.Load() == gen && cur > at && cur < until {
			s.until.Store(until)
		}
	}
}

// Revoke ends the ownership of part if it is still owned in generation gen (a later Grant wins).
func (t *Table) Revoke(part int, gen int32) {
	if s := t.slot(part); s != nil && s.gen.Load() == gen {
		s.active.Store(false)
		s.gen.CompareAndSwap(gen, None)
	}
}

// Owner returns the generation in which the node owns part, and whether it owns it now (granted, not revoked,
// lease current). A nil table owns everything in generation None.
func (t *Table) Owner(part int) (int32, bool) {
	if t == nil {
		return None, true
	}
	s := t.slot(part)
	if s == nil {
		return None, false
	}
	g := s.gen.Load()
	if g == None || t.now() >= s.until.Load() {
		return None, false
	}
	return g, true
}

// Owns reports whether the node owns tenant's partition now and has restored it: whether it may act for tenant.
func (t *Table) Owns(tenant string) bool {
	if t == nil {
		return true
	}
	part := t.partOf(tenant)
	_, ok := t.Owner(part)
	return ok && t.parts[part].active.Load()
}

// Check returns nil when the node owns part in generation gen now, else an error wrapping ErrNotOwner.
func (t *Table) Check(part int, gen int32) error {
	if t == nil {
		return nil
	}
	g, ok := t.Owner(part)
	switch {
	case !ok && g == None && t.slot(part) != nil && t.slot(part).gen.Load() != None:
		return fmt.Errorf("partition %d: the lease of generation %d expired: %w", part, t.slot(part).gen.Load(), ErrNotOwner)
	case !ok:
		return fmt.Errorf("partition %d: %w", part, ErrNotOwner)
	case g != gen:
		return fmt.Errorf("partition %d: owned in generation %d, not %d: %w", part, g, gen, ErrNotOwner)
	}
	return nil
}

// Partition is the partition of tenant.
func (t *Table) Partition(tenant string) int { return t.partOf(tenant) }

// Partitions is how many partitions the table holds.
func (t *Table) Partitions() int {
	if t == nil {
		return 0
	}
	return len(t.parts)
}
