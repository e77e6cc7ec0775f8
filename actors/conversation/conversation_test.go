package conversation

import (
	"fmt"
	"strings"
	"testing"
)

func TestIDDeterministic(t *testing.T) {
	if ID("acme-wa", "15551230000") != ID("acme-wa", "15551230000") {
		t.Error("ID is not deterministic")
	}
	if ContactID("15551230000") != ContactID("15551230000") {
		t.Error("ContactID is not deterministic")
	}
	// Pinned values (computed independently: "c"/"k" + base32hex-lower of the first 10 bytes of SHA-256): an id that
	// changed between versions would orphan every stored conversation.
	if got, want := ID("acme-wa", "15551230000"), "cfuc0vr4ebgp2qgtd"; got != want {
		t.Errorf("ID = %q, want %q", got, want)
	}
	if got, want := ContactID("15551230000"), "k9t94085rid4ev8r0"; got != want {
		t.Errorf("ContactID = %q, want %q", got, want)
	}
}

func TestIDShape(t *testing.T) {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	for _, tc := range []struct {
		name, id, prefix string
	}{
		{"ID", ID("acme-wa", "15551230000"), "c"},
		{"ContactID", ContactID("15551230000"), "k"},
	} {
		// 10 bytes of SHA-256 in base32 are 16 characters, all safe in a URL path and a Pebble key.
		if len(tc.id) != 17 || !strings.HasPrefix(tc.id, tc.prefix) {
			t.Errorf("%s = %q: want %q and 16 base32 characters", tc.name, tc.id, tc.prefix)
		}
		for _, r := range tc.id[1:] {
			if !strings.ContainsRune(alphabet, r) {
				t.Errorf("%s = %q holds %q, outside the lower-case base32 alphabet", tc.name, tc.id, r)
			}
		}
	}
}

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{"an id ID made", ID("acme-wa", "15551230000"), true},
		{"another id ID made", ID("chan-7", "+44 20 7946 0000"), true},
		{"the pinned id", "cfuc0vr4ebgp2qgtd", true},
		{"every digit and letter of the alphabet", "c0123456789abcdef", true},
		{"the alphabet's last letters", "cghijklmnopqrstuv", true},
		{"empty", "", false},
		{"the kind letter alone", "c", false},
		{"one character short", "cfuc0vr4ebgp2qgt", false},
		{"one character long", "cfuc0vr4ebgp2qgtdd", false},
		{"a contact id", ContactID("15551230000"), false},
		{"upper case", "CFUC0VR4EBGP2QGTD", false},
		{"upper case after the kind", "cFUC0VR4EBGP2QGTD", false},
		{"a letter past v", "cfuc0vr4ebgp2qgtw", false},
		{"z", "czzzzzzzzzzzzzzzz", false},
		{"a slash", "cfuc0vr4ebgp2q/td", false},
		{"a dot", "cfuc0vr4ebgp2q.td", false},
		{"a space", "cfuc0vr4ebgp2q td", false},
		{"a NUL", "cfuc0vr4ebgp2q\x00td", false},
		{"a multi-byte rune in 17 bytes", "cfuc0vr4ebgp2qg\u00e9", false},
		{"padding", "cfuc0vr4ebgp2qg==", false},
		{"a long id", "c" + strings.Repeat("a", 4096), false},
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("%s: ValidID(%q) = %v, want %v", tc.name, tc.id, got, tc.want)
		}
	}
	// Every id ID makes is valid, whatever the channel and customer.
	for c := range 10 {
		for u := range 200 {
			if id := ID(fmt.Sprintf("chan-%d", c), fmt.Sprintf("1555%07d", u)); !ValidID(id) {
				t.Fatalf("ValidID(%q) = false for an id ID made", id)
			}
		}
	}
}

func TestValidContactID(t *testing.T) {
	for id, want := range map[string]bool{ContactID("15551230000"): true, "k9t94085rid4ev8r0": true,
		ID("acme-wa", "15551230000"): false, "": false, "k": false, "k9t94085rid4ev8r": false, "K9t94085rid4ev8r0": false,
		"k9t94085rid4ev8rw": false, "k9t94085rid4ev8r/": false} {
		if got := ValidContactID(id); got != want {
			t.Errorf("ValidContactID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestIDDistinct(t *testing.T) {
	seen := map[string]string{}
	add := func(id, what string) {
		t.Helper()
		if prev, dup := seen[id]; dup {
			t.Fatalf("%s and %s share id %s", prev, what, id)
		}
		seen[id] = what
	}
	for c := range 20 {
		channel := fmt.Sprintf("chan-%d", c)
		for u := range 500 {
			customer := fmt.Sprintf("1555%07d", u)
			add(ID(channel, customer), "conversation "+channel+"/"+customer)
		}
	}
	// A contact is per phone: the same on every channel, distinct from every conversation id.
	for u := range 500 {
		customer := fmt.Sprintf("1555%07d", u)
		add(ContactID(customer), "contact "+customer)
	}
	// The separator keeps a channel/customer split from aliasing another split of the same characters.
	if ID("ab", "c") == ID("a", "bc") {
		t.Error("ids of (ab, c) and (a, bc) collide")
	}
}

func TestPositionLess(t *testing.T) {
	for _, tc := range []struct {
		p, q Position
		want bool
	}{
		{Position{0, 0}, Position{0, 0}, false},
		{Position{0, 0}, Position{0, 1}, true},
		{Position{0, 1}, Position{0, 0}, false},
		{Position{1, 0}, Position{0, 5}, false},
		{Position{0, 5}, Position{1, 0}, true},
		{Position{7, 3}, Position{7, 3}, false},
		{Position{7, 2}, Position{7, 3}, true},
		{Position{7, 3}, Position{8, 0}, true},
		{Position{8, 0}, Position{7, 3}, false},
		{Position{-1, 0}, Position{0, 0}, true},
		{Position{1 << 40, 0}, Position{1<<40 + 1, 0}, true},
	} {
		if got := tc.p.Less(tc.q); got != tc.want {
			t.Errorf("%+v.Less(%+v) = %v, want %v", tc.p, tc.q, got, tc.want)
		}
		// Less is a strict order: never both ways.
		if tc.p.Less(tc.q) && tc.q.Less(tc.p) {
			t.Errorf("%+v and %+v are each less than the other", tc.p, tc.q)
		}
	}
}
