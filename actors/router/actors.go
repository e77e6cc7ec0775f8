package router

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// recordMsg carries one decoded inbox record from a partition consumer to its tenant actor.
type recordMsg struct {
	rec    inbox.Record
	offset int64
	ack    *recordAck
}

// itemMsg carries one item of a record from the tenant actor to a conversation actor.
type itemMsg struct {
	item *inbox.Item
	pos  conversation.Position
	at   time.Time
	ack  *recordAck
	kid  *child
}

// recordAck counts a record's items still to be made durable; the last one finishes the record in its tracker.
type recordAck struct {
	remaining atomic.Int32
	finish    func()
}

func (a *recordAck) itemDone() {
	if a.remaining.Add(-1) == 0 {
		a.finish()
	}
}

// idleTick asks a tenant actor to stop its idle conversation actors.
type idleTick struct{}

// child is a tenant actor's handle on one active conversation actor.
type child struct {
	pid *actor.PID
	// outstanding counts items sent to the actor and not yet durable; an actor is only stopped at zero.
	outstanding atomic.Int32
	lastUsed    time.Time
}

// tenantActor owns the conversation actors of one tenant on one partition and routes items to them.
type tenantActor struct {
	r      *Router
	tenant string
	kids   map[string]*child
	ticker actor.SendRepeater
}

func (t *tenantActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		t.kids = map[string]*child{}
		t.ticker = c.SendRepeat(c.PID(), idleTick{}, t.r.cfg.IdleAfter/4)
	case actor.Stopped:
		t.ticker.Stop()
		t.r.metrics.actorsActive.Sub(float64(len(t.kids)))
	case *recordMsg:
		t.route(c, m)
	case idleTick:
		t.passivate(c)
	}
}

func (t *tenantActor) route(c *actor.Context, m *recordMsg) {
	at := time.UnixMilli(m.rec.IngestAt).UTC()
	now := time.Now()
	for i := range m.rec.Items {
		it := &m.rec.Items[i]
		var customer string
		switch it.Kind {
		case inbox.KindMessage:
			customer = it.Message.From
		case inbox.KindStatus:
			customer = it.Status.RecipientID
		}
		id := conversation.ID(it.Channel, customer)
		k := t.kids[id]
		if k == nil {
			k = &child{}
			k.pid = c.SpawnChild(func() actor.Receiver {
				return &conversationActor{r: t.r, tenant: t.tenant, id: id}
			}, "c", actor.WithID(id), actor.WithInboxSize(8))
			t.kids[id] = k
			t.r.metrics.actorsActive.Inc()
		}
		k.lastUsed = now
		k.outstanding.Add(1)
		c.Send(k.pid, &itemMsg{item: it, pos: conversation.Position{Offset: m.offset, Index: i}, at: at, ack: m.ack, kid: k})
	}
}

// passivate stops conversation actors idle for IdleAfter with nothing outstanding, so memory follows active
// conversations (DESIGN.md, invariant 8). Their state is in Pebble; the next item re-activates them from there.
func (t *tenantActor) passivate(c *actor.Context) {
	cutoff := time.Now().Add(-t.r.cfg.IdleAfter)
	for id, k := range t.kids {
		if k.lastUsed.Before(cutoff) && k.outstanding.Load() == 0 {
			c.Engine().Poison(k.pid)
			delete(t.kids, id)
			t.r.metrics.actorsActive.Dec()
			t.r.metrics.passivated.Inc()
		}
	}
}

// conversationActor holds one conversation's state, applies the domain rules to each item and persists the result.
// It never waits for an fsync: the item's acknowledgement is released by the store once the batch is durable.
type conversationActor struct {
	r      *Router
	tenant string
	id     string
	conv   conversation.Conversation
	loaded bool
}

func (a *conversationActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.r.metrics.activations.Inc()
	case *itemMsg:
		a.handle(m)
	}
}

func (a *conversationActor) handle(m *itemMsg) {
	done := func(err error) {
		if err != nil {
			a.r.fail(fmt.Errorf("persist tenant %s conversation %s: %w", a.tenant, a.id, err))
			return
		}
		m.kid.outstanding.Add(-1)
		m.ack.itemDone()
	}
	defer func() {
		if p := recover(); p != nil {
			// A panic is a bug in a rule; hollywood would drop the message and the record would never finish.
			// Count it, keep the record in Kafka for a replay once fixed, and move on.
			a.r.metrics.failed.Inc()
			a.r.log.Error("BUG: applying item panicked", "tenant", a.tenant, "conversation", a.id, "panic", p)
			done(nil)
		}
	}()
	if !a.loaded {
		cv, err := a.r.cfg.Store.Conversation(a.tenant, a.id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.r.fail(fmt.Errorf("load tenant %s conversation %s: %w", a.tenant, a.id, err))
			return
		}
		a.conv, a.loaded = cv, true
	}
	if a.conv.ID != "" && !a.conv.Applied.Less(m.pos) {
		a.r.metrics.skipped.WithLabelValues("replay").Inc()
		done(nil)
		return
	}
	b := a.r.cfg.Store.NewBatch()
	var err error
	switch m.item.Kind {
	case inbox.KindMessage:
		err = a.applyMessage(b, m)
	case inbox.KindStatus:
		err = a.applyStatus(b, m)
	}
	if err != nil {
		b.Discard()
		a.r.fail(err)
		return
	}
	if b.Empty() {
		b.Discard()
		done(nil)
		return
	}
	if err := a.r.cfg.Store.Commit(b, done); err != nil {
		a.r.fail(fmt.Errorf("commit tenant %s conversation %s: %w", a.tenant, a.id, err))
	}
}

func (a *conversationActor) applyMessage(b *store.Batch, m *itemMsg) error {
	msg := m.item.Message
	if _, _, err := a.r.cfg.Store.MessageRef(a.tenant, msg.ID); err == nil {
		a.r.metrics.skipped.WithLabelValues("duplicate").Inc()
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	prev := a.conv
	next, stored := conversation.ApplyInbound(prev, conversation.Inbound{
		TenantID: a.tenant, ChannelID: m.item.Channel, Message: msg, At: m.at, Pos: m.pos,
	})
	if err := b.PutMessage(a.tenant, &stored); err != nil {
		return err
	}
	if err := b.PutConversation(&prev, &next); err != nil {
		return err
	}
	a.conv = next
	a.r.metrics.applied.WithLabelValues("message").Inc()
	return nil
}

func (a *conversationActor) applyStatus(b *store.Batch, m *itemMsg) error {
	st := m.item.Status
	conv, seq, err := a.r.cfg.Store.MessageRef(a.tenant, st.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && conv != a.id) {
		// Meta can report a status before the send that produced the wamid is recorded: keep the furthest one.
		parked, perr := a.r.cfg.Store.ParkedStatus(a.tenant, st.ID)
		if perr != nil && !errors.Is(perr, store.ErrNotFound) {
			return perr
		}
		if perr == nil {
			if _, changed := conversation.AdvanceStatus(conversation.MessageStatus(parked.Status), conversation.MessageStatus(st.Status)); !changed {
				a.r.metrics.skipped.WithLabelValues("stale_status").Inc()
				return nil
			}
		}
		a.r.metrics.applied.WithLabelValues("status_parked").Inc()
		return b.ParkStatus(a.tenant, st)
	}
	if err != nil {
		return err
	}
	msg, err := a.r.cfg.Store.Message(a.tenant, conv, seq)
	if err != nil {
		return fmt.Errorf("load message %d of conversation %s: %w", seq, conv, err)
	}
	next, changed := conversation.ApplyStatus(msg, st)
	if !changed {
		a.r.metrics.skipped.WithLabelValues("stale_status").Inc()
		return nil
	}
	if err := b.PutMessage(a.tenant, &next); err != nil {
		return err
	}
	prev := a.conv
	cv := a.conv
	cv.Applied = m.pos
	cv.UpdatedAt = m.at
	if err := b.PutConversation(&prev, &cv); err != nil {
		return err
	}
	a.conv = cv
	a.r.metrics.applied.WithLabelValues("status").Inc()
	return nil
}
