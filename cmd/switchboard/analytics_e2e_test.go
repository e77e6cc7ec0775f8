package main_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
)

// TestInsightsThroughTheNode runs a node with a real ClickHouse: a customer writes, an operator is assigned, replies
// and closes; the analytics sink stores the events and GET /v1/insights reports them.
func TestInsightsThroughTheNode(t *testing.T) {
	ch := chtest.Start(t)
	n := newNodeConfig(t, routingY, "--clickhouse-addr", ch)
	n.start()
	if code, b := n.get("/v1/insights?since=bogus", annToken); code != 400 {
		t.Errorf("bad since: %d %s", code, b)
	}
	n.mustCall("PUT", "/v1/operators/me/availability", annToken, map[string]string{"availability": "online"}, 200)
	from := "27930000001"
	n.deliver(shopPhone, shopSecret, textMsg(from, "wamid.an1", "help", time.Now().Unix()))
	id := conversation.ID("shop-wa", from)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(annToken, id)
		return v.AssigneeID == "ann"
	}, "assigned to ann")
	n.mustCall("POST", "/v1/conversations/"+id+"/messages", annToken, map[string]string{"type": "text", "text": "hello"}, 201)
	n.mustCall("POST", "/v1/conversations/"+id+"/close", annToken, nil, 200)
	var rep struct {
		Finished    int `json:"finished"`
		MessagesIn  int `json:"messages_in"`
		MessagesOut int `json:"messages_out"`
		ByOperator  []struct {
			ID string `json:"operator_id"`
		} `json:"by_operator"`
		AvgFirstResponse float64 `json:"avg_first_response_seconds"`
	}
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, b := n.get("/v1/insights?since=1h", annToken)
		if code != 200 {
			return false
		}
		_ = json.Unmarshal(b, &rep)
		return rep.Finished == 1 && rep.MessagesIn == 1 && rep.MessagesOut == 1
	}, "insights report the closed conversation")
	if rep.AvgFirstResponse <= 0 {
		t.Errorf("first response = %v, want > 0", rep.AvgFirstResponse)
	}
	// Another tenant's operator sees none of it.
	code, b := n.get("/v1/insights?since=1h", quickToken)
	var other struct {
		Finished   int `json:"finished"`
		MessagesIn int `json:"messages_in"`
	}
	_ = json.Unmarshal(b, &other)
	if code != 200 || other.Finished != 0 || other.MessagesIn != 0 {
		t.Errorf("tenant quick sees %d %s", code, b)
	}
	if got := n.metric("switchboard_analytics_rows_total"); got == 0 {
		t.Errorf("analytics sink stored no rows")
	}
	n.stop()
}
