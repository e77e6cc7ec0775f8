package tenant

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ssoTenant() *Tenant {
	t := teamTenant()
	t.SSO = &SSO{Enabled: true, Issuer: "https://login.example.com/realms/acme", ClientID: "switchboard",
		ClientSecret: "s3cret", Scopes: []string{"email", "profile"}, GroupsClaim: "groups",
		Groups:        []GroupRole{{"helpdesk-admins", RoleAdmin}, {"helpdesk-builders", RoleBuilder}, {"helpdesk", RoleOperator}},
		OperatorClaim: "email", Provision: true, Capacity: 3}
	return t
}

func TestSSOChanges(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	groups := []GroupRole{{"g", RoleOperator}}
	tests := []struct {
		name  string
		cur   *Tenant
		ch    SSOChange
		field string // "" applies
	}{
		{"a disabled draft may be incomplete", teamTenant(), SSOChange{Issuer: new("https://idp.example.com/")}, ""},
		{"enable without an issuer", teamTenant(), SSOChange{Enabled: new(true), ClientID: new("c"), Groups: &groups}, "sso.issuer"},
		{"enable without a client id", teamTenant(), SSOChange{Enabled: new(true), Issuer: new("https://idp.example.com"), Groups: &groups}, "sso.client_id"},
		{"enable without groups", teamTenant(), SSOChange{Enabled: new(true), Issuer: new("https://idp.example.com"), ClientID: new("c")}, "sso.groups"},
		{"enable", teamTenant(), SSOChange{Enabled: new(true), Issuer: new("https://idp.example.com"), ClientID: new("c"), Groups: &groups}, ""},
		{"http issuer", teamTenant(), SSOChange{Issuer: new("http://idp.example.com")}, "sso.issuer"},
		{"http issuer on loopback", teamTenant(), SSOChange{Issuer: new("http://127.0.0.1:5556/dex")}, ""},
		{"issuer with a query", teamTenant(), SSOChange{Issuer: new("https://idp.example.com/?x=1")}, "sso.issuer"},
		{"issuer with credentials", teamTenant(), SSOChange{Issuer: new("https://u:p@idp.example.com")}, "sso.issuer"},
		{"relative issuer", teamTenant(), SSOChange{Issuer: new("idp.example.com")}, "sso.issuer"},
		{"bad role", ssoTenant(), SSOChange{Groups: &[]GroupRole{{"g", "boss"}}}, "sso.groups[0].role"},
		{"group mapped twice", ssoTenant(), SSOChange{Groups: &[]GroupRole{{"g", RoleAdmin}, {"g", RoleOperator}}}, "sso.groups[1].group"},
		{"empty group", ssoTenant(), SSOChange{Groups: &[]GroupRole{{" ", RoleAdmin}}}, "sso.groups[0].group"},
		{"disabling keeps the rows", ssoTenant(), SSOChange{Enabled: new(false)}, ""},
		{"emptying the rows of an enabled one", ssoTenant(), SSOChange{Groups: &[]GroupRole{}}, "sso.groups"},
		{"bad groups claim", ssoTenant(), SSOChange{GroupsClaim: new("my groups")}, "sso.groups_claim"},
		{"empty operator claim", ssoTenant(), SSOChange{OperatorClaim: new("")}, "sso.operator_claim"},
		{"zero capacity", ssoTenant(), SSOChange{Capacity: new(0)}, "sso.capacity"},
		{"bad domain", ssoTenant(), SSOChange{AllowedDomains: &[]string{"example"}}, "sso.allowed_domains[0]"},
		{"domains", ssoTenant(), SSOChange{AllowedDomains: &[]string{"@Example.com", "example.org"}}, ""},
		{"scope with a space", ssoTenant(), SSOChange{Scopes: &[]string{"email profile"}}, "sso.scopes[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, recs, err := ApplyChange(tt.cur, Change{SSO: &tt.ch}, at)
			if tt.field != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != CodeInvalidSetting || r.Field != tt.field {
					t.Fatalf("want invalid_setting on %s, got %v", tt.field, err)
				}
				if next != nil || recs != nil {
					t.Fatal("a refused change returned a configuration")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Kind != KindSSO || recs[0].ID != SSOID || recs[0].SSO == nil {
				t.Fatalf("records %+v", recs)
			}
			if tt.cur.SSO != nil && tt.cur.SSO == next.SSO {
				t.Fatal("the current configuration was modified")
			}
		})
	}
}

func TestSSODefaultsAndFold(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	next, recs, err := ApplyChange(teamTenant(), Change{SSO: &SSOChange{Issuer: new("https://idp.example.com/"),
		AllowedDomains: &[]string{"@Example.COM"}}}, at)
	if err != nil {
		t.Fatal(err)
	}
	s := next.SSO
	if s.Issuer != "https://idp.example.com/" || s.GroupsClaim != "groups" || s.OperatorClaim != "email" || !s.Provision ||
		s.Capacity != DefaultCapacity || s.Enabled || strings.Join(s.Scopes, " ") != "email profile" ||
		strings.Join(s.AllowedDomains, ",") != "example.com" {
		t.Fatalf("defaults: %+v", s)
	}
	// The record folds back into the same configuration, as every node's watcher reads it.
	f := NewFold()
	for _, r := range Records(teamTenant(), 3, at) {
		f.Add(r)
	}
	f.Add(recs[0])
	got, ok := f.Tenant("acme")
	if !ok || got.SSO == nil || got.SSO.Issuer != s.Issuer || got.Version != next.Version {
		t.Fatalf("folded %+v", got)
	}
}

func TestSSORole(t *testing.T) {
	s := ssoTenant().SSO
	tests := []struct {
		groups []string
		role   string
	}{
		{[]string{"helpdesk"}, RoleOperator},
		{[]string{"helpdesk", "helpdesk-admins"}, RoleAdmin},
		{[]string{"helpdesk-builders", "helpdesk"}, RoleBuilder},
		{[]string{"HELPDESK"}, ""}, // exact names
		{[]string{"sales"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		role, ok := SSORole(s, tt.groups)
		if role != tt.role || ok != (tt.role != "") {
			t.Errorf("%v: got %q %v, want %q", tt.groups, role, ok, tt.role)
		}
	}
}

func TestSSOOperatorID(t *testing.T) {
	open := &SSO{OperatorClaim: "email"}
	limited := &SSO{OperatorClaim: "email", AllowedDomains: []string{"example.com"}}
	tests := []struct {
		s     *SSO
		claim string
		id    string
		code  string
	}{
		{open, "Jane.Doe@Example.com", "jane-doe-example-com", ""},
		{open, "alice", "alice", ""},
		{open, "  bob__smith ", "bob-smith", ""},
		{open, "élodie@example.com", "lodie-example-com", ""},
		{open, strings.Repeat("a", 63) + ".b@x.io", strings.Repeat("a", 63), ""}, // cut to 64 without a trailing dash
		{open, "", "", CodeSSOClaim},
		{open, "---", "", CodeSSOClaim},
		{limited, "Jane.Doe@example.com", "jane-doe", ""},
		{limited, "jane@evil.com", "", CodeSSODomain},
		{limited, "jane@sub.example.com", "", CodeSSODomain},
		{limited, "jane", "", CodeSSODomain},
	}
	for _, tt := range tests {
		id, r := SSOOperatorID(tt.s, tt.claim)
		code := ""
		if r != nil {
			code = r.Code
		}
		if id != tt.id || code != tt.code {
			t.Errorf("%q: got %q %q, want %q %q", tt.claim, id, code, tt.id, tt.code)
		}
		if id != "" && !idPattern.MatchString(id) {
			t.Errorf("%q: %q is not an operator id", tt.claim, id)
		}
	}
}

func TestSSOSignIn(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	disabled := ssoTenant()
	disabled.SSO.Enabled = false
	noJIT := ssoTenant()
	noJIT.SSO.Provision = false
	offAlice := ssoTenant()
	offAlice.Operators[1].Disabled = true
	// alice marked SSO by an admin (bound at her next sign-in), jane created by SSO and bound to her account.
	const iss = "https://login.example.com/realms/acme "
	ssoAlice := ssoTenant()
	ssoAlice.Operators[1].SSO = true
	withJane := ssoTenant()
	withJane.Operators = append(withJane.Operators, Operator{ID: "jane", Name: "Jane", Role: RoleOperator, Capacity: 3,
		SSO: true, SSOSubject: iss + "jane-1"})
	janeElsewhere := ssoTenant()
	janeElsewhere.Operators = append(janeElsewhere.Operators, Operator{ID: "jane", Name: "Jane", Role: RoleOperator,
		Capacity: 3, SSO: true, SSOSubject: "https://old-idp.example.com jane-0"})
	tests := []struct {
		name string
		cur  *Tenant
		in   SSOSignIn
		code string
		role string
	}{
		{"a new operator is provisioned", ssoTenant(), SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Create: true, Name: "Jane", Role: RoleOperator}, "", RoleOperator},
		{"alice, marked SSO, becomes admin", ssoAlice, SSOSignIn{Operator: "alice", Subject: iss + "alice-1", Role: RoleAdmin}, "", RoleAdmin},
		{"jane's account becomes admin", withJane, SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Role: RoleAdmin}, "", RoleAdmin},
		{"jane bound again after the issuer changed", janeElsewhere, SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Role: RoleOperator}, "", RoleOperator},
		// The takeovers: an operator of the YAML file (or an invite, or a password) is not SSO's to sign in, nor
		// is one bound to another account of the IdP whose claim folds to the same id (jane_doe, Jane.Doe…).
		{"alice of the YAML file", ssoTenant(), SSOSignIn{Operator: "alice", Subject: iss + "alice-1", Role: RoleAdmin}, CodeSSOConflict, ""},
		{"root of the YAML file", ssoTenant(), SSOSignIn{Operator: "root", Subject: iss + "root-1", Role: RoleAdmin}, CodeSSOConflict, ""},
		{"another account named jane", withJane, SSOSignIn{Operator: "jane", Subject: iss + "jane-2", Role: RoleAdmin}, CodeSSOConflict, ""},
		{"no subject", ssoTenant(), SSOSignIn{Operator: "jane", Create: true, Role: RoleOperator}, CodeInvalidSetting, ""},
		{"a subject over 255 characters", ssoTenant(), SSOSignIn{Operator: "jane", Subject: iss + strings.Repeat("s", 256), Create: true, Role: RoleOperator}, CodeInvalidSetting, ""},
		{"another issuer's subject", ssoTenant(), SSOSignIn{Operator: "jane", Subject: "https://evil.example.com jane-1", Create: true, Role: RoleOperator}, CodeInvalidSetting, ""},
		{"the last admin is demoted", withAdminJane(), SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Role: RoleOperator}, CodeLastAdmin, ""},
		{"a role no group gives", ssoTenant(), SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Create: true, Role: "root"}, CodeSSONoGroup, ""},
		{"sso disabled", disabled, SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Create: true, Role: RoleOperator}, CodeSSODisabled, ""},
		{"no sso at all", teamTenant(), SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Create: true, Role: RoleOperator}, CodeSSODisabled, ""},
		{"provisioning off", noJIT, SSOSignIn{Operator: "jane", Subject: iss + "jane-1", Create: true, Role: RoleOperator}, CodeSSONoOperator, ""},
		{"a disabled operator", offAlice, SSOSignIn{Operator: "alice", Subject: iss + "alice-1", Role: RoleOperator}, CodeForbidden, ""},
		{"a bad id", ssoTenant(), SSOSignIn{Operator: "Jane!", Subject: iss + "jane-1", Create: true, Role: RoleOperator}, CodeInvalidSetting, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := Change{SSOSignIn: &tt.in}
			if !MayChange(tt.cur, nil, ch) {
				t.Fatal("an SSO sign-in is made with nobody signed in")
			}
			next, recs, err := ApplyChange(tt.cur, ch, at)
			if tt.code != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != tt.code {
					t.Fatalf("want %s, got %v", tt.code, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Kind != KindOperator || recs[0].Operator == nil || recs[0].Operator.Role != tt.role {
				t.Fatalf("records %+v", recs)
			}
			if tt.in.Create && (!recs[0].Operator.SSO || recs[0].Operator.Capacity != 3 || recs[0].Operator.Name != "Jane") {
				t.Fatalf("provisioned %+v", recs[0].Operator)
			}
			if recs[0].Operator.SSOSubject != tt.in.Subject {
				t.Fatalf("%s bound to %q, want %q", tt.in.Operator, recs[0].Operator.SSOSubject, tt.in.Subject)
			}
			if err := (&Config{Tenants: []Tenant{*next}}).Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// An admin marks an operator SSO (or unmarks it, which forgets its account); an operator may not mark itself.
	next, _, err := ApplyChange(ssoTenant(), Change{Operator: &OperatorChange{ID: "alice", SSO: new(true)}}, at)
	if err != nil || !next.Operators[1].SSO {
		t.Fatalf("mark alice: %v", err)
	}
	next.Operators[1].SSOSubject = iss + "alice-1"
	if next, _, err = ApplyChange(next, Change{Operator: &OperatorChange{ID: "alice", SSO: new(false)}}, at); err != nil {
		t.Fatal(err)
	}
	if next.Operators[1].SSO || next.Operators[1].SSOSubject != "" {
		t.Fatalf("unmark alice: %+v", next.Operators[1])
	}
	if MayChange(ssoTenant(), &ssoTenant().Operators[1], Change{Operator: &OperatorChange{ID: "alice", Name: new("A"), SSO: new(true)}}) {
		t.Fatal("an operator may mark itself SSO")
	}
	// An SSO change is an admin's: an operator may not make one.
	alice := &ssoTenant().Operators[1]
	if MayChange(ssoTenant(), alice, Change{SSO: &SSOChange{Enabled: new(false)}}) {
		t.Fatal("an operator may change the SSO configuration")
	}
	// Two parts in one change are refused.
	if MayChange(ssoTenant(), nil, Change{SSOSignIn: &SSOSignIn{Operator: "x", Role: RoleAdmin}, SSO: &SSOChange{}}) {
		t.Fatal("a sign-in carrying an SSO change is allowed")
	}
}

// withAdminJane is ssoTenant with jane, created by SSO, its only enabled admin.
func withAdminJane() *Tenant {
	t := ssoTenant()
	t.Operators[0].Disabled = true
	t.Operators = append(t.Operators, Operator{ID: "jane", Name: "Jane", Role: RoleAdmin, Capacity: 3, SSO: true,
		SSOSubject: "https://login.example.com/realms/acme jane-1"})
	return t
}
