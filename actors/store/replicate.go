package store

// Replication: with a Replicator in its Config, the store hands every committed batch's replicated writes to it
// after the Pebble sync, grouped by partition, and runs the batch's done callback (and releases its queue entries to
// the relay and the sender) only once the replicator acknowledged every group. So "durable" means durable in Pebble
// and in the changelog before any effect is visible (docs/design.md, invariant 3). Done callbacks keep their commit
// order: a second goroutine waits for the acknowledgements in the order the batches were synced.
//
// Replicated are the tenant-scoped keys ("t/<tenant>/…") and the outbox ("q/<qseq:8>/<tenant>"), the partition being
// the tenant's (Config.Partition). Node-local keys are not: sign-in sessions (a/, b/), scrub marks (e/), the timer
// index (z/, rebuilt from the restored conversations) and the changelog checkpoints (c/) — keys.go says why.
//
// Batches hold point writes only: the store writes no range deletes (an erase deletes key by key, erase.go), and a
// batch holding any other kind of write fails its done callback with a BUG error when a replicator is set, rather
// than leave the changelog behind Pebble.

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Change is one replicated write: a set of Key to Value, or a delete of Key.
type Change struct {
	Key, Value []byte
	Delete     bool
}

// Replicator copies a partition's writes elsewhere (the changelog topic, actors/changelog/kafkalog).
type Replicator interface {
	// Replicate takes the writes of one batch that belong to partition part, in batch order, and calls done once
	// they are acknowledged, with next the position after the last of them (for the changelog: the offset after
	// its last record), or with the error that kept them from being acknowledged. The changes and their slices stay
	// valid until done is called. Writes of one partition are acknowledged in the order Replicate was called; an
	// error fails them and the calls after them until the next one succeeds.
	// Replicate is safe for concurrent use; done may be called from any goroutine (even before Replicate returns)
	// and must not block.
	Replicate(part int, changes []Change, done func(next int64, err error))
}

// replicating is a synced batch waiting for its replicator's acknowledgements.
type replicating struct {
	p         pendingSync
	err       error // the sync's error, then the first replicator error
	mu        sync.Mutex
	remaining atomic.Int32
	acked     chan struct{}
}

func (r *replicating) ack(err error) {
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = fmt.Errorf("replicate batch: %w", err)
		}
		r.mu.Unlock()
	}
	if r.remaining.Add(-1) == 0 {
		close(r.acked)
	}
}

// changeGroup is the changes of one batch to one partition.
type changeGroup struct {
	part    int
	changes []Change
}

// replicate hands a synced batch's writes to the replicator and queues it for waitAcks.
func (s *Store) replicate(p pendingSync, syncErr error) {
	r := &replicating{p: p, err: syncErr, acked: make(chan struct{})}
	var groups []changeGroup
	if syncErr == nil {
		var err error
		if groups, err = s.groupChanges(p.b); err != nil {
			r.err = err
			groups = nil
		}
	}
	if len(groups) == 0 {
		close(r.acked)
	} else {
		r.remaining.Store(int32(len(groups)))
		for _, g := range groups {
			part := g.part
			s.repl.Replicate(part, g.changes, func(next int64, err error) {
				if err == nil {
					s.ckpt.acked(part, next)
				} else {
					s.ckpt.broken(part)
				}
				r.ack(err)
			})
		}
	}
	s.acks <- r
}

// waitAcks finishes the replicated batches in the order they were synced, each once its replicator acknowledged it.
func (s *Store) waitAcks() {
	defer close(s.acksDone)
	for r := range s.acks {
		<-r.acked
		s.finish(r.p, r.err)
	}
}

// groupChanges returns the replicated writes of b grouped by partition, in batch order within each group.
func (s *Store) groupChanges(b *pebble.Batch) ([]changeGroup, error) {
	var groups []changeGroup
	var lastTenant []byte
	lastPart := -1
	for rd := b.Reader(); ; {
		kind, key, value, ok, err := rd.Next()
		if err != nil {
			return nil, fmt.Errorf("BUG: read a synced batch: %w", err)
		}
		if !ok {
			break
		}
		if kind != pebble.InternalKeyKindSet && kind != pebble.InternalKeyKindDelete {
			return nil, fmt.Errorf("BUG: a batch holding a write of kind %v (key %q) cannot be replicated", kind, key)
		}
		tenant := replicatedTenant(key)
		if tenant == nil {
			continue
		}
		if lastPart < 0 || !bytes.Equal(tenant, lastTenant) {
			lastTenant, lastPart = tenant, s.partOf(string(tenant))
		}
		c := Change{Key: key, Delete: kind == pebble.InternalKeyKindDelete}
		if !c.Delete {
			c.Value = value
		}
		groups = addChange(groups, lastPart, c)
	}
	return groups, nil
}

// addChange appends c to the group of partition part, which it adds if there is none yet (a batch touches few).
func addChange(groups []changeGroup, part int, c Change) []changeGroup {
	i := 0
	for i < len(groups) && groups[i].part != part {
		i++
	}
	if i == len(groups) {
		groups = append(groups, changeGroup{part: part})
	}
	groups[i].changes = append(groups[i].changes, c)
	return groups
}

// replicatedTenant returns the tenant a replicated key belongs to, or nil for a node-local key.
func replicatedTenant(k []byte) []byte {
	switch {
	case len(k) > 2 && k[0] == 't' && k[1] == '/':
		i := bytes.IndexByte(k[2:], '/')
		if i <= 0 {
			return nil
		}
		return k[2 : 2+i]
	case len(k) > 11 && k[0] == 'q' && k[1] == '/' && k[10] == '/':
		return k[11:]
	}
	return nil
}

// replicateDeletes hands the deletes of keys (applied outside Commit: relayed outbox entries) to the replicator
// without waiting: a delete that does not reach the changelog leaves an entry a restore relays again, which its
// stable id makes harmless.
func (s *Store) replicateDeletes(keys [][]byte) {
	var groups []changeGroup
	for _, k := range keys {
		tenant := replicatedTenant(k)
		if tenant == nil {
			continue
		}
		groups = addChange(groups, s.partOf(string(tenant)), Change{Key: k, Delete: true})
	}
	for _, g := range groups {
		part := g.part
		s.repl.Replicate(part, g.changes, func(next int64, err error) {
			if err != nil {
				s.ckpt.broken(part)
				s.log.Warn("replicate relayed outbox deletes", "partition", part, "err", err)
				return
			}
			s.ckpt.acked(part, next)
		})
	}
}

// errNoPartition is returned by the replication calls of a store configured without a Replicator.
var errNoPartition = errors.New("store: no Replicator and Partition configured")
