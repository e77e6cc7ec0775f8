package audit

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	cases := []struct {
		name, old, new string
		skip           []string
		want           string
	}{
		{"unchanged", `{"capacity":3,"role":"operator"}`, `{"role":"operator","capacity":3}`, nil, `null`},
		{"one field", `{"capacity":3,"role":"operator"}`, `{"capacity":7,"role":"operator"}`, nil,
			`[{"field":"capacity","from":3,"to":7}]`},
		{"fields in name order", `{"routing":"auto","auto_close_after":"0s"}`, `{"routing":"manual","auto_close_after":"1h0m0s"}`, nil,
			`[{"field":"auto_close_after","from":"0s","to":"1h0m0s"},{"field":"routing","from":"auto","to":"manual"}]`},
		{"new item", ``, `{"id":"wa-2","type":"whatsapp","disabled":false}`, nil,
			`[{"field":"id","from":null,"to":"wa-2"},{"field":"type","from":null,"to":"whatsapp"}]`},
		{"removed item", `{"id":"bob"}`, `null`, nil, `[{"field":"id","from":"bob","to":null}]`},
		{"secret rotated never shown", `{"app_secret":"s1","access_token":"t1"}`, `{"app_secret":"s2","access_token":"t1"}`, nil,
			`[{"field":"app_secret","from":null,"to":"(changed)"}]`},
		{"secret set on a new item", ``, `{"token_sha256":"ab12"}`, nil, `[{"field":"token_sha256","from":null,"to":"(changed)"}]`},
		{"token hash and password hash never shown", `{"sha256":"aa","password_hash":"$argon2id$x"}`, `{"sha256":"bb","password_hash":"$argon2id$y"}`, nil,
			`[{"field":"password_hash","from":null,"to":"(changed)"},{"field":"sha256","from":null,"to":"(changed)"}]`},
		{"secret cleared", `{"token_sha256":"ab12"}`, `{}`, nil, `[{"field":"token_sha256","from":null,"to":null}]`},
		{"empty equals absent", `{"skills":[],"teams":null}`, `{}`, nil, `null`},
		{"arrays", `{"skills":["en"]}`, `{"skills":["en","es"]}`, nil, `[{"field":"skills","from":["en"],"to":["en","es"]}]`},
		{"skipped", `{"version":1,"capacity":1}`, `{"version":2,"capacity":1}`, []string{"version"}, `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Diff(json.RawMessage(c.old), json.RawMessage(c.new), c.skip...)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != c.want {
				t.Errorf("Diff(%s, %s) = %s, want %s", c.old, c.new, b, c.want)
			}
		})
	}
	if _, err := Diff(json.RawMessage(`[`), nil); err == nil {
		t.Error("Diff of malformed JSON: no error")
	}
}

func TestConfigAction(t *testing.T) {
	cases := []struct {
		kind, id       string
		added, removed bool
		action, target string
	}{
		{"tenant", "settings", false, false, ActionSettingsChanged, "settings"},
		{"operator", "bob", false, false, ActionOperatorChanged, "operator/bob"},
		{"operator", "bob", true, false, ActionOperatorAdded, "operator/bob"},
		{"operator", "bob", false, true, ActionOperatorRemoved, "operator/bob"},
		{"channel", "wa-2", true, false, ActionChannelAdded, "channel/wa-2"},
		{"channel", "wa-2", false, false, ActionChannelChanged, "channel/wa-2"},
		{"token", "t1", true, false, ActionTokenCreated, "token/t1"},
		{"token", "t1", false, true, ActionTokenRevoked, "token/t1"},
		{"invite", "i1", true, false, "invite.added", "invite/i1"},
	}
	for _, c := range cases {
		a, tg := ConfigAction(c.kind, c.id, c.added, c.removed)
		if a != c.action || tg != c.target {
			t.Errorf("ConfigAction(%q, %q, %v, %v) = %q, %q; want %q, %q", c.kind, c.id, c.added, c.removed, a, tg, c.action, c.target)
		}
	}
}

func TestMatches(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	e := Entry{At: at, ActorID: "ana", Action: ActionChannelAdded}
	cases := []struct {
		from, to      time.Time
		actor, action string
		want          bool
	}{
		{time.Time{}, time.Time{}, "", "", true},
		{at, at.Add(time.Second), "", "", true},
		{at.Add(time.Millisecond), time.Time{}, "", "", false},
		{time.Time{}, at, "", "", false},
		{time.Time{}, time.Time{}, "ana", "", true},
		{time.Time{}, time.Time{}, "bob", "", false},
		{time.Time{}, time.Time{}, "", "channel.added", true},
		{time.Time{}, time.Time{}, "", "channel.", true},
		{time.Time{}, time.Time{}, "", "channel.changed", false},
		{time.Time{}, time.Time{}, "", "settings.", false},
	}
	for i, c := range cases {
		if got := e.Matches(c.from, c.to, c.actor, c.action); got != c.want {
			t.Errorf("%d: Matches(%v, %v, %q, %q) = %v, want %v", i, c.from, c.to, c.actor, c.action, got, c.want)
		}
	}
}

func TestEventFlattensTheEntry(t *testing.T) {
	b, _ := json.Marshal(NewEvent(Entry{ID: "5-0-0", TenantID: "acme", At: time.Unix(0, 0).UTC(), ActorID: "ana",
		Action: ActionAccessDenied, Target: "PATCH /v1/settings"}))
	want := `{"type":"audit.recorded","id":"5-0-0","tenant_id":"acme","at":"1970-01-01T00:00:00Z","actor_id":"ana","action":"access.denied","target":"PATCH /v1/settings"}`
	if string(b) != want {
		t.Errorf("event = %s\nwant    %s", b, want)
	}
	if ID(12, 3, 1) != "12-3-1" {
		t.Errorf("ID = %s", ID(12, 3, 1))
	}
}
