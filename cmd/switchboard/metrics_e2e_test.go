package main_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
)

// documentedMetrics reads the metric names of the README's Metrics tables.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("`(switchboard_[a-z0-9_]+)`")
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `switchboard_") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range re.FindAllStringSubmatch(first, -1) {
			names = append(names, m[1])
		}
	}
	if len(names) < 40 {
		t.Fatalf("found %d documented metrics in the README, want the whole table", len(names))
	}
	return names
}

// TestEveryDocumentedMetricIsExposedAndMoves drives a node with the simulator and ClickHouse through a customer
// message, routing, a reply, a close and the analytics sink, then checks that every metric the README documents is
// exposed on /metrics, and that the ones tied to those events moved.
func TestEveryDocumentedMetricIsExposedAndMoves(t *testing.T) {
	ch := chtest.Start(t)
	// With the changelog on, so that its metrics are exposed and move too.
	n, _ := startNodeWithSim(t, routingY, shopSimConfig, "--clickhouse-addr", ch, "--changelog")

	// Nobody online: the customer waits, and the queue shows it.
	first := textMsg("27940000001", "wamid.m1", "hi", time.Now().Unix())
	n.deliver(shopPhone, shopSecret, first)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool { return n.metric("switchboard_queue_depth") == 1 }, "queue depth 1")
	if got := n.metric("switchboard_webhooks_total", `result="ok"`); got != 1 {
		t.Errorf("webhooks ok = %v, want 1", got)
	}
	n.deliver(shopPhone, shopSecret, first) // a repeat: counted as a duplicate
	n.mustCall("PUT", "/v1/operators/me/availability", annToken, map[string]string{"availability": "online"}, 200)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_queue_depth") == 0 && n.metric("switchboard_operators", `availability="online"`) == 1 &&
			n.metric("switchboard_operator_load") == 1
	}, "assigned")
	id := conversation.ID("shop-wa", "27940000001")
	var sent conversation.Message
	_ = json.Unmarshal(n.mustCall("POST", "/v1/conversations/"+id+"/messages", annToken, map[string]string{"type": "text", "text": "hello"}, 201), &sent)
	// Read in the store, whichever way its statuses came: applied, or parked until the send's answer was recorded.
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(annToken, id)
		for _, m := range v.Messages {
			if m.ID == sent.ID && m.Status == conversation.Read {
				return n.metric("switchboard_outbound_sent_total") == 1
			}
		}
		return false
	}, "reply sent and read")
	if got := n.metric("switchboard_records_applied_total", `kind="status"`) + n.metric("switchboard_records_applied_total", `kind="status_parked"`); got < 1 || got > 3 {
		t.Errorf("status records applied or parked = %v, want 1 to 3", got)
	}
	// A reply Meta cannot deliver fails for good.
	n.deliver(shopPhone, shopSecret, textMsg("99940000002", "wamid.m2", "hi", time.Now().Unix()))
	badID := conversation.ID("shop-wa", "99940000002")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(annToken, badID)
		return v.AssigneeID == "ann"
	}, "second conversation assigned")
	n.mustCall("POST", "/v1/conversations/"+badID+"/messages", annToken, map[string]string{"type": "text", "text": "hello"}, 201)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_outbound_failed_total", `reason="131026"`) == 1
	}, "undeliverable reply failed")
	n.mustCall("POST", "/v1/conversations/"+id+"/close", annToken, nil, 200)
	n.refused("POST", "/v1/conversations/"+id+"/close", annToken, nil, 409, "already_closed")
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_analytics_rows_total") >= 5
	}, "events stored in ClickHouse")

	moved := map[string][]string{
		"switchboard_records_skipped_total":       {`reason="duplicate"`},
		"switchboard_commands_total":              {`type="close"`, `result="ok"`},
		"switchboard_events_total":                {`type="conversation.assigned"`},
		"switchboard_events_published_total":      nil,
		"switchboard_routing_grants_total":        {`result="ok"`},
		"switchboard_routing_proposals_total":     {`result="assigned"`},
		"switchboard_routing_wait_seconds_count":  nil,
		"switchboard_kafka_produce_seconds_count": nil,
		"switchboard_store_commit_seconds_count":  nil,
		"switchboard_outbound_queued_total":       nil,
		"switchboard_conversation_actors_active":  nil,
		"switchboard_dispatcher_rebuilds_total":   nil,
		"switchboard_operator_capacity":           nil,
		"switchboard_store_disk_bytes":            nil,
		"switchboard_analytics_batches_total":     nil,
	}
	moved["switchboard_changelog_records_total"] = nil
	moved["switchboard_changelog_restore_seconds_count"] = nil
	for name, labels := range moved {
		if got := n.metric(name, labels...); got <= 0 {
			t.Errorf("%s%v = %v, want it moved", name, labels, got)
		}
	}
	if got := n.metric("switchboard_commands_total", `type="close"`, `result="already_closed"`); got != 1 {
		t.Errorf("refused close counted %v times, want 1", got)
	}

	_, scrape := n.get("/metrics", "")
	exposed := map[string]bool{}
	for _, line := range strings.Split(string(scrape), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			exposed[f[2]] = true
		}
	}
	for _, name := range documentedMetrics(t) {
		if !exposed[name] {
			t.Errorf("%s is documented in the README but not exposed on /metrics", name)
		}
	}
	n.stop()
}
