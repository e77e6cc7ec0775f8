package store

// The store's queues: the outbox of events waiting to be relayed to Kafka, the index of due timers, each channel's
// queue of outbound messages for the sender and the channel's answers to them. Each entry is written in the same
// batch as the state change that causes it, so none is lost nor runs ahead of its state. Readers page through them
// with bounded pages; none of them needs to hold a queue in memory.
//
// Durable before visible to a queue reader: Commit makes a batch readable before it is synced, so the outbox and
// the send queues are read only up to their watermark: the highest sequence number such that every entry with a
// smaller or equal one is durable or was discarded. Readers can therefore move a cursor forward and never miss an
// entry that becomes durable later. The outbox and the send queues are numbered apart (outboxSeqs, jobSeqs).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// queueSeqs hands out queue sequence numbers and knows up to which one every entry is durable.
type queueSeqs struct {
	mu   sync.Mutex
	last uint64
	// open are the batches holding sequence numbers that are neither durable nor dropped, in the order of their
	// first number (a batch is appended when it takes its first).
	open []*seqHold
}

// seqHold is a batch's claim on the queue sequence: its first number, and whether it is resolved (durable or
// dropped).
type seqHold struct {
	first      uint64
	held, done bool
}

func (q *queueSeqs) next(h *seqHold) uint64 {
	q.mu.Lock()
	q.last++
	n := q.last
	if !h.held {
		h.first, h.held = n, true
		q.open = append(q.open, h)
	}
	q.mu.Unlock()
	return n
}

// release resolves a hold.
func (q *queueSeqs) release(h *seqHold) {
	q.mu.Lock()
	h.done = true
	i := 0
	for i < len(q.open) && q.open[i].done {
		q.open[i] = nil
		i++
	}
	q.open = q.open[i:]
	q.mu.Unlock()
}

func (q *queueSeqs) watermark() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.open) > 0 {
		return q.open[0].first - 1
	}
	return q.last
}

// releaseSeqs resolves the batch's claims on the queue sequences: it is durable, failed or dropped.
func (b *Batch) releaseSeqs() {
	if b.outboxHold.held {
		b.s.outboxSeqs.release(&b.outboxHold)
	}
	if b.jobHold.held {
		b.s.jobSeqs.release(&b.jobHold)
	}
}

// seedQueues makes both queue sequences continue after the last number stored (and after the wall clock in
// nanoseconds), and counts the outbox.
func (s *Store) seedQueues() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(outboxPrefix), UpperBound: []byte(outboxEnd)})
	if err != nil {
		return err
	}
	defer it.Close()
	next := uint64(time.Now().UnixNano())
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if it.Last() {
		seq, _, err := parseOutboxKey(it.Key())
		if err != nil {
			return err
		}
		next = max(next, seq)
	}
	if err := it.Error(); err != nil {
		return err
	}
	jobs, err := s.lastSendJobSeq()
	if err != nil {
		return fmt.Errorf("read send queues: %w", err)
	}
	s.outboxSeqs.last = next
	s.jobSeqs.last = max(uint64(time.Now().UnixNano()), jobs)
	s.outboxLen.Store(n)
	return nil
}

// lastSendJobSeq is the highest queue sequence number of any stored send job, so that new jobs sort after old ones
// even if the clock went back. It seeks twice per tenant and per channel instead of reading the queues.
func (s *Store) lastSendJobSeq() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("t/"), UpperBound: []byte("t0")})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var last uint64
	for ok := it.First(); ok; {
		rest := it.Key()[2:]
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			ok = it.Next()
			continue
		}
		tenant := string(rest[:i])
		queues := tenantKey(0, tenant, 'y')
		for ok = it.SeekGE(queues); ok && bytes.HasPrefix(it.Key(), queues); {
			rest := it.Key()[len(queues):]
			j := bytes.IndexByte(rest, '/')
			if j < 0 {
				ok = it.Next()
				continue
			}
			channel := append(append([]byte{}, queues...), rest[:j+1]...)
			end := prefixEnd(channel)
			if it.SeekLT(end) && bytes.HasPrefix(it.Key(), channel) && len(it.Key()) == len(channel)+8 {
				last = max(last, beUint64(it.Key()[len(channel):]))
			}
			ok = it.SeekGE(end)
		}
		ok = it.SeekGE(prefixEnd([]byte("t/" + tenant + "/")))
	}
	return last, it.Error()
}

// OutboxEntry is one event in the outbox.
type OutboxEntry struct {
	// Seq orders the outbox node-wide.
	Seq    uint64
	Tenant string
	Value  []byte
}

// PutOutbox queues an event of tenant in the outbox. The relay reads it once the batch is durable.
func (b *Batch) PutOutbox(tenant string, event []byte) error {
	if err := b.b.Set(outboxKey(b.s.outboxSeqs.next(&b.outboxHold), tenant), event, nil); err != nil {
		return fmt.Errorf("put outbox event of %s: %w", tenant, err)
	}
	b.outbox++
	return nil
}

// Outbox appends to dst, in order, up to limit durable outbox entries whose Seq is above after, and returns through:
// the sequence number the next call passes as after (every entry up to it has been returned, now or before). The
// values of one call share a few buffers rather than one allocation each.
func (s *Store) Outbox(dst []OutboxEntry, after uint64, limit int) (entries []OutboxEntry, through uint64, err error) {
	if rw := s.outboxRewind.Swap(0); rw != 0 && rw <= after {
		after = rw - 1 // a restore wrote entries before the cursor (restore.go)
	}
	w := s.outboxSeqs.watermark()
	if after >= w {
		return dst, after, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: outboxLower(after), UpperBound: outboxLower(w)})
	if err != nil {
		return dst, after, fmt.Errorf("read outbox: %w", err)
	}
	defer it.Close()
	n := 0
	var buf []byte
	var tenant string
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		k := it.Key()
		if len(k) < 12 || k[10] != '/' {
			return dst, after, fmt.Errorf("BUG: outbox key %q malformed", k)
		}
		if string(k[11:]) != tenant { // consecutive entries are often one tenant's: no string per entry then
			tenant = string(k[11:])
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return dst, after, fmt.Errorf("read outbox: %w", err)
		}
		if cap(buf)-len(buf) < len(v) {
			buf = make([]byte, 0, max(len(v), 64<<10))
		}
		buf = append(buf, v...)
		dst = append(dst, OutboxEntry{Seq: beUint64(k[2:10]), Tenant: tenant, Value: buf[len(buf)-len(v) : len(buf) : len(buf)]})
		n++
	}
	if err := it.Error(); err != nil {
		return dst, after, fmt.Errorf("read outbox: %w", err)
	}
	if n == limit && n > 0 {
		return dst, dst[len(dst)-1].Seq, nil
	}
	return dst, w, nil
}

// OutboxLen is how many events are in the outbox: committed and not yet relayed.
func (s *Store) OutboxLen() int64 { return s.outboxLen.Load() }

// DeleteOutbox removes relayed events. The deletes are not synced: after a crash an event may be relayed again,
// which its stable id makes harmless.
func (s *Store) DeleteOutbox(entries []OutboxEntry) error {
	b := s.db.NewBatch()
	defer b.Close()
	var k []byte
	var keys [][]byte // for the replicator, which holds them until acknowledged
	for _, e := range entries {
		k = append(k[:0], outboxPrefix...)
		k = appendOutboxRest(k, e.Seq, e.Tenant)
		if err := b.Delete(k, nil); err != nil { // Delete copies k
			return fmt.Errorf("delete outbox entry %d: %w", e.Seq, err)
		}
		if s.repl != nil {
			keys = append(keys, append([]byte{}, k...))
		}
	}
	if err := s.db.Apply(b, pebble.NoSync); err != nil {
		return fmt.Errorf("delete %d outbox entries: %w", len(entries), err)
	}
	s.outboxLen.Add(-int64(len(entries)))
	if s.repl != nil {
		s.replicateDeletes(keys)
	}
	return nil
}

// TimerKey names a due timer.
type TimerKey struct {
	Due          time.Time
	Tenant       string
	Conversation string
	Kind         string
}

// PutTimer schedules a timer.
func (b *Batch) PutTimer(t TimerKey) error { return b.b.Set(timerKey(t), nil, nil) }

// DeleteTimer unschedules a timer.
func (b *Batch) DeleteTimer(t TimerKey) error { return b.b.Delete(timerKey(t), nil) }

// DueTimers returns up to limit timers due at or before now, earliest first, starting after the timer after (the
// zero TimerKey: from the first).
func (s *Store) DueTimers(now time.Time, after TimerKey, limit int) ([]TimerKey, error) {
	lower := []byte(timerPrefix)
	if after != (TimerKey{}) {
		lower = keyAfter(timerKey(after))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: timerUpper(now.UnixMilli())})
	if err != nil {
		return nil, fmt.Errorf("read due timers: %w", err)
	}
	defer it.Close()
	var out []TimerKey
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k, err := parseTimerKey(it.Key())
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, it.Error()
}

// OperatorState is an operator's runtime state: its availability and when it became idle. Capacity, Role and Skills
// are the tenant's configuration's (actors/tenant): the tenant actor keeps them here in memory, and they are never
// stored — a state stored by an earlier version with them has them ignored when it is read, so it cannot shadow a
// later change of the configuration.
type OperatorState struct {
	ID           string   `json:"id"`
	Availability string   `json:"availability"`
	Capacity     int      `json:"-"`
	Role         string   `json:"-"`
	Skills       []string `json:"-"`
	// IdleSince is when the operator last came online or last had a conversation end (Unix ms): routing's tie-break.
	IdleSince int64 `json:"idle_since"`
	// Applied is the position of the last command applied to the operator, so a replayed command is skipped.
	Applied conversation.Position `json:"applied"`
	// Version counts the changes applied to the operator (operator.State.Version); it names its events. 0 in a
	// state stored before operators had versions, which then count on from there.
	Version uint64 `json:"version,omitempty"`
}

// PutOperator writes an operator's state.
func (b *Batch) PutOperator(tenant string, o *OperatorState) error {
	return b.putJSON(operatorKey(tenant, o.ID), o)
}

// scanPage is how many keys a store read holds an iterator for at most: long reads (rebuilds, recoveries) go in
// pages of this size, each with a fresh iterator, so no read pins old memtables and tables for long.
const scanPage = 1024

// eachKey calls fn for every key with prefix (and its value), in order, reading in pages of scanPage keys. fn must
// not keep the slices it is given.
func (s *Store) eachKey(prefix []byte, fn func(k, v []byte) error) error {
	lower, upper := prefix, prefixEnd(prefix)
	for {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return err
		}
		n := 0
		ok := it.First()
		for ; ok && n < scanPage; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err == nil {
				err = fn(it.Key(), v)
			}
			if err != nil {
				it.Close()
				return err
			}
			n++
		}
		if ok {
			lower = append(lower[:0:0], it.Key()...)
		}
		if err := it.Close(); err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
}

// Operators returns every stored operator state of tenant.
func (s *Store) Operators(tenant string) ([]OperatorState, error) {
	var out []OperatorState
	err := s.eachKey(operatorPrefix(tenant), func(k, v []byte) error {
		var o OperatorState
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("decode operator %s: %w", k, err)
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read operators of %s: %w", tenant, err)
	}
	return out, nil
}

// OpenConversations returns tenant's conversations whose status is one of statuses (via the status index): what a
// dispatcher rebuilds its queue and loads from. It reads the index in bounded pages.
func (s *Store) OpenConversations(tenant string, statuses ...conversation.Status) ([]conversation.Conversation, error) {
	var out []conversation.Conversation
	for _, st := range statuses {
		prefix := statusKey(tenant, st, "")
		err := s.eachKey(prefix, func(k, _ []byte) error {
			c, err := s.Conversation(tenant, string(bytes.TrimPrefix(k, prefix)))
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err == nil {
				out = append(out, c)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read %s conversations of %s: %w", st, tenant, err)
		}
	}
	return out, nil
}

// SendRef names an outbound message queued for the sender: its tenant, its channel and its place in the channel's
// queue.
type SendRef struct {
	Tenant, Channel string
	Seq             uint64
}

// SendJob is a queued outbound message: where it is queued, and the sender's encoding of it.
type SendJob struct {
	Ref   SendRef
	Value []byte
}

// PutSendJob queues an outbound message (job, encoded by the sender) at the end of a channel's send queue.
func (b *Batch) PutSendJob(tenant, channel string, job []byte) (SendRef, error) {
	r := SendRef{Tenant: tenant, Channel: channel, Seq: b.s.jobSeqs.next(&b.jobHold)}
	if err := b.b.Set(sendJobKey(r), job, nil); err != nil {
		return r, fmt.Errorf("queue send job on %s: %w", channel, err)
	}
	return r, nil
}

// DeleteSendJob takes a job out of its channel's queue.
func (b *Batch) DeleteSendJob(r SendRef) error { return b.b.Delete(sendJobKey(r), nil) }

// SendJobs returns, in queue order, up to limit durable jobs of a channel's send queue whose Seq is above after.
func (s *Store) SendJobs(tenant, channel string, after uint64, limit int) ([]SendJob, error) {
	w := s.jobSeqs.watermark()
	if after >= w {
		return nil, nil
	}
	upper := prefixEnd(sendQueuePrefix(tenant, channel))
	if w < ^uint64(0) {
		upper = sendJobKey(SendRef{Tenant: tenant, Channel: channel, Seq: w + 1})
	}
	lower := sendJobKey(SendRef{Tenant: tenant, Channel: channel, Seq: after + 1})
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("read send queue of %s: %w", channel, err)
	}
	defer it.Close()
	var out []SendJob
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read send queue of %s: %w", channel, err)
		}
		out = append(out, SendJob{
			Ref:   SendRef{Tenant: tenant, Channel: channel, Seq: beUint64(k[len(k)-8:])},
			Value: append([]byte(nil), v...),
		})
	}
	return out, it.Error()
}

// SendJobQueued reports whether a job is still in its channel's queue (it leaves when its answer is recorded).
func (s *Store) SendJobQueued(r SendRef) (bool, error) {
	_, closer, err := s.db.Get(sendJobKey(r))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up send job %d on %s: %w", r.Seq, r.Channel, err)
	}
	return true, closer.Close()
}

// NoteRef names the channel's answer to one outbound message: the message's conversation and sequence number.
type NoteRef struct {
	Conversation string
	Seq          uint64
}

// DeliveryNote is the channel's answer to an outbound message as the sender recorded it: the delivery record it
// produces, kept until the conversation applies it.
type DeliveryNote struct {
	NoteRef
	Record []byte
}

// PutDeliveryNote records the answer to message seq of a conversation (rec is its delivery record).
func (b *Batch) PutDeliveryNote(tenant string, n NoteRef, rec []byte) error {
	return b.b.Set(noteKey(tenant, n.Conversation, n.Seq), rec, nil)
}

// DeleteDeliveryNote drops the recorded answer once it has been applied; deleting one that is gone is harmless.
func (b *Batch) DeleteDeliveryNote(tenant string, n NoteRef) error {
	return b.b.Delete(noteKey(tenant, n.Conversation, n.Seq), nil)
}

// DeliveryNotes returns up to limit recorded answers of tenant, in order, after the note after (zero: from the
// first).
func (s *Store) DeliveryNotes(tenant string, after NoteRef, limit int) ([]DeliveryNote, error) {
	prefix := notePrefix(tenant)
	lower := prefix
	if after != (NoteRef{}) {
		lower = keyAfter(noteKey(tenant, after.Conversation, after.Seq))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("read delivery notes of %s: %w", tenant, err)
	}
	defer it.Close()
	var out []DeliveryNote
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		conv, seq, err := parseNoteKey(prefix, it.Key())
		if err != nil {
			return nil, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read delivery notes of %s: %w", tenant, err)
		}
		out = append(out, DeliveryNote{NoteRef: NoteRef{Conversation: conv, Seq: seq}, Record: append([]byte(nil), v...)})
	}
	return out, it.Error()
}
