package conversation

// ReceiveBlocked applies a message of a blocked contact to c (the zero Conversation when the customer is new): the
// message is stored and counted (ApplyInbound), and nothing else happens — no status change, no queue, no timer, no
// event, so nobody is notified. A new conversation is created closed, so it waits in no queue and holds no
// operator; unblocking does not reopen it, the customer's next message does.
func ReceiveBlocked(c Conversation, in Inbound) (Conversation, Message) {
	isNew := c.ID == ""
	c, m := ApplyInbound(c, in)
	if isNew {
		c.Status = Closed
	}
	return c, m
}
