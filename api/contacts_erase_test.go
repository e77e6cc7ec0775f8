package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestContactErase: only an admin erases; another tenant's or an unknown contact is 404 and produces nothing; an
// erase is one record of the catalogue's contact_erase and one erase per channel of the tenant, each with its own
// request id, and it answers with how many conversations existed once every outcome arrived; a refusal among the
// outcomes is the answer.
func TestContactErase(t *testing.T) {
	e := contactsEnv(t)
	ana := person("15551230001", "Ana", nil)
	e.putContacts(t, "acme", ana)
	c1 := conversation.ID("acme-wa", ana.WaID)
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		if cmd.Type == "erase" {
			return outcome.Result{Body: conversation.EraseOutcome{ConversationID: cmd.ConversationID,
				Existed: cmd.ConversationID == c1, Erased: cmd.ConversationID == c1}}, true
		}
		return outcome.Result{Body: struct{}{}}, true
	})
	path := "/v1/contacts/" + ana.ID + "/erase"
	wantError(t, "erase as operator", e.do(t, http.MethodPost, path, aliceToken, ""), 403, conversation.CodeForbidden)
	wantError(t, "erase as builder", e.do(t, http.MethodPost, path, carolToken, ""), 403, conversation.CodeForbidden)
	wantError(t, "erase of another tenant's contact", e.do(t, http.MethodPost, path, daveToken, ""), 404, contact.CodeNotFound)
	wantError(t, "erase of an unknown contact", e.do(t, http.MethodPost, "/v1/contacts/"+conversation.ContactID("1999")+"/erase", bobToken, ""), 404, contact.CodeNotFound)
	wantError(t, "erase of an ill-formed id", e.do(t, http.MethodPost, "/v1/contacts/x/erase", bobToken, ""), 404, contact.CodeNotFound)
	if n := len(e.prod.changes()); n != 0 {
		t.Fatalf("refused erases produced %d records", n)
	}

	r := e.do(t, http.MethodPost, path, bobToken, "")
	var got struct {
		Erased        bool `json:"erased"`
		Conversations int  `json:"conversations"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || !got.Erased || got.Conversations != 1 {
		t.Fatalf("erase = %s, want erased with 1 conversation", r)
	}
	recs := e.prod.changes()
	if len(recs) != 1 || recs[0].Tenant != "acme" || len(recs[0].Items) != 3 {
		t.Fatalf("erase produced %+v, want one acme record of 3 items", recs)
	}
	var ids []string
	want := []struct{ typ, channel, conv string }{
		{"contact_erase", "", ""}, {"erase", "acme-wa", c1}, {"erase", "acme-wa2", conversation.ID("acme-wa2", ana.WaID)},
	}
	for i, it := range recs[0].Items {
		cmd := it.Command
		if it.Kind != inbox.KindCommand || cmd.Type != want[i].typ || it.Channel != want[i].channel ||
			cmd.ConversationID != want[i].conv || cmd.OperatorID != "bob" || cmd.RequestID == "" ||
			(cmd.Type == "contact_erase" && cmd.ContactID != ana.ID) {
			t.Errorf("item %d = %+v %+v, want %+v", i, it, cmd, want[i])
		}
		ids = append(ids, cmd.RequestID)
	}
	if slices.Sort(ids); len(slices.Compact(ids)) != 3 {
		t.Errorf("request ids %v are not distinct", ids)
	}
	if _, err := inbox.Decode(mustEncode(t, recs[0])); err != nil {
		t.Errorf("the record does not decode: %v", err)
	}

	// A refusal among the outcomes is the answer.
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		if cmd.Type == "erase" && cmd.ConversationID == c1 {
			return outcome.Result{Code: outcome.CodeInternal, Message: "internal error"}, true
		}
		return outcome.Result{Body: conversation.EraseOutcome{}}, true
	})
	wantError(t, "erase with a failed conversation", e.do(t, http.MethodPost, path, bobToken, ""), 500, outcome.CodeInternal)
}

// TestContactEraseTimeout: an outcome that never comes is 503 outcome_unknown, not a success.
func TestContactEraseTimeout(t *testing.T) {
	e := start(t, options{tenants: "testdata/contacts_tenants.yaml", commandTimeout: 200 * time.Millisecond})
	ana := person("15551230001", "Ana", nil)
	e.putContacts(t, "acme", ana)
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) { return outcome.Result{}, cmd.Type != "erase" })
	r := e.do(t, http.MethodPost, "/v1/contacts/"+ana.ID+"/erase", bobToken, "")
	wantError(t, "erase without outcomes", r, 503, "outcome_unknown")
}

func mustEncode(t *testing.T, r inbox.Record) []byte {
	t.Helper()
	b, err := r.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
