package tenant

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func hexHash(s string) string {
	h := HashToken(s)
	return hex.EncodeToString(h[:])
}

func teamTenant() *Tenant {
	return &Tenant{ID: "acme", Settings: Settings{ReopenTo: "queue", Routing: RoutingAuto}, Version: 3,
		Operators: []Operator{
			{ID: "root", Name: "Root", Role: RoleAdmin, Capacity: 5, TokenHash: hexHash("root-token-0123456789")},
			{ID: "alice", Name: "Alice", Role: RoleOperator, Capacity: 5, TokenHash: hexHash("alice-token-0123456789")},
		},
		Tokens: []APIToken{{ID: "t1", Operator: "alice", Name: "ci", Scopes: []string{ScopeConversationsRead},
			Hash: hexHash("sbt_alice_one")}},
		Invites: []Invite{{ID: hexHash("old-secret"), Operator: "old", Role: RoleOperator, Capacity: 5,
			ExpiresAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			{ID: hexHash("dan-secret"), Operator: "dan", Role: RoleOperator, Capacity: 5,
				ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
}

func TestTeamChanges(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	later := at.Add(72 * time.Hour)
	argon := "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA"
	tests := []struct {
		name string
		ch   Change
		code string // "" applies
		recs int
	}{
		{"invite", Change{Invite: &InviteChange{ID: hexHash("s1"), Create: true, Operator: "carol", ExpiresAt: later}}, "", 1},
		{"invite again (the pending link is replaced)", Change{Invite: &InviteChange{ID: hexHash("s1"), Create: true, Operator: "dan", ExpiresAt: later}}, "", 2},
		{"invite an existing operator", Change{Invite: &InviteChange{ID: hexHash("s1"), Create: true, Operator: "alice", ExpiresAt: later}}, CodeOperatorExists, 0},
		{"invite a bad id", Change{Invite: &InviteChange{ID: hexHash("s1"), Create: true, Operator: "Carol!", ExpiresAt: later}}, CodeInvalidSetting, 0},
		{"invite a bad role", Change{Invite: &InviteChange{ID: hexHash("s1"), Create: true, Operator: "carol", Role: "boss", ExpiresAt: later}}, CodeInvalidSetting, 0},
		{"invite already expired", Change{Invite: &InviteChange{ID: hexHash("s1"), Create: true, Operator: "carol", ExpiresAt: at}}, CodeInvalidSetting, 0},
		{"accept an expired invite", Change{Invite: &InviteChange{ID: hexHash("old-secret"), Accept: true, PasswordHash: argon}}, CodeInviteNotFound, 0},
		{"accept an unknown invite", Change{Invite: &InviteChange{ID: hexHash("nope"), Accept: true, PasswordHash: argon}}, CodeInviteNotFound, 0},
		{"accept a malformed id", Change{Invite: &InviteChange{ID: "xyz", Accept: true, PasswordHash: argon}}, CodeInviteNotFound, 0},
		{"token", Change{Token: &TokenChange{ID: "t2", Create: true, Operator: "alice", Name: "bot", Scopes: []string{ScopeContactsRead}, Hash: hexHash("sbt_x")}}, "", 1},
		{"token with an unknown scope", Change{Token: &TokenChange{ID: "t2", Create: true, Operator: "alice", Name: "bot", Scopes: []string{"root"}, Hash: hexHash("sbt_x")}}, CodeInvalidSetting, 0},
		{"token without scopes", Change{Token: &TokenChange{ID: "t2", Create: true, Operator: "alice", Name: "bot", Hash: hexHash("sbt_x")}}, CodeInvalidSetting, 0},
		{"token of nobody", Change{Token: &TokenChange{ID: "t2", Create: true, Operator: "zed", Name: "bot", Scopes: []string{ScopeAdmin}, Hash: hexHash("sbt_x")}}, CodeOperatorNotFound, 0},
		{"token id taken", Change{Token: &TokenChange{ID: "t1", Create: true, Operator: "alice", Name: "bot", Scopes: []string{ScopeAdmin}, Hash: hexHash("sbt_x")}}, CodeInvalidSetting, 0},
		{"revoke", Change{Token: &TokenChange{ID: "t1", Revoke: true}}, "", 1},
		{"revoke unknown", Change{Token: &TokenChange{ID: "t9", Revoke: true}}, CodeTokenNotFound, 0},
		{"disable alice", Change{Operator: &OperatorChange{ID: "alice", Disabled: new(true)}}, "", 1},
		{"disable the last admin", Change{Operator: &OperatorChange{ID: "root", Disabled: new(true)}}, CodeLastAdmin, 0},
		{"remove the last admin", Change{Operator: &OperatorChange{ID: "root", Delete: true}}, CodeLastAdmin, 0},
		{"remove alice (and her token)", Change{Operator: &OperatorChange{ID: "alice", Delete: true}}, "", 2},
		{"remove nobody", Change{Operator: &OperatorChange{ID: "zed", Delete: true}}, CodeOperatorNotFound, 0},
		{"password", Change{Operator: &OperatorChange{ID: "alice", PasswordHash: &argon}}, "", 1},
		{"password not argon2id", Change{Operator: &OperatorChange{ID: "alice", PasswordHash: new("plain")}}, CodeInvalidSetting, 0},
		{"two parts", Change{Operator: &OperatorChange{ID: "alice", PasswordHash: &argon}, Token: &TokenChange{ID: "t1", Revoke: true}}, CodeInvalidSetting, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := teamTenant()
			next, recs, err := ApplyChange(cur, tc.ch, at)
			if tc.code != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != tc.code {
					t.Fatalf("err = %v, want refusal %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyChange: %v", err)
			}
			if len(recs) != tc.recs || next.Version != 4 {
				t.Fatalf("got %d records at version %d, want %d at 4: %+v", len(recs), next.Version, tc.recs, recs)
			}
			// The records fold into the configuration ApplyChange returned.
			f := NewFold()
			for _, r := range Records(cur, 3, at) {
				f.Add(r)
			}
			for _, r := range recs {
				f.Add(r)
			}
			got, _ := f.Tenant("acme")
			if len(got.Operators) != len(next.Operators) || len(got.Tokens) != len(next.Tokens) || len(got.Invites) != len(next.Invites) {
				t.Fatalf("fold gives %d operators, %d tokens, %d invites; rule %d, %d, %d", len(got.Operators),
					len(got.Tokens), len(got.Invites), len(next.Operators), len(next.Tokens), len(next.Invites))
			}
		})
	}
}

func TestInviteAcceptOnce(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	argon := "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA"
	cur := teamTenant()
	id := hexHash("secret")
	next, _, err := ApplyChange(cur, Change{Invite: &InviteChange{ID: id, Create: true, Operator: "carol", Name: "Carol",
		Role: RoleBuilder, Capacity: 7, ExpiresAt: at.Add(time.Hour)}}, at)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDirectory(&Config{Tenants: []Tenant{*next}})
	if _, ok := d.InviteBySecret("secret", at.Add(time.Hour)); ok {
		t.Fatal("the invite is found at its expiry")
	}
	if r, ok := d.InviteBySecret("secret", at); !ok || r.Invite.Operator != "carol" {
		t.Fatalf("InviteBySecret = %+v, %v", r, ok)
	}
	acc := Change{Invite: &InviteChange{ID: id, Accept: true, PasswordHash: argon}}
	if !MayChange(next, nil, acc) {
		t.Fatal("nobody signed in may not accept an invite")
	}
	after, recs, err := ApplyChange(next, acc, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[1].Operator == nil || recs[1].Operator.Role != RoleBuilder || recs[1].Operator.Capacity != 7 {
		t.Fatalf("records = %+v", recs)
	}
	if _, _, err := ApplyChange(after, acc, at.Add(2*time.Minute)); err == nil {
		t.Fatal("an invite was accepted twice")
	}
	if _, ok := NewDirectory(&Config{Tenants: []Tenant{*after}}).InviteBySecret("secret", at); ok {
		t.Fatal("a used invite is still found")
	}
}

func TestDirectoryRefusesRevokedAndDisabled(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	cur := teamTenant()
	d := NewDirectory(&Config{Tenants: []Tenant{*cur.Clone()}})
	if r, ok := d.OperatorByToken("sbt_alice_one"); !ok || r.Operator.ID != "alice" || r.Token == nil || len(r.Scopes()) != 1 {
		t.Fatalf("OperatorByToken(api token) = %+v, %v", r, ok)
	}
	revoked, _, _ := ApplyChange(cur, Change{Token: &TokenChange{ID: "t1", Revoke: true}}, at)
	d.Replace(&Config{Tenants: []Tenant{*revoked}})
	if _, ok := d.OperatorByToken("sbt_alice_one"); ok {
		t.Fatal("a revoked token authenticates")
	}
	disabled, _, _ := ApplyChange(cur, Change{Operator: &OperatorChange{ID: "alice", Disabled: new(true)}}, at)
	d.Replace(&Config{Tenants: []Tenant{*disabled}})
	for _, tok := range []string{"sbt_alice_one", "alice-token-0123456789"} {
		if _, ok := d.OperatorByToken(tok); ok {
			t.Fatalf("a disabled operator's token %q authenticates", tok)
		}
	}
}

func TestMayChangeAndScopes(t *testing.T) {
	cur := teamTenant()
	root, alice := &cur.Operators[0], &cur.Operators[1]
	argon := "$argon2id$x"
	for _, tc := range []struct {
		name   string
		caller *Operator
		ch     Change
		want   bool
	}{
		{"admin anything", root, Change{Operator: &OperatorChange{ID: "alice", Delete: true}}, true},
		{"own password", alice, Change{Operator: &OperatorChange{ID: "alice", PasswordHash: &argon}}, true},
		{"own name", alice, Change{Operator: &OperatorChange{ID: "alice", Name: new("Al")}}, true},
		{"another's name", alice, Change{Operator: &OperatorChange{ID: "root", Name: new("Al")}}, false},
		{"own capacity", alice, Change{Operator: &OperatorChange{ID: "alice", Capacity: new(9)}}, false},
		{"another's password", alice, Change{Operator: &OperatorChange{ID: "root", PasswordHash: &argon}}, false},
		{"own password and role", alice, Change{Operator: &OperatorChange{ID: "alice", PasswordHash: &argon, Role: new(RoleAdmin)}}, false},
		{"own token", alice, Change{Token: &TokenChange{ID: "x", Create: true, Operator: "alice"}}, true},
		{"token for another", alice, Change{Token: &TokenChange{ID: "x", Create: true, Operator: "root"}}, false},
		{"revoke own", alice, Change{Token: &TokenChange{ID: "t1", Revoke: true}}, true},
		{"revoke unknown", alice, Change{Token: &TokenChange{ID: "t9", Revoke: true}}, false},
		{"invite", alice, Change{Invite: &InviteChange{Create: true}}, false},
		{"nobody accepts", nil, Change{Invite: &InviteChange{Accept: true}}, true},
		{"nobody anything else", nil, Change{Token: &TokenChange{ID: "t1", Revoke: true}}, false},
		{"disabled admin", &Operator{ID: "x", Role: RoleAdmin, Disabled: true}, Change{Settings: &SettingsChange{}}, false},
	} {
		if got := MayChange(cur, tc.caller, tc.ch); got != tc.want {
			t.Errorf("%s: MayChange = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		scopes []string
		need   string
		want   bool
	}{
		{nil, "", true},
		{[]string{ScopeAdmin}, "", true},
		{[]string{ScopeConversationsRead}, "", false},
		{[]string{ScopeConversationsRead}, ScopeConversationsRead, true},
		{[]string{ScopeConversationsRead}, ScopeConversationsWrite, false},
		{[]string{ScopeConversationsWrite}, ScopeConversationsRead, true},
		{[]string{ScopeContactsWrite}, ScopeConversationsRead, false},
	} {
		if got := ScopeAllows(tc.scopes, tc.need); got != tc.want {
			t.Errorf("ScopeAllows(%q, %q) = %v, want %v", tc.scopes, tc.need, got, tc.want)
		}
	}
}
