package router

// The conversation actor's side of erasing a customer (issue 12): the rule (conversation.Erase) decides what the
// conversation keeps; the erasure it returns is deleted in the same batch (store.EraseConversation); once durable,
// the store scrubs its files of the deleted data (store.RequestScrub).

import (
	"errors"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
)

func (a *conversationActor) applyErase(c *actor.Context, m *itemMsg, cmd conversation.Command) error {
	ic := m.item.Command
	prev := *a.conv
	next, er, effects, err := conversation.Erase(prev, cmd, a.set.policy, m.at)
	if err != nil {
		var r *conversation.Refusal
		if !errors.As(err, &r) {
			return err
		}
		a.r.metrics.commandsBy.Get([2]string{ic.Type, r.Code}).Inc()
		a.done(m, outcome.Result{Code: r.Code, Message: r.Message})
		if prev.ID == "" {
			c.Send(c.Parent(), &forgetMsg{id: a.id, kid: m.kid, seq: m.seq})
		}
		return nil
	}
	a.r.metrics.commandsBy.Get([2]string{ic.Type, "ok"}).Inc()
	res := outcome.Result{Body: conversation.EraseOutcome{ConversationID: a.id, Existed: prev.ID != "", Erased: er != nil}}
	if er == nil {
		// Nothing to erase: no record is written, so the erase of a contact's channel without a conversation
		// creates none, and a repeat leaves the store as it is.
		a.done(m, res)
		if prev.ID == "" {
			c.Send(c.Parent(), &forgetMsg{id: a.id, kid: m.kid, seq: m.seq})
		}
		return nil
	}
	return a.persist(c, change{prev: prev, next: next, effects: effects, item: m, result: res, scrub: true,
		extra: func(b *store.Batch) error { return b.EraseConversation(a.tenant, er) }})
}

// erasedReplay reports whether an inbound message from `from` on channel, at pos, is a replay of a message the
// customer sent before they were erased: their conversation on that channel is erased and has applied a later
// input (the erase). The catalogue then does not make a contact of it again: a replay after a restart (Kafka
// redelivers from the last committed offset) must not bring an erased customer's name and number back.
func (a *catalogueActor) erasedReplay(channel, from string, pos conversation.Position) (bool, error) {
	c, err := a.r.cfg.Store.Conversation(a.tenant, conversation.ID(channel, from))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return conversation.Erased(&c) && pos.Less(c.Applied), nil
}
