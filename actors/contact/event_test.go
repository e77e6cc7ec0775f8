package contact

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestEventAppendJSON: AppendJSON writes what json.Marshal writes for random events, every field (found by
// reflection, so a field added to Event is covered or fails the test) taking ordinary and awkward values; NewEvent
// names the event by the input's position.
func TestEventAppendJSON(t *testing.T) {
	strs := []string{"", "ct.acme.k0123456789abcdef.12345.0", "contact.created", "<&>", "quote\"\\", "ctl\x01\n",
		"日本", "\xff", "a\u2028b"}
	times := []time.Time{{}, time.Date(2026, 12, 4, 20, 1, 2, 3, time.UTC), time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))}
	r := rand.New(rand.NewPCG(4, 15))
	rt := reflect.TypeFor[Event]()
	for n := 0; n < 2000; n++ {
		var e Event
		v := reflect.ValueOf(&e).Elem()
		for i := 0; i < rt.NumField(); i++ {
			f := v.Field(i)
			switch {
			case f.Type() == reflect.TypeFor[time.Time]():
				f.Set(reflect.ValueOf(times[r.IntN(len(times))]))
			case f.Kind() == reflect.String:
				f.SetString(strs[r.IntN(len(strs))])
			default:
				t.Fatalf("Event.%s is a %s: teach this test (and AppendJSON) its values", rt.Field(i).Name, f.Type())
			}
		}
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.AppendJSON([]byte("x"))
		if err != nil || !bytes.Equal(got[1:], want) {
			t.Fatalf("event %+v:\n AppendJSON %s (%v)\n Marshal    %s", e, got, err, want)
		}
	}
	if e := NewEvent(EventCreated, "acme", "k1", "", time.Time{}, Position{Offset: 1234567, Index: 3}); e.ID != "ct.acme.k1.1234567.3" {
		t.Errorf("NewEvent id %q", e.ID)
	}
	if e := (&Event{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); true {
		if _, err := e.AppendJSON(nil); err == nil {
			t.Error("AppendJSON of year 10000 did not fail")
		}
	}
}
