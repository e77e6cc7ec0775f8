package store

// Refused starts: a start refused for a conversation that does not exist leaves nothing in the conversation's record
// (there is none, and writing one would create the conversation), yet its refusal must survive a replay — the
// capacity or the state it was refused for may have changed by the time its record is delivered again. The
// conversation actor records the position of the latest such refusal under t/<tenant>/p/<conv> and skips a replayed
// start at or before it; the start that creates the conversation deletes the entry (the conversation's own Applied
// position takes over).

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// PutRefusedStart records that a start at pos was refused for conversation conv of tenant, which does not exist.
func (b *Batch) PutRefusedStart(tenant, conv string, pos conversation.Position) error {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(pos.Offset))
	v = binary.BigEndian.AppendUint64(v, uint64(pos.Index))
	return b.b.Set(refusedStartKey(tenant, conv), v, nil)
}

// DeleteRefusedStart deletes the record of refused starts of conv.
func (b *Batch) DeleteRefusedStart(tenant, conv string) error {
	return b.b.Delete(refusedStartKey(tenant, conv), nil)
}

// RefusedStart returns the position of the latest refused start of conv, or ErrNotFound.
func (s *Store) RefusedStart(tenant, conv string) (conversation.Position, error) {
	v, closer, err := s.db.Get(refusedStartKey(tenant, conv))
	if errors.Is(err, pebble.ErrNotFound) {
		return conversation.Position{}, ErrNotFound
	}
	if err != nil {
		return conversation.Position{}, fmt.Errorf("get refused start of %s: %w", conv, err)
	}
	defer closer.Close()
	if len(v) != 16 {
		return conversation.Position{}, fmt.Errorf("BUG: refused start of %s is %d bytes, want 16", conv, len(v))
	}
	return conversation.Position{Offset: int64(binary.BigEndian.Uint64(v)), Index: int(binary.BigEndian.Uint64(v[8:]))}, nil
}
