package router

// The audit log's writers in the tenant actor: each applied configuration change and each refused action leaves
// entries (actors/audit) in the batch of the change, with their audit.recorded events for the outbox, so an entry
// is exactly as durable as what it describes. Entries are named by the input's position: a replay writes the same.

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// recordEnvelope are the fields of a configuration record around its item.
var recordEnvelope = map[string]bool{"tenant": true, "kind": true, "id": true, "version": true, "at": true,
	"deleted": true, "seed": true}

// recordItem is the item a configuration record carries, as JSON (nil for none), whatever its kind.
func recordItem(r *tenant.Record) (json.RawMessage, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		if !recordEnvelope[k] {
			return v, nil
		}
	}
	return nil, nil
}

// configEntries are the audit entries of a configuration change from cur that wrote recs: one per changed item,
// with the fields that changed.
func configEntries(cur *tenant.Tenant, recs []tenant.Record, base audit.Entry, pos conversation.Position) ([]audit.Entry, error) {
	before := map[string]json.RawMessage{}
	old := tenant.Records(cur, cur.Version, base.At)
	for i := range old {
		v, err := recordItem(&old[i])
		if err != nil {
			return nil, err
		}
		before[old[i].Key()] = v
	}
	var out []audit.Entry
	for i := range recs {
		r := &recs[i]
		after, err := recordItem(r)
		if err != nil {
			return nil, err
		}
		prev, existed := before[r.Key()]
		existed = existed && prev != nil // a removed channel's record holds no item: adding it again is an addition
		if r.Deleted {
			after = nil
		}
		changes, err := audit.Diff(prev, after)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 && existed && !r.Deleted {
			continue
		}
		// A token is revoked by setting its revoked_at (it stays, to answer 401 for it): a revocation, not a change.
		revoked := r.Deleted || (r.Kind == "token" && slices.ContainsFunc(changes, func(c audit.Change) bool {
			return c.Field == "revoked_at" && string(c.To) != "null"
		}))
		e := base
		e.ID = audit.ID(pos.Offset, pos.Index, len(out))
		e.Action, e.Target = audit.ConfigAction(r.Kind, r.ID, !existed, revoked)
		e.Changes = changes
		out = append(out, e)
	}
	return out, nil
}

// baseEntry is an entry of cmd's caller at at, without an action.
func (t *tenantActor) baseEntry(cmd *inbox.Command, at time.Time) audit.Entry {
	e := audit.Entry{TenantID: t.tenant, At: at, ActorID: cmd.OperatorID, RequestID: cmd.RequestID}
	if o := t.ops[cmd.OperatorID]; o != nil {
		e.ActorRole = o.Role
	}
	return e
}

// putAudit writes entries and their audit.recorded events in b.
func (t *tenantActor) putAudit(b *store.Batch, entries []audit.Entry) error {
	return writeAudit(t.r, b, t.tenant, entries)
}

// writeAudit writes entries of tenant and their audit.recorded events in b.
func writeAudit(r *Router, b *store.Batch, tenant string, entries []audit.Entry) error {
	for i := range entries {
		if err := b.PutAudit(tenant, &entries[i]); err != nil {
			return fmt.Errorf("write audit entry %s of tenant %s: %w", entries[i].ID, tenant, err)
		}
		v, err := json.Marshal(audit.NewEvent(entries[i]))
		if err == nil {
			err = b.PutOutbox(tenant, v)
		}
		if err != nil {
			return fmt.Errorf("write audit event %s of tenant %s: %w", entries[i].ID, tenant, err)
		}
		r.metrics.eventsBy.Get(audit.EventRecorded).Inc()
	}
	return nil
}

// conversationEntry is the audit entry of a conversation change an operator's command made, if it is one the log
// keeps: a take-over (a take that transferred the conversation from another operator) or an erase.
func conversationEntry(tenant, conv string, m *itemMsg, effects []conversation.Effect) (audit.Entry, bool) {
	if m == nil || m.item.Command == nil {
		return audit.Entry{}, false
	}
	cmd := m.item.Command
	e := audit.Entry{ID: audit.ID(m.pos.Offset, m.pos.Index, 0), TenantID: tenant, At: m.at, ActorID: cmd.OperatorID,
		ActorRole: m.role, Target: "conversation/" + conv, RequestID: cmd.RequestID}
	for _, ef := range effects {
		switch {
		case ef.Event == nil:
		case ef.Event.Type == conversation.EventTransferred && cmd.Type == string(conversation.CmdTake):
			e.Action = audit.ActionTakenOver
			from, _ := json.Marshal(ef.Event.PreviousOperatorID)
			to, _ := json.Marshal(ef.Event.OperatorID)
			e.Changes = []audit.Change{{Field: "assignee_id", From: from, To: to}}
			return e, true
		case ef.Event.Type == conversation.EventErased:
			e.Action = audit.ActionConversationErase
			return e, true
		}
	}
	return audit.Entry{}, false
}

// contactErasedEntry is the audit entry of a contact_erase.
func contactErasedEntry(tenant string, m *catalogueMsg) audit.Entry {
	cmd := m.item.Command
	return audit.Entry{ID: audit.ID(m.pos.Offset, m.pos.Index, 0), TenantID: tenant, At: m.at, ActorID: cmd.OperatorID,
		ActorRole: m.role, Action: audit.ActionContactErased, Target: "contact/" + cmd.ContactID, RequestID: cmd.RequestID}
}

// denied records that cmd's caller was refused target ("PATCH /v1/settings", or the command type when the tenant
// actor refused it) and answers res once the entry is durable.
func (t *tenantActor) denied(cmd *inbox.Command, target string, pos conversation.Position, at time.Time, res outcome.Result, ack *recordAck) {
	e := t.baseEntry(cmd, at)
	e.ID, e.Action, e.Target = audit.ID(pos.Offset, pos.Index, 0), audit.ActionAccessDenied, target
	b := t.r.cfg.Store.NewBatch()
	if err := t.putAudit(b, []audit.Entry{e}); err != nil {
		b.Discard()
		t.r.fail(err)
		return
	}
	t.commitAudit(b, "audit entry", func() {
		t.r.cfg.Outcomes.Publish(cmd.RequestID, res)
		ack.itemDone()
	})
}

// commitAudit commits b, a batch of audit entries (what names them in errors), and once it is durable tells the
// outbox relay and calls done.
func (t *tenantActor) commitAudit(b *store.Batch, what string, done func()) {
	if err := t.r.cfg.Store.Commit(b, func(err error) {
		if err != nil {
			t.r.fail(fmt.Errorf("persist %s of tenant %s: %w", what, t.tenant, err))
			return
		}
		if relay := t.r.cfg.Relay; relay != nil {
			relay.Notify()
		}
		done()
	}); err != nil {
		t.r.fail(fmt.Errorf("commit %s of tenant %s: %w", what, t.tenant, err))
	}
}

// auditCommand stores the refusal an audit command reports. Only refusals are recorded this way: a command that
// claims any other action is answered invalid and records nothing.
func (t *tenantActor) auditCommand(_ *actor.Context, cmd *inbox.Command, pos conversation.Position, at time.Time, ack *recordAck) {
	if cmd.Audit == nil || cmd.Audit.Action != audit.ActionAccessDenied || cmd.Audit.Target == "" {
		t.r.cfg.Outcomes.Publish(cmd.RequestID, outcome.Result{Code: tenant.CodeInvalidSetting, Message: "audit: only access.denied with a target is recorded"})
		ack.itemDone()
		return
	}
	t.denied(cmd, cmd.Audit.Target, pos, at, outcome.Result{}, ack)
}
