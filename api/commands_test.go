package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

func intp(n int) *int { return &n }

// Invalid commands are refused before anything is produced.
func TestCommandValidation(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Assigned, "alice"), conv("globex", "c00000000000000g1", conversation.Unassigned, ""))
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return outcome.Result{Body: "ok"}, true })
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `{"operator_id":`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `not json`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, ``, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `{"operator":"bob"}`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `{"operator_id":"bob","why":"x"}`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `{"operator_id":7}`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `{}`, 400, "invalid_operator"},
		{"POST", "/v1/conversations/c0000000000000001/transfer", aliceToken, `{"operator_id":""}`, 400, "invalid_operator"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `{"operator_id":"zed"}`, 404, "operator_not_found"},
		{"POST", "/v1/conversations/c0000000000000001/assign", aliceToken, `{"operator_id":"dave"}`, 404, "operator_not_found"},
		{"POST", "/v1/conversations/c0000000000000001/snooze", aliceToken, `{"until":"tomorrow"}`, 400, "invalid_until"},
		{"POST", "/v1/conversations/c0000000000000001/snooze", aliceToken, `{"until":"2025-10-10 09:00"}`, 400, "invalid_until"},
		{"POST", "/v1/conversations/c0000000000000001/snooze", aliceToken, `{"until":"2025-10-10T09:00:00"}`, 400, "invalid_until"},
		{"POST", "/v1/conversations/c0000000000000001/snooze", aliceToken, `{"until":1760000000}`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/labels", aliceToken, `{"add":"vip"}`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/labels", aliceToken, `{"add":["vip"],"drop":["x"]}`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"text"}`, 400, "invalid_message"},
		{"POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"text","text":""}`, 400, "invalid_message"},
		{"POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"text":"hi"}`, 400, "invalid_message"},
		{"POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"audio","text":"hi"}`, 400, "invalid_message"},
		{"POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"template"}`, 400, "invalid_message"},
		{"POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"template","template":{"name":"hello"}}`, 400, "invalid_message"},
		{"POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"text","text":"hi","body":"x"}`, 400, "invalid_json"},
		{"POST", "/v1/conversations/c0000000000000001/notes", aliceToken, `{}`, 400, "invalid_note"},
		{"POST", "/v1/conversations/c0000000000000001/notes", aliceToken, `{"note":"hi"}`, 400, "invalid_json"},
		{"PUT", "/v1/operators/me/availability", aliceToken, `{"availability":"busy"}`, 400, "invalid_availability"},
		{"PUT", "/v1/operators/me/availability", aliceToken, `{"availability":"Online"}`, 400, "invalid_availability"},
		{"PUT", "/v1/operators/me/availability", aliceToken, `{}`, 400, "invalid_availability"},
		{"PUT", "/v1/operators/me/availability", aliceToken, `{"available":"online"}`, 400, "invalid_json"},
		{"PATCH", "/v1/operators/alice", aliceToken, `{"capacity":9}`, 403, "forbidden"},
		{"PATCH", "/v1/operators/bob", aliceToken, `{"capacity":9}`, 403, "forbidden"},
		{"PATCH", "/v1/operators/alice", carolToken, `{"capacity":9}`, 403, "forbidden"},
		{"PATCH", "/v1/operators/zed", bobToken, `{"capacity":9}`, 404, "operator_not_found"},
		{"PATCH", "/v1/operators/dave", bobToken, `{"capacity":9}`, 404, "operator_not_found"},
		{"PATCH", "/v1/operators/alice", bobToken, `{"capacity":-1}`, 400, "invalid_setting"},
		{"PATCH", "/v1/operators/alice", bobToken, `{"capacity":0}`, 400, "invalid_setting"},
		{"PATCH", "/v1/operators/alice", bobToken, `{"capacity":10001}`, 400, "invalid_setting"},
		{"PATCH", "/v1/operators/alice", bobToken, `{"role":"root"}`, 400, "invalid_setting"},
		{"PATCH", "/v1/operators/bob", bobToken, `{"role":"operator"}`, 409, "last_admin"},
		{"PATCH", "/v1/settings", bobToken, `{"routing":"round-robin"}`, 400, "invalid_setting"},
		{"PATCH", "/v1/settings", bobToken, `{"window_warning":"25h"}`, 400, "invalid_setting"},
		{"PATCH", "/v1/settings", bobToken, `{"auto_close_after":"soon"}`, 400, "invalid_json"},
		{"PATCH", "/v1/settings", aliceToken, `{"routing":"manual"}`, 403, "forbidden"},
		{"GET", "/v1/settings", aliceToken, ``, 403, "forbidden"},
		{"POST", "/v1/channels", aliceToken, `{"id":"x","phone_number_id":"1","app_secret":"s","verify_token":"v"}`, 403, "forbidden"},
		{"POST", "/v1/channels", bobToken, `{"id":"x","phone_number_id":"1","verify_token":"v"}`, 400, "invalid_setting"},
		{"PATCH", "/v1/channels/nope", bobToken, `{"disabled":true}`, 404, "channel_not_found"},
		{"PATCH", "/v1/channels/acme-wa", bobToken, `{"app_secret":""}`, 400, "invalid_setting"},
		{"PATCH", "/v1/operators/alice", bobToken, `{"team":"x"}`, 400, "invalid_json"},
		{"PATCH", "/v1/operators/alice", bobToken, `{"capacity":"9"}`, 400, "invalid_json"},
	} {
		wantError(t, tc.method+" "+tc.path+" "+tc.body, e.do(t, tc.method, tc.path, tc.token, tc.body), tc.status, tc.code)
	}
	// Nothing but the audit log's record of each refused change (403 on a non-GET: README "Audit log").
	audits := 0
	for _, r := range e.prod.records() {
		if c := r.Items[0].Command; c == nil || c.Type != inbox.CmdAudit || c.Audit == nil || c.Audit.Action != "access.denied" {
			t.Errorf("an invalid command produced %+v", r)
			continue
		}
		audits++
	}
	if audits != 5 {
		t.Errorf("the refused changes produced %d audit commands, want 5", audits)
	}
}

// A valid command for a conversation that does not exist, or is another tenant's, is not looked up before it is
// produced: it goes to the caller's tenant, whose conversation actor answers conversation_not_found without creating
// anything (the router's e2e tests check that side), and the API answers that with 404.
func TestCommandForMissingConversation(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("globex", "c00000000000000g1", conversation.Unassigned, ""))
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Code: conversation.CodeNotFound, Message: "conversation does not exist"}, true
	})
	for _, tc := range []struct{ path, body, conv string }{
		{"/v1/conversations/" + missing + "/close", ``, missing},
		{"/v1/conversations/c00000000000000g1/take", ``, "c00000000000000g1"},
		{"/v1/conversations/" + missing + "/notes", `{"text":"hi"}`, missing},
	} {
		before := len(e.prod.records())
		wantError(t, "POST "+tc.path, e.do(t, "POST", tc.path, aliceToken, tc.body), http.StatusNotFound, "conversation_not_found")
		recs := e.prod.records()[before:]
		if len(recs) != 1 || recs[0].Tenant != "acme" || recs[0].Items[0].Command.ConversationID != tc.conv {
			t.Errorf("POST %s produced %+v, want one command of acme for %s", tc.path, recs, tc.conv)
		}
	}
}

// missing has conversation.ID's format but names no stored conversation.
var missing = conversation.ID("acme-wa", "15559999999")

// An id conversation.ID cannot have returned names no conversation: a command for it is answered 404
// conversation_not_found at the edge, before anything is produced, so random ids cannot make the router start actors
// (review P1-1). Reads of such ids are answered the same way, without a read.
func TestMalformedConversationID(t *testing.T) {
	e := start(t, options{})
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) {
		t.Error("a command for a malformed id reached the producer")
		return outcome.Result{}, true
	})
	long := "c" + strings.Repeat("0", 3000) // under fasthttp's 4 KiB header buffer
	for _, id := range []string{"nope", "c01", strings.ToUpper(missing), missing + "0", missing[:16], "k" + missing[1:],
		missing[:5] + "w" + missing[6:], long, "%20" + missing} {
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/conversations/" + id + "/close", ``},
			{"POST", "/v1/conversations/" + id + "/notes", `{"text":"hi"}`},
			{"POST", "/v1/conversations/" + id + "/assign", `{"operator_id":"bob"}`},
			{"GET", "/v1/conversations/" + id, ``},
			{"GET", "/v1/conversations/" + id + "/messages", ``},
		} {
			r := e.do(t, req.method, req.path, bobToken, req.body)
			wantError(t, req.method+" "+req.path[:min(len(req.path), 60)], r, http.StatusNotFound, "conversation_not_found")
			if len(r.body) > 300 {
				t.Errorf("%s: a %d-byte answer echoes the id whole", req.method, len(r.body))
			}
		}
	}
	if recs := e.prod.records(); len(recs) != 0 {
		t.Errorf("commands for malformed ids produced %d records", len(recs))
	}
}

// A valid command is produced as one command record of the caller's tenant, stamped with the API's clock, and
// answered with its outcome.
func TestCommandsProducedAndAnswered(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Assigned, "alice"))
	// The outcome is published for the request id the command carries: a 2xx answer proves the API waited on the
	// id it produced.
	var result outcome.Result
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return result, true })
	snoozeUntil := time.Date(2025, 10, 10, 7, 0, 0, 0, time.UTC)
	body := map[string]any{"id": "c0000000000000001", "status": "assigned"}
	for _, tc := range []struct {
		name, method, path, token, body string
		want                            inbox.Command // RequestID and MessageID are checked apart
		wantMessageID                   bool
		status                          int
	}{
		{"take", "POST", "/v1/conversations/c0000000000000001/take", carolToken, ``,
			inbox.Command{Type: "take", OperatorID: "carol", ConversationID: "c0000000000000001"}, false, 200},
		{"attend is take", "POST", "/v1/conversations/c0000000000000001/attend", aliceToken, ``,
			inbox.Command{Type: "take", OperatorID: "alice", ConversationID: "c0000000000000001"}, false, 200},
		{"unassign", "POST", "/v1/conversations/c0000000000000001/unassign", aliceToken, ``,
			inbox.Command{Type: "unassign", OperatorID: "alice", ConversationID: "c0000000000000001"}, false, 200},
		{"close", "POST", "/v1/conversations/c0000000000000001/close", aliceToken, ``,
			inbox.Command{Type: "close", OperatorID: "alice", ConversationID: "c0000000000000001"}, false, 200},
		{"reopen", "POST", "/v1/conversations/c0000000000000001/reopen", aliceToken, ``,
			inbox.Command{Type: "reopen", OperatorID: "alice", ConversationID: "c0000000000000001"}, false, 200},
		{"unsnooze", "POST", "/v1/conversations/c0000000000000001/unsnooze", aliceToken, ``,
			inbox.Command{Type: "unsnooze", OperatorID: "alice", ConversationID: "c0000000000000001"}, false, 200},
		{"assign", "POST", "/v1/conversations/c0000000000000001/assign", bobToken, `{"operator_id":"carol"}`,
			inbox.Command{Type: "assign", OperatorID: "bob", ConversationID: "c0000000000000001", TargetID: "carol"}, false, 200},
		{"transfer", "POST", "/v1/conversations/c0000000000000001/transfer", aliceToken, `{"operator_id":"bob"}`,
			inbox.Command{Type: "transfer", OperatorID: "alice", ConversationID: "c0000000000000001", TargetID: "bob"}, false, 200},
		{"snooze until", "POST", "/v1/conversations/c0000000000000001/snooze", aliceToken, `{"until":"2025-10-10T09:00:00+02:00"}`,
			inbox.Command{Type: "snooze", OperatorID: "alice", ConversationID: "c0000000000000001", Until: snoozeUntil.UnixMilli()}, false, 200},
		{"snooze until the customer writes", "POST", "/v1/conversations/c0000000000000001/snooze", aliceToken, ``,
			inbox.Command{Type: "snooze", OperatorID: "alice", ConversationID: "c0000000000000001"}, false, 200},
		{"labels", "POST", "/v1/conversations/c0000000000000001/labels", aliceToken, `{"add":["vip","es"],"remove":["new"]}`,
			inbox.Command{Type: "labels", OperatorID: "alice", ConversationID: "c0000000000000001", AddLabels: []string{"vip", "es"}, RemoveLabels: []string{"new"}}, false, 200},
		{"text message", "POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"text","text":"Hola 👋"}`,
			inbox.Command{Type: "send", OperatorID: "alice", ConversationID: "c0000000000000001", Message: &inbox.Outbound{Type: "text", Text: "Hola 👋"}}, true, 201},
		{"template message", "POST", "/v1/conversations/c0000000000000001/messages", aliceToken,
			`{"type":"template","template":{"name":"order_update","language":"es","params":["42"]}}`,
			inbox.Command{Type: "send", OperatorID: "alice", ConversationID: "c0000000000000001", Message: &inbox.Outbound{Type: "template",
				Template: &inbox.Template{Name: "order_update", Language: "es", Params: []string{"42"}}}}, true, 201},
		{"image message", "POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"image","image":{"id":"m1","caption":"receipt"}}`,
			inbox.Command{Type: "send", OperatorID: "alice", ConversationID: "c0000000000000001", Message: &inbox.Outbound{Type: "image",
				Content: json.RawMessage(`{"id":"m1","caption":"receipt"}`)}}, true, 201},
		{"reaction", "POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"reaction","reaction":{"message_id":"wamid.1","emoji":"👍"}}`,
			inbox.Command{Type: "send", OperatorID: "alice", ConversationID: "c0000000000000001", Message: &inbox.Outbound{Type: "reaction",
				Content: json.RawMessage(`{"message_id":"wamid.1","emoji":"👍"}`)}}, true, 201},
		{"text as Meta's object", "POST", "/v1/conversations/c0000000000000001/messages", aliceToken, `{"type":"text","text":{"body":"hi"}}`,
			inbox.Command{Type: "send", OperatorID: "alice", ConversationID: "c0000000000000001", Message: &inbox.Outbound{Type: "text", Text: "hi"}}, true, 201},
		{"note", "POST", "/v1/conversations/c0000000000000001/notes", aliceToken, `{"text":"ask @bob about billing"}`,
			inbox.Command{Type: "note", OperatorID: "alice", ConversationID: "c0000000000000001", Note: "ask @bob about billing"}, true, 201},
		{"availability", "PUT", "/v1/operators/me/availability", carolToken, `{"availability":"away"}`,
			inbox.Command{Type: "availability", OperatorID: "carol", TargetID: "carol", Availability: "away"}, false, 200},
		{"update operator", "PATCH", "/v1/operators/alice", bobToken, `{"capacity":1,"role":"builder","skills":["es"]}`,
			inbox.Command{Type: "config_set", OperatorID: "bob",
				Config: json.RawMessage(`{"operator":{"id":"alice","role":"builder","capacity":1,"skills":["es"]}}`)}, false, 200},
		{"settings", "PATCH", "/v1/settings", bobToken, `{"routing":"manual"}`,
			inbox.Command{Type: "config_set", OperatorID: "bob", Config: json.RawMessage(`{"settings":{"routing":"manual"}}`)}, false, 200},
	} {
		result = outcome.Result{Body: body}
		before := len(e.prod.records())
		r := e.do(t, tc.method, tc.path, tc.token, tc.body)
		if r.status != tc.status {
			t.Errorf("%s: %s, want %d", tc.name, r, tc.status)
			continue
		}
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil || !reflect.DeepEqual(got, body) {
			t.Errorf("%s: body %s (%v), want the outcome's body %v", tc.name, r.body, err, body)
		}
		recs := e.prod.records()[before:]
		if len(recs) != 1 {
			t.Fatalf("%s: %d records produced, want 1", tc.name, len(recs))
		}
		rec := recs[0]
		wantTenant := "acme"
		if rec.Tenant != wantTenant || rec.IngestAt != now.UnixMilli() || len(rec.Items) != 1 || rec.Items[0].Kind != inbox.KindCommand {
			t.Fatalf("%s: record %+v, want one command item of %s at %d", tc.name, rec, wantTenant, now.UnixMilli())
		}
		// What the router reads is the wire form.
		wire, err := rec.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := inbox.Decode(wire)
		if err != nil {
			t.Fatalf("%s: the router would refuse the record: %v", tc.name, err)
		}
		cmd := *dec.Items[0].Command
		if len(cmd.RequestID) < 16 {
			t.Errorf("%s: request id %q", tc.name, cmd.RequestID)
		}
		if tc.wantMessageID != strings.HasPrefix(cmd.MessageID, "sb.") || (!tc.wantMessageID && cmd.MessageID != "") ||
			(tc.wantMessageID && len(cmd.MessageID) <= len("sb.")) {
			t.Errorf("%s: message id %q", tc.name, cmd.MessageID)
		}
		cmd.RequestID, cmd.MessageID = "", ""
		if !reflect.DeepEqual(cmd, tc.want) {
			t.Errorf("%s: command\n %+v\nwant\n %+v", tc.name, cmd, tc.want)
		}
	}
	// Every call has its own request id and every message its own id.
	seen := map[string]bool{}
	for _, rec := range e.prod.records() {
		c := rec.Items[0].Command
		for _, id := range []string{c.RequestID, c.MessageID} {
			if id != "" && seen[id] {
				t.Errorf("id %s used twice", id)
			}
			seen[id] = true
		}
	}
	if n := e.outcomes.Waiting(); n != 0 {
		t.Errorf("%d calls still registered as waiting", n)
	}
}

// The outcome's status, code and body make the HTTP answer.
func TestCommandOutcomeMapping(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Closed, "alice"))
	for _, tc := range []struct {
		name, path, body string
		res              outcome.Result
		status           int
		code             string // error code; empty for a success body
	}{
		{"refused transition", "/v1/conversations/c0000000000000001/snooze", ``,
			outcome.Result{Code: "snooze_closed", Message: "a closed conversation cannot be snoozed"}, 409, "snooze_closed"},
		{"window closed", "/v1/conversations/c0000000000000001/messages", `{"type":"text","text":"hi"}`,
			outcome.Result{Code: "window_closed", Message: "outside the 24-hour window"}, 422, "window_closed"},
		{"role forbids", "/v1/conversations/c0000000000000001/take", ``,
			outcome.Result{Code: "forbidden", Message: "taken by another operator"}, 403, "forbidden"},
		{"gone", "/v1/conversations/c0000000000000001/close", ``,
			outcome.Result{Code: "conversation_not_found", Message: "gone"}, 404, "conversation_not_found"},
		{"message created", "/v1/conversations/c0000000000000001/messages", `{"type":"text","text":"hi"}`,
			outcome.Result{Body: map[string]any{"id": "sb.x", "status": "pending"}}, 201, ""},
		{"replayed", "/v1/conversations/c0000000000000001/close", ``,
			outcome.Result{Code: outcome.CodeReplayed, Message: "command already applied"}, 409, "replayed"},
		{"internal", "/v1/conversations/c0000000000000001/close", ``,
			outcome.Result{Code: outcome.CodeInternal, Message: "internal error"}, 500, "internal"},
		{"plain command", "/v1/conversations/c0000000000000001/reopen", ``,
			outcome.Result{Body: map[string]any{"status": "unassigned"}}, 200, ""},
	} {
		e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return tc.res, true })
		r := e.do(t, "POST", tc.path, aliceToken, tc.body)
		if tc.code != "" {
			wantError(t, tc.name, r, tc.status, tc.code)
			if !strings.Contains(string(r.body), tc.res.Message) {
				t.Errorf("%s: body %s lacks the outcome's message", tc.name, r.body)
			}
			continue
		}
		if r.status != tc.status {
			t.Errorf("%s: %s, want %d", tc.name, r, tc.status)
			continue
		}
		want, _ := json.Marshal(tc.res.Body)
		if string(r.body) != string(want) {
			t.Errorf("%s: body %s, want %s", tc.name, r.body, want)
		}
	}
}

// Kafka refusing the command is a 503 the client may retry; nobody is left waiting.
func TestCommandProducerError(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Unassigned, ""))
	e.prod.set(errKafkaDown, nil)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/conversations/c0000000000000001/take", ``},
		{"POST", "/v1/conversations/c0000000000000001/messages", `{"type":"text","text":"hi"}`},
		{"PUT", "/v1/operators/me/availability", `{"availability":"online"}`},
		{"PATCH", "/v1/operators/alice", `{"capacity":1}`},
	} {
		r := e.do(t, c.method, c.path, bobToken, c.body)
		wantError(t, c.method+" "+c.path, r, http.StatusServiceUnavailable, "unavailable")
		if ra := r.header.Get("Retry-After"); ra == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}
	if n := e.outcomes.Waiting(); n != 0 {
		t.Errorf("%d calls still registered after their 503", n)
	}
}

// A command queued whose outcome never comes is answered 503 outcome_unknown after CommandTimeout.
func TestCommandOutcomeTimeout(t *testing.T) {
	e := start(t, options{commandTimeout: 150 * time.Millisecond})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Unassigned, ""))
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return outcome.Result{}, false })
	r := e.do(t, "POST", "/v1/conversations/c0000000000000001/take", aliceToken, "")
	wantError(t, "take without an outcome", r, http.StatusServiceUnavailable, "outcome_unknown")
	if n := len(e.prod.records()); n != 1 {
		t.Errorf("%d records produced, want 1 (the command was queued)", n)
	}
	if n := e.outcomes.Waiting(); n != 0 {
		t.Errorf("%d calls still registered after the timeout", n)
	}
	// A late outcome finds nobody waiting and is dropped.
	e.outcomes.Publish(e.prod.records()[0].Items[0].Command.RequestID, outcome.Result{})
}

// A node without a producer answers reads and refuses commands with 503.
func TestReadOnlyNode(t *testing.T) {
	e := start(t, options{noProducer: true})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Unassigned, ""))
	var c struct{ conversation.Conversation }
	e.getJSON(t, "/v1/conversations/c0000000000000001", aliceToken, &c)
	wantError(t, "take on a read-only node", e.do(t, "POST", "/v1/conversations/c0000000000000001/take", aliceToken, ""),
		http.StatusServiceUnavailable, "unavailable")
}

// Every refusal code of the domain has its status in the API's one table, and a few the contract fixes keep theirs,
// as do the router's own outcomes (internal is the one code whose status is 500 on purpose).
func TestEveryCodeHasAStatus(t *testing.T) {
	for _, code := range slices.Concat(conversation.Codes(), operator.Codes(), canned.Codes(), contact.Codes()) {
		if st := api.StatusOf(code); st == http.StatusInternalServerError {
			t.Errorf("refusal code %s has no HTTP status", code)
		}
	}
	for code, want := range map[string]int{
		conversation.CodeSnoozeClosed: 409, conversation.CodeWindowClosed: 422, conversation.CodeForbidden: 403,
		conversation.CodeNotFound: 404, conversation.CodeInvalidMessage: 400, operator.CodeAtCapacity: 409,
		operator.CodeNotFound: 404, operator.CodeInvalidAvailability: 400, "unauthorized": 401, "unavailable": 503,
		outcome.CodeReplayed: 409, outcome.CodeInternal: 500,
		"no_such_code": 500,
	} {
		if got := api.StatusOf(code); got != want {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, want)
		}
	}
}

// An operator command's outcome (the operator's new state) is answered as the operator's view, with its name from
// the config and its load from the reader.
func TestOperatorCommandAnswersView(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("acme", "a1", conversation.Assigned, "carol"), conv("acme", "a2", conversation.Snoozed, "carol"))
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Body: operator.State{ID: "carol", Availability: routing.Away, Capacity: 7, Role: "builder"}}, true
	})
	r := e.do(t, "PUT", "/v1/operators/me/availability", carolToken, `{"availability":"away"}`)
	var got api.OperatorView
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("PUT availability = %s", r)
	}
	// The availability is the outcome's; the capacity the configuration's (the default), whatever the state says.
	want := api.OperatorView{ID: "carol", Name: "Carol", Role: "builder", Availability: "away", Capacity: 5, Skills: []string{}, Load: new(2)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("view %+v, want %+v", got, want)
	}
}
