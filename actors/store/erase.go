package store

// Erasing a customer (issue 12, the right to be forgotten) in two steps:
//
//  1. EraseConversation deletes, in the batch of the conversation's erase, every message of the conversation, their
//     entries in the message id index, the conversation's search postings (those of its texts, and both forms of
//     a store written before issue 15; its contact's go with the erased record) and the statuses parked for the
//     customer. The conversation record itself stays, without the customer (conversation.Erase).
//  2. The same batch holds a scrub mark (MarkScrub). Once that batch is durable, RequestScrub asks the store's
//     scrubber to make sure no copy survives in Pebble's files: a deleted key's older values live on in older
//     tables and in the WAL until a compaction drops them and the log is gone. The scrubber (one goroutine, off the
//     actors) flushes the memtable, compacts the tenant's key range and the outbox (whose events carried message
//     previews) to the bottom level, where the deletions drop the old values and then themselves, waits for the
//     replaced tables to be deleted, and deletes the write-ahead logs Pebble keeps for recycling.
//
// A scrub deletes the marks it covered once it is done; a store that opens with marks left (it stopped between an
// erase and its scrub) scrubs those tenants at once.
//
// Pebble recycles WAL files: an obsolete log is kept and later renamed and overwritten from its start, so the tail
// of an old log — older batches, the customer's text among them — would survive in the new one. The store opens
// Pebble on noRecycleFS, whose ReuseForWrite removes the old file and creates a fresh one (Pebble's contract for
// ReuseForWrite allows it), and the scrubber deletes the logs waiting in Pebble's recycle list, so a scrub leaves no
// log but the live ones, which hold only batches written after the flush.
//
// What the files still hold after a scrub: Pebble's MANIFEST records each table's smallest and largest key; a key of
// a search posting holds a word or the phone digits, so a deleted table whose boundary was such a key stays named
// there until the MANIFEST rolls over (MaxManifestFileSize) and the previous one is deleted. Blocks freed by the
// filesystem are not overwritten: that is the disk's business (full-disk encryption).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/search"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// EraseConversation adds to b the deletion of what er names (conversation.Erasure): the conversation's messages up
// to er.Through with their message id index entries and media references (DeleteMediaRef), the search postings of
// their texts (erasePostings), and the statuses parked for er.WaID; and the scrub mark of the erase (MarkScrub).
// The caller writes the erased conversation record in the same batch (PutConversation), which deletes the postings
// of the contact's name and phone (indexContact). It reads the committed state: the conversation's single writer
// calls it.
func (b *Batch) EraseConversation(tenant string, er *conversation.Erasure) error {
	conv := er.ConversationID
	prefix := msgPrefix(tenant, conv)
	it, err := b.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: msgKey(tenant, conv, er.Through+1)})
	if err != nil {
		return fmt.Errorf("erase messages of %s: %w", conv, err)
	}
	tokens := map[string]struct{}{} // of the messages' texts
	for ok := it.First(); ok; ok = it.Next() {
		var m conversation.Message
		v, err := it.ValueAndErr()
		if err == nil {
			err = decodeMessage(v, &m)
		}
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("erase message %s: %w", it.Key(), err)
		}
		for _, t := range search.Tokens(m.Text) {
			tokens[t] = struct{}{}
		}
		if err := b.b.Delete(it.Key(), nil); err != nil {
			_ = it.Close()
			return err
		}
		for _, id := range []string{m.ID, m.WAMID} {
			if id == "" {
				continue
			}
			if err := b.b.Delete(wamidKey(tenant, id), nil); err != nil {
				_ = it.Close()
				return err
			}
		}
		if err := b.DeleteMediaRef(b.s, tenant, &m); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("erase messages of %s: %w", conv, err)
	}
	if err := b.erasePostings(tenant, conv, tokens); err != nil {
		return err
	}
	if err := b.MarkScrub(tenant, conv); err != nil {
		return err
	}
	if er.WaID == "" {
		return nil
	}
	return b.eraseParked(tenant, er.WaID)
}

// scrubMarks numbers scrub marks, so a scrub deletes a mark only if no erase wrote it again since the scrub began.
var scrubMarks atomic.Uint64

// MarkScrub records in b that tenant's files must be scrubbed for the erase of id (a conversation or a contact): the
// mark is durable with the erase, and deleted by the scrub that covers it. A store that opens with marks left scrubs
// their tenants.
func (b *Batch) MarkScrub(tenant, id string) error {
	v := strconv.AppendUint(strconv.AppendInt(nil, time.Now().UnixNano(), 36), scrubMarks.Add(1), 36)
	return b.b.Set(scrubMarkKey(tenant, id), v, nil)
}

// scrubMarksOf returns the scrub marks of tenants (every tenant's when nil), key to value.
func (s *Store) scrubMarksOf(tenants []string) (map[string]string, error) {
	marks := map[string]string{}
	prefixes := [][]byte{[]byte(scrubMarkPrefix)}
	if tenants != nil {
		prefixes = prefixes[:0]
		for _, t := range tenants {
			prefixes = append(prefixes, scrubMarkKey(t, ""))
		}
	}
	for _, p := range prefixes {
		if err := s.eachKey(p, func(k, v []byte) error { marks[string(k)] = string(v); return nil }); err != nil {
			return nil, fmt.Errorf("read scrub marks: %w", err)
		}
	}
	return marks, nil
}

// clearScrubMarks deletes the marks a finished scrub covered: those still holding the value they had when it began.
func (s *Store) clearScrubMarks(marks map[string]string) error {
	if len(marks) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for k, v := range marks {
		cur, closer, err := s.db.Get([]byte(k))
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read scrub mark: %w", err)
		}
		same := string(cur) == v
		_ = closer.Close()
		if same {
			if err := b.Delete([]byte(k), nil); err != nil {
				return err
			}
		}
	}
	return s.db.Apply(b, pebble.Sync)
}

// requestMarkedScrubs asks for a scrub of every tenant with a scrub mark left: the store stopped between an erase
// and its scrub.
func (s *Store) requestMarkedScrubs() error {
	marks, err := s.scrubMarksOf(nil)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for k := range marks {
		t, err := parseScrubMarkKey([]byte(k))
		if err != nil {
			return err
		}
		if !seen[t] {
			seen[t] = true
			s.RequestScrub(t)
		}
	}
	return nil
}

// erasePostings deletes the search postings of a conversation's texts: the posting of each token of its messages'
// texts (tokens), and every posting a store written before issue 15 lists conversation first, with its by-token
// twin. The tokens are deleted in order, so the same erase makes the same batch.
func (b *Batch) erasePostings(tenant, conv string, tokens map[string]struct{}) error {
	prefix := convTermsKey(tenant, conv, "", true)
	it, err := b.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("erase postings of %s: %w", conv, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		rest := it.Key()[len(prefix):] // "<token>/<field>"
		if len(rest) < 3 || rest[len(rest)-2] != '/' {
			_ = it.Close()
			return fmt.Errorf("BUG: forward posting %q malformed", it.Key())
		}
		token, field := string(rest[:len(rest)-2]), rest[len(rest)-1]
		if field == fieldText {
			delete(tokens, token) // deleted here
		}
		err := errors.Join(b.b.Delete(it.Key(), nil), b.b.Delete(postingKey(tenant, token, conv, field), nil))
		if err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("erase postings of %s: %w", conv, err)
	}
	for _, t := range slices.Sorted(maps.Keys(tokens)) {
		if err := b.b.Delete(postingKey(tenant, t, conv, fieldText), nil); err != nil {
			return err
		}
	}
	return nil
}

// eraseParked deletes the statuses parked for messages to waID (a tenant keeps few: each waits for its message).
func (b *Batch) eraseParked(tenant, waID string) error {
	prefix := tenantKey(0, tenant, 's')
	it, err := b.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("erase parked statuses: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		var st inbox.Status
		v, err := it.ValueAndErr()
		if err == nil {
			err = json.Unmarshal(v, &st)
		}
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("erase parked status %s: %w", it.Key(), err)
		}
		if st.RecipientID != waID {
			continue
		}
		if err := b.b.Delete(it.Key(), nil); err != nil {
			_ = it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// noRecycleFS is the filesystem the store opens Pebble on: it never reuses a write-ahead log. Pebble renames an
// obsolete log and overwrites it from the start, so older batches would survive past the new log's end; this one
// removes the old file and creates a new one instead, which ReuseForWrite's contract allows.
type noRecycleFS struct{ vfs.FS }

func (fs noRecycleFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.FS.Remove(oldname); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return nil, err
	}
	return fs.FS.Create(newname, category)
}

// scrubQueueCap bounds the tenants waiting for a scrub; past it a scrub of the whole store is queued instead, which
// covers them all.
const scrubQueueCap = 256

// scrubber runs scrubs one after another, off the actors. Requests coalesce: a tenant asked for twice before its
// scrub starts is scrubbed once.
type scrubber struct {
	mu      sync.Mutex
	tenants map[string]struct{}
	all     bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// RequestScrub asks for a scrub of tenant's key range (see the file comment), to run after every erase whose batch
// is durable. It never blocks; the scrub runs soon after, on the store's scrubber goroutine.
func (s *Store) RequestScrub(tenant string) {
	if s.noScrub {
		s.Metrics.ScrubsRequested.Inc()
		return
	}
	sc := &s.scrub
	sc.mu.Lock()
	if len(sc.tenants) >= scrubQueueCap {
		sc.all = true
	} else {
		sc.tenants[tenant] = struct{}{}
	}
	sc.mu.Unlock()
	s.Metrics.ScrubsRequested.Inc()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

func (s *Store) startScrubber() {
	s.scrub = scrubber{tenants: map[string]struct{}{}, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{})}
	go s.runScrubs()
}

// stopScrubber stops the scrubber after the scrub it is running, if any.
func (s *Store) stopScrubber() {
	close(s.scrub.stop)
	<-s.scrub.done
}

func (s *Store) runScrubs() {
	sc := &s.scrub
	defer close(sc.done)
	for {
		select {
		case <-sc.stop:
			return
		case <-sc.wake:
		}
		sc.mu.Lock()
		tenants, all := make([]string, 0, len(sc.tenants)), sc.all
		for t := range sc.tenants {
			tenants = append(tenants, t)
		}
		clear(sc.tenants)
		sc.all = false
		sc.mu.Unlock()
		if len(tenants) == 0 && !all {
			continue
		}
		if all {
			tenants = nil
		}
		slices.Sort(tenants)
		start := time.Now()
		if err := s.Scrub(context.Background(), tenants); err != nil {
			s.Metrics.ScrubErrors.Inc()
			s.log.Error("scrubbing erased data failed", "tenants", tenants, "err", err)
			continue
		}
		s.Metrics.ScrubSeconds.Observe(time.Since(start).Seconds())
	}
}

// Scrub makes sure the deleted data of tenants (every tenant when tenants is nil) survives in none of Pebble's
// files: it flushes the memtable, compacts the tenants' key ranges and the outbox to the bottom level, waits (up to
// scrubWait) for the tables that compaction replaced to be deleted, and deletes the write-ahead logs kept for
// recycling. It returns once done; RequestScrub runs it in the background.
func (s *Store) Scrub(ctx context.Context, tenants []string) error {
	marks, err := s.scrubMarksOf(tenants)
	if err != nil {
		return fmt.Errorf("scrub: %w", err)
	}
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("scrub: flush: %w", err)
	}
	var ranges [][2][]byte
	if tenants == nil {
		ranges = append(ranges, [2][]byte{{0}, {0xff}})
	} else {
		ranges = append(ranges, [2][]byte{[]byte(outboxPrefix), []byte(outboxEnd)})
		for _, t := range tenants {
			p := tenantPrefix(t)
			ranges = append(ranges, [2][]byte{p, prefixEnd(p)})
		}
	}
	// A snapshot open while a compaction runs keeps the older values it can see: Pebble counts such keys
	// (PinnedKeys). A pass that any compaction pinned keys during is run again, as the snapshot (a page of a list,
	// short-lived) is gone by then.
	for pass := 1; ; pass++ {
		pinned := s.db.Metrics().Snapshots.PinnedKeys
		for _, r := range ranges {
			if err := s.db.Compact(ctx, r[0], r[1], false); err != nil {
				return fmt.Errorf("scrub: compact %q: %w", r[0], err)
			}
		}
		again := s.db.Metrics().Snapshots.PinnedKeys != pinned
		if afterScrubPass != nil {
			afterScrubPass(pass)
		}
		if !again {
			break
		}
		if pass == scrubPasses {
			return fmt.Errorf("scrub: open snapshots kept older values through %d compactions", pass)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := s.waitObsoleteTables(ctx); err != nil {
		return err
	}
	if err := s.removeRecycledLogs(); err != nil {
		return err
	}
	if err := s.clearScrubMarks(marks); err != nil {
		return fmt.Errorf("scrub: %w", err)
	}
	return nil
}

// afterScrubPass, when set (by tests), is called after each compaction pass of a scrub.
var afterScrubPass func(pass int)

// scrubPasses bounds the compactions of one scrub that open snapshots may defeat.
const scrubPasses = 5

// scrubWait bounds a scrub's wait for the replaced tables to be deleted: an open iterator keeps its tables until it
// closes, and the store's iterators are short-lived.
const scrubWait = 30 * time.Second

func (s *Store) waitObsoleteTables(ctx context.Context) error {
	deadline := time.Now().Add(scrubWait)
	for {
		m := s.db.Metrics()
		if m.Table.ObsoleteCount == 0 && m.Table.ZombieCount == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scrub: %d obsolete and %d zombie tables still on disk after %s", m.Table.ObsoleteCount,
				m.Table.ZombieCount, scrubWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// removeRecycledLogs deletes the write-ahead logs Pebble keeps for recycling. Log numbers only grow, and the live
// logs are the newest ones (Pebble's metrics count them); every older log holds only batches already flushed. The
// directory is listed before the count is read, so a log created in between is kept, never deleted live.
func (s *Store) removeRecycledLogs() error {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return fmt.Errorf("scrub: list %s: %w", s.dir, err)
	}
	var logs []uint64
	for _, n := range names {
		if num, ok := strings.CutSuffix(n, ".log"); ok {
			if v, err := strconv.ParseUint(num, 10, 64); err == nil {
				logs = append(logs, v)
			}
		}
	}
	live := int(s.db.Metrics().WAL.Files)
	if live < 1 {
		live = 1
	}
	slices.Sort(logs)
	for i := 0; i < len(logs)-live; i++ {
		name := s.fs.PathJoin(s.dir, fmt.Sprintf("%06d.log", logs[i]))
		if err := s.fs.Remove(name); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("scrub: remove recycled log %s: %w", name, err)
		}
	}
	return nil
}
