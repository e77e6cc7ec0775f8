package conversation

import "testing"

func TestEventID(t *testing.T) {
	for _, c := range []struct {
		conv    string
		version uint64
		n       int
		want    string
	}{
		{"c1", 0, 0, "c1-0-0"},
		{"wa-abc", 12, 3, "wa-abc-12-3"},
		{"x", 18446744073709551615, 9223372036854775807, "x-18446744073709551615-9223372036854775807"},
	} {
		if got := eventID(c.conv, c.version, c.n); got != c.want {
			t.Errorf("eventID(%q, %d, %d) = %q, want %q", c.conv, c.version, c.n, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = eventID("bench-wa.2700000001", 7, 2) }); n > 1 {
		t.Errorf("eventID allocates %v times, want 1", n)
	}
}
