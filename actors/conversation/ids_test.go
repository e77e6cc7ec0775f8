package conversation

import (
	"crypto/sha256"
	"math/rand/v2"
	"strings"
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

// TestSquash: squash is strings.Join(strings.Fields(s), " ") over strings of every kind of space, and allocates
// nothing for a text already squashed.
func TestSquash(t *testing.T) {
	parts := []string{"", " ", "  ", "a", "hello", "\t", "\n", "\r\n", "\u00a0", "\u0085", "\u3000", "日本", "\xff", "x y", "\v\f"}
	r := rand.New(rand.NewPCG(15, 20))
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		for k := r.IntN(6); k > 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		s := b.String()
		if got, want := squash(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("squash(%q) = %q, want %q", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = squash("hello there, my order 42 is late") }); n != 0 {
		t.Errorf("squash of a squashed text allocates %v times", n)
	}
}
