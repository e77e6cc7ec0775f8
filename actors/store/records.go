package store

// The values of conversation and message keys: written in the domain's binary encoding (conversation/codec.go),
// read in it or in JSON, the store's format before issue 15, so a store (or a changelog) holding records an older
// node wrote reads on. Every read of these keys decodes through decodeConversation or decodeMessage, which tell the
// two formats apart by the first byte (isJSON). Typed rather than behind an interface, so the record a caller reads
// into or writes from stays where it is (an interface call would move it to the heap).

import (
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// putConversation sets c's key to c's binary encoding, encoded straight into the batch (JSON with
// Config.JSONValues).
func (b *Batch) putConversation(c *conversation.Conversation) error {
	if b.s.jsonValues {
		// A copy for the encoder, so that c does not escape: callers keep their conversations on the stack.
		cc := *c
		return b.putJSON(convKey(c.TenantID, c.ID), &cc)
	}
	n := c.BinarySize()
	op := b.deferSet(convKey(c.TenantID, c.ID), n)
	return finishSet(op, c.AppendBinary(op.Value[:0]), n)
}

// putMessage sets m's key to m's binary encoding, encoded straight into the batch (JSON with Config.JSONValues).
func (b *Batch) putMessage(tenant string, m *conversation.Message) error {
	if b.s.jsonValues {
		return b.putJSON(msgKey(tenant, m.ConversationID, m.Seq), m)
	}
	n := m.BinarySize()
	op := b.deferSet(msgKey(tenant, m.ConversationID, m.Seq), n)
	return finishSet(op, m.AppendBinary(op.Value[:0]), n)
}

// deferSet adds a set of key to the batch whose n bytes of value the caller writes into op.Value, then finishSet.
func (b *Batch) deferSet(key []byte, n int) *pebble.DeferredBatchOp {
	op := b.b.SetDeferred(len(key), n)
	copy(op.Key, key)
	return op
}

// finishSet ends a deferred set once its value is encoded: enc is what the encoder returned, appending to
// op.Value[:0], which must have filled the n bytes reserved (a shorter or longer encoding would leave the batch with
// a value that is not the record).
func finishSet(op *pebble.DeferredBatchOp, enc []byte, n int) error {
	if len(enc) != n {
		return fmt.Errorf("BUG: encode %s: %d bytes, the encoder's size said %d", op.Key, len(enc), n)
	}
	return op.Finish()
}

// isJSON reports whether a conversation or message value is JSON: written before the binary encoding, whose
// format byte is never '{'.
func isJSON(val []byte) bool { return len(val) > 0 && val[0] == '{' }

// decodeConversation sets *c to the conversation val holds, in either format. It copies what it keeps, so val may
// be a buffer Pebble reuses.
func decodeConversation(val []byte, c *conversation.Conversation) error {
	if isJSON(val) {
		return decodeJSON(val, c)
	}
	return c.UnmarshalBinary(val)
}

// decodeMessage sets *m to the message val holds, in either format, like decodeConversation.
func decodeMessage(val []byte, m *conversation.Message) error {
	if isJSON(val) {
		return decodeJSON(val, m)
	}
	return m.UnmarshalBinary(val)
}

// decodeJSON sets *v to the JSON val holds, decoded into a zero value as the store read it before the binary
// encoding. Through a copy: handing v itself to encoding/json would move every record read to the heap.
func decodeJSON[T any](val []byte, v *T) error {
	fresh := new(T)
	if err := json.Unmarshal(val, fresh); err != nil {
		return err
	}
	*v = *fresh
	return nil
}

// getConversation reads the conversation at key as r (the store, or a snapshot of it) holds it into *c.
func getConversation(r pebble.Reader, key []byte, c *conversation.Conversation) error {
	return getValue(r, key, func(val []byte) error { return decodeConversation(val, c) })
}

// getMessage reads the message at key as r holds it into *m.
func getMessage(r pebble.Reader, key []byte, m *conversation.Message) error {
	return getValue(r, key, func(val []byte) error { return decodeMessage(val, m) })
}
