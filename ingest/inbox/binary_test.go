package inbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/ingest/wire"
)

// filler sets every field of a value, by reflection, to random non-zero data: a field the codec forgets comes back
// zero and fails the round trip.
type filler struct{ rnd *rand.Rand }

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func (f filler) string() string {
	const alphabet = "abcXYZ019 _-.+:/é✓\"\\<>&\n\t\x00"
	rs := []rune(alphabet)
	var b strings.Builder
	for range 1 + f.rnd.IntN(40) {
		b.WriteRune(rs[f.rnd.IntN(len(rs))])
	}
	if f.rnd.IntN(8) == 0 { // now and then long enough for a two-byte length
		b.WriteString(strings.Repeat("x", 130+f.rnd.IntN(200)))
	}
	return b.String()
}

func (f filler) fill(v reflect.Value) {
	if v.Type() == rawMessageType {
		// Valid JSON as encoding/json writes it (compact, <>& escaped), so the JSON round trip keeps it too.
		b, err := json.Marshal(map[string]any{f.string(): f.string(), "n": f.rnd.Int64()})
		if err != nil {
			panic(err)
		}
		v.SetBytes(b)
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(f.string())
	case reflect.Int, reflect.Int64:
		n := f.rnd.Int64() >> f.rnd.IntN(63)
		if f.rnd.IntN(2) == 0 {
			n = -n
		}
		if n == 0 {
			n = 1
		}
		v.SetInt(n)
	case reflect.Uint64:
		v.SetUint(1 + f.rnd.Uint64()>>f.rnd.IntN(64))
	case reflect.Float64:
		v.SetFloat(f.rnd.NormFloat64() * 100)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem())
	case reflect.Slice:
		n := 1 + f.rnd.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			f.fill(v.Index(i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 1 + f.rnd.IntN(3) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k)
			f.fill(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i))
			}
		}
	default:
		panic("BUG: filler has no case for " + v.Type().String())
	}
}

// randomItem is an item of kind k whose payload (the Item field named field) has every field set at random.
func (f filler) randomItem(k Kind, field string) Item {
	it := Item{Kind: k, Channel: f.string()}
	p := reflect.ValueOf(&it).Elem().FieldByName(field)
	f.fill(p)
	return it
}

// itemKinds maps every Kind to the Item field that carries its payload. TestItemKindsComplete keeps it complete.
var itemKinds = map[Kind]string{KindMessage: "Message", KindStatus: "Status", KindCommand: "Command",
	KindTimer: "Timer", KindDelivery: "Delivery", KindTemplate: "Template"}

// TestItemKindsComplete: every payload field of Item has its kind in itemKinds, so TestRoundTripRandom covers a
// kind added later.
func TestItemKindsComplete(t *testing.T) {
	fields := map[string]bool{}
	for _, f := range itemKinds {
		fields[f] = true
	}
	typ := reflect.TypeFor[Item]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() == reflect.Pointer && !fields[f.Name] {
			t.Errorf("Item.%s has no kind in itemKinds", f.Name)
		}
	}
}

// TestRoundTripRandom encodes records of every kind, with every field of the record, the item and its payload set
// to random data, in both formats, and decodes the same record; the hot kinds are coded field by field.
func TestRoundTripRandom(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(1, 15))}
	hot := map[Kind]byte{KindMessage: codeMessage, KindStatus: codeStatus, KindTimer: codeTimer, KindDelivery: codeDelivery}
	for round := range 300 {
		for kind, field := range itemKinds {
			var r Record
			f.fill(reflect.ValueOf(&r).Elem().FieldByName("Tenant"))
			f.fill(reflect.ValueOf(&r).Elem().FieldByName("IngestAt"))
			r.Items = []Item{f.randomItem(kind, field)}
			if round%3 == 0 { // and a second item, of another kind
				for k2, f2 := range itemKinds {
					r.Items = append(r.Items, f.randomItem(k2, f2))
					break
				}
			}
			for _, format := range []Format{FormatBinary, FormatJSON} {
				b, err := format.Append(nil, &r)
				if err != nil {
					t.Fatalf("%s %s: %v", format, kind, err)
				}
				if format == FormatBinary {
					d := wire.NewReader(b[1:])
					d.Uvarint()
					d.Field()
					d.Varint()
					d.Uvarint()
					if code := d.Byte(); code != hot[kind] {
						t.Fatalf("%s item written with code %d, want %d", kind, code, hot[kind])
					}
				}
				got, err := Decode(b)
				if err != nil {
					t.Fatalf("%s %s: %v\n%+v", format, kind, err, r.Items[0])
				}
				if !reflect.DeepEqual(got, r) {
					t.Fatalf("%s %s round trip:\n got %s\nwant %s", format, kind, asJSON(got), asJSON(r))
				}
			}
		}
	}
}

// asJSON shows a record with its payloads, for a failure's message.
func asJSON(r Record) []byte {
	b, _ := json.Marshal(r)
	return b
}

// TestRoundTripOddItems: items whose payload does not fit their kind travel as JSON items and decode as JSON does,
// valid or not.
func TestRoundTripOddItems(t *testing.T) {
	for name, it := range map[string]Item{
		"message with a status": {Kind: KindMessage, Channel: "c", Message: &Message{ID: "w", From: "1"}, Status: &Status{ID: "s", RecipientID: "1"}},
		"message without one":   {Kind: KindMessage, Channel: "c"},
		"timer with a message":  {Kind: KindTimer, Message: &Message{ID: "w", From: "1"}},
	} {
		r := Record{Tenant: "t", Items: []Item{it}}
		b, err := r.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		j, err := r.EncodeJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		gotJ, errJ := Decode(j)
		if !reflect.DeepEqual(got, gotJ) || (err == nil) != (errJ == nil) {
			t.Errorf("%s: binary %+v (%v), JSON %+v (%v)", name, got, err, gotJ, errJ)
		}
	}
}

// TestDecodeNewerAndOlderPayloads: a payload with bytes after the fields this node knows (a newer node appended
// fields) decodes, the extra bytes skipped; a payload that ends before the last fields (an older layout) decodes
// with them zero.
func TestDecodeNewerAndOlderPayloads(t *testing.T) {
	payload := func(fields ...[]byte) []byte { return bytes.Join(fields, nil) }
	str := func(s string) []byte { return appendString(nil, s) }
	record := func(code byte, p []byte) []byte {
		b := []byte{formatBinary1, 1}
		b = appendString(b, "acme")
		b = binary.AppendVarint(b, 5)
		b = append(b, 1, code)
		return wire.AppendBytes(b, p)
	}
	newer := record(codeStatus, payload(str("c"), str("w"), str("1"), str("read"), binary.AppendVarint(nil, 7),
		binary.AppendVarint(nil, 0), str(""), str("a field of a later layout"), binary.AppendVarint(nil, 99)))
	got, err := Decode(newer)
	want := Status{ID: "w", RecipientID: "1", Status: "read", Timestamp: 7}
	if err != nil || *got.Items[0].Status != want || got.Items[0].Channel != "c" || got.Tenant != "acme" || got.IngestAt != 5 {
		t.Errorf("newer payload: %+v (%v)", got, err)
	}
	older := record(codeMessage, payload(str("c"), str("w"), str("1"), str("Maria"), str("text"), binary.AppendVarint(nil, 9)))
	got, err = Decode(older)
	if err != nil || !reflect.DeepEqual(*got.Items[0].Message, Message{ID: "w", From: "1", ProfileName: "Maria", Type: "text", Timestamp: 9}) {
		t.Errorf("older payload: %+v (%v)", got.Items, err)
	}
}

// goldenValues are the golden records in both formats (testdata).
func goldenValues(t testing.TB) [][]byte {
	var out [][]byte
	for _, dir := range []string{"golden-json", "golden-binary"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no golden records in %s (%v)", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// TestDecodeTruncatedAndCorrupt: every proper prefix of a binary record is refused with ErrBadRecord; every
// single-byte change decodes or is refused with ErrBadRecord, and never panics.
func TestDecodeTruncatedAndCorrupt(t *testing.T) {
	for _, v := range goldenValues(t) {
		if v[0] != formatBinary1 {
			continue
		}
		for n := range len(v) {
			if _, err := Decode(v[:n]); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("%x cut to %d bytes: err = %v, want ErrBadRecord", v, n, err)
			}
		}
		c := bytes.Clone(v)
		for i := range c {
			for _, x := range []byte{0x00, 0x01, 0x7f, 0x80, 0xff, c[i] ^ 0x01} {
				old := c[i]
				c[i] = x
				if _, err := Decode(c); err != nil && !errors.Is(err, ErrBadRecord) {
					t.Fatalf("%x: err = %v, want ErrBadRecord", c, err)
				}
				c[i] = old
			}
		}
	}
	for _, b := range [][]byte{nil, {}, {0xB2, 1}, {0xff}, {formatBinary1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		append([]byte{formatBinary1, 1, 1, 'a', 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, make([]byte, 16)...)} {
		if _, err := Decode(b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%x: err = %v, want ErrBadRecord", b, err)
		}
	}
}

// TestDecodeCopies: a decoded record keeps nothing of its input, which the caller may reuse.
func TestDecodeCopies(t *testing.T) {
	recs := goldenRecords()
	for _, name := range goldenNames() {
		r := recs[name]
		b, err := r.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 'X'
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("%s changed with its input: %+v", name, got)
		}
	}
}

// FuzzDecode: no input panics Decode; every error wraps ErrBadRecord; a record Decode accepts, written again in
// both formats, decodes to the same record from each (or fails to encode in both).
//
//	GOEXPERIMENT=jsonv2 go test ./ingest/inbox -run '^$' -fuzz FuzzDecode -fuzztime 2m -parallel 1
func FuzzDecode(f *testing.F) {
	for _, v := range goldenValues(f) {
		f.Add(v)
	}
	f.Add([]byte{formatBinary1})
	f.Add([]byte(`{"v":1,"tenant":"a","items":[{"kind":"timer","timer":{"kind":"k","conversation_id":"c"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("err = %v, want ErrBadRecord", err)
			}
			return
		}
		bin, errB := r.Encode(nil)
		js, errJ := r.EncodeJSON(nil)
		if (errB == nil) != (errJ == nil) {
			t.Fatalf("Encode: %v, EncodeJSON: %v", errB, errJ)
		}
		if errB != nil {
			return
		}
		fromBin, errB := Decode(bin)
		fromJSON, errJ := Decode(js)
		if errB != nil || errJ != nil {
			t.Fatalf("re-encoded record refused: binary %v, JSON %v\n%+v", errB, errJ, r)
		}
		if len(fromJSON.Items) == 0 {
			fromJSON.Items = nil // JSON's "items":[] is a record of no items, as binary's 0 is
		}
		// Compared as JSON: the binary layout carries raw JSON as it was given, where JSON compacted it and escaped
		// <, > and & (the same JSON value).
		if b, j := asJSON(fromBin), asJSON(fromJSON); !bytes.Equal(b, j) {
			t.Fatalf("formats differ:\nbinary %s\n  JSON %s", b, j)
		}
	})
}
