package insights_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// BenchmarkQuery10M measures insight query latency over 10M stored events of ONE tenant, the worst case: 30 days of
// ~333k events (30k conversations) a day, and a small second tenant beside it.
//
// Both query benchmarks build their events the same way: one day of random lifecycles played through the real rules
// (conversations idle for an hour closed, as auto-close would), copied to the earlier days and to the other tenants
// with distinct conversation ids, and 5% of all events stored twice. With SWITCHBOARD_BENCH_CLICKHOUSE=host:port a
// benchmark uses that server, loading the events only when its switchboard.events is empty (one dataset per server).
func BenchmarkQuery10M(b *testing.B) {
	conn := benchConn(b, func(conn driver.Conn) {
		load(b, conn, "acme", 30000, []string{"acme"}, 30, 30)
		load(b, conn, "globex", 3000, []string{"globex"}, 1, 1)
	})
	benchQueries(b, conn, []string{"acme", "globex"})
}

// BenchmarkQuery10MTenants measures insight query latency over 10M stored events of ten tenants: each 30 days of
// ~33k events (3,000 conversations) a day.
func BenchmarkQuery10MTenants(b *testing.B) {
	tenants := make([]string, 10)
	for i := range tenants {
		tenants[i] = fmt.Sprintf("t%d", i)
	}
	conn := benchConn(b, func(conn driver.Conn) { load(b, conn, "t0", 3000, tenants, 30, 30) })
	benchQueries(b, conn, []string{"t0"})
}

func benchConn(b *testing.B, load func(driver.Conn)) driver.Conn {
	ctx := context.Background()
	addr := os.Getenv("SWITCHBOARD_BENCH_CLICKHOUSE")
	if addr == "" {
		addr = chtest.Start(b)
	}
	conn, err := schema.Open(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	if _, err := schema.Migrate(ctx, conn); err != nil {
		b.Fatal(err)
	}
	var have uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM switchboard.events`).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		start := time.Now()
		load(conn)
		// Let the background merges that follow a bulk load finish, as they would long before a dashboard looks.
		if err := conn.Exec(ctx, `OPTIMIZE TABLE switchboard.conversations FINAL`); err != nil {
			b.Fatal(err)
		}
		b.Logf("loaded in %v", time.Since(start).Round(time.Millisecond))
	}
	var total uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM switchboard.events`).Scan(&total); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events stored", total)
	return conn
}

func benchQueries(b *testing.B, conn driver.Conn, tenants []string) {
	ctx := context.Background()
	big := tenants[0]
	cases := []struct {
		name string
		f    insights.Filter
	}{
		{big + "-24h-live", insights.Filter{Tenant: big}},
		{big + "-24h-raw", insights.Filter{Tenant: big, Raw: true}},
		{big + "-7d-live", insights.Filter{Tenant: big, Since: 7 * 24 * time.Hour}},
		{big + "-30d-live", insights.Filter{Tenant: big, Since: 30 * 24 * time.Hour}},
	}
	for _, t := range tenants[1:] {
		cases = append(cases, struct {
			name string
			f    insights.Filter
		}{t + "-24h-live", insights.Filter{Tenant: t}})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var r insights.Report
			var err error
			for b.Loop() {
				if r, err = insights.Query(ctx, conn, c.f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.MessagesIn+r.MessagesOut), "messages")
			if r.Finished == 0 {
				b.Fatalf("empty report %+v", r.Figures)
			}
		})
	}
}

// load stores, for each of tenants, copies copies of the same day of tenant base's random conversations (n of them),
// spread over the last days days (copy k of a tenant k % days days earlier).
func load(b *testing.B, conn driver.Conn, base string, n int, tenants []string, copiesEach, days int) {
	ctx := context.Background()
	now := time.Now()
	sim := scenario.New(b, base, base+"-wa")
	scenario.Random(sim, rand.New(rand.NewPCG(3, 4)), []string{"alice", "bob", "carol", "dave", "erin", "frank",
		"grace", "heidi"}, []string{"billing", "vip", "bug", "sales"}, now.Add(-26*time.Hour), 24*time.Hour, n)
	for _, cust := range sim.Customers() {
		c := sim.Conversation(cust)
		if c.Status != conversation.Closed && c.UpdatedAt.Before(now.Add(-2*time.Hour)) {
			sim.Close(cust, "system", c.UpdatedAt.Add(time.Hour))
		}
	}
	rows := scenario.Rows(b, sim.Events)
	for i := 0; i < len(rows); i += 100000 {
		if err := schema.Insert(ctx, conn, rows[i:min(i+100000, len(rows))]); err != nil {
			b.Fatal(err)
		}
	}
	// Copy k (1 ≤ k < copiesEach × tenants) goes to tenant k / copiesEach, day k % copiesEach % days earlier.
	if copies := copiesEach * len(tenants); copies > 1 {
		tlist := "["
		for i, t := range tenants {
			if i > 0 {
				tlist += ", "
			}
			tlist += "'" + t + "'"
		}
		tlist += "]"
		q := fmt.Sprintf(`INSERT INTO switchboard.events (id, type, at, at_ns, seq, tenant_id, channel_id,
		conversation_id, contact_id, actor_id, operator_id, previous_operator_id, assignee_id, message_id, status, labels,
		wait_seconds, first_response_seconds, handling_seconds, message_status, error_code, error_title, inserted_at)
		SELECT concat(conversation_id, 'k', toString(k), substring(id, length(conversation_id) + 1)), type,
			at - ((k %% %[1]d %% %[5]d) * 86400), at_ns, seq, %[2]s[intDiv(k, %[1]d) + 1], channel_id,
			concat(conversation_id, 'k', toString(k)), contact_id, actor_id, operator_id, previous_operator_id,
			assignee_id, message_id, status, labels, wait_seconds, first_response_seconds, handling_seconds,
			message_status, error_code, error_title, inserted_at
		FROM switchboard.events ARRAY JOIN arrayMap(x -> x + 1, range(%[3]d)) AS k WHERE tenant_id = '%[4]s'`,
			copiesEach, tlist, copies-1, base, days)
		if err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	if err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO switchboard.events SELECT * FROM switchboard.events
		WHERE has(['%s'], tenant_id) AND cityHash64(id) %% 20 = 0`, joinQuoted(tenants))); err != nil {
		b.Fatal(err)
	}
}

func joinQuoted(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += "', '"
		}
		out += s
	}
	return out
}

// BenchmarkSummary7d measures the insights screen's query (QuerySummary) over seven days of ONE tenant holding 10M
// events: 30 copies of a day of 30k random conversations spread over the last 7 days (~1.4M events a day), beside
// three other tenants' 7 days of 3,000 conversations a day, and 5% of all events stored twice. The hours are rolled
// up as the sink would once they settled (schema.Roll as of RollMargin later: the load's inserts are all "now").
// It reports the median and 95th percentile of 20 runs of each case.
func BenchmarkSummary7d(b *testing.B) {
	ctx := context.Background()
	conn := benchConn(b, func(conn driver.Conn) {
		load(b, conn, "acme", 30000, []string{"acme"}, 30, 7)
		load(b, conn, "t1", 3000, []string{"t1", "t2", "t3"}, 7, 7)
	})
	start := time.Now()
	n, err := schema.Roll(ctx, conn, time.Now().Add(schema.RollMargin+time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("rolled up %d hours in %v", n, time.Since(start).Round(time.Millisecond))
	var acme uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM switchboard.events WHERE tenant_id = 'acme'`).Scan(&acme); err != nil {
		b.Fatal(err)
	}
	b.Logf("acme holds %d events", acme)
	now := time.Now()
	cases := []struct {
		name string
		r    insights.Range
	}{
		{"acme-7d-live", insights.Range{Tenant: "acme", From: now.Add(-7 * 24 * time.Hour)}},
		{"acme-7d-ragged-past", insights.Range{Tenant: "acme", From: now.Add(-7*24*time.Hour - 17*time.Minute), To: now.Add(-3*time.Hour - 13*time.Minute)}},
		{"acme-24h-live", insights.Range{Tenant: "acme", From: now.Add(-24 * time.Hour)}},
		{"t1-7d-live", insights.Range{Tenant: "t1", From: now.Add(-7 * 24 * time.Hour)}},
	}
	// Last, as live traffic leaves it: acme's latest 20 minutes of events stored again after the roll-ups and the open
	// conversations' snapshot (an insert time past what they cover), so those hours and conversations are read from the
	// raw events and the aggregate. The next run's roll settles them.
	cases = append(cases, struct {
		name string
		r    insights.Range
	}{"acme-7d-live-unsettled", insights.Range{Tenant: "acme", From: now.Add(-7 * 24 * time.Hour)}})
	unsettle := func() {
		q := fmt.Sprintf(`INSERT INTO switchboard.events SELECT id, type, at, at_ns, seq, tenant_id, channel_id,
			conversation_id, contact_id, actor_id, operator_id, previous_operator_id, assignee_id, message_id, status, labels,
			wait_seconds, first_response_seconds, handling_seconds, message_status, error_code, error_title, toDateTime(%d)
			FROM switchboard.events
			WHERE tenant_id = 'acme' AND at >= (SELECT max(at) FROM switchboard.events WHERE tenant_id = 'acme') - 1200`,
			time.Now().Add(2*time.Minute).Unix())
		if err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range cases {
		if c.name == "acme-7d-live-unsettled" {
			unsettle()
		}
		b.Run(c.name, func(b *testing.B) {
			var ds []time.Duration
			var s insights.Summary
			for b.Loop() {
				for range 20 {
					t0 := time.Now()
					if s, err = insights.QuerySummary(ctx, conn, c.r); err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(t0))
				}
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Milliseconds()), "p50-ms")
			b.ReportMetric(float64(ds[len(ds)*95/100].Milliseconds()), "p95-ms")
			b.ReportMetric(float64(s.Totals.MessagesIn+s.Totals.MessagesOut), "messages")
			if s.Totals.Finished == 0 {
				b.Fatalf("empty summary %+v", s.Totals)
			}
		})
	}
}
