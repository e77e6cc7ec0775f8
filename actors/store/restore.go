package store

// Restoring a partition from the changelog (README, "Changelog"): the replicator's Restore reads changelog
// partition p and feeds it here. Either from scratch — WipePartition deletes every key of p's tenants, then
// ApplyRestored applies the records from the changelog's start — or, when the store held p in full when it last
// closed (a checkpoint), only the tail after the checkpoint. FinishRestore then rebuilds what is derived and not
// replicated (the timer index), moves the queue sequences past the restored entries and makes the relay read the
// restored outbox.
//
// The checkpoint c/<p> (keys.go) is the changelog position up to which the store holds partition p exactly. It is
// in Pebble only while that is known: written with every batch a restore applies (so a restore stopped midway
// resumes there), deleted when the restore finishes (from then on the node's own writes may be synced and not yet
// acknowledged), and written again by a clean Close, once every replicated batch is acknowledged. Open reads the
// checkpoints into memory and deletes them: a node that crashes leaves none, and restores its partitions from
// scratch.

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// Checkpoint is how far a store held a partition of the changelog when it last closed cleanly.
type Checkpoint struct {
	// Next is the changelog offset of the first record the store does not hold.
	Next int64
	// At is when the checkpoint was written.
	At time.Time
}

// checkpoints is what the store knows of its partitions' changelog positions.
type checkpoints struct {
	mu sync.Mutex
	// loaded are the checkpoints Open found.
	loaded map[int]Checkpoint
	// complete are the partitions the store holds in full (restored, or seeded into the changelog, this run), with
	// the position of the last acknowledged write.
	complete map[int]int64
}

// acked notes that partition part's writes up to next are acknowledged.
func (c *checkpoints) acked(part int, next int64) {
	c.mu.Lock()
	if n, ok := c.complete[part]; ok && next > n {
		c.complete[part] = next
	}
	c.mu.Unlock()
}

// broken forgets that the store holds part in full: one of its writes may be missing from the changelog, so the
// next restore of part starts from scratch.
func (c *checkpoints) broken(part int) {
	c.mu.Lock()
	delete(c.complete, part)
	delete(c.loaded, part)
	c.mu.Unlock()
}

func checkpointKey(part int) []byte {
	return binary.BigEndian.AppendUint32([]byte(checkpointPrefix), uint32(part))
}

func checkpointValue(next int64, at time.Time) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(next))
	return binary.BigEndian.AppendUint64(v, uint64(at.UnixMilli()))
}

// loadCheckpoints reads the checkpoints into memory and deletes them from Pebble (synced).
func (s *Store) loadCheckpoints() error {
	s.ckpt.loaded = map[int]Checkpoint{}
	s.ckpt.complete = map[int]int64{}
	b := s.db.NewBatch()
	defer b.Close()
	err := s.eachKey([]byte(checkpointPrefix), func(k, v []byte) error {
		if len(k) != len(checkpointPrefix)+4 || len(v) != 16 {
			return fmt.Errorf("BUG: changelog checkpoint %q = %x malformed", k, v)
		}
		part := int(binary.BigEndian.Uint32(k[len(checkpointPrefix):]))
		s.ckpt.loaded[part] = Checkpoint{Next: int64(binary.BigEndian.Uint64(v)), At: timeOfMs(int64(binary.BigEndian.Uint64(v[8:])))}
		return b.Delete(k, nil)
	})
	if err != nil {
		return fmt.Errorf("read changelog checkpoints: %w", err)
	}
	if b.Empty() {
		return nil
	}
	return s.db.Apply(b, pebble.Sync)
}

// saveCheckpoints writes the checkpoint of every partition the store holds in full (at a clean Close, once every
// replicated batch is acknowledged).
func (s *Store) saveCheckpoints() error {
	s.ckpt.mu.Lock()
	defer s.ckpt.mu.Unlock()
	if len(s.ckpt.complete) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	now := time.Now()
	for part, next := range s.ckpt.complete {
		if err := b.Set(checkpointKey(part), checkpointValue(next, now), nil); err != nil {
			return err
		}
	}
	return s.db.Apply(b, pebble.Sync)
}

// Checkpoint returns how far the store holds partition part of the changelog: the position of its last
// acknowledged write when it restored (or seeded) part in this run — a partition assigned again after a rebalance
// reads only the tail — or else the checkpoint it found when it opened, if any.
func (s *Store) Checkpoint(part int) (Checkpoint, bool) {
	s.ckpt.mu.Lock()
	defer s.ckpt.mu.Unlock()
	if next, ok := s.ckpt.complete[part]; ok {
		return Checkpoint{Next: next, At: time.Now()}, true
	}
	c, ok := s.ckpt.loaded[part]
	return c, ok
}

// PartitionTenants returns the tenants of partition part that have keys in the store (tenant-scoped or outbox), in
// order.
func (s *Store) PartitionTenants(part int) ([]string, error) {
	if s.partOf == nil {
		return nil, errNoPartition
	}
	seen := map[string]bool{}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("t/"), UpperBound: []byte("t0")})
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; {
		tenant := replicatedTenant(it.Key())
		if tenant == nil {
			ok = it.Next()
			continue
		}
		seen[string(tenant)] = true
		ok = it.SeekGE(prefixEnd(tenantPrefix(string(tenant))))
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	err = s.eachKey([]byte(outboxPrefix), func(k, _ []byte) error {
		if t := replicatedTenant(k); t != nil && !seen[string(t)] {
			seen[string(t)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for t := range seen {
		if s.partOf(t) == part {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// WipePartition deletes every key of partition part's tenants — their tenant-scoped keys, outbox entries and due
// timers — and part's checkpoint, before a restore from scratch. Nothing of it is replicated.
func (s *Store) WipePartition(part int) error {
	tenants, err := s.PartitionTenants(part)
	if err != nil {
		return fmt.Errorf("wipe partition %d: %w", part, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	in := map[string]bool{}
	for _, t := range tenants {
		in[t] = true
		p := tenantPrefix(t)
		if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return err
		}
	}
	if err := s.deleteTenantQueues(b, in); err != nil {
		return fmt.Errorf("wipe partition %d: %w", part, err)
	}
	if err := b.Delete(checkpointKey(part), nil); err != nil {
		return err
	}
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("wipe partition %d: %w", part, err)
	}
	return nil
}

// deleteTenantQueues adds to b the deletes of the outbox entries and due timers of the tenants in.
func (s *Store) deleteTenantQueues(b *pebble.Batch, in map[string]bool) error {
	err := s.eachKey([]byte(outboxPrefix), func(k, _ []byte) error {
		if t := replicatedTenant(k); t != nil && in[string(t)] {
			return b.Delete(k, nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.deleteTimersOf(b, in)
}

// deleteTimersOf adds to b the deletes of the due timers of the tenants in.
func (s *Store) deleteTimersOf(b *pebble.Batch, in map[string]bool) error {
	return s.eachKey([]byte(timerPrefix), func(k, _ []byte) error {
		t, err := parseTimerKey(k)
		if err != nil {
			return err
		}
		if in[t.Tenant] {
			return b.Delete(k, nil)
		}
		return nil
	})
}

// ApplyRestored applies changelog records of partition part, in changelog order, with the checkpoint next (the
// offset after the last of them) in the same synced batch. A record whose key is node-local or belongs to another
// partition's tenant is refused: the changelog is not what this store wrote.
func (s *Store) ApplyRestored(part int, changes []Change, next int64) error {
	if s.partOf == nil {
		return errNoPartition
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, c := range changes {
		t := replicatedTenant(c.Key)
		if t == nil {
			return fmt.Errorf("restore partition %d: the changelog holds node-local key %q", part, c.Key)
		}
		if p := s.partOf(string(t)); p != part {
			return fmt.Errorf("restore partition %d: the changelog holds key %q of tenant %s, whose partition is %d",
				part, c.Key, t, p)
		}
		var err error
		if c.Delete {
			err = b.Delete(c.Key, nil)
		} else {
			err = b.Set(c.Key, c.Value, nil)
		}
		if err != nil {
			return err
		}
	}
	if err := b.Set(checkpointKey(part), checkpointValue(next, time.Now()), nil); err != nil {
		return err
	}
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("restore partition %d: %w", part, err)
	}
	return nil
}

// FinishRestore ends a restore of partition part that reached the changelog position next: it rebuilds the due-timer
// index of part's tenants from their conversations, moves the queue sequences past the restored entries, has the
// outbox relay read the restored outbox from its start, and deletes the checkpoint (the store holds part in full
// until its next write is synced and not yet acknowledged; Close writes it again).
func (s *Store) FinishRestore(part int, next int64) error {
	tenants, err := s.PartitionTenants(part)
	if err != nil {
		return fmt.Errorf("finish restore of partition %d: %w", part, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	in := map[string]bool{}
	for _, t := range tenants {
		in[t] = true
	}
	if err := s.deleteTimersOf(b, in); err != nil {
		return fmt.Errorf("finish restore of partition %d: %w", part, err)
	}
	for _, t := range tenants {
		prefix := convKey(t, "")
		err := s.eachKey(prefix, func(k, v []byte) error {
			var c conversation.Conversation
			if err := decodeConversation(v, &c); err != nil {
				return fmt.Errorf("decode conversation %s: %w", k, err)
			}
			for _, kind := range conversation.TimerKinds {
				if due := c.Timers.Due(kind); !due.IsZero() {
					tk := TimerKey{Due: due, Tenant: t, Conversation: string(k[len(prefix):]), Kind: string(kind)}
					if err := b.Set(timerKey(tk), nil, nil); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rebuild the timers of tenant %s: %w", t, err)
		}
	}
	if err := b.Delete(checkpointKey(part), nil); err != nil {
		return err
	}
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("finish restore of partition %d: %w", part, err)
	}
	if err := s.afterRestore(); err != nil {
		return fmt.Errorf("finish restore of partition %d: %w", part, err)
	}
	s.ckpt.mu.Lock()
	s.ckpt.complete[part] = next
	s.ckpt.mu.Unlock()
	return nil
}

// afterRestore moves both queue sequences past the restored entries, recounts the outbox and has the relay read it
// from its start (restored entries may sort before the relay's cursor).
func (s *Store) afterRestore() error {
	var n int64
	var first, last uint64
	err := s.eachKey([]byte(outboxPrefix), func(k, _ []byte) error {
		seq, _, err := parseOutboxKey(k)
		if err != nil {
			return err
		}
		if n == 0 {
			first = seq
		}
		last = seq
		n++
		return nil
	})
	if err != nil {
		return err
	}
	jobs, err := s.lastSendJobSeq()
	if err != nil {
		return err
	}
	s.outboxSeqs.advance(last)
	s.jobSeqs.advance(jobs)
	s.outboxLen.Store(n)
	if n > 0 {
		s.outboxRewind.Store(max(first, 1))
	}
	return nil
}

// advance makes the sequence continue after last, if it is not past it already.
func (q *queueSeqs) advance(last uint64) {
	q.mu.Lock()
	q.last = max(q.last, last)
	q.mu.Unlock()
}

// seedChunk bounds the changes of one Replicate call of SeedPartition.
const seedChunk = 1024

// SeedPartition replicates every key of partition part's tenants (their tenant-scoped keys and outbox entries), for
// a changelog partition that is empty while the store holds the partition: a store that ran before the changelog
// was turned on. It returns once the replicator acknowledged them all, with the position after the last and how
// many were written; the store then holds part in full.
func (s *Store) SeedPartition(part int) (next int64, n int, err error) {
	if s.repl == nil {
		return 0, 0, errNoPartition
	}
	tenants, err := s.PartitionTenants(part)
	if err != nil {
		return 0, 0, fmt.Errorf("seed partition %d: %w", part, err)
	}
	in := map[string]bool{}
	for _, t := range tenants {
		in[t] = true
	}
	var chunk []Change
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		type ack struct {
			next int64
			err  error
		}
		done := make(chan ack, 1)
		s.repl.Replicate(part, chunk, func(next int64, err error) { done <- ack{next, err} })
		a := <-done
		if a.err != nil {
			return a.err
		}
		next, n, chunk = a.next, n+len(chunk), nil
		return nil
	}
	add := func(k, v []byte) error {
		chunk = append(chunk, Change{Key: append([]byte{}, k...), Value: append([]byte{}, v...)})
		if len(chunk) == seedChunk {
			return flush()
		}
		return nil
	}
	for _, t := range tenants {
		if err := s.eachKey(tenantPrefix(t), add); err != nil {
			return 0, 0, fmt.Errorf("seed partition %d: %w", part, err)
		}
	}
	err = s.eachKey([]byte(outboxPrefix), func(k, v []byte) error {
		if t := replicatedTenant(k); t != nil && in[string(t)] {
			return add(k, v)
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("seed partition %d: %w", part, err)
	}
	s.ckpt.mu.Lock()
	s.ckpt.complete[part] = next
	s.ckpt.mu.Unlock()
	return next, n, nil
}

// EachReplicated calls fn with every replicated key of the store (tenant-scoped and outbox) and its value, in key
// order; only those of partition part's tenants unless part is negative. For tests and checks: a restored store
// holds the same as the one that wrote the changelog.
func (s *Store) EachReplicated(part int, fn func(k, v []byte) error) error {
	if part >= 0 && s.partOf == nil {
		return errNoPartition
	}
	for _, p := range []string{"t/", outboxPrefix} {
		err := s.eachKey([]byte(p), func(k, v []byte) error {
			t := replicatedTenant(k)
			if t == nil || (part >= 0 && s.partOf(string(t)) != part) {
				return nil
			}
			return fn(k, v)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
