package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// TestWebhooksBecomeConversations drives one node through real HTTP and the embedded broker over TCP: every message
// type, statuses, duplicates, every refusal of the contract, and multi-entry payloads.
func TestWebhooksBecomeConversations(t *testing.T) {
	n := newNode(t)
	n.start()
	ts := time.Now().Add(-time.Hour).Unix()

	// Every message type of docs/contract.md, from one customer, in one payload.
	types := []struct {
		typ, content, text string
	}{
		{"text", "", "hi there"},
		{"image", `{"id":"media-img","mime_type":"image/jpeg","sha256":"abc","caption":"my receipt"}`, "my receipt"},
		{"audio", `{"id":"media-aud","mime_type":"audio/ogg","voice":true}`, ""},
		{"video", `{"id":"media-vid","mime_type":"video/mp4","caption":"the box"}`, "the box"},
		{"document", `{"id":"media-doc","mime_type":"application/pdf","filename":"invoice.pdf","caption":"invoice"}`, "invoice"},
		{"sticker", `{"id":"media-stk","mime_type":"image/webp","animated":false}`, ""},
		{"location", `{"latitude":-33.92,"longitude":18.42,"name":"Shop","address":"1 Main Rd"}`, ""},
		{"contacts", `[{"name":{"formatted_name":"Bob"},"phones":[{"phone":"+27820000009","type":"CELL"}]}]`, ""},
		{"button", `{"payload":"YES","text":"Yes please"}`, "Yes please"},
		{"interactive", `{"type":"button_reply","button_reply":{"id":"b1","title":"Track order"}}`, "Track order"},
		{"reaction", `{"message_id":"wamid.t-text","emoji":"👍"}`, "👍"},
	}
	var msgs []meta.Message
	for i, ty := range types {
		m := meta.Message{From: "27820000001", ProfileName: "Maria", ID: "wamid.t-" + ty.typ, Timestamp: ts + int64(i), Type: ty.typ}
		if ty.typ == "text" {
			m.Text = ty.text
		} else {
			m.Content = json.RawMessage(ty.content)
		}
		msgs = append(msgs, m)
	}
	n.deliver(acmePhone, acmeSecret, msgs...)
	convID := conversation.ID("acme-wa", "27820000001")
	var v convView
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		code, got := n.conversation(aliceToken, convID)
		v = got
		return code == 200 && len(got.Messages) == len(types)
	}, "all message types stored")
	if v.Status != conversation.Unassigned || v.TenantID != "acme" || v.ChannelID != "acme-wa" {
		t.Errorf("conversation = %+v, want unassigned acme/acme-wa", v.Conversation)
	}
	if v.Contact.WaID != "27820000001" || v.Contact.Name != "Maria" {
		t.Errorf("contact = %+v", v.Contact)
	}
	last := time.Unix(ts+int64(len(types)-1), 0).UTC()
	if !v.LastInboundAt.Equal(last) || !v.WindowExpiresAt.Equal(last.Add(24*time.Hour)) {
		t.Errorf("last_inbound_at %v window_expires_at %v, want %v and +24h", v.LastInboundAt, v.WindowExpiresAt, last)
	}
	for i, ty := range types {
		m := v.Messages[i]
		if m.Type != ty.typ || m.ID != "wamid.t-"+ty.typ || m.Text != ty.text || m.Direction != conversation.DirIn {
			t.Errorf("message %d = type %q id %q text %q dir %q, want %q %q", i, m.Type, m.ID, m.Text, m.Direction, ty.typ, ty.text)
		}
		if ty.content != "" && !jsonEqual(t, m.Content, ty.content) {
			t.Errorf("message %d content = %s, want %s", i, m.Content, ty.content)
		}
	}
	if v.Messages[10].ReplyTo != "wamid.t-text" {
		t.Errorf("reaction reply_to = %q", v.Messages[10].ReplyTo)
	}

	// The same wamid posted again (Meta retries) is stored once.
	n.deliver(acmePhone, acmeSecret, msgs[:1]...)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_records_skipped_total", `reason="duplicate"`) >= 1
	}, "duplicate counted")
	if _, v2 := n.conversation(aliceToken, convID); len(v2.Messages) != len(types) {
		t.Fatalf("after duplicate: %d messages, want %d", len(v2.Messages), len(types))
	}

	// Status updates on a message whose send is not recorded yet are parked, furthest status first, and out of
	// order they never move back.
	st := func(s string, at int64) []byte {
		return meta.Payload(meta.Change{PhoneNumberID: acmePhone, Statuses: []meta.Status{{ID: "wamid.out-1", RecipientID: "27820000001", Status: s, Timestamp: at}}})
	}
	for _, s := range []string{"read", "delivered", "sent"} {
		if code := n.post(st(s, ts), acmeSecret); code != 200 {
			t.Fatalf("status %s: %d", s, code)
		}
	}
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_records_applied_total", `kind="status_parked"`) == 1 &&
			n.metric("switchboard_records_skipped_total", `reason="stale_status"`) == 2
	}, "statuses applied")

	// Refusals change nothing.
	before := n.metric("switchboard_records_fetched_total")
	good := meta.Payload(meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{textMsg("27820000002", "wamid.refused", "x", ts)}})
	cases := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"bad signature", good, "wrong-secret", http.StatusUnauthorized},
		{"missing signature", good, "", http.StatusUnauthorized},
		{"malformed json", []byte(`{"object":"whatsapp_business_account","entry":[`), acmeSecret, http.StatusBadRequest},
		{"oversized body", bytes.Repeat([]byte("x"), 1<<20+1), acmeSecret, http.StatusRequestEntityTooLarge},
		{"unknown phone_number_id", meta.Payload(meta.Change{PhoneNumberID: "999", Messages: []meta.Message{textMsg("27820000002", "wamid.refused2", "x", ts)}}), acmeSecret, http.StatusNotFound},
		{"signed by another tenant's secret", good, betaSecret, http.StatusUnauthorized},
	}
	for _, c := range cases {
		if got := n.post(c.body, c.sig); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
	if code, _ := n.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=42", ""); code != 403 {
		t.Errorf("GET with wrong verify token: %d, want 403", code)
	}
	if code, body := n.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token="+acmeVerify+"&hub.challenge=4242", ""); code != 200 || string(body) != "4242" {
		t.Errorf("GET verification: %d %q, want 200 4242", code, body)
	}

	// A payload with several entries for two tenants, one of them broken, is refused whole.
	mixed := meta.Payload(
		meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{textMsg("27820000003", "wamid.mixed-1", "a", ts)}},
		meta.Change{PhoneNumberID: "999", Messages: []meta.Message{textMsg("27820000004", "wamid.mixed-2", "b", ts)}},
	)
	if code := n.post(mixed, acmeSecret); code != http.StatusNotFound {
		t.Errorf("mixed payload with an unknown number: %d, want 404", code)
	}
	if got := n.metric("switchboard_records_fetched_total"); got != before {
		t.Errorf("refused webhooks reached Kafka: fetched %v → %v", before, got)
	}
	if code, _ := n.conversation(aliceToken, conversation.ID("acme-wa", "27820000003")); code != 404 {
		t.Errorf("conversation from a refused payload exists: %d", code)
	}

	// Several entries for two tenants, all valid, land in both (each tenant's part signed with the one app secret
	// Meta uses per app: here both channels share acme's secret would be wrong, so post per-tenant bodies signed
	// with their own secret, and one two-entry body for acme alone).
	two := meta.Payload(
		meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{textMsg("27820000005", "wamid.multi-1", "one", ts)}},
		meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{textMsg("27820000006", "wamid.multi-2", "two", ts)}},
	)
	if code := n.post(two, acmeSecret); code != 200 {
		t.Fatalf("two-entry payload: %d", code)
	}
	n.deliver(betaPhone, betaSecret, textMsg("27820000005", "wamid.beta-1", "hi beta", ts))
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		c1, _ := n.conversation(aliceToken, conversation.ID("acme-wa", "27820000005"))
		c2, _ := n.conversation(aliceToken, conversation.ID("acme-wa", "27820000006"))
		c3, _ := n.conversation(betaToken, conversation.ID("beta-wa", "27820000005"))
		return c1 == 200 && c2 == 200 && c3 == 200
	}, "multi-entry conversations")
	// Tenants are isolated: acme's operator cannot see beta's conversation.
	if code, _ := n.conversation(aliceToken, conversation.ID("beta-wa", "27820000005")); code != 404 {
		t.Errorf("acme operator reads beta conversation: %d, want 404", code)
	}
	if got := len(n.conversations(betaToken)); got != 1 {
		t.Errorf("beta sees %d conversations, want 1", got)
	}
	if code, _ := n.get("/v1/conversations", ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := n.get("/v1/conversations", "not-a-token"); code != 401 {
		t.Errorf("unknown token: %d, want 401", code)
	}
	if code, _ := n.get("/v1/conversations?status=bogus", aliceToken); code != 400 {
		t.Errorf("bad status filter: %d, want 400", code)
	}
	if got := n.metric("switchboard_webhooks_total", `result="ok"`); got != 7 {
		t.Errorf("switchboard_webhooks_total{result=ok} = %v, want 7", got)
	}
	n.stop()
}

func jsonEqual(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
