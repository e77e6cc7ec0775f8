package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/api"
)

// insightsCall is what the fake InsightsRange was asked.
type insightsCall struct {
	tenant   string
	from, to time.Time
}

func startInsights(t *testing.T) (*env, func() []insightsCall) {
	var (
		mu    sync.Mutex
		calls []insightsCall
	)
	e := start(t, options{
		insights: func(_ context.Context, tenant string, since time.Duration, byOperator bool) (any, error) {
			r := map[string]any{"tenant": tenant, "since": since.String(), "by_operator": []string{}}
			if byOperator {
				r["by_operator"] = []string{"alice"}
			}
			return r, nil
		},
		configure: func(c *api.Config) {
			c.InsightsRange = func(_ context.Context, tenant string, from, to time.Time) (api.InsightsSummary, error) {
				mu.Lock()
				calls = append(calls, insightsCall{tenant, from, to})
				mu.Unlock()
				end := to
				if end.IsZero() {
					end = now
				}
				tot := api.InsightsTotals{Finished: 3, Active: 1, AvgHandlingSeconds: 12.5}
				return api.InsightsSummary{From: from, To: end, Totals: tot,
					ByOperator: []api.InsightsOperator{{OperatorID: "=cmd|' /C calc'!A0", InsightsTotals: tot}, {OperatorID: "alice"}},
					ByHour:     []api.InsightsHour{{Start: from.Truncate(time.Hour), InsightsTotals: tot}}}, nil
			}
		},
	})
	return e, func() []insightsCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]insightsCall(nil), calls...)
	}
}

func TestInsightsRange(t *testing.T) {
	e, calls := startInsights(t)
	q := func(v url.Values) string { return "/v1/insights?" + v.Encode() }
	from, to := now.Add(-7*24*time.Hour), now.Add(-time.Hour)

	// An admin's summary of a range: the caller's tenant, the range as given, by_operator present.
	r := e.do(t, "GET", q(url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}), daveToken, "")
	if r.status != 200 {
		t.Fatalf("range: %s", r)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["by_operator"]; !ok {
		t.Errorf("an admin's summary lacks by_operator: %s", r.body)
	}
	if c := calls(); len(c) != 1 || c[0].tenant != "globex" || !c[0].from.Equal(from) || !c[0].to.Equal(to) {
		t.Errorf("asked %+v, want globex %v..%v", c, from, to)
	}
	// No to: now (the zero time, live); no from: 24 h before to. A to in the future is now.
	for _, v := range []url.Values{{"from": {from.Format(time.RFC3339)}}, {"to": {now.Add(time.Hour).Format(time.RFC3339)}}} {
		if r := e.do(t, "GET", q(v), bobToken, ""); r.status != 200 {
			t.Fatalf("%v: %s", v, r)
		}
	}
	c := calls()
	if len(c) != 3 || c[1].tenant != "acme" || !c[1].to.IsZero() || !c[2].to.IsZero() || !c[2].from.Equal(now.Add(-24*time.Hour)) {
		t.Errorf("defaults: asked %+v", c[1:])
	}
	// A builder sees by_operator; an operator has no insights at all (permissions.go, insights.read).
	for _, tc := range []struct {
		token string
		want  bool
	}{{carolToken, true}} {
		r := e.do(t, "GET", q(url.Values{"from": {from.Format(time.RFC3339)}}), tc.token, "")
		var m map[string]any
		if r.status != 200 || json.Unmarshal(r.body, &m) != nil {
			t.Fatalf("%s", r)
		}
		if _, ok := m["by_operator"]; ok != tc.want {
			t.Errorf("by_operator present = %v, want %v: %s", ok, tc.want, r.body)
		}
		if _, ok := m["totals"]; !ok {
			t.Errorf("no totals: %s", r.body)
		}
	}
	wantError(t, "an operator's summary", e.do(t, "GET", q(url.Values{"from": {from.Format(time.RFC3339)}}), aliceToken, ""),
		http.StatusForbidden, "forbidden")
	wantError(t, "an operator's since report", e.do(t, "GET", "/v1/insights?since=1h", aliceToken, ""),
		http.StatusForbidden, "forbidden")
	r = e.do(t, "GET", "/v1/insights?since=1h", bobToken, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"by_operator":["alice"]`) {
		t.Errorf("an admin's since report: %s", r)
	}

	// Bad ranges: 400 naming the parameter; nothing queried.
	n := len(calls())
	for _, tc := range []struct {
		v    url.Values
		code string
	}{
		{url.Values{"from": {"yesterday"}}, "invalid_from"},
		{url.Values{"from": {""}}, "invalid_from"},
		{url.Values{"to": {"2026-13-01T00:00:00Z"}}, "invalid_to"},
		{url.Values{"from": {to.Format(time.RFC3339)}, "to": {from.Format(time.RFC3339)}}, "invalid_range"},
		{url.Values{"from": {to.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}, "invalid_range"},
		{url.Values{"from": {now.Add(-93 * 24 * time.Hour).Format(time.RFC3339)}}, "invalid_range"},
		{url.Values{"from": {from.Format(time.RFC3339)}, "since": {"24h"}}, "invalid_since"},
	} {
		r := e.do(t, "GET", q(tc.v), bobToken, "")
		wantError(t, tc.v.Encode(), r, http.StatusBadRequest, tc.code)
		if !strings.Contains(string(r.body), strings.TrimPrefix(tc.code, "invalid_")) {
			t.Errorf("%v: the message does not name the parameter: %s", tc.v, r.body)
		}
	}
	if len(calls()) != n {
		t.Errorf("a refused range was queried")
	}
	// 92 days is allowed.
	if r := e.do(t, "GET", q(url.Values{"from": {now.Add(-92 * 24 * time.Hour).Format(time.RFC3339)}}), bobToken, ""); r.status != 200 {
		t.Errorf("92 days: %s", r)
	}
}

func TestInsightsCSV(t *testing.T) {
	e, _ := startInsights(t)
	from := url.QueryEscape(now.Add(-3 * time.Hour).Format(time.RFC3339))
	read := func(r response) [][]string {
		t.Helper()
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %s", r)
		}
		recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	recs := read(e.do(t, "GET", "/v1/insights.csv?from="+from, carolToken, ""))
	if len(recs) != 3 || recs[0][0] != "hour" || recs[0][1] != "finished" || recs[1][1] != "3" || recs[2][0] != "total" ||
		recs[2][len(recs[2])-1] != "12.500" {
		t.Errorf("by hour: %q", recs)
	}
	recs = read(e.do(t, "GET", "/v1/insights.csv?rows=operator&from="+from, carolToken, ""))
	if len(recs) != 4 || recs[0][0] != "operator" || recs[1][0] != "'=cmd|' /C calc'!A0" || recs[2][0] != "alice" {
		t.Errorf("by operator (formula neutralised): %q", recs)
	}
	wantError(t, "an operator's by-operator CSV", e.do(t, "GET", "/v1/insights.csv?rows=operator", aliceToken, ""),
		http.StatusForbidden, "forbidden")
	wantError(t, "an operator's CSV", e.do(t, "GET", "/v1/insights.csv", aliceToken, ""), http.StatusForbidden, "forbidden")
	wantError(t, "rows", e.do(t, "GET", "/v1/insights.csv?rows=label", bobToken, ""), http.StatusBadRequest, "invalid_rows")
	wantError(t, "csv from", e.do(t, "GET", "/v1/insights.csv?from=x", bobToken, ""), http.StatusBadRequest, "invalid_from")
	wantError(t, "no token", e.do(t, "GET", "/v1/insights.csv", "", ""), http.StatusUnauthorized, "unauthorized")
}

func TestInsightsRangeUnavailable(t *testing.T) {
	e := start(t, options{})
	wantError(t, "no clickhouse", e.do(t, "GET", "/v1/insights?from=2025-10-01T00:00:00Z", bobToken, ""),
		http.StatusServiceUnavailable, "analytics_unavailable")
	wantError(t, "no clickhouse csv", e.do(t, "GET", "/v1/insights.csv", bobToken, ""),
		http.StatusServiceUnavailable, "analytics_unavailable")
}

// TestParseInsightsRange: the from/to rule GET /v1/insights and `switchboard insights` share — RFC 3339 or a UTC day
// (a from day from its first second, a to day to its last), defaults, and the refusals.
func TestParseInsightsRange(t *testing.T) {
	at := time.Date(2026, 12, 10, 15, 30, 0, 0, time.UTC)
	d := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		from, to         string
		wantFrom, wantTo time.Time // wantTo zero: now (live)
		code             string
	}{
		{"", "", at.Add(-24 * time.Hour), time.Time{}, ""},
		{"2026-12-01", "2026-12-07", d("2026-12-01T00:00:00Z"), d("2026-12-07T23:59:59Z"), ""},
		{"2026-12-01T08:00:00+01:00", "", d("2026-12-01T07:00:00Z"), time.Time{}, ""},
		{"", "2026-12-05", d("2026-12-04T23:59:59Z"), d("2026-12-05T23:59:59Z"), ""},
		{"2026-12-09", "2026-12-10", d("2026-12-09T00:00:00Z"), time.Time{}, ""}, // to's day ends after now: live
		{"2026-09-09", "", time.Time{}, time.Time{}, "invalid_range"},            // 92 days and 15.5 h to now: too long
		{"2026-09-10", "2026-12-10", d("2026-09-10T00:00:00Z"), time.Time{}, ""}, // 91 days and 15.5 h
		{"2026-12-07", "2026-12-01", time.Time{}, time.Time{}, "invalid_range"},
		{"2026-12-07", "2026-12-07", d("2026-12-07T00:00:00Z"), d("2026-12-07T23:59:59Z"), ""},
		{"2026-12-11", "", time.Time{}, time.Time{}, "invalid_range"},
		{"yesterday", "", time.Time{}, time.Time{}, "invalid_from"},
		{"2026-12-32", "", time.Time{}, time.Time{}, "invalid_from"},
		{"", "12/07/2026", time.Time{}, time.Time{}, "invalid_to"},
	} {
		from, to, err := api.ParseInsightsRange(tc.from, tc.to, at)
		if tc.code != "" {
			var re *api.InsightsRangeError
			if !errors.As(err, &re) || re.Code != tc.code {
				t.Errorf("%q..%q: %v, want %s", tc.from, tc.to, err, tc.code)
			}
			continue
		}
		if err != nil || !from.Equal(tc.wantFrom) || !to.Equal(tc.wantTo) {
			t.Errorf("%q..%q = %v..%v (%v), want %v..%v", tc.from, tc.to, from, to, err, tc.wantFrom, tc.wantTo)
		}
	}
}
