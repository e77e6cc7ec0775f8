package router

// The template side of the tenant's catalogue: template_sync commands (a business account's whole catalogue as the
// Graph API listed it) and KindTemplate items (Meta's status, quality and category webhooks) change the stored
// catalogue by the rules of actors/template, with a template.updated event per template that changed, in the same
// batch. The outcome is published and the item finished once the batch is durable.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/template"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Template catalogue command types and event type.
const (
	CmdTemplateSync      = "template_sync"
	EventTemplateUpdated = "template.updated"
)

// TemplateSyncResult is the outcome body of a template_sync command.
type TemplateSyncResult struct {
	WABA      string `json:"waba"`
	Templates int    `json:"templates"` // in the listing
	Changed   int    `json:"changed"`   // new or changed records
	Deleted   int    `json:"deleted"`   // records Meta no longer lists
	Invalid   int    `json:"invalid"`   // listed objects without a name or language, skipped
}

// templateEvent is the template.updated event: the template after the change, or Deleted when Meta no longer
// lists it. Its id is derived from the input's position and the template, so a replay writes the same id.
type templateEvent struct {
	ID       string             `json:"id"`
	Type     string             `json:"type"`
	TenantID string             `json:"tenant_id"`
	At       time.Time          `json:"at"`
	Template *template.Template `json:"template"`
	Deleted  bool               `json:"deleted,omitempty"`
	// Field is the webhook field that caused it, or template_sync.
	Cause string `json:"cause"`
}

func init() {
	h := func(a *catalogueActor, _ *actor.Context, m *catalogueMsg) error {
		return a.r.applyTemplates(a.tenant, m.item, m.pos, m.at, m.ack)
	}
	catalogueHandlers["template_"] = h
	catalogueHandlers["kind:"+string(inbox.KindTemplate)] = h
}

// applyTemplates applies a template_sync command or a KindTemplate item of tenant at pos. It is the catalogue's
// template handler: it reads and writes the store only, and finishes the item (publishing the command's outcome)
// once its batch is durable, or at once when nothing changes. An error (the store failed) stops the router.
func (r *Router) applyTemplates(tenant string, it *inbox.Item, pos conversation.Position, at time.Time, ack *recordAck) error {
	var cmd *inbox.Command
	if it.Kind == inbox.KindCommand {
		cmd = it.Command
	}
	finish := func(res outcome.Result) {
		if cmd != nil {
			r.cfg.Outcomes.Publish(cmd.RequestID, res)
		}
		ack.itemDone()
	}
	b := r.cfg.Store.NewBatch()
	var res outcome.Result
	var events int
	var err error
	switch {
	case cmd != nil && cmd.Type == CmdTemplateSync && cmd.Catalogue != nil && cmd.Catalogue.WABA != "":
		var sr TemplateSyncResult
		sr, events, err = r.syncTemplates(b, tenant, cmd.Catalogue, pos, at)
		res.Body = sr
	case cmd != nil:
		res = outcome.Result{Code: conversation.CodeInvalidCommand, Message: "unknown catalogue command " + strconv.Quote(cmd.Type) +
			" (or template_sync without a catalogue)"}
	default:
		events, err = r.changeTemplate(b, tenant, it.Template, pos, at)
	}
	if err != nil {
		b.Discard()
		return fmt.Errorf("apply templates: %w", err)
	}
	if b.Empty() {
		b.Discard()
		finish(res)
		return nil
	}
	if err := r.cfg.Store.Commit(b, func(err error) {
		if err != nil {
			r.fail(fmt.Errorf("persist templates of tenant %s: %w", tenant, err))
			return
		}
		if relay := r.cfg.Relay; relay != nil && events > 0 {
			relay.Notify()
		}
		finish(res)
	}); err != nil {
		return fmt.Errorf("commit templates: %w", err)
	}
	return nil
}

// syncTemplates writes a business account's listing: each listed template whose record was not written by this
// input or a later one, and deletes the records the listing no longer has.
func (r *Router) syncTemplates(b *store.Batch, tenant string, c *inbox.TemplateCatalogue, pos conversation.Position, at time.Time) (TemplateSyncResult, int, error) {
	res := TemplateSyncResult{WABA: c.WABA, Templates: len(c.Templates)}
	stored, err := r.cfg.Store.Templates(tenant, c.WABA)
	if err != nil {
		return res, 0, err
	}
	old := make(map[template.Key]*store.StoredTemplate, len(stored))
	for i := range stored {
		old[stored[i].Key()] = &stored[i]
	}
	listed := make(map[template.Key]bool, len(c.Templates))
	events := 0
	for _, raw := range c.Templates {
		t, err := template.FromMeta(c.WABA, raw, at)
		if err != nil {
			res.Invalid++
			continue
		}
		k := t.Key()
		if listed[k] {
			continue
		}
		listed[k] = true
		prev := old[k]
		if prev != nil && !prev.Applied.Less(pos) {
			r.metrics.skippedBy.Get("replay").Inc()
			continue
		}
		if prev != nil && sameTemplate(&prev.Template, &t) {
			continue
		}
		next := store.StoredTemplate{Template: t, Applied: pos}
		if err := b.PutTemplate(tenant, &next); err != nil {
			return res, events, err
		}
		res.Changed++
		if err := r.templateEvent(b, tenant, &next.Template, false, CmdTemplateSync, pos, at); err != nil {
			return res, events, err
		}
		events++
	}
	for k, prev := range old {
		if listed[k] || !prev.Applied.Less(pos) {
			continue
		}
		if err := b.DeleteTemplate(tenant, k.WABA, k.Name, k.Language); err != nil {
			return res, events, err
		}
		res.Deleted++
		if err := r.templateEvent(b, tenant, &prev.Template, true, CmdTemplateSync, pos, at); err != nil {
			return res, events, err
		}
		events++
	}
	return res, events, nil
}

// sameTemplate reports whether a sync would change nothing a reader sees but the time.
func sameTemplate(a, b *template.Template) bool {
	return a.ID == b.ID && a.Category == b.Category && a.Status == b.Status && a.Quality == b.Quality &&
		a.Partial == b.Partial && string(a.Components) == string(b.Components) &&
		(a.Reason == b.Reason || b.Reason == "")
}

// changeTemplate applies one of Meta's template webhooks. A value the rules cannot read is counted and dropped:
// the webhook was acknowledged long ago, and retrying the record would not make it readable.
func (r *Router) changeTemplate(b *store.Batch, tenant string, tc *inbox.TemplateChange, pos conversation.Position, at time.Time) (int, error) {
	c, err := template.ParseChange(tc.Field, tc.Value)
	if err != nil {
		r.metrics.skippedBy.Get("bad_template_change").Inc()
		r.log.Warn("template webhook not applied", "tenant", tenant, "waba", tc.WABA, "field", tc.Field, "err", err)
		return 0, nil
	}
	var prev *template.Template
	st, err := r.cfg.Store.Template(tenant, tc.WABA, c.Name, c.Language)
	switch {
	case err == nil:
		if !st.Applied.Less(pos) {
			r.metrics.skippedBy.Get("replay").Inc()
			return 0, nil
		}
		prev = &st.Template
	case err != store.ErrNotFound:
		return 0, err
	}
	next, ok := template.Apply(prev, tc.WABA, c, at)
	if !ok {
		return 0, nil
	}
	rec := store.StoredTemplate{Template: next, Applied: pos}
	if err := b.PutTemplate(tenant, &rec); err != nil {
		return 0, err
	}
	if err := r.templateEvent(b, tenant, &rec.Template, false, tc.Field, pos, at); err != nil {
		return 0, err
	}
	return 1, nil
}

func (r *Router) templateEvent(b *store.Batch, tenant string, t *template.Template, deleted bool, cause string, pos conversation.Position, at time.Time) error {
	ev := templateEvent{
		ID: "tpl." + tenant + "." + strconv.FormatInt(pos.Offset, 10) + "." + strconv.Itoa(pos.Index) + "." +
			t.WABA + "." + t.Name + "." + t.Language,
		Type: EventTemplateUpdated, TenantID: tenant, At: at.UTC(), Template: t, Deleted: deleted, Cause: cause,
	}
	v, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode template event: %w", err)
	}
	if err := b.PutOutbox(tenant, v); err != nil {
		return err
	}
	r.metrics.eventsBy.Get(EventTemplateUpdated).Inc()
	return nil
}
