package api

import (
	"strings"
	"testing"
)

func TestPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw, id string
		ok     bool
	}{
		{"short", "erin", false},
		{"elevenchars", "erin", false},
		{"twelve chars", "erin", true},
		{"ÄÖÜäöüßÄÖÜäö", "erin", true},  // twelve characters, more bytes
		{"Password1234", "erin", false}, // common, whatever the case
		{"my name is ERIN really", "erin", false},
		{strings.Repeat("x", 257), "erin", false},
		{"correct horse battery", "erin", true},
	} {
		if why := CheckPassword(tc.pw, tc.id); (why == "") != tc.ok {
			t.Errorf("CheckPassword(%q, %q) = %q, want ok %v", tc.pw, tc.id, why, tc.ok)
		}
	}
}

func TestHashPassword(t *testing.T) {
	h := HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=1,p=2$") || strings.Contains(h, "horse") {
		t.Fatalf("hash %q", h)
	}
	if h2 := HashPassword("correct horse battery"); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !VerifyPassword("correct horse battery", h) {
		t.Fatal("the password does not verify")
	}
	for _, bad := range []string{"correct horse batterY", ""} {
		if VerifyPassword(bad, h) {
			t.Fatalf("%q verifies", bad)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA", "$argon2id$v=19$m=99999999,t=1,p=2$c2FsdA$aGFzaA", "plain"} {
		if VerifyPassword("x", bad) {
			t.Fatalf("hash %q verifies", bad)
		}
	}
}

func TestRequiredScope(t *testing.T) {
	for _, tc := range []struct {
		method, path, want string
	}{
		{"GET", "conversations", "conversations:read"},
		{"POST", "conversations/c1/messages", "conversations:write"},
		{"GET", "events", "conversations:read"},
		{"GET", "operators", "conversations:read"},
		{"PUT", "operators/me/availability", "conversations:write"},
		{"PATCH", "operators/alice", ""},
		{"GET", "contacts", "contacts:read"},
		{"PATCH", "contacts/k1", "contacts:write"},
		{"POST", "contacts/import", ""},
		{"GET", "contacts/export.csv", ""},
		{"POST", "contacts/k1/erase", ""},
		{"POST", "templates/sync", ""},
		{"GET", "settings", ""},
		{"POST", "channels", ""},
		{"GET", "insights", ""},
		{"POST", "operators/me/tokens", ""},
		{"POST", "team/invites", ""},
		{"DELETE", "contacts/k1", ""},
		{"GET", "channels", "conversations:read"},
		{"GET", "templates", "conversations:read"},
		{"GET", "nosuch", ""},
	} {
		if got := RequiredScope(tc.method, "/v1/"+tc.path); got != tc.want {
			t.Errorf("RequiredScope(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
