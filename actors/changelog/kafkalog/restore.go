package kafkalog

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/changelog"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// MaxCheckpointAge is how old a store's checkpoint may be for a restore to read only the tail after it. An older one
// may predate deletes that compaction has removed since (the topic's delete.retention.ms, TopicConfig), so the
// restore starts from scratch.
const MaxCheckpointAge = 12 * time.Hour

// TopicConfig is how the changelog topic is created: compacted, never deleted by time or size, tombstones kept a day
// (twice MaxCheckpointAge).
var TopicConfig = map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "86400000"}

// restoreBatch bounds the records one store batch of a restore applies.
const restoreBatch = 4096

// Restored says what a Restore did.
type Restored struct {
	// From and To are the changelog offsets read: [From, To). To is the offset of the fence record the restore
	// wrote first (Fence), unless it seeded the partition.
	From, To int64
	// Scratch is set when the partition's keys were wiped first (no usable checkpoint).
	Scratch bool
	// Seeded counts the keys written to an empty changelog partition from the store instead.
	Seeded int
	// Records counts the records applied.
	Records int
	// Fenced counts the records ignored because a fence of a newer generation came before them (a stale owner's).
	Fenced int
	// Fence is the offset of the fence record this restore wrote.
	Fence int64
}

// Restore makes st hold partition part as the changelog says, before the partition is consumed, and stamps the
// partition's records from now on with gen. It reads changelog partition part from st's checkpoint (when st held
// the partition in full at its last clean close, not longer ago than MaxCheckpointAge) or from the start, after
// deleting the partition's keys, up to the partition's end when Restore began, and applies it in batches, each with
// the checkpoint of how far it got. An empty changelog partition is seeded from st instead (a store that ran before
// the changelog was turned on). A record that does not decode stops the restore with its *changelog.DecodeError: the
// caller must not consume the partition then (what was applied stays behind the checkpoint, and the next attempt
// resumes there and stops at the same record).
func (r *Replicator) Restore(ctx context.Context, st *store.Store, part int, gen int32) (Restored, error) {
	start := time.Now()
	r.SetGeneration(part, gen)
	var res Restored
	first, end, err := r.bounds(ctx, part)
	if err != nil {
		return res, err
	}
	if first >= end {
		res.From, res.To = end, end
		next, n, err := st.SeedPartition(part)
		if err != nil {
			return res, err
		}
		res.Seeded, res.To = n, max(end, next)
		if res.Fence, err = r.fence(part, gen); err != nil {
			return res, err
		}
		r.m.restoreSeconds.Observe(time.Since(start).Seconds())
		return res, nil
	}
	// The fence first: after it, a stale owner's records (an older generation) are ignored by every restore. This
	// one reads up to it, and the store holds the partition up to the record after it (the fence writes nothing).
	if res.Fence, err = r.fence(part, gen); err != nil {
		return res, err
	}
	end = res.Fence
	res.From, res.To = first, end
	if ck, ok := st.Checkpoint(part); ok && ck.Next >= first && ck.Next <= end && time.Since(ck.At) < MaxCheckpointAge {
		res.From = ck.Next
	} else {
		res.Scratch = true
		if err := st.WipePartition(part); err != nil {
			return res, err
		}
	}
	if res.From < end {
		n, fenced, err := r.read(ctx, st, part, res.From, end)
		res.Records, res.Fenced = n, fenced
		if err != nil {
			return res, err
		}
	}
	if err := st.FinishRestore(part, res.Fence+1); err != nil {
		return res, err
	}
	r.m.restoreSeconds.Observe(time.Since(start).Seconds())
	return res, nil
}

// bounds returns the first and the next offset of changelog partition part.
func (r *Replicator) bounds(ctx context.Context, part int) (first, end int64, err error) {
	res, err := r.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		r.cfg.Topic: {kafka.FirstOffsetOf(part), kafka.LastOffsetOf(part)}}})
	if err != nil {
		return 0, 0, fmt.Errorf("read the bounds of %s partition %d: %w", r.cfg.Topic, part, err)
	}
	for _, p := range res.Topics[r.cfg.Topic] {
		if p.Partition != part {
			continue
		}
		if p.Error != nil {
			return 0, 0, fmt.Errorf("read the bounds of %s partition %d: %w", r.cfg.Topic, part, p.Error)
		}
		return p.FirstOffset, p.LastOffset, nil
	}
	return 0, 0, fmt.Errorf("read the bounds of %s partition %d: not answered", r.cfg.Topic, part)
}

// fence writes the fence record of generation gen into changelog partition part and returns its offset.
func (r *Replicator) fence(part int, gen int32) (int64, error) {
	off, err := r.produce(part, []kafka.Record{{Key: kafka.NewBytes(changelog.FenceKey(gen)),
		Value: kafka.NewBytes(changelog.AppendFence(nil, gen)), Time: time.Now()}})
	if err != nil {
		return 0, fmt.Errorf("write the fence of generation %d: %w", gen, err)
	}
	return off, nil
}

// read applies changelog partition part's records from offset from up to end to st, and returns how many, and how
// many it ignored as a stale owner's: a record whose generation is older than the newest fence read before it.
// The newest fence before from is not known (a restore from a checkpoint starts after it); the store held the
// partition up to from as its owner, which wrote that fence itself.
func (r *Replicator) read(ctx context.Context, st *store.Store, part int, from, end int64) (int, int, error) {
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: r.cfg.Brokers, Topic: r.cfg.Topic, Partition: part,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: inbox.FetchWait(100 * time.Millisecond)})
	defer rd.Close()
	if err := rd.SetOffset(from); err != nil {
		return 0, 0, fmt.Errorf("restore %s partition %d from %d: %w", r.cfg.Topic, part, from, err)
	}
	var batch []store.Change
	n, fenced, fence := 0, 0, changelog.NoGeneration
	apply := func(next int64) error {
		if err := st.ApplyRestored(part, batch, next); err != nil {
			return err
		}
		r.m.restoredRecords.Add(float64(len(batch)))
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for {
		m, err := rd.FetchMessage(ctx)
		if err != nil {
			return n, fenced, fmt.Errorf("restore %s partition %d at %d of %d: %w", r.cfg.Topic, part, from, end, err)
		}
		if m.Offset >= end {
			break // compaction removed the records before end since the bounds were read
		}
		env, tombstone := m.Value, m.Value == nil
		if tombstone {
			env = nil
			for _, h := range m.Headers {
				if h.Key == changelog.DeleteHeader {
					env = h.Value
				}
			}
		}
		rec, err := changelog.Decode(part, m.Offset, m.Key, env, tombstone)
		if err != nil {
			return n, fenced, err
		}
		switch {
		case rec.Fence:
			fence = max(fence, rec.Generation)
		case rec.Generation < fence:
			fenced++
			r.m.fencedRecords.Inc()
		default:
			batch = append(batch, store.Change{Key: rec.Key, Value: rec.Value, Delete: rec.Delete})
		}
		if m.Offset+1 >= end {
			break
		}
		if len(batch) == restoreBatch {
			if err := apply(m.Offset + 1); err != nil {
				return n, fenced, err
			}
		}
	}
	if len(batch) > 0 {
		if err := apply(end); err != nil {
			return n, fenced, err
		}
	}
	return n, fenced, nil
}
