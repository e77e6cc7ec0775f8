package main_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/schema"
	"github.com/switchboard-hq/switchboard/api"
	sbnode "github.com/switchboard-hq/switchboard/cmd/switchboard/node"
)

// TestInsightsCLI: `switchboard insights` against a real ClickHouse holding the scripted scenario (known figures,
// analytics/scenario): --from/--to (RFC 3339 and days) give the API's summary — totals, by operator, by hour — as a
// table, as the API's JSON and as the API's CSV; --since keeps giving the full report; bad arguments exit with
// status 2 and say what is wrong, without querying.
func TestInsightsCLI(t *testing.T) {
	ch := chtest.Start(t)
	ctx := context.Background()
	conn, err := schema.Open(ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	t0 := scenario.ScriptedT0(now)
	acme, globex := scenario.Scripted(t, t0)
	if err := schema.Insert(ctx, conn, append(scenario.Rows(t, acme.Events), scenario.Rows(t, globex.Events)...)); err != nil {
		t.Fatal(err)
	}
	// The scenario's two hours, ending in the past: the counts are as of to.
	from, to := t0.Truncate(time.Hour), t0.Truncate(time.Hour).Add(2*time.Hour-time.Second)
	base := []string{"insights", "--clickhouse-addr", ch, "--tenant", "acme"}
	rng := []string{"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)}
	cli := func(extra ...string) string {
		t.Helper()
		out, errOut, status := runCLI(t, append(append([]string{}, base...), extra...)...)
		if status != 0 {
			t.Fatalf("insights %v: exit %d\n%s", extra, status, errOut)
		}
		return out
	}

	// JSON: the API's summary with the hand-computed figures.
	var sum api.InsightsSummary
	if err := json.Unmarshal([]byte(cli(append(rng, "--json")...)), &sum); err != nil {
		t.Fatal(err)
	}
	tt := sum.Totals
	if tt.Finished != 3 || tt.Active != 1 || tt.Unanswered != 2 || tt.MessagesIn != 10 || tt.MessagesOut != 7 ||
		tt.FirstResponses != 5 || math.Abs(tt.AvgFirstResponseSeconds-87) > 1e-9 || tt.Assignments != 5 ||
		math.Abs(tt.AvgWaitSeconds-25) > 1e-9 || tt.Handlings != 5 || math.Abs(tt.AvgHandlingSeconds-201) > 1e-9 {
		t.Errorf("totals %+v", tt)
	}
	ops := map[string]api.InsightsTotals{}
	for _, o := range sum.ByOperator {
		ops[o.OperatorID] = o.InsightsTotals
	}
	if len(ops) != 3 || ops["alice"].Finished != 2 || ops["carol"].Finished != 1 || ops["bob"].MessagesOut != 2 ||
		ops["alice"].Handlings != 2 || math.Abs(ops["alice"].AvgHandlingSeconds-172.5) > 1e-9 {
		t.Errorf("by operator %+v", sum.ByOperator)
	}
	if len(sum.ByHour) != 2 || !sum.ByHour[0].Start.Equal(from) || sum.ByHour[0].Finished != 2 || sum.ByHour[1].Finished != 1 ||
		!sum.From.Equal(from) || !sum.To.Equal(to) {
		t.Errorf("range %v..%v, by hour %+v", sum.From, sum.To, sum.ByHour)
	}
	// The same summary the node's API answers from the same ClickHouse, field for field.
	want, err := sbnode.InsightsRange(conn)(ctx, "acme", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := json.Marshal(want); string(w) != string(mustJSON(t, sum)) {
		t.Errorf("the CLI's JSON differs from the API's summary:\n%s\n%s", mustJSON(t, sum), w)
	}

	// CSV, both row kinds: the API's columns, a row per hour or operator, the total.
	recs := readCSV(t, cli(append(rng, "--csv")...))
	if len(recs) != 4 || strings.Join(recs[0][:3], ",") != "hour,finished,active" || recs[1][0] != from.Format(time.RFC3339) ||
		recs[1][1] != "2" || recs[3][0] != "total" || recs[3][1] != "3" || recs[3][len(recs[3])-1] != "201.000" {
		t.Errorf("CSV by hour: %q", recs)
	}
	recs = readCSV(t, cli(append(rng, "--csv", "--rows", "operator")...))
	if len(recs) != 5 || recs[0][0] != "operator" || recs[1][0] != "alice" || recs[1][1] != "2" || recs[4][0] != "total" {
		t.Errorf("CSV by operator: %q", recs)
	}

	// The table: totals, by operator, the busy hours.
	table := cli(rng...)
	for _, s := range []string{"Insights for acme", "By operator", "By hour", "alice", "carol", from.Format("2006-01-02 15:04"), "201"} {
		if !strings.Contains(table, s) {
			t.Errorf("the table lacks %q:\n%s", s, table)
		}
	}

	// Days: --from and --to as UTC days are those days' first and last seconds (live when to's day is today).
	day := t0.UTC().Format(time.DateOnly)
	if err := json.Unmarshal([]byte(cli("--from", day, "--to", day, "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	dayStart := t0.UTC().Truncate(24 * time.Hour)
	if !sum.From.Equal(dayStart) || len(sum.ByHour) == 0 || !sum.ByHour[0].Start.Equal(dayStart) {
		t.Errorf("a day's range: %v..%v, %d hours", sum.From, sum.To, len(sum.ByHour))
	}

	// --since alone: the full report, as before (docs/contract.md).
	var rep struct {
		Finished   uint64            `json:"finished"`
		ByOperator []json.RawMessage `json:"by_operator"`
		Hourly     []json.RawMessage `json:"hourly"`
	}
	if err := json.Unmarshal([]byte(cli("--since", "24h", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Finished != 3 || len(rep.ByOperator) != 3 || len(rep.Hourly) < 24 {
		t.Errorf("--since report: finished %d, %d operators, %d hours", rep.Finished, len(rep.ByOperator), len(rep.Hourly))
	}
	if out := cli("--since", "24h"); !strings.Contains(out, "By operator") {
		t.Errorf("--since table:\n%s", out)
	}
	// --since with --csv is the summary of the window ending now.
	if recs := readCSV(t, cli("--since", "6h", "--csv", "--rows", "operator")); len(recs) != 5 || recs[4][1] != "3" {
		t.Errorf("--since --csv: %q", recs)
	}

	// Bad arguments: exit 2, a message naming the problem.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "2026-12-10", "--to", "2026-12-01"}, "from must be before to"},
		{[]string{"--from", "yesterday"}, "invalid_from"},
		{[]string{"--to", "12/01/2026"}, "invalid_to"},
		{[]string{"--from", "2025-01-01", "--to", "2025-06-01"}, "at most 92 days"},
		{[]string{"--from", ""}, "need a value"},
		{[]string{"--since", "24h", "--from", "2026-12-01"}, "--since cannot be combined"},
		{[]string{"--csv", "--rows", "label"}, "--rows must be hour or operator"},
		{[]string{"--json", "--csv"}, "exclude each other"},
		{[]string{"--since", "soon"}, "invalid value"},
	} {
		out, errOut, status := runCLI(t, append(append([]string{}, base...), tc.args...)...)
		if status != 2 || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("insights %v: exit %d, stderr %q (want 2 and %q), stdout %q", tc.args, status, errOut, tc.want, out)
		}
	}
	if _, errOut, status := runCLI(t, "insights", "--tenant", "acme"); status != 2 || !strings.Contains(errOut, "--clickhouse-addr is required") {
		t.Errorf("no address: exit %d %q", status, errOut)
	}
	// An unreachable server is a failure, not a usage error.
	if _, _, status := runCLI(t, "insights", "--clickhouse-addr", freeAddr(t), "--from", day); status != 1 {
		t.Errorf("no server: exit %d, want 1", status)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("%v:\n%s", err, s)
	}
	return recs
}
