package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// The labels catalogue, the contact fields and the routing rules through the API: a builder defines them, everyone
// reads the labels, an operator changes nothing, bad input is answered 400 naming the field and nothing applies.
func TestLabelsFieldsAndRules(t *testing.T) {
	e := startTeam(t)
	version := func() uint64 { a, _ := e.dir.Tenant("acme"); return a.Version }

	// Labels: a builder adds one; everyone reads the catalogue.
	if r := e.do(t, "POST", "/v1/labels", carolToken, `{"name":"billing","color":"#1d4ed8","description":"Invoices and refunds"}`); r.status != 201 ||
		!strings.Contains(string(r.body), `"color":"#1d4ed8"`) {
		t.Fatalf("POST /v1/labels = %s", r)
	}
	if r := e.do(t, "POST", "/v1/labels", bobToken, `{"name":"vip"}`); r.status != 201 || !strings.Contains(string(r.body), tenant.DefaultLabelColor) {
		t.Fatalf("POST /v1/labels without colour = %s", r)
	}
	var list struct{ Labels []tenant.Label }
	r := e.do(t, "GET", "/v1/labels", aliceToken, "")
	decodeBody(t, r, &list)
	if r.status != 200 || len(list.Labels) != 2 || list.Labels[0].Name != "billing" || list.Labels[0].Description != "Invoices and refunds" {
		t.Fatalf("GET /v1/labels as an operator = %s", r)
	}
	v := version()
	for _, tc := range []struct{ method, path, token, body, code string }{
		{"POST", "/v1/labels", aliceToken, `{"name":"x"}`, "forbidden"},
		{"POST", "/v1/labels", bobToken, `{"name":"Not A Label"}`, "invalid_setting"},
		{"POST", "/v1/labels", bobToken, `{"name":"vip"}`, "label_exists"},
		{"PATCH", "/v1/labels/vip", bobToken, `{"color":"red"}`, "invalid_setting"},
		{"PATCH", "/v1/labels/nope", bobToken, `{"color":"#000000"}`, "label_not_found"},
		{"DELETE", "/v1/labels/nope", carolToken, "", "label_not_found"},
		{"PUT", "/v1/contacts/fields", aliceToken, `{"fields":[]}`, "forbidden"},
		{"PUT", "/v1/contacts/fields", bobToken, `{"fields":[{"key":"tier","type":"colour"}]}`, "invalid_setting"},
		{"GET", "/v1/routing/rules", aliceToken, "", "forbidden"},
		{"PUT", "/v1/routing/rules", bobToken, `{"rules":[{"when":[{"label":"gold"}],"priority":5}]}`, "invalid_setting"},
		{"PUT", "/v1/routing/rules", bobToken, `{"rules":[{"when":[{"channel":"globex-wa"}],"skills":["x"]}]}`, "invalid_setting"},
		{"PUT", "/v1/routing/rules", bobToken, `{"rules":[{"when":[{"channel":"acme-wa"}]}]}`, "invalid_setting"},
	} {
		r := e.do(t, tc.method, tc.path, tc.token, tc.body)
		wantError(t, tc.method+" "+tc.path+" "+tc.body, r, map[string]int{"forbidden": 403, "invalid_setting": 400,
			"label_exists": 409, "label_not_found": 404}[tc.code], tc.code)
	}
	if version() != v {
		t.Errorf("a refused change changed the configuration: version %d → %d", v, version())
	}
	if r := e.do(t, "PUT", "/v1/routing/rules", bobToken, `{"rules":[{"when":[{"label":"gold"}],"priority":5}]}`); !strings.Contains(string(r.body), "rules[0].when[0].label") {
		t.Errorf("a rule on a label outside the catalogue: %s does not name the field", r)
	}
	if r := e.do(t, "PATCH", "/v1/labels/vip", carolToken, `{"color":"#b91c1c","description":"Pays for priority"}`); r.status != 200 ||
		!strings.Contains(string(r.body), `"description":"Pays for priority"`) {
		t.Errorf("PATCH /v1/labels/vip = %s", r)
	}

	// Contact fields: replaced whole by a builder; GET /v1/contacts/fields shows the live schema.
	r = e.do(t, "PUT", "/v1/contacts/fields", carolToken, `{"fields":[{"key":"tier","label":"Tier","type":"choice","choices":["gold","silver"]},{"key":"city","type":"text"}]}`)
	var fields struct {
		Fields  contact.Schema
		Version uint64
	}
	decodeBody(t, r, &fields)
	if r.status != 200 || len(fields.Fields) != 2 || fields.Fields[1].Label != "city" || fields.Version != version() {
		t.Fatalf("PUT /v1/contacts/fields = %s", r)
	}
	r = e.do(t, "GET", "/v1/contacts/fields", aliceToken, "")
	if !strings.Contains(string(r.body), `"key":"tier"`) {
		t.Errorf("GET /v1/contacts/fields after the change = %s", r)
	}

	// Rules: the channel billing rule of the README; read back as written.
	body := `{"rules":[{"name":"billing","when":[{"channel":"acme-wa"},{"label":"billing"}],"skills":["billing"],"priority":10},{"when":[{"field":"tier","in":["gold"]}],"priority":50}]}`
	if r := e.do(t, "PUT", "/v1/routing/rules", carolToken, body); r.status != 200 {
		t.Fatalf("PUT /v1/routing/rules = %s", r)
	}
	var rules struct {
		Rules   []routing.Rule
		Version uint64
	}
	r = e.do(t, "GET", "/v1/routing/rules", bobToken, "")
	decodeBody(t, r, &rules)
	if len(rules.Rules) != 2 || rules.Rules[0].Name != "billing" || *rules.Rules[1].Priority != 50 || rules.Version != version() {
		t.Fatalf("GET /v1/routing/rules = %s", r)
	}
	// A field a rule names cannot be removed, nor a label.
	wantError(t, "remove a field a rule names", e.do(t, "PUT", "/v1/contacts/fields", bobToken, `{"fields":[{"key":"city","type":"text"}]}`), 400, "invalid_setting")
	wantError(t, "remove a label a rule names", e.do(t, "DELETE", "/v1/labels/billing", bobToken, ""), 400, "invalid_setting")
	// Removing a label no rule names is allowed.
	if r := e.do(t, "DELETE", "/v1/labels/vip", bobToken, ""); r.status != 200 || !strings.Contains(string(r.body), `"deleted":true`) {
		t.Errorf("DELETE /v1/labels/vip = %s", r)
	}
	if r := e.do(t, "GET", "/v1/labels", aliceToken, ""); strings.Contains(string(r.body), "vip") {
		t.Errorf("the removed label is still listed: %s", r)
	}
	// Another tenant sees none of it.
	if r := e.do(t, "GET", "/v1/labels", daveToken, ""); string(r.body) != `{"labels":[]}` {
		t.Errorf("globex's labels = %s", r)
	}
}

// A contact's values of a removed field, or of one whose definition no longer accepts them, are kept in the record
// and hidden from the API.
func TestContactFieldValuesHiddenNotDestroyed(t *testing.T) {
	e := startTeam(t)
	stored := person("15550001111", "Ann", map[string]string{"tier": `"gold"`, "city": `"Porto"`})
	e.putContacts(t, "acme", stored)
	id := conversation.ContactID("15550001111")
	get := func() map[string]json.RawMessage {
		var v struct{ Fields map[string]json.RawMessage }
		decodeBody(t, e.do(t, "GET", "/v1/contacts/"+id, bobToken, ""), &v)
		return v.Fields
	}
	if r := e.do(t, "PUT", "/v1/contacts/fields", bobToken, `{"fields":[{"key":"tier","type":"choice","choices":["gold","silver"]},{"key":"city","type":"text"}]}`); r.status != 200 {
		t.Fatal(r)
	}
	if f := get(); string(f["tier"]) != `"gold"` || string(f["city"]) != `"Porto"` {
		t.Fatalf("fields = %s", f)
	}
	// gold is no longer a choice, and city is gone: both hidden.
	if r := e.do(t, "PUT", "/v1/contacts/fields", bobToken, `{"fields":[{"key":"tier","type":"choice","choices":["silver","bronze"]}]}`); r.status != 200 {
		t.Fatal(r)
	}
	if f := get(); len(f) != 0 {
		t.Errorf("fields after the change = %s, want none shown", f)
	}
	k, err := e.store.Contact("acme", id)
	if err != nil || string(k.Fields["tier"]) != `"gold"` || string(k.Fields["city"]) != `"Porto"` {
		t.Errorf("the stored contact lost values: %v %s", err, k.Fields)
	}
	// The former definitions show them again.
	if r := e.do(t, "PUT", "/v1/contacts/fields", bobToken, `{"fields":[{"key":"tier","type":"choice","choices":["gold","silver"]},{"key":"city","type":"text"}]}`); r.status != 200 {
		t.Fatal(r)
	}
	if f := get(); string(f["tier"]) != `"gold"` || string(f["city"]) != `"Porto"` {
		t.Errorf("fields after restoring the schema = %s", f)
	}
}
