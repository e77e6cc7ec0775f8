package tenant

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadValid(t *testing.T) {
	c, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(c.Tenants) != 2 {
		t.Fatalf("got %d tenants, want 2", len(c.Tenants))
	}
	acme, globex := c.Tenants[0], c.Tenants[1]
	if acme.ID != "acme" || globex.ID != "globex-2" {
		t.Fatalf("tenant ids = %q, %q; want acme, globex-2", acme.ID, globex.ID)
	}

	// Defaults.
	if acme.Settings.ReopenTo != "queue" {
		t.Errorf("acme reopen_to = %q, want the default queue", acme.Settings.ReopenTo)
	}
	if acme.Settings.Routing != RoutingAuto || acme.Settings.ReadReceipts {
		t.Errorf("acme routing = %q, read_receipts = %v; want the defaults auto and false", acme.Settings.Routing,
			acme.Settings.ReadReceipts)
	}
	if acme.Settings.AutoCloseAfter != 0 {
		t.Errorf("acme auto_close_after = %v, want 0 (never)", time.Duration(acme.Settings.AutoCloseAfter))
	}
	if got := acme.Channels[0].RateLimit; got != 80 {
		t.Errorf("acme-wa rate_limit = %d, want the default 80", got)
	}
	alice := acme.Operators[0]
	if alice.Role != RoleOperator {
		t.Errorf("alice role = %q, want the default %q", alice.Role, RoleOperator)
	}
	if alice.Capacity != DefaultCapacity || DefaultCapacity != 5 {
		t.Errorf("alice capacity = %d (DefaultCapacity %d), want 5", alice.Capacity, DefaultCapacity)
	}

	// Explicit values are kept, not overwritten by defaults.
	if got := acme.Channels[1].RateLimit; got != 1000 {
		t.Errorf("acme-wa-2 rate_limit = %d, want 1000", got)
	}
	bob := acme.Operators[1]
	if bob.Role != RoleAdmin || bob.Capacity != 3 || bob.Name != "Bob" {
		t.Errorf("bob = %+v, want role admin, capacity 3, name Bob", bob)
	}
	if !slices.Equal(bob.Skills, []string{"billing", "es"}) {
		t.Errorf("bob skills = %q, want [billing es]", bob.Skills)
	}
	if globex.Settings.ReopenTo != "last_operator" {
		t.Errorf("globex reopen_to = %q, want last_operator", globex.Settings.ReopenTo)
	}
	if globex.Settings.Routing != RoutingManual || !globex.Settings.ReadReceipts {
		t.Errorf("globex routing = %q, read_receipts = %v; want manual and true", globex.Settings.Routing,
			globex.Settings.ReadReceipts)
	}
	if got := time.Duration(globex.Settings.AutoCloseAfter); got != 36*time.Hour {
		t.Errorf("globex auto_close_after = %v, want 36h", got)
	}
	if got := globex.Channels[0].RateLimit; got != 250 {
		t.Errorf("globex-wa rate_limit = %d, want 250", got)
	}
	if got := globex.Operators[0]; got.Role != RoleBuilder || got.Capacity != DefaultCapacity {
		t.Errorf("globex alice = %+v, want role builder, default capacity", got)
	}
	ch := acme.Channels[0]
	want := Channel{ID: "acme-wa", Type: "whatsapp", PhoneNumberID: "100200300", AppSecret: "acme-secret",
		VerifyToken: "acme-verify", AccessToken: "acme-access", RateLimit: 80, WABAID: "102290129340398"}
	if ch != want {
		t.Errorf("acme-wa = %+v, want %+v", ch, want)
	}
	if alice.Token != "alice-token-0123456789" {
		t.Errorf("alice token = %q: Parse must keep the plaintext until NewDirectory", alice.Token)
	}
}

func TestParseEmptyDocument(t *testing.T) {
	for _, doc := range []string{"", "# nothing yet\n", "tenants: []\n"} {
		c, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("Parse(%q): %v", doc, err)
			continue
		}
		if len(c.Tenants) != 0 {
			t.Errorf("Parse(%q) = %d tenants, want 0", doc, len(c.Tenants))
		}
	}
}

func TestParseDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"0s", 0},
		{"90s", 90 * time.Second},
		{"24h", 24 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{`"2h"`, 2 * time.Hour},
	} {
		doc := "tenants:\n  - id: acme\n    settings:\n      auto_close_after: " + tc.in + "\n"
		c, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("auto_close_after %s: %v", tc.in, err)
			continue
		}
		if got := time.Duration(c.Tenants[0].Settings.AutoCloseAfter); got != tc.want {
			t.Errorf("auto_close_after %s = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// base is a valid config with one tenant; the invalid cases each change one thing in it.
const base = `tenants:
  - id: acme
    settings:
      auto_close_after: 24h
      reopen_to: queue
    channels:
      - id: acme-wa
        type: whatsapp
        phone_number_id: "100200300"
        app_secret: s3cret
        verify_token: v3rify
        access_token: acc3ss
        waba_id: "555"
    operators:
      - id: alice
        role: admin
        capacity: 5
        token: alice-token-0123456789
`

// second is a second tenant appended to base for the cross-tenant uniqueness cases.
const second = `  - id: globex
    channels:
      - id: globex-wa
        type: whatsapp
        phone_number_id: "900800700"
        app_secret: other
        verify_token: other
    operators:
      - id: bob
        token: bob-token-0123456789ab
`

func TestParseContactSettings(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(base, "reopen_to: queue\n", `reopen_to: queue
      hide_phone_numbers: true
      contact_fields:
        - {key: city, label: City, type: text}
        - {key: plan, type: choice, required: true, choices: [basic, premium]}
`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Tenants[0].Settings
	want := []ContactField{{Key: "city", Label: "City", Type: FieldText},
		{Key: "plan", Type: FieldChoice, Required: true, Choices: []string{"basic", "premium"}}}
	if !s.HidePhoneNumbers || !reflect.DeepEqual(s.ContactFields, want) {
		t.Errorf("settings = %+v, want hide_phone_numbers and %+v", s, want)
	}
}

func TestParseBaseIsValid(t *testing.T) {
	if _, err := Parse([]byte(base)); err != nil {
		t.Fatalf("base: %v", err)
	}
	if _, err := Parse([]byte(base + second)); err != nil {
		t.Fatalf("base+second: %v", err)
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // replaced once in base+second; old must occur
		want     []string
	}{
		{"bad tenant id", "id: acme\n", "id: Acme\n",
			[]string{"tenants[0].id", `"Acme" must match`}},
		{"tenant id too long", "id: acme\n", "id: " + strings.Repeat("a", 65) + "\n",
			[]string{"tenants[0].id", "must match [a-z0-9-]{1,64}"}},
		{"empty tenant id", "id: acme\n", "id: \"\"\n",
			[]string{"tenants[0].id", `"" must match`}},
		{"duplicate tenant", "id: globex\n", "id: acme\n",
			[]string{"tenants[1].id", `duplicate tenant "acme"`}},
		{"bad channel id", "id: acme-wa\n", "id: acme_wa\n",
			[]string{"tenants[0].channels[0].id", `"acme_wa" must match`}},
		{"duplicate channel id", "id: globex-wa\n", "id: acme-wa\n",
			[]string{"tenants[1].channels[0].id", `channel "acme-wa" already defined in tenant "acme"`}},
		{"duplicate phone_number_id", `phone_number_id: "900800700"`, `phone_number_id: "100200300"`,
			[]string{"tenants[1].channels[0].phone_number_id", `"100200300" already used by channel "acme-wa"`}},
		{"missing phone_number_id", "        phone_number_id: \"100200300\"\n", "",
			[]string{"tenants[0].channels[0].phone_number_id", "required"}},
		{"missing app_secret", "        app_secret: s3cret\n", "",
			[]string{"tenants[0].channels[0].app_secret", "required"}},
		{"missing verify_token", "        verify_token: v3rify\n", "",
			[]string{"tenants[0].channels[0].verify_token", "required"}},
		{"bad type", "type: whatsapp\n        phone_number_id: \"100", "type: sms\n        phone_number_id: \"100",
			[]string{"tenants[0].channels[0].type", `"sms" is not a supported channel type`}},
		{"missing type", "        type: whatsapp\n        phone_number_id: \"100", "        phone_number_id: \"100",
			[]string{"tenants[0].channels[0].type", `"" is not a supported channel type`}},
		{"rate_limit too high", "access_token: acc3ss\n", "access_token: acc3ss\n        rate_limit: 1001\n",
			[]string{"tenants[0].channels[0].rate_limit", "1001 must be between 1 and 1000"}},
		{"negative rate_limit", "access_token: acc3ss\n", "access_token: acc3ss\n        rate_limit: -1\n",
			[]string{"tenants[0].channels[0].rate_limit", "-1 must be between 1 and 1000"}},
		{"waba_id not digits", `waba_id: "555"`, "waba_id: waba-1",
			[]string{"tenants[0].channels[0].waba_id", `"waba-1" must be Meta's numeric`}},
		{"waba_id of another tenant", "verify_token: other\n", "verify_token: other\n        waba_id: \"555\"\n",
			[]string{"tenants[1].channels[0].waba_id", `"555" already belongs to tenant "acme"`}},
		{"bad operator id", "id: bob\n", "id: Bob\n",
			[]string{"tenants[1].operators[0].id", `"Bob" must match`}},
		{"duplicate operator", "      - id: bob\n", "      - id: bob\n        token: bob-token-other-0123\n      - id: bob\n",
			[]string{"tenants[1].operators[1].id", `duplicate operator "bob" in tenant "globex"`}},
		{"bad role", "role: admin\n", "role: root\n",
			[]string{"tenants[0].operators[0].role", `"root" must be admin, builder or operator`}},
		{"negative capacity", "capacity: 5\n", "capacity: -1\n",
			[]string{"tenants[0].operators[0].capacity", "-1 must not be negative"}},
		{"missing token", "        token: alice-token-0123456789\n", "",
			[]string{"tenants[0].operators[0].token", "required"}},
		{"short token", "token: alice-token-0123456789\n", "token: 0123456789abcde\n",
			[]string{"tenants[0].operators[0].token", "at least 16 characters"}},
		{"duplicate token across tenants", "token: bob-token-0123456789ab\n", "token: alice-token-0123456789\n",
			[]string{"tenants[1].operators[0].token", `same token as operator "acme/alice"`}},
		{"bad reopen_to", "reopen_to: queue\n", "reopen_to: somewhere\n",
			[]string{"tenants[0].settings.reopen_to", `"somewhere" must be queue or last_operator`}},
		{"bad routing", "reopen_to: queue\n", "reopen_to: queue\n      routing: automatic\n",
			[]string{"tenants[0].settings.routing", `"automatic" must be auto or manual`}},
		{"read_receipts not a bool", "reopen_to: queue\n", "reopen_to: queue\n      read_receipts: sometimes\n",
			[]string{"settings", "sometimes"}},
		{"contact field bad key", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: City, type: text}\n",
			[]string{"tenants[0].settings.contact_fields[1].key", `"City" must match`}},
		{"contact field reserved key", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: phone, type: text}\n",
			[]string{"tenants[0].settings.contact_fields[1].key", "own column"}},
		{"contact field duplicate", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: city, type: date}\n",
			[]string{"tenants[0].settings.contact_fields[1].key", `duplicate field "city"`}},
		{"contact field bad type", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: age, type: integer}\n",
			[]string{"tenants[0].settings.contact_fields[1].type", `"integer" must be text`}},
		{"choice field without choices", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: plan, type: choice}\n",
			[]string{"tenants[0].settings.contact_fields[1].choices", "needs choices"}},
		{"choices on a text field", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: plan, type: text, choices: [a]}\n",
			[]string{"tenants[0].settings.contact_fields[1].choices", "only a choice field"}},
		{"repeated choice", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: plan, type: choice, choices: [a, a]}\n",
			[]string{"tenants[0].settings.contact_fields[1].choices[1]", "repeated"}},
		{"unknown contact field key", "reopen_to: queue\n", "reopen_to: queue\n      contact_fields:\n        - {key: city, type: text}\n        - {key: plan, type: text, requird: true}\n",
			[]string{"requird", "not found"}},
		{"hide_phone_numbers not a bool", "reopen_to: queue\n", "reopen_to: queue\n      hide_phone_numbers: sometimes\n",
			[]string{"settings", "sometimes"}},
		{"negative auto_close_after", "auto_close_after: 24h\n", "auto_close_after: -1h\n",
			[]string{"tenants[0].settings.auto_close_after", "must not be negative"}},
		{"unknown operator field", "capacity: 5\n", "capacty: 5\n",
			[]string{"capacty", "not found", "line 17"}},
		{"unknown settings field", "reopen_to: queue\n", "reopen_too: queue\n",
			[]string{"reopen_too", "not found"}},
		{"unknown channel field", "access_token: acc3ss\n", "acces_token: acc3ss\n",
			[]string{"acces_token", "not found", "line 12"}},
		{"unknown top-level field", "tenants:\n", "tenant:\n",
			[]string{"tenant", "not found", "line 1"}},
		{"wrong field type", "capacity: 5\n", "capacity: five\n",
			[]string{"five", "line 17"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parseInvalid(t, tc.old, tc.new, tc.want)
		})
	}
}

// TestParseInvalidAutoCloseAfter is separate from TestParseInvalid because the duration is decoded by
// Duration.UnmarshalYAML rather than checked in Validate: its error must still say which field is wrong.
func TestParseInvalidAutoCloseAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		val  string
		want []string
	}{
		{"not a duration", "tomorrow", []string{"auto_close_after", `not a Go duration (e.g. 24h, 90s): "tomorrow"`}},
		{"no unit", "5", []string{"auto_close_after", `"5"`}},
		// A sequence or mapping has no scalar value; it must not be read as 0 ("never").
		{"sequence", "[24h]", []string{"auto_close_after"}},
		{"mapping", "{hours: 24}", []string{"auto_close_after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parseInvalid(t, "auto_close_after: 24h\n", "auto_close_after: "+tc.val+"\n", tc.want)
		})
	}
}

// parseInvalid parses base+second with old replaced by new and checks that it fails with ErrInvalid and a message
// holding every string of want.
func parseInvalid(t *testing.T, old, new string, want []string) {
	t.Helper()
	doc := base + second
	if !strings.Contains(doc, old) {
		t.Fatalf("test bug: %q does not occur in the base config", old)
	}
	doc = strings.Replace(doc, old, new, 1)
	c, err := Parse([]byte(doc))
	if err == nil {
		t.Fatalf("Parse accepted the config with %q replaced by %q (got %+v); want an error naming %q",
			old, new, c.Tenants[0].Settings, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %q does not wrap ErrInvalid", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not wrap fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestLoadInvalidNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(base, "role: admin", "role: root", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load = %v, want ErrInvalid", err)
	}
	for _, w := range []string{path, "tenants[0].operators[0].role"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestHashToken(t *testing.T) {
	a, b := HashToken("alice-token-0123456789"), HashToken("alice-token-0123456780")
	if a == b {
		t.Error("different tokens hash the same")
	}
	if a != HashToken("alice-token-0123456789") {
		t.Error("HashToken is not deterministic")
	}
}

// The demo config `make run` starts with stays valid, with its contact fields.
func TestDevConfig(t *testing.T) {
	c, err := Load("../../deploy/dev/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tenants) == 0 || len(c.Tenants[0].Settings.ContactFields) != 4 || c.Tenants[0].Settings.HidePhoneNumbers {
		t.Errorf("demo tenant settings %+v: want four contact fields and numbers shown", c.Tenants[0].Settings)
	}
}
