package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/template"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

const tplWABA = "555000111" // acme-tpl's business account in testdata/tenants.yaml

// putTemplates stores a catalogue for acme-tpl, made from Meta's listing objects as a sync makes it: order_update
// (2 parameters), promo (IMAGE header), paused_one (PAUSED), pickup (LOCATION header, a dynamic URL button, a
// static one and a quick reply), sale_named (a named TEXT header and a COPY_CODE button), and another tenant's
// template under the same account id.
func putTemplates(t *testing.T, e *env) {
	t.Helper()
	mk := func(name, status, comps string) store.StoredTemplate {
		tp, err := template.FromMeta(tplWABA, json.RawMessage(`{"id":"`+name+`-id","name":"`+name+`","language":"en_US",`+
			`"category":"UTILITY","status":"`+status+`","components":`+comps+`}`), at)
		if err != nil {
			t.Fatal(err)
		}
		return store.StoredTemplate{Template: tp}
	}
	const body = `{"type":"BODY","text":"Hi {{1}}, order {{2}}"}`
	e.commit(t, func(b *store.Batch) error {
		for _, x := range []store.StoredTemplate{
			mk("order_update", "APPROVED", `[`+body+`]`),
			mk("promo", "APPROVED", `[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Hi {{1}}"}]`),
			mk("paused_one", "PAUSED", `[{"type":"BODY","text":"Hello"}]`),
			mk("pickup", "APPROVED", `[{"type":"HEADER","format":"LOCATION"},{"type":"BODY","text":"Order {{1}} is ready here."},`+
				`{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://shop.example.com/t/{{1}}"},`+
				`{"type":"URL","text":"Help","url":"https://shop.example.com/help"},{"type":"QUICK_REPLY","text":"Stop"}]}]`),
			mk("sale_named", "APPROVED", `[{"type":"HEADER","format":"TEXT","text":"{{sale_name}} is here"},`+
				`{"type":"BODY","text":"Hi {{first_name}}"},{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"SAVE20"}]}]`),
		} {
			if err := b.PutTemplate("acme", &x); err != nil {
				return err
			}
		}
		other := mk("globex_secret", "APPROVED", `[{"type":"BODY","text":"Hello"}]`)
		return b.PutTemplate("globex", &other)
	})
}

func TestListTemplates(t *testing.T) {
	e := start(t, options{})
	putTemplates(t, e)
	var body struct {
		Templates []map[string]any `json:"templates"`
	}
	e.getJSON(t, "/v1/templates?channel_id=acme-tpl", aliceToken, &body)
	var names []string
	for _, tp := range body.Templates {
		names = append(names, tp["name"].(string))
	}
	if strings.Join(names, ",") != "order_update,paused_one,pickup,promo,sale_named" {
		t.Errorf("templates = %v", names)
	}
	promo := body.Templates[3]
	if promo["status"] != "APPROVED" || promo["params"].(float64) != 1 || promo["header"].(map[string]any)["format"] != "IMAGE" ||
		promo["waba"] != tplWABA || promo["language"] != "en_US" || promo["updated_at"] == nil || promo["components"] == nil {
		t.Errorf("promo = %v", promo)
	}
	pickup := body.Templates[2]
	if pickup["header"].(map[string]any)["format"] != "LOCATION" || len(pickup["buttons"].([]any)) != 3 ||
		mustJSON(t, pickup["buttons"].([]any)[0]) != `{"required":true,"sub_type":"url","text":"Track","type":"URL","url":"https://shop.example.com/t/{{1}}"}` {
		t.Errorf("pickup = %v", pickup)
	}
	if h := body.Templates[4]["header"].(map[string]any); h["param_name"] != "sale_name" || h["params"].(float64) != 1 {
		t.Errorf("sale_named header = %v", h)
	}
	e.getJSON(t, "/v1/templates?status=paused", aliceToken, &body)
	if len(body.Templates) != 1 || body.Templates[0]["name"] != "paused_one" {
		t.Errorf("status=paused: %v", body.Templates)
	}
	// A channel without a waba_id has no catalogue.
	e.getJSON(t, "/v1/templates?channel_id=acme-wa", aliceToken, &body)
	if len(body.Templates) != 0 {
		t.Errorf("acme-wa: %v", body.Templates)
	}
	// Another tenant's channel is not found; its templates never show.
	wantError(t, "globex's channel", e.do(t, "GET", "/v1/templates?channel_id=globex-wa", aliceToken, ""), 404, "channel_not_found")
	e.getJSON(t, "/v1/templates", daveToken, &body)
	if len(body.Templates) != 0 {
		t.Errorf("globex sees %v (its channel has no waba_id)", body.Templates)
	}
	wantError(t, "no token", e.do(t, "GET", "/v1/templates", "", ""), 401, "unauthorized")
}

// TestTemplateSendCheck: a template message is refused before it is queued when the catalogue of the
// conversation's channel does not have it, it is not approved, or its parameters or header do not fit; params_from
// is filled from the contact.
func TestTemplateSendCheck(t *testing.T) {
	e := start(t, options{})
	putTemplates(t, e)
	c := conv("acme", "c0000000000000007", conversation.Assigned, "alice")
	c.ChannelID = "acme-tpl"
	c.Contact.Name = "ana (WhatsApp)"
	e.putConvs(t, c)
	// Its contact record has a city and another name than the conversation knows.
	e.commit(t, func(b *store.Batch) error {
		return b.PutContact("acme", nil, &contact.Contact{ID: conversation.ContactID(c.Contact.WaID), WaID: c.Contact.WaID,
			Phone: "+" + c.Contact.WaID, Name: "Ana Lima", Fields: map[string]json.RawMessage{"city": json.RawMessage(`"Porto"`)}})
	})
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return outcome.Result{Body: map[string]any{}}, true })
	path := "/v1/conversations/c0000000000000007/messages"
	const (
		here  = `"header":{"type":"location","location":{"latitude":38.7223,"longitude":-9.1393,"name":"Depot","address":"Rua Augusta 1"}}`
		track = `{"sub_type":"url","index":0,"params":["R-1"]}`
	)
	for _, tc := range []struct {
		name, body string
		status     int
		code, in   string
	}{
		{"not in the catalogue", `{"type":"template","template":{"name":"nope","language":"en_US"}}`, 400, template.CodeNotFound, "nope"},
		{"other language", `{"type":"template","template":{"name":"order_update","language":"pt_BR","params":["a","b"]}}`, 400, template.CodeNotFound, "pt_BR"},
		{"another tenant's", `{"type":"template","template":{"name":"globex_secret","language":"en_US"}}`, 400, template.CodeNotFound, ""},
		{"paused", `{"type":"template","template":{"name":"paused_one","language":"en_US"}}`, 422, template.CodeNotApproved, "PAUSED"},
		{"too few parameters", `{"type":"template","template":{"name":"order_update","language":"en_US","params":["a"]}}`, 400, template.CodeInvalidParams, "2 body parameters"},
		{"media header missing", `{"type":"template","template":{"name":"promo","language":"en_US","params":["a"]}}`, 400, template.CodeInvalidParams, "image header"},
		{"bad params_from", `{"type":"template","template":{"name":"order_update","language":"en_US","params":["","x"],"params_from":["contact.phone"]}}`, 400, template.CodeInvalidParams, "contact.phone"},
		{"params_from without a value", `{"type":"template","template":{"name":"order_update","language":"en_US","params":["","x"],"params_from":["contact.fields.plan"]}}`, 400, template.CodeInvalidParams, "contact.fields.plan"},
		{"dynamic URL button left out", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],` + here + `}}`,
			400, template.CodeInvalidParams, `button 0 (URL \"Track\" https://shop.example.com/t/{{1}}) of template \"pickup\" needs its parameter`},
		{"no such button", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],` + here + `,"buttons":[` + track + `,{"sub_type":"quick_reply","index":5,"params":["x"]}]}}`,
			400, template.CodeInvalidParams, "has no button 5 (it has 3)"},
		{"sub_type not the button's", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],` + here + `,"buttons":[` + track + `,{"sub_type":"url","index":2,"params":["x"]}]}}`,
			400, template.CodeInvalidParams, `button 2 (QUICK_REPLY \"Stop\") of template \"pickup\" takes sub_type \"quick_reply\", not \"url\"`},
		{"static URL button given a parameter", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],` + here + `,"buttons":[` + track + `,{"sub_type":"url","index":1,"params":["x"]}]}}`,
			400, template.CodeInvalidParams, "takes no parameter"},
		{"location header missing", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],"buttons":[` + track + `]}}`,
			400, template.CodeInvalidParams, "location header"},
		{"latitude out of range", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],"buttons":[` + track + `],` +
			`"header":{"type":"location","location":{"latitude":91,"longitude":0,"name":"a","address":"b"}}}}`, 400, template.CodeInvalidParams, "latitude 91 is not between -90 and 90"},
		{"longitude out of range", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],"buttons":[` + track + `],` +
			`"header":{"type":"location","location":{"latitude":0,"longitude":-181,"name":"a","address":"b"}}}}`, 400, template.CodeInvalidParams, "longitude -181"},
		{"latitude as text", `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],` +
			`"header":{"type":"location","location":{"latitude":"38.7","longitude":0,"name":"a","address":"b"}}}}`, 400, conversation.CodeInvalidMessage, "header.location.latitude must be a number"},
		{"named header of another name", `{"type":"template","template":{"name":"sale_named","language":"en_US","params":["Ana"],` +
			`"header":{"type":"text","text":"Black Friday","parameter_name":"sale"},"buttons":[{"sub_type":"copy_code","index":0,"params":["SAVE20"]}]}}`,
			400, template.CodeInvalidParams, `named \"sale_name\", not \"sale\"`},
		{"coupon code left out", `{"type":"template","template":{"name":"sale_named","language":"en_US","params":["Ana"],` +
			`"header":{"type":"text","text":"Black Friday"}}}`, 400, template.CodeInvalidParams, "COPY_CODE"},
	} {
		r := e.do(t, "POST", path, aliceToken, tc.body)
		wantError(t, tc.name, r, tc.status, tc.code)
		if !strings.Contains(string(r.body), tc.in) {
			t.Errorf("%s: %s does not say %q", tc.name, r.body, tc.in)
		}
	}
	if n := len(e.prod.records()); n != 0 {
		t.Fatalf("%d records produced for refused templates", n)
	}
	// Accepted: params_from fills parameter 1 from the contact's name; the header travels.
	r := e.do(t, "POST", path, aliceToken, `{"type":"template","template":{"name":"order_update","language":"en_US","params":["","R-7"],"params_from":["contact.name"]}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("order_update: %s", r)
	}
	r = e.do(t, "POST", path, aliceToken, `{"type":"template","template":{"name":"order_update","language":"en_US","params":["","",""],"params_from":["contact.fields.city","","contact.name"]}}`)
	wantError(t, "three parameters for two", r, 400, template.CodeInvalidParams)
	r = e.do(t, "POST", path, aliceToken, `{"type":"template","template":{"name":"order_update","language":"en_US","params":["x"],"params_from":["contact.fields.city","contact.name"]}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("order_update: %s", r)
	}
	r = e.do(t, "POST", path, aliceToken, `{"type":"template","template":{"name":"promo","language":"en_US","params":["Ana"],"header":{"type":"image","link":"https://cdn.example.com/sale.jpg"}}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("promo: %s", r)
	}
	// A location header with a dynamic URL button and a quick reply's payload; a named header by its name, and one
	// the API names from the catalogue.
	r = e.do(t, "POST", path, aliceToken, `{"type":"template","template":{"name":"pickup","language":"en_US","params":["R-1"],`+here+
		`,"buttons":[{"sub_type":"quick_reply","index":2,"params":["stop-1"]},`+track+`]}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("pickup: %s", r)
	}
	for _, name := range []string{`"parameter_name":"sale_name",`, ""} {
		r = e.do(t, "POST", path, aliceToken, `{"type":"template","template":{"name":"sale_named","language":"en_US","params":["Ana"],`+
			`"header":{"type":"text",`+name+`"text":"Black Friday"},"buttons":[{"sub_type":"copy_code","index":0,"params":["SAVE20"]}]}}`)
		if r.status != http.StatusCreated {
			t.Fatalf("sale_named: %s", r)
		}
	}
	recs := e.prod.records()
	if len(recs) != 6 {
		t.Fatalf("%d records", len(recs))
	}
	p := recs[3].Items[0].Command.Message.Template
	if l := p.Header.Location; l == nil || *l.Latitude != 38.7223 || *l.Longitude != -9.1393 || l.Name != "Depot" ||
		len(p.Buttons) != 2 || p.Buttons[1].Params[0] != "R-1" {
		t.Errorf("pickup = %+v header %+v", p, p.Header)
	}
	for _, rec := range recs[4:] {
		if h := rec.Items[0].Command.Message.Template.Header; h.ParameterName != "sale_name" || h.Text != "Black Friday" {
			t.Errorf("named header = %+v", h)
		}
	}
	got := recs[0].Items[0].Command.Message.Template
	if strings.Join(got.Params, "|") != "Ana Lima|R-7" || got.ParamsFrom != nil {
		t.Errorf("resolved template = %+v", got)
	}
	if text := recs[0].Items[0].Command.Message.Text; text != "Hi Ana Lima, order R-7" {
		t.Errorf("the message's text is %q, want the body filled in", text)
	}
	if got := recs[1].Items[0].Command.Message.Template.Params; strings.Join(got, "|") != "Porto|Ana Lima" {
		t.Errorf("params from the contact's field and name = %v", got)
	}
	if h := recs[2].Items[0].Command.Message.Template.Header; h == nil || h.Type != "image" || h.Link != "https://cdn.example.com/sale.jpg" {
		t.Errorf("header = %+v", h)
	}
	// A channel without a catalogue sends templates unchecked (Meta judges them), and so does an account never
	// synced (acme-tpl's after its templates are gone).
	e.putConvs(t, conv("acme", "c0000000000000008", conversation.Assigned, "alice"))
	if r := e.do(t, "POST", "/v1/conversations/c0000000000000008/messages", aliceToken, `{"type":"template","template":{"name":"anything","language":"en"}}`); r.status != http.StatusCreated {
		t.Errorf("unchecked channel: %s", r)
	}
	e.commit(t, func(b *store.Batch) error {
		for _, n := range []string{"order_update", "promo", "paused_one", "pickup", "sale_named"} {
			if err := b.DeleteTemplate("acme", tplWABA, n, "en_US"); err != nil {
				return err
			}
		}
		return nil
	})
	if r := e.do(t, "POST", path, aliceToken, `{"type":"template","template":{"name":"anything","language":"en"}}`); r.status != http.StatusCreated {
		t.Errorf("account never synced: %s", r)
	}
}

// TestSyncTemplates: only admins and builders sync; the fetched catalogues become template_sync commands whose
// outcomes are answered; a Graph failure is 502.
func TestSyncTemplates(t *testing.T) {
	f := &fetcher{cats: []inbox.TemplateCatalogue{{WABA: tplWABA, Templates: []json.RawMessage{json.RawMessage(`{"name":"a","language":"en"}`)}}}}
	e := start(t, options{configure: func(c *api.Config) { c.Templates = f }})
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Body: map[string]any{"waba": cmd.Catalogue.WABA, "templates": len(cmd.Catalogue.Templates)}}, true
	})
	wantError(t, "operator", e.do(t, "POST", "/v1/templates/sync", aliceToken, ""), 403, "forbidden")
	r := e.do(t, "POST", "/v1/templates/sync", carolToken, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"synced":[{"templates":1,"waba":"555000111"}]`) {
		t.Fatalf("sync: %s", r)
	}
	recs := e.prod.changes()
	if len(recs) != 1 || recs[0].Tenant != "acme" || recs[0].Items[0].Command.Type != "template_sync" ||
		recs[0].Items[0].Command.OperatorID != "carol" {
		t.Errorf("records %+v", recs)
	}
	if f.tenant != "acme" {
		t.Errorf("fetched for %q", f.tenant)
	}
	f.err = errBoom
	wantError(t, "graph down", e.do(t, "POST", "/v1/templates/sync", bobToken, ""), 502, "graph_failed")
	wantError(t, "GET sync", e.do(t, "GET", "/v1/templates/sync", bobToken, ""), 405, "method_not_allowed")
}

type fetcher struct {
	cats   []inbox.TemplateCatalogue
	err    error
	tenant string
}

func (f *fetcher) FetchTemplates(_ context.Context, tenant string) ([]inbox.TemplateCatalogue, error) {
	f.tenant = tenant
	return f.cats, f.err
}

var errBoom = errors.New("graph api: HTTP 500")

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
