package insights_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// TestSummaryMatchesCompute holds QuerySummary, which sums hourly roll-ups for whole hours and raw events for the
// rest, to the in-memory reference over random ranges (ragged and whole-hour), through three states of the roll-ups:
// freshly rolled; with late events (and repeats) stored in rolled hours after the roll, which must send those hours
// back to the raw events; and rolled again, with the older roll-up's rows still stored beside the new ones.
func TestSummaryMatchesCompute(t *testing.T) {
	t.Parallel()
	conn := open(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Now()
	var rows []schema.Event
	for _, tenant := range []string{"acme", "globex"} {
		sim := scenario.New(t, tenant, tenant+"-wa")
		scenario.Random(sim, rng, []string{"alice", "bob", "carol", "dave"}, []string{"billing", "vip"},
			now.Add(-50*time.Hour), 44*time.Hour, 250)
		rows = append(rows, scenario.Rows(t, sim.Events)...)
	}
	// acme's events of the last 12 hours are held back under tenant "held" until the late stage, when they reach acme
	// inserted after the open conversations' snapshot: conversations in the snapshot that changed since.
	for i := range rows {
		if rows[i].TenantID == "acme" && rows[i].At.After(now.Add(-12*time.Hour)) {
			rows[i].TenantID = "held"
		}
	}
	if err := schema.Insert(ctx, conn, rows); err != nil {
		t.Fatal(err)
	}
	// Nothing is rolled while its inserts are younger than RollMargin.
	if n, err := schema.Roll(ctx, conn, now); err != nil || n != 0 {
		t.Fatalf("rolled %d hours (err %v) of events inserted just now", n, err)
	}
	// Roll as if RollMargin had passed.
	rollAt := now.Add(schema.RollMargin + 2*time.Minute)
	n, err := schema.Roll(ctx, conn, rollAt)
	if err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Fatalf("rolled %d hours, want the ~45 hours of events", n)
	}
	if again, err := schema.Roll(ctx, conn, rollAt); err != nil || again != 0 {
		t.Fatalf("rolled %d hours again (err %v) with nothing new", again, err)
	}
	check := func(stage string) {
		stored, err := schema.ReadAll(ctx, conn, "")
		if err != nil {
			t.Fatal(err)
		}
		var ranges []insights.Range
		for _, tenant := range []string{"acme", "globex", ""} {
			// Whole hours, ragged edges, a range inside one hour, one of a single second.
			h := now.Truncate(time.Hour)
			ranges = append(ranges,
				insights.Range{Tenant: tenant, From: h.Add(-40 * time.Hour), To: h.Add(-10*time.Hour - time.Second)},
				insights.Range{Tenant: tenant, From: now.Add(-47 * time.Hour), To: now.Add(-3 * time.Hour)},
				insights.Range{Tenant: tenant, From: h.Add(-20*time.Hour + 7*time.Minute), To: h.Add(-20*time.Hour + 50*time.Minute)},
				insights.Range{Tenant: tenant, From: h.Add(-30 * time.Hour), To: h.Add(-30*time.Hour + time.Second)},
			)
			for range 4 {
				a := now.Add(-time.Duration(rng.Int64N(int64(52 * time.Hour))))
				b := a.Add(time.Duration(rng.Int64N(int64(30 * time.Hour))))
				ranges = append(ranges, insights.Range{Tenant: tenant, From: a, To: b})
			}
		}
		for _, r := range ranges {
			got, err := insights.QuerySummary(ctx, conn, r)
			if err != nil {
				t.Fatal(err)
			}
			r.From, r.To = r.From.Truncate(time.Second), r.To.Truncate(time.Second)
			want := insights.SummaryOf(insights.Compute(stored, r.Filter()))
			assertSameJSON(t, fmt.Sprintf("%s: %s %s..%s", stage, r.Tenant, r.From.Format(time.TimeOnly), r.To.Format(time.TimeOnly)), got, want)
		}
		// Live: To zero means now, active and unanswered from the conversations aggregate.
		got, err := insights.QuerySummary(ctx, conn, insights.Range{Tenant: "acme", From: now.Add(-72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		want := insights.SummaryOf(insights.Compute(stored, insights.Filter{Tenant: "acme", Now: got.To, Since: got.To.Sub(got.From)}))
		assertSameJSON(t, stage+": live", got, want)
		if got.Totals.Finished == 0 || got.Totals.Active == 0 || got.Totals.Unanswered == 0 || got.Totals.FirstResponses == 0 ||
			got.Totals.Handlings == 0 || len(got.ByOperator) < 4 || len(got.ByHour) != 73 {
			t.Fatalf("%s: summary exercises too little: %+v, %d operators, %d hours", stage, got.Totals, len(got.ByOperator), len(got.ByHour))
		}
	}
	check("rolled")

	// Erasing a contact blanks contact_id on its rows (a mutation): the roll-ups hold no contact id, stay current,
	// and the figures do not move.
	contactRows := func() (n uint64) {
		if err := conn.QueryRow(ctx, `SELECT count() FROM switchboard.events WHERE contact_id = ?`, rows[0].ContactID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if rows[0].ContactID == "" || contactRows() == 0 {
		t.Fatalf("no rows of contact %q to erase", rows[0].ContactID)
	}
	if err := schema.Anonymise(ctx, conn, []schema.Erasure{{TenantID: "acme", ContactID: rows[0].ContactID}}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, 50*time.Millisecond, func() bool {
		done, err := schema.MutationsDone(ctx, conn)
		return err == nil && done && contactRows() == 0
	}, "the erasure applied")
	if n, err := schema.Roll(ctx, conn, rollAt); err != nil || n != 0 {
		t.Fatalf("an erasure made %d hours stale (err %v)", n, err)
	}
	check("erased")

	// Late events in rolled hours: a copy of some of acme's conversations under new ids, stored after the roll (an
	// insert time past rolled_at and past what the open conversations' snapshot covers), acme's held-back events
	// (later events of conversations the snapshot holds), repeats of a fifth of acme's events with that late insert
	// time (changed conversations whose state did not change), and repeats of a fifth of all events.
	late := rollAt.Add(time.Hour)
	for _, q := range []string{
		`SELECT concat(conversation_id, 'x', substring(id, length(conversation_id) + 1)), type, at, at_ns, seq, tenant_id,
			channel_id, concat(conversation_id, 'x'), contact_id, actor_id, operator_id, previous_operator_id,
			assignee_id, message_id, status, labels, wait_seconds, first_response_seconds, handling_seconds,
			message_status, error_code, error_title, toDateTime(%d)
		FROM switchboard.events WHERE tenant_id = 'acme' AND cityHash64(conversation_id) %% 4 = 0`,
		`SELECT id, type, at, at_ns, seq, 'acme', channel_id, conversation_id, contact_id, actor_id, operator_id,
			previous_operator_id, assignee_id, message_id, status, labels, wait_seconds, first_response_seconds,
			handling_seconds, message_status, error_code, error_title, toDateTime(%d)
		FROM switchboard.events WHERE tenant_id = 'held'`,
		`SELECT id, type, at, at_ns, seq, tenant_id, channel_id, conversation_id, contact_id, actor_id, operator_id,
			previous_operator_id, assignee_id, message_id, status, labels, wait_seconds, first_response_seconds,
			handling_seconds, message_status, error_code, error_title, toDateTime(%d)
		FROM switchboard.events WHERE tenant_id = 'acme' AND cityHash64(id) %% 5 = 1`,
	} {
		if err := conn.Exec(ctx, `INSERT INTO switchboard.events (id, type, at, at_ns, seq, tenant_id, channel_id,
		conversation_id, contact_id, actor_id, operator_id, previous_operator_id, assignee_id, message_id, status, labels,
		wait_seconds, first_response_seconds, handling_seconds, message_status, error_code, error_title, inserted_at) `+
			fmt.Sprintf(q, late.Unix())); err != nil {
			t.Fatal(err)
		}
	}
	var dups []schema.Event
	for i := range rows {
		if rng.IntN(5) == 0 {
			dups = append(dups, rows[i])
		}
	}
	if err := schema.Insert(ctx, conn, dups); err != nil {
		t.Fatal(err)
	}
	check("late events")

	n, err = schema.Roll(ctx, conn, late.Add(schema.RollMargin+time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the hours with late events were not rolled again")
	}
	check("rolled again")
}

// assertSameJSON compares two values through their JSON, numbers to 1e-9 relative.
func assertSameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := toJSON(t, got), toJSON(t, want)
	var diffs []string
	diff("", g, w, &diffs)
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("… and %d more", len(diffs)-20))
		}
		t.Errorf("%s: ClickHouse and Compute differ:\n%s", what, joinLines(diffs))
	}
}

func toJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func joinLines(ss []string) string { return strings.Join(ss, "\n") }

// checkSummaryUnrolled holds QuerySummary to the reference with no roll-up made yet (every hour from the raw events),
// live and ending in the past: the queries of the summary on an engine Roll cannot drive (chdb).
func checkSummaryUnrolled(t *testing.T, q insights.Querier, insert func([]schema.Event)) {
	ctx := context.Background()
	now := time.Now()
	sim := scenario.New(t, "acme", "acme-wa")
	scenario.Random(sim, rand.New(rand.NewPCG(7, 8)), []string{"alice", "bob"}, []string{"vip"}, now.Add(-30*time.Hour), 24*time.Hour, 120)
	rows := scenario.Rows(t, sim.Events)
	insert(rows)
	insert(rows[:len(rows)/5])
	stored := append(rows, rows[:len(rows)/5]...)
	for _, r := range []insights.Range{
		{Tenant: "acme", From: now.Add(-20*time.Hour - 7*time.Minute), To: now.Add(-9*time.Hour - 3*time.Minute)},
		{Tenant: "acme", From: now.Add(-40 * time.Hour)},
	} {
		got, err := insights.QuerySummary(ctx, q, r)
		if err != nil {
			t.Fatal(err)
		}
		if r.To.IsZero() {
			r.To = got.To
		}
		r.From, r.To = r.From.Truncate(time.Second), r.To.Truncate(time.Second)
		assertSameJSON(t, "unrolled "+r.To.Format(time.TimeOnly), got, insights.SummaryOf(insights.Compute(stored, r.Filter())))
		if got.Totals.Finished == 0 {
			t.Fatalf("empty summary %+v", got.Totals)
		}
	}
}

// TestSummaryPastWindow holds the counts at a past end to the reference when the window before it is short (30
// minutes), so that most conversations active after the end are read over their whole history, not the window.
// Not parallel: it sets the package's window while no other test runs.
func TestSummaryPastWindow(t *testing.T) {
	defer insights.SetPastWindow(30 * time.Minute)()
	conn := open(t)
	ctx := context.Background()
	now := time.Now()
	sim := scenario.New(t, "acme", "acme-wa")
	scenario.Random(sim, rand.New(rand.NewPCG(9, 10)), []string{"alice", "bob", "carol"}, []string{"vip"},
		now.Add(-50*time.Hour), 44*time.Hour, 200)
	// Two conversations open across every end below with no message for two days: one assigned to alice and
	// awaiting her reply, one waiting in the queue; each customer writes again an hour ago.
	sim.Customer("quiet-1", now.Add(-49*time.Hour))
	sim.Assign("quiet-1", "alice", now.Add(-48*time.Hour))
	sim.Customer("quiet-2", now.Add(-49*time.Hour))
	sim.Customer("quiet-1", now.Add(-time.Hour))
	sim.Customer("quiet-2", now.Add(-time.Hour))
	if err := schema.Insert(ctx, conn, scenario.Rows(t, sim.Events)); err != nil {
		t.Fatal(err)
	}
	for _, roll := range []bool{false, true} { // the aggregate alone, then a snapshot
		if roll {
			if _, err := schema.Roll(ctx, conn, now.Add(schema.RollMargin+2*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		stored, err := schema.ReadAll(ctx, conn, "")
		if err != nil {
			t.Fatal(err)
		}
		for h := 8; h <= 44; h += 6 {
			r := insights.Range{Tenant: "acme", From: now.Add(-time.Duration(h+5) * time.Hour), To: now.Add(-time.Duration(h) * time.Hour)}
			got, err := insights.QuerySummary(ctx, conn, r)
			if err != nil {
				t.Fatal(err)
			}
			r.From, r.To = r.From.Truncate(time.Second), r.To.Truncate(time.Second)
			want := insights.SummaryOf(insights.Compute(stored, r.Filter()))
			assertSameJSON(t, fmt.Sprintf("rolled %v, ending %dh ago", roll, h), got, want)
			if want.Totals.Active+want.Totals.Unanswered == 0 {
				t.Errorf("ending %dh ago: nothing open to count", h)
			}
		}
	}
}
