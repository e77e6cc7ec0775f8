package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// contactsEnv serves the API over the contact tenants: acme hides numbers from operators and has contact fields.
func contactsEnv(t *testing.T) *env {
	t.Helper()
	return start(t, options{tenants: "testdata/contacts_tenants.yaml"})
}

func person(wa, name string, fields map[string]string) contact.Contact {
	c := contact.Contact{ID: conversation.ContactID(wa), Phone: "+" + wa, WaID: wa, Name: name, CreatedAt: at, UpdatedAt: at,
		Version: 1}
	for k, v := range fields {
		if c.Fields == nil {
			c.Fields = map[string]json.RawMessage{}
		}
		c.Fields[k] = json.RawMessage(v)
	}
	return c
}

func (e *env) putContacts(t *testing.T, tn string, cs ...contact.Contact) {
	t.Helper()
	e.commit(t, func(b *store.Batch) error {
		for i := range cs {
			if err := b.PutContact(tn, nil, &cs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

type contactJSON struct {
	ID            string                     `json:"id"`
	Phone         string                     `json:"phone"`
	WaID          string                     `json:"wa_id"`
	Name          string                     `json:"name"`
	Fields        map[string]json.RawMessage `json:"fields"`
	Blocked       bool                       `json:"blocked"`
	Conversations []struct {
		ID        string `json:"id"`
		ChannelID string `json:"channel_id"`
		Status    string `json:"status"`
	} `json:"conversations"`
}

type contactPage struct {
	Contacts   []contactJSON `json:"contacts"`
	NextCursor string        `json:"next_cursor"`
}

// lastCommand is the command of the last record produced.
func (e *env) lastCommand(t *testing.T) inbox.Command {
	t.Helper()
	recs := e.prod.records()
	if len(recs) == 0 {
		t.Fatal("no record produced")
	}
	return *recs[len(recs)-1].Items[0].Command
}

func TestContactCreate(t *testing.T) {
	e := contactsEnv(t)
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		in := cmd.Contact
		_, wa, err := contact.NormalizePhone(in.Phone)
		if err != nil {
			t.Errorf("the API produced an invalid phone %q", in.Phone)
		}
		c, out := contact.Upsert(nil, conversation.ContactID(wa), in, contact.Schema{{Key: "city", Type: "text"},
			{Key: "plan", Type: "choice", Choices: []string{"basic", "premium"}}, {Key: "vip", Type: "boolean"}},
			contact.Change{Mode: contact.Create, At: now})
		if out.Result == contact.Refused {
			return outcome.Result{Code: out.Code, Message: out.Reason}, true
		}
		return outcome.Result{Body: c}, true
	})
	r := e.do(t, http.MethodPost, "/v1/contacts", bobToken,
		`{"phone":"+1 (555) 123-4567","name":"Ana","fields":{"city":"Lisboa","plan":"premium","vip":"yes"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create = %s, want 201", r)
	}
	var c contactJSON
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatal(err)
	}
	if c.ID != conversation.ContactID("15551234567") || c.Phone != "+15551234567" || c.WaID != "15551234567" ||
		c.Name != "Ana" || string(c.Fields["vip"]) != "true" || string(c.Fields["plan"]) != `"premium"` {
		t.Errorf("created %s", r.body)
	}
	cmd := e.lastCommand(t)
	if cmd.Type != "contact_create" || cmd.Contact.Phone != "+15551234567" || cmd.OperatorID != "bob" {
		t.Errorf("command %+v", cmd)
	}
	// Creating contacts is the People page's (contacts.manage): an operator is refused, and nothing is produced.
	before := len(e.prod.records())
	r = e.do(t, http.MethodPost, "/v1/contacts", aliceToken, `{"phone":"+447700900123","name":"Eve"}`)
	wantError(t, "create as operator", r, http.StatusForbidden, "forbidden")
	if len(e.prod.changes()) != before {
		t.Error("the refused create produced a record")
	}

	n := len(e.prod.records())
	for _, tc := range []struct {
		name, body, code, names string
		status                  int
	}{
		{"no phone", `{"name":"x"}`, contact.CodeInvalidPhone, "", 400},
		{"national number", `{"phone":"5551234567"}`, contact.CodeInvalidPhone, "", 400},
		{"letters", `{"phone":"+1555CALLME"}`, contact.CodeInvalidPhone, "", 400},
		{"unknown field", `{"phone":"+15551234567","fields":{"colour":"red"}}`, contact.CodeUnknownField, `"colour"`, 400},
		{"wrong type", `{"phone":"+15551234567","fields":{"birthday":"tomorrow"}}`, contact.CodeInvalidField, `"birthday"`, 400},
		{"not a choice", `{"phone":"+15551234567","fields":{"plan":"gold"}}`, contact.CodeInvalidField, `"plan"`, 400},
		{"number as text field", `{"phone":"+15551234567","fields":{"city":42}}`, contact.CodeInvalidField, `"city"`, 400},
		{"long name", `{"phone":"+15551234567","name":"` + strings.Repeat("n", 300) + `"}`, contact.CodeInvalidField, `"name"`, 400},
		{"unknown member", `{"phone":"+15551234567","nickname":"x"}`, "invalid_json", "", 400},
	} {
		r := e.do(t, http.MethodPost, "/v1/contacts", bobToken, tc.body)
		wantError(t, tc.name, r, tc.status, tc.code)
		if tc.names != "" && !strings.Contains(string(r.body), strings.ReplaceAll(tc.names, `"`, `\"`)) {
			t.Errorf("%s: %s does not name the field %s", tc.name, r.body, tc.names)
		}
	}
	if got := len(e.prod.records()); got != n {
		t.Errorf("refused input produced %d records", got-n)
	}
	// A phone already known is the catalogue's refusal: 409.
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Code: contact.CodeContactExists, Message: "+15551234567 is already a contact"}, true
	})
	wantError(t, "existing phone", e.do(t, http.MethodPost, "/v1/contacts", bobToken, `{"phone":"+15551234567"}`),
		http.StatusConflict, contact.CodeContactExists)
}

func TestContactGetListSearch(t *testing.T) {
	e := contactsEnv(t)
	ana := person("15551230001", "Ana Souza", map[string]string{"city": `"Porto Alegre"`, "plan": `"basic"`})
	bob := person("15551230002", "Bob Souza", nil)
	cleo := person("447700900003", "Cleo", nil)
	cleo.Blocked = true
	e.putContacts(t, "acme", ana, bob, cleo)
	globexAna := person("15551230001", "Globex Ana", nil)
	e.putContacts(t, "globex", globexAna)
	cv := conv("acme", conversation.ID("acme-wa2", "15551230001"), conversation.Assigned, "alice")
	cv.ChannelID, cv.Contact = "acme-wa2", conversation.Contact{ID: ana.ID, WaID: "15551230001", Name: "Ana"}
	e.putConvs(t, cv)

	var c contactJSON
	e.getJSON(t, "/v1/contacts/"+ana.ID, bobToken, &c)
	if c.Phone != "+15551230001" || c.Name != "Ana Souza" || string(c.Fields["city"]) != `"Porto Alegre"` ||
		len(c.Conversations) != 1 || c.Conversations[0].ID != cv.ID || c.Conversations[0].ChannelID != "acme-wa2" ||
		c.Conversations[0].Status != "assigned" {
		t.Errorf("GET as admin = %+v", c)
	}
	e.getJSON(t, "/v1/contacts/"+ana.ID, aliceToken, &c)
	if c.Phone != "+1555•••0001" || c.WaID != "1555•••0001" {
		t.Errorf("GET as operator: phone %q wa_id %q, want masked", c.Phone, c.WaID)
	}
	// Another tenant's contact, an unknown one and an ill-formed id are all not found; no data leaks. (Contact ids
	// derive from the phone: globex's contact of Ana's number has Ana's id, and is globex's own.)
	wantError(t, "other tenant's id", e.do(t, http.MethodGet, "/v1/contacts/"+bob.ID, daveToken, ""), 404, contact.CodeNotFound)
	wantError(t, "globex id from acme", e.do(t, http.MethodGet, "/v1/contacts/"+conversation.ContactID("15559999999"), bobToken, ""), 404, contact.CodeNotFound)
	wantError(t, "ill-formed id", e.do(t, http.MethodGet, "/v1/contacts/nobody", bobToken, ""), 404, contact.CodeNotFound)
	var g contactJSON
	e.getJSON(t, "/v1/contacts/"+globexAna.ID, daveToken, &g)
	if g.Name != "Globex Ana" {
		t.Errorf("globex's contact of the same phone = %+v", g)
	}

	list := func(query, token string) []string {
		t.Helper()
		var p contactPage
		e.getJSON(t, "/v1/contacts?"+query, token, &p)
		var names []string
		for _, c := range p.Contacts {
			names = append(names, c.Name)
			if token == aliceToken && !strings.Contains(c.Phone, "•••") {
				t.Errorf("list as operator shows %q", c.Phone)
			}
		}
		slices.Sort(names)
		return names
	}
	for q, want := range map[string][]string{
		"":                                  {"Ana Souza", "Bob Souza", "Cleo"},
		"q=souza":                           {"Ana Souza", "Bob Souza"},
		"q=" + url.QueryEscape("porto al"):  {"Ana Souza"},
		"q=" + url.QueryEscape("+1 555 12"): {"Ana Souza", "Bob Souza"},
		"q=0003":                            {"Cleo"},
		"blocked=true":                      {"Cleo"},
		"blocked=false":                     {"Ana Souza", "Bob Souza"},
		"q=souza&blocked=true":              nil,
		"q=x":                               nil,
	} {
		if got := list(q, bobToken); !slices.Equal(got, want) {
			t.Errorf("GET /v1/contacts?%s = %v, want %v", q, got, want)
		}
	}
	if got := list("", aliceToken); len(got) != 3 {
		t.Errorf("list as operator = %v", got)
	}
	if got := list("", daveToken); !slices.Equal(got, []string{"Globex Ana"}) {
		t.Errorf("globex's list = %v", got)
	}
	// Pages by id.
	var seen []string
	cursor := ""
	for range 5 {
		var p contactPage
		e.getJSON(t, "/v1/contacts?limit=1&cursor="+cursor, bobToken, &p)
		for _, c := range p.Contacts {
			seen = append(seen, c.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 3 || !slices.IsSorted(seen) {
		t.Errorf("pages of one: %v", seen)
	}
	wantError(t, "bad cursor", e.do(t, http.MethodGet, "/v1/contacts?cursor=zz", bobToken, ""), 400, "invalid_cursor")
	wantError(t, "bad blocked", e.do(t, http.MethodGet, "/v1/contacts?blocked=maybe", bobToken, ""), 400, "invalid_filter")
	wantError(t, "bad limit", e.do(t, http.MethodGet, "/v1/contacts?limit=0", bobToken, ""), 400, "invalid_limit")

	var fields struct {
		Fields []contact.Field `json:"fields"`
	}
	e.getJSON(t, "/v1/contacts/fields", aliceToken, &fields)
	if len(fields.Fields) != 4 || fields.Fields[1].Key != "plan" || !slices.Equal(fields.Fields[1].Choices, []string{"basic", "premium"}) ||
		fields.Fields[2].Label != "birthday" {
		t.Errorf("fields = %+v", fields.Fields)
	}
}

func TestContactChanges(t *testing.T) {
	e := contactsEnv(t)
	ana := person("15551230001", "Ana", nil)
	e.putContacts(t, "acme", ana)
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		switch cmd.Type {
		case "contact_delete":
			return outcome.Result{Body: struct{}{}}, true
		case "contact_block":
			c := ana
			c.Blocked = true
			return outcome.Result{Body: c}, true
		}
		return outcome.Result{Body: ana}, true
	})
	r := e.do(t, http.MethodPatch, "/v1/contacts/"+ana.ID, aliceToken, `{"name":"Ana Maria","fields":{"city":null,"vip":true}}`)
	if r.status != http.StatusOK {
		t.Fatalf("PATCH = %s", r)
	}
	if cmd := e.lastCommand(t); cmd.Type != "contact_update" || cmd.ContactID != ana.ID || *cmd.Contact.Name != "Ana Maria" ||
		string(cmd.Contact.Fields["city"]) != "null" {
		t.Errorf("PATCH command %+v", cmd)
	}
	wantError(t, "PATCH unknown field", e.do(t, http.MethodPatch, "/v1/contacts/"+ana.ID, aliceToken, `{"fields":{"shoe":"42"}}`), 400, contact.CodeUnknownField)
	r = e.do(t, http.MethodPost, "/v1/contacts/"+ana.ID+"/block", aliceToken, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"blocked":true`) {
		t.Errorf("block = %s", r)
	}
	if cmd := e.lastCommand(t); cmd.Type != "contact_block" || cmd.ContactID != ana.ID {
		t.Errorf("block command %+v", cmd)
	}
	if r := e.do(t, http.MethodPost, "/v1/contacts/"+ana.ID+"/unblock", aliceToken, ""); r.status != http.StatusOK {
		t.Errorf("unblock = %s", r)
	}
	wantError(t, "block ill-formed id", e.do(t, http.MethodPost, "/v1/contacts/x/block", aliceToken, ""), 404, contact.CodeNotFound)
	// Delete is an admin's.
	n := len(e.prod.records())
	wantError(t, "delete as operator", e.do(t, http.MethodDelete, "/v1/contacts/"+ana.ID, aliceToken, ""), 403, conversation.CodeForbidden)
	wantError(t, "delete as builder", e.do(t, http.MethodDelete, "/v1/contacts/"+ana.ID, carolToken, ""), 403, conversation.CodeForbidden)
	if len(e.prod.changes()) != n {
		t.Error("a forbidden delete produced a record")
	}
	if r := e.do(t, http.MethodDelete, "/v1/contacts/"+ana.ID, bobToken, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), `"deleted":true`) {
		t.Errorf("delete as admin = %s", r)
	}
	if cmd := e.lastCommand(t); cmd.Type != "contact_delete" || cmd.ContactID != ana.ID {
		t.Errorf("delete command %+v", cmd)
	}
	// The catalogue's refusals map to their statuses.
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Code: contact.CodeNotFound, Message: "no contact"}, true
	})
	wantError(t, "update of another tenant's id", e.do(t, http.MethodPatch, "/v1/contacts/"+ana.ID, daveToken, `{"name":"x"}`), 404, contact.CodeNotFound)
}

// A masked operator cannot learn hidden digits by searching: a number's digits match as a prefix, so each query
// of one more digit would reveal one. Terms of more than four digits are refused; four or fewer match whole tokens
// only (the last four, which the mask shows), since a short number shows fewer than four of its first digits. An
// admin searches by the whole number.
func TestMaskedSearchIsNoOracle(t *testing.T) {
	e := contactsEnv(t)
	ana := person("4930123456", "Ana", nil) // masked "+493•••3456": its fourth digit is hidden
	e.putContacts(t, "acme", ana)
	cv := conv("acme", conversation.ID("acme-wa", ana.WaID), conversation.Unassigned, "")
	cv.Contact = conversation.Contact{ID: ana.ID, WaID: ana.WaID, Name: "Ana"}
	e.putConvs(t, cv)
	if MaskPhone := "+493•••3456"; !strings.Contains(string(e.do(t, http.MethodGet, "/v1/contacts/"+ana.ID, aliceToken, "").body), MaskPhone) {
		t.Fatalf("the contact is not masked as %s: the test assumes it", MaskPhone)
	}
	found := func(path, token string) bool {
		t.Helper()
		r := e.do(t, http.MethodGet, path, token, "")
		if r.status != 200 {
			t.Fatalf("GET %s = %s", path, r)
		}
		return strings.Contains(string(r.body), ana.ID) || strings.Contains(string(r.body), cv.ID)
	}
	for _, base := range []string{"/v1/contacts?q=", "/v1/search?q="} {
		for _, q := range []string{"4930123456", "49301", "+49 301", "ana 4930123"} {
			wantError(t, "masked search "+q, e.do(t, http.MethodGet, base+url.QueryEscape(q), aliceToken, ""), 400, "invalid_query")
			if !found(base+url.QueryEscape(q), bobToken) {
				t.Errorf("admin's search %s%s finds nothing", base, q)
			}
		}
		// The hidden fourth digit: "4930" matches as a prefix for an admin, and not at all for the operator.
		for _, q := range []string{"4930", "+49 30", "ana 4930"} {
			if found(base+url.QueryEscape(q), aliceToken) {
				t.Errorf("masked search %s%s finds the contact: it reveals a hidden digit", base, q)
			}
		}
		if !found(base+"4930", bobToken) {
			t.Errorf("admin's search %s4930 finds nothing", base)
		}
		for _, q := range []string{"3456", "ana 3456", "3456 an", "ana"} {
			if !found(base+url.QueryEscape(q), aliceToken) {
				t.Errorf("masked search %s%s finds nothing: the last four and names still work", base, q)
			}
		}
	}
	r := e.do(t, http.MethodGet, "/v1/contacts?q=49301", aliceToken, "")
	if !strings.Contains(string(r.body), "search by the last four digits or a name") {
		t.Errorf("the refusal does not say what to do: %s", r)
	}
}

// A masked operator trying to change a contact's number is refused without being told the number (the rule's
// message names only the number given), and a refusal that names a number reaches them masked.
func TestMaskedRefusalHidesNumber(t *testing.T) {
	e := contactsEnv(t)
	ana := person("15551230001", "Ana", nil)
	e.putContacts(t, "acme", ana)
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		// The catalogue's rule, as the router applies it.
		_, o := contact.Upsert(&ana, ana.ID, cmd.Contact, contact.Schema{}, contact.Change{Mode: contact.Update, At: at})
		return outcome.Result{Code: o.Code, Message: o.Reason}, true
	})
	for _, tok := range []string{aliceToken, bobToken} {
		r := e.do(t, http.MethodPatch, "/v1/contacts/"+ana.ID, tok, `{"phone":"+15559990000"}`)
		wantError(t, "PATCH phone", r, 400, contact.CodeInvalidPhone)
		if strings.Contains(string(r.body), "1230001") || strings.Contains(string(r.body), "15551230") {
			t.Errorf("PATCH phone refused with the contact's number: %s", r)
		}
	}
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Code: contact.CodeInvalidPhone, Message: "+15551230001 says no"}, true
	})
	r := e.do(t, http.MethodPatch, "/v1/contacts/"+ana.ID, aliceToken, `{"name":"x"}`)
	if !strings.Contains(string(r.body), "+1555•••0001 says no") {
		t.Errorf("a refusal naming a number, to a masked operator: %s", r)
	}
	r = e.do(t, http.MethodPatch, "/v1/contacts/"+ana.ID, bobToken, `{"name":"x"}`)
	if !strings.Contains(string(r.body), "+15551230001 says no") {
		t.Errorf("a refusal naming a number, to an admin: %s", r)
	}
}

// Operators of a tenant that hides phone numbers see them masked in conversations too: GET one, the lists, search.
func TestMaskedConversations(t *testing.T) {
	e := contactsEnv(t)
	cv := conv("acme", conversation.ID("acme-wa", "15551230001"), conversation.Unassigned, "")
	cv.Contact = conversation.Contact{ID: conversation.ContactID("15551230001"), WaID: "15551230001", Name: "Ana"}
	e.putConvs(t, cv)
	for _, path := range []string{"/v1/conversations/" + cv.ID, "/v1/conversations", "/v1/search?q=ana", "/v1/search?q=0001"} {
		r := e.do(t, http.MethodGet, path, aliceToken, "")
		if r.status != 200 || strings.Contains(string(r.body), "15551230001") || !strings.Contains(string(r.body), "1555•••0001") {
			t.Errorf("GET %s as operator = %s, want the number masked", path, r)
		}
		r = e.do(t, http.MethodGet, path, bobToken, "")
		if r.status != 200 || !strings.Contains(string(r.body), "15551230001") {
			t.Errorf("GET %s as admin = %s, want the number", path, r)
		}
	}
	// A command's answer too.
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return outcome.Result{Body: cv}, true })
	r := e.do(t, http.MethodPost, "/v1/conversations/"+cv.ID+"/take", aliceToken, "")
	if r.status != 200 || strings.Contains(string(r.body), "15551230001") {
		t.Errorf("take as operator = %s, want the number masked", r)
	}
}
