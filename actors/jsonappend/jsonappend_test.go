package jsonappend

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestMatchesMarshal: each appender writes what json.Marshal writes, and fails where it fails.
func TestMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "plain", "<&>", "\"\\", "\x00\x1f", "é日本😀", "\xff", "a\u2028b\u2029", "\u00e2"} {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Date(2026, 12, 4, 1, 2, 3, 40, time.UTC),
		time.Date(1, 2, 3, 4, 5, 6, 0, time.FixedZone("", -7*3600)), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)} {
		want, _ := json.Marshal(tm)
		if got, err := Time(nil, tm); err != nil || string(got) != string(want) {
			t.Errorf("Time(%v) = %s, %v; want %s", tm, got, err, want)
		}
	}
	if _, err := Time(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("Time of year 10000 did not fail")
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 123456.789, 1e20, 1e21, 1.5e300,
		math.SmallestNonzeroFloat64, math.MaxFloat64, 0.000123, 98765432109876543210} {
		want, _ := json.Marshal(f)
		if got, err := Float(nil, f); err != nil || string(got) != string(want) {
			t.Errorf("Float(%v) = %s, %v; want %s", f, got, err, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := Float(nil, f); err == nil {
			t.Errorf("Float(%v) did not fail", f)
		}
	}
}
