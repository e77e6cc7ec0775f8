// Package wire holds the primitives of Switchboard's binary record forms (issue 15): the inbox records on Kafka
// (ingest/inbox) and the conversations and messages in Pebble (actors/conversation). A field is a uvarint, a
// zig-zag varint (encoding/binary's forms), a byte, or a uvarint length followed by that many bytes. Each form's
// layout, its format byte and how it evolves are its own package's; this one only appends and reads fields.
package wire

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// AppendString appends s as a length-prefixed field, byte for byte.
func AppendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// AppendBytes appends b as a length-prefixed field.
func AppendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// SizeUvarint is the length of x's uvarint.
func SizeUvarint(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// SizeVarint is the length of x's zig-zag varint.
func SizeVarint(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return SizeUvarint(ux)
}

// SizeString is the length of s as a length-prefixed field.
func SizeString(s string) int { return SizeUvarint(uint64(len(s))) + len(s) }

// Reader reads fields in order from a buffer it does not copy. The first error sticks: later reads return zero
// values and Err reports it, so a decoder reads every field and checks once. The zero Reader reads nothing.
type Reader struct {
	b   []byte
	off int
	err error
	// lenient has a read at the end of the buffer return a zero value without an error: a field the writer did
	// not have yet (ingest/inbox's item payloads, which grow at their end).
	lenient bool
}

// NewReader reads b from its start; each read past its end is an error.
func NewReader(b []byte) Reader { return Reader{b: b} }

// NewLenientReader reads b from its start; a read past its end returns a zero value and no error (Byte excepted).
func NewLenientReader(b []byte) Reader { return Reader{b: b, lenient: true} }

// Err is the first error, nil if none.
func (r *Reader) Err() error { return r.err }

// Off is the offset of the next field in the buffer.
func (r *Reader) Off() int { return r.off }

// Len is the number of bytes left to read.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Rest is what is left to read, aliasing the buffer.
func (r *Reader) Rest() []byte { return r.b[r.off:] }

// Fail records an error at the current offset, unless one is already recorded, and stops the reader.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
	r.off = len(r.b)
}

// atEnd reports whether a field read must return a zero value: after an error, or at the end of the buffer
// (an error unless the reader is lenient).
func (r *Reader) atEnd() bool {
	if r.err != nil {
		return true
	}
	if r.off < len(r.b) {
		return false
	}
	if !r.lenient {
		r.Fail("truncated")
	}
	return true
}

// Byte reads one byte; at the end of the buffer it is an error, lenient or not.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.Fail("truncated")
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	if r.atEnd() {
		return 0
	}
	x, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.Fail("bad uvarint")
		return 0
	}
	r.off += n
	return x
}

// Varint reads a zig-zag varint.
func (r *Reader) Varint() int64 {
	if r.atEnd() {
		return 0
	}
	x, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.off += n
	return x
}

// Int reads a varint into an int; a value out of int's range is an error.
func (r *Reader) Int() int {
	x := r.Varint()
	if int64(int(x)) != x {
		r.Fail("integer %d overflows int", x)
		return 0
	}
	return int(x)
}

// Span reads a length and skips that many bytes, returning their bounds in the buffer; a length beyond the
// buffer's end is an error. After an error both are 0.
func (r *Reader) Span() (start, end int) {
	if r.atEnd() {
		return 0, 0
	}
	n := r.Uvarint()
	if r.err != nil {
		return 0, 0
	}
	if n > uint64(len(r.b)-r.off) {
		r.Fail("length %d beyond the end", n)
		return 0, 0
	}
	start, r.off = r.off, r.off+int(n)
	return start, r.off
}

// Field reads a length-prefixed field, aliasing the buffer (capacity capped at its length): the caller copies
// what it keeps.
func (r *Reader) Field() []byte {
	start, end := r.Span()
	return r.b[start:end:end]
}

// Whole is the buffer the reader reads, from its start.
func (r *Reader) Whole() []byte { return r.b }
