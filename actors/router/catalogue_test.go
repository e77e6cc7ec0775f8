package router

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// The catalogue hands the commands it does not apply itself to the handler registered for their type's prefix, and
// KindTemplate items to the one registered for their kind (catalogue_templates.go, catalogue_canned.go); without
// one, a command is refused invalid_command and an item is finished all the same, so its record commits.
func TestCatalogueHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{t: t}
		t.Cleanup(h.shutdown)
		// Without handlers first: the files that register theirs (catalogue_canned.go, …) are set aside.
		saved := catalogueHandlers
		t.Cleanup(func() { catalogueHandlers = saved })
		catalogueHandlers = map[string]func(*catalogueActor, *actor.Context, *catalogueMsg) error{}
		if _, err := h.run("setup alice=operator:1"); err != nil {
			t.Fatal(err)
		}
		feed := func(items ...inbox.Item) []<-chan outcome.Result {
			var chs []<-chan outcome.Result
			for _, it := range items {
				if it.Command != nil {
					ch, _ := h.out.Register(it.Command.RequestID)
					chs = append(chs, ch)
				}
			}
			v, err := (&inbox.Record{Tenant: "acme", IngestAt: h.at.UnixMilli(), Items: items}).Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			off := int64(len(h.log))
			h.log = append(h.log, v)
			h.push(off, v)
			return chs
		}
		wait := func(ch <-chan outcome.Result) outcome.Result {
			select {
			case res := <-ch:
				return res
			case <-time.After(time.Minute):
				t.Fatal("no outcome")
			}
			return outcome.Result{}
		}
		canned := inbox.Item{Kind: inbox.KindCommand, Command: &inbox.Command{RequestID: "c1", Type: "canned_create", OperatorID: "alice"}}
		tmpl := inbox.Item{Kind: inbox.KindTemplate, Channel: "acme-wa", Template: &inbox.TemplateChange{WABA: "w", Field: "message_template_status_update"}}
		if res := wait(feed(canned, tmpl)[0]); res.Code != "invalid_command" {
			t.Errorf("canned_create without a handler: %+v, want invalid_command", res)
		}
		h.settle()
		if in, c := h.pc.tr.inFlight(), h.lastCommit(); in != 0 || c != 1 {
			t.Errorf("without handlers: in flight %d, committed %d; want 0 and 1", in, c)
		}
		// Handlers are registered before any actor runs (init functions): start over with them.
		h.shutdown()
		kinds := make(chan string, 4)
		catalogueHandlers = map[string]func(*catalogueActor, *actor.Context, *catalogueMsg) error{
			"canned_": func(a *catalogueActor, _ *actor.Context, m *catalogueMsg) error {
				a.finish(m, outcome.Result{Body: "canned " + m.item.Command.Type})
				return nil
			},
			"kind:template": func(a *catalogueActor, _ *actor.Context, m *catalogueMsg) error {
				kinds <- m.item.Template.Field
				a.finish(m, outcome.Result{})
				return nil
			},
		}
		if _, err := h.run("setup alice=operator:1"); err != nil {
			t.Fatal(err)
		}
		canned.Command.RequestID = "c2"
		if res := wait(feed(canned, tmpl)[0]); res.Body != "canned canned_create" {
			t.Errorf("canned_create with a handler: %+v", res)
		}
		h.settle()
		if len(kinds) != 1 || <-kinds != "message_template_status_update" {
			t.Error("the template item was not handed to its handler once")
		}
		if in, c := h.pc.tr.inFlight(), h.lastCommit(); in != 0 || c != 1 {
			t.Errorf("in flight %d, committed %d; want 0 and 1", in, c)
		}
	})
}
