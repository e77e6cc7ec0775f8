package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store/forensic"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/schema"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// Two channels of one tenant, so a contact has a conversation on each; another tenant to ask for the first one's
// contact.
const (
	erasePhone2 = "700800911"
	eraseY      = `tenants:
  - id: shop
    channels:
` + shopChannelY + `      - id: shop-wa2
        type: whatsapp
        phone_number_id: "` + erasePhone2 + `"
        app_secret: "` + shopSecret + `"
        verify_token: "shop-verify2"
        access_token: "shop-access"
` + shopOperatorsY + `  - id: quick
` + quickChannelY + `    operators:
      - id: qop
        role: admin
        token: "` + quickToken + `"
`
)

// TestEraseContact runs a node with the simulator and a real ClickHouse. A customer writes on both channels of a
// tenant with a distinctive number, name and text, an operator answers, and the events reach ClickHouse; the files
// of the node's Pebble directory hold the number and the text (so the search below can fail). Then an admin erases
// the contact: afterwards no file of the Pebble directory (tables decompressed, write-ahead logs, MANIFEST, every
// file) holds the number, the name or a text, ClickHouse holds nothing that names the contact, the conversations
// still count in the insights, the contact is gone (404), and the customer writing again starts clean.
func TestEraseContact(t *testing.T) {
	ch := chtest.StartServer(t)
	n, s := startNodeWithSim(t, eraseY, shopSimConfig, "--clickhouse-addr", ch.Addr())
	storeDir := n.storeDir()

	const (
		phone = "27987654321"
		name  = "Zebediah Quuxworth"
		text1 = "My parcel ZQX-58213 never arrived at Gorbunova street"
		text2 = "Vortigaunt hello from the second channel"
		reply = "Sorry, ticket QPL-90417 is open for Gorbunova"
	)
	// Meta's message ids carry the customer's number (sim.WAMID): they must go too.
	wamid1, wamid2 := sim.WAMID(phone, "9A3CA5B3D4CD6E67E7"), sim.WAMID(phone, "5B3D4CD6E67E79A3CA")
	needles := []string{phone, name, text1, text2, reply, "gorbunova", "vortigaunt", wamid1, wamid2}
	n.mustCall("PUT", "/v1/operators/me/availability", annToken, map[string]string{"availability": "online"}, 200)
	now := time.Now().Unix()
	write := func(phoneID, wamid, text string) {
		t.Helper()
		n.deliver(phoneID, shopSecret, meta.Message{From: phone, ProfileName: name, ID: wamid, Timestamp: now, Text: text})
	}
	write(shopPhone, wamid1, text1)
	write(erasePhone2, wamid2, text2)
	c1, c2 := conversation.ID("shop-wa", phone), conversation.ID("shop-wa2", phone)
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		_, v1 := n.conversation(annToken, c1)
		_, v2 := n.conversation(annToken, c2)
		return v1.AssigneeID == "ann" && v2.AssigneeID == "ann"
	}, "both conversations assigned to ann")
	var sent conversation.Message
	_ = json.Unmarshal(n.mustCall("POST", "/v1/conversations/"+c1+"/messages", annToken, map[string]string{"type": "text", "text": reply}, 201), &sent)
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(annToken, c1)
		for _, m := range v.Messages {
			if m.ID == sent.ID && (m.Status == conversation.Delivered || m.Status == conversation.Read) {
				return true
			}
		}
		return false
	}, "the reply delivered")
	for _, r := range s.Messages() {
		if r.To == phone {
			needles = append(needles, r.WAMID) // the simulator's wamid of the reply, holding the number too
		}
	}
	if len(needles) != 10 {
		t.Fatalf("the simulator recorded no reply to %s: %+v", phone, s.Messages())
	}

	contactID := conversation.ContactID(phone)
	conn, err := schema.Open(ch.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	chCount := func(q string, args ...any) uint64 {
		t.Helper()
		var c uint64
		if err := conn.QueryRow(context.Background(), q, args...).Scan(&c); err != nil {
			return 1 << 62 // the table is not there yet: not a count
		}
		return c
	}
	eventually.True(t, 30*time.Second, 50*time.Millisecond, func() bool {
		return chCount(`SELECT count() FROM switchboard.events WHERE contact_id = ? AND type = 'message.queued'`, contactID) == 1 &&
			chCount(`SELECT count() FROM switchboard.events WHERE message_id = ?`, wamid1) > 0
	}, "the contact's events, with their wamids, in ClickHouse")
	insights := func() (in, finished int) {
		var rep struct {
			Finished   int `json:"finished"`
			MessagesIn int `json:"messages_in"`
		}
		_, b := n.get("/v1/insights?since=1h", annToken)
		_ = json.Unmarshal(b, &rep)
		return rep.MessagesIn, rep.Finished
	}
	eventually.True(t, 30*time.Second, 50*time.Millisecond, func() bool { in, _ := insights(); return in == 2 },
		"insights count the customer's two messages")

	// A restart replays the write-ahead log into tables: the data is then in both kinds of file, which the erase
	// must both clean.
	n.stop()
	n.start()

	// The search can fail: before the erase, the store's files hold the customer's data.
	find := func() map[string][]string {
		t.Helper()
		var found map[string][]string
		// A table being written while the directory is read does not decode yet: read again.
		eventually.NoError(t, 10*time.Second, 20*time.Millisecond, func() (err error) {
			found, err = forensic.Find(storeDir, needles...)
			return err
		}, "reading the store's files")
		return found
	}
	found := find()
	inTable := false
	for f := range found {
		inTable = inTable || filepath.Ext(f) == ".sst"
	}
	if !inTable {
		t.Fatalf("before the erase no table of %s holds the customer's data (%v): the search proves too little", storeDir, found)
	}

	// Who may erase what.
	n.refused("POST", "/v1/contacts/"+contactID+"/erase", benToken, nil, 403, "forbidden")
	n.refused("POST", "/v1/contacts/"+contactID+"/erase", quickToken, nil, 404, "contact_not_found")
	n.refused("POST", "/v1/contacts/"+conversation.ContactID("27900000000")+"/erase", annToken, nil, 404, "contact_not_found")
	n.refused("POST", "/v1/contacts/bogus/erase", annToken, nil, 404, "contact_not_found")
	if code, b := n.get("/v1/contacts/"+contactID, annToken); code != 200 {
		t.Fatalf("GET the contact before the erase: %d %s", code, b)
	}

	var erased struct {
		Erased        bool `json:"erased"`
		Conversations int  `json:"conversations"`
	}
	_ = json.Unmarshal(n.mustCall("POST", "/v1/contacts/"+contactID+"/erase", annToken, nil, 200), &erased)
	if !erased.Erased || erased.Conversations != 2 {
		t.Fatalf("erase answered %+v, want erased with 2 conversations", erased)
	}

	// Pebble: once the scrub ran, no file holds any of it.
	eventually.NoError(t, 60*time.Second, 100*time.Millisecond, func() error {
		if found := find(); len(found) > 0 {
			return fmt.Errorf("files still hold the erased customer's data: %v", found)
		}
		return nil
	}, "the store's files scrubbed")
	if n.metric("switchboard_store_scrub_errors_total") != 0 {
		t.Errorf("a scrub failed:\n%s", n.logs)
	}

	// The API: the contact is gone; the conversations keep their counts and nothing of the customer.
	n.refused("GET", "/v1/contacts/"+contactID, annToken, nil, 404, "contact_not_found")
	for _, id := range []string{c1, c2} {
		code, v := n.conversation(annToken, id)
		if code != 200 || v.Contact.WaID != "" || v.Contact.Name != "" || len(v.Messages) != 0 || v.LastMessage != nil ||
			v.Status != conversation.Closed || v.Conversation.Messages == 0 || v.InboundCount != 1 {
			t.Fatalf("erased conversation %s: %d %+v", id, code, v)
		}
	}
	if code, b := n.get("/v1/search?q=gorbunova", annToken); code != 200 || bytes.Contains(b, []byte(c1)) {
		t.Fatalf("search still finds the erased text: %d %s", code, b)
	}

	// ClickHouse: no row names the contact; every row is still there, and the insights still count.
	eventually.NoError(t, 60*time.Second, 100*time.Millisecond, func() error {
		if c := chCount(`SELECT count() FROM switchboard.events WHERE contact_id = ?`, contactID); c != 0 {
			return fmt.Errorf("%d rows name the contact", c)
		}
		return nil
	}, "ClickHouse anonymised")
	for _, needle := range needles {
		if c := chCount(`SELECT count() FROM switchboard.events WHERE position(concat(id, conversation_id, contact_id, actor_id, operator_id, message_id, error_title, arrayStringConcat(labels)), ?) > 0`, needle); c != 0 {
			t.Fatalf("%d ClickHouse rows hold %q", c, needle)
		}
	}
	eventually.True(t, 30*time.Second, 50*time.Millisecond, func() bool { in, fin := insights(); return in == 2 && fin == 2 },
		"insights still count the erased conversations (and their close)")

	// The customer writes again: a new, clean contact and conversation history.
	const again = "Back again with Frobnitzer question"
	n.deliver(shopPhone, shopSecret, meta.Message{From: phone, ProfileName: "Zed", ID: "wamid.erase3", Timestamp: time.Now().Unix(), Text: again})
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(annToken, c1)
		return v.Contact.WaID == phone && len(v.Messages) == 1 && v.Messages[0].Text == again
	}, "the conversation back with the new message only")
	_, v := n.conversation(annToken, c1)
	if v.Contact.Name != "Zed" || v.Status == conversation.Closed {
		t.Fatalf("after writing again: %+v", v.Conversation)
	}
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		code, b := n.get("/v1/contacts/"+contactID, annToken)
		var c struct {
			Name   string          `json:"name"`
			Fields json.RawMessage `json:"fields"`
		}
		_ = json.Unmarshal(b, &c)
		return code == 200 && c.Name == "Zed"
	}, "a new contact for the customer")
	n.stop()
}
