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
	"slices"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/wire"
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
	dst = wire.AppendString(dst, c.ID)
	dst = wire.AppendString(dst, c.TenantID)
	dst = wire.AppendString(dst, c.ChannelID)
	dst = wire.AppendString(dst, c.Contact.ID)
	dst = wire.AppendString(dst, c.Contact.WaID)
	dst = wire.AppendString(dst, c.Contact.Name)
	dst = wire.AppendString(dst, string(c.Status))
	dst = wire.AppendString(dst, c.AssigneeID)
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
	dst = wire.AppendString(dst, c.LastOperatorID)
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
		dst = wire.AppendString(dst, string(lm.Direction))
		dst = wire.AppendString(dst, lm.Type)
		dst = wire.AppendString(dst, lm.Preview)
		dst = appendTime(dst, lm.At)
		dst = wire.AppendString(dst, string(lm.Status))
		dst = wire.AppendString(dst, lm.OperatorID)
	}
	dst = binary.AppendUvarint(dst, c.InboundCount)
	var keys [8]string
	dst = appendCount(dst, len(c.ReadBy), len(c.ReadBy) == 0)
	for _, k := range sortedKeys(keys[:0], c.ReadBy) {
		m := c.ReadBy[k]
		dst = wire.AppendString(dst, k)
		dst = binary.AppendUvarint(dst, m.Seq)
		dst = binary.AppendUvarint(dst, m.Inbound)
		dst = appendTime(dst, m.At)
	}
	dst = appendCount(dst, len(c.MentionMarks), len(c.MentionMarks) == 0)
	for _, k := range sortedKeys(keys[:0], c.MentionMarks) {
		m := c.MentionMarks[k]
		dst = wire.AppendString(dst, k)
		dst = binary.AppendUvarint(dst, m.Seq)
		dst = appendTime(dst, m.At)
	}
	dst = wire.AppendString(dst, c.ClosedBy)
	dst = appendTime(dst, c.ErasedAt)
	return dst
}

// BinarySize is the length of c's binary encoding, so a caller can reserve it (pebble's Batch.SetDeferred).
func (c *Conversation) BinarySize() int {
	n := 1 + wire.SizeString(c.ID) + wire.SizeString(c.TenantID) + wire.SizeString(c.ChannelID) + wire.SizeString(c.Contact.ID) +
		wire.SizeString(c.Contact.WaID) + wire.SizeString(c.Contact.Name) + wire.SizeString(string(c.Status)) +
		wire.SizeString(c.AssigneeID) + sizeStrings(c.Labels, false) + sizeTime(c.WindowExpiresAt) +
		sizeTime(c.CreatedAt) + sizeTime(c.UpdatedAt) + sizeTime(c.LastInboundAt) + wire.SizeUvarint(c.Messages) +
		wire.SizeVarint(c.Applied.Offset) + wire.SizeVarint(int64(c.Applied.Index)) + wire.SizeVarint(int64(c.Priority)) +
		sizeStrings(c.RequiredSkills, true) + wire.SizeString(c.LastOperatorID) + sizeTime(c.AssignedAt) +
		sizeTime(c.WaitingSince) + sizeTime(c.SnoozedUntil) + sizeTime(c.LastActivityAt) +
		sizeTime(c.CycleStartedAt) + 1 + sizeTime(c.FirstResponseAt) + 1 + sizeTime(c.WarnedWindow) +
		wire.SizeUvarint(c.Version) + sizeTime(c.Timers.AutoClose) + sizeTime(c.Timers.SnoozeWake) +
		sizeTime(c.Timers.Reservation) + sizeTime(c.Timers.WindowWarning) + 1
	if lm := c.LastMessage; lm != nil {
		n += wire.SizeUvarint(lm.Seq) + wire.SizeString(string(lm.Direction)) + wire.SizeString(lm.Type) +
			wire.SizeString(lm.Preview) + sizeTime(lm.At) + wire.SizeString(string(lm.Status)) + wire.SizeString(lm.OperatorID)
	}
	n += wire.SizeUvarint(c.InboundCount) + sizeCount(len(c.ReadBy), len(c.ReadBy) == 0)
	for k, m := range c.ReadBy {
		n += wire.SizeString(k) + wire.SizeUvarint(m.Seq) + wire.SizeUvarint(m.Inbound) + sizeTime(m.At)
	}
	n += sizeCount(len(c.MentionMarks), len(c.MentionMarks) == 0)
	for k, m := range c.MentionMarks {
		n += wire.SizeString(k) + wire.SizeUvarint(m.Seq) + sizeTime(m.At)
	}
	return n + wire.SizeString(c.ClosedBy) + sizeTime(c.ErasedAt)
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
		Messages: d.Uvarint(), Applied: Position{Offset: d.Varint(), Index: d.Int()},
		Priority: d.Int(), RequiredSkills: d.strings(true), LastOperatorID: d.string(),
		AssignedAt: d.time(), WaitingSince: d.time(), SnoozedUntil: d.time(), LastActivityAt: d.time(),
		CycleStartedAt: d.time(), AwaitingReply: d.bool(), FirstResponseAt: d.time(),
		RepliedSinceAssigned: d.bool(), WarnedWindow: d.time(), Version: d.Uvarint(),
		Timers: Timers{AutoClose: d.time(), SnoozeWake: d.time(), Reservation: d.time(), WindowWarning: d.time()},
	}
	if d.bool() {
		c.LastMessage = &LastMessage{Seq: d.Uvarint(), Direction: Direction(d.string()), Type: d.string(),
			Preview: d.string(), At: d.time(), Status: MessageStatus(d.string()), OperatorID: d.string()}
	}
	c.InboundCount = d.Uvarint()
	if n := d.count(); n > 0 {
		c.ReadBy = make(map[string]ReadMark, n)
		for range n {
			k := d.string()
			c.ReadBy[k] = ReadMark{Seq: d.Uvarint(), Inbound: d.Uvarint(), At: d.time()}
		}
	}
	if n := d.count(); n > 0 {
		c.MentionMarks = make(map[string]MentionMark, n)
		for range n {
			k := d.string()
			c.MentionMarks[k] = MentionMark{Seq: d.Uvarint(), At: d.time()}
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
	dst = wire.AppendString(dst, m.ConversationID)
	dst = binary.AppendUvarint(dst, m.Seq)
	dst = wire.AppendString(dst, m.ID)
	dst = wire.AppendString(dst, string(m.Direction))
	dst = wire.AppendString(dst, m.Type)
	dst = wire.AppendString(dst, m.Text)
	dst = wire.AppendBytes(dst, m.Content)
	dst = wire.AppendString(dst, m.ReplyTo)
	dst = wire.AppendString(dst, string(m.Status))
	dst = appendTime(dst, m.SentAt)
	dst = appendTime(dst, m.CreatedAt)
	dst = appendTime(dst, m.StatusAt)
	dst = binary.AppendVarint(dst, int64(m.ErrorCode))
	dst = wire.AppendString(dst, m.ErrorTitle)
	dst = wire.AppendString(dst, m.OperatorID)
	return wire.AppendString(dst, m.WAMID)
}

// BinarySize is the length of m's binary encoding.
func (m *Message) BinarySize() int {
	return 1 + wire.SizeString(m.ConversationID) + wire.SizeUvarint(m.Seq) + wire.SizeString(m.ID) +
		wire.SizeString(string(m.Direction)) + wire.SizeString(m.Type) + wire.SizeString(m.Text) + sizeBytes(m.Content) +
		wire.SizeString(m.ReplyTo) + wire.SizeString(string(m.Status)) + sizeTime(m.SentAt) + sizeTime(m.CreatedAt) +
		sizeTime(m.StatusAt) + wire.SizeVarint(int64(m.ErrorCode)) + wire.SizeString(m.ErrorTitle) +
		wire.SizeString(m.OperatorID) + wire.SizeString(m.WAMID)
}

// UnmarshalBinary sets m to the record b encodes, like Conversation.UnmarshalBinary. An empty Content decodes as
// nil, as it does from JSON (omitempty).
func (m *Message) UnmarshalBinary(b []byte) error {
	d, err := newDecoder(b, "message")
	if err != nil {
		return err
	}
	*m = Message{ConversationID: d.string(), Seq: d.Uvarint(), ID: d.string(), Direction: Direction(d.string()),
		Type: d.string(), Text: d.string(), Content: d.bytes(), ReplyTo: d.string(),
		Status: MessageStatus(d.string()), SentAt: d.time(), CreatedAt: d.time(), StatusAt: d.time(),
		ErrorCode: d.Int(), ErrorTitle: d.string(), OperatorID: d.string(), WAMID: d.string()}
	return d.end()
}

func sizeBytes(b []byte) int { return wire.SizeUvarint(uint64(len(b))) + len(b) }

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
	return wire.SizeUvarint(uint64(n) + 1)
}

// appendStrings appends a string slice; omitEmpty writes an empty one as nil (the field is omitempty in JSON).
func appendStrings(dst []byte, ss []string, omitEmpty bool) []byte {
	dst = appendCount(dst, len(ss), ss == nil || omitEmpty && len(ss) == 0)
	for _, s := range ss {
		dst = wire.AppendString(dst, s)
	}
	return dst
}

func sizeStrings(ss []string, omitEmpty bool) int {
	n := sizeCount(len(ss), ss == nil || omitEmpty && len(ss) == 0)
	for _, s := range ss {
		n += wire.SizeString(s)
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
		return 1 + wire.SizeVarint(t.UnixNano())
	}
	return 1 + wire.SizeVarint(sec) + wire.SizeUvarint(uint64(t.Nanosecond())) + wire.SizeVarint(int64(offset))
}

// decoder reads a record's fields in order (wire.Reader: the first error sticks). Strings are substrings of one
// copy of the record (arena), made once.
type decoder struct {
	wire.Reader
	arena string
	what  string
}

func newDecoder(b []byte, what string) (decoder, error) {
	if len(b) == 0 {
		return decoder{}, fmt.Errorf("decode %s: empty record: %w", what, ErrMalformed)
	}
	if b[0] != FormatV1 {
		return decoder{}, fmt.Errorf("decode %s: format byte %#x: %w", what, b[0], ErrUnknownFormat)
	}
	d := decoder{Reader: wire.NewReader(b), what: what}
	d.Byte() // the format byte
	return d, nil
}

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.Err() == nil && d.Len() != 0 {
		d.Fail("%d bytes after the last field", d.Len())
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("decode %s: %w: %w", d.what, err, ErrMalformed)
	}
	return nil
}

func (d *decoder) bool() bool {
	switch v := d.Byte(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.Fail("bool byte %d", v)
		return false
	}
}

func (d *decoder) string() string {
	start, end := d.Span()
	if start == end {
		return ""
	}
	if d.arena == "" {
		d.arena = string(d.Whole())
	}
	return d.arena[start:end]
}

// bytes reads a []byte of its own (the caller may change it); empty is nil.
func (d *decoder) bytes() []byte {
	if f := d.Field(); len(f) > 0 {
		return append([]byte(nil), f...)
	}
	return nil
}

// count reads the count of a slice or map: -1 for nil. Every element takes a byte at least, so a count beyond the
// bytes left is corrupt (and is not allocated).
func (d *decoder) count() int {
	c := d.Uvarint()
	if c == 0 || d.Err() != nil {
		return -1
	}
	if c-1 > uint64(d.Len()) {
		d.Fail("count %d beyond the record's end", c-1)
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
	switch kind := d.Byte(); kind {
	case timeZero:
		return time.Time{}
	case timeUTC:
		return time.Unix(0, d.Varint()).UTC()
	case timeZone:
		sec, nsec, offset := d.Varint(), d.Uvarint(), d.Varint()
		if nsec >= 1e9 || int64(int32(offset)) != offset {
			d.Fail("time with nanoseconds %d, offset %d", nsec, offset)
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
		d.Fail("time kind %d", kind)
		return time.Time{}
	}
}
