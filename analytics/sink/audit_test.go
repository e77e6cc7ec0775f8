package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// TestAuditThroughKafka: audit.recorded events, one produced twice and one malformed among them, go through Kafka
// and the sink into switchboard.audit (each id once, the changes as JSON, secrets as the router wrote them), not
// into switchboard.events; a conversation event after them is stored as before.
func TestAuditThroughKafka(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	e.startSink(reg)
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
	entries := []audit.Entry{
		{ID: "4-0-0", TenantID: "acme", At: at, ActorID: "bob", ActorRole: "admin", Action: audit.ActionOperatorChanged,
			Target: "operator/alice", RequestID: "r1", Changes: []audit.Change{{Field: "capacity",
				From: json.RawMessage("2"), To: json.RawMessage("4")}}},
		{ID: "5-0-0", TenantID: "acme", At: at.Add(time.Second), ActorID: "bob", ActorRole: "admin",
			Action: audit.ActionChannelChanged, Target: "channel/acme-wa", Changes: []audit.Change{{Field: "app_secret",
				From: json.RawMessage("null"), To: json.RawMessage(`"(changed)"`)}}},
		{ID: "6-0-0", TenantID: "acme", At: at.Add(2 * time.Second), ActorID: "alice", ActorRole: "operator",
			Action: audit.ActionAccessDenied, Target: "PATCH /v1/settings"},
		{ID: "1-0-0", TenantID: "globex", At: at, ActorID: "dave", Action: audit.ActionSettingsChanged, Target: "settings"},
	}
	var vals [][]byte
	for _, en := range entries {
		b, err := json.Marshal(audit.NewEvent(en))
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, b)
	}
	e.produce("acme", vals[0], vals[1], vals[0], []byte(`{"type":"audit.recorded","id":"","tenant_id":"acme"}`), vals[2])
	e.produce("globex", vals[3])
	e.produce("acme", []byte(fmt.Sprintf(`{"id":"c9-1-0","type":"conversation.created","at":%q,"tenant_id":"acme","conversation_id":"c9","status":"queued"}`,
		at.Format(time.RFC3339Nano))))
	ctx := context.Background()
	var rows []schema.AuditRow
	eventually.NoError(t, time.Minute, 20*time.Millisecond, func() error {
		var err error
		if rows, err = schema.ReadAudit(ctx, e.conn, "acme"); err != nil {
			return err
		}
		if len(rows) != 3 {
			return fmt.Errorf("%d audit rows of acme", len(rows))
		}
		return nil
	}, "waiting for the audit rows")
	want := []string{
		`4-0-0 bob admin operator.changed operator/alice [{"field":"capacity","from":2,"to":4}] r1`,
		`5-0-0 bob admin channel.changed channel/acme-wa [{"field":"app_secret","from":null,"to":"(changed)"}] `,
		`6-0-0 alice operator access.denied PATCH /v1/settings [] `,
	}
	for i, r := range rows {
		got := fmt.Sprintf("%s %s %s %s %s %s %s", r.ID, r.ActorID, r.ActorRole, r.Action, r.Target, r.Changes, r.RequestID)
		if got != want[i] || !r.At.Equal(entries[i].At) {
			t.Errorf("row %d = %s at %v, want %s at %v", i, got, r.At, want[i], entries[i].At)
		}
	}
	if g, err := schema.ReadAudit(ctx, e.conn, "globex"); err != nil || len(g) != 1 || g[0].ID != "1-0-0" {
		t.Errorf("globex audit rows %+v (err %v)", g, err)
	}
	e.waitStored("the conversation event, and no audit event among the events", func(rows, distinct uint64) bool {
		return rows == 1 && distinct == 1
	})
	waitMetric(t, reg, "switchboard_analytics_skipped_total", `reason="malformed"`, 1)
}

// TestAuditPrunedThroughKafka: an audit.pruned entry has the sink remove its tenant's older rows from
// switchboard.audit (a mutation), keeping the rows at or after the cut, the entry itself and other tenants' rows.
func TestAuditPrunedThroughKafka(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startSink(prometheus.NewRegistry())
	now := time.Now().UTC().Truncate(time.Second)
	entry := func(tenant, id string, at time.Time) []byte {
		b, err := json.Marshal(audit.NewEvent(audit.Entry{ID: id, TenantID: tenant, At: at, ActorID: "bob",
			Action: audit.ActionSettingsChanged, Target: "settings"}))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e.produce("acme", entry("acme", "1-0-0", now.Add(-50*time.Hour)), entry("acme", "2-0-0", now.Add(-49*time.Hour)),
		entry("acme", "3-0-0", now.Add(-47*time.Hour)))
	e.produce("globex", entry("globex", "1-0-0", now.Add(-50*time.Hour)))
	ctx := context.Background()
	ids := func(tenant string) string {
		rows, err := schema.ReadAudit(ctx, e.conn, tenant)
		if err != nil {
			return err.Error() // the sink may not have made the table yet
		}
		out := ""
		for _, r := range rows {
			out += r.ID + " "
		}
		return out
	}
	eventually.True(t, time.Minute, 20*time.Millisecond, func() bool { return ids("acme") == "1-0-0 2-0-0 3-0-0 " },
		"the entries stored")
	before, _ := json.Marshal(now.Add(-48 * time.Hour).Format(time.RFC3339Nano))
	pruned, err := json.Marshal(audit.NewEvent(audit.Entry{ID: "9-1-0", TenantID: "acme", At: now, ActorID: "system",
		Action: audit.ActionPruned, Target: "audit", Changes: []audit.Change{
			{Field: "before", From: json.RawMessage("null"), To: before},
			{Field: "removed", From: json.RawMessage("null"), To: json.RawMessage("2")}}}))
	if err != nil {
		t.Fatal(err)
	}
	e.produce("acme", pruned)
	eventually.True(t, time.Minute, 50*time.Millisecond, func() bool { return ids("acme") == "3-0-0 9-1-0 " },
		"the rows before the cut removed")
	if got := ids("globex"); got != "1-0-0 " {
		t.Errorf("globex rows %q", got)
	}
}

// TestAuditPruneOf: only an audit.pruned entry with a readable cut orders a removal.
func TestAuditPruneOf(t *testing.T) {
	cut := time.Date(2025, 11, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		row schema.AuditRow
		ok  bool
	}{
		{schema.AuditRow{TenantID: "acme", Action: audit.ActionPruned, Changes: `[{"field":"before","from":null,"to":"2025-11-01T08:00:00Z"},{"field":"removed","from":null,"to":3}]`}, true},
		{schema.AuditRow{TenantID: "acme", Action: audit.ActionSettingsChanged, Changes: `[{"field":"before","from":null,"to":"2025-11-01T08:00:00Z"}]`}, false},
		{schema.AuditRow{TenantID: "acme", Action: audit.ActionPruned, Changes: `[{"field":"before","from":null,"to":"yesterday"}]`}, false},
		{schema.AuditRow{TenantID: "acme", Action: audit.ActionPruned, Changes: `[]`}, false},
	} {
		p, ok := schema.AuditPruneOf(tc.row)
		if ok != tc.ok || ok && (p.TenantID != "acme" || !p.Before.Equal(cut)) {
			t.Errorf("%s %s: %+v %v", tc.row.Action, tc.row.Changes, p, ok)
		}
	}
}
