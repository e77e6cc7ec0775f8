package main_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const (
	rcptPhone  = "700800960" // tenant rcpt: read_receipts true
	quietPhone = "700800961" // tenant quiet: read_receipts false (the default, stated)
	rcptAnn    = "rcpt-ann-token-000001"
	rcptBen    = "rcpt-ben-token-000001"
	quietCid   = "quiet-cid-token-00001"
	receiptsY  = `tenants:
  - id: rcpt
    settings:
      read_receipts: true
    channels:
      - id: rcpt-wa
        type: whatsapp
        phone_number_id: "` + rcptPhone + `"
        app_secret: "` + outSecret + `"
        verify_token: "rcpt-verify"
        access_token: "rcpt-access"
    operators:
      - id: ann
        token: "` + rcptAnn + `"
      - id: ben
        token: "` + rcptBen + `"
  - id: quiet
    settings:
      read_receipts: false
    channels:
      - id: quiet-wa
        type: whatsapp
        phone_number_id: "` + quietPhone + `"
        app_secret: "` + outSecret + `"
        verify_token: "quiet-verify"
        access_token: "quiet-access"
    operators:
      - id: cid
        token: "` + quietCid + `"
`
)

// TestReadReceipts: with the tenant setting read_receipts: true an operator's read command marks the customer's
// latest message read on WhatsApp (one mark-as-read call to the simulator, with that message's wamid); a second
// operator reading the same messages sends none; a new customer message read later sends one more, also when more
// than a page of notes follows it. A tenant with read_receipts: false sends none.
//
// A read command is answered once its batch is durable and its receipt (if any) handed to the sender, so
// switchboard_outbound_queued_total counts it by then; the test waits until the sender answered every queued job
// (switchboard_outbound_read_receipts_total) and then compares the simulator's list, so "no more calls" is a
// condition, not a pause.
func TestReadReceipts(t *testing.T) {
	n, s := startNodeWithSim(t, receiptsY, simConfig(sim.FailConfig{}))

	webhook := func(phone, from, wamid, text string) string {
		t.Helper()
		n.deliver(phone, outSecret, textMsg(from, wamid, text, time.Now().Unix()))
		return map[string]string{rcptPhone: "rcpt-wa", quietPhone: "quiet-wa"}[phone]
	}
	// stored waits until the conversation holds the customer's message wamid.
	stored := func(token, id, wamid string) {
		t.Helper()
		eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
			code, v := n.conversation(token, id)
			return code == 200 && slices.ContainsFunc(v.Messages, func(m conversation.Message) bool { return m.ID == wamid })
		}, "message %s stored", wamid)
	}
	read := func(token, id string) {
		t.Helper()
		var r struct {
			ConversationID string `json:"conversation_id"`
			Unread         *int   `json:"unread"`
		}
		if err := json.Unmarshal(n.mustCall("POST", "/v1/conversations/"+id+"/read", token, nil, 200), &r); err != nil {
			t.Fatal(err)
		}
		if r.ConversationID != id || r.Unread == nil || *r.Unread != 0 {
			t.Fatalf("read %s: %+v, want conversation %s with 0 unread", id, r, id)
		}
	}
	// reads waits until the sender answered every job it was handed, checks that exactly queued jobs were handed
	// to it so far (no messages are sent in this test: every job is a read receipt), and returns the simulator's
	// recorded mark-as-read calls (GET /sim/reads), oldest first.
	reads := func(queued int) []sim.Read {
		t.Helper()
		eventually.NoError(t, 20*time.Second, 20*time.Millisecond, func() error {
			m := n.scrape()
			q, done := m.sum("switchboard_outbound_queued_total"), m.sum("switchboard_outbound_read_receipts_total")
			if q != float64(queued) {
				return fmt.Errorf("%v jobs handed to the sender, want %d", q, queued)
			}
			if done != q {
				return fmt.Errorf("%v of %v read receipts answered", done, q)
			}
			return nil
		}, "read receipts answered")
		if got := n.metric("switchboard_outbound_read_receipts_total", `result="failed"`); got != 0 {
			t.Fatalf("%v read receipts failed", got)
		}
		resp, err := client.Get(s.URL() + "/sim/reads")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got []sim.Read
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	check := func(when string, got []sim.Read, want ...string) {
		t.Helper()
		var ids []string
		for _, r := range got {
			if r.PhoneNumberID != rcptPhone {
				t.Errorf("%s: a mark-as-read call on phone number %s (wamid %s), want only %s", when, r.PhoneNumberID, r.MessageID, rcptPhone)
			}
			ids = append(ids, r.MessageID)
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("%s: mark-as-read calls %v, want %v", when, ids, want)
		}
	}

	conv := conversation.ID(webhook(rcptPhone, "27840000001", "wamid.rcpt-1", "hello"), "27840000001")
	stored(rcptAnn, conv, "wamid.rcpt-1")
	if got := reads(0); len(got) != 0 {
		t.Fatalf("mark-as-read calls before anyone read: %+v", got)
	}

	// Ann reads: one call, with the customer's message's wamid.
	read(rcptAnn, conv)
	check("ann read", reads(1), "wamid.rcpt-1")

	// Ben reads the same message: the customer already has blue ticks; no call. Ann reading again: none either.
	read(rcptBen, conv)
	read(rcptAnn, conv)
	check("ben read the same", reads(1), "wamid.rcpt-1")

	// The customer writes twice more; ben reads: one call, for the latest of them (it marks the earlier read too).
	webhook(rcptPhone, "27840000001", "wamid.rcpt-2", "are you there?")
	webhook(rcptPhone, "27840000001", "wamid.rcpt-3", "hello?")
	stored(rcptBen, conv, "wamid.rcpt-3")
	read(rcptBen, conv)
	check("ben read new messages", reads(2), "wamid.rcpt-1", "wamid.rcpt-3")

	// The customer writes again, then the operators write more notes than a page of messages (50): reading finds
	// the customer's message behind them.
	webhook(rcptPhone, "27840000001", "wamid.rcpt-4", "still waiting")
	stored(rcptAnn, conv, "wamid.rcpt-4")
	for i := range 60 {
		n.mustCall("POST", "/v1/conversations/"+conv+"/notes", rcptAnn, map[string]string{"text": fmt.Sprintf("note %d", i)}, 201)
	}
	read(rcptAnn, conv)
	check("ann read past 60 notes", reads(3), "wamid.rcpt-1", "wamid.rcpt-3", "wamid.rcpt-4")

	// A tenant without read receipts: its operator reads, nothing reaches the simulator.
	quiet := conversation.ID(webhook(quietPhone, "27840000002", "wamid.quiet-1", "hi"), "27840000002")
	stored(quietCid, quiet, "wamid.quiet-1")
	read(quietCid, quiet)
	check("read_receipts false", reads(3), "wamid.rcpt-1", "wamid.rcpt-3", "wamid.rcpt-4")
	n.stop()
}
