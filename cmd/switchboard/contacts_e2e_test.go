package main_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// contactsConfigY: acme hides phone numbers from its operators (olga) and has contact fields; beta is another
// tenant.
const (
	olgaToken       = "olga-token-00000000001"
	contactsConfigY = `tenants:
  - id: acme
    settings:
      hide_phone_numbers: true
      contact_fields:
        - {key: city, label: City, type: text}
        - {key: plan, label: Plan, type: choice, choices: [basic, premium]}
` + acmeChannelY + `    operators:
      - {id: alice, name: Alice, role: admin, capacity: 5, token: "` + aliceToken + `"}
      - {id: olga, name: Olga, role: operator, capacity: 5, token: "` + olgaToken + `"}
` + betaTenantY + `      - {id: carol, role: admin, token: "` + betaToken + `"}
`
)

type e2eContact struct {
	ID            string                     `json:"id"`
	Phone         string                     `json:"phone"`
	WaID          string                     `json:"wa_id"`
	Name          string                     `json:"name"`
	Fields        map[string]json.RawMessage `json:"fields"`
	Blocked       bool                       `json:"blocked"`
	Conversations []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"conversations"`
}

// contact reads one contact; a status other than 200 returns an empty one.
func (n *node) contact(token, id string) (int, e2eContact) {
	n.t.Helper()
	return getJSON[e2eContact](n, "/v1/contacts/"+id, token)
}

// searchContacts lists the names of the contacts GET /v1/contacts?query finds.
func (n *node) searchContacts(token, query string) []string {
	n.t.Helper()
	p := mustGetJSON[struct {
		Contacts []e2eContact `json:"contacts"`
	}](n, "/v1/contacts?"+query, token)
	var names []string
	for _, c := range p.Contacts {
		names = append(names, c.Name)
	}
	return names
}

// TestContactsEndToEnd runs the contacts of a real node: created by the API and by customers' messages, found,
// changed, masked for an operator of a tenant that hides numbers, blocked (their messages stored but not routed,
// replies refused), unblocked and deleted — and never visible to another tenant.
func TestContactsEndToEnd(t *testing.T) {
	n := newNodeConfig(t, contactsConfigY)
	n.start()
	n.mustCall("PUT", "/v1/operators/me/availability", aliceToken, map[string]string{"availability": "online"}, 200)
	ts := time.Now().Add(-time.Minute).Unix()
	write := func(from, id, text string) {
		t.Helper()
		n.deliver(acmePhone, acmeSecret, textMsg(from, id, text, ts))
	}

	// Created by the API.
	b := n.mustCall("POST", "/v1/contacts", aliceToken, map[string]any{"phone": "+1 555 123 0001", "name": "Ana Souza",
		"fields": map[string]any{"city": "Porto Alegre", "plan": "basic"}}, 201)
	var ana e2eContact
	if err := json.Unmarshal(b, &ana); err != nil {
		t.Fatal(err)
	}
	if ana.ID != conversation.ContactID("15551230001") || ana.Phone != "+15551230001" {
		t.Fatalf("created %s", b)
	}
	n.refused("POST", "/v1/contacts", aliceToken, map[string]any{"phone": "+15551230001"}, 409, "contact_exists")
	n.refused("POST", "/v1/contacts", aliceToken, map[string]any{"phone": "555"}, 400, "invalid_phone")
	n.refused("POST", "/v1/contacts", aliceToken, map[string]any{"phone": "+15551230009", "fields": map[string]any{"plan": "gold"}}, 400, "invalid_field")
	n.refused("POST", "/v1/contacts", aliceToken, map[string]any{"phone": "+15551230009", "fields": map[string]any{"shoe": "42"}}, 400, "unknown_field")
	n.mustCall("PATCH", "/v1/contacts/"+ana.ID, olgaToken, map[string]any{"fields": map[string]any{"plan": "premium"}}, 200)
	if _, c := n.contact(aliceToken, ana.ID); string(c.Fields["plan"]) != `"premium"` || string(c.Fields["city"]) != `"Porto Alegre"` {
		t.Errorf("after PATCH: %+v", c)
	}

	// Created by a customer's message, named by their WhatsApp profile name; the conversation carries the contact's
	// id (per phone).
	write("15551230002", "wamid.c-1", "hello")
	bob := conversation.ContactID("15551230002")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, c := n.contact(aliceToken, bob)
		return code == 200 && c.Name == "Customer 15551230002" && len(c.Conversations) == 1
	}, "a contact made from a customer's message")
	if _, cv := n.conversation(aliceToken, conversation.ID("acme-wa", "15551230002")); cv.Contact.ID != bob {
		t.Errorf("conversation's contact id %q, want %q", cv.Contact.ID, bob)
	}

	// Search by name, phone and field.
	for q, want := range map[string]string{"souza": "Ana Souza", "customer": "Customer 15551230002",
		"+1 555 123 0002": "Customer 15551230002", "0001": "Ana Souza", "porto al": "Ana Souza", "premium": "Ana Souza"} {
		if got := n.searchContacts(aliceToken, "q="+url.QueryEscape(q)); strings.Join(got, ",") != want {
			t.Errorf("search %q = %v, want %s", q, got, want)
		}
	}

	// Masked for the operator of a tenant that hides numbers: contacts, conversations, search.
	if _, c := n.contact(olgaToken, ana.ID); c.Phone != "+1555•••0001" || c.WaID != "1555•••0001" {
		t.Errorf("operator sees %q %q, want masked", c.Phone, c.WaID)
	}
	for _, path := range []string{"/v1/conversations/" + conversation.ID("acme-wa", "15551230002"), "/v1/conversations",
		"/v1/contacts?q=customer", "/v1/search?q=customer"} {
		// (The profile name the test customers have holds their number: only the number fields must be masked.)
		code, b := n.get(path, olgaToken)
		if code != 200 || strings.Contains(string(b), `"wa_id":"15551230002"`) || strings.Contains(string(b), `"+15551230002"`) ||
			!strings.Contains(string(b), `"wa_id":"1555•••0002"`) {
			t.Errorf("GET %s as operator = %d %s, want the number masked", path, code, b)
		}
	}
	if code, b := n.get("/v1/contacts/"+bob, aliceToken); code != 200 || !strings.Contains(string(b), `"+15551230002"`) {
		t.Errorf("admin sees %d %s, want the number", code, b)
	}

	// Another tenant: not found, nothing listed.
	n.refused("GET", "/v1/contacts/"+ana.ID, betaToken, nil, 404, "contact_not_found")
	n.refused("PATCH", "/v1/contacts/"+ana.ID, betaToken, map[string]any{"name": "x"}, 404, "contact_not_found")
	n.refused("POST", "/v1/contacts/"+ana.ID+"/block", betaToken, nil, 404, "contact_not_found")
	if got := n.searchContacts(betaToken, ""); len(got) != 0 {
		t.Errorf("beta lists %v", got)
	}

	// Blocked: Bob's messages are stored but not routed; a reply to him is refused.
	bobConv := conversation.ID("acme-wa", "15551230002")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		_, cv := n.conversation(aliceToken, bobConv)
		return cv.Status == conversation.Assigned
	}, "bob's conversation assigned to alice, who is online")
	n.mustCall("POST", "/v1/conversations/"+bobConv+"/close", aliceToken, nil, 200)
	b = n.mustCall("POST", "/v1/contacts/"+bob+"/block", olgaToken, nil, 200)
	if !strings.Contains(string(b), `"blocked":true`) {
		t.Errorf("block answered %s", b)
	}
	write("15551230002", "wamid.c-2", "let me in")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		_, cv := n.conversation(aliceToken, bobConv)
		return len(cv.Messages) == 2
	}, "the blocked contact's message stored")
	// A customer who is not blocked writes after him: once that one is routed, Bob's message would have been too.
	write("15551230003", "wamid.c-3", "hi")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		_, cv := n.conversation(aliceToken, conversation.ID("acme-wa", "15551230003"))
		return cv.Status == conversation.Assigned
	}, "the next customer routed")
	_, cv := n.conversation(aliceToken, bobConv)
	if cv.Status != conversation.Closed || cv.AssigneeID != "" {
		t.Errorf("blocked contact's conversation is %s (assignee %q), want closed and not routed", cv.Status, cv.AssigneeID)
	}
	if len(cv.Messages) != 2 || cv.Messages[1].Text != "let me in" {
		t.Errorf("blocked contact's messages %+v", cv.Messages)
	}
	// A blocked contact who never wrote: the first message makes a closed conversation nobody is offered.
	b = n.mustCall("POST", "/v1/contacts", aliceToken, map[string]any{"phone": "+15551230004", "name": "Dan"}, 201)
	dan := conversation.ContactID("15551230004")
	n.mustCall("POST", "/v1/contacts/"+dan+"/block", aliceToken, nil, 200)
	write("15551230004", "wamid.c-4", "first")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, cv := n.conversation(aliceToken, conversation.ID("acme-wa", "15551230004"))
		return code == 200 && len(cv.Messages) == 1
	}, "a blocked newcomer's message stored")
	if _, cv := n.conversation(aliceToken, conversation.ID("acme-wa", "15551230004")); cv.Status != conversation.Closed {
		t.Errorf("blocked newcomer's conversation is %s, want closed", cv.Status)
	}
	if got := n.searchContacts(aliceToken, "blocked=true"); strings.Join(got, ",") != "Customer 15551230002,Dan" &&
		strings.Join(got, ",") != "Dan,Customer 15551230002" {
		t.Errorf("blocked contacts %v", got)
	}
	// Replies to a blocked contact are refused; the conversation must be open to try, so reopen it.
	n.mustCall("POST", "/v1/conversations/"+bobConv+"/reopen", aliceToken, nil, 200)
	n.refused("POST", "/v1/conversations/"+bobConv+"/messages", aliceToken, map[string]any{"type": "text", "text": "hi"}, 409, "contact_blocked")

	// Unblocked: replies go again, and the next message is routed as usual.
	n.mustCall("POST", "/v1/contacts/"+bob+"/unblock", aliceToken, nil, 200)
	n.mustCall("POST", "/v1/conversations/"+bobConv+"/messages", aliceToken, map[string]any{"type": "text", "text": "welcome back"}, 201)

	// Delete is an admin's; then the contact is gone, its conversations stay.
	n.refused("DELETE", "/v1/contacts/"+ana.ID, olgaToken, nil, 403, "forbidden")
	n.mustCall("DELETE", "/v1/contacts/"+ana.ID, aliceToken, nil, 200)
	n.refused("GET", "/v1/contacts/"+ana.ID, aliceToken, nil, 404, "contact_not_found")
	n.refused("DELETE", "/v1/contacts/"+ana.ID, aliceToken, nil, 404, "contact_not_found")

	// A restart rebuilds the blocked set from the store: Dan stays blocked.
	n.stop()
	n.start()
	write("15551230004", "wamid.c-5", "again")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		_, cv := n.conversation(aliceToken, conversation.ID("acme-wa", "15551230004"))
		return len(cv.Messages) == 2
	}, "the blocked newcomer's second message stored")
	if _, cv := n.conversation(aliceToken, conversation.ID("acme-wa", "15551230004")); cv.Status != conversation.Closed {
		t.Errorf("after restart, the blocked contact's conversation is %s", cv.Status)
	}
	n.refused("POST", "/v1/conversations/"+conversation.ID("acme-wa", "15551230004")+"/messages", aliceToken,
		map[string]any{"type": "text", "text": "hi"}, 409, "contact_blocked")
}
