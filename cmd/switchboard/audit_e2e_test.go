package main_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// TestAuditThroughTheNode runs a node with a real ClickHouse: an admin changes an operator's capacity and the
// operator tries to change the settings (403); both entries reach switchboard.audit through the outbox, Kafka and
// the analytics sink, secrets and all as GET /v1/audit answers them, and none lands in switchboard.events.
func TestAuditThroughTheNode(t *testing.T) {
	ch := chtest.Start(t)
	n := newNodeConfig(t, conConfig, "--clickhouse-addr", ch)
	n.start()
	n.mustCall("PATCH", "/v1/operators/bob", conAlice, map[string]any{"capacity": 2}, 200)
	n.refused("PATCH", "/v1/settings", conBob, map[string]any{"routing": "auto"}, 403, "forbidden")
	conn, err := schema.Open(ch)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows []schema.AuditRow
	eventually.NoError(t, 60*time.Second, 100*time.Millisecond, func() error {
		rows, err = schema.ReadAudit(context.Background(), conn, "acme")
		if err != nil {
			return err
		}
		if len(rows) != 2 {
			return fmt.Errorf("%d audit rows", len(rows))
		}
		return nil
	}, "waiting for the audit rows in ClickHouse")
	got := map[string]bool{}
	for _, r := range rows {
		got[fmt.Sprintf("%s %s %s %s", r.ActorID, r.Action, r.Target, r.Changes)] = true
	}
	for _, want := range []string{
		`alice operator.changed operator/bob [{"field":"capacity","from":5,"to":2}]`,
		`bob access.denied PATCH /v1/settings []`,
	} {
		if !got[want] {
			t.Errorf("audit rows %v lack %s", got, want)
		}
	}
	events, err := schema.ReadAll(context.Background(), conn, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Type == schema.EventAuditRecorded {
			t.Errorf("an audit event in switchboard.events: %+v", e)
		}
	}
}
