package router

// The messages between the partition consumer, a tenant actor and its conversation actors.
//
// Who decides what: a conversation actor is the authority on its conversation's transitions (the rules of
// actors/conversation); its tenant actor is the authority on operator capacity (actors/routing), the single writer of
// routing decisions for the tenant. Every assignment a conversation actor makes — a dispatcher's proposal or an
// operator's command — is first granted by the tenant actor, which counts it against the operator's capacity at that
// moment, while the conversation actor holds its other input back. The tenant actor's view of loads and the queue
// follows the conversations' reports of their state; it only ever counts an assignment before the conversation
// makes it, so no operator holds more than its capacity (docs/design.md, invariant 6).

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// recordMsg carries one decoded inbox record from a partition consumer to its tenant actor.
type recordMsg struct {
	rec    inbox.Record
	offset int64
	ack    *recordAck
	// acks holds the record's recordAck when its consumer delivers it (ack points to it): one allocation for both.
	acks recordAck
}

// itemMsg carries one item of a record from the tenant actor to a conversation actor.
type itemMsg struct {
	item *inbox.Item
	pos  conversation.Position
	at   time.Time
	ack  *recordAck
	kid  *child
	// role is the commanding operator's role, for commands.
	role string
	// blocked marks a customer message of a blocked contact: stored, never routed (blocked.go).
	blocked bool
	// seq numbers the items the tenant actor sent to this actor (child.sent), so a forgetMsg names the last one its
	// sender had.
	seq uint64
}

// proposeMsg tells a conversation actor that the dispatcher chose op for it; the conversation asks for the grant
// before it assigns, since the choice may be stale by the time it arrives.
type proposeMsg struct {
	op string
	// at is the time of the input that freed the capacity or queued the conversation: the assignment's time.
	at time.Time
}

// releaseMsg sends an assigned conversation back to the queue: its operator went offline under a releasing policy.
type releaseMsg struct {
	op string
	// cause is the position of the operator command that released the conversation; the operator's state at that
	// position was committed before this message was sent.
	cause conversation.Position
	at    time.Time
}

// forgetMsg asks the tenant actor to stop a conversation actor that holds no conversation (it answered a command
// for one that does not exist). The tenant actor stops it only if kid is still its handle for id, seq is the last
// item it sent to it and nothing is outstanding for it: an item sent meanwhile (the message that creates the
// conversation) keeps it, even once that item is done.
type forgetMsg struct {
	id  string
	kid *child
	// seq is the itemMsg.seq of the item whose answer asks to forget.
	seq uint64
}

// grantReq asks the tenant actor to count conversation conv against op's capacity. The tenant actor answers each
// one exactly once on reply (buffered, so the answer never blocks it) and does not touch the request after: the
// asker may reuse it at once (grantCalls).
type grantReq struct {
	conv     string
	op       string
	proposal bool // grant only if the dispatcher still holds conv for op
	at       time.Time
	// reply receives the answer: nil, or the routing error that refuses the grant.
	reply chan error
}

// answer sends the tenant actor's answer; the request is the asker's again once it is sent.
func (g *grantReq) answer(err error) { g.reply <- err }

// grantCall is a conversation actor's grant request with what it waits with, kept for the next request once its
// answer came (a call whose wait timed out is dropped: its answer may still arrive).
type grantCall struct {
	req   grantReq
	timer *time.Timer
}

// grantCalls holds at most grantCallsKept calls between requests, for every conversation actor of the router: a
// grant is a local round trip that used to allocate a hollywood response process, its PID and a context each time.
type grantCalls struct{ freeList[grantCall] }

// grantCallsKept bounds the calls kept: about as many as conversation actors wait for a grant at once.
const grantCallsKept = 64

func newGrantCall() *grantCall { return &grantCall{req: grantReq{reply: make(chan error, 1)}} }

func (p grantCalls) get() *grantCall { return p.freeList.get(newGrantCall) }

// put keeps g for the next request (its reply is empty: its answer was received), or drops it when enough are kept.
func (p grantCalls) put(g *grantCall) {
	g.req = grantReq{reply: g.req.reply}
	p.freeList.put(g)
}

// convReport tells the tenant actor a conversation's routing state after a change.
type convReport struct {
	id       string
	status   conversation.Status
	assignee string
	waiting  routing.Waiting
	sticky   bool
	at       time.Time
}

// recordAck counts a record's items still to be made durable; the last one finishes the record in its tracker:
// offset in tr, or by calling finish when tr is nil.
type recordAck struct {
	remaining atomic.Int32
	tr        *tracker
	offset    int64
	finish    func()
}

func (a *recordAck) itemDone() {
	if a.remaining.Add(-1) == 0 {
		if a.tr != nil {
			a.tr.finish(a.offset)
			return
		}
		a.finish()
	}
}

// stopKidsMsg, sent as a request by a stopping partition consumer, tells a tenant actor to stop its conversation
// actors without waiting for them, to refuse every grant from then on and to start nothing new. It answers with a
// *kidsStopping.
type stopKidsMsg struct{}

// kidsStopping answers stopKidsMsg: each context is done once its conversation actor has stopped.
type kidsStopping struct {
	done []context.Context
}

// idleTick asks a tenant actor to stop its idle conversation actors.
type idleTick struct{}

// trimMsg asks a conversation actor idle for a while (half of IdleAfter) to drop its conversation until its next
// input, which loads it again: a resident actor then costs its process and a few words, not its decoded record
// (issue 15). An actor with a batch not yet durable keeps it.
type trimMsg struct{}

// child is a tenant actor's handle on one active conversation actor.
type child struct {
	pid *actor.PID
	// outstanding counts messages sent to the actor whose work is not finished (durable, or answered); an actor
	// is only stopped at zero.
	outstanding atomic.Int32
	lastUsed    time.Time
	// trimmed is set when a trimMsg was sent since the actor was last used.
	trimmed bool
	// sent counts the items sent to the actor (itemMsg.seq); the tenant actor's own, like lastUsed.
	sent uint64
}
