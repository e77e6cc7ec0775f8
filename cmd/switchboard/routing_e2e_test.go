package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const (
	shopPhone  = "700800900"
	shopSecret = "shop-app-secret"
	annToken   = "ann-token-000000000001" // admin, capacity 2
	benToken   = "ben-token-000000000001" // operator, capacity 1
	quickPhone = "700800901"
	quickToken = "quick-token-0000000001"
	resvPhone  = "700800902"
	resvToken  = "resv-token-00000000001"

	// shopChannelY is tenant shop's channel shop-wa (shopPhone), an entry of its channels list.
	shopChannelY = `      - id: shop-wa
        type: whatsapp
        phone_number_id: "` + shopPhone + `"
        app_secret: "` + shopSecret + `"
        verify_token: "shop-verify"
        access_token: "shop-access"
`
	// shopOperatorsY is tenant shop's operators list: ann, an admin who holds 2, and ben, an operator who holds 1.
	shopOperatorsY = `    operators:
      - id: ann
        role: admin
        capacity: 2
        token: "` + annToken + `"
      - id: ben
        role: operator
        capacity: 1
        token: "` + benToken + `"
`
	// quickChannelY is tenant quick's channels list (quickPhone, signed with shopSecret).
	quickChannelY = `    channels:
      - id: quick-wa
        type: whatsapp
        phone_number_id: "` + quickPhone + `"
        app_secret: "` + shopSecret + `"
        verify_token: "quick-verify"
`
	routingY = `tenants:
  - id: shop
    channels:
` + shopChannelY + shopOperatorsY + `  - id: quick
    settings:
      auto_close_after: 2s
` + quickChannelY + `    operators:
      # A builder: insights are for admins and builders, and the analytics test reads quick's (none of shop's).
      - id: qop
        role: builder
        token: "` + quickToken + `"
  - id: resv
    settings:
      reservation_timeout: 1s
      window_warning: 23h59m58s
    channels:
      - id: resv-wa
        type: whatsapp
        phone_number_id: "` + resvPhone + `"
        app_secret: "` + shopSecret + `"
        verify_token: "resv-verify"
    operators:
      - id: rop
        token: "` + resvToken + `"
`
)

// shopSimConfig is the simulator for tenant shop: it signs with shopSecret, allows 80 messages a second per number
// and answers statuses 10 ms after a send.
var shopSimConfig = sim.Config{AppSecret: shopSecret, Rate: 80, StatusDelay: 10 * time.Millisecond}

// TestRoutingThroughTheAPI runs the routing core end to end: capacity-aware assignment, assignment the moment
// capacity frees, the transitions and their refusals, the 24-hour window, snooze wake-up, auto-close, and the events
// on switchboard.events.
func TestRoutingThroughTheAPI(t *testing.T) {
	n := newNodeConfig(t, routingY)
	n.start()
	for _, tok := range []string{annToken, benToken} {
		n.mustCall("PUT", "/v1/operators/me/availability", tok, map[string]string{"availability": "online"}, 200)
	}
	now := time.Now()
	// The timers of tenants quick and resv start first and run while shop's part goes on; their outcomes are
	// checked at the end. In quick a conversation closes after 2 s of inactivity. In resv, rop gets the
	// conversation and does not answer within 1 s; it goes back to the queue (and, rop being the only operator,
	// comes back to rop). The window warning is set to 23h59m58s before the window closes, so it fires 2 s after the
	// customer's message.
	n.deliver(quickPhone, shopSecret, textMsg("27900000777", "wamid.q1", "hello", now.Unix()))
	n.mustCall("PUT", "/v1/operators/me/availability", resvToken, map[string]string{"availability": "online"}, 200)
	n.deliver(resvPhone, shopSecret, textMsg("27900000888", "wamid.rv1", "anyone?", time.Now().Unix()))

	var convs []string
	for i := 0; i < 5; i++ {
		from := fmt.Sprintf("2790000000%d", i)
		n.deliver(shopPhone, shopSecret, textMsg(from, "wamid.r"+from, "help", now.Unix()))
		convs = append(convs, conversation.ID("shop-wa", from))
		time.Sleep(5 * time.Millisecond) // distinct arrival times: the queue is first come, first served
	}
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(annToken, "status=assigned&assignee=ann")) == 2 &&
			len(n.listIDs(annToken, "status=assigned&assignee=ben")) == 1 &&
			len(n.listIDs(annToken, "status=unassigned")) == 2
	}, "2 for ann, 1 for ben, 2 waiting")
	waiting := n.listIDs(annToken, "status=unassigned")
	annHas := n.listIDs(annToken, "status=assigned&assignee=ann")

	// Closing one of ann's assigns her the next waiting conversation at once (no sweep).
	n.mustCall("POST", "/v1/conversations/"+annHas[0]+"/close", annToken, nil, 200)
	eventually.True(t, 5*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(annToken, "status=assigned&assignee=ann")) == 2 && len(n.listIDs(annToken, "status=unassigned")) == 1
	}, "a waiting conversation assigned on close")
	if got := n.listIDs(annToken, "status=unassigned"); got[0] != waiting[0] && got[0] != waiting[1] {
		t.Errorf("waiting after close = %v, want one of %v", got, waiting)
	}

	// Refusals answer their code and change nothing.
	closed := annHas[0]
	n.refused("POST", "/v1/conversations/"+closed+"/close", annToken, nil, 409, "already_closed")
	n.refused("POST", "/v1/conversations/"+closed+"/snooze", annToken, map[string]string{"until": now.Add(time.Hour).Format(time.RFC3339)}, 409, "snooze_closed")
	n.refused("POST", "/v1/conversations/"+annHas[1]+"/reopen", annToken, nil, 409, "not_closed")
	n.refused("POST", "/v1/conversations/"+n.listIDs(annToken, "status=unassigned")[0]+"/assign", benToken, map[string]string{"operator_id": "ann"}, 403, "forbidden")
	n.refused("POST", "/v1/conversations/"+n.listIDs(annToken, "status=unassigned")[0]+"/take", benToken, nil, 409, "at_capacity")
	n.refused("POST", "/v1/conversations/nope/close", annToken, nil, 404, "conversation_not_found")
	// Another tenant's conversation is not found, and the command creates nothing in the caller's tenant: the API
	// does not look it up first, the caller's conversation actor answers.
	n.refused("POST", "/v1/conversations/"+annHas[1]+"/close", quickToken, nil, 404, "conversation_not_found")
	for _, id := range n.listIDs(quickToken, "") {
		if id == annHas[1] || id == "nope" {
			t.Errorf("a command for a missing conversation created %s in tenant quick", id)
		}
	}
	if got := n.listIDs(annToken, "status=assigned&assignee=ann"); len(got) != 2 {
		t.Errorf("ann's conversations after another tenant's close = %v, want 2", got)
	}
	// GET /v1/operators shows the loads routing counts: ann and ben are full.
	var ops struct {
		Operators []struct {
			ID       string `json:"id"`
			Load     int    `json:"load"`
			Capacity int    `json:"capacity"`
		} `json:"operators"`
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/operators", benToken, nil, 200), &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops.Operators) != 2 {
		t.Errorf("shop's operators = %+v, want ann and ben", ops.Operators)
	}
	for _, o := range ops.Operators {
		if o.Load != o.Capacity {
			t.Errorf("operator %s holds %d of %d, want full", o.ID, o.Load, o.Capacity)
		}
	}
	n.refused("POST", "/v1/conversations/"+annHas[1]+"/messages", annToken, map[string]string{"type": "text"}, 400, "invalid_message")
	if got := n.listIDs(annToken, "status=closed"); len(got) != 1 || got[0] != closed {
		t.Errorf("closed conversations = %v, want [%s]", got, closed)
	}

	// Reopen puts it back in the queue; ann is full, ben is full: it waits.
	n.mustCall("POST", "/v1/conversations/"+closed+"/reopen", annToken, nil, 200)
	eventually.True(t, 5*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(annToken, "status=unassigned")) == 2
	}, "reopened conversation waits")

	// A reply: 201 with the pending message; it is stored and first-response is recorded.
	b := n.mustCall("POST", "/v1/conversations/"+annHas[1]+"/messages", annToken, map[string]string{"type": "text", "text": "Hi, how can I help?"}, 201)
	var sent conversation.Message
	if err := json.Unmarshal(b, &sent); err != nil || sent.Status != conversation.Pending || sent.Direction != conversation.DirOut {
		t.Errorf("reply = %s (%v), want an outbound pending message", b, err)
	}

	// The 24-hour window: a customer whose last message is 25 h old gets templates only.
	old := "27900000099"
	n.deliver(shopPhone, shopSecret, textMsg(old, "wamid.old", "old", now.Add(-25*time.Hour).Unix()))
	oldID := conversation.ID("shop-wa", old)
	eventually.True(t, 5*time.Second, 20*time.Millisecond, func() bool { c, _ := n.conversation(annToken, oldID); return c == 200 }, "old conversation stored")
	n.refused("POST", "/v1/conversations/"+oldID+"/messages", annToken, map[string]string{"type": "text", "text": "late"}, 422, "window_closed")
	n.mustCall("POST", "/v1/conversations/"+oldID+"/messages", annToken, map[string]any{"type": "template",
		"template": map[string]any{"name": "follow_up", "language": "en", "params": []string{"Maria"}}}, 201)
	_, ov := n.conversation(annToken, oldID)
	if !ov.WindowExpiresAt.Equal(time.Unix(now.Add(-25*time.Hour).Unix(), 0).Add(24 * time.Hour)) {
		t.Errorf("template moved the window: %v", ov.WindowExpiresAt)
	}

	// Snooze until shortly: the timer wakes it back to its assignee.
	target := annHas[1]
	until := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	n.mustCall("POST", "/v1/conversations/"+target+"/snooze", annToken, map[string]string{"until": until}, 200)
	if _, v := n.conversation(annToken, target); v.Status != conversation.Snoozed {
		t.Fatalf("after snooze: %s", v.Status)
	}
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(annToken, target)
		return v.Status != conversation.Snoozed
	}, "snooze wake-up")

	// Auto-close after 2 s of inactivity, in tenant quick.
	qid := conversation.ID("quick-wa", "27900000777")
	eventually.True(t, 15*time.Second, 20*time.Millisecond, func() bool {
		c, v := n.conversation(quickToken, qid)
		return c == 200 && v.Status == conversation.Closed
	}, "auto-close")

	// Reservation timeout and window warning, in tenant resv.
	rid := conversation.ID("resv-wa", "27900000888")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		seen := map[string]bool{}
		for _, e := range readEvents(t, n.kafka, 5*time.Second) {
			var ev conversation.Event
			_ = json.Unmarshal(e, &ev)
			if ev.ConversationID != rid {
				continue
			}
			if ev.Type == conversation.EventUnassigned && ev.ActorID == "" && ev.PreviousOperatorID == "rop" {
				seen["reservation"] = true
			}
			if ev.Type == conversation.EventWindowClosing {
				seen["window"] = true
			}
		}
		return seen["reservation"] && seen["window"]
	}, "reservation timeout and window warning")

	// Events reached switchboard.events with unique ids and the routing facts analytics needs.
	events := readEvents(t, n.kafka, 5*time.Second)
	ids := map[string]string{}
	types := map[string]int{}
	for _, e := range events {
		var ev conversation.Event
		if err := json.Unmarshal(e, &ev); err != nil {
			t.Fatalf("event %s: %v", e, err)
		}
		if prev, dup := ids[ev.ID]; dup && prev != string(e) {
			t.Errorf("event id %s twice with different content:\n%s\n%s", ev.ID, prev, e)
		}
		ids[ev.ID] = string(e)
		types[ev.Type]++
		aboutConversation := ev.Type != operator.EventAvailability && !strings.HasPrefix(ev.Type, "contact.") &&
			!strings.HasPrefix(ev.Type, "template.")
		if ev.TenantID == "" || ev.ConversationID == "" && aboutConversation || ev.At.IsZero() {
			t.Errorf("event without tenant, conversation or time: %s", e)
		}
	}
	for _, typ := range []string{"conversation.created", "message.received", "conversation.assigned", "conversation.closed",
		"conversation.reopened", "message.queued", "conversation.snoozed", "conversation.unsnoozed"} {
		if types[typ] == 0 {
			t.Errorf("no %s event; got %v", typ, types)
		}
	}
	if got := n.metric("switchboard_routing_divergence_total"); got != 0 {
		t.Errorf("routing divergence = %v", got)
	}
	n.stop()
}

// readEvents reads every record of switchboard.events from the broker at addr over TCP.
func readEvents(t *testing.T, addr string, wait time.Duration) [][]byte {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions("switchboard.events")
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, p := range parts {
		c, err := kafka.DialLeader(context.Background(), "tcp", addr, "switchboard.events", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := c.ReadLastOffset()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "switchboard.events", Partition: p.ID, MaxWait: inbox.FetchWait(100 * time.Millisecond)})
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read partition %d: %v", p.ID, err)
			}
			out = append(out, m.Value)
			if m.Offset >= last-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}
