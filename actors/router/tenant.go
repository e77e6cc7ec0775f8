package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// tenantActor is a tenant's dispatcher: it routes the tenant's items to conversation actors, owns operator state,
// and is the single writer of routing decisions (capacity grants and proposals).
type tenantActor struct {
	r      *Router
	tenant string
	// cfg is the tenant's configuration (config.go), and cfgApplied the position of the last config_set applied to
	// it: later ones are applied, earlier ones are replays.
	cfg        *tenant.Tenant
	cfgApplied conversation.Position
	kids       map[string]*child
	// kidsPeak is the most entries kids held since it was made: a Go map keeps the buckets of its high-water mark,
	// so passivate copies it into a smaller one once it has fallen well below (shrunk).
	kidsPeak int
	ticker   actor.SendRepeater
	// spawned counts the conversation actors started; each one's actor id ends with it (see kid).
	spawned uint64
	// stopping is set by stopKidsMsg: the partition is stopping, the conversation actors are on their way out.
	stopping bool
	// convOpts are added to the conversation actors' spawn options (partitionConsumer.convOpts). Nil in production.
	convOpts []actor.OptFunc
	// kidOpts are the spawn options of a conversation actor, built at its first spawn: its id (set for each spawn),
	// its inbox size, then convOpts.
	kidOpts []actor.OptFunc

	d      *routing.Dispatcher
	ops    map[string]*store.OperatorState
	policy conversation.Policy
	// convSet are the settings of the conversation actors, shared by them (config.go).
	convSet *convSettings
	// proposed holds the proposals sent and not yet answered by a grant request: the dispatcher counts them
	// already, and a report that the conversation is still unassigned must not undo them.
	proposed map[string]string
	// cat is the tenant's catalogue actor (catalogue.go): contacts, templates, canned responses.
	cat *actor.PID
	// blocked maps the conversation ids of blocked contacts (one per channel of the tenant) to their contact, and
	// blockedConvs each blocked contact to those ids. Rebuilt from the store's blocked index, and changed when a
	// contact_block or contact_unblock is routed, so every later item is judged by it (blocked.go).
	blocked      map[string]string
	blockedConvs map[string][]string
	// nextPrune is the input time of the next look for expired audit entries, and prunedKeep the retention of the
	// last look (retention.go).
	nextPrune  time.Time
	prunedKeep time.Duration
	// lastQueue and lastAvail are this tenant's share of the node-wide gauges.
	lastQueue int
	lastAvail map[string]int
	lastHeld  int
	lastCap   int
}

// utilisation moves the node-wide load and capacity gauges of online operators by this tenant's change.
func (t *tenantActor) utilisation() {
	var held, capacity int
	for _, o := range t.d.Operators() {
		if o.Availability == routing.Online {
			held += o.Load
			capacity += o.Capacity
		}
	}
	t.r.metrics.opLoad.Add(float64(held - t.lastHeld))
	t.r.metrics.opCapacity.Add(float64(capacity - t.lastCap))
	t.lastHeld, t.lastCap = held, capacity
}

// countOperators moves the operators-by-availability gauge by this tenant's change.
func (t *tenantActor) countOperators() {
	now := map[string]int{}
	for _, o := range t.ops {
		now[o.Availability]++
	}
	for _, a := range []string{string(routing.Online), string(routing.Away), string(routing.Offline)} {
		t.r.metrics.operators.WithLabelValues(a).Add(float64(now[a] - t.lastAvail[a]))
	}
	t.lastAvail = now
}

func (t *tenantActor) Receive(c *actor.Context) {
	if t.stopping {
		t.receiveStopping(c)
		return
	}
	switch m := c.Message().(type) {
	case actor.Started:
		t.kids = map[string]*child{}
		t.proposed = map[string]string{}
		t.ticker = c.SendRepeat(c.PID(), idleTick{}, t.r.cfg.IdleAfter/4)
		if err := t.rebuild(c); err != nil {
			t.r.fail(fmt.Errorf("rebuild tenant %s: %w", t.tenant, err))
		}
	case actor.Stopped:
		t.ticker.Stop()
		t.r.metrics.actorsActive.Sub(float64(len(t.kids)))
		t.r.metrics.queueDepth.Sub(float64(t.lastQueue))
		t.r.metrics.opLoad.Sub(float64(t.lastHeld))
		t.r.metrics.opCapacity.Sub(float64(t.lastCap))
		for a, n := range t.lastAvail {
			t.r.metrics.operators.WithLabelValues(a).Sub(float64(n))
		}
	case *recordMsg:
		t.route(c, m)
	case *grantReq:
		t.grant(c, m)
	case *convReport:
		t.sync(c, m)
	case *forgetMsg:
		t.forget(c, m)
	case stopKidsMsg:
		t.stopKids(c)
	case idleTick:
		t.passivate(c)
		t.utilisation()
	}
}

// rebuild derives the dispatcher from the store: operators (their capacity, role and skills from the tenant's
// configuration, their availability from their stored runtime state) and the open conversations (docs/design.md,
// invariant 6: loads and the queue are derived, never stored).
func (t *tenantActor) rebuild(c *actor.Context) error {
	cfg, applied, behind, err := t.loadConfig()
	if err != nil {
		return err
	}
	if behind {
		if err := t.republish(cfg); err != nil {
			return err
		}
	}
	t.cfg, t.cfgApplied = cfg, applied
	t.policy = PolicyOf(cfg)
	t.convSet = settingsOf(cfg, t.policy)
	if t.cat == nil {
		t.cat = c.SpawnChild(func() actor.Receiver {
			return &catalogueActor{r: t.r, tenant: t.tenant, schema: schemaOf(cfg)}
		}, "catalogue", actor.WithID("catalogue"), actor.WithInboxSize(256))
	}
	t.ops = map[string]*store.OperatorState{}
	for i := range cfg.Operators {
		t.ops[cfg.Operators[i].ID] = new(storedOf(initialOf(&cfg.Operators[i]), conversation.Position{}))
	}
	stored, err := t.r.cfg.Store.Operators(t.tenant)
	if err != nil {
		return err
	}
	// The stored state gives the runtime state only: what the configuration says of the operator is the
	// configuration's, whatever an earlier version stored with it.
	for i := range stored {
		if o, known := t.ops[stored[i].ID]; known {
			s := &stored[i]
			o.Availability, o.IdleSince, o.Applied, o.Version = s.Availability, s.IdleSince, s.Applied, s.Version
		}
	}
	for i := range cfg.Operators { // a disabled operator is offered nothing (config.go, applyConfig)
		if cfg.Operators[i].Disabled {
			t.ops[cfg.Operators[i].ID].Availability = string(routing.Offline)
		}
	}
	convs, err := t.r.cfg.Store.OpenConversations(t.tenant, conversation.Unassigned, conversation.Assigned, conversation.Snoozed)
	if err != nil {
		return err
	}
	if err := t.indexHeld(convs); err != nil {
		return err
	}
	// Once per tenant, a store written before the lists' indexes existed gets them (closed conversations too).
	if n, err := t.r.cfg.Store.BackfillLists(t.tenant); err != nil {
		return err
	} else if n > 0 {
		t.r.log.Info("indexed conversations for the inbox lists", "tenant", t.tenant, "conversations", n)
	}
	ops := make([]routing.Operator, 0, len(t.ops))
	for _, o := range t.ops {
		ops = append(ops, stateOf(o).Routing())
	}
	states := make([]routing.ConvState, 0, len(convs))
	for i := range convs {
		cv := &convs[i]
		st := routing.Status(cv.Status)
		if routing.Holds(routing.Status(cv.Status), cv.AssigneeID) {
			st = routing.StatusAssigned
		} else if cv.Status == conversation.Snoozed {
			continue
		}
		states = append(states, routing.ConvState{Waiting: waitingOf(cv), Status: st, Assignee: cv.AssigneeID})
	}
	if err := t.rebuildBlocked(); err != nil {
		return err
	}
	d, as := routing.Rebuild(ops, states, routingPolicy(cfg))
	t.d = d
	t.r.metrics.rebuilds.Inc()
	t.countOperators()
	// A rebuild has no input record to take its time from: its proposals are stamped with the node's clock.
	t.propose(c, as, time.Now().UTC())
	t.observe()
	return nil
}

// indexHeld makes the store's index of held conversations (which GET /v1/operators counts loads from) say what the
// open conversations the rebuild read say: a store written before that index existed gets it, and an entry that
// drifted is set right. Only the difference is written. Nothing of this tenant writes conversations while its tenant
// actor starts, so the index cannot miss a change made meanwhile.
func (t *tenantActor) indexHeld(convs []conversation.Conversation) error {
	b := t.r.cfg.Store.NewBatch()
	n, err := b.RepairHeld(t.tenant, convs)
	if err != nil {
		b.Discard()
		return fmt.Errorf("repair held index of tenant %s: %w", t.tenant, err)
	}
	if n == 0 {
		b.Discard()
		return nil
	}
	t.r.log.Warn("repaired the index of held conversations", "tenant", t.tenant, "entries", n)
	if err := t.r.cfg.Store.Commit(b, func(err error) {
		if err != nil {
			t.r.fail(fmt.Errorf("index held conversations of tenant %s: %w", t.tenant, err))
		}
	}); err != nil {
		return fmt.Errorf("index held conversations of tenant %s: %w", t.tenant, err)
	}
	return nil
}

// PolicyOf is a tenant's conversation policy from its settings.
func PolicyOf(t *tenant.Tenant) conversation.Policy {
	return conversation.Policy{
		ReopenTo:           t.Settings.ReopenTo,
		AutoCloseAfter:     time.Duration(t.Settings.AutoCloseAfter),
		ReservationTimeout: time.Duration(t.Settings.ReservationTimeout),
		WindowWarning:      time.Duration(t.Settings.WindowWarning),
		TakeoverRoles:      t.Settings.TakeoverRoles,
		Labels:             t.LabelNames(),
	}
}

func routingPolicy(t *tenant.Tenant) routing.Policy {
	return routing.Policy{
		Sticky:          t.Settings.ReopenTo == conversation.ReopenToLastOperator,
		OfflineReleases: t.Settings.OfflineReleases,
		Manual:          t.Settings.Routing == tenant.RoutingManual,
	}
}

func waitingOf(c *conversation.Conversation) routing.Waiting {
	return routing.Waiting{ConversationID: c.ID, Priority: c.Priority, EnqueuedAt: c.WaitingSince.UnixMilli(),
		LastOperator: c.LastOperatorID, Skills: c.RequiredSkills}
}

// convInbox is the inbox size of a conversation actor: hollywood allocates it whole with the actor (24 bytes a slot)
// and doubles it when a message arrives to a full one, so it is sized for the few items a conversation usually has
// in flight at once (an item, a proposal, a settings change), not for a burst.
const convInbox = 4

// withConvInbox is the option of that size, built once.
var withConvInbox = actor.WithInboxSize(convInbox)

// kid returns the actor of conversation id, starting it if none runs.
//
// Each start gets its own actor id (the conversation id and a sequence number): an actor being stopped stays in
// hollywood's registry until it has processed its poison pill, and spawning one with the same id meanwhile would
// be refused as a duplicate and hand back the dying actor's PID, whose inbox drops what arrives after the pill.
func (t *tenantActor) kid(c *actor.Context, id string) *child {
	k := t.kids[id]
	if k == nil {
		k = &child{}
		t.spawned++
		set := t.convSet
		var name [64]byte
		if t.kidOpts == nil {
			// hollywood applies the options at the spawn and keeps none of the slice: it is reused for every spawn.
			t.kidOpts = append([]actor.OptFunc{nil, withConvInbox}, t.convOpts...)
		}
		t.kidOpts[0] = actor.WithID(string(strconv.AppendUint(append(append(name[:0], id...), '.'), t.spawned, 36)))
		k.pid = c.SpawnChild(func() actor.Receiver {
			return &conversationActor{r: t.r, tenant: t.tenant, id: id, set: set}
		}, "c", t.kidOpts...)
		t.kidOpts[0] = nil
		t.kids[id] = k
		t.kidsPeak = max(t.kidsPeak, len(t.kids))
		t.r.metrics.actorsActive.Inc()
	}
	k.lastUsed, k.trimmed = time.Now(), false
	return k
}

func (t *tenantActor) route(c *actor.Context, m *recordMsg) {
	at := time.UnixMilli(m.rec.IngestAt).UTC()
	t.pruneAudit(m, at)
	for i := range m.rec.Items {
		it := &m.rec.Items[i]
		pos := conversation.Position{Offset: m.offset, Index: i}
		var id string
		itemAt := at
		var blocked bool
		switch it.Kind {
		case inbox.KindMessage:
			id = conversation.ID(it.Channel, it.Message.From)
			_, blocked = t.blocked[id]
			// The sender becomes (or stays) a contact: the catalogue sees every message too, as one more piece of
			// the record's work, counted before the conversation can finish its own.
			m.ack.remaining.Add(1)
			c.Send(t.cat, &catalogueMsg{item: it, pos: pos, at: at, ack: m.ack})
		case inbox.KindTemplate:
			c.Send(t.cat, &catalogueMsg{item: it, pos: pos, at: at, ack: m.ack})
			continue
		case inbox.KindStatus:
			id = conversation.ID(it.Channel, it.Status.RecipientID)
		case inbox.KindDelivery:
			id = it.Delivery.ConversationID
		case inbox.KindTimer:
			id = it.Timer.ConversationID
			// A timer's time is its due time; the record only carries it to the partition.
			itemAt = time.UnixMilli(it.Timer.Due).UTC()
		case inbox.KindCommand:
			if t.refuseBlocked(it) {
				m.ack.itemDone()
				continue
			}
			if it.Command.Type == string(conversation.CmdStart) {
				// A start names its customer, not a conversation: the conversation is derived from them, whatever
				// ConversationID says, so it can never be stored under another's id.
				id = conversation.ID(it.Channel, it.Command.WaID)
				break
			}
			if it.Command.ConversationID == "" {
				if isConfigCommand(it.Command.Type) {
					t.configCommand(c, it.Command, pos, at, m.ack)
					continue
				}
				if it.Command.Type == inbox.CmdAudit {
					t.auditCommand(c, it.Command, pos, at, m.ack)
					continue
				}
				if catalogueCommand(it.Command.Type) {
					t.catalogue(c, it, pos, at, m.ack)
					continue
				}
				t.operatorCommand(c, it.Command, pos, at, m.ack)
				continue
			}
			id = it.Command.ConversationID
		}
		k := t.kid(c, id)
		k.outstanding.Add(1)
		k.sent++
		msg := &itemMsg{item: it, pos: pos, at: itemAt, ack: m.ack, kid: k, blocked: blocked, seq: k.sent}
		if it.Kind == inbox.KindCommand {
			if o := t.ops[it.Command.OperatorID]; o != nil {
				msg.role = o.Role
			}
		}
		c.Send(k.pid, msg)
	}
}

// propose offers conversations to the operators the dispatcher chose. Each conversation asks for its grant before
// it assigns, so a proposal that went stale on the way is refused there.
func (t *tenantActor) propose(c *actor.Context, as []routing.Assignment, at time.Time) {
	for _, a := range as {
		k := t.kid(c, a.ConversationID)
		t.proposed[a.ConversationID] = a.OperatorID
		c.Send(k.pid, &proposeMsg{op: a.OperatorID, at: at})
	}
}

// grant counts a conversation against an operator's capacity, or refuses. It answers g last of what it reads of
// it: the asker reuses g once answered.
func (t *tenantActor) grant(c *actor.Context, g *grantReq) {
	conv, op, at := g.conv, g.op, g.at
	cur, held := t.d.Assignee(conv)
	if g.proposal && t.proposed[conv] == op {
		delete(t.proposed, conv)
	}
	switch {
	case held && cur == op:
		g.answer(nil)
		t.r.metrics.grantsBy.Get("ok").Inc()
	case g.proposal:
		// The dispatcher moved the conversation since it proposed: the proposal is stale.
		g.answer(routing.ErrConversationAssigned)
		t.r.metrics.grantsBy.Get("stale").Inc()
	default:
		as, err := t.d.Assigned(conv, op, at.UnixMilli())
		if err != nil {
			g.answer(err)
			t.r.metrics.grantsBy.Get("refused").Inc()
			return
		}
		g.answer(nil)
		t.r.metrics.grantsBy.Get("ok").Inc()
		t.propose(c, as, at)
	}
	t.observe()
}

// appendAssignments is append(as, more...) that copies nothing when as is empty. The dispatcher reuses its result
// slices: only for a result read before the dispatcher is asked anything else (sync proposes at once).
func appendAssignments(as, more []routing.Assignment) []routing.Assignment {
	if len(as) == 0 {
		return more
	}
	return append(as, more...)
}

// sync brings the dispatcher's view of one conversation in line with the conversation's own report.
func (t *tenantActor) sync(c *actor.Context, m *convReport) {
	at := m.at.UnixMilli()
	cur, held := t.d.Assignee(m.id)
	var as []routing.Assignment
	switch {
	case routing.Holds(routing.Status(m.status), m.assignee):
		delete(t.proposed, m.id)
		if held && cur == m.assignee {
			return
		}
		if held {
			as = append(as, t.d.Released(m.id, at)...)
		}
		more, err := t.d.Assigned(m.id, m.assignee, at)
		if err != nil {
			// Every assignment is granted before it is made, so this means the view and the records disagree.
			t.r.metrics.divergence.Inc()
			t.r.log.Error("BUG: conversation assigned without a grant", "tenant", t.tenant, "conversation", m.id,
				"operator", m.assignee, "err", err)
		}
		as = appendAssignments(as, more)
	case m.status == conversation.Unassigned:
		if held && t.proposed[m.id] == cur {
			// A proposal on its way to the conversation: its grant request or its refusal comes next.
			return
		}
		if held {
			as = append(as, t.d.Released(m.id, at)...)
		}
		w := m.waiting
		if !m.sticky {
			w.LastOperator = ""
		}
		more, err := t.d.Enqueue(w)
		if err != nil {
			t.r.log.Error("BUG: enqueue", "tenant", t.tenant, "conversation", m.id, "err", err)
		}
		as = appendAssignments(as, more)
	default: // closed, or snoozed without an operator: holds no capacity and waits for nobody
		delete(t.proposed, m.id)
		as = t.d.Released(m.id, at)
	}
	t.propose(c, as, m.at)
	t.observe()
}

// observe moves the node-wide routing gauges by this tenant's change since it last looked.
func (t *tenantActor) observe() {
	q := t.d.QueueLen()
	t.r.metrics.queueDepth.Add(float64(q - t.lastQueue))
	t.lastQueue = q
}

// operatorCommand applies an operator-level command (availability, update_operator) in the tenant actor, which owns
// operator state: the rules (actors/operator) decide, and this persists the new state, tells the dispatcher and
// sends what it decided. The operator's new state is committed (applied, so ahead of any later batch in Pebble's
// log) before a release or a proposal leaves: a conversation that moves because of it can never be durable while
// the change that moved it is not (docs/design.md, invariant 3), whatever a kill -9 cuts.
func (t *tenantActor) operatorCommand(c *actor.Context, cmd *inbox.Command, pos conversation.Position, at time.Time, ack *recordAck) {
	// finish publishes the outcome and finishes the item: at once without a batch, else once b is durable. It
	// reports false when b could not be committed (the router is then failing).
	events := 0 // operator events in b: the relay is told once b is durable
	finish := func(res outcome.Result, b *store.Batch) bool {
		if b == nil {
			t.r.cfg.Outcomes.Publish(cmd.RequestID, res)
			ack.itemDone()
			return true
		}
		if err := t.r.cfg.Store.Commit(b, func(err error) {
			if err != nil {
				t.r.fail(fmt.Errorf("persist operator of tenant %s: %w", t.tenant, err))
				return
			}
			if relay := t.r.cfg.Relay; relay != nil && events > 0 {
				relay.Notify()
			}
			t.r.cfg.Outcomes.Publish(cmd.RequestID, res)
			ack.itemDone()
		}); err != nil {
			t.r.fail(fmt.Errorf("commit operator %s of tenant %s: %w", cmd.TargetID, t.tenant, err))
			return false
		}
		return true
	}
	refuse := func(r *operator.Refusal) {
		finish(outcome.Result{Code: r.Code, Message: r.Message}, nil)
	}
	target := t.ops[cmd.TargetID]
	if target != nil && !target.Applied.Less(pos) && target.Applied != (conversation.Position{}) {
		t.r.metrics.skippedBy.Get("replay").Inc()
		finish(outcome.Result{Body: stateOf(target)}, nil)
		return
	}
	var prev operator.State
	if target != nil {
		prev = stateOf(target)
	}
	var caller operator.Caller
	if o := t.ops[cmd.OperatorID]; o != nil {
		caller = operator.Caller{ID: o.ID, Role: o.Role}
	}
	next, effects, err := operator.Apply(prev, commandOf(cmd), caller, at.UnixMilli())
	if err != nil {
		var r *operator.Refusal
		if !errors.As(err, &r) {
			t.r.fail(fmt.Errorf("BUG: operator rules failed without a refusal: %w", err))
			return
		}
		refuse(r)
		return
	}
	var as []routing.Assignment
	var released []string
	for _, e := range effects {
		// The dispatcher reuses its result slices, so each call's are copied before the next.
		var more []routing.Assignment
		var rel []string
		if e.Kind == operator.EffectAvailability {
			more, rel, err = t.d.SetAvailability(next.ID, next.Availability, at.UnixMilli())
		}
		if err != nil {
			// The rules accepted what the dispatcher refuses: they and the dispatcher disagree.
			t.r.metrics.divergence.Inc()
			t.r.log.Error("BUG: dispatcher refused an operator change the rules accepted", "tenant", t.tenant,
				"operator", next.ID, "err", err)
			refuse(operator.RefusalOf(err))
			return
		}
		as = append(as, more...)
		released = append(released, rel...)
	}
	stored := storedOf(next, pos)
	b := t.r.cfg.Store.NewBatch()
	if err := b.PutOperator(t.tenant, &stored); err != nil {
		b.Discard()
		t.r.fail(fmt.Errorf("write operator %s of tenant %s: %w", next.ID, t.tenant, err))
		return
	}
	// The availability event goes in the operator's batch: durable with the change, published by the relay after,
	// and named by the operator's version, so a replay of the command writes it again under the same id.
	for _, e := range effects {
		if e.Kind != operator.EffectAvailability {
			continue
		}
		v, err := json.Marshal(operator.AvailabilityEvent(t.tenant, next, at.UnixMilli()))
		if err == nil {
			err = b.PutOutbox(t.tenant, v)
		}
		if err != nil {
			b.Discard()
			t.r.fail(fmt.Errorf("write availability event of operator %s of tenant %s: %w", next.ID, t.tenant, err))
			return
		}
		events++
		t.r.metrics.eventsBy.Get(operator.EventAvailability).Inc()
	}
	*target = stored
	if !finish(outcome.Result{Body: next}, b) {
		return
	}
	for _, id := range released {
		k := t.kid(c, id)
		c.Send(k.pid, &releaseMsg{op: next.ID, cause: pos, at: at})
	}
	t.propose(c, as, at)
	t.observe()
	t.countOperators()
	t.utilisation()
}

// initialOf is the state of a configured operator that has not changed its availability.
func initialOf(o *tenant.Operator) operator.State {
	return operator.Initial(o.ID, o.Capacity, o.Role, o.Skills)
}

// stateOf is a stored operator as the rules see it.
func stateOf(o *store.OperatorState) operator.State {
	return operator.State{ID: o.ID, Availability: routing.Availability(o.Availability), Capacity: o.Capacity,
		Role: o.Role, Skills: o.Skills, IdleSince: o.IdleSince, Version: o.Version}
}

// storedOf is the operator state to store once the command at pos applied.
func storedOf(s operator.State, pos conversation.Position) store.OperatorState {
	return store.OperatorState{ID: s.ID, Availability: string(s.Availability), Capacity: s.Capacity, Role: s.Role,
		Skills: s.Skills, IdleSince: s.IdleSince, Applied: pos, Version: s.Version}
}

// commandOf is an operator command record as the rules take it.
func commandOf(ic *inbox.Command) operator.Command {
	return operator.Command{Type: operator.CommandType(ic.Type), Availability: routing.Availability(ic.Availability)}
}

// stopKids stops every conversation actor without waiting (the partition consumer waits for them) and turns the
// tenant actor to receiveStopping. A conversation actor may be asking for a grant, or be about to: waiting for it
// here, in the tenant actor that must answer, would hold both until the grant times out.
func (t *tenantActor) stopKids(c *actor.Context) {
	t.stopping = true
	done := make([]context.Context, 0, len(t.kids))
	for _, k := range t.kids {
		done = append(done, c.Engine().Poison(k.pid))
	}
	t.r.metrics.actorsActive.Sub(float64(len(t.kids)))
	clear(t.kids)
	clear(t.proposed)
	if t.cat != nil {
		done = append(done, c.Engine().Poison(t.cat))
		t.cat = nil
	}
	c.Respond(&kidsStopping{done: done})
}

// receiveStopping is the tenant actor once its conversation actors are stopping: it refuses every grant (the
// conversation actor then leaves its input unfinished, for the partition's next owner), routes and proposes
// nothing, and keeps its gauges for Stopped to take back.
func (t *tenantActor) receiveStopping(c *actor.Context) {
	switch m := c.Message().(type) {
	case *grantReq:
		m.answer(errStopping)
		t.r.metrics.grantsBy.Get("stopping").Inc()
	case actor.Stopped:
		t.stopping = false
		t.Receive(c)
	}
}

// forget stops the actor of a conversation that does not exist, unless input was sent to it since it asked.
func (t *tenantActor) forget(c *actor.Context, m *forgetMsg) {
	k := t.kids[m.id]
	if k == nil || k != m.kid || k.sent != m.seq || k.outstanding.Load() != 0 {
		return
	}
	if _, ok := t.proposed[m.id]; ok {
		return
	}
	c.Engine().Poison(k.pid)
	delete(t.kids, m.id)
	t.r.metrics.actorsActive.Dec()
	t.r.metrics.passivated.Inc()
}

// passivate stops conversation actors idle for IdleAfter with nothing outstanding, so memory follows active
// conversations (docs/design.md, invariant 8), and has those idle for half of it drop their conversation (trimMsg). Their state is in Pebble; the next item re-activates them from there.
func (t *tenantActor) passivate(c *actor.Context) {
	now := time.Now()
	cutoff, trimCutoff := now.Add(-t.r.cfg.IdleAfter), now.Add(-t.r.cfg.IdleAfter/2)
	for id, k := range t.kids {
		if k.outstanding.Load() != 0 {
			continue
		}
		switch {
		case k.lastUsed.Before(cutoff):
			c.Engine().Poison(k.pid)
			delete(t.kids, id)
			t.r.metrics.actorsActive.Dec()
			t.r.metrics.passivated.Inc()
		case !k.trimmed && k.lastUsed.Before(trimCutoff):
			c.Send(k.pid, trimMsg{})
			k.trimmed = true
		}
	}
	t.kids = shrunk(t.kids, &t.kidsPeak)
}

// shrinkFrom is the high-water mark below which a map is left as it is (shrunk): a few thousand entries' buckets
// are not worth a copy.
const shrinkFrom = 1024

// shrunk returns m, or a copy of it sized to its entries when it holds a quarter or less of its high-water mark
// *peak (at least shrinkFrom), which it then resets: Go maps never give back the buckets of their largest size, so
// a tenant's map of conversation actors would otherwise keep the size of its busiest hour.
func shrunk[K comparable, V any](m map[K]V, peak *int) map[K]V {
	if *peak < shrinkFrom || len(m) > *peak/4 {
		return m
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	*peak = len(c)
	return c
}
