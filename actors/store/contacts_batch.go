package store

// Contacts read by the batch: a contact_import batch upserts up to 500 contacts, and one Get each builds a new
// iterator over every level of the LSM (with its index and filter block reads) each time.

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	crec "github.com/switchboard-hq/switchboard/actors/contact"
)

// ContactsByID returns the tenant's contacts of ids that exist, by id, read with one iterator in key order (a
// prefix seek per id, so the tables' bloom filters skip the ids a table does not hold).
func (s *Store) ContactsByID(tenant string, ids []string) (map[string]*crec.Contact, error) {
	found := make(map[string]*crec.Contact)
	if len(ids) == 0 {
		return found, nil
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = contactKey(tenant, id)
	}
	slices.SortFunc(keys, func(a, b []byte) int { return slices.Compare(a, b) })
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: keys[0], UpperBound: prefixEnd(contactKey(tenant, ""))})
	if err != nil {
		return nil, fmt.Errorf("read contacts of %s: %w", tenant, err)
	}
	defer it.Close()
	prefix := len(contactKey(tenant, ""))
	for i, k := range keys {
		if i > 0 && string(k) == string(keys[i-1]) {
			continue
		}
		if !it.SeekPrefixGE(k) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read contact %s: %w", k, err)
		}
		var c crec.Contact
		if err := json.Unmarshal(v, &c); err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		found[string(k[prefix:])] = &c
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read contacts of %s: %w", tenant, err)
	}
	return found, nil
}

// EachContactID calls fn with the id of every contact of the tenant, in id order, reading only the keys.
func (s *Store) EachContactID(tenant string, fn func(id string)) error {
	prefix := contactKey(tenant, "")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("list the contact ids of %s: %w", tenant, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		fn(string(it.Key()[len(prefix):]))
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("list the contact ids of %s: %w", tenant, err)
	}
	return nil
}
