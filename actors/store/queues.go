package store

// The store's queues: the outbox of events waiting to be relayed to Kafka, and the index of due timers. Both are
// written in the same batch as the state change that causes them, so neither is lost nor runs ahead of its state.
//
// Keys: "q/<seq:8>/<tenant>" → event JSON (seq orders the outbox node-wide); "z/<due ms:8>/<tenant>/<conv>/<kind>"
// → nothing (sorted by due time); "t/<tenant>/o/<operator>" → operator state JSON.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// OutboxEntry is one event waiting in the outbox.
type OutboxEntry struct {
	Key    []byte
	Tenant string
	Value  []byte
}

// seedOutbox makes sequence numbers continue after the last one stored.
func (s *Store) seedOutbox() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("q/"), UpperBound: []byte("q0")})
	if err != nil {
		return err
	}
	defer it.Close()
	next := uint64(time.Now().UnixNano())
	if it.Last() && len(it.Key()) >= 10 {
		if last := binary.BigEndian.Uint64(it.Key()[2:10]); last >= next {
			next = last + 1
		}
	}
	s.outboxNext.Store(next)
	return it.Error()
}

// PutOutbox queues an event of tenant and returns its entry, to hand to the relay once the batch is durable.
func (b *Batch) PutOutbox(tenant string, event []byte) (OutboxEntry, error) {
	seq := b.s.outboxNext.Add(1)
	k := make([]byte, 0, 11+len(tenant))
	k = append(k, "q/"...)
	k = binary.BigEndian.AppendUint64(k, seq)
	k = append(k, '/')
	k = append(k, tenant...)
	if err := b.b.Set(k, event, nil); err != nil {
		return OutboxEntry{}, err
	}
	return OutboxEntry{Key: k, Tenant: tenant, Value: event}, nil
}

// Outbox returns up to limit queued events in order, starting after the key after (nil = from the first).
func (s *Store) Outbox(after []byte, limit int) ([]OutboxEntry, error) {
	lower := []byte("q/")
	if after != nil {
		lower = append(append([]byte{}, after...), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte("q0")})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []OutboxEntry
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := append([]byte{}, it.Key()...)
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if len(k) < 12 {
			return nil, fmt.Errorf("BUG: outbox key %q too short", k)
		}
		out = append(out, OutboxEntry{Key: k, Tenant: string(k[11:]), Value: append([]byte{}, v...)})
	}
	return out, it.Error()
}

// DeleteOutbox removes relayed events. The deletes are not synced: after a crash an event may be relayed again,
// which its stable id makes harmless.
func (s *Store) DeleteOutbox(entries []OutboxEntry) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		if err := b.Delete(e.Key, nil); err != nil {
			return err
		}
	}
	return s.db.Apply(b, pebble.NoSync)
}

// TimerKey names a due timer.
type TimerKey struct {
	Due          time.Time
	Tenant       string
	Conversation string
	Kind         string
}

func timerKey(t TimerKey) []byte {
	k := make([]byte, 0, 16+len(t.Tenant)+len(t.Conversation)+len(t.Kind))
	k = append(k, "z/"...)
	k = binary.BigEndian.AppendUint64(k, uint64(t.Due.UnixMilli()))
	k = append(k, '/')
	k = append(k, t.Tenant...)
	k = append(k, '/')
	k = append(k, t.Conversation...)
	k = append(k, '/')
	k = append(k, t.Kind...)
	return k
}

// PutTimer schedules a timer.
func (b *Batch) PutTimer(t TimerKey) error { return b.b.Set(timerKey(t), nil, nil) }

// DeleteTimer unschedules a timer.
func (b *Batch) DeleteTimer(t TimerKey) error { return b.b.Delete(timerKey(t), nil) }

// DueTimers returns up to limit timers due at or before now, earliest first.
func (s *Store) DueTimers(now time.Time, limit int) ([]TimerKey, error) {
	upper := make([]byte, 0, 10)
	upper = append(upper, "z/"...)
	upper = binary.BigEndian.AppendUint64(upper, uint64(now.UnixMilli())+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("z/"), UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []TimerKey
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) < 11 {
			return nil, fmt.Errorf("BUG: timer key %q too short", k)
		}
		parts := strings.SplitN(string(k[11:]), "/", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("BUG: timer key %q malformed", k)
		}
		due := time.UnixMilli(int64(binary.BigEndian.Uint64(k[2:10]))).UTC()
		out = append(out, TimerKey{Due: due, Tenant: parts[0], Conversation: parts[1], Kind: parts[2]})
	}
	return out, it.Error()
}

// OperatorState is an operator's runtime state: what the API changed since the config was loaded.
type OperatorState struct {
	ID           string   `json:"id"`
	Availability string   `json:"availability"`
	Capacity     int      `json:"capacity"`
	Role         string   `json:"role"`
	Skills       []string `json:"skills"`
	// IdleSince is when the operator last came online or last had a conversation end (Unix ms): routing's tie-break.
	IdleSince int64 `json:"idle_since"`
	// Applied is the position of the last command applied to the operator, so a replayed command is skipped.
	Applied conversation.Position `json:"applied"`
}

func operatorKey(tenant, id string) []byte { return []byte("t/" + tenant + "/o/" + id) }

// PutOperator writes an operator's state.
func (b *Batch) PutOperator(tenant string, o *OperatorState) error {
	return b.putJSON(operatorKey(tenant, o.ID), o)
}

// Operators returns every stored operator state of tenant.
func (s *Store) Operators(tenant string) ([]OperatorState, error) {
	prefix := []byte("t/" + tenant + "/o/")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []OperatorState
	for ok := it.First(); ok; ok = it.Next() {
		var o OperatorState
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(v, &o); err != nil {
			return nil, fmt.Errorf("decode operator %s: %w", it.Key(), err)
		}
		out = append(out, o)
	}
	return out, it.Error()
}

// OpenConversations returns tenant's conversations whose status is one of statuses (via the status index): what a
// dispatcher rebuilds its queue and loads from.
func (s *Store) OpenConversations(tenant string, statuses ...conversation.Status) ([]conversation.Conversation, error) {
	var out []conversation.Conversation
	for _, st := range statuses {
		prefix := statusKey(tenant, st, "")
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			return nil, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			id := string(bytes.TrimPrefix(it.Key(), prefix))
			c, err := s.Conversation(tenant, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				it.Close()
				return nil, err
			}
			out = append(out, c)
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// KV is a raw key and value, for the queues other packages keep in the store (the outbound sender's).
type KV struct {
	Key, Value []byte
}

// NextSeq returns a node-wide increasing sequence number for queue keys.
func (s *Store) NextSeq() uint64 { return s.outboxNext.Add(1) }

// Set writes a raw key in the batch.
func (b *Batch) Set(key, value []byte) error { return b.b.Set(key, value, nil) }

// Delete removes a raw key in the batch.
func (b *Batch) Delete(key []byte) error { return b.b.Delete(key, nil) }

// Scan returns up to limit raw entries whose keys start with prefix, in key order, from the key after after (nil:
// from the first).
func (s *Store) Scan(prefix, after []byte, limit int) ([]KV, error) {
	lower := prefix
	if after != nil {
		lower = append(append([]byte{}, after...), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []KV
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		out = append(out, KV{Key: append([]byte{}, it.Key()...), Value: append([]byte{}, v...)})
	}
	return out, it.Error()
}

// Get returns a raw key's value, or ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte{}, v...), nil
}
