package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// An admin adds a channel, sees it with the webhook URL to give Meta and its secrets only as set, and removes it:
// the directory no longer has it, GET lists it no more, and a reply on one of its conversations is refused naming
// it, with nothing produced. Another tenant's channel is 404 and stays.
func TestRemoveChannel(t *testing.T) {
	e := startTeam(t)
	r := e.do(t, "POST", "/v1/channels", bobToken,
		`{"id":"acme-wa-2","phone_number_id":"100200777","app_secret":"app-secret-2","verify_token":"verify-2","access_token":"access-2"}`)
	if r.status != 201 {
		t.Fatalf("add = %s", r)
	}
	var ch struct {
		ID             string `json:"id"`
		WebhookURL     string `json:"webhook_url"`
		HasAppSecret   bool   `json:"has_app_secret"`
		HasAccessToken bool   `json:"has_access_token"`
		Removed        bool   `json:"removed"`
	}
	decodeBody(t, r, &ch)
	if ch.ID != "acme-wa-2" || ch.WebhookURL != e.url+"/webhooks/whatsapp" || !ch.HasAppSecret || !ch.HasAccessToken {
		t.Errorf("added %s", r.body)
	}
	list := e.do(t, "GET", "/v1/channels", bobToken, "")
	if !strings.Contains(string(list.body), `"acme-wa-2"`) || strings.Contains(string(list.body), "app-secret-2") ||
		strings.Contains(string(list.body), "access-2") || strings.Contains(string(list.body), "verify-2") {
		t.Fatalf("GET /v1/channels = %s", list)
	}

	// Another tenant's channel, an unknown one, a body, a non-admin: refused, nothing removed.
	wantError(t, "globex's channel", e.do(t, "DELETE", "/v1/channels/globex-wa", bobToken, ""), 404, "channel_not_found")
	wantError(t, "unknown channel", e.do(t, "DELETE", "/v1/channels/nope", bobToken, ""), 404, "channel_not_found")
	wantError(t, "a body", e.do(t, "DELETE", "/v1/channels/acme-wa-2", bobToken, `{"disabled":true}`), 400, "invalid_json")
	wantError(t, "an operator", e.do(t, "DELETE", "/v1/channels/acme-wa-2", aliceToken, ""), 403, "forbidden")
	wantError(t, "a builder", e.do(t, "DELETE", "/v1/channels/acme-wa-2", carolToken, ""), 403, "forbidden")
	wantError(t, "removal by PATCH", e.do(t, "PATCH", "/v1/channels/acme-wa-2", bobToken, `{"delete":true}`), 400, "invalid_setting")
	if _, ok := e.dir.ChannelByPhone("100200777"); !ok {
		t.Fatal("a refused removal removed the channel")
	}
	if g, _ := e.dir.Tenant("globex"); len(g.Channels) != 1 {
		t.Fatalf("globex's channels %+v", g.Channels)
	}

	r = e.do(t, "DELETE", "/v1/channels/acme-wa-2", bobToken, "")
	if r.status != 200 || string(r.body) != `{"id":"acme-wa-2","removed":true}` {
		t.Fatalf("remove = %s", r)
	}
	if _, ok := e.dir.ChannelByPhone("100200777"); ok {
		t.Fatal("the directory still has the removed number")
	}
	if list := e.do(t, "GET", "/v1/channels", bobToken, ""); strings.Contains(string(list.body), "acme-wa-2") {
		t.Errorf("GET /v1/channels after removal = %s", list)
	}
	wantError(t, "removed twice", e.do(t, "DELETE", "/v1/channels/acme-wa-2", bobToken, ""), 404, "channel_not_found")
	wantError(t, "changing a removed channel", e.do(t, "PATCH", "/v1/channels/acme-wa-2", bobToken, `{"disabled":true}`),
		404, "channel_not_found")

	// Its conversation stays readable; a reply on it is refused naming the channel, and nothing is produced.
	c := conv("acme", conversation.ID("acme-wa-2", "15550001111"), conversation.Assigned, "bob")
	c.ChannelID = "acme-wa-2"
	e.putConvs(t, c)
	if r := e.do(t, "GET", "/v1/conversations/"+c.ID, bobToken, ""); r.status != 200 {
		t.Errorf("the removed channel's conversation = %s", r)
	}
	before := len(e.prod.records())
	r = e.do(t, "POST", "/v1/conversations/"+c.ID+"/messages", bobToken, `{"type":"text","text":"hello?"}`)
	wantError(t, "a reply on the removed channel", r, 409, "channel_removed")
	if !strings.Contains(string(r.body), "channel acme-wa-2 was removed") {
		t.Errorf("the refusal does not name the channel: %s", r.body)
	}
	if n := len(e.prod.records()); n != before {
		t.Errorf("the refused reply produced %d records", n-before)
	}
	// Its conversations are still found by channel.
	if r := e.do(t, "GET", "/v1/conversations?channel=acme-wa-2", bobToken, ""); r.status != 200 || !strings.Contains(string(r.body), c.ID) {
		t.Errorf("listing the removed channel's conversations = %s", r)
	}
	// Every config_set produced was bob's: the add and the removal.
	var sets []string
	for _, rec := range e.prod.records() {
		if cmd := rec.Items[0].Command; cmd != nil && cmd.Type == inbox.CmdConfigSet {
			var v struct {
				Channel struct {
					ID     string `json:"id"`
					Delete bool   `json:"delete"`
				} `json:"channel"`
			}
			_ = json.Unmarshal(cmd.Config, &v)
			sets = append(sets, cmd.OperatorID+":"+v.Channel.ID+":"+map[bool]string{true: "delete", false: "set"}[v.Channel.Delete])
		}
	}
	if strings.Join(sets, ",") != "bob:acme-wa-2:set,bob:acme-wa-2:delete" {
		t.Errorf("config_set commands: %v", sets)
	}
}

// A channel the rule refuses is answered 400 naming the field alone (a form shows it beside that field), and nothing
// is produced.
func TestChannelBadInputNamesTheField(t *testing.T) {
	e := startTeam(t)
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", "/v1/channels", `{"id":"acme-wa-3","phone_number_id":"555","verify_token":"v"}`, "app_secret: "},
		{"POST", "/v1/channels", `{"id":"acme-wa-3","phone_number_id":"555","app_secret":"s"}`, "verify_token: "},
		{"POST", "/v1/channels", `{"id":"acme-wa-3","app_secret":"s","verify_token":"v"}`, "phone_number_id: "},
		{"POST", "/v1/channels", `{"id":"Bad Id","phone_number_id":"555","app_secret":"s","verify_token":"v"}`, "id: "},
		{"POST", "/v1/channels", `{"id":"acme-wa-3","phone_number_id":"555","app_secret":"s","verify_token":"v","rate_limit":5000}`, "rate_limit: "},
		{"PATCH", "/v1/channels/acme-wa", `{"app_secret":""}`, "app_secret: "},
		{"PATCH", "/v1/channels/acme-wa", `{"waba_id":"abc"}`, "waba_id: "},
		{"PATCH", "/v1/channels/acme-wa", `{"name":"` + strings.Repeat("x", 65) + `"}`, "name: "},
		{"PATCH", "/v1/channels/acme-wa", `{"name":"two\nlines"}`, "name: "},
	} {
		r := e.do(t, tc.method, tc.path, bobToken, tc.body)
		wantError(t, tc.body, r, 400, "invalid_setting")
		var v struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.Unmarshal(r.body, &v)
		if !strings.HasPrefix(v.Error.Message, tc.field) {
			t.Errorf("%s %s: message %q, want it to start with %q", tc.method, tc.body, v.Error.Message, tc.field)
		}
	}
	if n := len(e.prod.records()); n != 0 {
		t.Errorf("bad input produced %d records", n)
	}
}
