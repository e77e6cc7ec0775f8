package conversation

// Starting a conversation: the tenant writes first (POST /v1/conversations), with a template since the customer's
// 24-hour window is normally closed.

import "time"

// CmdStart begins or resumes a conversation with a customer on a channel: the caller takes it and its first reply
// is queued in the same change. Unlike every other command it applies to a conversation that does not exist yet.
const CmdStart CommandType = "start"

// Customer names the customer a start writes to: the tenant, the channel and the customer's address on it
// (WhatsApp wa_id: the digits of the E.164 number, without "+"). The conversation is ID(ChannelID, WaID).
type Customer struct {
	TenantID  string
	ChannelID string
	WaID      string
	// Name is the contact's name, given to a conversation that has none yet; "" leaves the name as it is.
	Name string
}

// Start applies a start command at time at (the command record's time): c is the conversation ID(to.ChannelID,
// to.WaID), the zero Conversation when it does not exist yet. It is pure: c is not modified.
//
//   - A conversation that does not exist is created for the customer (Contact{ID, WaID, Name: to.Name}, no
//     inbound message, so the window is closed) and assigned to the caller: conversation.created, then
//     conversation.assigned. An existing conversation without a contact name gets to.Name.
//   - A closed one is reopened with a new cycle and assigned to the caller (reopened, assigned); a waiting one is
//     assigned to the caller; a snoozed one wakes up (unsnoozed) and goes to the caller.
//   - One another operator holds (assigned, or snoozed with an assignee) is taken over when the caller's role is
//     in Policy.TakeoverRoles (as take does), else refused with CodeAlreadyAssigned.
//   - One the caller holds already stays as it is.
//
// Then cmd.Message is queued exactly as a send queues it (message.queued): free-form messages need the window open,
// so a start to a customer who has not written in 24 hours must send a template (CodeWindowClosed otherwise). A
// refused start changes nothing: no conversation is created, nobody is assigned.
//
// Capacity is not checked here: AssignsTo names the caller, and the dispatcher grants the caller's capacity first.
func Start(c Conversation, to Customer, cmd Command, p Policy, at time.Time) (Conversation, []Effect, error) {
	if cmd.OperatorID == "" {
		return c, nil, refuse(CodeInvalidOperator, "command without an operator")
	}
	if to.TenantID == "" || to.ChannelID == "" || to.WaID == "" || len(to.WaID) > maxAddress {
		return c, nil, refuse(CodeInvalidCommand, "start needs a channel and the customer's address on it")
	}
	if c.ID != "" && (c.ID != ID(to.ChannelID, to.WaID) || c.TenantID != to.TenantID) {
		return c, nil, refuse(CodeInvalidCommand, "conversation %s is not the customer's on channel %s", c.ID, to.ChannelID)
	}
	if _, r := outMessage(cmd); r != nil {
		return c, nil, r
	}
	ch := begin(c, p, at, cmd.OperatorID)
	op := cmd.OperatorID
	switch c.Status {
	case "":
		if c.ID != "" {
			return c, nil, badStatus(c.Status)
		}
		ch.c = Conversation{
			ID:             ID(to.ChannelID, to.WaID),
			TenantID:       to.TenantID,
			ChannelID:      to.ChannelID,
			Contact:        Contact{ID: ContactID(to.WaID), WaID: to.WaID},
			CreatedAt:      at,
			CycleStartedAt: at,
		}
		ch.enqueue()
		ch.emit(EventCreated, Event{})
		ch.assign(op)
	case Closed:
		ch.reopen()
		// The caller takes it now: the dispatcher has nobody to offer it to first.
		ch.effects[len(ch.effects)-1].Event.Sticky = false
		ch.assign(op)
	case Unassigned:
		ch.assign(op)
	case Snoozed:
		if holder := c.AssigneeID; holder != "" && holder != op && !p.mayTakeOver(cmd.Role) {
			return c, nil, refuse(CodeAlreadyAssigned, "conversation is assigned to %s", holder)
		}
		ch.wake()
		if ch.c.Status == Unassigned {
			ch.assign(op)
		} else if ch.c.AssigneeID != op {
			ch.transfer(op)
		}
	case Assigned:
		if c.AssigneeID != op {
			if !p.mayTakeOver(cmd.Role) {
				return c, nil, refuse(CodeAlreadyAssigned, "conversation is assigned to %s", c.AssigneeID)
			}
			ch.transfer(op)
		}
	default:
		return c, nil, badStatus(c.Status)
	}
	if ch.c.Contact.Name == "" && to.Name != "" {
		ch.c.Contact.Name = to.Name
	}
	send := cmd
	send.Type = CmdSend
	if r := ch.send(send); r != nil {
		return c, nil, r
	}
	next, effects := ch.done()
	return next, effects, nil
}

// Started is the outcome of an accepted start: the conversation after it and the message it queued.
type Started struct {
	Conversation Conversation `json:"conversation"`
	Message      Message      `json:"message"`
}

// maxAddress is the longest customer address a start accepts, in bytes. The API checks the form of a WhatsApp
// number (E.164 digits); the rule only bounds what it stores.
const maxAddress = 64
