// Package store keeps the node's durable state in Pebble: conversations, their messages, the wamid index, statuses
// that arrived before their message, operators' runtime state, and the queues of effects (outbox events, timers,
// outbound messages and the channel's answers to them). It owns every key: keys.go lists each prefix, who writes it
// and what it holds; tenant-scoped keys are prefixed by tenant ("t/<tenant>/…") so a tenant's state can later move
// with its partition, and the two global prefixes say why they are global. Other packages name what they store by
// domain identifiers and never build or parse a key.
//
// Writes go through Batch and Commit: Commit applies the batch (visible to reads at once) and calls its done
// function only after the WAL is synced. Many actors commit concurrently and Pebble syncs their batches together
// (group commit), and no actor waits on an fsync.
//
// It may import Pebble, the Prometheus client and the domain's types (conversation, routing, ingest/inbox); never
// actors, Kafka or HTTP code.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Config configures a Store.
type Config struct {
	// Dir is the Pebble directory; created if missing. Required.
	Dir string
	// CacheBytes is Pebble's block cache size. 0 means 64 MiB.
	CacheBytes int64
	// MemTableBytes is the size of Pebble's memtable, from 1 MiB up to 4 GiB. 0 means 64 MiB. Every key written is
	// one skiplist search in the memtable, 9-14 % of a node's CPU in the standard bench; a 16 MiB memtable made that
	// search cheaper but compactions dearer, and woke fewer conversations in the memory bench's burst (README,
	// "Tried and not kept"), so the default stays.
	MemTableBytes int64
	// PendingSyncs bounds the batches applied but not yet known synced. 0 means 65,536. Commit blocks when it is
	// full, which the router's in-flight bound keeps from happening.
	PendingSyncs int
	Logger       *slog.Logger
	// NoScrub makes RequestScrub count the request and do nothing else (erase.go). For tests that run the store in a
	// testing/synctest bubble: Pebble's flushes reuse pooled channels, which must not cross bubbles. Default false.
	NoScrub bool
	// NoCloseFlush has Close skip its flush of the memtables (the next Open then replays the write-ahead log). For
	// tests in a synctest bubble, like NoScrub: a flush started there must not meet one of another bubble. Default
	// false.
	NoCloseFlush bool
	// Registerer receives the store's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Replicator, when set, receives every committed batch's replicated writes after the Pebble sync, and a
	// batch's done callback runs only once it acknowledged them (replicate.go). Nil (the default) replicates
	// nothing and costs nothing.
	Replicator Replicator
	// Partition maps a tenant to its partition (the inbox's partitioner). Required with Replicator.
	Partition func(tenant string) int
	// JSONValues writes conversation and message values as JSON, the form of releases before issue 15, instead of
	// the binary encoding (records.go), and every search posting a second time, conversation first, as those
	// releases did (search.go). Reads take both whatever this says. For a rolling upgrade from such a release with
	// the changelog: a partition moved to an older node must find only values it can read, and the postings its
	// searches and erases look for. Default false.
	JSONValues bool
}

func (c *Config) setDefaults() {
	if c.CacheBytes == 0 {
		c.CacheBytes = 64 << 20
	}
	if c.MemTableBytes == 0 {
		c.MemTableBytes = 64 << 20
	}
	if c.PendingSyncs == 0 {
		c.PendingSyncs = 65536
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("store: Dir is required")
	}
	if c.Replicator != nil && c.Partition == nil {
		return errors.New("store: a Replicator needs Partition")
	}
	if c.MemTableBytes < 1<<20 || c.MemTableBytes >= 4<<30 {
		return fmt.Errorf("store: MemTableBytes %d must be from 1 MiB up to 4 GiB", c.MemTableBytes)
	}
	return nil
}

// Store is the node's Pebble store. It is safe for concurrent use.
type Store struct {
	db      *pebble.DB
	cache   *pebble.Cache
	pending chan pendingSync
	done    chan struct{}
	once    sync.Once
	log     *slog.Logger
	Metrics Metrics

	// outboxSeqs and jobSeqs number the outbox and the send queues; apart, so that each reader waits only for its
	// own writers (which wake it when their batch is durable).
	outboxSeqs, jobSeqs queueSeqs
	outboxLen           atomic.Int64

	// fs and dir are Pebble's filesystem and directory; scrub runs scrubs of erased data (erase.go), unless
	// noScrub.
	fs      vfs.FS
	dir     string
	scrub   scrubber
	noScrub bool
	// jsonValues is Config.JSONValues; noCloseFlush is Config.NoCloseFlush.
	jsonValues, noCloseFlush bool

	// repl and partOf replicate committed batches (replicate.go); acks carries synced batches to waitAcks, which
	// closes acksDone when it ends. ckpt holds the changelog checkpoints (restore.go). outboxRewind, when not 0, is
	// the first outbox sequence number a restore wrote: the relay's next read starts there.
	repl         Replicator
	partOf       func(string) int
	acks         chan *replicating
	acksDone     chan struct{}
	ckpt         checkpoints
	outboxRewind atomic.Uint64
}

type pendingSync struct {
	b     *pebble.Batch
	owner *Batch // whose queue sequence numbers are released once b is durable
	done  func(error)
}

// Open opens (or creates) the store in cfg.Dir.
func Open(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cache := pebble.NewCache(cfg.CacheBytes)
	fs := noRecycleFS{vfs.Default}
	opts := &pebble.Options{Cache: cache, Logger: quietLogger{cfg.Logger}, MemTableSize: uint64(cfg.MemTableBytes), FS: fs}
	// Most lookups on the hot path are for keys that do not exist (a new conversation, a new wamid): bloom
	// filters answer them without reading data blocks.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("open pebble at %s: %w", cfg.Dir, err)
	}
	s := &Store{
		db:           db,
		cache:        cache,
		pending:      make(chan pendingSync, cfg.PendingSyncs),
		done:         make(chan struct{}),
		log:          cfg.Logger,
		Metrics:      newMetrics(cfg.Registerer),
		fs:           fs,
		dir:          cfg.Dir,
		jsonValues:   cfg.JSONValues,
		noCloseFlush: cfg.NoCloseFlush,
		noScrub:      cfg.NoScrub,
		repl:         cfg.Replicator,
		partOf:       cfg.Partition,
	}
	if err := s.loadCheckpoints(); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, err
	}
	if err := s.seedQueues(); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	registerDBMetrics(cfg.Registerer, db)
	if s.repl != nil {
		s.acks = make(chan *replicating, cfg.PendingSyncs)
		s.acksDone = make(chan struct{})
		go s.waitAcks()
	}
	go s.waitSyncs()
	s.startScrubber()
	if err := s.requestMarkedScrubs(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("read scrub marks: %w", err)
	}
	return s, nil
}

// Close waits for every committed batch to be synced (and acknowledged by the Replicator, which must still be
// running), flushes the memtables, then closes Pebble. It is idempotent. The flush spares the next Open a replay of
// the write-ahead log (up to the memtable's 64 MiB, seconds: the memory bench's restart over a million stored
// conversations took 0.7–2.5 s with it, 6 ms after a flush); a failed flush is logged, and that Open replays.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.pending)
		<-s.done
		if s.repl != nil {
			<-s.acksDone
			if cerr := s.saveCheckpoints(); cerr != nil {
				s.log.Error("save changelog checkpoints; the next start restores from scratch", "err", cerr)
			}
		}
		s.stopScrubber()
		if !s.noCloseFlush {
			if ferr := s.db.Flush(); ferr != nil {
				s.log.Warn("flush before close; the next open replays the write-ahead log", "err", ferr)
			}
		}
		err = s.db.Close()
		s.cache.Unref()
	})
	return err
}

// DB exposes the Pebble handle for metrics and tests.
func (s *Store) DB() *pebble.DB { return s.db }

// waitSyncs releases each batch's effects once its WAL write is synced. Pebble syncs batches from all committers
// together, so waiting on them in commit order costs one fsync per group, not per batch.
func (s *Store) waitSyncs() {
	defer close(s.done)
	if s.repl != nil {
		defer close(s.acks)
	}
	for p := range s.pending {
		err := p.b.SyncWait()
		s.Metrics.observeCommit(p.b)
		if err != nil {
			s.Metrics.SyncErrors.Inc()
			err = fmt.Errorf("sync batch: %w", err)
		}
		if s.repl != nil {
			s.replicate(p, err)
			continue
		}
		s.finish(p, err)
	}
}

// finish releases a durable (or failed) batch's effects: its queue entries, then its done callback.
func (s *Store) finish(p pendingSync, err error) {
	// Released before done runs, so a queue reader woken by done already sees the batch's entries as durable.
	p.owner.releaseSeqs()
	if cerr := p.b.Close(); err == nil && cerr != nil {
		err = cerr
	}
	p.done(err)
}

// Batch is a set of writes committed atomically. It is not safe for concurrent use. Every batch must end in Commit
// or Discard: a batch holding queue entries that does neither keeps the relay and the sender from reading past them.
type Batch struct {
	s *Store
	b *pebble.Batch
	// outboxHold and jobHold claim the queue sequence numbers it took, if any (held is true).
	outboxHold, jobHold seqHold
	// outbox counts the outbox entries in the batch, added to the store's count once it is applied.
	outbox int64
	// sorted has Commit apply the writes in key order (sorted.go).
	sorted bool
	// scratch is reused by the writes that encode a value (PutContact).
	scratch []byte
}

// NewBatch starts a batch.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, b: s.db.NewBatch()} }

// Commit applies b and returns once its writes are visible to reads; done is called from the store's sync goroutine
// after they are durable (or with the error that kept them from being durable). done must not block.
func (s *Store) Commit(b *Batch, done func(error)) error {
	if b.sorted {
		sb, err := sortBatch(s.db, b.b)
		if err != nil {
			b.Discard()
			return err
		}
		_ = b.b.Close()
		b.b = sb
	}
	if err := s.db.ApplyNoSyncWait(b.b, pebble.Sync); err != nil {
		_ = b.b.Close()
		b.releaseSeqs()
		return fmt.Errorf("apply batch: %w", err)
	}
	s.outboxLen.Add(b.outbox)
	s.pending <- pendingSync{b: b.b, owner: b, done: done}
	return nil
}

// Discard drops an uncommitted batch.
func (b *Batch) Discard() {
	_ = b.b.Close()
	b.releaseSeqs()
}

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool { return b.b.Empty() }

func (b *Batch) putJSON(key []byte, v any) error {
	val, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.b.Set(key, val, nil)
}

// PutConversation writes c, keeping the status index, the held index (reads_api.go), the lists' indexes (lists.go)
// and the search postings of its contact (search.go) in step with prev (the zero Conversation if c is new).
func (b *Batch) PutConversation(prev, c *conversation.Conversation) error {
	if prev.Status != c.Status && prev.Status != "" {
		if err := b.b.Delete(statusKey(c.TenantID, prev.Status, c.ID), nil); err != nil {
			return err
		}
	}
	if prev.Status != c.Status {
		if err := b.b.Set(statusKey(c.TenantID, c.Status, c.ID), nil, nil); err != nil {
			return err
		}
	}
	if err := b.putHeld(prev, c); err != nil {
		return err
	}
	if err := b.putLists(prev, c); err != nil {
		return err
	}
	if err := b.indexContact(prev, c); err != nil {
		return err
	}
	return b.putConversation(c)
}

// PutMessage writes m and indexes it by its ids, by the words of its text (search.go) and by the media id it
// carries (media.go).
func (b *Batch) PutMessage(tenant string, m *conversation.Message) error {
	if err := b.putMessage(tenant, m); err != nil {
		return err
	}
	if err := b.indexText(tenant, m); err != nil {
		return err
	}
	if err := b.putMediaRef(tenant, m); err != nil {
		return err
	}
	ref := messageRef(m.ConversationID, m.Seq)
	// Both ids find the message: Switchboard's own (outbound) or the channel's, and the channel's id of an outbound
	// message once the channel accepted it (its status webhooks name it).
	for _, id := range []string{m.ID, m.WAMID} {
		if id == "" {
			continue
		}
		if err := b.b.Set(wamidKey(tenant, id), ref, nil); err != nil {
			return err
		}
	}
	return nil
}

// UpdateMessage writes m, a new state of the stored message prev (a status, the channel's answer), and indexes
// only what changed: the postings of its text if the text changed, its media reference if its media id did, and
// the ids prev did not have (the channel's id, once the channel accepted it). prev must be the message as stored.
func (b *Batch) UpdateMessage(tenant string, prev, m *conversation.Message) error {
	if prev.ConversationID != m.ConversationID || prev.Seq != m.Seq {
		return fmt.Errorf("BUG: update of message %s/%d with message %s/%d", prev.ConversationID, prev.Seq,
			m.ConversationID, m.Seq)
	}
	if err := b.putMessage(tenant, m); err != nil {
		return err
	}
	if m.Text != prev.Text {
		if err := b.indexText(tenant, m); err != nil {
			return err
		}
	}
	if MediaID(m) != MediaID(prev) {
		if err := b.putMediaRef(tenant, m); err != nil {
			return err
		}
	}
	ref := messageRef(m.ConversationID, m.Seq)
	for _, id := range []string{m.ID, m.WAMID} {
		if id == "" || id == prev.ID || id == prev.WAMID {
			continue
		}
		if err := b.b.Set(wamidKey(tenant, id), ref, nil); err != nil {
			return err
		}
	}
	return nil
}

// ParkStatus keeps a status whose message is not known (yet): Meta can report a status before the send that
// produced its wamid is recorded.
func (b *Batch) ParkStatus(tenant string, s *inbox.Status) error {
	return b.putJSON(parkedKey(tenant, s.ID), s)
}

// DeleteParkedStatus drops a parked status once it has been applied.
func (b *Batch) DeleteParkedStatus(tenant, wamid string) error {
	return b.b.Delete(parkedKey(tenant, wamid), nil)
}

// ErrNotFound is returned by lookups that find nothing.
var ErrNotFound = errors.New("not found")

func (s *Store) getJSON(key []byte, v any) error { return getJSON(s.db, key, v) }

// getJSON decodes the value of key as read by r (the store, or a snapshot of it).
func getJSON(r pebble.Reader, key []byte, v any) error {
	return getValue(r, key, func(val []byte) error { return json.Unmarshal(val, v) })
}

// getValue reads the value of key from r and has decode decode it (before Pebble may reuse its buffer).
func getValue(r pebble.Reader, key []byte, decode func(val []byte) error) error {
	val, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer closer.Close()
	if err := decode(val); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// Conversation returns a tenant's conversation, or ErrNotFound.
func (s *Store) Conversation(tenant, id string) (conversation.Conversation, error) {
	var c conversation.Conversation
	err := getConversation(s.db, convKey(tenant, id), &c)
	return c, err
}

// Message returns message seq of a conversation, or ErrNotFound.
func (s *Store) Message(tenant, conv string, seq uint64) (conversation.Message, error) {
	var m conversation.Message
	err := getMessage(s.db, msgKey(tenant, conv, seq), &m)
	return m, err
}

// MessageRef returns the conversation and sequence number of the message with the channel id wamid, or ErrNotFound.
func (s *Store) MessageRef(tenant, wamid string) (conv string, seq uint64, err error) {
	val, closer, err := s.db.Get(wamidKey(tenant, wamid))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", 0, ErrNotFound
	}
	if err != nil {
		return "", 0, fmt.Errorf("get wamid %s: %w", wamid, err)
	}
	defer closer.Close()
	return parseMessageRef(val)
}

// ParkedStatus returns the parked status for wamid, or ErrNotFound.
func (s *Store) ParkedStatus(tenant, wamid string) (inbox.Status, error) {
	var st inbox.Status
	err := s.getJSON(parkedKey(tenant, wamid), &st)
	return st, err
}

// Filter selects conversations for Conversations.
type Filter struct {
	// Status restricts to one status; empty means all.
	Status conversation.Status
	// Assignee restricts to one operator's conversations; empty means anyone's.
	Assignee string
	// After is the cursor: only conversations whose id sorts after it.
	After string
	// Limit is the most returned. 0 means 50.
	Limit int
}

// Conversations lists a tenant's conversations in id order. next is the cursor for the following page, empty at
// the end.
func (s *Store) Conversations(tenant string, f Filter) (list []conversation.Conversation, next string, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var prefix []byte
	if f.Status != "" {
		prefix = statusKey(tenant, f.Status, "")
	} else {
		prefix = convKey(tenant, "")
	}
	lower := prefix
	if f.After != "" {
		lower = append(append([]byte{}, prefix...), f.After...)
		lower = append(lower, 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, "", fmt.Errorf("list conversations: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var c conversation.Conversation
		if f.Status != "" {
			id := string(it.Key()[len(prefix):])
			if c, err = s.Conversation(tenant, id); err != nil {
				return nil, "", fmt.Errorf("list conversations: %w", err)
			}
		} else {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, "", fmt.Errorf("list conversations: %w", err)
			}
			if err := decodeConversation(v, &c); err != nil {
				return nil, "", fmt.Errorf("decode conversation %s: %w", it.Key(), err)
			}
		}
		if f.Assignee != "" && c.AssigneeID != f.Assignee {
			continue
		}
		if len(list) == f.Limit {
			return list, list[len(list)-1].ID, nil
		}
		list = append(list, c)
	}
	return list, "", it.Error()
}

// Messages returns up to limit messages of a conversation with sequence numbers below before (0 means from the
// newest), newest first.
func (s *Store) Messages(tenant, conv string, before uint64, limit int) ([]conversation.Message, error) {
	if limit <= 0 {
		limit = 50
	}
	prefix := msgPrefix(tenant, conv)
	upper := prefixEnd(prefix)
	if before > 0 {
		upper = msgKey(tenant, conv, before)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer it.Close()
	var out []conversation.Message
	for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
		var m conversation.Message
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		if err := decodeMessage(v, &m); err != nil {
			return nil, fmt.Errorf("decode message %s: %w", it.Key(), err)
		}
		out = append(out, m)
	}
	return out, it.Error()
}

// CountMessagesByID counts the stored messages of a tenant whose channel id is wamid, by scanning every message. It
// exists for tests that prove a message is stored exactly once, and is slow on purpose: it trusts no index.
func (s *Store) CountMessagesByID(tenant string) (map[string]int, error) {
	prefix := allMessagesPrefix(tenant)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	counts := map[string]int{}
	for ok := it.First(); ok; ok = it.Next() {
		var m conversation.Message
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if err := decodeMessage(v, &m); err != nil {
			return nil, fmt.Errorf("decode message %s: %w", it.Key(), err)
		}
		counts[m.ID]++
	}
	return counts, it.Error()
}

// quietLogger routes Pebble's informational chatter to debug level.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any)  { q.l.Debug(fmt.Sprintf(format, args...)) }
func (q quietLogger) Errorf(format string, args ...any) { q.l.Error(fmt.Sprintf(format, args...)) }
func (q quietLogger) Fatalf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf("pebble fatal: "+format, args...))
}
