package api

// The insights (README, "Analytics"):
//
//   - GET /v1/insights?since=24h — the full report of the last since (docs/contract.md), as before.
//   - GET /v1/insights?from=&to= — the insights screen's summary of any range: from and to are RFC 3339 times or
//     YYYY-MM-DD days (ParseInsightsRange, which `switchboard insights --from --to` shares); to absent means now
//     (active and unanswered are then the live counts), from absent means 24 h before to. The range is [from, to]
//     at one-second resolution, from before to, at most MaxInsightsRange long.
//   - GET /v1/insights.csv?from=&to=&rows=hour|operator — the same summary as CSV: one row per hour (default) or per
//     operator, then a total row.
//
// Always the caller's tenant. Insights, per-operator figures included, are for admins and builders (issue 13): the
// permission insights.read of the matrix (permissions.go) keeps operators out of these routes altogether.

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// MaxInsightsRange is the longest range GET /v1/insights answers.
const MaxInsightsRange = 92 * 24 * time.Hour

// InsightsRangeFunc computes a tenant's summary of [from, to]; a zero to means now.
type InsightsRangeFunc func(ctx context.Context, tenant string, from, to time.Time) (InsightsSummary, error)

// InsightsTotals are the figures of one slice of a range (analytics/insights.Totals, in the API's terms).
type InsightsTotals struct {
	Finished                uint64  `json:"finished"`
	Active                  uint64  `json:"active"`
	Unanswered              uint64  `json:"unanswered"`
	AwaitingReply           uint64  `json:"awaiting_reply"`
	MessagesIn              uint64  `json:"messages_in"`
	MessagesOut             uint64  `json:"messages_out"`
	FirstResponses          uint64  `json:"first_responses"`
	AvgFirstResponseSeconds float64 `json:"avg_first_response_seconds"`
	Assignments             uint64  `json:"assignments"`
	AvgWaitSeconds          float64 `json:"avg_wait_seconds"`
	Handlings               uint64  `json:"handlings"`
	AvgHandlingSeconds      float64 `json:"avg_handling_seconds"`
}

// InsightsOperator are one operator's figures.
type InsightsOperator struct {
	OperatorID string `json:"operator_id"`
	InsightsTotals
}

// InsightsHour are one hour's figures.
type InsightsHour struct {
	Start time.Time `json:"start"`
	InsightsTotals
}

// InsightsSummary is the answer of GET /v1/insights?from=&to= (and of `switchboard insights --from --to --json`).
type InsightsSummary struct {
	From       time.Time          `json:"from"`
	To         time.Time          `json:"to"`
	Totals     InsightsTotals     `json:"totals"`
	ByOperator []InsightsOperator `json:"by_operator"`
	ByHour     []InsightsHour     `json:"by_hour"`
}

// insights answers GET /v1/insights: the summary of a range when from or to is given, else the since report.
func (a *API) insights(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	args := ctx.QueryArgs()
	if args.Has("from") || args.Has("to") {
		if args.Has("since") {
			fail(ctx, codeInvalidSince, "since cannot be combined with from and to")
			return
		}
		sum, ok := a.insightsSummary(ctx, op)
		if !ok {
			return
		}
		if sum.ByOperator == nil {
			sum.ByOperator = []InsightsOperator{}
		}
		a.writeJSON(ctx, fasthttp.StatusOK, sum)
		return
	}
	if a.cfg.Insights == nil {
		fail(ctx, codeAnalyticsUnavailable, "this node has no --clickhouse-addr")
		return
	}
	since := 24 * time.Hour
	if v := string(args.Peek("since")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 400*24*time.Hour {
			fail(ctx, codeInvalidSince, "since must be a Go duration such as 24h or 168h")
			return
		}
		since = d
	}
	qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := a.cfg.Insights(qctx, op.Tenant.ID, since, true)
	if err != nil {
		a.log.Error("query insights", "tenant", op.Tenant.ID, "err", err)
		fail(ctx, codeAnalyticsUnavailable, "the analytics store could not be queried; retry later")
		return
	}
	a.writeJSON(ctx, fasthttp.StatusOK, rep)
}

// InsightsRangeError is a from or to that GET /v1/insights and `switchboard insights` refuse: Code is
// invalid_from, invalid_to or invalid_range, Message says what a good value is.
type InsightsRangeError struct {
	Code, Message string
}

func (e *InsightsRangeError) Error() string { return e.Code + ": " + e.Message }

// insightsDate is the day form of a from or to (a whole UTC day).
const insightsDate = "2006-01-02"

// parseInsightsTime reads an RFC 3339 time or a YYYY-MM-DD day; a day is its first second, or its last with end.
func parseInsightsTime(v string, end bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	d, err := time.Parse(insightsDate, v)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		d = d.Add(24*time.Hour - time.Second)
	}
	return d, true
}

// ParseInsightsRange reads the from and to of an insights range as GET /v1/insights?from=&to= and `switchboard
// insights --from --to` take them ("" for absent): an RFC 3339 time, or a YYYY-MM-DD day (UTC; a from day starts at
// its first second, a to day ends at its last, so --from 2026-12-01 --to 2026-12-07 is seven whole days). An absent
// to, or one at or after now, is now and comes back as the zero time (the live counts); an absent from is 24 hours
// before the end. from must be before the end, and the range at most MaxInsightsRange long. A refusal is an
// *InsightsRangeError.
func ParseInsightsRange(fromArg, toArg string, now time.Time) (from, to time.Time, err error) {
	end := now
	if toArg != "" {
		t, ok := parseInsightsTime(toArg, true)
		if !ok {
			return from, to, &InsightsRangeError{codeInvalidTo, "to must be an RFC 3339 time such as 2026-12-01T00:00:00Z or a day such as 2026-12-01"}
		}
		if t.Before(now) {
			to, end = t, t
		}
	}
	from = end.Add(-24 * time.Hour)
	if fromArg != "" {
		t, ok := parseInsightsTime(fromArg, false)
		if !ok {
			return from, to, &InsightsRangeError{codeInvalidFrom, "from must be an RFC 3339 time such as 2026-12-01T00:00:00Z or a day such as 2026-12-01"}
		}
		from = t
	}
	switch {
	case !from.Before(end):
		return from, to, &InsightsRangeError{codeInvalidRange, "from must be before to (and before now)"}
	case end.Sub(from) > MaxInsightsRange:
		return from, to, &InsightsRangeError{codeInvalidRange, "the range from to to may be at most 92 days"}
	}
	return from, to, nil
}

// insightsRange parses from and to (ParseInsightsRange), answering a refusal itself.
func (a *API) insightsRange(ctx *fasthttp.RequestCtx) (from, to time.Time, ok bool) {
	args := ctx.QueryArgs()
	fromArg, toArg := string(args.Peek("from")), string(args.Peek("to"))
	// A parameter given empty is a mistake, not an absent one.
	if toArg == "" && args.Has("to") {
		toArg = " "
	}
	if fromArg == "" && args.Has("from") {
		fromArg = " "
	}
	from, to, err := ParseInsightsRange(fromArg, toArg, a.cfg.Now())
	if err != nil {
		var re *InsightsRangeError
		if errors.As(err, &re) {
			fail(ctx, re.Code, re.Message)
		}
		return from, to, false
	}
	return from, to, true
}

// insightsSummary parses the range and queries its summary, answering the error itself when it fails.
func (a *API) insightsSummary(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) (InsightsSummary, bool) {
	from, to, ok := a.insightsRange(ctx)
	if !ok {
		return InsightsSummary{}, false
	}
	if a.cfg.InsightsRange == nil {
		fail(ctx, codeAnalyticsUnavailable, "this node has no --clickhouse-addr")
		return InsightsSummary{}, false
	}
	qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := a.cfg.InsightsRange(qctx, op.Tenant.ID, from, to)
	if err != nil {
		a.log.Error("query insights", "tenant", op.Tenant.ID, "err", err)
		fail(ctx, codeAnalyticsUnavailable, "the analytics store could not be queried; retry later")
		return InsightsSummary{}, false
	}
	return sum, true
}

// insightsCSV answers GET /v1/insights.csv.
func (a *API) insightsCSV(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	rows, err := InsightsCSVRows(string(ctx.QueryArgs().Peek("rows")))
	if err != nil {
		fail(ctx, codeInvalidRows, "rows must be hour or operator")
		return
	}
	if ctx.QueryArgs().Has("since") {
		fail(ctx, codeInvalidSince, "the CSV takes from and to, not since")
		return
	}
	sum, ok := a.insightsSummary(ctx, op)
	if !ok {
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/csv; charset=utf-8")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="insights-`+op.Tenant.ID+`-by-`+rows+`.csv"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	_ = WriteInsightsCSV(ctx, rows, sum)
}

// InsightsCSVRows checks the rows of an insights CSV: "hour" (also for "") or "operator".
func InsightsCSVRows(rows string) (string, error) {
	switch rows {
	case "", "hour":
		return "hour", nil
	case "operator":
		return rows, nil
	}
	return "", &InsightsRangeError{codeInvalidRows, "rows must be hour or operator"}
}

// WriteInsightsCSV writes sum as the CSV of GET /v1/insights.csv (README, "The insights screen"): a header, one
// row per hour (rows "hour") or per operator (rows "operator"), then the total row.
func WriteInsightsCSV(w io.Writer, rows string, sum InsightsSummary) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{rows}, insightsColumns...))
	if rows == "hour" {
		for _, h := range sum.ByHour {
			_ = cw.Write(insightsRow(h.Start.UTC().Format(time.RFC3339), h.InsightsTotals))
		}
	} else {
		for _, o := range sum.ByOperator {
			// Operator ids come from the configuration, but a cell is neutralised all the same.
			_ = cw.Write(insightsRow(neutralise(o.OperatorID), o.InsightsTotals))
		}
	}
	_ = cw.Write(insightsRow("total", sum.Totals))
	cw.Flush()
	return cw.Error()
}

// insightsColumns are the CSV's columns after the row's key.
var insightsColumns = []string{"finished", "active", "unanswered", "awaiting_reply", "messages_in", "messages_out",
	"first_responses", "avg_first_response_seconds", "assignments", "avg_wait_seconds", "handlings",
	"avg_handling_seconds"}

func insightsRow(key string, t InsightsTotals) []string {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	return []string{key, u(t.Finished), u(t.Active), u(t.Unanswered), u(t.AwaitingReply), u(t.MessagesIn),
		u(t.MessagesOut), u(t.FirstResponses), f(t.AvgFirstResponseSeconds), u(t.Assignments), f(t.AvgWaitSeconds),
		u(t.Handlings), f(t.AvgHandlingSeconds)}
}
