package insights_test

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// BenchmarkQuery10M measures insight query latency over 10M stored events: one tenant's 30 days of ~333k events a
// day (one day of random lifecycles played through the real rules, copied to 29 more days), 5% of them stored twice,
// and a second tenant's day beside them. With SWITCHBOARD_BENCH_CLICKHOUSE=host:port it uses that server and loads
// the events only when switchboard.events is empty there.
func BenchmarkQuery10M(b *testing.B) {
	ctx := context.Background()
	addr := os.Getenv("SWITCHBOARD_BENCH_CLICKHOUSE")
	if addr == "" {
		addr = chtest.Start(b)
	}
	conn, err := schema.Open(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := schema.Migrate(ctx, conn); err != nil {
		b.Fatal(err)
	}
	var have uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM switchboard.events`).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		load10M(b, conn)
	}
	var total, acme uint64
	if err := conn.QueryRow(ctx, `SELECT count(), countIf(tenant_id = 'acme') FROM switchboard.events`).Scan(&total, &acme); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events stored (%d of acme)", total, acme)
	for _, c := range []struct {
		name string
		f    insights.Filter
	}{
		{"acme-24h-live", insights.Filter{Tenant: "acme"}},
		{"acme-24h-raw", insights.Filter{Tenant: "acme", Raw: true}},
		{"acme-7d-live", insights.Filter{Tenant: "acme", Since: 7 * 24 * time.Hour}},
		{"acme-30d-live", insights.Filter{Tenant: "acme", Since: 30 * 24 * time.Hour}},
		{"globex-24h-live", insights.Filter{Tenant: "globex"}},
		{"all-24h-live", insights.Filter{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var r insights.Report
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

func load10M(b *testing.B, conn driver.Conn) {
	ctx := context.Background()
	now := time.Now()
	start := time.Now()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tenant := range []string{"acme", "globex"} {
		sim := scenario.New(b, tenant, tenant+"-wa")
		n := 30000
		if tenant == "globex" {
			n = 3000
		}
		scenario.Random(sim, rng, []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"},
			[]string{"billing", "vip", "bug", "sales"}, now.Add(-26*time.Hour), 24*time.Hour, n)
		rows := scenario.Rows(b, sim.Events)
		for i := 0; i < len(rows); i += 100000 {
			if err := schema.Insert(ctx, conn, rows[i:min(i+100000, len(rows))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	// 29 earlier days of acme: the same day shifted, with conversation ids made distinct per day.
	if err := conn.Exec(ctx, `INSERT INTO switchboard.events (id, type, at, at_ns, seq, tenant_id, channel_id,
		conversation_id, contact_id, actor_id, operator_id, previous_operator_id, assignee_id, message_id, status, labels,
		wait_seconds, first_response_seconds, handling_seconds, message_status, error_code, error_title, inserted_at)
		SELECT concat(conversation_id, 'd', toString(k), substring(id, length(conversation_id) + 1)), type,
			at - (k * 86400), at_ns, seq, tenant_id, channel_id, concat(conversation_id, 'd', toString(k)), contact_id,
			actor_id, operator_id, previous_operator_id, assignee_id, message_id, status, labels, wait_seconds,
			first_response_seconds, handling_seconds, message_status, error_code, error_title, inserted_at
		FROM switchboard.events ARRAY JOIN arrayMap(x -> x + 1, range(29)) AS k WHERE tenant_id = 'acme'`); err != nil {
		b.Fatal(err)
	}
	// Repeats: 5% of the events stored twice, as after sink crashes.
	if err := conn.Exec(ctx, `INSERT INTO switchboard.events SELECT * FROM switchboard.events WHERE cityHash64(id) % 20 = 0`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded in %v", time.Since(start).Round(time.Millisecond))
}
