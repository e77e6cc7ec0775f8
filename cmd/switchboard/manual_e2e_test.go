package main_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/operator"
)

const (
	deskPhone  = "700800950"
	deskSecret = "desk-app-secret"
	deskAnn    = "desk-ann-token-000001" // operator, capacity 1
	deskBen    = "desk-ben-token-000001" // operator, capacity 1
	manualY    = `tenants:
  - id: desk
    settings:
      routing: manual
    channels:
      - id: desk-wa
        type: whatsapp
        phone_number_id: "` + deskPhone + `"
        app_secret: "` + deskSecret + `"
        verify_token: "desk-verify"
        access_token: "desk-access"
    operators:
      - id: ann
        capacity: 1
        token: "` + deskAnn + `"
      - id: ben
        capacity: 1
        token: "` + deskBen + `"
`
)

// TestManualRouting: in a tenant with routing: manual a customer's webhook waits in Unassigned while an operator is
// online with free capacity; operators attend (take) from Unassigned, online or not, within their capacity. The
// availability changes reach switchboard.events as operator.availability events, one id per change, also after a
// kill -9 and restart. (Whether the restart feeds records again depends on how far the commit had got; the replay of
// an availability command, skipped with no new event, is in actors/router/testdata: manual_routing, replay.)
func TestManualRouting(t *testing.T) {
	n := newNodeConfig(t, manualY)
	n.start()
	n.mustCall("PUT", "/v1/operators/me/availability", deskAnn, map[string]string{"availability": "online"}, 200)

	webhook := func(from, wamid string) string {
		t.Helper()
		n.deliver(deskPhone, deskSecret, textMsg(from, wamid, "hello", time.Now().Unix()))
		return conversation.ID("desk-wa", from)
	}
	first := webhook("27830000001", "wamid.manual-1")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return slices.Contains(n.listIDs(deskAnn, "status=unassigned"), first)
	}, "the conversation in Unassigned")
	// A later command of the same tenant, applied after the webhook: by its answer the dispatcher has long had the
	// conversation, and proposed nothing.
	n.mustCall("PUT", "/v1/operators/me/availability", deskBen, map[string]string{"availability": "away"}, 200)
	if got := n.listIDs(deskAnn, "status=unassigned"); !slices.Equal(got, []string{first}) {
		t.Fatalf("unassigned = %v, want only %s while ann is online with free capacity", got, first)
	}
	if got := n.metric("switchboard_routing_proposals_total"); got != 0 {
		t.Errorf("%v proposals in a manual tenant, want 0", got)
	}

	// Attend: ann takes it.
	n.mustCall("POST", "/v1/conversations/"+first+"/take", deskAnn, nil, 200)
	if got := n.listIDs(deskAnn, "status=assigned&assignee=ann"); !slices.Equal(got, []string{first}) {
		t.Fatalf("ann's conversations = %v, want %s", got, first)
	}

	// Ben is away and takes the next one all the same; ann, at her capacity, cannot.
	second := webhook("27830000002", "wamid.manual-2")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return slices.Contains(n.listIDs(deskAnn, "status=unassigned"), second)
	}, "the second conversation in Unassigned")
	n.refused("POST", "/v1/conversations/"+second+"/take", deskAnn, nil, 409, "at_capacity")
	n.mustCall("POST", "/v1/conversations/"+second+"/take", deskBen, nil, 200)
	if got := n.listIDs(deskAnn, "status=assigned&assignee=ben"); !slices.Equal(got, []string{second}) {
		t.Fatalf("ben's conversations = %v, want %s", got, second)
	}

	// Closing frees ann's place; a new conversation still waits for someone to take it.
	n.mustCall("POST", "/v1/conversations/"+first+"/close", deskAnn, nil, 200)
	third := webhook("27830000003", "wamid.manual-3")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return slices.Contains(n.listIDs(deskAnn, "status=unassigned"), third)
	}, "the third conversation in Unassigned")
	n.mustCall("PUT", "/v1/operators/me/availability", deskAnn, map[string]string{"availability": "offline"}, 200)
	if got := n.metric("switchboard_routing_proposals_total"); got != 0 {
		t.Errorf("%v proposals in a manual tenant, want 0", got)
	}

	// Three availability changes: ann online (1), ben away (1), ann offline (2).
	want := map[string]string{"op.desk.ann.1": "online", "op.desk.ben.1": "away", "op.desk.ann.2": "offline"}
	check := func(when string) {
		t.Helper()
		eventually.NoError(t, 20*time.Second, 50*time.Millisecond, func() error {
			got := map[string]string{}
			seen := map[string]string{}
			for _, e := range readEvents(t, n.kafka, 5*time.Second) {
				var ev operator.Event
				if err := json.Unmarshal(e, &ev); err != nil || ev.Type != operator.EventAvailability {
					continue
				}
				if prev, dup := seen[ev.ID]; dup && prev != string(e) {
					t.Fatalf("%s: event %s twice with different content:\n%s\n%s", when, ev.ID, prev, e)
				}
				seen[ev.ID] = string(e)
				if ev.TenantID != "desk" || ev.At.IsZero() || ev.OperatorID == "" {
					t.Fatalf("%s: incomplete event %s", when, e)
				}
				got[ev.ID] = string(ev.Availability)
			}
			if !maps.Equal(got, want) {
				return fmt.Errorf("%s: availability events %v, want %v", when, got, want)
			}
			return nil
		}, "operator.availability events")
	}
	check("before the kill")
	n.kill()
	n.start()
	// The replay after the kill applies nothing twice and publishes no new availability event.
	n.mustCall("PUT", "/v1/operators/me/availability", deskBen, map[string]string{"availability": "away"}, 200)
	// How much was fed again depends on how far the commit had got before the kill; either way nothing is new.
	t.Logf("after the kill: %v items skipped as replays", n.metric("switchboard_records_skipped_total", `reason="replay"`))
	check("after the kill and replay")
	n.stop()
}
