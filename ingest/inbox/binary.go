// The binary wire form of a Record (issue 15: no reflective JSON on the hot path). Encode writes it; Decode reads it
// and the JSON form that nodes before it wrote (and that EncodeJSON still writes, for a rolling upgrade).
//
// Layout 1, the value of one Kafka record:
//
//	0xB1                 format byte: binary layout 1 (a JSON record starts with '{', never with it)
//	uvarint              V (Version), checked like JSON's "v"
//	string               Tenant
//	varint               IngestAt
//	uvarint              number of items, then each item:
//	  byte                 item code (below)
//	  uvarint              payload length, then the payload
//
// A string is a uvarint length and its bytes; a varint is zig-zag (encoding/binary's AppendVarint). Raw JSON
// (Content) is checked valid at both ends and carried as it was given, where the JSON form compacts it and escapes
// <, > and & (the same JSON value); invalid UTF-8 in a string is written as U+FFFD, as the JSON form does. The item codes
// and their payloads, field by field in this order:
//
//	1 message    Channel, ID, From, ProfileName, Type, varint Timestamp, Text, Content (raw JSON; empty = none), ReplyTo
//	2 status     Channel, ID, RecipientID, Status, varint Timestamp, varint ErrorCode, ErrorTitle
//	3 timer      Channel, Kind, ConversationID, varint Due
//	4 delivery   Channel, ConversationID, uvarint Seq, MessageID, WAMID, varint ErrorCode, ErrorTitle
//	0 json       the whole Item as encoding/json writes it
//
// The four coded kinds are the ones every customer message produces. Commands (with contacts, templates, canned
// responses, configuration changes and audit entries), template changes, and an item whose fields do not fit its
// kind's payload (a hot kind without its payload, or with a second one) travel as code 0: they are rare, large and
// varied, and a field-by-field codec of them would be much code for no measurable gain.
//
// Evolution is append-only: a later layout adds fields at the end of a payload. A reader leaves the fields missing
// from a shorter payload (written before they existed) at their zero value, and skips the bytes after the fields it
// knows (written by a newer node), as encoding/json ignores unknown keys. A change that old readers must not
// misread takes a new format byte, which they refuse with ErrBadRecord.

package inbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/ingest/wire"
)

// formatBinary1 is the first byte of a record in binary layout 1.
const formatBinary1 byte = 0xB1

// Item codes of layout 1.
const (
	codeJSON     byte = 0
	codeMessage  byte = 1
	codeStatus   byte = 2
	codeTimer    byte = 3
	codeDelivery byte = 4
)

// Encode appends the record's binary wire form to dst, setting V to Version. It refuses, like EncodeJSON, a raw
// JSON field that is not valid JSON.
func (r *Record) Encode(dst []byte) ([]byte, error) {
	r.V = Version
	dst = append(dst, formatBinary1)
	dst = binary.AppendUvarint(dst, uint64(r.V))
	dst = appendString(dst, r.Tenant)
	dst = binary.AppendVarint(dst, r.IngestAt)
	dst = binary.AppendUvarint(dst, uint64(len(r.Items)))
	for i := range r.Items {
		var err error
		if dst, err = appendItem(dst, &r.Items[i]); err != nil {
			return dst, fmt.Errorf("encode inbox record: item %d: %w", i, err)
		}
	}
	return dst, nil
}

// appendItem appends one item: its code, its payload's length and its payload. The length is written after the
// payload is, in the one byte reserved for it when it fits (nearly always), else by moving the payload.
func appendItem(dst []byte, it *Item) ([]byte, error) {
	code := itemCode(it)
	dst = append(dst, code, 0)
	start := len(dst)
	switch code {
	case codeMessage:
		m := it.Message
		if len(m.Content) > 0 && !json.Valid(m.Content) {
			return dst, fmt.Errorf("message %s: content is not valid JSON", m.ID)
		}
		dst = appendString(dst, it.Channel)
		dst = appendString(dst, m.ID)
		dst = appendString(dst, m.From)
		dst = appendString(dst, m.ProfileName)
		dst = appendString(dst, m.Type)
		dst = binary.AppendVarint(dst, m.Timestamp)
		dst = appendString(dst, m.Text)
		dst = wire.AppendBytes(dst, m.Content)
		dst = appendString(dst, m.ReplyTo)
	case codeStatus:
		s := it.Status
		dst = appendString(dst, it.Channel)
		dst = appendString(dst, s.ID)
		dst = appendString(dst, s.RecipientID)
		dst = appendString(dst, s.Status)
		dst = binary.AppendVarint(dst, s.Timestamp)
		dst = binary.AppendVarint(dst, int64(s.ErrorCode))
		dst = appendString(dst, s.ErrorTitle)
	case codeTimer:
		t := it.Timer
		dst = appendString(dst, it.Channel)
		dst = appendString(dst, t.Kind)
		dst = appendString(dst, t.ConversationID)
		dst = binary.AppendVarint(dst, t.Due)
	case codeDelivery:
		d := it.Delivery
		dst = appendString(dst, it.Channel)
		dst = appendString(dst, d.ConversationID)
		dst = binary.AppendUvarint(dst, d.Seq)
		dst = appendString(dst, d.MessageID)
		dst = appendString(dst, d.WAMID)
		dst = binary.AppendVarint(dst, int64(d.ErrorCode))
		dst = appendString(dst, d.ErrorTitle)
	default:
		b, err := json.Marshal(it)
		if err != nil {
			return dst, err
		}
		dst = append(dst, b...)
	}
	n := len(dst) - start
	if n < 0x80 {
		dst[start-1] = byte(n)
		return dst, nil
	}
	// The length takes more than the reserved byte: shift the payload right by the extra bytes.
	var lb [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(lb[:], uint64(n))
	dst = append(dst, lb[:l-1]...)
	copy(dst[start+l-1:], dst[start:start+n])
	copy(dst[start-1:], lb[:l])
	return dst, nil
}

// itemCode is the code an item is written with: its kind's, when the item holds exactly that kind's payload.
func itemCode(it *Item) byte {
	n := 0
	for _, set := range [...]bool{it.Message != nil, it.Status != nil, it.Command != nil, it.Timer != nil,
		it.Delivery != nil, it.Template != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return codeJSON
	}
	switch {
	case it.Kind == KindMessage && it.Message != nil:
		return codeMessage
	case it.Kind == KindStatus && it.Status != nil:
		return codeStatus
	case it.Kind == KindTimer && it.Timer != nil:
		return codeTimer
	case it.Kind == KindDelivery && it.Delivery != nil:
		return codeDelivery
	}
	return codeJSON
}

// appendString appends s as a string field. Invalid UTF-8 is written as encoding/json writes it, each invalid byte
// as U+FFFD, so a record decodes the same whichever format carried it.
func appendString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = validUTF8(s)
	}
	return wire.AppendString(dst, s)
}

func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // utf8.RuneError for an invalid byte
		i += n
	}
	return b.String()
}

// decodeBinary parses layout 1; Decode then checks the record as it checks a JSON one.
func decodeBinary(b []byte) (Record, error) {
	var r Record
	d := reader{Reader: wire.NewReader(b[1:])}
	d.strings = stringCaches.Get().(*stringCache)
	defer stringCaches.Put(d.strings)
	v := d.Uvarint()
	if v > 1<<31 {
		return r, fmt.Errorf("version %d", v)
	}
	r.V = int(v)
	r.Tenant = d.intern()
	r.IngestAt = d.Varint()
	n := d.Uvarint()
	if err := d.Err(); err != nil {
		return r, err
	}
	// Each item takes at least two bytes: a count beyond that is corrupt, and must not size an allocation.
	if n > uint64(d.Len()/2) {
		return r, fmt.Errorf("%d items in %d bytes", n, d.Len())
	}
	switch {
	case n == 1:
		// Most records hold one item: it and its payload take one allocation.
		r.Items = oneItem(d.Rest()[0])
	case n > 1:
		r.Items = make([]Item, n)
	}
	for i := range r.Items {
		code := d.Byte()
		p := reader{Reader: wire.NewLenientReader(d.Field()), strings: d.strings}
		if p.Len() == 0 && d.Err() == nil {
			d.Fail("empty item payload") // every payload holds at least its channel's length
		}
		if err := d.Err(); err != nil {
			return r, fmt.Errorf("item %d: %w", i, err)
		}
		if err := p.item(code, &r.Items[i]); err != nil {
			return r, fmt.Errorf("item %d: %w", i, err)
		}
	}
	return r, d.Err()
}

// oneItem returns the items of a record of one item of code: its payload allocated with it and set in it.
func oneItem(code byte) []Item {
	switch code {
	case codeMessage:
		return itemWith(func(it *Item, p *Message) { it.Message = p })
	case codeStatus:
		return itemWith(func(it *Item, p *Status) { it.Status = p })
	case codeTimer:
		return itemWith(func(it *Item, p *Timer) { it.Timer = p })
	case codeDelivery:
		return itemWith(func(it *Item, p *Delivery) { it.Delivery = p })
	}
	return make([]Item, 1)
}

// itemWith allocates one item and its payload T together, and sets the payload in the item.
func itemWith[T any](set func(*Item, *T)) []Item {
	x := new(struct {
		items [1]Item
		v     T
	})
	set(&x.items[0], &x.v)
	return x.items[:]
}

// payload returns p, or a new T when p is nil.
func payload[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

// item decodes one item's payload into it, into the payload it already points to if oneItem set one. Fields after
// the payload's end keep their zero value; bytes after the last known field are skipped (the package comment,
// "Evolution").
func (d *reader) item(code byte, it *Item) error {
	switch code {
	case codeMessage:
		m := payload(it.Message)
		it.Kind, it.Message = KindMessage, m
		it.Channel = d.intern()
		m.ID = d.string()
		m.From = d.intern()
		m.ProfileName = d.intern()
		m.Type = d.intern()
		m.Timestamp = d.Varint()
		m.Text = d.string()
		if c := d.Field(); len(c) > 0 {
			if !json.Valid(c) {
				return fmt.Errorf("message %s: content is not valid JSON", m.ID)
			}
			m.Content = append(json.RawMessage(nil), c...)
		}
		m.ReplyTo = d.string()
	case codeStatus:
		s := payload(it.Status)
		it.Kind, it.Status = KindStatus, s
		it.Channel = d.intern()
		s.ID = d.string()
		s.RecipientID = d.intern()
		s.Status = d.intern()
		s.Timestamp = d.Varint()
		s.ErrorCode = d.Int()
		s.ErrorTitle = d.intern()
	case codeTimer:
		t := payload(it.Timer)
		it.Kind, it.Timer = KindTimer, t
		it.Channel = d.intern()
		t.Kind = d.intern()
		t.ConversationID = d.intern()
		t.Due = d.Varint()
	case codeDelivery:
		v := payload(it.Delivery)
		it.Kind, it.Delivery = KindDelivery, v
		it.Channel = d.intern()
		v.ConversationID = d.intern()
		v.Seq = d.Uvarint()
		v.MessageID = d.string()
		v.WAMID = d.string()
		v.ErrorCode = d.Int()
		v.ErrorTitle = d.intern()
	case codeJSON:
		*it = Item{} // oneItem's payload, if it guessed from a corrupt code, is not this item's
		return json.Unmarshal(d.Rest(), it)
	default:
		return fmt.Errorf("unknown item code %d", code)
	}
	return d.Err()
}

// reader reads layout 1's fields (wire.Reader: the first error sticks, later reads return zero values). The
// record's own fields are read strictly: at their end the record was cut short. An item's payload is read
// leniently: at its end a field the writer did not have yet is left at its zero value.
type reader struct {
	wire.Reader
	strings *stringCache
}

// string copies the next string out of the record: a decoded record never aliases its input (a reader may reuse
// it).
func (d *reader) string() string { return string(d.Field()) }

// intern is string for fields that repeat from record to record (tenant, channel, customer, status): it returns the
// string made last time for the same bytes, so those cost no allocation and resident actors share one copy.
func (d *reader) intern() string { return d.strings.make(d.Field()) }

// stringCache remembers the last string made for each of 256 hash slots (encoding/json v2 keeps the same cache).
type stringCache [256]string

var stringCaches = sync.Pool{New: func() any { return new(stringCache) }}

func (c *stringCache) make(b []byte) string {
	if len(b) < 2 || len(b) > 64 {
		return string(b)
	}
	// FNV-1a of the first and last 8 bytes at most: constant time per string.
	h := uint32(2166136261)
	head, tail := b, b
	if len(b) > 8 {
		head, tail = b[:8], b[len(b)-8:]
	} else {
		tail = nil
	}
	for _, c := range head {
		h = (h ^ uint32(c)) * 16777619
	}
	for _, c := range tail {
		h = (h ^ uint32(c)) * 16777619
	}
	h ^= uint32(len(b))
	slot := &c[uint8(h)]
	if *slot == string(b) {
		return *slot
	}
	*slot = string(b)
	return *slot
}
