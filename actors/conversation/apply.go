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
// A new conversation starts unassigned. The message's channel timestamp moves the 24-hour window, never backwards
// (Meta may deliver messages out of order); system messages do not move it, since the customer did not write.
func ApplyInbound(c Conversation, in Inbound) (Conversation, Message) {
	m := in.Message
	if c.ID == "" {
		c = Conversation{
			ID:        ID(in.ChannelID, m.From),
			TenantID:  in.TenantID,
			ChannelID: in.ChannelID,
			Contact:   Contact{ID: ContactID(in.ChannelID, m.From), WaID: m.From},
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
	return c, msg
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
