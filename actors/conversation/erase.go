package conversation

// Erasing the customer of a conversation (the right to be forgotten, issue 12): what the conversation keeps — its
// anonymous counts — and what the caller must delete with it.

import "time"

// CmdErase erases the customer of a conversation: an admin's request, composed by the API with the catalogue's
// contact_erase of the same contact.
const CmdErase CommandType = "erase"

// EventErased says a conversation's customer was erased: its messages' content and the customer's address and
// name are gone; the conversation keeps its counts. The catalogue emits contact.erased once per contact; each of
// the contact's conversations emits conversation.erased, so a consumer can act per conversation (the analytics
// sink drops the contact's personal data by either).
const EventErased = "conversation.erased"

// Erasure is the deletion an erase asks of the store, in the batch of the conversation's change: every message of
// the conversation up to Through (their records, their ids in the message id index, their search postings, and the
// media references they carry), the search postings of the customer's name and phone, and the statuses parked for
// the customer's address.
type Erasure struct {
	ConversationID string
	// Through is the last message sequence number to delete: the conversation's Messages at the erase.
	Through uint64
	// WaID is the erased customer's address, whose parked statuses go.
	WaID string
}

// EraseOutcome is the outcome body of a conversation's erase command.
type EraseOutcome struct {
	ConversationID string `json:"conversation_id"`
	// Existed is false when the contact never had a conversation on this channel: nothing was erased or created.
	Existed bool `json:"existed"`
	// Erased is true when this command erased something; false when the conversation was already erased and the
	// customer had not written since.
	Erased bool `json:"erased"`
}

// Erased reports whether c's customer was erased and has not written since: the conversation holds counts only.
func Erased(c *Conversation) bool {
	return !c.ErasedAt.IsZero() && c.Contact.WaID == "" && c.LastMessage == nil
}

// Erase applies an erase command (cmd.Type CmdErase; only an admin may erase: else CodeForbidden) to c at time at,
// the command record's time: the conversation keeps only anonymous counts
// (Messages, InboundCount, the read and mention marks, labels, operators and times) and its contact id; the
// customer's address and name and the last message's summary are cleared, the 24-hour window is shut, and an open
// or snoozed conversation is closed first (conversation.closed, as a close would, so the holder's capacity is
// released and handling time stays exact), then conversation.erased. The returned Erasure is what the store deletes
// in the same batch.
//
// Erase of a conversation that does not exist (the zero Conversation) changes nothing and creates nothing: a
// contact need not have a conversation on every channel. Erase of a conversation already erased, that the customer
// has not written to since, changes nothing either, so repeating an erase is harmless. Every other erase
// increments Version once.
//
// A customer who writes after the erase starts clean: ApplyInbound gives the conversation their address again,
// and their earlier messages are gone.
func Erase(c Conversation, cmd Command, p Policy, at time.Time) (Conversation, *Erasure, []Effect, error) {
	if cmd.OperatorID == "" {
		return c, nil, nil, refuse(CodeInvalidOperator, "command without an operator")
	}
	if cmd.Role != "admin" {
		return c, nil, nil, refuse(CodeForbidden, "only admins erase contacts")
	}
	if c.ID == "" || Erased(&c) {
		return c, nil, nil, nil
	}
	if at.Before(c.UpdatedAt) {
		at = c.UpdatedAt
	}
	er := &Erasure{ConversationID: c.ID, Through: c.Messages, WaID: c.Contact.WaID}
	ch := begin(c, p, at, cmd.OperatorID)
	if ch.c.Status != Closed {
		ch.close()
	}
	e := &ch.c
	e.Contact = Contact{ID: c.Contact.ID}
	e.LastMessage = nil
	e.WindowExpiresAt, e.LastInboundAt, e.WarnedWindow = time.Time{}, time.Time{}, time.Time{}
	e.AwaitingReply = false
	e.ErasedAt = at
	ch.emit(EventErased, Event{})
	next, effects := ch.done()
	return next, er, effects, nil
}
