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
// alice, one held by bob, some left waiting; the Insights page shows the API's figures as cards, the hourly chart
// (with its total in words) and (for alice, an admin) the by-operator chart with its values written out beside the
// table, and its CSV; a custom range takes any from and to; bob, an operator, sees the cards but no per-operator
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
	// The hourly chart says its total and peak in words, and has a labelled grid.
	b.text(`#ins-chart-caption`, "Finished by hour: 3 in total")
	if k := jsValue[int](b, `document.querySelectorAll('#ins-chart .ins-grid').length`); k != 2 {
		t.Errorf("the hourly chart has %d grid lines, want 2 (half and top)", k)
	}
	// The by-operator chart beside the table: a row per operator, most finished first, with bars as long as their
	// share and the values written out (finished, and the average handling time as the table shows it).
	b.waitJS(`document.querySelectorAll('#ins-opchart .ins-oprow').length === 2`, "the by-operator chart")
	if got := jsValue[string](b, `[...document.querySelectorAll('#ins-opchart .ins-oprow')].map(r => r.dataset.operator).join()`); got != "alice,bob" {
		t.Errorf("the by-operator chart's order: %q", got)
	}
	b.text(`#ins-opchart .ins-oprow[data-operator="alice"] .ins-opval[data-k="finished"]`, "3")
	b.text(`#ins-opchart .ins-oprow[data-operator="bob"] .ins-opval[data-k="finished"]`, "0")
	b.text(`#ins-opchart .ins-oprow[data-operator="bob"] .ins-opval[data-k="handling"]`, "—")
	if got, want := jsValue[string](b, `document.querySelector('#ins-opchart .ins-oprow[data-operator="alice"] .ins-opval[data-k="handling"]').innerText`),
		jsValue[string](b, `document.querySelector('#ins-operators tr[data-operator="alice"] td:last-child').innerText`); got != want || got == "—" {
		t.Errorf("alice's average handling in the chart %q, in the table %q", got, want)
	}
	if label := jsValue[string](b, `document.querySelector('#ins-opchart .ins-oprow[data-operator="alice"]').getAttribute('aria-label')`); !strings.HasPrefix(label, "alice: 3 finished, average handling time ") {
		t.Errorf("alice's row reads %q", label)
	}
	widths := jsValue[[]float64](b, `['alice', 'bob'].map(o => document.querySelector('#ins-opchart .ins-oprow[data-operator="' + o + '"] .ins-opbar-finished').getBoundingClientRect().width)`)
	if len(widths) != 2 || widths[0] < 50 || widths[1] != 0 {
		t.Errorf("finished bars %v px: alice's should be long, bob's none", widths)
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
	b.screenshot("insights-7d")
	b.click(`#ins-preset-30d`)
	b.waitJS(`document.querySelector('#ins-range')?.innerText.includes('(now)') && document.querySelectorAll('#ins-chart text.ins-day').length >= 5`, "30 days")
	b.screenshot("insights-30d")
	// A custom range before any of it: the empty state.
	b.click(`#ins-preset-custom`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#ins-from`)))
	old := now.Add(-72 * time.Hour)
	b.setInput(`#ins-from`, old.Local().Format("2006-01-02T15:04"))
	b.setInput(`#ins-to`, old.Add(24*time.Hour).Local().Format("2006-01-02T15:04"))
	b.run(chromedp.WaitVisible(chromedp.CSS(`#ins-empty`)))
	b.text(`#ins-chart-empty`, "No finished")
	b.text(`#ins-operators-empty`, "No operator activity")
	b.screenshot("insights-empty")
	// Any from and to: the range picked is the one asked for; a from after its to is refused with the API's reason.
	b.setInput(`#ins-from`, now.Add(-2*time.Hour).Local().Format("2006-01-02T15:04"))
	b.setInput(`#ins-to`, now.Add(time.Hour).Local().Format("2006-01-02T15:04"))
	b.waitJS(`document.querySelector('#ins-finished')?.dataset.value === '3'`, "a custom range holding everything")
	b.setInput(`#ins-from`, now.Add(-2*time.Hour).Local().Format("2006-01-02T15:04"))
	b.setInput(`#ins-to`, now.Add(-3*time.Hour).Local().Format("2006-01-02T15:04"))
	b.text(`#ins-error`, "from must be before to")
	b.click(`#ins-preset-24h`)
	b.waitJS(`document.querySelector('#ins-finished')?.dataset.value === '3'`, "back to the last 24 hours")
	b.screenshot("insights-24h")

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
