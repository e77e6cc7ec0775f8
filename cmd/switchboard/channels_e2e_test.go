package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// TestRemovedChannelRefusedOnEveryNode: a number added through node A takes a customer's webhook on node B (ingest
// only); removed through A, B refuses its webhooks (as a number it never had: 401 when signed by the app secret no
// channel has any more, 404 when by the app of a channel that remains) and its subscription check as soon as B's
// directory has the record, and nothing of them reaches the conversation; the conversation stays readable on
// A, a reply on it is refused naming the channel, erasing the customer erases it too, and the audit log has the
// removal with who did it.
func TestRemovedChannelRefusedOnEveryNode(t *testing.T) {
	a := newNodeConfig(t, configY)
	a.start()
	b := newNodeConfig(t, configY, "--kafka-brokers", a.kafka, "--roles", "ingest")
	b.start()
	const phone, secret, from = "700800977", "cfg-removed-secret", "27840000077"
	a.mustCall("POST", "/v1/channels", cfgAda, map[string]string{"id": "cfg-wa-7", "phone_number_id": phone,
		"app_secret": secret, "verify_token": "cfg-verify-7", "access_token": "cfg-access-7"}, 201)
	first := meta.Payload(meta.Change{PhoneNumberID: phone, Messages: []meta.Message{textMsg(from, "wamid.rm-1", "hello", time.Now().Unix())}})
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool { return b.post(first, secret) == 200 },
		"node B accepts the new number's webhook")
	conv := conversation.ID("cfg-wa-7", from)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		code, v := a.conversation(cfgAda, conv)
		return code == 200 && v.InboundCount == 1
	}, "the conversation B ingested")

	var removed struct {
		ID      string `json:"id"`
		Removed bool   `json:"removed"`
	}
	if err := json.Unmarshal(a.mustCall("DELETE", "/v1/channels/cfg-wa-7", cfgAda, nil, 200), &removed); err != nil ||
		removed.ID != "cfg-wa-7" || !removed.Removed {
		t.Fatalf("remove answered %+v (%v)", removed, err)
	}
	answered := time.Now()
	second := meta.Payload(meta.Change{PhoneNumberID: phone, Messages: []meta.Message{textMsg(from, "wamid.rm-2", "anyone?", time.Now().Unix())}})
	// Refused like a number the node never had: signed by the removed channel's own app secret, which no channel has
	// any more, it is 401; signed by the app of a channel that remains (one Meta app for several numbers), 404.
	// Node B learns of the removal from the configuration topic, a moment after A answered: until then it still
	// takes the number's webhooks (correctly), so the test waits on the subscription check, which has no effect,
	// and posts the webhook once B refuses that.
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
		code, _ := b.get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=cfg-verify-7&hub.challenge=42", "")
		return code == 403
	}, "node B refuses the removed number's subscription check")
	t.Logf("node B refused the removed number %v after node A answered", time.Since(answered).Round(100*time.Microsecond))
	if code := b.post(second, secret); code != 401 {
		t.Errorf("node B, the removed number's webhook: %d, want 401", code)
	}
	if code := b.post(second, cfgSecret); code != 404 {
		t.Errorf("node B, the removed number's webhook signed by the remaining channel's app: %d, want 404", code)
	}
	if code := a.post(second, secret); code != 401 {
		t.Errorf("node A, the removed number's webhook: %d, want 401", code)
	}
	// A webhook of the tenant's other number, posted after, is applied after anything the refused one could have
	// produced: once it is in, the removed channel's conversation still has its one message.
	b.deliver(cfgPhone, cfgSecret, textMsg("27840000078", "wamid.rm-3", "hi", time.Now().Unix()))
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		code, _ := a.conversation(cfgAda, conversation.ID("cfg-wa", "27840000078"))
		return code == 200
	}, "the other number's conversation")
	if code, v := a.conversation(cfgAda, conv); code != 200 || v.InboundCount != 1 {
		t.Fatalf("the removed channel's conversation: %d, %d inbound", code, v.InboundCount)
	}
	if got := a.listIDs(cfgAda, "channel=cfg-wa-7"); len(got) != 1 || got[0] != conv {
		t.Errorf("its conversations by channel: %v", got)
	}
	a.refused("POST", "/v1/conversations/"+conv+"/messages", cfgAda, map[string]string{"type": "text", "text": "hi"}, 409, "channel_removed")
	// The channel is gone from the list, and the audit log says who removed it.
	if _, body := a.get("/v1/channels", cfgAda); strings.Contains(string(body), "cfg-wa-7") {
		t.Errorf("GET /v1/channels lists the removed channel: %s", body)
	}
	// Erasing the customer erases their conversation on the removed channel too.
	var erased struct {
		Erased        bool `json:"erased"`
		Conversations int  `json:"conversations"`
	}
	if err := json.Unmarshal(a.mustCall("POST", "/v1/contacts/"+conversation.ContactID(from)+"/erase", cfgAda, nil, 200), &erased); err != nil ||
		!erased.Erased || erased.Conversations != 1 {
		t.Fatalf("erase answered %+v (%v), want 1 conversation erased", erased, err)
	}
	if code, v := a.conversation(cfgAda, conv); code != 200 || v.Contact.WaID != "" || len(v.Messages) != 0 {
		t.Fatalf("the removed channel's conversation after the erase: %d %+v", code, v)
	}
	var audit struct {
		Entries []struct {
			ActorID string `json:"actor_id"`
			Action  string `json:"action"`
			Target  string `json:"target"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(a.mustCall("GET", "/v1/audit?action=channel.", cfgAda, nil, 200), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 2 || audit.Entries[0].Action != "channel.removed" || audit.Entries[0].ActorID != "ada" ||
		audit.Entries[0].Target != "channel/cfg-wa-7" || audit.Entries[1].Action != "channel.added" {
		t.Errorf("the channels' audit entries: %+v", audit.Entries)
	}
}
