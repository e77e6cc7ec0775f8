package insights_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

func open(t *testing.T) driver.Conn {
	t.Helper()
	conn, err := schema.Open(chtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := schema.Migrate(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestQueryMatchesCompute plays random lifecycles through the real rules for two tenants, stores them with a share of
// the events stored twice, and holds Query (live and raw) to Compute over many filters.
func TestQueryMatchesCompute(t *testing.T) {
	t.Parallel()
	conn := open(t)
	checkRandom(t, conn, func(rows []schema.Event) {
		if err := schema.Insert(context.Background(), conn, rows); err != nil {
			t.Fatal(err)
		}
	})
}

func checkRandom(t *testing.T, q insights.Querier, insert func([]schema.Event)) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	var all []conversation.Event
	for _, tenant := range []string{"acme", "globex"} {
		sim := scenario.New(t, tenant, tenant+"-wa")
		// Every event ends well before now, so the live state (latest) and the state at now agree.
		scenario.Random(sim, rng, []string{"alice", "bob", "carol", "dave"}, []string{"billing", "vip", "bug"},
			now.Add(-50*time.Hour), 44*time.Hour, 300)
		all = append(all, sim.Events...)
	}
	rows := scenario.Rows(t, all)
	insert(rows)
	var dups []schema.Event
	for i := range rows {
		if rng.IntN(5) == 0 {
			dups = append(dups, rows[i])
		}
	}
	insert(dups)
	stored := append(rows, dups...)
	t.Logf("%d events, %d stored twice", len(rows), len(dups))

	// Live: the window ends at the time of the query; Compute is held to the same window.
	for _, tenant := range []string{"acme", "globex", ""} {
		got, err := insights.Query(ctx, q, insights.Filter{Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		want := insights.Compute(stored, insights.Filter{Tenant: tenant, Now: got.To})
		assertSame(t, fmt.Sprintf("live tenant %q", tenant), got, want)
		assertRich(t, got)
	}
	// Raw, at several ends and lengths.
	for _, f := range []insights.Filter{
		{Tenant: "acme", Since: 72 * time.Hour, Raw: true},
		{Tenant: "acme", Now: now.Add(-20 * time.Hour), Since: 6 * time.Hour},
		{Tenant: "globex", Now: now.Add(-30 * time.Hour), Since: 90 * time.Minute},
		{Now: now.Add(-10 * time.Hour), Since: 30 * time.Hour},
	} {
		got, err := insights.Query(ctx, q, f)
		if err != nil {
			t.Fatal(err)
		}
		if f.Now.IsZero() {
			f.Now = got.To
		}
		assertSame(t, fmt.Sprintf("raw %+v", f), got, insights.Compute(stored, f))
	}
}

// assertRich fails when a report is too thin for a comparison to mean anything.
func assertRich(t *testing.T, r insights.Report) {
	t.Helper()
	if r.Finished == 0 || r.Active == 0 || r.Unanswered == 0 || r.MessagesIn == 0 || r.MessagesOut == 0 ||
		r.Wait.Count == 0 || r.FirstResponse.Count == 0 || r.Reply.Count == 0 || r.Handling.Count == 0 ||
		len(r.ByOperator) == 0 || len(r.ByLabel) == 0 || len(r.ByChannel) == 0 || r.AwaitingReply == 0 {
		t.Fatalf("report exercises too little: %+v", r.Figures)
	}
}

// assertSame compares two reports through their JSON, numbers to 1e-9 relative.
func assertSame(t *testing.T, what string, got, want insights.Report) {
	t.Helper()
	assertSameJSON(t, what, got, want)
}

func diff(path string, g, w any, out *[]string) {
	switch w := w.(type) {
	case map[string]any:
		gm, ok := g.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: got %v, want an object", path, g))
			return
		}
		for k := range w {
			diff(path+"."+k, gm[k], w[k], out)
		}
		for k := range gm {
			if _, ok := w[k]; !ok {
				*out = append(*out, fmt.Sprintf("%s.%s: unexpected", path, k))
			}
		}
	case []any:
		ga, ok := g.([]any)
		if !ok || len(ga) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, short(g), short(w)))
			return
		}
		for i := range w {
			diff(fmt.Sprintf("%s[%d]", path, i), ga[i], w[i], out)
		}
	case float64:
		gf, ok := g.(float64)
		if !ok || math.Abs(gf-w) > 1e-9*math.Max(1, math.Abs(w)) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
	default:
		if g != w {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// TestScripted holds the scenario of issue 5 to the figures computed by hand: live, recomputed from the raw events
// in ClickHouse, and recomputed in memory from the stored rows, with conversation A's events all stored twice.
func TestScripted(t *testing.T) {
	t.Parallel()
	conn := open(t)
	ctx := context.Background()
	n := checkScripted(t, conn, func(rows []schema.Event) {
		if err := schema.Insert(ctx, conn, rows); err != nil {
			t.Fatal(err)
		}
	})
	stored, err := schema.ReadAll(ctx, conn, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != n {
		t.Fatalf("%d rows stored, want %d", len(stored), n)
	}
	t0 := scenario.ScriptedT0(time.Now())
	scenario.CheckScripted(t, "recomputed in memory from the stored rows",
		insights.Compute(stored, insights.Filter{Tenant: "acme", Now: t0.Add(2 * time.Hour), Since: 3 * time.Hour}), t0)
}

// checkScripted stores the scenario, conversation A's events twice, checks the figures live and recomputed from the
// raw events, and returns how many rows it stored.
func checkScripted(t *testing.T, q insights.Querier, insert func([]schema.Event)) int {
	ctx := context.Background()
	t0 := scenario.ScriptedT0(time.Now())
	acme, globex := scenario.Scripted(t, t0)
	rows := scenario.Rows(t, append(acme.Events, globex.Events...))
	insert(rows)
	var again []schema.Event
	for _, r := range rows {
		if r.ConversationID == acme.Conversation("a").ID {
			again = append(again, r)
		}
	}
	insert(again)
	live, err := insights.Query(ctx, q, insights.Filter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	scenario.CheckScripted(t, "live", live, t0)
	f := insights.Filter{Tenant: "acme", Now: t0.Add(2 * time.Hour), Since: 3 * time.Hour}
	raw, err := insights.Query(ctx, q, f)
	if err != nil {
		t.Fatal(err)
	}
	scenario.CheckScripted(t, "recomputed from raw events", raw, t0)
	scenario.CheckScripted(t, "recomputed in memory", insights.Compute(append(rows, again...), f), t0)

	// The table the CLI prints carries the figures.
	var out strings.Builder
	if err := insights.WriteTable(&out, live); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Insights for acme", "first response", "By operator", "alice", "By label", "billing", "Hourly"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
	t.Logf("\n%s", out.String())
	checkReadmeSQL(t, q)
	return len(rows) + len(again)
}

// checkReadmeSQL runs every sql block of analytics/README.md, which must each answer rows on the scripted scenario.
func checkReadmeSQL(t *testing.T, q insights.Querier) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(readme), "```sql\n")[1:]
	if len(blocks) < 5 {
		t.Fatalf("README has %d sql blocks", len(blocks))
	}
	for _, b := range blocks {
		sql := b[:strings.Index(b, "```")]
		rows, err := q.Query(context.Background(), sql)
		if err != nil {
			t.Errorf("README SQL fails: %v\n%s", err, sql)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("README SQL fails: %v\n%s", err, sql)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("README SQL answers no rows on the scenario:\n%s", sql)
		}
	}
}
