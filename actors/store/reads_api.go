package store

// The index of held conversations, which answers the operator API's loads without reading conversations.
//
// Key (keys.go): t/<tenant>/h/<operator>/<conversation>, no value, one per conversation that holds its operator's capacity
// (routing.Holds: assigned, or snoozed keeping its operator). PutConversation keeps it in step with each
// conversation in the same batch, so it is exactly as durable as the conversation records it derives from; counting
// an operator's keys is its load. The router's rebuild of a tenant repairs it (RepairHeld): a store written before
// the index existed gets it, and an entry that drifted goes. Operator ids are [a-z0-9-] (actors/tenant), so the first '/' after the prefix ends
// the operator id.

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/routing"
)

// holder is the operator whose capacity c holds, "" if none.
func holder(c *conversation.Conversation) string {
	if routing.Holds(routing.Status(c.Status), c.AssigneeID) {
		return c.AssigneeID
	}
	return ""
}

// putHeld moves c's entry in the held index when the operator it holds changed since prev.
func (b *Batch) putHeld(prev, c *conversation.Conversation) error {
	was, now := holder(prev), holder(c)
	if was == now {
		return nil
	}
	if was != "" {
		if err := b.b.Delete(heldKey(c.TenantID, was, c.ID), nil); err != nil {
			return fmt.Errorf("unindex held conversation %s: %w", c.ID, err)
		}
	}
	if now != "" {
		if err := b.b.Set(heldKey(c.TenantID, now, c.ID), nil, nil); err != nil {
			return fmt.Errorf("index held conversation %s: %w", c.ID, err)
		}
	}
	return nil
}

// IndexHeld sets c's entry in the held index if c holds an operator, and does nothing otherwise. Setting an entry
// that is there changes nothing.
func (b *Batch) IndexHeld(c *conversation.Conversation) error {
	if op := holder(c); op != "" {
		if err := b.b.Set(heldKey(c.TenantID, op, c.ID), nil, nil); err != nil {
			return fmt.Errorf("index held conversation %s: %w", c.ID, err)
		}
	}
	return nil
}

// UnindexHeld deletes the held index's entry saying that conversation holds operator's capacity, if there is one.
func (b *Batch) UnindexHeld(tenant, operator, conversation string) error {
	if err := b.b.Delete(heldKey(tenant, operator, conversation), nil); err != nil {
		return fmt.Errorf("unindex held conversation %s: %w", conversation, err)
	}
	return nil
}

// RepairHeld makes tenant's held index say exactly what open says: open must be every conversation of tenant that
// can hold an operator (unassigned, assigned and snoozed). It reads the index as committed, sets the entries open
// implies and the index lacks, deletes those it holds and open does not imply, and returns how many it wrote; an
// index in step costs one scan of it (at most the sum of the capacities) and no write. The router's rebuild of a
// tenant calls it, while nothing else writes the tenant's conversations, so a store written before the index
// existed, or an index that drifted from the conversations, is exact again before anything reads it.
func (b *Batch) RepairHeld(tenant string, open []conversation.Conversation) (int, error) {
	want := make(map[string]struct{})
	for i := range open {
		c := &open[i]
		if c.TenantID != tenant {
			return 0, fmt.Errorf("BUG: repair the held index of tenant %s with a conversation of tenant %s", tenant, c.TenantID)
		}
		if op := holder(c); op != "" {
			want[string(heldKey(tenant, op, c.ID))] = struct{}{}
		}
	}
	prefix := heldPrefix(tenant)
	it, err := b.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, fmt.Errorf("read held index of tenant %s: %w", tenant, err)
	}
	written := 0
	for ok := it.First(); ok; ok = it.Next() {
		if _, keep := want[string(it.Key())]; keep {
			delete(want, string(it.Key()))
			continue
		}
		if err := b.b.Delete(it.Key(), nil); err != nil {
			_ = it.Close()
			return 0, fmt.Errorf("delete stale held index entry %q: %w", it.Key(), err)
		}
		written++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, fmt.Errorf("read held index of tenant %s: %w", tenant, err)
	}
	for k := range want {
		if err := b.b.Set([]byte(k), nil, nil); err != nil {
			return 0, fmt.Errorf("set held index entry %q: %w", k, err)
		}
		written++
	}
	return written, nil
}

// OperatorLoads returns how many conversations each of tenant's operators holds (routing.Holds); operators holding
// none are absent. It reads the held index's keys, so its cost follows the conversations held (at most the sum of
// the capacities), not the conversations open.
func (s *Store) OperatorLoads(tenant string) (map[string]int, error) {
	prefix := heldPrefix(tenant)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("read loads of tenant %s: %w", tenant, err)
	}
	loads := map[string]int{}
	for ok := it.First(); ok; ok = it.Next() {
		rest := it.Key()[len(prefix):]
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			continue
		}
		loads[string(rest[:i])]++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("read loads of tenant %s: %w", tenant, err)
	}
	return loads, nil
}
