package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// A start body that is wrong in any way is refused before anything is produced: an unknown or another tenant's
// channel (404), a number that is not E.164, several or no addresses, no message or two.
func TestStartValidation(t *testing.T) {
	e := start(t, options{})
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return outcome.Result{Body: "ok"}, true })
	tpl := `"template":{"name":"welcome","language":"en"}`
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"channel_id":"globex-wa","wa_id":"15551234567",` + tpl + `}`, 404, "channel_not_found"},
		{`{"channel_id":"nope","wa_id":"15551234567",` + tpl + `}`, 404, "channel_not_found"},
		{`{"wa_id":"15551234567",` + tpl + `}`, 404, "channel_not_found"},
		{`{"channel_id":"acme-wa",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","wa_id":"15551234567","phone":"+15551234567",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","wa_id":"+15551234567",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","wa_id":"05551234567",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","wa_id":"123456",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","wa_id":"1234567890123456",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","phone":"15551234567",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","phone":"+1 555 CALL NOW",` + tpl + `}`, 400, "invalid_phone"},
		{`{"channel_id":"acme-wa","phone":"+15551234567"}`, 400, "invalid_message"},
		{`{"channel_id":"acme-wa","phone":"+15551234567","text":"hi",` + tpl + `}`, 400, "invalid_message"},
		{`{"channel_id":"acme-wa","phone":"+15551234567","template":{"name":"welcome"}}`, 400, "invalid_message"},
		{`{"channel_id":"acme-wa","phone":"+15551234567","template":"welcome"}`, 400, "invalid_message"},
		{`{"channel_id":"acme-wa","phone":"+15551234567",` + tpl + `,"priority":1}`, 400, "invalid_json"},
		{`not json`, 400, "invalid_json"},
	} {
		wantError(t, tc.body, e.do(t, http.MethodPost, "/v1/conversations", aliceToken, tc.body), tc.status, tc.code)
	}
	if recs := e.prod.records(); len(recs) != 0 {
		t.Errorf("invalid starts produced %d records, first %+v", len(recs), recs[0])
	}
}

// A valid start is one start command on the channel's item, naming the customer's conversation, with the template
// and a fresh message id; the router's outcome comes back 201 as {"conversation","message"}, and its refusals with
// their statuses (capacity and takeover 409, the window 422).
func TestStartCommand(t *testing.T) {
	e := start(t, options{})
	var answer outcome.Result
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return answer, true })
	wa := "15551234567"
	id := conversation.ID("acme-wa", wa)
	c := conv("acme", id, conversation.Assigned, "alice")
	c.Labels = nil
	m := conversation.Message{ConversationID: id, Seq: 1, ID: "sb.x", Direction: conversation.DirOut, Type: "template",
		Status: conversation.Pending}
	answer = outcome.Result{Body: &conversation.Started{Conversation: c, Message: m}}
	r := e.do(t, http.MethodPost, "/v1/conversations", aliceToken,
		`{"channel_id":"acme-wa","phone":"+1 (555) 123-4567","template":{"name":"welcome","language":"en","params":["Ann"]}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("start = %s, want 201", r)
	}
	var got struct {
		Conversation struct {
			ID     string   `json:"id"`
			Labels []string `json:"labels"`
		} `json:"conversation"`
		Message struct {
			Seq  uint64 `json:"seq"`
			Type string `json:"type"`
		} `json:"message"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Conversation.ID != id || got.Conversation.Labels == nil || got.Message.Seq != 1 || got.Message.Type != "template" {
		t.Errorf("start answered %s", r.body)
	}
	recs := e.prod.records()
	if len(recs) != 1 || len(recs[0].Items) != 1 {
		t.Fatalf("produced %+v, want one record of one item", recs)
	}
	rec := recs[0]
	it := rec.Items[0]
	cmd := it.Command
	if rec.Tenant != "acme" || it.Kind != inbox.KindCommand || it.Channel != "acme-wa" || cmd.Type != "start" ||
		cmd.WaID != wa || cmd.ConversationID != id || cmd.OperatorID != "alice" || len(cmd.MessageID) < 4 ||
		cmd.Message == nil || cmd.Message.Type != "template" || cmd.Message.Template.Name != "welcome" ||
		len(cmd.Message.Template.Params) != 1 {
		t.Errorf("produced item %+v, command %+v", it, cmd)
	}
	// What the router decodes is what was produced.
	b, err := rec.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inbox.Decode(b); err != nil {
		t.Errorf("the router would refuse the record: %v", err)
	}

	for _, tc := range []struct {
		code   string
		status int
	}{
		{"at_capacity", 409}, {"operator_not_online", 409}, {"already_assigned", 409}, {"window_closed", 422},
	} {
		answer = outcome.Result{Code: tc.code, Message: "refused"}
		wantError(t, tc.code, e.do(t, http.MethodPost, "/v1/conversations", aliceToken,
			`{"channel_id":"acme-wa","wa_id":"15551234567","text":"hi"}`), tc.status, tc.code)
	}
}

// GET /v1/channels lists the caller's tenant's channels, and nothing secret of them.
func TestListChannels(t *testing.T) {
	e := start(t, options{})
	r := e.do(t, http.MethodGet, "/v1/channels", aliceToken, "")
	if r.status != 200 || string(r.body) != `{"channels":[{"id":"acme-wa","type":"whatsapp"},{"id":"acme-tpl","type":"whatsapp"}]}` {
		t.Errorf("GET /v1/channels = %s", r)
	}
	if r := e.do(t, http.MethodGet, "/v1/channels", daveToken, ""); !strings.Contains(string(r.body), "globex-wa") || strings.Contains(string(r.body), "acme") {
		t.Errorf("globex's channels = %s", r)
	}
}

// A start's template goes through the send path's catalogue check: not in the catalogue 400, not approved 422,
// wrong parameter count 400, before anything is produced; an approved one is produced.
func TestStartTemplateCheck(t *testing.T) {
	e := start(t, options{})
	putTemplates(t, e)
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return outcome.Result{Body: "ok"}, true })
	body := func(tpl string) string {
		return `{"channel_id":"acme-tpl","wa_id":"15551234567","template":` + tpl + `}`
	}
	for _, tc := range []struct {
		tpl    string
		status int
		code   string
	}{
		{`{"name":"nope","language":"en_US"}`, 400, "template_not_found"},
		{`{"name":"paused_one","language":"en_US"}`, 422, "template_not_approved"},
		{`{"name":"order_update","language":"en_US","params":["Ann"]}`, 400, "invalid_template_params"},
		// A dynamic URL button without its parameter, and a location header out of range.
		{`{"name":"pickup","language":"en_US","params":["R-1"],"header":{"type":"location","location":{"latitude":1,"longitude":2,"name":"a","address":"b"}}}`, 400, "invalid_template_params"},
		{`{"name":"pickup","language":"en_US","params":["R-1"],"header":{"type":"location","location":{"latitude":1,"longitude":200,"name":"a","address":"b"}},"buttons":[{"sub_type":"url","index":0,"params":["R-1"]}]}`, 400, "invalid_template_params"},
	} {
		wantError(t, tc.tpl, e.do(t, http.MethodPost, "/v1/conversations", aliceToken, body(tc.tpl)), tc.status, tc.code)
	}
	if n := len(e.prod.records()); n != 0 {
		t.Fatalf("refused templates produced %d records", n)
	}
	if r := e.do(t, http.MethodPost, "/v1/conversations", aliceToken, body(`{"name":"order_update","language":"en_US","params":["Ann","5521"]}`)); r.status != 201 {
		t.Errorf("approved template = %s", r)
	}
	if r := e.do(t, http.MethodPost, "/v1/conversations", aliceToken, body(`{"name":"pickup","language":"en_US","params":["R-1"],`+
		`"header":{"type":"location","location":{"latitude":1,"longitude":2,"name":"a","address":"b"}},"buttons":[{"sub_type":"url","index":0,"params":["R-1"]}]}`)); r.status != 201 {
		t.Errorf("pickup with its location and URL suffix = %s", r)
	}
}

// A start by contact_id writes to that contact's number; another tenant's contact is not found. An operator of a
// tenant that hides numbers gets the answer masked.
func TestStartByContact(t *testing.T) {
	e := contactsEnv(t)
	ana := person("34600111222", "Ana", nil)
	e.putContacts(t, "acme", ana)
	e.putContacts(t, "globex", person("34600999888", "Gina", nil))
	wa := ana.WaID
	id := conversation.ID("acme-wa2", wa)
	e.prod.set(nil, func(c inbox.Command) (outcome.Result, bool) {
		cv := conv("acme", id, conversation.Assigned, "alice")
		cv.Contact = conversation.Contact{ID: ana.ID, WaID: wa, Name: "Ana"}
		return outcome.Result{Body: &conversation.Started{Conversation: cv, Message: conversation.Message{Seq: 1, Type: "template"}}}, true
	})
	tpl := `"template":{"name":"welcome","language":"en"}`
	r := e.do(t, http.MethodPost, "/v1/conversations", aliceToken, `{"channel_id":"acme-wa2","contact_id":"`+ana.ID+`",`+tpl+`}`)
	if r.status != 201 || !strings.Contains(string(r.body), `"wa_id":"3460•••1222"`) || strings.Contains(string(r.body), wa) {
		t.Errorf("start by contact as a masked operator = %s", r)
	}
	recs := e.prod.records()
	if len(recs) != 1 || recs[0].Items[0].Command.WaID != wa || recs[0].Items[0].Command.ConversationID != id ||
		recs[0].Items[0].Command.Contact == nil || *recs[0].Items[0].Command.Contact.Name != "Ana" {
		t.Fatalf("produced %+v", recs)
	}
	if r := e.do(t, http.MethodPost, "/v1/conversations", bobToken, `{"channel_id":"acme-wa2","contact_id":"`+ana.ID+`",`+tpl+`}`); !strings.Contains(string(r.body), `"wa_id":"`+wa+`"`) {
		t.Errorf("an admin sees the number: %s", r)
	}
	for _, cid := range []string{conversation.ContactID("34600999888"), "nope"} {
		wantError(t, "contact "+cid, e.do(t, http.MethodPost, "/v1/conversations", aliceToken,
			`{"channel_id":"acme-wa","contact_id":"`+cid+`",`+tpl+`}`), 404, "contact_not_found")
	}
}
