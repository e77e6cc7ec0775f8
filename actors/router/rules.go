package router

// Routing rules in the router (issue 13): the conversation actor gives a conversation its required skills and
// priority (routing.Evaluate over its channel, labels and contact fields) where it enters or re-enters the queue —
// created, reopened, woken, unassigned, released — and while it waits, when its labels change or the tenant's rules
// change. The result is stored on the conversation record with the change, so the dispatcher it is reported to, and
// a dispatcher rebuilt from the records, see the same (docs/design.md, invariant 6). An assigned, snoozed or closed
// conversation keeps what it had.
//
// The contact's fields are read from the store only when a rule tests a field: a point read of the contact the
// catalogue actor keeps (the catalogue is the contacts' only writer, and applies each batch to Pebble before it
// takes its next input), the same kind of read the conversation actor makes of its own records. It waits for no
// other actor and no fsync. A change of the contact's fields is seen by the next evaluation (the next entry into
// the queue, a label change, a rules change), not at once.

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// rerouteMsg asks a waiting conversation to evaluate the tenant's rules again (they changed). The tenant actor sends
// it after the settingsMsg that carries the new rules.
type rerouteMsg struct{}

// schemaMsg gives the catalogue its tenant's contact fields after a change, before any later input reaches it.
type schemaMsg struct {
	schema contact.Schema
}

// routed returns next with the skills and priority the rules give it, when the change from prev puts it into the
// queue or changes its labels while it waits; otherwise next as it is.
func (a *conversationActor) routed(prev, next conversation.Conversation) (conversation.Conversation, error) {
	if next.ID == "" || next.Status != conversation.Unassigned {
		return next, nil
	}
	if prev.Status == conversation.Unassigned && prev.ID != "" && slices.Equal(prev.Labels, next.Labels) {
		return next, nil
	}
	return a.evaluate(next)
}

// evaluate returns c with the skills and priority the rules give it now.
func (a *conversationActor) evaluate(c conversation.Conversation) (conversation.Conversation, error) {
	f := routing.Facts{Channel: c.ChannelID, Labels: c.Labels}
	if routing.UsesFields(a.set.rules) && c.Contact.ID != "" {
		k, err := a.r.cfg.Store.Contact(a.tenant, c.Contact.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return c, fmt.Errorf("read contact %s for the routing rules: %w", c.Contact.ID, err)
		default:
			f.Fields = a.set.schema.Texts(k.Fields)
		}
	}
	r := routing.Evaluate(a.set.rules, f)
	c.Priority, c.RequiredSkills = r.Priority, r.Skills
	return c, nil
}

// reroute evaluates the rules again for a waiting conversation, and stores and reports what changed.
func (a *conversationActor) reroute(c *actor.Context) {
	if a.conv.ID == "" || a.conv.Status != conversation.Unassigned {
		return
	}
	prev := *a.conv
	next, err := a.evaluate(prev)
	if err != nil {
		a.r.fail(fmt.Errorf("tenant %s conversation %s: %w", a.tenant, a.id, err))
		return
	}
	if next.Priority == prev.Priority && slices.Equal(next.RequiredSkills, prev.RequiredSkills) {
		return
	}
	next.Version++
	a.r.metrics.appliedBy.Get("reroute").Inc()
	if err := a.persist(c, change{prev: prev, next: next}); err != nil {
		a.r.fail(err)
	}
}

// rerouteWaiting asks every conversation waiting in the queue to evaluate the rules again.
func (t *tenantActor) rerouteWaiting(c *actor.Context) {
	for _, w := range t.d.Queue() {
		k := t.kid(c, w.ConversationID)
		c.Send(k.pid, &rerouteMsg{})
	}
}

// fieldsChanged reports whether the contact fields differ between two configurations.
func fieldsChanged(prev, next *tenant.Tenant) bool {
	return !reflect.DeepEqual(prev.Settings.ContactFields, next.Settings.ContactFields)
}

// rulesChanged reports whether what the rules give a waiting conversation may differ between two configurations:
// the rules changed, or the contact fields their field conditions read.
func rulesChanged(prev, next *tenant.Tenant) bool {
	if !reflect.DeepEqual(prev.Rules, next.Rules) {
		return true
	}
	return routing.UsesFields(next.Rules) && fieldsChanged(prev, next)
}
