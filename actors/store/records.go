package store

// The values of conversation and message keys: written in the domain's binary encoding (conversation/codec.go),
// read in it or in JSON, the store's format before issue 15, so a store (or a changelog) holding records an older
// node wrote reads on. Every read of these keys decodes through decodeRecord.

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// record is a conversation or a message (*conversation.Conversation, *conversation.Message).
type record interface {
	AppendBinary(dst []byte) []byte
	BinarySize() int
	UnmarshalBinary(b []byte) error
}

// putRecord sets key to v's binary encoding, encoded straight into the batch.
func (b *Batch) putRecord(key []byte, v record) error {
	n := v.BinarySize()
	op := b.b.SetDeferred(len(key), n)
	copy(op.Key, key)
	if enc := v.AppendBinary(op.Value[:0]); len(enc) != n {
		return fmt.Errorf("BUG: encode %s: %d bytes, BinarySize said %d", key, len(enc), n)
	}
	return op.Finish()
}

// decodeRecord sets v to the record val holds: JSON if it starts with '{' (written before the binary encoding),
// the binary encoding otherwise. v must be a zero value (JSON decodes into what it holds). It copies what it keeps,
// so val may be a buffer Pebble reuses.
func decodeRecord(val []byte, v record) error {
	if len(val) > 0 && val[0] == '{' {
		return json.Unmarshal(val, v)
	}
	return v.UnmarshalBinary(val)
}

// getRecord decodes the value of key as read by r (the store, or a snapshot of it) into v, a zero value.
func getRecord(r pebble.Reader, key []byte, v record) error {
	val, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer closer.Close()
	if err := decodeRecord(val, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}
