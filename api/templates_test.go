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

// putTemplates stores a catalogue for acme-tpl: order_update (2 parameters), promo (IMAGE header), paused_one
// (PAUSED), and another tenant's template under the same account id.
func putTemplates(t *testing.T, e *env) {
	t.Helper()
	mk := func(name, status string, params int, header *template.Template) store.StoredTemplate {
		tp := template.Template{ID: name + "-id", WABA: tplWABA, Name: name, Language: "en_US", Category: "UTILITY",
			Status: status, Params: params, Components: json.RawMessage(`[{"type":"BODY","text":"Hi {{1}}, order {{2}}"}]`), UpdatedAt: at}
		if header != nil {
			tp.Header = header.Header
		}
		return store.StoredTemplate{Template: tp}
	}
	e.commit(t, func(b *store.Batch) error {
		for _, x := range []store.StoredTemplate{
			mk("order_update", "APPROVED", 2, nil),
			mk("promo", "APPROVED", 1, &template.Template{Header: &template.Header{Format: "IMAGE"}}),
			mk("paused_one", "PAUSED", 0, nil),
		} {
			if err := b.PutTemplate("acme", &x); err != nil {
				return err
			}
		}
		other := mk("globex_secret", "APPROVED", 0, nil)
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
	if strings.Join(names, ",") != "order_update,paused_one,promo" {
		t.Errorf("templates = %v", names)
	}
	promo := body.Templates[2]
	if promo["status"] != "APPROVED" || promo["params"].(float64) != 1 || promo["header"].(map[string]any)["format"] != "IMAGE" ||
		promo["waba"] != tplWABA || promo["language"] != "en_US" || promo["updated_at"] == nil || promo["components"] == nil {
		t.Errorf("promo = %v", promo)
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
	recs := e.prod.records()
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
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
		for _, n := range []string{"order_update", "promo", "paused_one"} {
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
	recs := e.prod.records()
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
