package router

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestCatalogueCanned feeds the tenant's catalogue canned responses commands: an operator may not create, an admin
// creates, a builder updates, an admin deletes; each change writes one canned.changed event, and the records
// delivered again (as after a rebalance) change nothing — the create replayed after the delete does not bring the
// response back.
func TestCatalogueCanned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{t: t}
		t.Cleanup(h.shutdown)
		if _, err := h.run("setup root=admin:1 carol=builder:1 alice=operator:1"); err != nil {
			t.Fatal(err)
		}
		var offset int64
		feed := func(op, typ string, in inbox.CannedInput) outcome.Result {
			id := "r" + typ + op
			ch, _ := h.out.Register(id)
			v, err := (&inbox.Record{Tenant: "acme", IngestAt: h.at.UnixMilli(), Items: []inbox.Item{{Kind: inbox.KindCommand,
				Command: &inbox.Command{RequestID: id, Type: typ, OperatorID: op, Canned: &in}}}}).Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			h.log = append(h.log, v)
			h.push(offset, v)
			offset++
			select {
			case res := <-ch:
				h.settle()
				return res
			case <-time.After(time.Minute):
				t.Fatalf("%s by %s: no outcome", typ, op)
			}
			return outcome.Result{}
		}
		const id = "d00000000000000000000000000000001"
		greeting := inbox.CannedInput{ID: id, Title: "Greeting", Category: "Sales", Text: "Hi {{contact.name}}"}
		if res := feed("alice", canned.Create, greeting); res.Code != canned.CodeForbidden {
			t.Errorf("operator's create = %+v, want forbidden", res)
		}
		if res := feed("root", canned.Create, inbox.CannedInput{ID: id, Title: "x", Text: "{{nope}}"}); res.Code != canned.CodeInvalid {
			t.Errorf("create with an unknown variable = %+v", res)
		}
		if res := feed("root", canned.Create, greeting); res.Code != "" {
			t.Fatalf("create = %+v", res)
		}
		if got, err := h.st.CannedResponses("acme"); err != nil || len(got) != 1 || got[0].Title != "Greeting" || got[0].UpdatedBy != "root" {
			t.Fatalf("after create: %+v, %v", got, err)
		}
		greeting.Text = "Hello {{contact.name}}"
		res := feed("carol", canned.Update, greeting)
		if r, ok := res.Body.(*canned.Response); res.Code != "" || !ok || r.Version != 2 || r.Text != greeting.Text {
			t.Fatalf("update = %+v", res)
		}
		if res := feed("root", canned.Delete, inbox.CannedInput{ID: id}); res.Code != "" {
			t.Fatalf("delete = %+v", res)
		}
		if got, err := h.st.CannedResponses("acme"); err != nil || len(got) != 0 {
			t.Fatalf("after delete: %+v, %v", got, err)
		}
		if n := testutil.ToFloat64(h.r.metrics.events.WithLabelValues(canned.EventChanged)); n != 3 {
			t.Errorf("canned.changed events = %v, want 3", n)
		}
		// The create's record (offset 2) delivered again: behind the tombstone, skipped.
		h.push(2, h.log[2])
		h.settle()
		if got, err := h.st.CannedResponses("acme"); err != nil || len(got) != 0 {
			t.Errorf("a replayed create brought a deleted response back: %+v, %v", got, err)
		}
		if n := testutil.ToFloat64(h.r.metrics.events.WithLabelValues(canned.EventChanged)); n != 3 {
			t.Errorf("canned.changed events after the replay = %v, want 3", n)
		}
		if err := h.check(); err != nil {
			t.Error(err)
		}
	})
}
