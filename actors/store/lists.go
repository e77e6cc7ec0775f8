package store

// The inbox lists' indexes (keys.go): a sorted index per status and sort, the same per owner, and the latest
// mention per operator. PutConversation writes them in the conversation's own batch, so they are exactly as durable
// as the conversation records they derive from (a kill -9 leaves both or neither). It deletes the entries prev had
// and c has not, and sets every entry c has, whether or not it changed: a record written before the indexes existed
// is indexed at its next change, and BackfillLists indexes the others once per tenant.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// Sorts of the lists (ListQuery.Sort).
const (
	// SortWaiting orders by WaitingSince while a conversation waits in the queue, else by the customer's last
	// message (LastInboundAt), else by creation.
	SortWaiting = "waiting"
	// SortActivity orders by LastActivityAt (UpdatedAt in records older than that field).
	SortActivity = "activity"
	// SortCreated orders by CreatedAt.
	SortCreated = "created"
)

// noOwner is the owner of a conversation nobody holds or held: '~' is not an operator id character.
const noOwner = "~"

var (
	listSorts    = []string{SortWaiting, SortActivity, SortCreated}
	listStatuses = []conversation.Status{conversation.Unassigned, conversation.Assigned, conversation.Snoozed, conversation.Closed}
	unreadFlag   = []byte("u")
)

// Owner is the operator a conversation belongs to in the lists: its assignee while open or snoozed, who held it
// last once closed (closing clears the assignee), "" when nobody did.
func Owner(c *conversation.Conversation) string {
	if c.Status == conversation.Closed {
		return c.LastOperatorID
	}
	return c.AssigneeID
}

func sortTime(c *conversation.Conversation, sort string) time.Time {
	switch sort {
	case SortWaiting:
		switch {
		case !c.WaitingSince.IsZero():
			return c.WaitingSince
		case !c.LastInboundAt.IsZero():
			return c.LastInboundAt
		}
		return c.CreatedAt
	case SortActivity:
		if !c.LastActivityAt.IsZero() {
			return c.LastActivityAt
		}
		return c.UpdatedAt
	}
	return c.CreatedAt
}

// listEntry is one index entry of a conversation: its key is keys.buf[start:end].
type listEntry struct {
	start, end int
	unread     bool
}

// listKeys are the index entries a conversation implies, built in one buffer: PutConversation builds them twice
// (previous and new state) for every change, into buffers on putLists' stack, so a usual change allocates none.
type listKeys struct {
	buf  []byte
	ents []listEntry
}

// listEntriesUsual is how many entries a conversation without mentions implies: two per list sort.
const listEntriesUsual = 2 * 3

func (k *listKeys) key(i int) []byte { return k.buf[k.ents[i].start:k.ents[i].end] }

// find returns the index of the entry whose key is key, or -1.
func (k *listKeys) find(key []byte) int {
	for i := range k.ents {
		if bytes.Equal(k.key(i), key) {
			return i
		}
	}
	return -1
}

func (k *listKeys) val(i int) []byte {
	if k.ents[i].unread {
		return unreadFlag
	}
	return nil
}

// buildListKeys returns the entries c implies, none for the zero Conversation, appending the keys to buf[:0] and
// the entries to ents[:0] (either may be nil; a larger one is allocated when they do not fit). It returns them by
// value and holds no closure, so that a caller's buffers stay on its stack.
func buildListKeys(c *conversation.Conversation, buf []byte, ents []listEntry) listKeys {
	k := listKeys{buf: buf[:0], ents: ents[:0]}
	if c.ID == "" {
		return k
	}
	owner := Owner(c)
	ownerUnread := owner != "" && conversation.Unread(c, owner) > 0
	if owner == "" {
		owner = noOwner
	}
	per := 2*len(c.TenantID) + len(c.ID) + len(c.Status) + len(owner) + 64
	if need := per*len(listSorts) + len(c.MentionMarks)*(len(c.TenantID)+len(c.ID)+40); cap(k.buf) < need {
		k.buf = make([]byte, 0, need)
	}
	for _, s := range listSorts {
		t := sortTime(c, s)
		start := len(k.buf)
		k.buf = appendListSuffix(appendListPrefix(k.buf, c.TenantID, c.Status, s), t, c.ID)
		k.ents = append(k.ents, listEntry{start: start, end: len(k.buf)})
		start = len(k.buf)
		k.buf = appendListSuffix(appendOwnerPrefix(k.buf, c.TenantID, owner, c.Status, s), t, c.ID)
		k.ents = append(k.ents, listEntry{start: start, end: len(k.buf), unread: ownerUnread})
	}
	for op, m := range c.MentionMarks {
		start := len(k.buf)
		k.buf = appendListSuffix(appendMentionPrefix(k.buf, c.TenantID, op), m.At, c.ID)
		k.ents = append(k.ents, listEntry{start: start, end: len(k.buf), unread: conversation.MentionUnread(c, op)})
	}
	return k
}

// putLists deletes prev's list entries that c does not have and sets those of c's that prev did not have as they
// are: a change that moves no sort time, status, owner nor unread flag (a status, the channel's answer) writes
// none. Every stored conversation has prev's entries: a record written before the indexes existed got them from
// BackfillLists, which a tenant's rebuild runs before anything writes its conversations.
func (b *Batch) putLists(prev, c *conversation.Conversation) error {
	// Room for both states' keys of a conversation without mentions (about 120 bytes per list sort each).
	var space [768]byte
	var wasEnts, nowEnts [listEntriesUsual]listEntry
	was := buildListKeys(prev, space[:0], wasEnts[:0])
	now := buildListKeys(c, was.buf[len(was.buf):], nowEnts[:0])
	for i := range was.ents {
		if now.find(was.key(i)) >= 0 {
			continue
		}
		if err := b.b.Delete(was.key(i), nil); err != nil {
			return fmt.Errorf("unindex conversation %s from lists: %w", c.ID, err)
		}
	}
	for i := range now.ents {
		if j := was.find(now.key(i)); j >= 0 && was.ents[j].unread == now.ents[i].unread {
			continue
		}
		if err := b.b.Set(now.key(i), now.val(i), nil); err != nil {
			return fmt.Errorf("index conversation %s in lists: %w", c.ID, err)
		}
	}
	return nil
}

// BackfillLists indexes every conversation of tenant in the lists' indexes, once: a store written before they
// existed gets them (open conversations, closed ones too), and a marker key makes every later call a single Get.
// It commits its own batches and waits for them; the router's rebuild of a tenant calls it before anything
// writes the tenant's conversations. It returns how many conversations it indexed.
func (s *Store) BackfillLists(tenant string) (int, error) {
	if _, closer, err := s.db.Get(listsMarkerKey(tenant)); err == nil {
		closer.Close()
		return 0, nil
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("read lists marker of tenant %s: %w", tenant, err)
	}
	n := 0
	b := s.db.NewBatch()
	err := s.eachConversation(s.db, tenant, func(c *conversation.Conversation) error {
		var ents [listEntriesUsual]listEntry
		k := buildListKeys(c, nil, ents[:0])
		for i := range k.ents {
			if err := b.Set(k.key(i), k.val(i), nil); err != nil {
				return err
			}
		}
		n++
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.Sync); err != nil {
				return err
			}
			b = s.db.NewBatch()
		}
		return nil
	})
	if err == nil {
		err = b.Set(listsMarkerKey(tenant), nil, nil)
	}
	if err == nil {
		err = b.Commit(pebble.Sync)
	}
	_ = b.Close()
	if err != nil {
		return 0, fmt.Errorf("backfill lists of tenant %s: %w", tenant, err)
	}
	return n, nil
}

// eachConversation calls f with every conversation record of tenant.
func (s *Store) eachConversation(r pebble.Reader, tenant string, f func(c *conversation.Conversation) error) error {
	prefix := convKey(tenant, "")
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return err
		}
		var c conversation.Conversation
		if err := decodeConversation(v, &c); err != nil {
			_ = it.Close()
			return fmt.Errorf("decode %s: %w", it.Key(), err)
		}
		if err := f(&c); err != nil {
			_ = it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// ListQuery selects and orders a page of a tenant's conversations for ListConversations.
type ListQuery struct {
	// Status restricts to one status; empty means every status.
	Status conversation.Status
	// Owner restricts to one operator's conversations (see Owner); empty means anyone's.
	Owner string
	// Unowned restricts to conversations nobody holds (or, closed, nobody held). Ignored when Owner is set.
	Unowned bool
	// MentionsOf lists the conversations whose notes mention this operator, newest mention first (or last with
	// Asc); Sort is then ignored.
	MentionsOf string
	// Sort is SortWaiting, SortActivity or SortCreated. Empty means SortActivity.
	Sort string
	// Desc orders newest first.
	Desc bool
	// Label, Channel and ClosedBy keep only conversations with that label, on that channel, closed by that
	// operator; empty keeps all.
	Label, Channel, ClosedBy string
	// UnreadFor keeps only conversations with customer messages this operator has not read.
	UnreadFor string
	// Cursor continues a previous page: the next cursor it returned.
	Cursor string
	// Limit is the most conversations returned. 0 means 50.
	Limit int
	// MaxScan bounds the index entries examined in one call, so a filter that matches little costs a bounded
	// read; the call then returns fewer items and a cursor to continue. 0 means 5,000.
	MaxScan int
}

// ErrBadCursor is returned by ListConversations for a cursor it did not make.
var ErrBadCursor = errors.New("malformed cursor")

var cursorEncoding = base64.RawURLEncoding

// ListConversations returns a page of tenant's conversations in q's order, read from one consistent snapshot.
// next is the cursor of the following page, "" at the end; a page may hold fewer than q.Limit items (even none)
// and still have a next cursor when q.MaxScan entries were examined.
func (s *Store) ListConversations(tenant string, q ListQuery) (list []conversation.Conversation, next string, err error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.MaxScan <= 0 {
		q.MaxScan = 5000
	}
	if q.Sort == "" {
		q.Sort = SortActivity
	}
	if !slices.Contains(listSorts, q.Sort) {
		return nil, "", fmt.Errorf("list conversations: unknown sort %q", q.Sort)
	}
	var after []byte
	if q.Cursor != "" {
		after, err = cursorEncoding.DecodeString(q.Cursor)
		if err != nil || len(after) < 10 || after[8] != '/' {
			return nil, "", ErrBadCursor
		}
	}
	statuses := listStatuses
	if q.Status != "" {
		statuses = []conversation.Status{q.Status}
	}
	var prefixes [][]byte
	switch {
	case q.MentionsOf != "":
		prefixes = [][]byte{mentionPrefix(tenant, q.MentionsOf)}
	case q.Owner != "" || q.Unowned:
		owner := q.Owner
		if owner == "" {
			owner = noOwner
		}
		for _, st := range statuses {
			prefixes = append(prefixes, ownerPrefix(tenant, owner, st, q.Sort))
		}
	default:
		for _, st := range statuses {
			prefixes = append(prefixes, listPrefix(tenant, st, q.Sort))
		}
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	m, err := newMerge(snap, prefixes, after, q.Desc)
	if err != nil {
		return nil, "", fmt.Errorf("list conversations of tenant %s: %w", tenant, err)
	}
	defer m.close()
	scanned := 0
	var last []byte
	for suffix := m.next(); suffix != nil; suffix = m.next() {
		if len(list) == q.Limit || scanned == q.MaxScan {
			return list, cursorEncoding.EncodeToString(last), nil
		}
		scanned++
		last = append(last[:0], suffix...)
		id, err := parseListSuffix(suffix)
		if err != nil {
			return nil, "", err
		}
		var c conversation.Conversation
		if err := getConversation(snap, convKey(tenant, id), &c); err != nil {
			return nil, "", fmt.Errorf("list conversations of tenant %s: conversation %s: %w", tenant, id, err)
		}
		if keep(&c, &q) {
			list = append(list, c)
		}
	}
	if err := m.err(); err != nil {
		return nil, "", fmt.Errorf("list conversations of tenant %s: %w", tenant, err)
	}
	return list, "", nil
}

// keep applies q's filters that no index answers.
func keep(c *conversation.Conversation, q *ListQuery) bool {
	switch {
	case q.MentionsOf != "" && q.Status != "" && c.Status != q.Status,
		q.MentionsOf != "" && q.Owner != "" && Owner(c) != q.Owner,
		q.MentionsOf != "" && q.Owner == "" && q.Unowned && Owner(c) != "",
		q.Label != "" && !slices.Contains(c.Labels, q.Label),
		q.Channel != "" && c.ChannelID != q.Channel,
		q.ClosedBy != "" && (c.Status != conversation.Closed || c.ClosedBy != q.ClosedBy),
		q.UnreadFor != "" && conversation.Unread(c, q.UnreadFor) == 0:
		return false
	}
	return true
}

// merge walks several list index prefixes at once in suffix ("<ts:8>/<conv>") order, ascending or descending.
type merge struct {
	its    []*pebble.Iterator
	prefix [][]byte
	ok     []bool
	desc   bool
	e      error
}

func newMerge(r *pebble.Snapshot, prefixes [][]byte, after []byte, desc bool) (*merge, error) {
	m := &merge{prefix: prefixes, desc: desc}
	for _, p := range prefixes {
		o := &pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)}
		if after != nil {
			k := append(append([]byte{}, p...), after...)
			if desc {
				o.UpperBound = k
			} else {
				o.LowerBound = keyAfter(k)
			}
		}
		it, err := r.NewIter(o)
		if err != nil {
			m.close()
			return nil, err
		}
		m.its = append(m.its, it)
		if desc {
			m.ok = append(m.ok, it.Last())
		} else {
			m.ok = append(m.ok, it.First())
		}
	}
	return m, nil
}

// next returns the next suffix, nil at the end; it is valid until the following call.
func (m *merge) next() []byte {
	best := -1
	for i, it := range m.its {
		if !m.ok[i] {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		c := bytes.Compare(it.Key()[len(m.prefix[i]):], m.its[best].Key()[len(m.prefix[best]):])
		if (c < 0) != m.desc && c != 0 {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	it := m.its[best]
	out := append([]byte{}, it.Key()[len(m.prefix[best]):]...)
	if m.desc {
		m.ok[best] = it.Prev()
	} else {
		m.ok[best] = it.Next()
	}
	return out
}

func (m *merge) err() error {
	for _, it := range m.its {
		if err := it.Error(); err != nil {
			return err
		}
	}
	return nil
}

func (m *merge) close() {
	for _, it := range m.its {
		_ = it.Close()
	}
}

// InboxCounts are the inbox tabs' counts for one operator (GET /v1/inbox/counts).
type InboxCounts struct {
	// Unassigned, All (assigned to anyone), Snoozed and Closed count the tenant's conversations in that status.
	Unassigned int `json:"unassigned"`
	All        int `json:"all"`
	Snoozed    int `json:"snoozed"`
	Closed     int `json:"closed"`
	// Mine counts the conversations assigned to the operator.
	Mine int `json:"mine"`
	// Mentions counts the conversations with a note mentioning the operator after their read mark.
	Mentions int `json:"mentions"`
	// Unread counts the conversations assigned to the operator with customer messages they have not read.
	Unread int `json:"unread"`
}

// InboxCounts counts op's tabs by scanning index keys (and the owner and mention indexes' one-byte values), never
// a conversation record: its cost follows the tenant's conversations by status, op's assigned conversations and op's
// mentions.
func (s *Store) InboxCounts(tenant, op string) (InboxCounts, error) {
	var c InboxCounts
	snap := s.db.NewSnapshot()
	defer snap.Close()
	count := func(prefix []byte, flagged *int) (int, error) {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			return 0, err
		}
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			n++
			if flagged != nil {
				v, err := it.ValueAndErr()
				if err != nil {
					_ = it.Close()
					return 0, err
				}
				if len(v) > 0 {
					*flagged++
				}
			}
		}
		return n, errors.Join(it.Error(), it.Close())
	}
	var err error
	for _, x := range []struct {
		n      *int
		prefix []byte
		flag   *int
	}{
		{&c.Unassigned, listPrefix(tenant, conversation.Unassigned, SortCreated), nil},
		{&c.All, listPrefix(tenant, conversation.Assigned, SortCreated), nil},
		{&c.Snoozed, listPrefix(tenant, conversation.Snoozed, SortCreated), nil},
		{&c.Closed, listPrefix(tenant, conversation.Closed, SortCreated), nil},
		{&c.Mine, ownerPrefix(tenant, op, conversation.Assigned, SortCreated), &c.Unread},
		{new(int), mentionPrefix(tenant, op), &c.Mentions},
	} {
		if *x.n, err = count(x.prefix, x.flag); err != nil {
			return InboxCounts{}, fmt.Errorf("count inbox of tenant %s operator %s: %w", tenant, op, err)
		}
	}
	return c, nil
}

// CheckIndexes verifies tenant's list indexes against its conversation records: every entry a record implies is
// there with its value, and no other entry is. It reads everything and exists for tests (a kill -9 must leave them
// in step); the error lists up to ten differences.
func (s *Store) CheckIndexes(tenant string) error {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	want := map[string]string{}
	if err := s.eachConversation(snap, tenant, func(c *conversation.Conversation) error {
		var ents [listEntriesUsual]listEntry
		k := buildListKeys(c, nil, ents[:0])
		for i := range k.ents {
			want[string(k.key(i))] = string(k.val(i))
		}
		return nil
	}); err != nil {
		return fmt.Errorf("check indexes of tenant %s: %w", tenant, err)
	}
	var diffs []string
	for _, p := range listsPrefixes(tenant) {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := string(it.Key())
			v, err := it.ValueAndErr()
			if err != nil {
				_ = it.Close()
				return err
			}
			w, expected := want[k]
			switch {
			case !expected:
				diffs = append(diffs, fmt.Sprintf("stale entry %q", k))
			case w != string(v):
				diffs = append(diffs, fmt.Sprintf("entry %q has %q, want %q", k, v, w))
			}
			delete(want, k)
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return err
		}
	}
	for k := range want {
		diffs = append(diffs, fmt.Sprintf("missing entry %q", k))
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return fmt.Errorf("tenant %s: %d list index differences: %s", tenant, len(diffs), strings.Join(diffs[:min(10, len(diffs))], "; "))
}
