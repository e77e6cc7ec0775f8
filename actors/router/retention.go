package router

// Audit log retention (README, "Audit log"): the tenant actor removes the tenant's audit entries older than its
// setting audit_retention, as its inputs arrive. The cut is the input's own time less the retention, never the
// node's clock (docs/design.md, invariant 7), so a replay cuts where the first pass did. A look happens at most once
// per auditPruneEvery of input time, or at once after the retention changed; each removes at most
// Config.AuditPruneStep entries in one batch, with an audit.pruned entry saying what it removed (its audit.recorded event has the
// analytics sink remove the same from switchboard.audit). When more are left, the next input removes the next step.

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/actors/audit"
)

// auditPruneEvery is how far the inputs' time moves between two looks for expired entries.
const auditPruneEvery = time.Hour

// pruneAudit removes a step of the tenant's expired audit entries, as of the input m at at, when one is due.
func (t *tenantActor) pruneAudit(m *recordMsg, at time.Time) {
	if t.cfg == nil {
		return
	}
	keep := t.cfg.Settings.AuditKeep()
	if keep <= 0 || (at.Before(t.nextPrune) && keep == t.prunedKeep) {
		return
	}
	before := at.Add(-keep)
	b := t.r.cfg.Store.NewBatch()
	n, more, err := b.PruneAudit(t.tenant, before, t.r.cfg.AuditPruneStep)
	if err != nil {
		b.Discard()
		t.r.fail(fmt.Errorf("prune audit log of tenant %s: %w", t.tenant, err))
		return
	}
	if !more {
		t.nextPrune, t.prunedKeep = at.Add(auditPruneEvery), keep
	}
	if n == 0 {
		b.Discard()
		return
	}
	cut, _ := json.Marshal(before.UTC().Format(time.RFC3339Nano))
	removed, _ := json.Marshal(n)
	// Named after the input, one index past its items: its items' entries never take that position.
	e := audit.Entry{ID: audit.ID(m.offset, len(m.rec.Items), 0), TenantID: t.tenant, At: at, ActorID: "system",
		Action: audit.ActionPruned, Target: "audit", Changes: []audit.Change{
			{Field: "before", From: json.RawMessage("null"), To: cut},
			{Field: "removed", From: json.RawMessage("null"), To: removed}}}
	if err := t.putAudit(b, []audit.Entry{e}); err != nil {
		b.Discard()
		t.r.fail(err)
		return
	}
	m.ack.remaining.Add(1)
	t.commitAudit(b, "audit pruning", m.ack.itemDone)
}
