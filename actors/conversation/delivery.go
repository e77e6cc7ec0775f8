package conversation

import "time"

// Delivery is what the channel's send endpoint answered for an outbound message: accepted with the channel's id, or
// refused for good with the channel's code and reason.
type Delivery struct {
	WAMID      string
	ErrorCode  int
	ErrorTitle string
}

// ApplyDelivery records the channel's answer on message m at time at: an accepted message gets its WAMID (its status
// then moves with the channel's status webhooks); a refused one becomes failed with the code and reason. It reports
// whether m changed; an answer for a message that already has one is ignored (a replay).
func ApplyDelivery(m Message, d Delivery, at time.Time) (Message, bool) {
	if m.Direction != DirOut || m.WAMID != "" || m.Status == Failed {
		return m, false
	}
	if d.WAMID != "" {
		m.WAMID = d.WAMID
		return m, true
	}
	m.Status = Failed
	m.StatusAt = at
	m.ErrorCode = d.ErrorCode
	m.ErrorTitle = d.ErrorTitle
	return m, true
}

// StatusEvent is the message.status event of a message whose delivery status changed, for conversation c.
func StatusEvent(c Conversation, m Message, at time.Time) *Event {
	return &Event{
		ID:   c.ID + "-m" + itoa(m.Seq) + "-" + string(m.Status),
		Type: EventMessageStatus, At: at, TenantID: c.TenantID, ConversationID: c.ID, ChannelID: c.ChannelID, ContactID: c.Contact.ID,
		OperatorID: m.OperatorID, AssigneeID: c.AssigneeID, MessageID: m.ID, Status: c.Status,
		MessageStatus: m.Status, ErrorCode: m.ErrorCode, ErrorTitle: m.ErrorTitle,
	}
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
