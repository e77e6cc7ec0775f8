package router

// Blocked contacts, as the tenant actor keeps them: the conversation ids of every blocked contact on every channel
// of the tenant. The set changes when a contact_block, contact_unblock, contact_delete or contact_erase is routed —
// before the next item is, so every item after it in the partition is judged by it — and is rebuilt from the
// store's blocked index when the tenant actor starts. A customer message of a blocked contact is stored but never routed (the conversation
// actor's blocked path); a send or a start to one is refused contact_blocked here, before it reaches a
// conversation.

import (
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// schemaOf is a tenant's contact field schema.
func schemaOf(t *tenant.Tenant) contact.Schema {
	s := make(contact.Schema, len(t.Settings.ContactFields))
	for i, f := range t.Settings.ContactFields {
		s[i] = contact.Field(f)
	}
	return s
}

// rebuildBlocked reads the blocked set from the store.
func (t *tenantActor) rebuildBlocked() error {
	t.blocked, t.blockedConvs = map[string]string{}, map[string][]string{}
	list, err := t.r.cfg.Store.BlockedContacts(t.tenant)
	if err != nil {
		return err
	}
	for id, wa := range list {
		t.block(id, wa)
	}
	return nil
}

// block adds the conversations of contact id (WhatsApp address wa) on every channel to the blocked set.
func (t *tenantActor) block(id, wa string) {
	if _, ok := t.blockedConvs[id]; ok || wa == "" {
		return
	}
	convs := make([]string, 0, len(t.cfg.Channels))
	for _, ch := range t.cfg.Channels {
		conv := conversation.ID(ch.ID, wa)
		convs = append(convs, conv)
		t.blocked[conv] = id
	}
	t.blockedConvs[id] = convs
}

// unblock takes contact id's conversations out of the blocked set.
func (t *tenantActor) unblock(id string) {
	for _, conv := range t.blockedConvs[id] {
		delete(t.blocked, conv)
	}
	delete(t.blockedConvs, id)
}

// refuseBlocked answers a send or a start to a blocked contact with contact_blocked and reports true; it reports
// false for any other item.
func (t *tenantActor) refuseBlocked(it *inbox.Item) bool {
	cmd := it.Command
	if len(t.blocked) == 0 || (cmd.Type != "send" && cmd.Type != "start") {
		return false
	}
	conv := cmd.ConversationID
	if conv == "" && cmd.WaID != "" {
		conv = conversation.ID(it.Channel, cmd.WaID)
	}
	if _, ok := t.blocked[conv]; !ok {
		return false
	}
	t.r.metrics.commandsBy.Get([2]string{cmd.Type, contact.CodeContactBlocked}).Inc()
	t.r.cfg.Outcomes.Publish(cmd.RequestID, outcome.Result{Code: contact.CodeContactBlocked,
		Message: "the contact is blocked: unblock it to write to them"})
	return true
}

// catalogue routes a catalogue command to the tenant's catalogue actor, first moving the blocked set for the
// commands that change it. For a block it waits for the catalogue's decision (a local round trip behind what the
// catalogue has queued; blocks are rare): only the catalogue knows whether the contact exists and its address, and
// the item after the block must be judged by it.
func (t *tenantActor) catalogue(c *actor.Context, it *inbox.Item, pos conversation.Position, at time.Time, ack *recordAck) {
	cmd := it.Command
	msg := &catalogueMsg{item: it, pos: pos, at: at, ack: ack}
	if o := t.ops[cmd.OperatorID]; o != nil {
		msg.role = o.Role
	}
	switch cmd.Type {
	case "contact_block":
		msg.decide = true
		res, err := c.Request(t.cat, msg, grantTimeout).Result()
		if err != nil {
			t.r.fail(fmt.Errorf("BUG: no block decision from the catalogue of tenant %s: %w", t.tenant, err))
			return
		}
		d, ok := res.(*blockDecision)
		if !ok {
			t.r.fail(fmt.Errorf("BUG: block decision answered with %T", res))
			return
		}
		if d.wa != "" {
			t.block(cmd.ContactID, d.wa)
		}
		return
	case "contact_unblock", "contact_delete", "contact_erase":
		t.unblock(cmd.ContactID)
	}
	c.Send(t.cat, msg)
}
