package store

// The index of held conversations, which answers the operator API's loads without reading conversations.
//
// Key (keys.go): t/<tenant>/h/<operator>/<conversation>, no value, one per conversation that holds its operator's capacity
// (routing.Holds: assigned, or snoozed keeping its operator). PutConversation keeps it in step with each
// conversation in the same batch, so it is exactly as durable as the conversation records it derives from; counting
// an operator's keys is its load. Operator ids are [a-z0-9-] (actors/tenant), so the first '/' after the prefix ends
// the operator id.

import (
	"bytes"
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

// IndexHeld writes c's entry in the held index if it holds an operator. The router's rebuild of a tenant calls it
// for the open conversations it read, so a store written before the index existed gets it; for a store that has
// it, the entries are already there and setting them again changes nothing.
func (b *Batch) IndexHeld(c *conversation.Conversation) error {
	if op := holder(c); op != "" {
		if err := b.b.Set(heldKey(c.TenantID, op, c.ID), nil, nil); err != nil {
			return fmt.Errorf("index held conversation %s: %w", c.ID, err)
		}
	}
	return nil
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
	defer it.Close()
	loads := map[string]int{}
	for ok := it.First(); ok; ok = it.Next() {
		rest := it.Key()[len(prefix):]
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			continue
		}
		loads[string(rest[:i])]++
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read loads of tenant %s: %w", tenant, err)
	}
	return loads, nil
}
