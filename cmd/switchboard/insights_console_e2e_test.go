package main_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
)

// insightsTotals is the totals object of GET /v1/insights?from=.
type insightsTotals struct {
	Finished         uint64  `json:"finished"`
	Active           uint64  `json:"active"`
	Unanswered       uint64  `json:"unanswered"`
	MessagesIn       uint64  `json:"messages_in"`
	FirstResponses   uint64  `json:"first_responses"`
	AvgFirstResponse float64 `json:"avg_first_response_seconds"`
	Handlings        uint64  `json:"handlings"`
	AvgHandling      float64 `json:"avg_handling_seconds"`
}

// TestConsoleInsights: conversations through the simulator and a node with a real ClickHouse — some finished by
// alice, one held by bob, some left waiting; the Insights page shows the API's figures as cards, the hourly chart and
// (for alice, an admin) the by-operator table and its CSV; bob, an operator, sees the cards but no per-operator
// figures, and the API refuses him the by-operator CSV; with ClickHouse gone the page says so.
func TestConsoleInsights(t *testing.T) {
	ch := chtest.StartServer(t)
	n, _ := startConsoleNode(t, "--clickhouse-addr", ch.Addr())
	now := time.Now()
	var ids []string
	for i := range 6 {
		from := fmt.Sprintf("3560000%04d", i)
		customerWrites(t, n, named(from, fmt.Sprintf("Customer %d", i), fmt.Sprintf("wamid.in%d", i), "Hello, I need help",
			now.Add(-time.Duration(10-i)*time.Minute)))
		ids = append(ids, conversation.ID("acme-wa", from))
	}
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(conAlice, "status=unassigned")) == 6
	}, "six conversations waiting")
	n.mustCall("PUT", "/v1/operators/me/availability", conBob, map[string]string{"availability": "online"}, 200)
	// alice answers and finishes three, bob attends one and answers it, two stay in the queue.
	for _, id := range ids[:3] {
		n.mustCall("POST", "/v1/conversations/"+id+"/attend", conAlice, nil, 200)
		n.mustCall("POST", "/v1/conversations/"+id+"/messages", conAlice, map[string]string{"type": "text", "text": "On it"}, 201)
		n.mustCall("POST", "/v1/conversations/"+id+"/close", conAlice, nil, 200)
	}
	n.mustCall("POST", "/v1/conversations/"+ids[3]+"/attend", conBob, nil, 200)
	n.mustCall("POST", "/v1/conversations/"+ids[3]+"/messages", conBob, map[string]string{"type": "text", "text": "Hi"}, 201)

	from := url.QueryEscape(now.Add(-24 * time.Hour).Format(time.RFC3339))
	var api struct {
		Totals     insightsTotals `json:"totals"`
		ByOperator []struct {
			ID       string `json:"operator_id"`
			Finished uint64 `json:"finished"`
		} `json:"by_operator"`
		ByHour []json.RawMessage `json:"by_hour"`
	}
	eventually.True(t, 60*time.Second, 50*time.Millisecond, func() bool {
		code, b := n.get("/v1/insights?from="+from, conAlice)
		if code != 200 {
			return false
		}
		_ = json.Unmarshal(b, &api)
		tt := api.Totals
		return tt.Finished == 3 && tt.Active == 1 && tt.Unanswered == 2 && tt.FirstResponses == 4 && tt.Handlings == 3
	}, "the API's insights report the conversations")
	if len(api.ByOperator) != 2 || api.ByOperator[0].ID != "alice" || api.ByOperator[0].Finished != 3 || len(api.ByHour) < 24 {
		t.Fatalf("by operator / hour: %+v, %d hours", api.ByOperator, len(api.ByHour))
	}
	// Insights are for admins and builders (insights.read): an operator is refused them, figures and CSV alike.
	if code, b := n.get("/v1/insights?from="+from, conBob); code != 403 || strings.Contains(string(b), "finished") {
		t.Errorf("bob's insights: %d %s", code, b)
	}
	if code, b := n.get("/v1/insights.csv?from="+from, conBob); code != 403 {
		t.Errorf("bob's CSV: %d %s", code, b)
	}
	if code, b := n.get("/v1/insights?from=tomorrow", conAlice); code != 400 || !strings.Contains(string(b), "invalid_from") {
		t.Errorf("a bad from: %d %s", code, b)
	}

	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.click(`#nav-insights`)
	b.waitJS(`location.pathname === '/insights'`, "the insights route")
	b.waitJS(`document.querySelector('#ins-finished')?.dataset.value === '3'`, "the finished card")
	card := func(id string) float64 {
		return jsValue[float64](b, `parseFloat(document.querySelector('#ins-`+id+`').dataset.value)`)
	}
	tt := api.Totals
	for _, c := range []struct {
		id   string
		want float64
	}{{"finished", 3}, {"active", 1}, {"unanswered", 2}, {"response", tt.AvgFirstResponse}, {"handling", tt.AvgHandling}} {
		if got := card(c.id); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("card %s = %v, the API says %v", c.id, got, c.want)
		}
	}
	if tt.AvgFirstResponse <= 0 || tt.AvgHandling <= 0 {
		t.Errorf("durations not measured: %+v", tt)
	}
	b.waitJS(`document.querySelector('#ins-response .ins-card-value').innerText !== '—'`, "a response time shown")
	b.text(`#ins-operators tr[data-operator="alice"] td[data-k="finished"]`, "3")
	b.text(`#ins-operators tr[data-operator="bob"]`, "bob")
	b.waitJS(`document.querySelectorAll('#ins-chart .ins-bar').length >= 1`, "the hourly chart has a bar")
	if got := jsValue[float64](b, `[...document.querySelectorAll('#ins-chart .ins-bar')].reduce((s, r) => s + +r.dataset.v, 0)`); got != 3 {
		t.Errorf("the chart's finished bars add up to %v, want 3", got)
	}
	// The CSV the button links to, fetched with the page's session.
	b.waitJS(`document.querySelector('#ins-csv-operator').href.includes('rows=operator')`, "the CSV link")
	b.js(`fetch(document.querySelector('#ins-csv-operator').href).then(r => r.text()).then(t => { window.insightsCSV = t })`)
	b.waitJS(`typeof window.insightsCSV === 'string'`, "the CSV fetched")
	csv := jsValue[string](b, `window.insightsCSV`)
	if !strings.HasPrefix(csv, "operator,finished,") || !strings.Contains(csv, "\nalice,3,") || !strings.Contains(csv, "\ntotal,3,1,2,") {
		t.Errorf("the by-operator CSV:\n%s", csv)
	}
	b.screenshot("insights")

	// Seven days: the same figures (everything happened in the last hour).
	b.click(`#ins-preset-7d`)
	b.waitJS(`document.querySelectorAll('#ins-chart .ins-bar').length >= 1 && document.querySelector('#ins-finished').dataset.value === '3'`, "7 days")
	// A custom range before any of it: the empty state.
	b.click(`#ins-preset-custom`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#ins-from`)))
	old := now.Add(-72 * time.Hour)
	b.setInput(`#ins-from`, old.Local().Format("2006-01-02T15:04"))
	b.setInput(`#ins-to`, old.Add(24*time.Hour).Local().Format("2006-01-02T15:04"))
	b.run(chromedp.WaitVisible(chromedp.CSS(`#ins-empty`)))
	b.text(`#ins-chart-empty`, "No finished")
	b.screenshot("insights-empty")

	// bob, an operator: insights are for admins and builders (the permission insights.read): no entry, and the
	// page's address says so.
	ob := newBrowser(t)
	ob.signIn(n, conBob, "")
	ob.waitJS(`document.getElementById('tab-unassigned') && !document.getElementById('nav-insights')`, "no Insights entry for bob")
	ob.run(chromedp.Navigate(n.url("/insights")))
	ob.text(`#no-access`, "You do not have access")
	if k := jsValue[int](ob, `document.querySelectorAll('#ins-finished').length`); k != 0 {
		t.Fatal("bob is shown the insights")
	}

	// ClickHouse gone: the page says insights are unavailable.
	ch.Stop()
	b.click(`#ins-refresh`)
	b.text(`#ins-error`, "Insights are unavailable")
	b.screenshot("insights-unavailable")
}
