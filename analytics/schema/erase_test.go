package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

func TestErasureOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want schema.Erasure
		ok   bool
	}{
		{`{"id":"e1","type":"contact.erased","tenant_id":"acme","contact_id":"k1"}`, schema.Erasure{TenantID: "acme", ContactID: "k1"}, true},
		{`{"id":"c1-9-1","type":"conversation.erased","tenant_id":"acme","conversation_id":"c1","contact_id":"k1"}`, schema.Erasure{TenantID: "acme", ContactID: "k1"}, true},
		{`{"id":"c1-9-0","type":"conversation.closed","tenant_id":"acme","conversation_id":"c1","contact_id":"k1"}`, schema.Erasure{}, false},
		{`{"id":"e1","type":"contact.erased","tenant_id":"acme"}`, schema.Erasure{}, false},
		{`not json`, schema.Erasure{}, false},
	} {
		got, ok := schema.ErasureOf([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ErasureOf(%s) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if tc.ok {
			if _, err := schema.Decode([]byte(tc.in)); err == nil {
				t.Errorf("Decode(%s) stores an erasure event as a row", tc.in)
			}
		}
	}
}

// TestAnonymise erases one contact of one tenant on a real ClickHouse: its rows lose their contact id and message id
// and stay
// (the figures do not move); another tenant's contact of the same id and another contact keep theirs.
func TestAnonymise(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	// Meta's documented example wamid: the base64 of a record holding the number 16505076520.
	const wamid = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
	row := func(id, tenant, conv, contact string) schema.Event {
		return schema.Event{ID: id, Type: "message.received", At: at, TenantID: tenant, ConversationID: conv,
			ContactID: contact, MessageID: wamid, Status: "unassigned", Seq: 1}
	}
	if err := schema.Insert(ctx, conn, []schema.Event{
		row("c1-1-0", "acme", "c1", "kgone"), row("c1-2-0", "acme", "c1", "kgone"), row("c2-1-0", "acme", "c2", "kstay"),
		row("c3-1-0", "other", "c3", "kgone"),
	}); err != nil {
		t.Fatal(err)
	}
	count := func(q string, args ...any) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := schema.Anonymise(ctx, conn, []schema.Erasure{{TenantID: "acme", ContactID: "kgone"}, {TenantID: "acme", ContactID: "kgone"}}); err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, 30*time.Second, 20*time.Millisecond, func() error {
		done, err := schema.MutationsDone(ctx, conn)
		if err == nil && !done {
			return context.DeadlineExceeded
		}
		return err
	}, "the mutation to finish")
	if n := count(`SELECT count() FROM switchboard.events WHERE tenant_id = 'acme' AND contact_id = 'kgone'`); n != 0 {
		t.Fatalf("%d rows still name the erased contact", n)
	}
	if n := count(`SELECT count() FROM switchboard.events WHERE tenant_id = 'acme' AND contact_id = '' AND message_id != ''`); n != 0 {
		t.Fatalf("%d rows of the erased contact keep their wamid, which holds the number", n)
	}
	if n := count(`SELECT count() FROM switchboard.events WHERE message_id = ?`, wamid); n != 2 {
		t.Fatalf("%d rows of the other contacts keep their message id, want 2", n)
	}
	if n := count(`SELECT count() FROM switchboard.events WHERE tenant_id = 'acme'`); n != 3 {
		t.Fatalf("acme has %d rows after the erasure, want 3: rows are kept", n)
	}
	if n := count(`SELECT count() FROM switchboard.events WHERE contact_id = 'kstay' OR (tenant_id = 'other' AND contact_id = 'kgone')`); n != 2 {
		t.Fatalf("%d rows of the other contacts keep their id, want 2", n)
	}
}
