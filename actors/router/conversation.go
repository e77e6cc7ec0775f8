package router

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/sender"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// grantTimeout bounds a conversation actor's wait for its tenant actor's grant: a local actor round trip, so only a
// stuck tenant actor reaches it, and the router then stops rather than guess.
const grantTimeout = 10 * time.Second

// conversationActor holds one conversation's state, applies the domain rules to each input and persists the result.
// It never waits for an fsync: the store releases an item's acknowledgement, outcome and events once its batch is
// durable. It waits only for its tenant actor's capacity grant, a local message round trip.
type conversationActor struct {
	r      *Router
	tenant string
	id     string
	// set are the tenant's settings, shared with the tenant's other conversation actors (config.go).
	set *convSettings
	// conv is the conversation as stored, loaded on the first input (nil until then, and after a trim: trimMsg).
	conv   *conversation.Conversation
	loaded bool
	// commits counts this actor's batches not yet durable; a trim waits for none (the store must hold conv).
	commits atomic.Int32
	// reported is the routing state the tenant actor last heard of: what report compares.
	reported reportedState
	// refusedStart is the position of the latest start refused while the conversation did not exist (zero: none),
	// read from the store once (refusedLoaded).
	refusedStart  conversation.Position
	refusedLoaded bool
	// known is what the actor knows of its conversation's messages, so the hot path reads the store only for what
	// it cannot answer itself (known.go).
	known knownMessages
}

func (a *conversationActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.r.metrics.activations.Inc()
	case *itemMsg:
		a.guard(func() { a.handle(c, m) }, func() { a.done(m, outcome.Result{Code: outcome.CodeInternal, Message: "internal error"}) })
		// hollywood keeps an actor's last message until the next one: an idle actor would keep its last item alive,
		// and through it its record's items and their strings. Nothing reads m after handle (its callbacks hold
		// what they need).
		m.item, m.ack = nil, nil
	case *proposeMsg:
		a.guard(func() { a.propose(c, m) }, nil)
	case *releaseMsg:
		a.guard(func() { a.release(c, m) }, nil)
	case *settingsMsg:
		a.set = m.set
	case *rerouteMsg:
		a.guard(func() { a.reroute(c) }, nil)
	case trimMsg:
		a.trim()
	}
}

// trim drops what the actor holds of its conversation once every batch of it is durable, so the store holds it: the
// next input loads it again, as an activation does, and what the actor knew of its messages starts over (known.go).
func (a *conversationActor) trim() {
	if !a.loaded || a.commits.Load() != 0 {
		return
	}
	a.conv, a.loaded, a.known = nil, false, knownMessages{}
	a.r.trims.Add(1)
}

// guard runs f, turning a panic (a bug in a rule) into a counted, logged failure that still finishes the input:
// hollywood would drop the message and its record would never finish.
func (a *conversationActor) guard(f func(), onPanic func()) {
	defer func() {
		if p := recover(); p != nil {
			a.r.metrics.failed.Inc()
			a.r.log.Error("BUG: applying input panicked", "tenant", a.tenant, "conversation", a.id, "panic", p)
			if onPanic != nil {
				onPanic()
			}
		}
	}()
	if !a.loaded {
		cv, err := a.r.cfg.Store.Conversation(a.tenant, a.id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.r.fail(fmt.Errorf("load tenant %s conversation %s: %w", a.tenant, a.id, err))
			return
		}
		if cv.Contact.WaID != "" {
			// A conversation stored when contact ids were per channel gets its contact's id with its next change.
			cv.Contact.ID = conversation.ContactID(cv.Contact.WaID)
		}
		a.conv, a.loaded = &cv, true
		a.known.start(err == nil)
		a.reported = reportedOf(a.routingState(time.Time{}))
	}
	f()
}

// done finishes an item that wrote nothing: its outcome and acknowledgement are released at once.
func (a *conversationActor) done(m *itemMsg, res outcome.Result) {
	if m.item.Kind == inbox.KindCommand {
		a.r.cfg.Outcomes.Publish(m.item.Command.RequestID, res)
	}
	m.kid.outstanding.Add(-1)
	m.ack.itemDone()
}

func (a *conversationActor) handle(c *actor.Context, m *itemMsg) {
	if a.conv.ID != "" && !a.conv.Applied.Less(m.pos) {
		a.r.metrics.skippedBy.Get("replay").Inc()
		a.done(m, outcome.Result{Code: outcome.CodeReplayed, Message: "command already applied"})
		return
	}
	if a.conv.ID == "" && m.item.Kind == inbox.KindCommand && m.item.Command.Type == string(conversation.CmdStart) {
		replayed, err := a.startReplayed(m.pos)
		if err != nil {
			a.r.fail(fmt.Errorf("tenant %s conversation %s: %w", a.tenant, a.id, err))
			return
		}
		if replayed {
			a.r.metrics.skippedBy.Get("replay").Inc()
			a.done(m, outcome.Result{Code: outcome.CodeReplayed, Message: "command already applied"})
			c.Send(c.Parent(), &forgetMsg{id: a.id, kid: m.kid, seq: m.seq})
			return
		}
	}
	var err error
	switch m.item.Kind {
	case inbox.KindMessage:
		err = a.applyMessage(c, m)
	case inbox.KindStatus:
		err = a.applyStatus(c, m)
	case inbox.KindTimer:
		err = a.applyTimer(c, m)
	case inbox.KindCommand:
		err = a.applyCommand(c, m)
	case inbox.KindDelivery:
		err = a.applyDelivery(c, m)
	default:
		a.done(m, outcome.Result{})
	}
	if err != nil {
		a.r.fail(fmt.Errorf("tenant %s conversation %s: %w", a.tenant, a.id, err))
	}
}

// startReplayed reports whether a start at pos, for a conversation that does not exist, is at or before the latest
// start refused for it (store.PutRefusedStart): a replay, to be refused again without a second look.
func (a *conversationActor) startReplayed(pos conversation.Position) (bool, error) {
	if !a.refusedLoaded {
		p, err := a.r.cfg.Store.RefusedStart(a.tenant, a.id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		a.refusedStart, a.refusedLoaded = p, true
	}
	return a.refusedStart != (conversation.Position{}) && !a.refusedStart.Less(pos), nil
}

// change is one durable step: the conversation before and after, messages to store, the effects to release.
type change struct {
	prev, next conversation.Conversation
	messages   []conversation.Message // new messages, and any written whole again
	// updates are stored messages with a new state (a status, the channel's answer): only what changed is indexed.
	updates []messageUpdate
	effects []conversation.Effect
	item    *itemMsg       // nil for internal steps (proposals, releases)
	result  outcome.Result // the command's outcome, published once durable
	extra   func(*store.Batch) error
	// readReceipt is the wamid of a customer message to mark read on WhatsApp (with every earlier one): a read
	// receipt job queued in the change's batch for the channel's sender. "" queues none.
	readReceipt string
	// assignedSince, for a dispatcher's assignment, is when the input that made it possible was accepted.
	assignedSince time.Time
	// scrub asks the store to scrub the tenant's files once the change is durable (an erase, erase.go).
	scrub bool
}

// messageUpdate is a stored message (prev, as stored) and its new state.
type messageUpdate struct{ prev, next conversation.Message }

// persist writes a change in one batch — conversation, status index, messages, outbox events, timers — and releases
// its acknowledgement, outcome and events once the batch is durable (docs/design.md, invariants 3 and 4).
func (a *conversationActor) persist(c *actor.Context, ch change) error {
	if ch.item != nil {
		ch.next.Applied = ch.item.pos
	}
	b := a.r.cfg.Store.NewBatch()
	fail := func(err error) error { b.Discard(); return err }
	if err := b.PutConversation(&ch.prev, &ch.next); err != nil {
		return fail(err)
	}
	for i := range ch.messages {
		if err := b.PutMessage(a.tenant, &ch.messages[i]); err != nil {
			return fail(err)
		}
	}
	for i := range ch.updates {
		if err := b.UpdateMessage(a.tenant, &ch.updates[i].prev, &ch.updates[i].next); err != nil {
			return fail(err)
		}
	}
	events := 0
	var jobs []sender.Job
	var eventBuf [512]byte
	for _, ef := range ch.effects {
		if ef.Message != nil {
			if err := b.PutMessage(a.tenant, ef.Message); err != nil {
				return fail(err)
			}
			if ef.Message.Direction == conversation.DirOut && ef.Message.Status == conversation.Pending {
				j, err := sender.Queue(b, &ch.next, ef.Message)
				if err != nil {
					return fail(err)
				}
				jobs = append(jobs, j)
			}
		}
		if ef.Event != nil {
			// Encoded on the stack (a longer event moves to the heap); the batch copies it.
			v, err := ef.Event.AppendJSON(eventBuf[:0])
			if err != nil {
				return fail(fmt.Errorf("encode event %s: %w", ef.Event.ID, err))
			}
			if err := b.PutOutbox(a.tenant, v); err != nil {
				return fail(err)
			}
			events++
			a.r.metrics.eventsBy.Get(ef.Event.Type).Inc()
			if ef.Event.Type == conversation.EventAssigned {
				a.r.metrics.waitSeconds.Observe(ef.Event.WaitSeconds)
			}
		}
	}
	// The audit log keeps take-overs and erasures, in the change's batch (audit.go).
	if e, ok := conversationEntry(a.tenant, ch.next.ID, ch.item, ch.effects); ok {
		if err := writeAudit(a.r, b, a.tenant, []audit.Entry{e}); err != nil {
			return fail(err)
		}
		events++
	}
	if ch.readReceipt != "" {
		j, err := sender.QueueRead(b, a.tenant, ch.next.ChannelID, ch.readReceipt)
		if err != nil {
			return fail(err)
		}
		jobs = append(jobs, j)
	}
	if err := a.moveTimers(b, ch.prev.Timers, ch.next.Timers); err != nil {
		return fail(err)
	}
	if ch.extra != nil {
		if err := ch.extra(b); err != nil {
			return fail(err)
		}
	}
	parks := a.r.parks.now()
	// The callback takes what it needs of the item, not the item (Receive drops it once handled).
	d := a.r.persists.get()
	d.a, d.events, d.jobs, d.res = a, events, jobs, ch.result
	if ch.item != nil {
		d.kid, d.ack = ch.item.kid, ch.item.ack
		if ch.item.item.Kind == inbox.KindCommand {
			d.request = ch.item.item.Command.RequestID
		}
	}
	d.assignedSince, d.scrub = ch.assignedSince, ch.scrub
	a.commits.Add(1)
	if err := a.r.cfg.Store.Commit(b, d.run); err != nil {
		return err
	}
	a.known.wrote(&ch, parks)
	*a.conv = ch.next
	a.report(c, ch.next.UpdatedAt, false)
	return nil
}

// persistDone is what a change releases once its batch is durable (persist): its run is the batch's callback. The
// router keeps up to persistsKept of them between changes, each with its run bound once, so a change allocates no
// callback.
type persistDone struct {
	a             *conversationActor
	events        int
	jobs          []sender.Job
	assignedSince time.Time
	scrub         bool
	kid           *child
	ack           *recordAck
	request       string // the command's request id; "" for other items
	res           outcome.Result
	free          persistDones
	run           func(error) // d.release bound once
}

func (d *persistDone) release(err error) {
	a := d.a
	a.commits.Add(-1)
	if err != nil {
		a.r.fail(fmt.Errorf("persist tenant %s conversation %s: %w", a.tenant, a.id, err))
		return // not kept: a failed store stops the router
	}
	if relay := a.r.cfg.Relay; relay != nil && d.events > 0 {
		relay.Notify()
	}
	if snd := a.r.cfg.Sender; snd != nil && len(d.jobs) > 0 {
		snd.Notify(d.jobs...)
	}
	if !d.assignedSince.IsZero() {
		a.r.metrics.assignment.Observe(time.Since(d.assignedSince).Seconds())
	}
	if d.scrub {
		a.r.cfg.Store.RequestScrub(a.tenant)
	}
	if d.ack != nil {
		if d.request != "" {
			a.r.cfg.Outcomes.Publish(d.request, d.res)
		}
		d.kid.outstanding.Add(-1)
		d.ack.itemDone()
	}
	d.free.put(d)
}

// persistDones holds at most persistsKept callbacks between changes, for every conversation actor of the router.
type persistDones struct{ freeList[persistDone] }

// persistsKept bounds the callbacks kept: about as many changes as wait for their sync at once.
const persistsKept = 256

func (p persistDones) get() *persistDone {
	return p.freeList.get(func() *persistDone {
		d := &persistDone{free: p}
		d.run = d.release
		return d
	})
}

// put keeps d, emptied, for the next change, or drops it when enough are kept.
func (p persistDones) put(d *persistDone) {
	*d = persistDone{free: d.free, run: d.run}
	p.freeList.put(d)
}

// moveTimers keeps the store's timer index in step with the conversation's due times.
func (a *conversationActor) moveTimers(b *store.Batch, old, next conversation.Timers) error {
	for _, k := range conversation.TimerKinds {
		o, n := old.Due(k), next.Due(k)
		if o.Equal(n) {
			continue
		}
		if !o.IsZero() {
			if err := b.DeleteTimer(store.TimerKey{Due: o, Tenant: a.tenant, Conversation: a.id, Kind: string(k)}); err != nil {
				return err
			}
		}
		if !n.IsZero() {
			if err := b.PutTimer(store.TimerKey{Due: n, Tenant: a.tenant, Conversation: a.id, Kind: string(k)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// routingState is what the tenant actor needs to know of the conversation.
func (a *conversationActor) routingState(at time.Time) convReport {
	return convReport{id: a.id, status: a.conv.Status, assignee: a.conv.AssigneeID, waiting: waitingOf(a.conv),
		sticky: a.set.policy.ReopenTo == conversation.ReopenToLastOperator, at: at}
}

// reportedState is the part of a convReport that report compares: half its size, kept by every resident actor.
type reportedState struct {
	status     conversation.Status
	assignee   string
	enqueuedAt int64
	priority   int
	skills     []string
}

func reportedOf(r convReport) reportedState {
	return reportedState{status: r.status, assignee: r.assignee, enqueuedAt: r.waiting.EnqueuedAt,
		priority: r.waiting.Priority, skills: r.waiting.Skills}
}

// report tells the tenant actor the conversation's routing state when it changed, or always when force.
func (a *conversationActor) report(c *actor.Context, at time.Time, force bool) {
	if a.conv.ID == "" {
		return
	}
	r := a.routingState(at)
	now := reportedOf(r)
	if !force && now.status == a.reported.status && now.assignee == a.reported.assignee &&
		now.enqueuedAt == a.reported.enqueuedAt && now.priority == a.reported.priority &&
		slices.Equal(now.skills, a.reported.skills) {
		return
	}
	a.reported = now
	c.Send(c.Parent(), &r)
}

// askGrant asks the tenant actor to count this conversation against op's capacity and waits for the answer.
func (a *conversationActor) askGrant(c *actor.Context, op string, proposal bool, at time.Time) error {
	g := a.r.grants.get()
	g.req.conv, g.req.op, g.req.proposal, g.req.at = a.id, op, proposal, at
	if g.timer == nil {
		g.timer = time.NewTimer(grantTimeout)
	} else {
		g.timer.Reset(grantTimeout)
	}
	c.Send(c.Parent(), &g.req)
	select {
	case err := <-g.req.reply:
		g.timer.Stop()
		a.r.grants.put(g)
		if err != nil {
			return &grantRefused{err}
		}
		return nil
	case <-g.timer.C:
		// g is not kept: the tenant actor may still answer on its reply.
		return fmt.Errorf("BUG: no capacity grant from the tenant actor within %s", grantTimeout)
	}
}

// grantRefused is a capacity refusal, as opposed to a failure to get an answer.
type grantRefused struct{ err error }

func (g *grantRefused) Error() string { return g.err.Error() }

func (g *grantRefused) Unwrap() error { return g.err }

func (a *conversationActor) applyMessage(c *actor.Context, m *itemMsg) error {
	msg := m.item.Message
	// A repeat of a customer's message names the same conversation (its id derives from channel and sender), so
	// a conversation that does not exist yet cannot hold it: only existing ones look the wamid up.
	// The actor may know that the conversation holds no such id (known.go).
	if a.conv.ID != "" && !a.known.mayHoldInbound(msg.ID) {
		a.r.local.dedupe.Add(1)
	} else if a.conv.ID != "" {
		if _, _, err := a.r.cfg.Store.MessageRef(a.tenant, msg.ID); err == nil {
			a.r.metrics.skippedBy.Get("duplicate").Inc()
			a.done(m, outcome.Result{})
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	prev := *a.conv
	in := conversation.Inbound{TenantID: a.tenant, ChannelID: m.item.Channel, Message: msg, At: m.at, Pos: m.pos}
	if m.blocked {
		// A blocked contact's message is stored and nothing else: no event, no queue (blocked.go).
		next, stored := conversation.ReceiveBlocked(prev, in)
		a.r.metrics.appliedBy.Get("message_blocked").Inc()
		return a.persist(c, change{prev: prev, next: next, messages: []conversation.Message{stored}, item: m})
	}
	next, stored, effects := conversation.Receive(prev, in, a.set.policy)
	next, err := a.routed(prev, next)
	if err != nil {
		return err
	}
	a.r.metrics.appliedBy.Get("message").Inc()
	return a.persist(c, change{prev: prev, next: next, messages: []conversation.Message{stored}, effects: effects, item: m})
}

func (a *conversationActor) applyStatus(c *actor.Context, m *itemMsg) error {
	st := m.item.Status
	// A reply the actor wrote and holds is answered as stored (known.go).
	var msg conversation.Message
	conv, seq, err := a.id, uint64(0), error(nil)
	k, cached := a.known.reply(st.ID)
	if cached {
		msg, seq = k.msg, k.msg.Seq
		a.r.local.status.Add(1)
	} else {
		conv, seq, err = a.r.cfg.Store.MessageRef(a.tenant, st.ID)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && conv != a.id) {
		if conversation.Erased(a.conv) {
			// The erase deleted the message and its id: this status is for a message sent before it (the customer
			// read the reply the next day). Parking it would store the customer's number (recipient_id) again,
			// with nothing left to delete it; and nothing was sent since, as an erased conversation has no address.
			a.r.metrics.skippedBy.Get("erased").Inc()
			a.done(m, outcome.Result{})
			return nil
		}
		// Meta can report a status before the send that produced the wamid is recorded: keep the furthest one.
		parked, perr := a.r.cfg.Store.ParkedStatus(a.tenant, st.ID)
		if perr != nil && !errors.Is(perr, store.ErrNotFound) {
			return perr
		}
		if perr == nil {
			if _, changed := conversation.AdvanceStatus(conversation.MessageStatus(parked.Status), conversation.MessageStatus(st.Status)); !changed {
				a.r.metrics.skippedBy.Get("stale_status").Inc()
				a.done(m, outcome.Result{})
				return nil
			}
		}
		b := a.r.cfg.Store.NewBatch()
		if err := b.ParkStatus(a.tenant, st); err != nil {
			b.Discard()
			return err
		}
		a.r.parks.park(st.ID)
		a.r.metrics.appliedBy.Get("status_parked").Inc()
		return a.commitPlain(b, m)
	}
	if err != nil {
		return err
	}
	if !cached {
		if msg, err = a.r.cfg.Store.Message(a.tenant, conv, seq); err != nil {
			return fmt.Errorf("load message %d of conversation %s: %w", seq, conv, err)
		}
	}
	next, changed := conversation.ApplyStatus(msg, st)
	if !changed {
		a.r.metrics.skippedBy.Get("stale_status").Inc()
		a.done(m, outcome.Result{})
		return nil
	}
	a.r.metrics.appliedBy.Get("status").Inc()
	conv2, _ := conversation.ApplyLastStatus(*a.conv, next)
	return a.persist(c, change{prev: *a.conv, next: conv2, updates: []messageUpdate{{msg, next}}, item: m,
		effects: []conversation.Effect{{Event: conversation.StatusEvent(*a.conv, next, m.at)}}})
}

// applyDelivery records the channel's answer to an outbound message: its id (and any status that arrived before
// it), or its failure with Meta's reason.
func (a *conversationActor) applyDelivery(c *actor.Context, m *itemMsg) error {
	d := m.item.Delivery
	prev := *a.conv
	var msgs []messageUpdate
	var effects []conversation.Effect
	var msg conversation.Message
	var err error
	// parks is the park clock when the actor wrote the message, if it did (known.go); else every park counts.
	parks, mine := uint64(0), false
	if k, ok := a.known.replySeq(d.Seq); ok {
		msg, parks, mine = k.msg, k.parks, true
		a.r.local.delivery.Add(1)
	} else {
		msg, err = a.r.cfg.Store.Message(a.tenant, a.id, d.Seq)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && msg.ID == d.MessageID {
		if next, changed := conversation.ApplyDelivery(msg, conversation.Delivery{WAMID: d.WAMID, ErrorCode: d.ErrorCode, ErrorTitle: d.ErrorTitle}, m.at); changed {
			if next.WAMID != "" && mine && !a.r.parks.parkedSince(next.WAMID, parks) {
				// The channel gave the wamid after the message was written, and no status was parked for it since.
				a.r.local.parked.Add(1)
			} else if next.WAMID != "" {
				// A status webhook may have come before the answer was recorded.
				if parked, err := a.r.cfg.Store.ParkedStatus(a.tenant, next.WAMID); err == nil {
					if st, ok := conversation.ApplyStatus(next, &parked); ok {
						next = st
					}
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			msgs = append(msgs, messageUpdate{msg, next})
			if next.Status != msg.Status {
				effects = append(effects, conversation.Effect{Event: conversation.StatusEvent(prev, next, m.at)})
			}
		}
	}
	a.r.metrics.appliedBy.Get("delivery").Inc()
	wamid, next := "", prev
	if len(msgs) > 0 {
		wamid = msgs[0].next.WAMID
		next, _ = conversation.ApplyLastStatus(prev, msgs[0].next)
	}
	return a.persist(c, change{prev: prev, next: next, updates: msgs, effects: effects, item: m, extra: func(b *store.Batch) error {
		if wamid != "" {
			if err := b.DeleteParkedStatus(a.tenant, wamid); err != nil {
				return err
			}
		}
		return b.DeleteDeliveryNote(a.tenant, store.NoteRef{Conversation: d.ConversationID, Seq: d.Seq})
	}})
}

// commitPlain commits a batch that changes no routing state and finishes m once it is durable.
func (a *conversationActor) commitPlain(b *store.Batch, m *itemMsg) error {
	kid, ack := m.kid, m.ack
	a.commits.Add(1)
	return a.r.cfg.Store.Commit(b, func(err error) {
		a.commits.Add(-1)
		if err != nil {
			a.r.fail(fmt.Errorf("persist tenant %s conversation %s: %w", a.tenant, a.id, err))
			return
		}
		kid.outstanding.Add(-1)
		ack.itemDone()
	})
}

func (a *conversationActor) applyTimer(c *actor.Context, m *itemMsg) error {
	tm := m.item.Timer
	kind, due := conversation.TimerKind(tm.Kind), time.UnixMilli(tm.Due).UTC()
	key := store.TimerKey{Due: due, Tenant: a.tenant, Conversation: a.id, Kind: tm.Kind}
	prev := *a.conv
	next, effects, err := conversation.FireTimer(prev, kind, due, a.set.policy, m.at)
	if err != nil {
		// A timer the rules do not know is dropped with its index entry rather than fired again forever.
		a.r.log.Warn("dropping timer", "tenant", a.tenant, "conversation", a.id, "kind", tm.Kind, "err", err)
		next, effects = prev, nil
	}
	if next, err = a.routed(prev, next); err != nil {
		return err
	}
	a.r.metrics.appliedBy.Get("timer").Inc()
	return a.persist(c, change{prev: prev, next: next, effects: effects, item: m, extra: func(b *store.Batch) error {
		// The fired entry leaves the index even when the timer was stale and the state did not move.
		if !next.Timers.Due(kind).Equal(due) {
			return b.DeleteTimer(key)
		}
		return nil
	}})
}

func (a *conversationActor) applyCommand(c *actor.Context, m *itemMsg) error {
	ic := m.item.Command
	cmd := toCommand(ic, m.role)
	prev := *a.conv
	if cmd.Type == conversation.CmdErase {
		return a.applyErase(c, m, cmd)
	}
	if cmd.Type == conversation.CmdRead && cmd.Seq > 0 && cmd.Seq < prev.Messages {
		n, err := a.inboundAfter(cmd.Seq)
		if err != nil {
			return err
		}
		cmd.Inbound = prev.InboundCount - min(n, prev.InboundCount)
	}
	refuseDurably := func(code, msg string) error {
		a.r.metrics.commandsBy.Get([2]string{ic.Type, code}).Inc()
		if prev.ID == "" && cmd.Type == conversation.CmdStart {
			// A start to a conversation that does not exist is refused for state that may differ on a replay
			// (capacity, availability): its position is recorded apart, so a replay is skipped.
			b := a.r.cfg.Store.NewBatch()
			if err := b.PutRefusedStart(a.tenant, a.id, m.pos); err != nil {
				b.Discard()
				return err
			}
			a.refusedStart = m.pos
			res, kid, ack, request := outcome.Result{Code: code, Message: msg}, m.kid, m.ack, ic.RequestID
			engine, parent, forget := c.Engine(), c.Parent(), &forgetMsg{id: a.id, kid: m.kid, seq: m.seq}
			a.commits.Add(1)
			return a.r.cfg.Store.Commit(b, func(err error) {
				a.commits.Add(-1)
				if err != nil {
					a.r.fail(fmt.Errorf("persist tenant %s conversation %s: %w", a.tenant, a.id, err))
					return
				}
				a.r.cfg.Outcomes.Publish(request, res)
				kid.outstanding.Add(-1)
				ack.itemDone()
				// Nothing to keep in memory: the tenant actor stops this actor unless more input is on its way.
				engine.Send(parent, forget)
			})
		}
		if prev.ID == "" {
			// A command for a conversation that does not exist (conversation_not_found, or a start refused):
			// nothing to record, and recording the position would create the conversation. Nothing to keep in
			// memory either: the tenant actor stops this actor at once unless more input is on its way to it, so
			// commands for made-up ids do not fill memory until IdleAfter.
			a.done(m, outcome.Result{Code: code, Message: msg})
			c.Send(c.Parent(), &forgetMsg{id: a.id, kid: m.kid, seq: m.seq})
			return nil
		}
		// The refusal is recorded (the position), so a replay of the command cannot come out differently.
		return a.persist(c, change{prev: prev, next: prev, item: m, result: outcome.Result{Code: code, Message: msg}})
	}
	// The rules decide first (existence, role, state, input, window); only a command they accept and that gives
	// the conversation to an operator asks for capacity.
	var next conversation.Conversation
	var effects []conversation.Effect
	var err error
	if cmd.Type == conversation.CmdStart {
		to := conversation.Customer{TenantID: a.tenant, ChannelID: m.item.Channel, WaID: ic.WaID}
		if ic.Contact != nil && ic.Contact.Name != nil {
			to.Name = *ic.Contact.Name
		}
		next, effects, err = conversation.Start(prev, to, cmd, a.set.policy, m.at)
	} else {
		next, effects, err = conversation.ApplyCommand(prev, cmd, a.set.policy, m.at)
	}
	if err != nil {
		var r *conversation.Refusal
		if !errors.As(err, &r) {
			return err
		}
		return refuseDurably(r.Code, r.Message)
	}
	if next, err = a.routed(prev, next); err != nil {
		return err
	}
	if op, ok := conversation.AssignsTo(cmd, prev); ok && next.AssigneeID == op {
		if err := a.askGrant(c, op, false, m.at); err != nil {
			if errors.Is(err, errStopping) {
				// The partition is stopping: no answer is better than a refusal the next owner would not give.
				// The item stays unfinished, so its record is not committed and is applied again there.
				return nil
			}
			var gr *grantRefused
			if errors.As(err, &gr) {
				r := operator.RefusalOf(gr.err)
				return refuseDurably(r.Code, r.Message)
			}
			return err
		}
	}
	a.r.metrics.commandsBy.Get([2]string{ic.Type, "ok"}).Inc()
	res := outcome.Result{Body: view(next)}
	for _, ef := range effects {
		switch {
		case ef.Message == nil:
		case cmd.Type == conversation.CmdSend || cmd.Type == conversation.CmdNote:
			res = outcome.Result{Body: ef.Message}
		case cmd.Type == conversation.CmdStart:
			res = outcome.Result{Body: &conversation.Started{Conversation: view(next), Message: *ef.Message}}
		}
	}
	ch := change{prev: prev, next: next, effects: effects, item: m, result: res}
	if prev.ID == "" && cmd.Type == conversation.CmdStart && a.refusedStart != (conversation.Position{}) {
		// The conversation's Applied position takes over from the record of refused starts.
		ch.extra = func(b *store.Batch) error { return b.DeleteRefusedStart(a.tenant, a.id) }
	}
	if cmd.Type == conversation.CmdRead && a.set.readReceipts {
		wamid, err := a.receiptFor(prev, next, cmd.OperatorID)
		if err != nil {
			return err
		}
		ch.readReceipt = wamid
	}
	return a.persist(c, ch)
}

// receiptFor returns the wamid of the latest customer message an operator's new read mark covers, when the mark
// reads customer messages nobody had read before (so WhatsApp shows the customer blue ticks once, not once per
// operator); "" otherwise.
//
// The latest customer message at or below the mark is found by paging back through the stored messages: replies
// and notes after it (any number of them) do not hide it. The mark counts more customer messages than any earlier
// mark, so that message exists and no earlier mark covered it.
func (a *conversationActor) receiptFor(prev, next conversation.Conversation, op string) (string, error) {
	mark := next.ReadBy[op]
	if mark.Inbound == 0 {
		return "", nil
	}
	for _, r := range prev.ReadBy {
		if r.Inbound >= mark.Inbound {
			return "", nil
		}
	}
	for before := mark.Seq + 1; before > 1; {
		msgs, err := a.r.cfg.Store.Messages(a.tenant, a.id, before, 50)
		if err != nil {
			return "", fmt.Errorf("find the customer message read up to %d: %w", mark.Seq, err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if m.Direction == conversation.DirIn && m.Type != "system" && m.ID != "" {
				return m.ID, nil
			}
		}
		before = msgs[len(msgs)-1].Seq
	}
	return "", nil
}

// inboundAfter counts the customer messages (system messages excluded, as InboundCount counts them) after message
// seq, for a read mark before the latest message.
func (a *conversationActor) inboundAfter(seq uint64) (uint64, error) {
	msgs, err := a.r.cfg.Store.Messages(a.tenant, a.id, 0, int(a.conv.Messages-seq))
	if err != nil {
		return 0, fmt.Errorf("count customer messages after %d: %w", seq, err)
	}
	var n uint64
	for _, m := range msgs {
		if m.Seq > seq && m.Direction == conversation.DirIn && m.Type != "system" {
			n++
		}
	}
	return n, nil
}

// propose applies the dispatcher's choice if the conversation still waits and the grant still holds.
func (a *conversationActor) propose(c *actor.Context, m *proposeMsg) {
	at := m.at
	if a.conv.Status != conversation.Unassigned {
		a.r.metrics.proposalsBy.Get("stale").Inc()
		a.report(c, at, true)
		return
	}
	if !a.conv.UpdatedAt.IsZero() && at.Before(a.conv.UpdatedAt) {
		at = a.conv.UpdatedAt
	}
	if err := a.askGrant(c, m.op, true, at); err != nil {
		var gr *grantRefused
		if !errors.As(err, &gr) {
			a.r.fail(err)
			return
		}
		a.r.metrics.proposalsBy.Get("refused").Inc()
		return
	}
	prev := *a.conv
	next, effects, err := conversation.Assign(prev, m.op, a.set.policy, at)
	if err != nil {
		a.r.metrics.proposalsBy.Get("refused").Inc()
		a.report(c, at, true)
		return
	}
	a.r.metrics.proposalsBy.Get("assigned").Inc()
	if err := a.persist(c, change{prev: prev, next: next, effects: effects, assignedSince: m.at}); err != nil {
		a.r.fail(err)
	}
}

// release takes the conversation from its operator, who went offline under a releasing policy.
func (a *conversationActor) release(c *actor.Context, m *releaseMsg) {
	prev := *a.conv
	next, effects := conversation.Release(prev, m.op, a.set.policy, m.at)
	if len(effects) == 0 {
		a.report(c, m.at, true)
		return
	}
	next, err := a.routed(prev, next)
	if err != nil {
		a.r.fail(err)
		return
	}
	if err := a.persist(c, change{prev: prev, next: next, effects: effects}); err != nil {
		a.r.fail(err)
	}
}

// view is a conversation as the API shows it.
func view(c conversation.Conversation) conversation.Conversation {
	if c.Labels == nil {
		c.Labels = []string{}
	}
	return c
}

func toCommand(ic *inbox.Command, role string) conversation.Command {
	cmd := conversation.Command{
		Type: conversation.CommandType(ic.Type), OperatorID: ic.OperatorID, Role: role, TargetID: ic.TargetID,
		AddLabels: ic.AddLabels, RemoveLabels: ic.RemoveLabels, Note: ic.Note, MessageID: ic.MessageID, Seq: ic.Seq,
	}
	if ic.Until > 0 {
		cmd.Until = time.UnixMilli(ic.Until).UTC()
	}
	// The command's reply is the record's: the domain uses the wire type, and nothing changes it.
	cmd.Message = ic.Message
	return cmd
}
