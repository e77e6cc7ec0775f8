package sink_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// TestErasureThroughKafka: a conversation.erased event after a contact's events blanks that contact's id on every
// one of its rows in ClickHouse, keeps the rows (the scripted figures are still exact), and leaves the other
// contacts' ids alone.
func TestErasureThroughKafka(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t0 := scenario.ScriptedT0(time.Now())
	acme, globex := scripted(t, t0)
	for i := range acme {
		acme[i].ContactID = "k" + acme[i].ConversationID
	}
	gone := acme[0]
	reg := prometheus.NewRegistry()
	e.startSink(reg)
	e.produce("acme", scenario.JSON(t, acme)...)
	e.produce("globex", scenario.JSON(t, globex)...)
	n := uint64(len(acme) + len(globex))
	e.waitStored("every event", func(rows, distinct uint64) bool { return distinct == n })

	ctx := context.Background()
	count := func(q string, args ...any) uint64 {
		t.Helper()
		var c uint64
		if err := e.conn.QueryRow(ctx, q, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	others := count(`SELECT count() FROM switchboard.events WHERE tenant_id = 'acme' AND contact_id != '' AND contact_id != ?`, gone.ContactID)
	if count(`SELECT count() FROM switchboard.events WHERE contact_id = ?`, gone.ContactID) == 0 || others == 0 {
		t.Fatal("the scenario's rows carry no contact ids: the test could not fail")
	}

	e.produce("acme", []byte(fmt.Sprintf(`{"id":"%s-99-1","type":"conversation.erased","at":%q,"tenant_id":"acme","conversation_id":%q,"contact_id":%q,"status":"closed"}`,
		gone.ConversationID, t0.Add(time.Hour).Format(time.RFC3339Nano), gone.ConversationID, gone.ContactID)))
	waitMetric(t, reg, "switchboard_analytics_erasures_total", "", 1)
	eventually.NoError(t, time.Minute, 20*time.Millisecond, func() error {
		if done, err := schema.MutationsDone(ctx, e.conn); err != nil || !done {
			return errors.Join(err, errors.New("mutation running"))
		}
		return nil
	}, "waiting for the mutation")
	if c := count(`SELECT count() FROM switchboard.events WHERE contact_id = ?`, gone.ContactID); c != 0 {
		t.Fatalf("%d rows still carry the erased contact's id", c)
	}
	if c := count(`SELECT count() FROM switchboard.events WHERE tenant_id = 'acme' AND contact_id != ''`); c != others {
		t.Fatalf("%d rows of other contacts keep their ids, want %d", c, others)
	}
	if rows, distinct := e.stored(); distinct != n || rows < n {
		t.Fatalf("%d rows, %d distinct after the erasure, want %d: the erasure is not stored as a row, nor drops any", rows, distinct, n)
	}
	e.checkScripted("after an erasure", t0)
}
