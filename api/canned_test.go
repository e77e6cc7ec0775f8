package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

const (
	cannedA = "d0000000000000000000000000000000a"
	cannedB = "d0000000000000000000000000000000b"
	cannedC = "d0000000000000000000000000000000c"
	cannedG = "d0000000000000000000000000000000f" // globex's
)

func (e *env) putCanned(t *testing.T, tn string, rs ...canned.Response) {
	t.Helper()
	e.commit(t, func(b *store.Batch) error {
		for i := range rs {
			if err := b.PutCanned(tn, &rs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

type cannedList struct {
	CannedResponses []struct {
		ID        string          `json:"id"`
		Title     string          `json:"title"`
		Category  string          `json:"category"`
		Text      string          `json:"text"`
		Media     json.RawMessage `json:"media"`
		Variables []string        `json:"variables"`
		UpdatedAt string          `json:"updated_at"`
	} `json:"canned_responses"`
}

func (l cannedList) ids() []string {
	var out []string
	for _, r := range l.CannedResponses {
		out = append(out, r.ID)
	}
	return out
}

// Every operator lists canned responses by category then title, filtered by words and category; another tenant's
// are never listed, and deleted ones neither.
func TestListCanned(t *testing.T) {
	e := start(t, options{})
	e.putCanned(t, "acme",
		canned.Response{ID: cannedA, Title: "Refund policy", Category: "Billing", Text: "Refunds take 5 days, {{contact.name}}.", UpdatedAt: at},
		canned.Response{ID: cannedB, Title: "Greeting", Text: "Hi {{contact.name}}, {{operator.name}} here. {{contact.name}}", UpdatedAt: at,
			Media: json.RawMessage(`{"type":"image","id":"m1"}`)},
		canned.Response{ID: cannedC, Title: "Gone", Text: "x", Deleted: true})
	e.putCanned(t, "globex", canned.Response{ID: cannedG, Title: "Greeting", Text: "Globex hello", UpdatedAt: at})
	var l cannedList
	e.getJSON(t, "/v1/canned-responses", aliceToken, &l)
	if got := l.ids(); !reflect.DeepEqual(got, []string{cannedB, cannedA}) {
		t.Fatalf("list = %v, want greeting (no category) then billing", got)
	}
	g := l.CannedResponses[0]
	if !reflect.DeepEqual(g.Variables, []string{"contact.name", "operator.name"}) || string(g.Media) != `{"type":"image","id":"m1"}` || g.UpdatedAt == "" {
		t.Errorf("greeting = %+v", g)
	}
	if string(l.CannedResponses[1].Media) != "null" {
		t.Errorf("media without a file = %s, want null", l.CannedResponses[1].Media)
	}
	for q, want := range map[string][]string{
		"?q=refund":              {cannedA},
		"?q=REFUND+days":         {cannedA},
		"?q=refund+hello":        nil,
		"?q=billing":             {cannedA},
		"?category=billing":      {cannedA},
		"?category=Sales":        nil,
		"?q=globex":              nil,
		"?q=operator.name":       {cannedB},
		"?q=&category=":          {cannedB, cannedA},
		"?q=gone":                nil,
		"?q=hi&category=Billing": nil,
	} {
		var l cannedList
		e.getJSON(t, "/v1/canned-responses"+q, aliceToken, &l)
		if got := l.ids(); !reflect.DeepEqual(got, want) {
			t.Errorf("GET %s = %v, want %v", q, got, want)
		}
	}
	var dl cannedList
	e.getJSON(t, "/v1/canned-responses", daveToken, &dl)
	if got := dl.ids(); !reflect.DeepEqual(got, []string{cannedG}) {
		t.Errorf("globex lists %v", got)
	}
	// One by id: another tenant's, a deleted one and a malformed id are all not found.
	if r := e.do(t, "GET", "/v1/canned-responses/"+cannedA, aliceToken, ""); r.status != 200 || !strings.Contains(string(r.body), "Refund policy") {
		t.Errorf("GET one = %s", r)
	}
	for _, id := range []string{cannedG, cannedC, "nope", strings.Repeat("d", 500)} {
		wantError(t, "GET "+id, e.do(t, "GET", "/v1/canned-responses/"+id, aliceToken, ""), 404, "canned_not_found")
	}
}

// Only admins and builders change canned responses; bad input is refused before anything is produced; a valid
// change is one canned command with the whole response (a PATCH merged onto the stored one) and is answered with
// the view of the catalogue's outcome.
func TestChangeCanned(t *testing.T) {
	e := start(t, options{})
	e.putCanned(t, "acme", canned.Response{ID: cannedA, Title: "Refund policy", Category: "Billing", Text: "Refunds take 5 days.",
		Media: json.RawMessage(`{"type":"document","id":"m9"}`), UpdatedAt: at})
	e.putCanned(t, "globex", canned.Response{ID: cannedG, Title: "Greeting", Text: "Globex hello", UpdatedAt: at})
	var cmds []inbox.Command
	e.prod.set(nil, func(c inbox.Command) (outcome.Result, bool) {
		cmds = append(cmds, c)
		if c.Type == canned.Delete {
			return outcome.Result{Body: map[string]any{"id": c.Canned.ID, "deleted": true}}, true
		}
		in := c.Canned
		return outcome.Result{Body: &canned.Response{ID: in.ID, Title: in.Title, Category: in.Category, Text: in.Text, Media: in.Media, UpdatedAt: now}}, true
	})
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"POST", "/v1/canned-responses", aliceToken, `{"title":"t","text":"x"}`, 403, "forbidden"},
		{"PATCH", "/v1/canned-responses/" + cannedA, aliceToken, `{"title":"t"}`, 403, "forbidden"},
		{"DELETE", "/v1/canned-responses/" + cannedA, aliceToken, ``, 403, "forbidden"},
		{"POST", "/v1/canned-responses", bobToken, `{"title":"","text":"x"}`, 400, "invalid_canned"},
		{"POST", "/v1/canned-responses", bobToken, `{"title":"t"}`, 400, "invalid_canned"},
		{"POST", "/v1/canned-responses", bobToken, `{"title":"` + strings.Repeat("t", 101) + `","text":"x"}`, 400, "invalid_canned"},
		{"POST", "/v1/canned-responses", bobToken, `{"title":"t","text":"` + strings.Repeat("x", 4097) + `"}`, 400, "invalid_canned"},
		{"POST", "/v1/canned-responses", bobToken, `{"title":"t","text":"Hi {{contact.email}}"}`, 400, "invalid_canned"},
		{"POST", "/v1/canned-responses", bobToken, `{"title":"t","text":"x","media":{"type":"exe","id":"m1"}}`, 400, "invalid_canned"},
		{"POST", "/v1/canned-responses", bobToken, `{"title":"t","text":"x","id":"d1"}`, 400, "invalid_json"},
		{"PATCH", "/v1/canned-responses/" + cannedA, bobToken, `{"text":""}`, 400, "invalid_canned"},
		{"PATCH", "/v1/canned-responses/" + cannedG, bobToken, `{"title":"mine"}`, 404, "canned_not_found"},
		{"DELETE", "/v1/canned-responses/nope", bobToken, ``, 404, "canned_not_found"},
		{"PUT", "/v1/canned-responses/" + cannedA, bobToken, `{}`, 405, "method_not_allowed"},
	} {
		wantError(t, tc.method+" "+tc.path+" "+tc.body, e.do(t, tc.method, tc.path, tc.token, tc.body), tc.status, tc.code)
	}
	if len(cmds) != 0 {
		t.Fatalf("refused changes produced %+v", cmds)
	}

	r := e.do(t, "POST", "/v1/canned-responses", carolToken, `{"title":" Greeting ","category":"Sales","text":"Hi {{contact.name}}"}`)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"variables":["contact.name"]`) {
		t.Fatalf("create = %s", r)
	}
	if c := cmds[0]; c.Type != canned.Create || c.OperatorID != "carol" || !canned.ValidID(c.Canned.ID) || c.Canned.Title != " Greeting " ||
		c.Canned.Category != "Sales" || c.Canned.Text != "Hi {{contact.name}}" || c.Canned.Media != nil {
		t.Errorf("create command %+v, canned %+v", c, c.Canned)
	}
	if r := e.do(t, "PATCH", "/v1/canned-responses/"+cannedA, bobToken, `{"title":"Refunds"}`); r.status != 200 {
		t.Fatalf("patch = %s", r)
	}
	want := inbox.CannedInput{ID: cannedA, Title: "Refunds", Category: "Billing", Text: "Refunds take 5 days.", Media: json.RawMessage(`{"type":"document","id":"m9"}`)}
	if c := cmds[1]; c.Type != canned.Update || !reflect.DeepEqual(*c.Canned, want) {
		t.Errorf("patch sent %+v, want the stored response with the new title %+v", c.Canned, want)
	}
	if r := e.do(t, "PATCH", "/v1/canned-responses/"+cannedA, bobToken, `{"media":null,"category":""}`); r.status != 200 {
		t.Fatalf("patch = %s", r)
	}
	if c := cmds[2]; c.Canned.Media != nil || c.Canned.Category != "" || c.Canned.Title != "Refund policy" {
		t.Errorf("patch removing media and category sent %+v", c.Canned)
	}
	if r := e.do(t, "DELETE", "/v1/canned-responses/"+cannedA, carolToken, ""); r.status != 200 || !strings.Contains(string(r.body), `"deleted":true`) {
		t.Fatalf("delete = %s", r)
	}
	if c := cmds[3]; c.Type != canned.Delete || c.Canned.ID != cannedA {
		t.Errorf("delete sent %+v", c)
	}
}

// Rendering fills the conversation's contact and the caller's name; what has no value stays visible and is listed.
func TestRenderCanned(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Assigned, "alice"), conv("globex", "c00000000000000g1", conversation.Unassigned, ""))
	e.putCanned(t, "acme", canned.Response{ID: cannedA, Title: "Greeting",
		Text:  "Hi {{contact.name}} ({{contact.phone}}), {{operator.name}} here. Your city: {{contact.fields.city}}",
		Media: json.RawMessage(`{"type":"image","id":"m1"}`), UpdatedAt: at})
	r := e.do(t, "POST", "/v1/canned-responses/"+cannedA+"/render", aliceToken, `{"conversation_id":"c0000000000000001"}`)
	var got struct {
		Text    string          `json:"text"`
		Media   json.RawMessage `json:"media"`
		Missing []string        `json:"missing"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("render = %s", r)
	}
	if want := "Hi Customer c0000000000000001 (+1555c0000000000000001), Alice here. Your city: {{contact.fields.city}}"; got.Text != want {
		t.Errorf("rendered %q, want %q", got.Text, want)
	}
	if !reflect.DeepEqual(got.Missing, []string{"contact.fields.city"}) || string(got.Media) != `{"type":"image","id":"m1"}` {
		t.Errorf("render = %+v", got)
	}
	wantError(t, "another tenant's conversation", e.do(t, "POST", "/v1/canned-responses/"+cannedA+"/render", aliceToken,
		`{"conversation_id":"c00000000000000g1"}`), 404, "conversation_not_found")
	wantError(t, "another tenant's canned response", e.do(t, "POST", "/v1/canned-responses/"+cannedA+"/render", daveToken,
		`{"conversation_id":"c00000000000000g1"}`), 404, "canned_not_found")
	wantError(t, "no conversation", e.do(t, "POST", "/v1/canned-responses/"+cannedA+"/render", aliceToken, `{}`), 404, "conversation_not_found")
}

// Rendering uses the contact record's name and custom fields; for an operator of a tenant that hides numbers the
// number stays unfilled and is listed missing (the masked number would be sent to the customer), an admin gets it
// whole.
func TestRenderCannedContactFields(t *testing.T) {
	e := contactsEnv(t)
	wa := "34600111222"
	c := conv("acme", conversation.ID("acme-wa", wa), conversation.Assigned, "alice")
	c.Contact = conversation.Contact{ID: conversation.ContactID(wa), WaID: wa, Name: "profile name"}
	e.putConvs(t, c)
	e.putContacts(t, "acme", person(wa, "Ana Pérez", map[string]string{"city": `"Lyon"`, "vip": `true`}))
	e.putCanned(t, "acme", canned.Response{ID: cannedA, Title: "t", Text: "{{contact.name}} {{contact.phone}} {{contact.fields.city}} {{contact.fields.vip}} {{contact.fields.plan}}"})
	missing := map[string][]string{aliceToken: {"contact.phone", "contact.fields.plan"}, bobToken: {"contact.fields.plan"}}
	for token, want := range map[string]string{
		aliceToken: "Ana Pérez {{contact.phone}} Lyon true {{contact.fields.plan}}",
		bobToken:   "Ana Pérez +34600111222 Lyon true {{contact.fields.plan}}",
	} {
		r := e.do(t, "POST", "/v1/canned-responses/"+cannedA+"/render", token, `{"conversation_id":"`+c.ID+`"}`)
		var got struct {
			Text    string   `json:"text"`
			Missing []string `json:"missing"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &got) != nil || got.Text != want || !reflect.DeepEqual(got.Missing, missing[token]) {
			t.Errorf("render = %s, want %q", r, want)
		}
	}
}
