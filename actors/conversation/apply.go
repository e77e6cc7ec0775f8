package conversation

import (
	"time"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Inbound is a customer message as the router hands it to the rules.
type Inbound struct {
	TenantID  string
	ChannelID string
	Message   *inbox.Message
	// At is the ingest time of the record: the domain clock.
	At  time.Time
	Pos Position
}

// ApplyInbound applies a customer message to c (the zero Conversation when the customer is new) and returns the new
// conversation and the message to store. The caller has already checked that the message is not a duplicate.
//
// ApplyInbound keeps the message bookkeeping only (identity, contact, window, count, position): it neither changes
// the status nor the Version nor the timers. Receive is the whole rule and calls it.
//
// A new conversation starts unassigned. The message's channel timestamp moves the 24-hour window, never backwards
// (Meta may deliver messages out of order); system messages do not move it, since the customer did not write.
func ApplyInbound(c Conversation, in Inbound) (Conversation, Message) {
	m := in.Message
	if c.ID == "" {
		c = Conversation{
			ID:        ID(in.ChannelID, m.From),
			TenantID:  in.TenantID,
			ChannelID: in.ChannelID,
			Contact:   Contact{ID: ContactID(m.From), WaID: m.From},
			Status:    Unassigned,
			CreatedAt: in.At,
		}
	}
	if m.ProfileName != "" {
		c.Contact.Name = m.ProfileName
	}
	sentAt := time.Unix(m.Timestamp, 0).UTC()
	if m.Type != "system" {
		if sentAt.After(c.LastInboundAt) {
			c.LastInboundAt = sentAt
			c.WindowExpiresAt = sentAt.Add(Window)
		}
		c.InboundCount++
	}
	c.Messages++
	c.UpdatedAt = in.At
	c.Applied = in.Pos
	msg := Message{
		ConversationID: c.ID,
		Seq:            c.Messages,
		ID:             m.ID,
		Direction:      DirIn,
		Type:           m.Type,
		Text:           m.Text,
		Content:        m.Content,
		ReplyTo:        m.ReplyTo,
		Status:         Received,
		SentAt:         sentAt,
		CreatedAt:      in.At,
	}
	c.summarise(&msg)
	return c, msg
}

// Receive applies a customer message to c (the zero Conversation when the customer is new) under the tenant's
// policy p: it is ApplyInbound plus the lifecycle. It returns the new conversation, the message to store and the
// events to publish (created, reopened or unsnoozed, then message.received). Every call increments Version once.
//
// A new conversation starts unassigned, in the queue, with a new cycle. A message the customer wrote (any type but
// system) also:
//   - reopens a closed conversation to the queue with a new cycle; LastOperatorID is kept, and with
//     p.ReopenTo == ReopenToLastOperator the conversation.reopened event is Sticky, so the dispatcher offers it to
//     that operator first;
//   - wakes a snoozed conversation: back to its assignee if it has one, else to the queue;
//   - sets AwaitingReply and counts as activity.
//
// System messages are stored and counted, and change nothing else: the customer did not write.
func Receive(c Conversation, in Inbound, p Policy) (Conversation, Message, []Effect) {
	isNew, prev := c.ID == "", c.Status
	c, m := ApplyInbound(c, in)
	ch := begin(c, p, in.At, "")
	wrote := m.Type != "system"
	switch {
	case isNew:
		ch.c.CycleStartedAt = in.At
		ch.enqueue()
		ch.emit(EventCreated, Event{})
	case wrote && prev == Closed:
		ch.reopen()
	case wrote && prev == Snoozed:
		ch.wake()
	}
	if wrote {
		ch.c.AwaitingReply = true
		ch.c.LastActivityAt = in.At
	}
	ch.emit(EventMessageReceived, Event{MessageID: m.ID, MessageType: m.Type, Preview: c.LastMessage.Preview})
	next, effects := ch.done()
	return next, m, effects
}

// statusRank orders delivery statuses; a status update only ever moves a message to a higher rank. Failed outranks
// everything: once Meta says a message failed, a late "sent" does not resurrect it.
var statusRank = map[MessageStatus]int{
	Received:  0,
	Pending:   1,
	Sent:      2,
	Delivered: 3,
	Read:      4,
	Failed:    5,
}

// AdvanceStatus returns the status a message ends in when next arrives while it is cur, and whether that changed
// anything. Statuses only move forward (sent → delivered → read; failed wins), whatever order they arrive in.
func AdvanceStatus(cur, next MessageStatus) (MessageStatus, bool) {
	rn, ok := statusRank[next]
	if !ok {
		return cur, false
	}
	if rn > statusRank[cur] {
		return next, true
	}
	return cur, false
}

// ApplyStatus applies a delivery status to m and reports whether it changed.
func ApplyStatus(m Message, s *inbox.Status) (Message, bool) {
	next, changed := AdvanceStatus(m.Status, MessageStatus(s.Status))
	if !changed {
		return m, false
	}
	m.Status = next
	m.StatusAt = time.Unix(s.Timestamp, 0).UTC()
	if next == Failed {
		m.ErrorCode = s.ErrorCode
		m.ErrorTitle = s.ErrorTitle
	}
	return m, true
}
