package conversation

import "time"

// Release takes a conversation away from operatorID because the operator went offline under a tenant policy that
// releases their conversations: an assigned conversation goes back to the queue (conversation.unassigned); a
// snoozed one stays snoozed but loses its assignee, so it wakes up into the queue. Anything else — the conversation
// moved on since the dispatcher decided — is no change and no error.
func Release(c Conversation, operatorID string, p Policy, at time.Time) (Conversation, []Effect) {
	if c.ID == "" || c.AssigneeID != operatorID || (c.Status != Assigned && c.Status != Snoozed) {
		return c, nil
	}
	ch := begin(c, p, at, "")
	if c.Status == Assigned {
		ch.release()
	} else {
		prev, handling := ch.c.AssigneeID, seconds(ch.c.AssignedAt, at)
		ch.c.LastOperatorID = prev
		ch.c.AssigneeID = ""
		ch.c.AssignedAt = time.Time{}
		ch.emit(EventUnassigned, Event{PreviousOperatorID: prev, HandlingSeconds: handling})
	}
	return ch.done()
}
