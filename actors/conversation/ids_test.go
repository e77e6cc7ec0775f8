package conversation

import (
	"crypto/sha256"
	"testing"
)

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

// TestDerivedIDs: ID and ContactID name what they named before they were built in one allocation (the ids are
// stored: they must never change).
func TestDerivedIDs(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ID("acme-wa", "15551234567"), oldID("c", "acme-wa\x0015551234567")},
		{ID("", ""), oldID("c", "\x00")},
		{ID("a-channel-id-long-enough-to-leave-the-stack-buffer-behind", "4915112345678901234"),
			oldID("c", "a-channel-id-long-enough-to-leave-the-stack-buffer-behind\x004915112345678901234")},
		{ContactID("15551234567"), oldID("k", "contact\x0015551234567")},
		{ContactID(""), oldID("k", "contact\x00")},
	} {
		if c.got != c.want {
			t.Errorf("id %q, want %q", c.got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ID("bench-wa", "2701000001"), ContactID("2701000001") }); n > 2 {
		t.Errorf("ID and ContactID allocate %v times, want 1 each", n)
	}
}

// oldID is how ID and ContactID derived ids before.
func oldID(kind, in string) string {
	h := sha256.Sum256([]byte(in))
	return kind + idEncoding.EncodeToString(h[:10])
}
