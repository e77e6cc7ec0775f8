package main

// switchboard insights: the insight figures from ClickHouse for a terminal or a script. With --from/--to (or --csv)
// it prints the insights screen's summary of the range — the figures GET /v1/insights?from=&to= answers, by
// operator and by hour, the same range rule (api.ParseInsightsRange) and the same CSV (api.WriteInsightsCSV);
// with --since alone the full report of the window (docs/contract.md).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/schema"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
)

const insightsUsage = `Usage:
  switchboard insights --clickhouse-addr HOST:PORT [--tenant T] [--since 24h] [--json]
  switchboard insights --clickhouse-addr HOST:PORT [--tenant T] [--from FROM] [--to TO] [--json | --csv [--rows hour|operator]]

--from and --to are RFC 3339 times (2026-12-01T08:00:00Z) or UTC days (2026-12-01: a from day starts at its first
second, a to day ends at its last); to absent is now, from absent 24 hours before to; at most 92 days, as
GET /v1/insights?from=&to= takes them. With them (or --csv) it prints the summary of the range: totals, by operator,
by hour; --json is the API's JSON, --csv the API's CSV (GET /v1/insights.csv). --since alone prints the full report
of the window ending now. Exit status 2 for bad arguments.`

// usageError is a bad argument: main exits with status 2 for it.
type usageError struct{ error }

func insightsCmd(args []string) error {
	return runInsights(args, os.Stdout, os.Stderr, time.Now)
}

func runInsights(args []string, stdout, stderr io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet("insights", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("clickhouse-addr", "", "ClickHouse native address (host:port)")
	tenant := fs.String("tenant", "", "tenant id; empty: every tenant together")
	since := fs.Duration("since", 24*time.Hour, "window length, ending now (the full report)")
	fromArg := fs.String("from", "", "start of the range: RFC 3339 or YYYY-MM-DD (UTC)")
	toArg := fs.String("to", "", "end of the range: RFC 3339 or YYYY-MM-DD (UTC, the whole day); empty: now")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	asCSV := fs.Bool("csv", false, "print the range's summary as CSV (one row per hour or operator, then the total)")
	rowsArg := fs.String("rows", "hour", "the CSV's rows: hour or operator")
	fs.Usage = func() { fmt.Fprintln(stderr, insightsUsage); fs.PrintDefaults() }
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Errorf("insights: %w", err)}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	bad := func(format string, a ...any) error { return usageError{fmt.Errorf("insights: "+format, a...)} }
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case *addr == "":
		return bad("--clickhouse-addr is required")
	case *asJSON && *asCSV:
		return bad("--json and --csv exclude each other")
	case set["rows"] && !*asCSV:
		return bad("--rows is for --csv")
	case set["since"] && (set["from"] || set["to"]):
		return bad("--since cannot be combined with --from and --to")
	case set["since"] && (*since <= 0 || *since > 400*24*time.Hour):
		return bad("--since must be between 1s and 400 days")
	}
	rows, err := api.InsightsCSVRows(*rowsArg)
	if err != nil {
		return bad("--rows must be hour or operator")
	}
	summary := set["from"] || set["to"] || *asCSV
	var from, to time.Time
	if summary {
		if set["since"] {
			*fromArg = now().Add(-*since).UTC().Format(time.RFC3339)
		}
		// A flag given empty is a mistake, as the API's parameter given empty is.
		if set["from"] && *fromArg == "" || set["to"] && *toArg == "" {
			return bad("--from and --to need a value")
		}
		if from, to, err = api.ParseInsightsRange(*fromArg, *toArg, now()); err != nil {
			var re *api.InsightsRangeError
			if errors.As(err, &re) {
				return bad("%s (%s)", re.Message, re.Code)
			}
			return bad("%v", err)
		}
	}
	conn, err := schema.Open(*addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !summary {
		rep, err := insights.Query(ctx, conn, insights.Filter{Tenant: *tenant, Since: *since})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rep)
		}
		return insights.WriteTable(stdout, rep)
	}
	sum, err := node.InsightsRange(conn)(ctx, *tenant, from, to)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return writeJSON(stdout, sum)
	case *asCSV:
		return api.WriteInsightsCSV(stdout, rows, sum)
	}
	return writeSummaryTable(stdout, *tenant, sum)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeSummaryTable writes a range's summary for a terminal: the totals, then by operator, then the hours with any
// activity. Durations are averages in seconds ("-" for none).
func writeSummaryTable(w io.Writer, tenant string, s api.InsightsSummary) error {
	if tenant == "" {
		tenant = "all tenants"
	}
	fmt.Fprintf(w, "Insights for %s, %s to %s (UTC)\n\n", tenant, s.From.UTC().Format(time.DateTime), s.To.UTC().Format(time.DateTime))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "\tfinished\tactive\tunanswered\tawaiting reply\tin\tout\tfirst responses\tavg response\tassignments\tavg wait\thandlings\tavg handling\t\n"
	row := func(key string, t api.InsightsTotals) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%d\t%s\t\n", key, t.Finished, t.Active, t.Unanswered,
			t.AwaitingReply, t.MessagesIn, t.MessagesOut, t.FirstResponses, secs(t.AvgFirstResponseSeconds, t.FirstResponses),
			t.Assignments, secs(t.AvgWaitSeconds, t.Assignments), t.Handlings, secs(t.AvgHandlingSeconds, t.Handlings))
	}
	fmt.Fprint(tw, head)
	row("total", s.Totals)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprint(w, "\nBy operator\n")
	if len(s.ByOperator) == 0 {
		fmt.Fprint(w, "(none)\n")
	} else {
		fmt.Fprint(tw, head)
		for _, o := range s.ByOperator {
			row(o.OperatorID, o.InsightsTotals)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprint(w, "\nBy hour (UTC; hours without activity left out)\n")
	busy := 0
	for _, h := range s.ByHour {
		t := h.InsightsTotals
		if t.Finished+t.MessagesIn+t.MessagesOut+t.FirstResponses+t.Assignments+t.Handlings == 0 {
			continue
		}
		if busy == 0 {
			fmt.Fprint(tw, head)
		}
		busy++
		row(h.Start.UTC().Format("2006-01-02 15:04"), t)
	}
	if busy == 0 {
		fmt.Fprint(w, "(none)\n")
		return nil
	}
	return tw.Flush()
}

// secs formats an average in seconds: "-" without samples, one decimal otherwise.
func secs(x float64, n uint64) string {
	if n == 0 {
		return "-"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", x), ".0")
}
