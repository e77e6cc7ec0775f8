package router

// Configuration changes (config_set commands): the tenant actor is their single writer, as it is of routing
// decisions, so a change is ordered with everything else on the tenant's partition. The rule (tenant.ApplyChange)
// decides; this stores the tenant's new configuration with the records for switchboard.config in one batch, then
// applies it in memory: the dispatcher's policy and operators at once, the conversation actors' settings before any
// later input reaches them.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// storedConfig is a tenant's configuration as its tenant actor stores it (store.PutTenantConfig).
type storedConfig struct {
	Tenant *tenant.Tenant `json:"tenant"`
	// Applied is the position of the last config_set applied, so a replayed one is skipped.
	Applied conversation.Position `json:"applied"`
}

// settingsMsg gives a conversation actor its tenant's settings after a change. The tenant actor sends it before any
// input it routes after the change, so the conversation applies that input under the new settings.
type settingsMsg struct {
	set *convSettings
}

// convSettings are the tenant's settings its conversation actors apply. One value is shared by every conversation
// actor of the tenant (an actor holds a pointer, not a copy of a hundred bytes and more); a change makes a new one,
// never changes it.
type convSettings struct {
	policy conversation.Policy
	// readReceipts is the tenant setting read_receipts: a read command marks the customer's messages read on
	// WhatsApp (change.readReceipt).
	readReceipts bool
	// rules are the tenant's routing rules and schema its contact fields, which the rules' field conditions read
	// (rules.go).
	rules  []routing.Rule
	schema contact.Schema
}

// settingsOf are the conversation actors' settings of tenant configuration t, under policy p (PolicyOf(t)).
func settingsOf(t *tenant.Tenant, p conversation.Policy) *convSettings {
	return &convSettings{policy: p, readReceipts: t.Settings.ReadReceipts, rules: t.Rules, schema: schemaOf(t)}
}

// loadConfig is the tenant's configuration: the one this node's tenant actor stored, or the directory's (the
// configuration topic as the node's watcher read it, or the YAML file without one) when that is newer — a
// configuration seeded or changed while the tenant's partition was elsewhere. behind reports that the directory is
// older than what was stored: the topic has not got the latest records yet (the relay had not produced them when the
// node stopped, or the topic was recreated).
func (t *tenantActor) loadConfig() (cfg *tenant.Tenant, applied conversation.Position, behind bool, err error) {
	dir, ok := t.r.cfg.Directory.Tenant(t.tenant)
	if !ok {
		dir = &tenant.Tenant{ID: t.tenant}
	}
	b, err := t.r.cfg.Store.TenantConfig(t.tenant)
	if errors.Is(err, store.ErrNotFound) {
		return dir.Clone(), conversation.Position{}, false, nil
	}
	if err != nil {
		return nil, conversation.Position{}, false, err
	}
	var sc storedConfig
	if err := json.Unmarshal(b, &sc); err != nil || sc.Tenant == nil {
		return nil, conversation.Position{}, false, fmt.Errorf("decode stored configuration of tenant %s: %v", t.tenant, err)
	}
	if sc.Tenant.Version < dir.Version {
		return dir.Clone(), sc.Applied, false, nil
	}
	return sc.Tenant, sc.Applied, sc.Tenant.Version > dir.Version, nil
}

// republish queues the records of the tenant's whole configuration for switchboard.config again, at its version, so
// a topic that lags what this tenant actor applied catches up (a repeat of a record the relay did produce is
// harmless: same key, same version, same item).
func (t *tenantActor) republish(cfg *tenant.Tenant) error {
	b := t.r.cfg.Store.NewBatch()
	if err := putRecords(b, tenant.Records(cfg, cfg.Version, time.Now().UTC())); err != nil {
		b.Discard()
		return fmt.Errorf("republish configuration of tenant %s: %w", t.tenant, err)
	}
	t.r.log.Warn("config: the configuration topic lags this tenant's stored configuration; its records are produced again",
		"tenant", t.tenant, "version", cfg.Version)
	return t.r.cfg.Store.Commit(b, func(err error) {
		if err != nil {
			t.r.fail(fmt.Errorf("republish configuration of tenant %s: %w", t.tenant, err))
			return
		}
		if relay := t.r.cfg.Relay; relay != nil {
			relay.Notify()
		}
	})
}

// isConfigCommand reports whether a command changes the tenant's configuration. update_operator is the record an
// earlier version wrote for PATCH /v1/operators/{id}: it is applied as the configuration change it is.
func isConfigCommand(typ string) bool {
	return typ == inbox.CmdConfigSet || typ == inbox.CmdUpdateOperator
}

// changeOf is the configuration change a command asks for.
func changeOf(cmd *inbox.Command) (tenant.Change, error) {
	var ch tenant.Change
	if cmd.Type == inbox.CmdUpdateOperator {
		oc := &tenant.OperatorChange{ID: cmd.TargetID, Capacity: cmd.Capacity}
		if cmd.Role != "" {
			oc.Role = &cmd.Role
		}
		if cmd.Skills != nil {
			oc.Skills = &cmd.Skills
		}
		ch.Operator = oc
		return ch, nil
	}
	if len(cmd.Config) == 0 {
		return ch, errors.New("config_set without a change")
	}
	err := json.Unmarshal(cmd.Config, &ch)
	return ch, err
}

// configCommand applies a config_set.
func (t *tenantActor) configCommand(c *actor.Context, cmd *inbox.Command, pos conversation.Position, at time.Time, ack *recordAck) {
	answer := func(res outcome.Result) {
		t.r.cfg.Outcomes.Publish(cmd.RequestID, res)
		ack.itemDone()
	}
	if !t.cfgApplied.Less(pos) && t.cfgApplied != (conversation.Position{}) {
		t.r.metrics.skippedBy.Get("replay").Inc()
		answer(outcome.Result{Body: tenant.Applied{Version: t.cfg.Version}})
		return
	}
	change, err := changeOf(cmd)
	if err != nil {
		answer(outcome.Result{Code: tenant.CodeInvalidSetting, Message: "the change does not decode: " + err.Error()})
		return
	}
	// The caller as this configuration has it (nil for nobody signed in: only an invite's acceptance is allowed).
	var caller *tenant.Operator
	if i := slices.IndexFunc(t.cfg.Operators, func(o tenant.Operator) bool { return o.ID == cmd.OperatorID }); i >= 0 && cmd.OperatorID != "" {
		caller = &t.cfg.Operators[i]
	}
	if !tenant.MayChange(t.cfg, caller, change) {
		// Refused here (the API checks first; this is the second check): audited like a refusal at the API.
		t.denied(cmd, cmd.Type, pos, at, outcome.Result{Code: tenant.CodeForbidden, Message: "only an admin can change the configuration"}, ack)
		return
	}
	next, recs, err := tenant.ApplyChange(t.cfg, change, at)
	if err != nil {
		var r *tenant.Refusal
		if !errors.As(err, &r) {
			t.r.fail(fmt.Errorf("BUG: configuration rule failed without a refusal: %w", err))
			return
		}
		answer(outcome.Result{Code: r.Code, Message: r.Text()})
		return
	}
	entries, err := configEntries(t.cfg, recs, t.baseEntry(cmd, at), pos)
	if err != nil {
		t.r.fail(fmt.Errorf("audit configuration change of tenant %s: %w", t.tenant, err))
		return
	}
	b := t.r.cfg.Store.NewBatch()
	err = t.writeConfig(b, next, pos, recs)
	if err == nil {
		err = t.putAudit(b, entries)
	}
	if err != nil {
		b.Discard()
		t.r.fail(err)
		return
	}
	// A withdrawn operator's offline state is durable with the change, before any of its conversations moves.
	for id, st := range t.ops {
		if _, out := withdrawn(next, id); out {
			s := *st
			s.Availability, s.Applied = string(routing.Offline), pos
			if err := b.PutOperator(t.tenant, &s); err != nil {
				b.Discard()
				t.r.fail(fmt.Errorf("write withdrawn operator %s of tenant %s: %w", id, t.tenant, err))
				return
			}
		}
	}
	res := outcome.Result{Body: tenant.Applied{Version: next.Version, Records: recs}}
	if err := t.r.cfg.Store.Commit(b, func(err error) {
		if err != nil {
			t.r.fail(fmt.Errorf("persist configuration of tenant %s: %w", t.tenant, err))
			return
		}
		if relay := t.r.cfg.Relay; relay != nil {
			relay.Notify()
		}
		answer(res)
	}); err != nil {
		t.r.fail(fmt.Errorf("commit configuration of tenant %s: %w", t.tenant, err))
		return
	}
	t.r.metrics.configChanges.Inc()
	// Committed (applied, ahead of any later batch): what the change frees may leave now.
	t.applyConfig(c, next, pos, at)
}

// writeConfig puts the tenant's configuration next, applied at pos, and its records for the configuration topic in b.
func (t *tenantActor) writeConfig(b *store.Batch, next *tenant.Tenant, pos conversation.Position, recs []tenant.Record) error {
	v, err := json.Marshal(storedConfig{Tenant: next, Applied: pos})
	if err == nil {
		err = b.PutTenantConfig(t.tenant, v)
	}
	if err == nil {
		err = putRecords(b, recs)
	}
	if err != nil {
		return fmt.Errorf("write configuration of tenant %s: %w", t.tenant, err)
	}
	return nil
}

// putRecords queues configuration records for switchboard.config in b.
func putRecords(b *store.Batch, recs []tenant.Record) error {
	for i := range recs {
		v, err := json.Marshal(&recs[i])
		if err == nil {
			err = b.PutConfigRecord(recs[i].Tenant, recs[i].Key(), v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyConfig makes next the tenant actor's configuration: the conversation actors get the new settings, the
// dispatcher the new policy and the operators' capacities and skills (a lowered capacity takes nothing back; it only
// stops new offers until the load is below it), and what that frees is proposed.
func (t *tenantActor) applyConfig(c *actor.Context, next *tenant.Tenant, pos conversation.Position, at time.Time) {
	prev := t.cfg
	t.cfg, t.cfgApplied = next, pos
	t.policy = PolicyOf(next)
	t.convSet = settingsOf(next, t.policy)
	for _, k := range t.kids {
		c.Send(k.pid, &settingsMsg{set: t.convSet})
	}
	if fieldsChanged(prev, next) && t.cat != nil {
		c.Send(t.cat, &schemaMsg{schema: t.convSet.schema})
	}
	if rulesChanged(prev, next) {
		t.rerouteWaiting(c)
	}
	var as []routing.Assignment
	as = append(as, t.d.SetPolicy(routingPolicy(next))...)
	for i := range next.Operators {
		o := &next.Operators[i]
		st := t.ops[o.ID]
		if st == nil {
			st = new(storedOf(initialOf(o), conversation.Position{}))
			t.ops[o.ID] = st
		}
		st.Capacity, st.Role, st.Skills = o.Capacity, o.Role, o.Skills
		if o.Disabled {
			continue // withdrawn below
		}
		more, err := t.d.UpsertOperator(stateOf(st).Routing())
		if err != nil {
			t.r.metrics.divergence.Inc()
			t.r.log.Error("BUG: dispatcher refused an operator the configuration rule accepted", "tenant", t.tenant,
				"operator", o.ID, "err", err)
			continue
		}
		as = append(as, more...)
	}
	// A removed or disabled operator is withdrawn from routing: its conversations go back to the queue (assigned
	// ones unassigned, snoozed ones lose their assignee), whatever offline_releases says, and it is offered nothing.
	var released []string
	for id, st := range t.ops {
		gone, out := withdrawn(next, id)
		if !out {
			continue
		}
		st.Availability, st.Applied = string(routing.Offline), pos
		if gone {
			delete(t.ops, id)
		}
		more, rel, err := t.d.Withdraw(id, at.UnixMilli())
		if err != nil {
			continue // never routed
		}
		as = append(as, more...)
		for _, cid := range rel {
			released = append(released, id+"\x00"+cid)
		}
	}
	slices.Sort(released)
	for _, r := range released {
		op, cid, _ := strings.Cut(r, "\x00")
		k := t.kid(c, cid)
		c.Send(k.pid, &releaseMsg{op: op, cause: pos, at: at})
	}
	t.propose(c, as, at)
	t.observe()
	t.countOperators()
	t.utilisation()
}

// withdrawn reports whether operator id is out of routing under next: removed (gone) or disabled.
func withdrawn(next *tenant.Tenant, id string) (gone, out bool) {
	i := slices.IndexFunc(next.Operators, func(o tenant.Operator) bool { return o.ID == id })
	if i < 0 {
		return true, true
	}
	return false, next.Operators[i].Disabled
}
