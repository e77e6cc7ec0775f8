package tenant

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/routing"
)

// catalogued is acme with a labels catalogue, contact fields and a routing rule, from YAML (the seed).
func catalogued(t *testing.T) *Tenant {
	t.Helper()
	c, err := Parse([]byte(`
tenants:
  - id: acme
    settings:
      contact_fields:
        - {key: tier, type: choice, choices: [gold, silver]}
    channels:
      - {id: acme-wa, type: whatsapp, phone_number_id: "100", app_secret: s1, verify_token: v1, access_token: a1}
    operators:
      - {id: ada, role: admin, token: ada-token-0123456789}
      - {id: bea, role: builder, token: bea-token-0123456789}
      - {id: bob, token: bob-token-0123456789, skills: [billing]}
    labels:
      - {name: vip, color: "#b91c1c", description: Pays for priority}
      - {name: billing}
    routing_rules:
      - name: billing questions
        when: [{label: billing}]
        skills: [billing]
        priority: 10
      - when: [{field: tier, in: [gold]}]
        priority: 20
`))
	if err != nil {
		t.Fatal(err)
	}
	tn := c.Tenants[0]
	tn.Version = 3
	return &tn
}

func TestCatalogueFromYAML(t *testing.T) {
	tn := catalogued(t)
	if len(tn.Labels) != 2 || tn.Labels[1].Color != DefaultLabelColor || tn.Labels[0].Description != "Pays for priority" {
		t.Errorf("labels = %+v", tn.Labels)
	}
	if len(tn.Rules) != 2 || *tn.Rules[0].Priority != 10 || tn.Rules[1].When[0].Field != "tier" {
		t.Errorf("rules = %+v", tn.Rules)
	}
	// The seed writes a record of each label and one of the rules, and the fold gives them back.
	f := NewFold()
	for _, r := range Records(tn, 1, time.Unix(0, 0)) {
		f.Add(r)
	}
	got, _ := f.Tenant("acme")
	if len(got.Labels) != 2 || len(got.Rules) != 2 || len(got.Settings.ContactFields) != 1 {
		t.Errorf("folded: labels %v rules %v fields %v", got.Labels, got.Rules, got.Settings.ContactFields)
	}
	if d := Diff(tn, got, func(string, string) time.Time { return time.Time{} }); len(d) != 0 {
		t.Errorf("the seed differs from the YAML: %+v", d)
	}
	// After a change at runtime, the YAML's seed differs, and the start says so (no silent shadowing).
	next, _, err := ApplyChange(got, Change{Label: &LabelChange{Name: "vip", Delete: true}}, time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	next, _, err = ApplyChange(next, Change{Rules: &RulesChange{}}, time.Unix(2, 0))
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(tn, next, func(string, string) time.Time { return time.Time{} })
	if len(d) != 2 || d[0].Item != "label vip" || d[0].Topic != "absent" || d[1].Item != "rules rules" || d[1].Topic != "null" {
		t.Errorf("differences after removing vip and the rules: %+v", d)
	}
	// A YAML file naming a label outside its catalogue in a rule is refused at start.
	_, err = Parse([]byte(`
tenants:
  - id: acme
    labels: [{name: vip}]
    routing_rules: [{when: [{label: gold}], priority: 5}]
`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "tenants[0].rules[0].when[0].label" {
		t.Errorf("a rule on an unknown label: %v", err)
	}
}

func TestCatalogueChanges(t *testing.T) {
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		ch    Change
		code  string
		field string
		check func(t *testing.T, n *Tenant, recs []Record)
	}{
		{name: "add a label", ch: Change{Label: &LabelChange{Name: "refund", Create: true, Color: ptr("#0f766e")}},
			check: func(t *testing.T, n *Tenant, recs []Record) {
				if !n.HasLabel("refund") || recs[0].Kind != KindLabel || recs[0].ID != "refund" || recs[0].Label.Color != "#0f766e" {
					t.Errorf("labels %+v, record %+v", n.Labels, recs[0])
				}
			}},
		{name: "add a label without colour", ch: Change{Label: &LabelChange{Name: "refund", Create: true}},
			check: func(t *testing.T, n *Tenant, recs []Record) {
				if recs[0].Label.Color != DefaultLabelColor {
					t.Errorf("colour %q", recs[0].Label.Color)
				}
			}},
		{name: "add a label twice", ch: Change{Label: &LabelChange{Name: "vip", Create: true}}, code: CodeLabelExists},
		{name: "bad label name", ch: Change{Label: &LabelChange{Name: "VIP!", Create: true}}, code: CodeInvalidSetting, field: "labels[2].name"},
		{name: "bad colour", ch: Change{Label: &LabelChange{Name: "vip", Color: ptr("red")}}, code: CodeInvalidSetting, field: "labels[0].color"},
		{name: "change a label", ch: Change{Label: &LabelChange{Name: "vip", Description: ptr("Gold customers")}},
			check: func(t *testing.T, n *Tenant, recs []Record) {
				if n.Labels[0].Description != "Gold customers" || n.Labels[0].Color != "#b91c1c" {
					t.Errorf("vip = %+v", n.Labels[0])
				}
			}},
		{name: "change an unknown label", ch: Change{Label: &LabelChange{Name: "nope", Color: ptr("#000000")}}, code: CodeLabelNotFound},
		{name: "remove a label", ch: Change{Label: &LabelChange{Name: "vip", Delete: true}},
			check: func(t *testing.T, n *Tenant, recs []Record) {
				if n.HasLabel("vip") || !recs[0].Deleted || recs[0].ID != "vip" {
					t.Errorf("labels %+v, record %+v", n.Labels, recs[0])
				}
			}},
		{name: "remove a label a rule names", ch: Change{Label: &LabelChange{Name: "billing", Delete: true}},
			code: CodeInvalidSetting, field: "rules[0].when[0].label"},
		{name: "replace the fields", ch: Change{Fields: &FieldsChange{Fields: []ContactField{
			{Key: "tier", Type: FieldChoice, Choices: []string{"gold", "silver", "bronze"}}, {Key: "city", Label: "City", Type: FieldText}}}},
			check: func(t *testing.T, n *Tenant, recs []Record) {
				if len(n.Settings.ContactFields) != 2 || recs[0].Kind != KindSettings || len(recs[0].Settings.ContactFields) != 2 {
					t.Errorf("fields %+v, record %+v", n.Settings.ContactFields, recs[0])
				}
			}},
		{name: "a bad field", ch: Change{Fields: &FieldsChange{Fields: []ContactField{{Key: "tier", Type: FieldChoice, Choices: []string{"gold"}}, {Key: "phone", Type: FieldText}}}},
			code: CodeInvalidSetting, field: "settings.contact_fields[1].key"},
		{name: "remove a field a rule names", ch: Change{Fields: &FieldsChange{}}, code: CodeInvalidSetting, field: "rules[1].when[0].field"},
		{name: "replace the rules", ch: Change{Rules: &RulesChange{Rules: []routing.Rule{{When: []routing.Condition{{Channel: "acme-wa"}}, Skills: []string{"sales"}}}}},
			check: func(t *testing.T, n *Tenant, recs []Record) {
				if len(n.Rules) != 1 || recs[0].Kind != KindRules || recs[0].ID != RulesID || len(recs[0].Rules.Rules) != 1 {
					t.Errorf("rules %+v, record %+v", n.Rules, recs[0])
				}
			}},
		{name: "no rules", ch: Change{Rules: &RulesChange{}},
			check: func(t *testing.T, n *Tenant, recs []Record) {
				if n.Rules != nil || recs[0].Rules == nil || len(recs[0].Rules.Rules) != 0 {
					t.Errorf("rules %+v, record %+v", n.Rules, recs[0])
				}
				// An empty list is a record that says so, not an absent one.
				b, _ := json.Marshal(recs[0])
				var back Record
				if err := json.Unmarshal(b, &back); err != nil || back.Rules == nil {
					t.Errorf("the empty rules record %s decodes to %+v", b, back)
				}
			}},
		{name: "a rule on an unknown channel", ch: Change{Rules: &RulesChange{Rules: []routing.Rule{{When: []routing.Condition{{Channel: "nope"}}, Priority: ptr(1)}}}},
			code: CodeInvalidSetting, field: "rules[0].when[0].channel"},
		{name: "two parts", ch: Change{Rules: &RulesChange{}, Label: &LabelChange{Name: "x", Create: true}}, code: CodeInvalidSetting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := catalogued(t)
			next, recs, err := ApplyChange(cur, tc.ch, at)
			if tc.code != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != tc.code || (tc.field != "" && r.Field != tc.field) {
					t.Fatalf("ApplyChange = %v, want %s naming %q", err, tc.code, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next.Version != cur.Version+1 || len(recs) != 1 || recs[0].Version != next.Version {
				t.Errorf("version %d, records %+v", next.Version, recs)
			}
			if len(catalogued(t).Labels) != len(cur.Labels) || len(cur.Rules) != 2 {
				t.Error("ApplyChange modified its input")
			}
			tc.check(t, next, recs)
			// The topic's records give the same tenant.
			f := NewFold()
			for _, r := range Records(cur, cur.Version, at) {
				f.Add(r)
			}
			for _, r := range recs {
				f.Add(r)
			}
			got, _ := f.Tenant("acme")
			if len(got.Labels) != len(next.Labels) || len(got.Rules) != len(next.Rules) ||
				len(got.Settings.ContactFields) != len(next.Settings.ContactFields) {
				t.Errorf("folded %+v / %+v, applied %+v / %+v", got.Labels, got.Rules, next.Labels, next.Rules)
			}
		})
	}
}

func TestMayChangeCatalogue(t *testing.T) {
	tn := catalogued(t)
	by := func(id string) *Operator {
		for i := range tn.Operators {
			if tn.Operators[i].ID == id {
				return &tn.Operators[i]
			}
		}
		return nil
	}
	for _, ch := range []Change{
		{Label: &LabelChange{Name: "x", Create: true}},
		{Fields: &FieldsChange{}},
		{Rules: &RulesChange{}},
	} {
		if !MayChange(tn, by("ada"), ch) || !MayChange(tn, by("bea"), ch) {
			t.Errorf("%+v: admins and builders may", ch)
		}
		if MayChange(tn, by("bob"), ch) || MayChange(tn, nil, ch) {
			t.Errorf("%+v: operators and nobody may not", ch)
		}
	}
	if MayChange(tn, by("bea"), Change{Settings: &SettingsChange{Routing: ptr("manual")}}) {
		t.Error("a builder may not change the settings")
	}
}
