package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// TestStartConversation: the tenant writes first, from the binary's API down to the simulator. A start by phone
// number creates the conversation assigned to the caller with the template queued and sent; free-form text to a
// customer whose window is closed is refused and creates nothing; the customer's reply lands in the same
// conversation and opens the window; another operator may not take it by starting it; capacity bounds starts as it
// bounds takes; bad numbers and unknown channels are refused.
func TestStartConversation(t *testing.T) {
	n, s := startConsoleNode(t)
	const wa = "447700900123"
	id := conversation.ID("acme-wa", wa)
	tpl := map[string]any{"name": "order_update", "language": "en_US", "params": []string{"Ann", "5521"}}
	b := n.mustCall("POST", "/v1/conversations", conAlice,
		map[string]any{"channel_id": "acme-wa", "phone": "+44 7700 900123", "template": tpl}, 201)
	var started struct {
		Conversation conversation.Conversation `json:"conversation"`
		Message      conversation.Message      `json:"message"`
	}
	if err := json.Unmarshal(b, &started); err != nil {
		t.Fatal(err)
	}
	if c := started.Conversation; c.ID != id || c.Status != conversation.Assigned || c.AssigneeID != "alice" || c.Contact.WaID != wa ||
		started.Message.Type != "template" || started.Message.Seq != 1 || started.Message.Direction != conversation.DirOut {
		t.Fatalf("start answered %s", b)
	}
	simReceived(t, s, wa, "the template", `"type":"template"`, "order_update")

	// Text to a customer who never wrote: the window is closed; nothing is created.
	n.refused("POST", "/v1/conversations", conAlice, map[string]any{"channel_id": "acme-wa", "wa_id": "4915112345678", "text": "Hi"},
		422, "window_closed")
	if code, _ := n.conversation(conAlice, conversation.ID("acme-wa", "4915112345678")); code != 404 {
		t.Errorf("a refused start created a conversation: GET %d", code)
	}

	// The customer answers: the same conversation, still Alice's, the window open.
	customerWrites(t, n, named(wa, "Ann Baker", "wamid.ann1", "Thanks! When does it ship?", time.Now()))
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(conAlice, id)
		return v.Conversation.Messages >= 2
	}, "the reply stored")
	_, v := n.conversation(conAlice, id)
	if v.AssigneeID != "alice" || v.Contact.Name != "Ann Baker" || !v.WindowExpiresAt.After(time.Now()) {
		t.Fatalf("after the reply: assignee %q name %q window %v", v.AssigneeID, v.Contact.Name, v.WindowExpiresAt)
	}
	n.mustCall("POST", "/v1/conversations", conAlice, map[string]any{"channel_id": "acme-wa", "wa_id": wa, "text": "Tomorrow!"}, 201)

	// Bob, an operator, may not take Alice's conversation by starting it.
	n.refused("POST", "/v1/conversations", conBob, map[string]any{"channel_id": "acme-wa", "wa_id": wa, "template": tpl}, 409, "already_assigned")

	// Capacity: Bob may hold one; his second start is refused and creates nothing.
	n.mustCall("PATCH", "/v1/operators/bob", conAlice, map[string]any{"capacity": 1}, 200)
	n.mustCall("POST", "/v1/conversations", conBob, map[string]any{"channel_id": "acme-wa", "wa_id": "33612345678", "template": tpl}, 201)
	n.refused("POST", "/v1/conversations", conBob, map[string]any{"channel_id": "acme-wa", "wa_id": "34600111222", "template": tpl}, 409, "at_capacity")
	if code, _ := n.conversation(conAlice, conversation.ID("acme-wa", "34600111222")); code != 404 {
		t.Errorf("a start refused for capacity created a conversation: GET %d", code)
	}

	// A blocked contact: refused, and nothing created; by contact_id, the same.
	b = n.mustCall("POST", "/v1/contacts", conAlice, map[string]any{"phone": "+34 600 111 222", "name": "Blocked Bea"}, 201)
	var bea struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &bea); err != nil {
		t.Fatal(err)
	}
	n.mustCall("POST", "/v1/contacts/"+bea.ID+"/block", conAlice, nil, 200)
	n.refused("POST", "/v1/conversations", conAlice, map[string]any{"channel_id": "acme-wa", "phone": "+34600111222", "template": tpl}, 409, "contact_blocked")
	n.refused("POST", "/v1/conversations", conAlice, map[string]any{"channel_id": "acme-wa", "contact_id": bea.ID, "template": tpl}, 409, "contact_blocked")
	if code, _ := n.conversation(conAlice, conversation.ID("acme-wa", "34600111222")); code != 404 {
		t.Errorf("a start to a blocked contact created a conversation: GET %d", code)
	}
	n.mustCall("POST", "/v1/contacts/"+bea.ID+"/unblock", conAlice, nil, 200)
	b = n.mustCall("POST", "/v1/conversations", conAlice, map[string]any{"channel_id": "acme-wa", "contact_id": bea.ID, "template": tpl}, 201)
	if !strings.Contains(string(b), `"name":"Blocked Bea"`) {
		t.Errorf("a start by contact is not named after the contact: %s", b)
	}

	n.refused("POST", "/v1/conversations", conAlice, map[string]any{"channel_id": "other-wa", "wa_id": wa, "template": tpl}, 404, "channel_not_found")
	n.refused("POST", "/v1/conversations", conAlice, map[string]any{"channel_id": "acme-wa", "phone": "0044 7700", "template": tpl}, 400, "invalid_phone")
}

// TestCannedResponses: an admin creates a canned response through the binary; an operator may not, but lists,
// searches and renders it into a conversation with the customer's name and their own; an edit and a delete follow.
func TestCannedResponses(t *testing.T) {
	n, _ := startConsoleNode(t)
	const wa = "5215512345678"
	id := conversation.ID("acme-wa", wa)
	customerWrites(t, n, named(wa, "María López", "wamid.m1", "Hola! Where is my order?", time.Now()))
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, _ := n.conversation(conAlice, id)
		return code == 200
	}, "the conversation stored")

	n.refused("POST", "/v1/canned-responses", conBob, map[string]any{"title": "Hi", "text": "Hello"}, 403, "forbidden")
	b := n.mustCall("POST", "/v1/canned-responses", conAlice, map[string]any{"title": "Order delayed", "category": "Shipping",
		"text": "Hi {{contact.name}}, this is {{operator.name}}. Your order ships tomorrow to {{contact.fields.city}}."}, 201)
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &created); err != nil || created.ID == "" {
		t.Fatalf("create answered %s", b)
	}
	code, b := n.get("/v1/canned-responses?q=order&category=shipping", conBob)
	if code != 200 || !strings.Contains(string(b), created.ID) {
		t.Fatalf("operator's list: %d %s", code, b)
	}
	b = n.mustCall("POST", "/v1/canned-responses/"+created.ID+"/render", conBob, map[string]any{"conversation_id": id}, 200)
	var r struct {
		Text    string   `json:"text"`
		Missing []string `json:"missing"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if want := "Hi María López, this is Bob Okafor. Your order ships tomorrow to {{contact.fields.city}}."; r.Text != want ||
		len(r.Missing) != 1 || r.Missing[0] != "contact.fields.city" {
		t.Errorf("rendered %+v, want %q and city missing", r, want)
	}
	n.mustCall("PATCH", "/v1/canned-responses/"+created.ID, conAlice, map[string]any{"title": "Order late"}, 200)
	if _, b := n.get("/v1/canned-responses", conBob); !strings.Contains(string(b), `"title":"Order late"`) || !strings.Contains(string(b), `"category":"Shipping"`) {
		t.Errorf("after the edit: %s", b)
	}
	n.mustCall("DELETE", "/v1/canned-responses/"+created.ID, conAlice, nil, 200)
	if _, b := n.get("/v1/canned-responses", conBob); strings.Contains(string(b), created.ID) {
		t.Errorf("listed after delete: %s", b)
	}
	n.refused("POST", "/v1/canned-responses/"+created.ID+"/render", conBob, map[string]any{"conversation_id": id}, 404, "canned_not_found")
}
