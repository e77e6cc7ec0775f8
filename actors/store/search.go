package store

// The search index: postings "t/<tenant>/f/<token>/<conv>/<field>" (keys.go), written in the batch of the change
// they index, so the index never drifts from the conversations and messages, even across a kill -9. A posting is
// written once, by token: what a conversation holds is read from the conversation itself (its contact, its
// messages' texts) when a query must check one (walk.check) or an erase must find its postings (erase.go). Stores
// written before issue 15 also hold each posting conversation first, "t/<tenant>/g/<conv>/<token>/<field>" (as does
// a store with Config.JSONValues, for a rolling upgrade from such a release); no query reads those, and the changes
// that delete postings (a renamed contact, an erase) delete them too.
//
// A query is a conjunction of terms (actors/search.ParseQuery), the last possibly a prefix. Each term is a cursor
// over conversation ids in order: an exact term seeks in its token's postings; a prefix term is read into memory
// when small, or merges the postings of the tokens it begins, or (broad, beside other terms) is checked on each
// candidate against the candidate's contact and message texts. The cursors leapfrog: each seeks to the candidate the
// previous one found, so a rare term paces a common one by seeks instead of scans. Conversation ids sort in key
// order because their alphabet sorts after "/" (conversation.ValidID: 0-9, a-v), and the postings of one token and
// conversation sort by field: contact name, phone, text.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/search"
)

const (
	// maxExpansions is the most tokens a prefix term stands for: the first ones in key order, so the word typed so
	// far and its shortest completions come first.
	maxExpansions = 256
	// snippetRunes is the longest snippet of a message text.
	snippetRunes = 120
)

// Variables for the tests of the paths they choose.
var (
	// maxSeeks bounds the work of one Search call; past it, the call returns what it found and a cursor to go on.
	maxSeeks = 3000
	// maxMergedTokens is the most tokens a prefix term that is not alone may stand for and still be walked by
	// merging their postings; a broader one is checked on each candidate instead.
	maxMergedTokens = 8
	// maxCollected is the most postings a prefix term may have to be read into memory.
	maxCollected = 20000
)

// denseWord is how many postings make a word common: with only common words beside it, a prefix is checked on the
// candidates they find rather than read into memory.
const denseWord = 5000

// count counts the keys of it, up to max.
func (w *walk) count(it *pebble.Iterator, max int) int {
	if it == nil {
		return 0
	}
	n := 0
	for ok := it.First(); ok && n < max; ok = it.Next() {
		n++
	}
	return n
}

// The fields a search hit can match, as the API names them.
const (
	MatchContactName = "contact_name"
	MatchPhone       = "phone"
	MatchMessage     = "message"
)

// indexContact keeps the postings of the contact's name and phone in step with prev (the zero Conversation if c is
// new): a changed name's tokens that are gone are deleted.
func (b *Batch) indexContact(prev, c *conversation.Conversation) error {
	if prev.Contact.Name != c.Contact.Name {
		if err := b.reindex(c.TenantID, c.ID, fieldName, search.Tokens(prev.Contact.Name), search.Tokens(c.Contact.Name)); err != nil {
			return err
		}
	}
	if prev.Contact.WaID != c.Contact.WaID {
		return b.reindex(c.TenantID, c.ID, fieldPhone, search.PhoneTokens(prev.Contact.WaID), search.PhoneTokens(c.Contact.WaID))
	}
	return nil
}

// reindex replaces the postings of a contact field: a token no longer there loses its posting, in both forms (a
// store written before issue 15 may hold the conversation-first one; keys.go).
func (b *Batch) reindex(tenant, conv string, field byte, old, cur []string) error {
	for _, t := range old {
		if !slices.Contains(cur, t) {
			if err := errors.Join(b.b.Delete(postingKey(tenant, t, conv, field), nil),
				b.b.Delete(forwardKey(tenant, conv, t, field), nil)); err != nil {
				return err
			}
		}
	}
	for _, t := range cur {
		if err := b.setPosting(tenant, t, conv, field, nil); err != nil {
			return err
		}
	}
	return nil
}

// setPosting writes a posting by token; with Config.JSONValues (a rolling upgrade from a release before issue 15)
// also conversation first, which such a release's searches and erases read.
func (b *Batch) setPosting(tenant, token, conv string, field byte, v []byte) error {
	if err := b.b.Set(postingKey(tenant, token, conv, field), v, nil); err != nil {
		return err
	}
	if !b.s.jsonValues {
		return nil
	}
	return b.b.Set(forwardKey(tenant, conv, token, field), v, nil)
}

// indexText writes the postings of a message's text: each token names the message (the latest written holding it).
func (b *Batch) indexText(tenant string, m *conversation.Message) error {
	if m.Text == "" {
		return nil
	}
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], m.Seq)
	for _, t := range search.Tokens(m.Text) {
		if err := b.setPosting(tenant, t, m.ConversationID, fieldText, seq[:]); err != nil {
			return err
		}
	}
	return nil
}

// SearchQuery is a search of a tenant's conversations.
type SearchQuery struct {
	// Text is what the operator typed (actors/search.ParseQuery).
	Text string
	// After is the cursor of a previous page's next; empty starts at the beginning.
	After string
	// Limit is the most hits returned. 0 means 20.
	Limit int
}

// SearchHit is a conversation a query matched, and where the query's first term matched it.
type SearchHit struct {
	Conversation conversation.Conversation
	// Field is MatchContactName, MatchPhone or MatchMessage.
	Field string
	// Seq is the message that matched, for MatchMessage; 0 otherwise.
	Seq uint64
	// Snippet is the matching text: the name, the phone number, or the message text around the match.
	Snippet string
}

// Search returns up to q.Limit of a tenant's conversations that every term of q.Text matches, in conversation id
// order, and the cursor of the next page ("" at the end). A call does bounded work: when it has done enough it
// returns the hits it found (maybe none) with a cursor to continue from.
func (s *Store) Search(tenant string, q SearchQuery) (hits []SearchHit, next string, err error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	pq := search.ParseQuery(q.Text)
	if len(pq.Terms) == 0 {
		return nil, "", nil
	}
	w := &walk{tenant: tenant, db: s.db}
	defer w.close()
	// The prefix term, by what it costs: a prefix of few postings is read whole into memory and leads the leapfrog
	// (it is probably the rarest term); one of few tokens merges their postings; alone, it merges up to
	// maxExpansions tokens; else, with other terms to find candidates, each candidate is checked for it (its contact
	// and message texts), instead of a seek per token at each step.
	terms := make([]term, 0, len(pq.Terms))
	var check string
	for i, t := range pq.Terms {
		if !pq.Prefix || i < len(pq.Terms)-1 {
			terms = append(terms, w.exact(t))
			continue
		}
		// When every other word is common, candidates are plenty: checking each for the prefix beats reading a
		// broad prefix whole.
		dense := len(terms) > 0
		for _, e := range terms {
			dense = dense && w.count(e.(*posting).it, denseWord) == denseWord
		}
		var l *listTerm
		if !dense {
			l = w.collect(t, q.After)
		}
		if l != nil {
			terms = slices.Insert(terms, 0, term(l))
		} else if p := w.expand(t, maxMergedTokens+1); len(p.heads) <= maxMergedTokens {
			terms = append(terms, p)
		} else if len(pq.Terms) == 1 {
			terms = append(terms, w.expand(t, maxExpansions))
		} else {
			check = t
		}
	}
	first := terms[0] // the first word's term, whose match a hit reports
	if len(terms) > 1 && len(pq.Terms) > 1 {
		if _, ok := first.(*listTerm); ok {
			first = terms[1]
		}
	}
	type found struct {
		conv  string
		field byte
		seq   uint64
	}
	var hitsFound []found
	target := q.After
	for {
		conv, st := leapfrog(terms, target, w)
		if st == leapEnd {
			target = ""
			break
		}
		if st == leapBudget {
			target = conv // every conversation before it is ruled out
			break
		}
		if len(hitsFound) == q.Limit {
			target = conv // the first of the next page, or before it
			break
		}
		target = after(conv)
		if check != "" && !w.check(conv, check) {
			continue
		}
		f, seq := first.at()
		hitsFound = append(hitsFound, found{conv, f, seq})
	}
	if w.err != nil {
		return nil, "", fmt.Errorf("search: %w", w.err)
	}
	for _, m := range hitsFound {
		c, err := s.Conversation(tenant, m.conv)
		if errors.Is(err, ErrNotFound) {
			continue // a posting without its conversation: written by a test, never by the actor
		}
		if err != nil {
			return nil, "", fmt.Errorf("search: %w", err)
		}
		h := SearchHit{Conversation: c}
		switch m.field {
		case fieldName:
			h.Field, h.Snippet = MatchContactName, c.Contact.Name
		case fieldPhone:
			h.Field, h.Snippet = MatchPhone, c.Contact.WaID
		default:
			h.Field, h.Seq = MatchMessage, m.seq
			msg, err := s.Message(tenant, m.conv, m.seq)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, "", fmt.Errorf("search: %w", err)
			}
			h.Snippet = search.Snippet(msg.Text, pq, snippetRunes)
		}
		hits = append(hits, h)
	}
	return hits, target, nil
}

// after is the seek target just past conv: its postings end before conv+"0" ("/" + 1), and every id that sorts
// after conv sorts at or after it.
func after(conv string) string { return conv + "0" }

// How a leapfrog ended.
const (
	leapMatch = iota
	leapEnd
	leapBudget
)

// leapfrog finds the first conversation at or after target that every term matches. Out of budget, it returns the
// target it reached: no conversation before it matches.
func leapfrog(terms []term, target string, w *walk) (conv string, state int) {
	cand := target
	for {
		agreed := true
		for _, t := range terms {
			if w.seeks >= maxSeeks {
				return cand, leapBudget
			}
			c, ok := t.seek(cand)
			if !ok {
				return "", leapEnd
			}
			if c != cand {
				cand, agreed = c, false
				break
			}
		}
		if agreed {
			return cand, leapMatch
		}
	}
}

// walk is one Search call's iterators and budget, shared by its terms.
type walk struct {
	db     *pebble.DB
	its    []*pebble.Iterator // to close
	msgs   *pebble.Iterator   // over the tenant's messages, opened by the first check
	tenant string
	seeks  int
	key    []byte
	err    error
}

// iter opens an iterator over the keys that begin with prefix. Each term has its own, so that its seeks go forward
// only and Pebble can continue from where the last one stopped instead of seeking from the top.
func (w *walk) iter(prefix []byte) *pebble.Iterator {
	it, err := w.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		w.err = err
		return nil
	}
	w.its = append(w.its, it)
	return it
}

func (w *walk) close() {
	for _, it := range w.its {
		_ = it.Close()
	}
}

// check reports whether conversation conv has a token that begins with prefix: a token of one of its messages'
// texts, or of its contact's name or phone, as indexText and indexContact make them (so exactly the tokens its
// postings hold). It reads the conversation's messages, then its record, one budget step each.
func (w *walk) check(conv, prefix string) bool {
	if w.msgs == nil {
		if w.msgs = w.iter(allMessagesPrefix(w.tenant)); w.msgs == nil {
			return false
		}
	}
	w.key = append(w.key[:0], msgPrefix(w.tenant, conv)...)
	var m conversation.Message
	for ok := w.msgs.SeekGE(w.key); ok && bytes.HasPrefix(w.msgs.Key(), w.key); ok = w.msgs.Next() {
		w.seeks++
		v, err := w.msgs.ValueAndErr()
		if err == nil {
			err = decodeMessage(v, &m)
		}
		if err != nil {
			w.fail(fmt.Errorf("message %q: %w", w.msgs.Key(), err))
			return false
		}
		if search.HasPrefix(m.Text, prefix) {
			return true
		}
	}
	if err := w.msgs.Error(); err != nil {
		w.fail(err)
		return false
	}
	w.seeks++
	var c conversation.Conversation
	err := getConversation(w.db, convKey(w.tenant, conv), &c)
	if errors.Is(err, pebble.ErrNotFound) {
		return false // a posting without its conversation: written by a test, never by the actor
	}
	if err != nil {
		w.fail(err)
		return false
	}
	if search.HasPrefix(c.Contact.Name, prefix) {
		return true
	}
	return strings.Trim(prefix, "0123456789") == "" && slices.ContainsFunc(search.PhoneTokens(c.Contact.WaID),
		func(t string) bool { return strings.HasPrefix(t, prefix) })
}

// fail keeps the walk's first error.
func (w *walk) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// term is a cursor over the conversations a query term matches, in id order.
type term interface {
	// seek moves to the first conversation at or after target (a conversation id or after's result); false when
	// there is none.
	seek(target string) (conv string, ok bool)
	// at is the field and message seq of the posting the cursor is on.
	at() (field byte, seq uint64)
}

// posting is the cursor of one token.
type posting struct {
	w      *walk
	it     *pebble.Iterator // nil when the walk failed to open it
	prefix []byte           // "t/<tenant>/f/<token>/"
	moved  bool             // conv, field and seq hold a posting at or after the last target
	done   bool
	conv   string
	field  byte
	seq    uint64
}

func (w *walk) exact(token string) *posting {
	p := &posting{w: w, prefix: tokenPrefix(w.tenant, token, false)}
	p.it = w.iter(p.prefix)
	return p
}

func (p *posting) seek(target string) (string, bool) {
	if p.done || p.it == nil {
		return "", false
	}
	if p.moved && p.conv >= target {
		return p.conv, true
	}
	w := p.w
	w.seeks++
	w.key = append(append(w.key[:0], p.prefix...), target...)
	if !p.it.SeekGE(w.key) || !bytes.HasPrefix(p.it.Key(), p.prefix) {
		if err := p.it.Error(); err != nil && w.err == nil {
			w.err = err
		}
		p.done = true
		return "", false
	}
	k := p.it.Key()
	rest := k[len(p.prefix):]
	if len(rest) < 3 || rest[len(rest)-2] != '/' {
		w.err = fmt.Errorf("BUG: search posting %q malformed", k)
		p.done = true
		return "", false
	}
	p.moved, p.conv, p.field, p.seq = true, string(rest[:len(rest)-2]), rest[len(rest)-1], 0
	if p.field == fieldText {
		v, err := p.it.ValueAndErr()
		if err != nil || len(v) != 8 {
			w.err = fmt.Errorf("search posting %q: value %x: %v", k, v, err)
			p.done = true
			return "", false
		}
		p.seq = binary.BigEndian.Uint64(v)
	}
	return p.conv, true
}

func (p *posting) at() (byte, uint64) { return p.field, p.seq }

// prefixTerm is the cursor of a prefix: the merge of its tokens' cursors.
type prefixTerm struct {
	heads []*posting
	cur   *posting
}

// expand finds up to max tokens that begin with prefix, one seek each: after a token's first posting the walk jumps
// past all of them.
func (w *walk) expand(prefix string, max int) *prefixTerm {
	t := &prefixTerm{}
	open := tokenPrefix(w.tenant, prefix, true)
	it := w.iter(open)
	if it == nil {
		return t
	}
	base := len(postingsPrefix(w.tenant))
	w.key = append(w.key[:0], open...)
	for len(t.heads) < max && w.seeks < maxSeeks {
		w.seeks++
		if !it.SeekGE(w.key) || !bytes.HasPrefix(it.Key(), open) {
			break
		}
		k := it.Key()
		tok, _, _, err := parsePosting(k[base:])
		if err != nil {
			w.err = err
			break
		}
		p := &posting{w: w, it: it, prefix: append(append(make([]byte, 0, base+len(tok)+1), k[:base]...), tok...)}
		p.prefix = append(p.prefix, '/')
		t.heads = append(t.heads, p)
		w.key = append(append(w.key[:0], p.prefix[:len(p.prefix)-1]...), '0') // past every posting of tok
	}
	if err := it.Error(); err != nil && w.err == nil {
		w.err = err
	}
	return t
}

func (t *prefixTerm) seek(target string) (string, bool) {
	t.cur = nil
	live := t.heads[:0]
	for _, h := range t.heads {
		c, ok := h.seek(target)
		if !ok {
			continue
		}
		live = append(live, h)
		if t.cur == nil || c < t.cur.conv || (c == t.cur.conv && h.field < t.cur.field) {
			t.cur = h
		}
	}
	t.heads = live
	if t.cur == nil {
		return "", false
	}
	return t.cur.conv, true
}

func (t *prefixTerm) at() (byte, uint64) { return t.cur.at() }

// MissingPostings returns, for each stored message text and contact of a tenant, the keys of the postings the index
// lacks: the by-token form, which every store holds (one written before issue 15 holds the conversation-first form
// too, which no query reads). It reads every conversation and message and trusts no index: it exists for tests that
// prove the index never drifts (a kill -9 among them), and is slow on purpose.
func (s *Store) MissingPostings(tenant string) ([]string, error) {
	var missing []string
	has := func(conv string, field byte, tok string) error {
		k := postingKey(tenant, tok, conv, field)
		_, closer, err := s.db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			missing = append(missing, string(k))
			return nil
		}
		if err != nil {
			return err
		}
		return closer.Close()
	}
	var next string
	for {
		list, after, err := s.Conversations(tenant, Filter{After: next, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			for _, t := range search.Tokens(c.Contact.Name) {
				if err := has(c.ID, fieldName, t); err != nil {
					return nil, err
				}
			}
			for _, t := range search.PhoneTokens(c.Contact.WaID) {
				if err := has(c.ID, fieldPhone, t); err != nil {
					return nil, err
				}
			}
		}
		if after == "" {
			break
		}
		next = after
	}
	prefix := allMessagesPrefix(tenant)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var m conversation.Message
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if err := decodeMessage(v, &m); err != nil {
			return nil, fmt.Errorf("decode message %s: %w", it.Key(), err)
		}
		for _, t := range search.Tokens(m.Text) {
			if err := has(m.ConversationID, fieldText, t); err != nil {
				return nil, err
			}
		}
	}
	return missing, it.Error()
}

// listTerm is a prefix term read into memory: the conversations whose postings begin with the prefix, in id order,
// each with its first field.
type listTerm struct {
	convs  []string
	fields []byte
	seqs   []uint64
	i      int
}

// collect reads the postings of the tokens prefix begins (for conversations at or after from) into a listTerm, or
// returns nil if there are more than maxCollected.
func (w *walk) collect(prefix, from string) *listTerm {
	open := tokenPrefix(w.tenant, prefix, true)
	it := w.iter(open)
	if it == nil {
		return nil
	}
	w.seeks++
	type entry struct {
		conv  string
		field byte
		seq   uint64
	}
	// Counted first, without decoding, so that a broad prefix costs only the steps to find it is broad.
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n > maxCollected {
			return nil
		}
	}
	es := make([]entry, 0, n)
	base := len(postingsPrefix(w.tenant))
	for ok := it.First(); ok; ok = it.Next() {
		_, conv, field, err := parsePosting(it.Key()[base:])
		if err != nil {
			w.err = err
			return nil
		}
		if string(conv) < from {
			continue
		}
		e := entry{conv: string(conv), field: field}
		if field == fieldText {
			v, err := it.ValueAndErr()
			if err != nil || len(v) != 8 {
				w.err = fmt.Errorf("search posting %q: value %x: %v", it.Key(), v, err)
				return nil
			}
			e.seq = binary.BigEndian.Uint64(v)
		}
		es = append(es, e)
	}
	if err := it.Error(); err != nil {
		w.err = err
		return nil
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := strings.Compare(a.conv, b.conv); c != 0 {
			return c
		}
		return int(a.field) - int(b.field)
	})
	l := &listTerm{}
	for _, e := range es {
		if n := len(l.convs); n > 0 && l.convs[n-1] == e.conv {
			continue // the conversation's first field is kept
		}
		l.convs, l.fields, l.seqs = append(l.convs, e.conv), append(l.fields, e.field), append(l.seqs, e.seq)
	}
	return l
}

func (l *listTerm) seek(target string) (string, bool) {
	if l.i < len(l.convs) && l.convs[l.i] < target {
		l.i += sort.SearchStrings(l.convs[l.i:], target)
	}
	if l.i == len(l.convs) {
		return "", false
	}
	return l.convs[l.i], true
}

func (l *listTerm) at() (byte, uint64) { return l.fields[l.i], l.seqs[l.i] }
