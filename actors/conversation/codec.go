package conversation

// The binary encoding of the records the store keeps: a conversation and a message (issue 15). It replaces JSON in
// Pebble, where every customer message rewrites the conversation record and writes a message record, so it is
// append-style (no reflection, no allocation to encode, BinarySize to reserve the bytes first) and decodes with one
// allocation for all of a record's strings (each slice, map, pointer and []byte gets its own).
//
// A record starts with its format byte, FormatV1; JSON values start with '{' (a store reads both: records written
// before the binary encoding are JSON). The fields follow in the struct's order, each as
//   - string, []byte: uvarint length, then the bytes;
//   - unsigned integer: uvarint; signed integer: varint (zig-zag); bool: one byte, 0 or 1;
//   - time.Time: one byte of kind, then: timeZero nothing; timeUTC the varint of its Unix nanoseconds; timeZone the
//     varint of its Unix seconds, the uvarint of its nanoseconds and the varint of its zone offset in seconds;
//   - slice, map: uvarint count+1, 0 for nil; map entries sorted by key, so equal records encode equally;
//   - pointer to a struct: one byte, 0 for nil, 1 followed by the struct.
//
// Decoding gives exactly what a JSON round trip of the record gives, so a store reading old and new records sees
// no difference: a field tagged omitempty decodes an empty slice or map as nil (others keep nil apart from empty), a
// time in UTC or at a zero offset decodes in UTC, one at another offset in time.Local if Local has that offset at
// that instant and in a fixed zone of that offset otherwise; monotonic clock readings are dropped, as is the
// location of a zero time. Strings are kept byte for byte (JSON replaces invalid UTF-8), a json.RawMessage too
// (JSON compacts it). codec_test.go checks every field against the JSON round trip.
//
// A change of the layout gets a new format byte; decoders keep reading every older one.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// FormatV1 is the first byte of a record in version 1 of the binary encoding. JSON never starts with it.
const FormatV1 byte = 1

// Kinds of an encoded time.
const (
	timeZero byte = iota
	timeUTC
	timeZone
)

// Unix seconds whose nanoseconds fit an int64 (years 1678 to 2262), with a margin.
const (
	minNanoSec = math.MinInt64/1_000_000_000 + 1
	maxNanoSec = math.MaxInt64/1_000_000_000 - 1
)

// AppendBinary appends the binary encoding of c (FormatV1) to dst and returns the extended buffer; it appends
// exactly BinarySize bytes. Unlike encoding.BinaryAppender it cannot fail, so it returns no error.
func (c *Conversation) AppendBinary(dst []byte) []byte {
	dst = append(dst, FormatV1)
	dst = appendString(dst, c.ID)
	dst = appendString(dst, c.TenantID)
	dst = appendString(dst, c.ChannelID)
	dst = appendString(dst, c.Contact.ID)
	dst = appendString(dst, c.Contact.WaID)
	dst = appendString(dst, c.Contact.Name)
	dst = appendString(dst, string(c.Status))
	dst = appendString(dst, c.AssigneeID)
	dst = appendStrings(dst, c.Labels, false)
	dst = appendTime(dst, c.WindowExpiresAt)
	dst = appendTime(dst, c.CreatedAt)
	dst = appendTime(dst, c.UpdatedAt)
	dst = appendTime(dst, c.LastInboundAt)
	dst = binary.AppendUvarint(dst, c.Messages)
	dst = binary.AppendVarint(dst, c.Applied.Offset)
	dst = binary.AppendVarint(dst, int64(c.Applied.Index))
	dst = binary.AppendVarint(dst, int64(c.Priority))
	dst = appendStrings(dst, c.RequiredSkills, true)
	dst = appendString(dst, c.LastOperatorID)
	dst = appendTime(dst, c.AssignedAt)
	dst = appendTime(dst, c.WaitingSince)
	dst = appendTime(dst, c.SnoozedUntil)
	dst = appendTime(dst, c.LastActivityAt)
	dst = appendTime(dst, c.CycleStartedAt)
	dst = appendBool(dst, c.AwaitingReply)
	dst = appendTime(dst, c.FirstResponseAt)
	dst = appendBool(dst, c.RepliedSinceAssigned)
	dst = appendTime(dst, c.WarnedWindow)
	dst = binary.AppendUvarint(dst, c.Version)
	dst = appendTime(dst, c.Timers.AutoClose)
	dst = appendTime(dst, c.Timers.SnoozeWake)
	dst = appendTime(dst, c.Timers.Reservation)
	dst = appendTime(dst, c.Timers.WindowWarning)
	if lm := c.LastMessage; lm == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = binary.AppendUvarint(dst, lm.Seq)
		dst = appendString(dst, string(lm.Direction))
		dst = appendString(dst, lm.Type)
		dst = appendString(dst, lm.Preview)
		dst = appendTime(dst, lm.At)
		dst = appendString(dst, string(lm.Status))
		dst = appendString(dst, lm.OperatorID)
	}
	dst = binary.AppendUvarint(dst, c.InboundCount)
	var keys [8]string
	dst = appendCount(dst, len(c.ReadBy), len(c.ReadBy) == 0)
	for _, k := range sortedKeys(keys[:0], c.ReadBy) {
		m := c.ReadBy[k]
		dst = appendString(dst, k)
		dst = binary.AppendUvarint(dst, m.Seq)
		dst = binary.AppendUvarint(dst, m.Inbound)
		dst = appendTime(dst, m.At)
	}
	dst = appendCount(dst, len(c.MentionMarks), len(c.MentionMarks) == 0)
	for _, k := range sortedKeys(keys[:0], c.MentionMarks) {
		m := c.MentionMarks[k]
		dst = appendString(dst, k)
		dst = binary.AppendUvarint(dst, m.Seq)
		dst = appendTime(dst, m.At)
	}
	dst = appendString(dst, c.ClosedBy)
	dst = appendTime(dst, c.ErasedAt)
	return dst
}

// BinarySize is the length of c's binary encoding, so a caller can reserve it (pebble's Batch.SetDeferred).
func (c *Conversation) BinarySize() int {
	n := 1 + sizeString(c.ID) + sizeString(c.TenantID) + sizeString(c.ChannelID) + sizeString(c.Contact.ID) +
		sizeString(c.Contact.WaID) + sizeString(c.Contact.Name) + sizeString(string(c.Status)) +
		sizeString(c.AssigneeID) + sizeStrings(c.Labels, false) + sizeTime(c.WindowExpiresAt) +
		sizeTime(c.CreatedAt) + sizeTime(c.UpdatedAt) + sizeTime(c.LastInboundAt) + sizeUvarint(c.Messages) +
		sizeVarint(c.Applied.Offset) + sizeVarint(int64(c.Applied.Index)) + sizeVarint(int64(c.Priority)) +
		sizeStrings(c.RequiredSkills, true) + sizeString(c.LastOperatorID) + sizeTime(c.AssignedAt) +
		sizeTime(c.WaitingSince) + sizeTime(c.SnoozedUntil) + sizeTime(c.LastActivityAt) +
		sizeTime(c.CycleStartedAt) + 1 + sizeTime(c.FirstResponseAt) + 1 + sizeTime(c.WarnedWindow) +
		sizeUvarint(c.Version) + sizeTime(c.Timers.AutoClose) + sizeTime(c.Timers.SnoozeWake) +
		sizeTime(c.Timers.Reservation) + sizeTime(c.Timers.WindowWarning) + 1
	if lm := c.LastMessage; lm != nil {
		n += sizeUvarint(lm.Seq) + sizeString(string(lm.Direction)) + sizeString(lm.Type) +
			sizeString(lm.Preview) + sizeTime(lm.At) + sizeString(string(lm.Status)) + sizeString(lm.OperatorID)
	}
	n += sizeUvarint(c.InboundCount) + sizeCount(len(c.ReadBy), len(c.ReadBy) == 0)
	for k, m := range c.ReadBy {
		n += sizeString(k) + sizeUvarint(m.Seq) + sizeUvarint(m.Inbound) + sizeTime(m.At)
	}
	n += sizeCount(len(c.MentionMarks), len(c.MentionMarks) == 0)
	for k, m := range c.MentionMarks {
		n += sizeString(k) + sizeUvarint(m.Seq) + sizeTime(m.At)
	}
	return n + sizeString(c.ClosedBy) + sizeTime(c.ErasedAt)
}

// UnmarshalBinary sets c to the record b encodes (AppendBinary's output, of any format version this code knows). It
// copies what it keeps: b may be reused once it returns. A format it does not know is ErrUnknownFormat, a record
// it cannot read to its end ErrMalformed; c is then unspecified.
func (c *Conversation) UnmarshalBinary(b []byte) error {
	d, err := newDecoder(b, "conversation")
	if err != nil {
		return err
	}
	*c = Conversation{
		ID: d.string(), TenantID: d.string(), ChannelID: d.string(),
		Contact: Contact{ID: d.string(), WaID: d.string(), Name: d.string()},
		Status:  Status(d.string()), AssigneeID: d.string(), Labels: d.strings(false),
		WindowExpiresAt: d.time(), CreatedAt: d.time(), UpdatedAt: d.time(), LastInboundAt: d.time(),
		Messages: d.uvarint(), Applied: Position{Offset: d.varint(), Index: d.int()},
		Priority: d.int(), RequiredSkills: d.strings(true), LastOperatorID: d.string(),
		AssignedAt: d.time(), WaitingSince: d.time(), SnoozedUntil: d.time(), LastActivityAt: d.time(),
		CycleStartedAt: d.time(), AwaitingReply: d.bool(), FirstResponseAt: d.time(),
		RepliedSinceAssigned: d.bool(), WarnedWindow: d.time(), Version: d.uvarint(),
		Timers: Timers{AutoClose: d.time(), SnoozeWake: d.time(), Reservation: d.time(), WindowWarning: d.time()},
	}
	if d.bool() {
		c.LastMessage = &LastMessage{Seq: d.uvarint(), Direction: Direction(d.string()), Type: d.string(),
			Preview: d.string(), At: d.time(), Status: MessageStatus(d.string()), OperatorID: d.string()}
	}
	c.InboundCount = d.uvarint()
	if n := d.count(); n > 0 {
		c.ReadBy = make(map[string]ReadMark, n)
		for range n {
			k := d.string()
			c.ReadBy[k] = ReadMark{Seq: d.uvarint(), Inbound: d.uvarint(), At: d.time()}
		}
	}
	if n := d.count(); n > 0 {
		c.MentionMarks = make(map[string]MentionMark, n)
		for range n {
			k := d.string()
			c.MentionMarks[k] = MentionMark{Seq: d.uvarint(), At: d.time()}
		}
	}
	c.ClosedBy = d.string()
	c.ErasedAt = d.time()
	return d.end()
}

// AppendBinary appends the binary encoding of m (FormatV1) to dst and returns the extended buffer; it appends
// exactly BinarySize bytes. Like Conversation.AppendBinary it cannot fail.
func (m *Message) AppendBinary(dst []byte) []byte {
	dst = append(dst, FormatV1)
	dst = appendString(dst, m.ConversationID)
	dst = binary.AppendUvarint(dst, m.Seq)
	dst = appendString(dst, m.ID)
	dst = appendString(dst, string(m.Direction))
	dst = appendString(dst, m.Type)
	dst = appendString(dst, m.Text)
	dst = appendBytes(dst, m.Content)
	dst = appendString(dst, m.ReplyTo)
	dst = appendString(dst, string(m.Status))
	dst = appendTime(dst, m.SentAt)
	dst = appendTime(dst, m.CreatedAt)
	dst = appendTime(dst, m.StatusAt)
	dst = binary.AppendVarint(dst, int64(m.ErrorCode))
	dst = appendString(dst, m.ErrorTitle)
	dst = appendString(dst, m.OperatorID)
	return appendString(dst, m.WAMID)
}

// BinarySize is the length of m's binary encoding.
func (m *Message) BinarySize() int {
	return 1 + sizeString(m.ConversationID) + sizeUvarint(m.Seq) + sizeString(m.ID) +
		sizeString(string(m.Direction)) + sizeString(m.Type) + sizeString(m.Text) + sizeBytes(m.Content) +
		sizeString(m.ReplyTo) + sizeString(string(m.Status)) + sizeTime(m.SentAt) + sizeTime(m.CreatedAt) +
		sizeTime(m.StatusAt) + sizeVarint(int64(m.ErrorCode)) + sizeString(m.ErrorTitle) +
		sizeString(m.OperatorID) + sizeString(m.WAMID)
}

// UnmarshalBinary sets m to the record b encodes, like Conversation.UnmarshalBinary. An empty Content decodes as
// nil, as it does from JSON (omitempty).
func (m *Message) UnmarshalBinary(b []byte) error {
	d, err := newDecoder(b, "message")
	if err != nil {
		return err
	}
	*m = Message{ConversationID: d.string(), Seq: d.uvarint(), ID: d.string(), Direction: Direction(d.string()),
		Type: d.string(), Text: d.string(), Content: d.bytes(), ReplyTo: d.string(),
		Status: MessageStatus(d.string()), SentAt: d.time(), CreatedAt: d.time(), StatusAt: d.time(),
		ErrorCode: d.int(), ErrorTitle: d.string(), OperatorID: d.string(), WAMID: d.string()}
	return d.end()
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func sizeString(s string) int { return sizeUvarint(uint64(len(s))) + len(s) }

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

func sizeBytes(b []byte) int { return sizeUvarint(uint64(len(b))) + len(b) }

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// appendCount appends the count of a slice or map of n elements, or 0 if asNil: it is nil, or empty in a field
// JSON's omitempty drops when empty (JSON decodes it as nil).
func appendCount(dst []byte, n int, asNil bool) []byte {
	if asNil {
		return append(dst, 0)
	}
	return binary.AppendUvarint(dst, uint64(n)+1)
}

func sizeCount(n int, asNil bool) int {
	if asNil {
		return 1
	}
	return sizeUvarint(uint64(n) + 1)
}

// appendStrings appends a string slice; omitEmpty writes an empty one as nil (the field is omitempty in JSON).
func appendStrings(dst []byte, ss []string, omitEmpty bool) []byte {
	dst = appendCount(dst, len(ss), ss == nil || omitEmpty && len(ss) == 0)
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

func sizeStrings(ss []string, omitEmpty bool) int {
	n := sizeCount(len(ss), ss == nil || omitEmpty && len(ss) == 0)
	for _, s := range ss {
		n += sizeString(s)
	}
	return n
}

// sortedKeys appends m's keys to keys and sorts them. Given a stack array's slice, it allocates nothing for the few
// keys a conversation has.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, timeZero)
	}
	sec := t.Unix()
	_, offset := t.Zone()
	if offset == 0 && minNanoSec < sec && sec < maxNanoSec {
		return binary.AppendVarint(append(dst, timeUTC), t.UnixNano())
	}
	dst = binary.AppendVarint(append(dst, timeZone), sec)
	dst = binary.AppendUvarint(dst, uint64(t.Nanosecond()))
	return binary.AppendVarint(dst, int64(offset))
}

func sizeTime(t time.Time) int {
	if t.IsZero() {
		return 1
	}
	sec := t.Unix()
	_, offset := t.Zone()
	if offset == 0 && minNanoSec < sec && sec < maxNanoSec {
		return 1 + sizeVarint(t.UnixNano())
	}
	return 1 + sizeVarint(sec) + sizeUvarint(uint64(t.Nanosecond())) + sizeVarint(int64(offset))
}

func sizeUvarint(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func sizeVarint(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return sizeUvarint(ux)
}

// decoder reads a record's fields in order. The first error sticks: later reads return zero values, and end
// reports it. Strings are substrings of one copy of the record (arena), made once.
type decoder struct {
	b     []byte
	off   int
	arena string
	what  string
	err   error
}

func newDecoder(b []byte, what string) (decoder, error) {
	if len(b) == 0 {
		return decoder{}, fmt.Errorf("decode %s: empty record: %w", what, ErrMalformed)
	}
	if b[0] != FormatV1 {
		return decoder{}, fmt.Errorf("decode %s: format byte %#x: %w", what, b[0], ErrUnknownFormat)
	}
	return decoder{b: b, off: 1, what: what}, nil
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("decode %s: at byte %d: %s: %w", d.what, d.off, fmt.Sprintf(format, args...), ErrMalformed)
	}
}

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d bytes after the last field", len(d.b)-d.off)
	}
	return d.err
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return x
}

// int reads a varint into an int, which is 64 bits on every platform the project builds for.
func (d *decoder) int() int {
	x := d.varint()
	if int64(int(x)) != x {
		d.fail("integer %d overflows int", x)
		return 0
	}
	return int(x)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) bool() bool {
	switch v := d.byte(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bool byte %d", v)
		return false
	}
}

// span reads a length and returns the bounds of that many following bytes.
func (d *decoder) span() (start, end int) {
	n := d.uvarint()
	if d.err != nil {
		return 0, 0
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length %d beyond the record's end", n)
		return 0, 0
	}
	start, d.off = d.off, d.off+int(n)
	return start, d.off
}

func (d *decoder) string() string {
	start, end := d.span()
	if start == end {
		return ""
	}
	if d.arena == "" {
		d.arena = string(d.b)
	}
	return d.arena[start:end]
}

// bytes reads a []byte of its own (the caller may change it); empty is nil.
func (d *decoder) bytes() []byte {
	start, end := d.span()
	if start == end {
		return nil
	}
	return append([]byte(nil), d.b[start:end]...)
}

// count reads the count of a slice or map: -1 for nil. Every element takes a byte at least, so a count beyond the
// bytes left is corrupt (and is not allocated).
func (d *decoder) count() int {
	c := d.uvarint()
	if c == 0 || d.err != nil {
		return -1
	}
	if c-1 > uint64(len(d.b)-d.off) {
		d.fail("count %d beyond the record's end", c-1)
		return -1
	}
	return int(c - 1)
}

// strings reads a string slice; omitEmpty decodes an empty one as nil, as JSON does a field tagged omitempty
// (the encoder writes it so; this keeps any input decoding as JSON would).
func (d *decoder) strings(omitEmpty bool) []string {
	n := d.count()
	if n < 0 || n == 0 && omitEmpty {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

func (d *decoder) time() time.Time {
	switch kind := d.byte(); kind {
	case timeZero:
		return time.Time{}
	case timeUTC:
		return time.Unix(0, d.varint()).UTC()
	case timeZone:
		sec, nsec, offset := d.varint(), d.uvarint(), d.varint()
		if nsec >= 1e9 || int64(int32(offset)) != offset {
			d.fail("time with nanoseconds %d, offset %d", nsec, offset)
			return time.Time{}
		}
		// As time.Parse gives it from RFC 3339, the form JSON stores.
		t := time.Unix(sec, int64(nsec))
		if offset == 0 {
			return t.UTC()
		}
		if _, local := t.Zone(); local == int(offset) {
			return t
		}
		return t.In(time.FixedZone("", int(offset)))
	default:
		d.fail("time kind %d", kind)
		return time.Time{}
	}
}
