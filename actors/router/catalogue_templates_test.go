package router

import (
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestCatalogueTemplates feeds the tenant's catalogue a sync, Meta's status webhook, a second sync that drops a
// template, and a replay of the webhook: the store follows, each change writes one template.updated event, and
// the replay changes nothing.
func TestCatalogueTemplates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{t: t}
		t.Cleanup(h.shutdown)
		if _, err := h.run("setup alice=admin:1"); err != nil {
			t.Fatal(err)
		}
		var offset int64
		feed := func(it inbox.Item) <-chan outcome.Result {
			var ch <-chan outcome.Result
			if it.Command != nil {
				ch, _ = h.out.Register(it.Command.RequestID)
			}
			v, err := (&inbox.Record{Tenant: "acme", IngestAt: h.at.UnixMilli(), Items: []inbox.Item{it}}).Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			h.log = append(h.log, v)
			h.push(offset, v)
			offset++
			return ch
		}
		sync := func(id string, templates ...string) TemplateSyncResult {
			raw := make([]json.RawMessage, len(templates))
			for i, s := range templates {
				raw[i] = json.RawMessage(s)
			}
			ch := feed(inbox.Item{Kind: inbox.KindCommand, Command: &inbox.Command{RequestID: id, Type: CmdTemplateSync,
				OperatorID: "switchboard", Catalogue: &inbox.TemplateCatalogue{WABA: "555", Templates: raw}}})
			select {
			case res := <-ch:
				if res.Code != "" {
					t.Fatalf("sync %s refused: %+v", id, res)
				}
				return res.Body.(TemplateSyncResult)
			case <-time.After(time.Minute):
				t.Fatalf("sync %s: no outcome", id)
			}
			return TemplateSyncResult{}
		}
		const (
			order = `{"name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY","id":"1","components":[{"type":"BODY","text":"Hi {{1}}, order {{2}}"}]}`
			promo = `{"name":"promo","language":"en_US","status":"PENDING","category":"MARKETING","id":"2","components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Sale"}]}`
		)
		if got := sync("s1", order, promo, `{"id":"3"}`); got.Changed != 2 || got.Invalid != 1 || got.Templates != 3 {
			t.Errorf("first sync = %+v", got)
		}
		h.settle()
		if got := sync("s2", order, promo); got.Changed != 0 || got.Deleted != 0 {
			t.Errorf("same listing again = %+v, want nothing changed", got)
		}
		h.settle()
		paused := inbox.Item{Kind: inbox.KindTemplate, Template: &inbox.TemplateChange{WABA: "555",
			Field: "message_template_status_update", Value: json.RawMessage(
				`{"event":"PAUSED","message_template_id":1,"message_template_name":"order_update","message_template_language":"en_US","reason":"LOW_QUALITY"}`)}}
		feed(paused)
		h.settle()
		st, err := h.st.Template("acme", "555", "order_update", "en_US")
		if err != nil || st.Status != "PAUSED" || st.Reason != "LOW_QUALITY" || st.Params != 2 {
			t.Fatalf("after the webhook: %+v, %v", st, err)
		}
		if got := sync("s3", order); got.Deleted != 1 || got.Changed != 1 {
			t.Errorf("sync without promo, order approved again = %+v", got)
		}
		h.settle()
		if _, err := h.st.Template("acme", "555", "promo", "en_US"); err == nil {
			t.Error("promo still stored after Meta stopped listing it")
		}
		if st, _ := h.st.Template("acme", "555", "order_update", "en_US"); st.Status != "APPROVED" {
			t.Errorf("order_update after the last sync: %+v", st)
		}
		// Events: 2 (first sync) + 1 (paused) + 2 (approved again, promo deleted).
		if n := testutil.ToFloat64(h.r.metrics.events.WithLabelValues(EventTemplateUpdated)); n != 5 {
			t.Errorf("template.updated events = %v, want 5", n)
		}
		// The webhook's record delivered again (as after a rebalance) is older than what the store holds: skipped.
		h.push(2, h.log[2])
		h.settle()
		if st, _ := h.st.Template("acme", "555", "order_update", "en_US"); st.Status != "APPROVED" {
			t.Errorf("a replayed webhook rolled the template back: %+v", st)
		}
		if err := h.check(); err != nil {
			t.Error(err)
		}
	})
}
