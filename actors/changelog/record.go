// Package changelog is the record format of switchboard.changelog, the compacted topic every durable write of a
// partition's tenants is copied to, so that the partition's state can be restored from Kafka on the node that is
// assigned it (docs/design.md, "Beyond one node"; README, "Changelog").
//
// A record's Kafka key is the Pebble key it writes. Its envelope is
//
//	byte 0      format (Format, 1)
//	bytes 1-4   the writer's owner generation, big-endian int32 (the consumer group generation that assigned it
//	            the partition; -1 when it wrote without one)
//	byte 5      flags: FlagDelete when the record deletes the key; FlagFence for a fence record
//	bytes 6-9   CRC-32C (Castagnoli) of bytes 0-5, the key and the value
//	bytes 10-   the value (empty for a delete)
//
// A set is a Kafka record whose value is the envelope. A delete is a Kafka tombstone (a null value, which
// compaction removes after the topic's delete.retention.ms) whose envelope travels in the record header
// DeleteHeader: the restore sees every delete not compacted away yet, and the changelog does not keep one record
// per key ever deleted (outbox entries and send jobs have unique keys).
//
// It is a leaf: it imports only the standard library, so the store, the replicator and tools can share it.
package changelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Topic is the changelog topic: compacted, with as many partitions as switchboard.inbox; changelog partition p
// holds the state of the tenants whose inbox records go to inbox partition p.
const Topic = "switchboard.changelog"

// Format is the envelope format this package writes and reads.
const Format byte = 1

// FlagDelete marks a record that deletes its key.
const FlagDelete byte = 1

// FlagFence marks a fence record (README, "Failover"): the first record a node writes into a changelog partition
// it was assigned, carrying its generation. It writes no key of the store; a restore ignores every record after it
// whose generation is older (a stale owner's write). Its key is FenceKey(generation): one record per assignment,
// which compaction never merges with another, so a fence is never compacted away while records it fences remain.
const FlagFence byte = 2

// FenceKey is the Kafka key of the fence record of generation gen. It starts with a byte no store key starts with.
func FenceKey(gen int32) []byte {
	return binary.BigEndian.AppendUint32([]byte("\xfffence/"), uint32(gen))
}

// AppendFence appends the envelope of the fence record of generation gen (whose key is FenceKey(gen)) to dst.
func AppendFence(dst []byte, gen int32) []byte {
	start := len(dst)
	dst = append(dst, Format)
	dst = binary.BigEndian.AppendUint32(dst, uint32(gen))
	dst = append(dst, FlagFence, 0, 0, 0, 0)
	env := dst[start:]
	binary.BigEndian.PutUint32(env[6:10], checksum(env, FenceKey(gen)))
	return dst
}

// DeleteHeader is the Kafka header carrying a delete's envelope (its value is null).
const DeleteHeader = "sb-changelog"

// HeaderLen is the size of the envelope before the value.
const HeaderLen = 10

// NoGeneration is the generation of a write made with no consumer group generation (a seed, a test).
const NoGeneration int32 = -1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every decode error.
var ErrCorrupt = errors.New("corrupt changelog record")

// Record is one decoded changelog record.
type Record struct {
	// Key is the Pebble key the record writes.
	Key []byte
	// Value is the value set; nil for a delete.
	Value []byte
	// Delete is set when the record deletes Key.
	Delete bool
	// Generation is the owner generation of the node that wrote it.
	Generation int32
	// Fence is set on a fence record (FlagFence): Key and Value are then not a store write.
	Fence bool
}

// Append appends the envelope of a write of key to dst and returns it: a set of value, or a delete when del (value
// is then ignored).
func Append(dst, key, value []byte, gen int32, del bool) []byte {
	var flags byte
	if del {
		flags, value = FlagDelete, nil
	}
	start := len(dst)
	dst = append(dst, Format)
	dst = binary.BigEndian.AppendUint32(dst, uint32(gen))
	dst = append(dst, flags, 0, 0, 0, 0)
	dst = append(dst, value...)
	env := dst[start:]
	binary.BigEndian.PutUint32(env[6:10], checksum(env, key))
	return dst
}

// checksum is the CRC-32C of an envelope's first six bytes, the key and the value.
func checksum(env, key []byte) uint32 {
	c := crc32.Update(0, castagnoli, env[:6])
	c = crc32.Update(c, castagnoli, key)
	return crc32.Update(c, castagnoli, env[HeaderLen:])
}

// DecodeError is a record that cannot be restored: where it is and why.
type DecodeError struct {
	Partition int
	Offset    int64
	Reason    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s %s partition %d offset %d: %s", ErrCorrupt, Topic, e.Partition, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *DecodeError) Unwrap() error { return ErrCorrupt }

// Decode decodes the record at offset of partition from its key and envelope (the value of a set, or the
// DeleteHeader of a tombstone). tombstone says the Kafka value was null: the envelope must then be a delete's. The
// returned record's slices point into key and env. A record that does not decode returns a *DecodeError.
func Decode(partition int, offset int64, key, env []byte, tombstone bool) (Record, error) {
	bad := func(format string, args ...any) (Record, error) {
		return Record{}, &DecodeError{Partition: partition, Offset: offset, Reason: fmt.Sprintf(format, args...)}
	}
	if len(key) == 0 {
		return bad("empty key")
	}
	if len(env) < HeaderLen {
		return bad("envelope of %d bytes, shorter than its %d-byte header", len(env), HeaderLen)
	}
	if env[0] != Format {
		return bad("unknown format %d (this node reads format %d)", env[0], Format)
	}
	flags := env[5]
	if flags&^(FlagDelete|FlagFence) != 0 || flags == FlagDelete|FlagFence {
		return bad("unknown flags %#x", flags)
	}
	if want, got := binary.BigEndian.Uint32(env[6:10]), checksum(env, key); want != got {
		return bad("checksum %08x, computed %08x", want, got)
	}
	del := flags&FlagDelete != 0
	if del && len(env) > HeaderLen {
		return bad("a delete carrying a %d-byte value", len(env)-HeaderLen)
	}
	if tombstone && !del {
		return bad("a tombstone whose envelope is not a delete")
	}
	r := Record{Key: key, Delete: del, Generation: int32(binary.BigEndian.Uint32(env[1:5])), Fence: flags&FlagFence != 0}
	if r.Fence && (tombstone || len(env) > HeaderLen) {
		return bad("a fence record carrying a value or null")
	}
	if !del {
		r.Value = env[HeaderLen:]
	}
	return r, nil
}
