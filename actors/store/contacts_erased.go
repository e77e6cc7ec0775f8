package store

// Erased contacts: an erase leaves "t/<tenant>/t/<contact>", whose value is the erase's input position (offset:8,
// index:8) and nothing else, so an input from before the erase that Kafka delivers again after a restart (a
// contact_create, a contact_import row, a message) does not make the erased contact again: the catalogue ignores
// an input for that contact at an earlier position. An input after the erase creates a fresh contact as before.
// The mark holds the contact id (a hash of the number, as the erased conversation's record keeps its id), never
// a name, a number or a field. A later erase of the same id moves it on.

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	crec "github.com/switchboard-hq/switchboard/actors/contact"
)

// PutContactErased marks contact id erased by the input at pos.
func (b *Batch) PutContactErased(tenant, id string, pos crec.Position) error {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(pos.Offset))
	v = binary.BigEndian.AppendUint64(v, uint64(pos.Index))
	return b.b.Set(erasedContactKey(tenant, id), v, nil)
}

// ErasedContacts returns the position of the latest erase of each erased contact id of a tenant (the catalogue
// keeps them in memory: one entry per contact ever erased, 16 bytes and the id).
func (s *Store) ErasedContacts(tenant string) (map[string]crec.Position, error) {
	prefix := erasedContactKey(tenant, "")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("list erased contacts: %w", err)
	}
	defer it.Close()
	out := map[string]crec.Position{}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("list erased contacts: %w", err)
		}
		if len(v) != 16 {
			return nil, fmt.Errorf("BUG: erased contact %q is %d bytes, want 16", it.Key(), len(v))
		}
		out[string(it.Key()[len(prefix):])] = crec.Position{Offset: int64(binary.BigEndian.Uint64(v)),
			Index: int(binary.BigEndian.Uint64(v[8:]))}
	}
	return out, it.Error()
}
