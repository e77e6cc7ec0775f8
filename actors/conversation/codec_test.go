package conversation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// binaryRecord is what the store needs of a record it keeps in the binary encoding.
type binaryRecord interface {
	AppendBinary(dst []byte) []byte
	BinarySize() int
	UnmarshalBinary(b []byte) error
}

// TestCodecEveryField fills every field of a Conversation and a Message, through nested structs, pointers, slices
// and maps, with random values by reflection, and checks that the binary round trip gives what the JSON round trip
// gives (which is what the store read before the binary encoding). A field added to the structs and forgotten by
// the codec decodes as its zero value and fails here; a field of a kind fill does not know fails too.
func TestCodecEveryField(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 2026))
	for i := range 200 {
		var c Conversation
		fill(t, rnd, reflect.ValueOf(&c).Elem(), "Conversation")
		requireSet(t, reflect.ValueOf(c), "Conversation")
		checkRoundTrip(t, fmt.Sprintf("conversation %d", i), &c, new(Conversation))

		var m Message
		fill(t, rnd, reflect.ValueOf(&m).Elem(), "Message")
		requireSet(t, reflect.ValueOf(m), "Message")
		checkRoundTrip(t, fmt.Sprintf("message %d", i), &m, new(Message))
	}
}

// TestCodecEdges covers what random values do not: zero values, nil against empty slices and maps, zero times,
// times in other zones, with a monotonic reading, and out of int64 nanoseconds' range.
func TestCodecEdges(t *testing.T) {
	at := time.Date(2026, 12, 4, 18, 30, 0, 123_456_789, time.UTC)
	kolkata := time.FixedZone("IST", 5*3600+1800)
	conversations := map[string]Conversation{
		"zero":                {},
		"nil slices and maps": {ID: "c1", Labels: nil, RequiredSkills: nil, ReadBy: nil, MentionMarks: nil},
		"empty slices and maps": {ID: "c1", Labels: []string{}, RequiredSkills: []string{},
			ReadBy: map[string]ReadMark{}, MentionMarks: map[string]MentionMark{}},
		"empty strings in slices": {Labels: []string{"", ""}, RequiredSkills: []string{""}},
		"times in a fixed zone":   {CreatedAt: at.In(kolkata), UpdatedAt: at.In(time.FixedZone("", -7*3600))},
		"time at a zero offset":   {CreatedAt: at.In(time.FixedZone("GMT", 0))},
		"time in Local":           {CreatedAt: at.Local()},
		"monotonic reading":       {CreatedAt: time.Now(), UpdatedAt: time.Now().UTC()},
		"far times": {CreatedAt: time.Date(1500, 1, 2, 3, 4, 5, 6, time.UTC),
			UpdatedAt:     time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
			LastInboundAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		"far time in a zone": {CreatedAt: time.Date(2500, 1, 2, 3, 4, 5, 6, kolkata)},
		"unix epoch":         {CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(-1, 999_999_999).UTC()},
		"empty last message": {LastMessage: &LastMessage{}},
		"one read mark":      {ReadBy: map[string]ReadMark{"": {}}, MentionMarks: map[string]MentionMark{"a": {At: at}}},
		"negatives":          {Priority: -7, Applied: Position{Offset: -1, Index: -2}},
		"many read marks": {ReadBy: func() map[string]ReadMark {
			m := map[string]ReadMark{}
			for i := range 20 {
				m[fmt.Sprintf("op%02d", i)] = ReadMark{Seq: uint64(i), At: at}
			}
			return m
		}()},
	}
	for name, c := range conversations {
		checkRoundTrip(t, name, &c, new(Conversation))
	}
	messages := map[string]Message{
		"zero":          {},
		"empty content": {Content: json.RawMessage{}},
		"null content":  {Content: json.RawMessage("null")},
		"negative code": {ErrorCode: -131047, SentAt: at.In(kolkata)},
		"long text":     {Text: strings.Repeat("ü", 5000)},
	}
	for name, m := range messages {
		checkRoundTrip(t, name, &m, new(Message))
	}
	// The encoding is deterministic: a map's entries are sorted.
	c := conversations["many read marks"]
	if a, b := c.AppendBinary(nil), c.AppendBinary(nil); !bytes.Equal(a, b) {
		t.Error("two encodings of one conversation differ")
	}
}

// checkRoundTrip checks v's encoding: its size, that it appends, and that decoding it (into fresh, a pointer to a
// zero value of v's type) gives what decoding v's JSON gives, without aliasing the encoded bytes.
func checkRoundTrip(t *testing.T, name string, v, fresh binaryRecord) {
	t.Helper()
	enc := v.AppendBinary([]byte("prefix"))
	if got, ok := bytes.CutPrefix(enc, []byte("prefix")); !ok || len(got) != v.BinarySize() {
		t.Fatalf("%s: AppendBinary appended %d bytes (prefix kept: %v), BinarySize says %d", name, len(got), ok,
			v.BinarySize())
	}
	enc = enc[len("prefix"):]
	if enc[0] != FormatV1 || enc[0] == '{' {
		t.Fatalf("%s: encoding starts with %#x", name, enc[0])
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	if err := json.Unmarshal(js, want); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	buf := bytes.Clone(enc)
	if err := fresh.UnmarshalBinary(buf); err != nil {
		t.Fatalf("%s: UnmarshalBinary: %v", name, err)
	}
	for i := range buf {
		buf[i] = 0xff // the store's buffers are reused: nothing decoded may point into them
	}
	if !reflect.DeepEqual(fresh, want) {
		t.Errorf("%s: the binary round trip differs from the JSON round trip in %s\n binary: %+v\n   json: %+v",
			name, differing(reflect.ValueOf(fresh).Elem(), reflect.ValueOf(want).Elem()), fresh, want)
	}
	// Decoding into a value that holds something leaves nothing of it.
	if err := fresh.UnmarshalBinary(enc); err != nil || !reflect.DeepEqual(fresh, want) {
		t.Errorf("%s: second decode into the same value: %v", name, err)
	}
}

// differing names the fields of two structs of one type that differ.
func differing(a, b reflect.Value) string {
	var names []string
	for i := range a.NumField() {
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			names = append(names, a.Type().Field(i).Name)
		}
	}
	return strings.Join(names, ", ")
}

var timeType = reflect.TypeFor[time.Time]()

// fill sets v, and everything it holds, to random non-zero values that JSON round-trips: valid UTF-8 strings,
// compact JSON in a json.RawMessage, times without a monotonic reading in UTC or a fixed zone at whole minutes.
func fill(t testing.TB, rnd *rand.Rand, v reflect.Value, path string) {
	t.Helper()
	switch {
	case v.Type() == timeType:
		sec := rnd.Int64N(400*365*24*3600) - 100*365*24*3600 // 1870 to 2270
		tm := time.Unix(sec, rnd.Int64N(1e9))
		if rnd.IntN(2) == 0 {
			v.Set(reflect.ValueOf(tm.UTC()))
		} else {
			minutes := rnd.IntN(26*60) - 13*60
			if minutes == 0 {
				minutes = 90
			}
			v.Set(reflect.ValueOf(tm.In(time.FixedZone("", minutes*60))))
		}
		return
	case v.Type() == reflect.TypeFor[json.RawMessage]():
		id, _ := json.Marshal(randString(rnd))
		v.SetBytes(fmt.Appendf(nil, `{"id":%s,"n":%d}`, id, rnd.IntN(1000)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(randString(rnd))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(rnd.Int64()>>rnd.IntN(63)*int64(1-2*rnd.IntN(2)) | 1)
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(rnd.Uint64()>>rnd.IntN(64) | 1)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s is unexported: the codec and this test need to learn it", path, f.Name)
			}
			fill(t, rnd, v.Field(i), path+"."+f.Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, rnd, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1+rnd.IntN(3), 3))
		for i := range v.Len() {
			fill(t, rnd, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 1 + rnd.IntN(3) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(t, rnd, k, path+"[key]")
			fill(t, rnd, e, path+"[value]")
			v.SetMapIndex(k, e)
		}
	default:
		t.Fatalf("%s is a %s: the codec and this test need to learn it", path, v.Type())
	}
}

// requireSet fails unless every field under v is set (not its zero value), so a field the codec forgets changes
// the round trip.
func requireSet(t testing.TB, v reflect.Value, path string) {
	t.Helper()
	if v.IsZero() {
		t.Fatalf("fill left %s zero", path)
	}
	switch {
	case v.Type() == timeType:
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			requireSet(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case v.Kind() == reflect.Pointer:
		requireSet(t, v.Elem(), path)
	case v.Kind() == reflect.Map:
		for it := v.MapRange(); it.Next(); {
			requireSet(t, it.Value(), path+"[value]")
		}
	}
}

const randRunes = "abcxyz019 _-./:@#\"\\\x00\t\nñüßåøЖж漢字😀"

func randString(rnd *rand.Rand) string {
	r := []rune(randRunes)
	var b strings.Builder
	for range 1 + rnd.IntN(24) {
		b.WriteRune(r[rnd.IntN(len(r))])
	}
	return b.String()
}

// TestCodecErrors checks that a record of an unknown format, and every truncation and many corruptions of a valid
// one, are errors and never panics.
func TestCodecErrors(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 12))
	var c Conversation
	fill(t, rnd, reflect.ValueOf(&c).Elem(), "Conversation")
	var m Message
	fill(t, rnd, reflect.ValueOf(&m).Elem(), "Message")
	for _, rec := range []struct {
		name  string
		enc   []byte
		fresh func() binaryRecord
	}{
		{"conversation", c.AppendBinary(nil), func() binaryRecord { return new(Conversation) }},
		{"message", m.AppendBinary(nil), func() binaryRecord { return new(Message) }},
	} {
		for _, b := range [][]byte{{2}, {0}, {0xff, 1, 2}, []byte(`{"id":"c1"}`), append([]byte{2}, rec.enc[1:]...)} {
			if err := rec.fresh().UnmarshalBinary(b); !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("%s %q: err %v, want ErrUnknownFormat", rec.name, b, err)
			}
		}
		for n := range len(rec.enc) {
			if err := rec.fresh().UnmarshalBinary(rec.enc[:n]); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s truncated to %d of %d bytes: err %v, want ErrMalformed", rec.name, n, len(rec.enc), err)
			}
		}
		if err := rec.fresh().UnmarshalBinary(append(bytes.Clone(rec.enc), 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s with a trailing byte: err %v, want ErrMalformed", rec.name, err)
		}
		for range 2000 {
			b := bytes.Clone(rec.enc)
			for range 1 + rnd.IntN(3) {
				b[1+rnd.IntN(len(b)-1)] = byte(rnd.Uint32())
			}
			_ = rec.fresh().UnmarshalBinary(b) // no panic; a changed byte may still decode
		}
	}
	if err := new(Conversation).UnmarshalBinary(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty record: err %v, want ErrMalformed", err)
	}
}

// FuzzUnmarshalBinary decodes arbitrary bytes as a conversation and as a message: no panic, and whatever decodes
// encodes again to a record that decodes to the same value.
//
//	go test ./actors/conversation -run '^$' -fuzz FuzzUnmarshalBinary -fuzztime 1m
func FuzzUnmarshalBinary(f *testing.F) {
	rnd := rand.New(rand.NewPCG(1, 1))
	for range 4 {
		var c Conversation
		fill(f, rnd, reflect.ValueOf(&c).Elem(), "Conversation")
		f.Add(c.AppendBinary(nil))
		var m Message
		fill(f, rnd, reflect.ValueOf(&m).Elem(), "Message")
		f.Add(m.AppendBinary(nil))
	}
	f.Add((&Conversation{}).AppendBinary(nil))
	f.Add((&Message{}).AppendBinary(nil))
	f.Add([]byte{FormatV1})
	f.Add([]byte(`{"id":"c1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fresh := range []func() binaryRecord{
			func() binaryRecord { return new(Conversation) },
			func() binaryRecord { return new(Message) },
		} {
			v := fresh()
			if v.UnmarshalBinary(b) != nil {
				continue
			}
			enc := v.AppendBinary(nil)
			if len(enc) != v.BinarySize() {
				t.Fatalf("%T: encoded %d bytes, BinarySize %d", v, len(enc), v.BinarySize())
			}
			again := fresh()
			if err := again.UnmarshalBinary(enc); err != nil {
				t.Fatalf("%T: decode of the re-encoding: %v", v, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("%T: re-encoding decodes to\n%+v\nnot\n%+v", v, again, v)
			}
		}
	})
}
