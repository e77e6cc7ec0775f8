package tenant

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// acme is a valid tenant: one admin, one operator, one channel.
func acme(t *testing.T) *Tenant {
	t.Helper()
	c, err := Parse([]byte(`
tenants:
  - id: acme
    channels:
      - {id: acme-wa, type: whatsapp, phone_number_id: "100", app_secret: s1, verify_token: v1, access_token: a1}
    operators:
      - {id: ada, role: admin, token: ada-token-0123456789}
      - {id: bob, capacity: 3, token: bob-token-0123456789, skills: [billing]}
`))
	if err != nil {
		t.Fatal(err)
	}
	tn := c.Tenants[0]
	tn.Version = 7
	return &tn
}

func TestApplyChange(t *testing.T) {
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		ch    Change
		code  string // "" accepted
		field string
		check func(t *testing.T, next *Tenant)
	}{
		{name: "routing manual", ch: Change{Settings: &SettingsChange{Routing: ptr("manual")}},
			check: func(t *testing.T, n *Tenant) {
				if n.Settings.Routing != "manual" || n.Settings.ReopenTo != "queue" {
					t.Errorf("settings = %+v", n.Settings)
				}
			}},
		{name: "routing unknown", ch: Change{Settings: &SettingsChange{Routing: ptr("round-robin")}},
			code: CodeInvalidSetting, field: "settings.routing"},
		{name: "window warning too long", ch: Change{Settings: &SettingsChange{WindowWarning: ptr(Duration(25 * time.Hour))}},
			code: CodeInvalidSetting, field: "settings.window_warning"},
		{name: "negative auto close", ch: Change{Settings: &SettingsChange{AutoCloseAfter: ptr(Duration(-time.Second))}},
			code: CodeInvalidSetting, field: "settings.auto_close_after"},
		{name: "takeover role unknown", ch: Change{Settings: &SettingsChange{TakeoverRoles: &[]string{"admin", "boss"}}},
			code: CodeInvalidSetting, field: "settings.takeover_roles[1]"},
		{name: "capacity", ch: Change{Operator: &OperatorChange{ID: "bob", Capacity: ptr(9), Skills: &[]string{"sales"}}},
			check: func(t *testing.T, n *Tenant) {
				if o := n.Operators[1]; o.Capacity != 9 || len(o.Skills) != 1 || o.Skills[0] != "sales" {
					t.Errorf("bob = %+v", o)
				}
			}},
		{name: "capacity zero", ch: Change{Operator: &OperatorChange{ID: "bob", Capacity: ptr(0)}},
			code: CodeInvalidSetting, field: "capacity"},
		{name: "capacity negative", ch: Change{Operator: &OperatorChange{ID: "bob", Capacity: ptr(-1)}},
			code: CodeInvalidSetting, field: "operators[1].capacity"},
		{name: "capacity huge", ch: Change{Operator: &OperatorChange{ID: "bob", Capacity: ptr(MaxCapacity + 1)}},
			code: CodeInvalidSetting, field: "operators[1].capacity"},
		{name: "role unknown", ch: Change{Operator: &OperatorChange{ID: "bob", Role: ptr("owner")}},
			code: CodeInvalidSetting, field: "operators[1].role"},
		{name: "new token", ch: Change{Operator: &OperatorChange{ID: "bob", TokenHash: ptr(strings.Repeat("ab", 32))}},
			check: func(t *testing.T, n *Tenant) {
				if o := n.Operators[1]; o.TokenHash != strings.Repeat("ab", 32) || o.Token != "" {
					t.Errorf("bob = %+v", o)
				}
			}},
		{name: "token not a hash", ch: Change{Operator: &OperatorChange{ID: "bob", TokenHash: ptr("secret-token-1234567")}},
			code: CodeInvalidSetting, field: "token"},
		{name: "token of another operator", ch: Change{Operator: &OperatorChange{ID: "bob", TokenHash: ptr(hashOf("ada-token-0123456789"))}},
			code: CodeInvalidSetting, field: "operators[1].token"},
		{name: "unknown operator", ch: Change{Operator: &OperatorChange{ID: "zed", Capacity: ptr(2)}}, code: CodeOperatorNotFound},
		{name: "demote last admin", ch: Change{Operator: &OperatorChange{ID: "ada", Role: ptr("builder")}}, code: CodeLastAdmin},
		{name: "promote then", ch: Change{Operator: &OperatorChange{ID: "bob", Role: ptr("admin")}},
			check: func(t *testing.T, n *Tenant) {
				if n.Operators[1].Role != RoleAdmin {
					t.Errorf("bob = %+v", n.Operators[1])
				}
			}},
		{name: "add channel", ch: Change{Channel: &ChannelChange{ID: "acme-wa-2", Create: true, PhoneNumberID: "200",
			AppSecret: ptr("s2"), VerifyToken: ptr("v2"), AccessToken: ptr("a2")}},
			check: func(t *testing.T, n *Tenant) {
				if len(n.Channels) != 2 || n.Channels[1].RateLimit != 80 || n.Channels[1].Type != "whatsapp" {
					t.Errorf("channels = %+v", n.Channels)
				}
			}},
		{name: "add channel without secret", ch: Change{Channel: &ChannelChange{ID: "acme-wa-2", Create: true,
			PhoneNumberID: "200", VerifyToken: ptr("v2")}}, code: CodeInvalidSetting, field: "channels[1].app_secret"},
		{name: "add channel same number", ch: Change{Channel: &ChannelChange{ID: "acme-wa-2", Create: true,
			PhoneNumberID: "100", AppSecret: ptr("s2"), VerifyToken: ptr("v2")}}, code: CodeInvalidSetting,
			field: "channels[1].phone_number_id"},
		{name: "add channel twice", ch: Change{Channel: &ChannelChange{ID: "acme-wa", Create: true, PhoneNumberID: "300",
			AppSecret: ptr("s"), VerifyToken: ptr("v")}}, code: CodeChannelExists},
		{name: "disable and rotate", ch: Change{Channel: &ChannelChange{ID: "acme-wa", Disabled: ptr(true), AppSecret: ptr("s9")}},
			check: func(t *testing.T, n *Tenant) {
				if c := n.Channels[0]; !c.Disabled || c.AppSecret != "s9" || c.AccessToken != "a1" {
					t.Errorf("channel = %+v", c)
				}
			}},
		{name: "empty secret", ch: Change{Channel: &ChannelChange{ID: "acme-wa", AppSecret: ptr("")}},
			code: CodeInvalidSetting, field: "channels[0].app_secret"},
		{name: "renumber", ch: Change{Channel: &ChannelChange{ID: "acme-wa", PhoneNumberID: "555"}},
			code: CodeInvalidSetting, field: "phone_number_id"},
		{name: "two at once", ch: Change{Settings: &SettingsChange{}, Operator: &OperatorChange{ID: "bob"}}, code: CodeInvalidSetting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := acme(t)
			before := cur.Clone()
			next, recs, err := ApplyChange(cur, tc.ch, at)
			if tc.code != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != tc.code || r.Field != tc.field {
					t.Fatalf("err = %v, want %s on %q", err, tc.code, tc.field)
				}
				if next != nil || recs != nil {
					t.Error("a refusal returned a configuration")
				}
			} else {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if next.Version != 8 || len(recs) != 1 || recs[0].Version != 8 || !recs[0].At.Equal(at) {
					t.Fatalf("version %d, records %+v", next.Version, recs)
				}
				tc.check(t, next)
				// The record is the changed item, whole: folding it over the old records gives next.
				f := NewFold()
				for _, r := range Records(before, 7, at) {
					f.Add(r)
				}
				f.Add(recs[0])
				got, _ := f.Tenant("acme")
				if d := Diff(next, got, func(k, id string) time.Time { return f.At("acme", k, id) }); len(d) != 0 || got.Version != 8 {
					t.Errorf("fold of the records differs from the result: %+v", d)
				}
			}
			if d := Diff(before, cur, func(string, string) time.Time { return time.Time{} }); len(d) != 0 {
				t.Errorf("ApplyChange modified its input: %+v", d)
			}
		})
	}
}

func hashOf(token string) string {
	h := HashToken(token)
	return hex.EncodeToString(h[:])
}

// A record older than the one folded for its key (a seed written late by a second node starting at the same time)
// does not undo a later change.
func TestFoldKeepsTheNewestVersion(t *testing.T) {
	at := time.Unix(0, 0)
	f := NewFold()
	for _, r := range Records(acme(t), 1, at) {
		f.Add(r)
	}
	cur, _ := f.Tenant("acme")
	next, recs, err := ApplyChange(cur, Change{Operator: &OperatorChange{ID: "bob", Capacity: ptr(8)}}, at)
	if err != nil {
		t.Fatal(err)
	}
	f.Add(recs[0])
	for _, r := range Records(acme(t), 1, at) { // the late seed
		f.Add(r)
	}
	got, _ := f.Tenant("acme")
	if got.Operators[1].Capacity != 8 || got.Version != next.Version {
		t.Errorf("after a late seed bob = %+v, version %d", got.Operators[1], got.Version)
	}
}

func TestFoldDeletedAndOrder(t *testing.T) {
	at := time.Unix(0, 0)
	cur := acme(t)
	f := NewFold()
	for _, r := range Records(cur, 1, at) {
		f.Add(r)
	}
	if !f.Has("acme") || f.Has("globex") {
		t.Fatal("Has")
	}
	f.Add(Record{Tenant: "acme", Kind: KindOperator, ID: "ada", Version: 2, Deleted: true})
	got, _ := f.Tenant("acme")
	if len(got.Operators) != 1 || got.Operators[0].ID != "bob" || got.Version != 2 {
		t.Errorf("after delete: %+v", got.Operators)
	}
	// No plaintext token leaves in a record, only its hash.
	for _, r := range Records(acme(t), 1, at) {
		if r.Operator != nil && (r.Operator.Token != "" || len(r.Operator.TokenHash) != 64) {
			t.Errorf("operator record %+v carries a plaintext token or no hash", r.Operator)
		}
	}
}

func TestDiffNamesFieldsAndHidesSecrets(t *testing.T) {
	y, top := acme(t), acme(t)
	top.Operators[1].Capacity = 5
	top.Channels[0].AppSecret = "rotated"
	d := Diff(y, top, func(string, string) time.Time { return time.Time{} })
	if len(d) != 2 {
		t.Fatalf("diff = %+v", d)
	}
	if d[0].Item != "channel acme-wa" || d[0].Field != "app_secret" || strings.Contains(d[0].YAML+d[0].Topic, "s1") ||
		strings.Contains(d[0].Topic, "rotated") {
		t.Errorf("secret diff = %+v", d[0])
	}
	if d[1].Item != "operator bob" || d[1].Field != "capacity" || d[1].YAML != "3" || d[1].Topic != "5" {
		t.Errorf("capacity diff = %+v", d[1])
	}
}

// TestAuditRetention: the setting defaults to DefaultAuditRetention, 0 keeps the log forever, anything else must be
// at least a day, in a change (400 naming the field) as in the YAML file.
func TestAuditRetention(t *testing.T) {
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	cur := acme(t)
	if got := cur.Settings.AuditKeep(); got != DefaultAuditRetention || DefaultAuditRetention != 400*24*time.Hour {
		t.Fatalf("default retention %v", got)
	}
	for _, tc := range []struct {
		d    time.Duration
		ok   bool
		keep time.Duration
	}{
		{0, true, 0}, {24 * time.Hour, true, 24 * time.Hour}, {90 * 24 * time.Hour, true, 90 * 24 * time.Hour},
		{23 * time.Hour, false, 0}, {time.Second, false, 0}, {-24 * time.Hour, false, 0},
	} {
		next, recs, err := ApplyChange(cur, Change{Settings: &SettingsChange{AuditRetention: ptr(Retention(tc.d))}}, at)
		if !tc.ok {
			var r *Refusal
			if !errors.As(err, &r) || r.Code != CodeInvalidSetting || r.Field != "settings.audit_retention" {
				t.Errorf("%v: %v, want invalid_setting naming settings.audit_retention", tc.d, err)
			}
			continue
		}
		if err != nil || next.Settings.AuditKeep() != tc.keep || len(recs) != 1 || recs[0].Settings.AuditKeep() != tc.keep {
			t.Errorf("%v: keep %v (err %v)", tc.d, next.Settings.AuditKeep(), err)
		}
		if cur.Settings.AuditRetention != nil {
			t.Fatal("ApplyChange changed the current configuration")
		}
	}
	for _, tc := range []struct {
		yaml string
		keep time.Duration
		bad  bool
	}{{"", DefaultAuditRetention, false}, {"audit_retention: 0", 0, false}, {"audit_retention: 720h", 720 * time.Hour, false},
		{"audit_retention: 1h", 0, true}, {"audit_retention: forever", 0, true}} {
		c, err := Parse([]byte("tenants:\n  - id: acme\n    settings:\n      routing: auto\n      " + tc.yaml + "\n"))
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "audit_retention") {
				t.Errorf("%q: %v, want an error naming audit_retention", tc.yaml, err)
			}
			continue
		}
		if err != nil || c.Tenants[0].Settings.AuditKeep() != tc.keep {
			t.Errorf("%q: %v", tc.yaml, err)
		}
	}
}
