package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// TestSnapshotOpen: a snapshot holds the open conversations only, is taken again only once OpenEvery has passed,
// and the snapshots of days before the latest's day but one are dropped.
func TestSnapshotOpen(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	at := time.Now().Add(-time.Hour).UTC()
	if err := schema.Insert(ctx, conn, []schema.Event{
		{ID: "c1-1-0", Type: "conversation.created", At: at, TenantID: "acme", ConversationID: "c1", Status: "unassigned", Seq: 1},
		{ID: "c1-2-0", Type: "conversation.closed", At: at.Add(time.Minute), TenantID: "acme", ConversationID: "c1", Status: "closed", Seq: 2},
		{ID: "c2-1-0", Type: "message.received", At: at, TenantID: "acme", ConversationID: "c2", Status: "assigned", AssigneeID: "alice", Seq: 1},
	}); err != nil {
		t.Fatal(err)
	}
	// A snapshot of a day long gone, which the next snapshot drops.
	if err := conn.Exec(ctx, `INSERT INTO switchboard.insights_open (version, taken_at, tenant_id, conversation_id, status,
		assignee_id, awaiting) SELECT toUInt64(1), now() - 3 * 86400, 'acme', 'old', 'assigned', '', 0`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	took, err := schema.SnapshotOpen(ctx, conn, now)
	if err != nil || !took {
		t.Fatalf("first snapshot: %v %v", took, err)
	}
	if took, err := schema.SnapshotOpen(ctx, conn, now.Add(schema.OpenEvery-time.Second)); err != nil || took {
		t.Fatalf("a snapshot again before OpenEvery: %v %v", took, err)
	}
	snap, ok, err := schema.LatestOpen(ctx, conn)
	if err != nil || !ok || snap.Version != uint64(now.UnixNano()) || !snap.Covered.Equal(now.Add(-schema.RollMargin).UTC().Truncate(time.Second)) {
		t.Fatalf("latest %+v %v %v", snap, ok, err)
	}
	var convs []struct {
		ID       string `ch:"conversation_id"`
		Status   string `ch:"status"`
		Assignee string `ch:"assignee_id"`
		Awaiting uint8  `ch:"awaiting"`
	}
	if err := conn.Select(ctx, &convs, `SELECT conversation_id, status, assignee_id, awaiting FROM switchboard.insights_open
		ORDER BY version, conversation_id`); err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 || convs[0].ID != "c2" || convs[0].Status != "assigned" || convs[0].Assignee != "alice" || convs[0].Awaiting != 1 {
		t.Errorf("snapshot rows %+v: want c2 alone (c1 is closed, the old day dropped)", convs)
	}
	if took, err := schema.SnapshotOpen(ctx, conn, now.Add(schema.OpenEvery)); err != nil || !took {
		t.Fatalf("a snapshot after OpenEvery: %v %v", took, err)
	}
}
