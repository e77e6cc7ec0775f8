package schema_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	conn, err := schema.Open(chtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	did, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint32{}
	for _, m := range schema.Migrations {
		want = append(want, m.Version)
	}
	if !slices.Equal(did, want) {
		t.Fatalf("first Migrate applied %v, want %v", did, want)
	}
	did, err = schema.Migrate(ctx, conn)
	if err != nil || len(did) != 0 {
		t.Fatalf("second Migrate applied %v (err %v), want nothing", did, err)
	}
	applied, err := schema.Applied(ctx, conn)
	if err != nil || !slices.Equal(applied, want) {
		t.Fatalf("Applied = %v (err %v), want %v", applied, err, want)
	}
}

func TestInsertAndReadAll(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	in := []schema.Event{
		{ID: "c1-3-0", Type: "conversation.labels_changed", At: at, TenantID: "acme", ConversationID: "c1",
			Status: "assigned", Labels: []string{"billing", "vip"}, Seq: 3},
		{ID: "c1-m2-failed", Type: "message.status", At: at.Add(time.Second), TenantID: "acme", ConversationID: "c1",
			MessageStatus: "failed", ErrorCode: 131047, ErrorTitle: "Re-engagement message", WaitSeconds: 1.5},
	}
	if err := schema.Insert(ctx, conn, in); err != nil {
		t.Fatal(err)
	}
	out, err := schema.ReadAll(ctx, conn, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d rows, want %d", len(out), len(in))
	}
	for i := range in {
		if !out[i].At.Equal(in[i].At) || out[i].ID != in[i].ID || !slices.Equal(out[i].Labels, in[i].Labels) ||
			out[i].ErrorCode != in[i].ErrorCode || out[i].Seq != in[i].Seq || out[i].WaitSeconds != in[i].WaitSeconds {
			t.Errorf("row %d = %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestDecode(t *testing.T) {
	e, err := schema.Decode([]byte(`{"id":"cabc-12-1","type":"conversation.assigned","at":"2026-01-02T03:04:05.5+01:00",
		"tenant_id":"acme","conversation_id":"cabc","operator_id":"alice","status":"assigned","wait_seconds":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 12 || e.OperatorID != "alice" || e.WaitSeconds != 5 || e.At.Location() != time.UTC ||
		!e.At.Equal(time.Date(2026, 1, 2, 2, 4, 5, 5e8, time.UTC)) {
		t.Fatalf("decoded %+v", e)
	}
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`not json`, schema.ErrMalformed},
		{`[1,2]`, schema.ErrMalformed},
		{`{"type":"conversation.closed","at":"2026-01-02T03:04:05Z","tenant_id":"a","conversation_id":"c"}`, schema.ErrMalformed},
		{`{"id":"c-1-0","type":"conversation.closed","tenant_id":"a","conversation_id":"c"}`, schema.ErrMalformed},
		{`{"id":"c-1-0","type":"conversation.closed","at":"2026-01-02T03:04:05Z","conversation_id":"c"}`, schema.ErrMalformed},
		{`{"id":"c-1-0","type":"conversation.exploded","at":"2026-01-02T03:04:05Z","tenant_id":"a","conversation_id":"c"}`, schema.ErrUnknownType},
		// An operator's event has no conversation: not stored, and not counted as malformed.
		{`{"id":"op.a.alice.1","type":"operator.availability","at":"2026-01-02T03:04:05Z","tenant_id":"a","operator_id":"alice","availability":"online"}`, schema.ErrNotStored},
		// An operator's read mark is about a conversation but not a change of it: not stored either, not unknown.
		{`{"id":"cabc-13-0","type":"conversation.read","at":"2026-01-02T03:04:05Z","tenant_id":"a","conversation_id":"cabc","operator_id":"alice","seq":4}`, schema.ErrNotStored},
	} {
		if _, err := schema.Decode([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("Decode(%s) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestSeqOf(t *testing.T) {
	for id, want := range map[string]uint64{"cabc-12-1": 12, "cabc-m3-read": 0, "x": 0, "a-b": 0, "c-7-0": 7} {
		if got := schema.SeqOf(id); got != want {
			t.Errorf("SeqOf(%q) = %d, want %d", id, got, want)
		}
	}
}

// TestEveryTypeStores stores an event of each known type: the type column's Enum8 and KnownTypes agree.
func TestEveryTypeStores(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	var in []schema.Event
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i, typ := range schema.EventTypes {
		in = append(in, schema.Event{ID: fmt.Sprintf("c-%d-0", i+1), Type: typ.Name, At: at, TenantID: "acme",
			ConversationID: "c", Seq: uint64(i + 1)})
	}
	for typ := range schema.NotStoredTypes {
		if schema.KnownTypes[typ] {
			t.Errorf("type %s is both stored (EventTypes) and not stored (NotStoredTypes)", typ)
		}
	}
	if len(schema.KnownTypes) != len(schema.EventTypes) {
		t.Fatalf("KnownTypes has %d types, EventTypes %d", len(schema.KnownTypes), len(schema.EventTypes))
	}
	if err := schema.Insert(ctx, conn, in); err != nil {
		t.Fatal(err)
	}
	out, err := schema.ReadAll(ctx, conn, "acme")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range out {
		got[e.Type] = true
	}
	for _, typ := range schema.EventTypes {
		if !got[typ.Name] {
			t.Errorf("type %s did not come back", typ.Name)
		}
	}
}

// migrated returns a connection to a private ClickHouse server with the schema migrated, closed when t ends.
func migrated(t *testing.T) driver.Conn {
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
