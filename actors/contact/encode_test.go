package contact

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendJSON compares AppendJSON with json.Marshal over random contacts, strings and field values drawn from
// what needs no escaping and what does.
func TestAppendJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"", "a", "Ana", "+4915100000001", "São Paulo", "<b>", "a&b", "\"q\"", `back\slash`, "tab\t",
		"\x00", "\u2028", "\u2029", "é", "日本", "\xff", "\xe2\x82", "€", "line\nbreak", "😀"}
	str := func() string {
		s := ""
		for range rng.IntN(4) {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	values := []string{`"text"`, `"a<b"`, `42`, `-3.5`, `true`, `false`, `"1980-01-05"`, `"é"`, `"\u00e9"`, `"a\"b"`,
		` "spaced" `, `{"a": 1}`, `[1, 2]`, `null`, `"\u2028"`, "\"\u2028\""}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
	for i := range 20000 {
		c := Contact{ID: str(), Phone: str(), WaID: str(), Name: str(), ProfileName: str(), Blocked: rng.IntN(2) == 0,
			CreatedAt: time.Unix(rng.Int64N(1<<33), rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))]),
			UpdatedAt: time.Unix(rng.Int64N(1<<33)-1<<32, 0).UTC(), Version: rng.Uint64N(1 << 40),
			Applied: Position{Offset: rng.Int64N(1<<40) - 5, Index: rng.IntN(100)}, ImportID: str(), ImportLine: rng.IntN(3)}
		switch rng.IntN(3) {
		case 0:
		case 1:
			c.Fields = map[string]json.RawMessage{}
		default:
			c.Fields = map[string]json.RawMessage{}
			for range 1 + rng.IntN(5) {
				c.Fields[str()] = json.RawMessage(values[rng.IntN(len(values))])
			}
		}
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatalf("contact %d: %v", i, err)
		}
		if !bytes.Equal(got[len("prefix"):], want) || string(got[:len("prefix")]) != "prefix" {
			t.Fatalf("contact %d:\n got %s\nwant %s", i, got, want)
		}
	}
	// Where json.Marshal fails, AppendJSON fails.
	for _, c := range []Contact{{Fields: map[string]json.RawMessage{"a": json.RawMessage(`{`)}},
		{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		if _, err := json.Marshal(&c); err == nil {
			t.Fatalf("json.Marshal(%+v) did not fail", c)
		}
		if _, err := c.AppendJSON(nil); err == nil {
			t.Errorf("AppendJSON(%+v) did not fail", c)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	c := Contact{ID: "k0123456789abcdef", Phone: "+4915100000001", WaID: "4915100000001", Name: "Person 1",
		Fields: map[string]json.RawMessage{"city": json.RawMessage(`"City 1"`), "plan": json.RawMessage(`"premium"`),
			"birthday": json.RawMessage(`"1980-01-05"`), "vip": json.RawMessage(`true`)},
		CreatedAt: time.Unix(1e9, 5).UTC(), UpdatedAt: time.Unix(1e9, 5).UTC(), Version: 1, ImportID: "imp", ImportLine: 2}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = c.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(&c)
		}
	})
}

// TestUnquoteJSON compares unquoteJSON with json.Unmarshal.
func TestUnquoteJSON(t *testing.T) {
	for _, raw := range []string{`""`, `"a"`, `"São"`, `"a\"b"`, `"\u00e9"`, `"\ud800"`, "\"\xff\"", "\"tab\t\"", `"`,
		`"a`, `a"`, `42`, `"\n"`, "\"\u2028\"", `"<&>"`, `null`, `"a"b"`} {
		var want string
		wantErr := json.Unmarshal([]byte(raw), &want)
		got, ok := unquoteJSON([]byte(raw))
		if ok != (wantErr == nil) || ok && got != want {
			t.Errorf("unquoteJSON(%q) = %q, %v; json.Unmarshal: %q, %v", raw, got, ok, want, wantErr)
		}
	}
}
