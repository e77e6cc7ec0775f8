package store

// Contacts: the record "t/<tenant>/k/<contact>", its search postings "t/<tenant>/r/<token>/<contact>" and the blocked
// index "t/<tenant>/u/<contact>" (value: the contact's wa_id), written together by the tenant's catalogue actor, so
// the postings and the index never drift from the records, even across a kill -9.

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	crec "github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/search"
)

// Bounds of one contact search call. Past them it returns what it found and a cursor to go on from.
var (
	// contactScanLimit is the most postings or records one ContactsSearch call reads.
	contactScanLimit = 5000
	// contactCollectLimit is the most postings of a prefix term read into memory (sorted by contact); a broader
	// prefix is checked on each record in id order instead.
	contactCollectLimit = 20000
)

// Contact returns a tenant's contact, or ErrNotFound.
func (s *Store) Contact(tenant, id string) (crec.Contact, error) {
	// Decoded into a record allocated once the key is found: a contact not there yet (each new customer's
	// first message asks) costs no allocation.
	var c *crec.Contact
	err := getValue(s.db, contactKey(tenant, id), func(val []byte) error {
		c = new(crec.Contact)
		return json.Unmarshal(val, c)
	})
	if err != nil {
		return crec.Contact{}, err
	}
	return *c, nil
}

// PutContact writes c, keeping its search postings and the blocked index in step with prev (nil when c is new).
func (b *Batch) PutContact(tenant string, prev, c *crec.Contact) error {
	// posted are prev's postings; stale may hold more: those an older version indexed (crec.WrittenTokens).
	var posted, stale []string
	if prev != nil {
		posted, stale = crec.Tokens(prev), crec.WrittenTokens(prev)
	}
	now := crec.Tokens(c)
	for _, t := range stale {
		if !slices.Contains(now, t) {
			if err := b.b.Delete(contactPostingKey(tenant, t, c.ID), nil); err != nil {
				return err
			}
		}
	}
	for _, t := range now {
		if !slices.Contains(posted, t) {
			if err := b.b.Set(contactPostingKey(tenant, t, c.ID), nil, nil); err != nil {
				return err
			}
		}
	}
	if wasBlocked := prev != nil && prev.Blocked; wasBlocked != c.Blocked {
		var err error
		if c.Blocked {
			err = b.b.Set(blockedKey(tenant, c.ID), []byte(c.WaID), nil)
		} else {
			err = b.b.Delete(blockedKey(tenant, c.ID), nil)
		}
		if err != nil {
			return err
		}
	}
	var err error
	if b.scratch == nil {
		// One allocation for a typical contact (about 300 bytes), rather than growing from nothing a few times.
		b.scratch = make([]byte, 0, 512)
	}
	if b.scratch, err = c.AppendJSON(b.scratch[:0]); err != nil {
		return fmt.Errorf("encode contact %s: %w", c.ID, err)
	}
	return b.b.Set(contactKey(tenant, c.ID), b.scratch, nil) // Set copies the value
}

// DeleteContact deletes c's record, its search postings and its blocked index entry.
func (b *Batch) DeleteContact(tenant string, c *crec.Contact) error {
	for _, t := range crec.WrittenTokens(c) {
		if err := b.b.Delete(contactPostingKey(tenant, t, c.ID), nil); err != nil {
			return err
		}
	}
	if err := b.b.Delete(blockedKey(tenant, c.ID), nil); err != nil {
		return err
	}
	return b.b.Delete(contactKey(tenant, c.ID), nil)
}

// BlockedContacts returns the wa_id of each blocked contact of a tenant, by contact id (the tenant actor's blocked
// set is rebuilt from it).
func (s *Store) BlockedContacts(tenant string) (map[string]string, error) {
	prefix := blockedKey(tenant, "")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("list blocked contacts: %w", err)
	}
	defer it.Close()
	out := map[string]string{}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("list blocked contacts: %w", err)
		}
		out[string(it.Key()[len(prefix):])] = string(v)
	}
	return out, it.Error()
}

// ContactFilter selects contacts for Contacts.
type ContactFilter struct {
	// Query, when it has terms, keeps the contacts matching all of them (crec.Matches): words of the name and of
	// text and choice fields, the phone number's digits from its start or its last four.
	Query search.Query
	// Blocked, when set, keeps only blocked (true) or only unblocked (false) contacts.
	Blocked *bool
	// After is the cursor: only contacts whose id sorts after it.
	After string
	// Limit is the most returned. 0 means 50.
	Limit int
}

// Contacts lists a tenant's contacts in id order, those f selects. next is the cursor of the following page, empty
// at the end. One call reads a bounded number of records and postings (a search for a rare name in many contacts
// may return fewer than Limit, even none, with a cursor to go on from).
func (s *Store) Contacts(tenant string, f ContactFilter) (list []crec.Contact, next string, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	keep := func(c *crec.Contact) bool {
		if f.Blocked != nil && c.Blocked != *f.Blocked {
			return false
		}
		return len(f.Query.Terms) == 0 || crec.Matches(c, f.Query)
	}
	switch {
	case len(f.Query.Terms) > 0:
		return s.searchContacts(tenant, f, keep)
	case f.Blocked != nil && *f.Blocked:
		return s.contactsByIndex(tenant, blockedKey(tenant, ""), f, keep)
	}
	return s.scanContacts(tenant, f, keep)
}

// scanContacts reads the records in id order after f.After.
func (s *Store) scanContacts(tenant string, f ContactFilter, keep func(*crec.Contact) bool) ([]crec.Contact, string, error) {
	prefix := contactKey(tenant, "")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lowerAfter(prefix, f.After), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, "", fmt.Errorf("list contacts: %w", err)
	}
	defer it.Close()
	var list []crec.Contact
	read, last := 0, ""
	for ok := it.First(); ok; ok = it.Next() {
		if read == contactScanLimit && len(f.Query.Terms) > 0 {
			return list, last, nil
		}
		read++
		last = string(it.Key()[len(prefix):])
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, "", fmt.Errorf("list contacts: %w", err)
		}
		var c crec.Contact
		if err := json.Unmarshal(v, &c); err != nil {
			return nil, "", fmt.Errorf("decode contact %s: %w", it.Key(), err)
		}
		if !keep(&c) {
			continue
		}
		if len(list) == f.Limit {
			return list, list[len(list)-1].ID, nil
		}
		list = append(list, c)
	}
	return list, "", it.Error()
}

// contactsByIndex reads the contacts an index lists in id order ("<prefix><contact id>" keys) after f.After.
func (s *Store) contactsByIndex(tenant string, prefix []byte, f ContactFilter, keep func(*crec.Contact) bool) ([]crec.Contact, string, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lowerAfter(prefix, f.After), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, "", fmt.Errorf("list contacts: %w", err)
	}
	defer it.Close()
	list, next, err := s.contactPage(tenant, func(yield func(string) bool) {
		for ok := it.First(); ok && yield(string(it.Key()[len(prefix):])); ok = it.Next() {
		}
	}, f.Limit, keep)
	if err == nil {
		err = it.Error()
	}
	return list, next, err
}

// contactPage reads the contacts of ids (in id order) and keeps those keep selects, up to limit, reading at most
// contactScanLimit; next is the cursor to go on from, "" when ids ran out.
func (s *Store) contactPage(tenant string, ids iter.Seq[string], limit int, keep func(*crec.Contact) bool) (list []crec.Contact, next string, err error) {
	read, last := 0, ""
	for id := range ids {
		if read == contactScanLimit {
			return list, last, nil
		}
		read, last = read+1, id
		c, err := s.Contact(tenant, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("list contacts: %w", err)
		}
		if !keep(&c) {
			continue
		}
		if len(list) == limit {
			return list, list[len(list)-1].ID, nil
		}
		list = append(list, c)
	}
	return list, "", nil
}

// searchContacts finds the contacts matching f.Query. An exact term (a complete word, or a phone number's digits
// typed as a complete word) drives: its postings are in contact id order, so pages follow them and every candidate
// is checked against the whole query on its record. A query of one prefix term reads the postings of every token
// it begins into memory and sorts them, when there are at most contactCollectLimit; a broader prefix ("a") is
// checked on every record in id order.
func (s *Store) searchContacts(tenant string, f ContactFilter, keep func(*crec.Contact) bool) ([]crec.Contact, string, error) {
	q := f.Query
	exact := len(q.Terms)
	if q.Prefix {
		exact--
	}
	if exact > 0 {
		return s.contactsByIndex(tenant, contactTokenPrefix(tenant, q.Terms[0], false), f, keep)
	}
	prefix := contactTokenPrefix(tenant, q.Terms[0], true)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, "", fmt.Errorf("search contacts: %w", err)
	}
	var ids []string
	broad := false
	for ok := it.First(); ok; ok = it.Next() {
		if len(ids) == contactCollectLimit {
			broad = true
			break
		}
		k := it.Key()[len(prefix):]
		i := slices.Index(k, '/')
		if i < 0 {
			it.Close()
			return nil, "", fmt.Errorf("BUG: contact posting %q malformed", it.Key())
		}
		if id := string(k[i+1:]); id > f.After {
			ids = append(ids, id)
		}
	}
	err = it.Error()
	it.Close()
	if err != nil {
		return nil, "", fmt.Errorf("search contacts: %w", err)
	}
	if broad {
		return s.scanContacts(tenant, f, keep)
	}
	slices.Sort(ids)
	return s.contactPage(tenant, slices.Values(slices.Compact(ids)), f.Limit, keep)
}

// lowerAfter is the first key after prefix+after (prefix itself when after is empty).
func lowerAfter(prefix []byte, after string) []byte {
	if after == "" {
		return prefix
	}
	return append(append(append(make([]byte, 0, len(prefix)+len(after)+1), prefix...), after...), 0)
}
