package conversation

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestEventAppendJSON: AppendJSON writes what json.Marshal writes, byte for byte, for random events in which every
// field (found by reflection, so a field added to Event is covered or fails the test) takes ordinary and awkward
// values: empty, HTML characters, escapes, invalid UTF-8, U+2028, times with and without nanoseconds or a zone,
// floats in both notations.
func TestEventAppendJSON(t *testing.T) {
	strs := []string{"", "a", "c0123456789abcdef-3-0", "conversation.assigned", "<b>&amp;</b>", "quote\" back\\slash",
		"tab\tnew\nline\x01", "ünïcødé 日本", "\xff\xfe bad", "line\u2028sep\u2029", "emoji 😀"}
	times := []time.Time{{}, time.Date(2026, 12, 4, 20, 1, 2, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), time.Date(2025, 6, 7, 8, 9, 10, 500, time.FixedZone("x", 5*3600+1800)),
		time.UnixMilli(1764870000123).UTC()}
	floats := []float64{0, 1, 0.5, 12.345, 1e-7, 3.2e-6, 123456789.125, 1e21, 2.5e22, -4.25, 1e20, 0.000001}
	r := rand.New(rand.NewPCG(1, 15))
	rv := reflect.TypeFor[Event]()
	for n := 0; n < 3000; n++ {
		var e Event
		v := reflect.ValueOf(&e).Elem()
		for i := 0; i < rv.NumField(); i++ {
			f := v.Field(i)
			switch {
			case f.Type() == reflect.TypeFor[time.Time]():
				f.Set(reflect.ValueOf(times[r.IntN(len(times))]))
			case f.Kind() == reflect.String:
				f.SetString(strs[r.IntN(len(strs))])
			case f.Kind() == reflect.Bool:
				f.SetBool(r.IntN(2) == 1)
			case f.Kind() == reflect.Float64:
				f.SetFloat(floats[r.IntN(len(floats))])
			case f.Kind() == reflect.Int:
				f.SetInt([]int64{0, 1, 131049, -5}[r.IntN(4)])
			case f.Kind() == reflect.Uint64:
				f.SetUint([]uint64{0, 7, math.MaxUint64}[r.IntN(3)])
			case f.Type() == reflect.TypeFor[[]string]():
				switch r.IntN(3) {
				case 0:
				case 1:
					f.Set(reflect.ValueOf([]string{}))
				default:
					f.Set(reflect.ValueOf([]string{strs[r.IntN(len(strs))], strs[r.IntN(len(strs))]}))
				}
			default:
				t.Fatalf("Event.%s is a %s: teach this test (and AppendJSON) its values", rv.Field(i).Name, f.Type())
			}
		}
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("event %+v:\n AppendJSON %s\n Marshal    %s", e, got[len("prefix"):], want)
		}
	}
	// It fails where Marshal fails.
	for _, e := range []Event{{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, {WaitSeconds: math.NaN()},
		{HandlingSeconds: math.Inf(1)}} {
		if _, err := e.AppendJSON(nil); err == nil {
			t.Errorf("AppendJSON of %+v did not fail", e)
		}
		if _, err := json.Marshal(&e); err == nil {
			t.Errorf("json.Marshal of %+v did not fail", e)
		}
	}
}

// BenchmarkEventAppendJSON is BenchmarkEventEncode with AppendJSON into a reused buffer, as the router encodes.
func BenchmarkEventAppendJSON(b *testing.B) {
	ev := firstEvent(b)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = ev.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
