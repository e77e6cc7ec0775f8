package conversation

// Effects and the bookkeeping every change shares: the version, the timers, the event ids and the transitions
// themselves (assign, release, close, reopen, snooze, wake), so that each is written once.

import (
	"strconv"
	"strings"
	"time"
)

// Event types published on switchboard.events.
const (
	EventCreated         = "conversation.created"
	EventMessageReceived = "message.received"
	EventMessageQueued   = "message.queued" // an outbound message is stored, pending its send
	EventNoteCreated     = "note.created"
	EventMentioned       = "operator.mentioned"
	EventAssigned        = "conversation.assigned"    // from the queue to an operator
	EventUnassigned      = "conversation.unassigned"  // from an operator back to the queue
	EventTransferred     = "conversation.transferred" // from one operator to another (transfer, take-over)
	EventClosed          = "conversation.closed"
	EventReopened        = "conversation.reopened"
	EventSnoozed         = "conversation.snoozed"
	EventUnsnoozed       = "conversation.unsnoozed"
	EventLabelsChanged   = "conversation.labels_changed"
	EventWindowClosing   = "window.closing"
	EventMessageStatus   = "message.status"    // an outbound message was sent, delivered, read or failed
	EventRead            = "conversation.read" // an operator read the conversation up to a message
)

// Effect is something a change releases once it is durable. Exactly one of its fields is set.
type Effect struct {
	// Event is to be published on switchboard.events (and to SSE clients).
	Event *Event
	// Message is to be stored: an outbound message (to be sent by the channel's sender) or a note.
	Message *Message
}

// Event is one entry of switchboard.events. Status and AssigneeID are the conversation's after the change, so a
// consumer (the dispatcher among them) needs no other state to follow status and load. A snoozed conversation keeps
// its AssigneeID; whether it counts against that operator's capacity is the dispatcher's choice (the router counts
// it, so that waking up can always hand it back).
type Event struct {
	// ID is "<conversation id>-<version>-<n>": the conversation's Version after the change and the event's index
	// among the change's events. It is the same on every replay, so consumers drop repeats by it.
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	At             time.Time `json:"at"`
	TenantID       string    `json:"tenant_id"`
	ConversationID string    `json:"conversation_id"`
	// ChannelID is the conversation's channel, so analytics can report per channel.
	ChannelID string `json:"channel_id,omitempty"`
	ContactID string `json:"contact_id,omitempty"`
	// ActorID is the operator whose command caused the change; empty for customer messages, timers and the
	// dispatcher's routing decisions.
	ActorID string `json:"actor_id,omitempty"`
	// OperatorID is the operator the event is about: the new holder (assigned, transferred, and unsnoozed back
	// to its assignee), the author (message.queued, note.created), the mentioned operator (operator.mentioned);
	// otherwise the actor.
	OperatorID string `json:"operator_id,omitempty"`
	// PreviousOperatorID is the holder whose holding the event ends (transferred, unassigned, closed), or, on
	// conversation.reopened, LastOperatorID: who held it last.
	PreviousOperatorID string `json:"previous_operator_id,omitempty"`
	// AssigneeID is the conversation's assignee after the change.
	AssigneeID string `json:"assignee_id,omitempty"`
	MessageID  string `json:"message_id,omitempty"`
	Status     Status `json:"status"`
	// Sticky, on conversation.reopened, asks the dispatcher to offer the conversation to PreviousOperatorID first
	// (Policy.ReopenTo is last_operator).
	Sticky bool `json:"sticky,omitempty"`
	// Mentions, on note.created, are the operators the note mentions.
	Mentions []string `json:"mentions,omitempty"`
	// Labels, on conversation.labels_changed, are the labels after the change.
	Labels []string `json:"labels,omitempty"`
	// WindowExpiresAt, on window.closing, is when the window closes.
	WindowExpiresAt time.Time `json:"window_expires_at,omitzero"`
	// WaitSeconds, on conversation.assigned, is the time since the conversation entered the queue.
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
	// FirstResponseSeconds, on the message.queued of the first public reply of a cycle, is the time since the
	// cycle started.
	FirstResponseSeconds float64 `json:"first_response_seconds,omitempty"`
	// HandlingSeconds, on an event that ends an operator's holding (closed, unassigned, transferred), is the time
	// since that operator was assigned.
	HandlingSeconds float64 `json:"handling_seconds,omitempty"`
	// MessageStatus, ErrorCode and ErrorTitle, on message.status, are the message's new delivery status and, for
	// failed, the channel's reason.
	MessageStatus MessageStatus `json:"message_status,omitempty"`
	ErrorCode     int           `json:"error_code,omitempty"`
	ErrorTitle    string        `json:"error_title,omitempty"`
	// MessageType and Preview, on message.received, message.queued and note.created, are the message's type and
	// its preview (see Preview).
	MessageType string `json:"message_type,omitempty"`
	Preview     string `json:"preview,omitempty"`
	// Seq, on conversation.read, is the message the operator read up to.
	Seq uint64 `json:"seq,omitempty"`
}

// change accumulates one change of a conversation: the new state and the effects it releases.
type change struct {
	c       Conversation
	p       Policy
	at      time.Time
	actor   string
	effects []Effect
	// space holds the change's first effects and events, allocated with its first effect; events counts the
	// events emitted.
	space  *effectSpace
	events int
}

// effectSpace is room for a change's usual effects in one allocation: most changes emit one event (each was an
// allocation, and the effects slice one more as it grew); a second event is allocated on its own, so that the
// usual change does not carry room for two.
type effectSpace struct {
	effects [4]Effect
	events  [1]Event
}

// room gives the change its space, with its first effect.
func (ch *change) room() {
	if ch.space == nil {
		ch.space = new(effectSpace)
		ch.effects = ch.space.effects[:0]
	}
}

// add appends ef to the change's effects, in its space while it has room.
func (ch *change) add(ef Effect) {
	ch.room()
	ch.effects = append(ch.effects, ef)
}

func begin(c Conversation, p Policy, at time.Time, actor string) *change {
	return &change{c: c, p: p, at: at, actor: actor}
}

// emit appends an event of type typ; done fills in what every event carries.
func (ch *change) emit(typ string, e Event) {
	e.Type = typ
	ch.room()
	var ev *Event
	if ch.events < len(ch.space.events) {
		ev = &ch.space.events[ch.events]
	} else {
		ev = new(Event)
	}
	*ev = e
	ch.events++
	ch.add(Effect{Event: ev})
}

// store appends a message to store and counts it.
func (ch *change) store(m Message) {
	ch.c.Messages++
	m.ConversationID = ch.c.ID
	m.Seq = ch.c.Messages
	m.CreatedAt = ch.at
	ch.c.summarise(&m)
	ch.add(Effect{Message: &m})
}

// done finishes the change: one more Version, UpdatedAt, the timers, and the common fields and ids of the events.
func (ch *change) done() (Conversation, []Effect) {
	c := &ch.c
	c.Version++
	c.UpdatedAt = ch.at
	c.Timers = c.timers(ch.p, ch.at)
	n := 0
	for _, ef := range ch.effects {
		e := ef.Event
		if e == nil {
			continue
		}
		e.ID = eventID(c.ID, c.Version, n)
		n++
		e.At = ch.at
		e.TenantID = c.TenantID
		e.ConversationID = c.ID
		e.ChannelID = c.ChannelID
		e.ContactID = c.Contact.ID
		e.ActorID = ch.actor
		if e.OperatorID == "" {
			e.OperatorID = ch.actor
		}
		e.AssigneeID = c.AssigneeID
		e.Status = c.Status
	}
	return ch.c, ch.effects
}

// eventID builds "<conv>-<version>-<n>" in one allocation (a Builder's String does not copy), once per event.
func eventID(conv string, version uint64, n int) string {
	var vb, nb [20]byte
	v, k := strconv.AppendUint(vb[:0], version, 10), strconv.AppendInt(nb[:0], int64(n), 10)
	var b strings.Builder
	b.Grow(len(conv) + 2 + len(v) + len(k))
	b.WriteString(conv)
	b.WriteByte('-')
	b.Write(v)
	b.WriteByte('-')
	b.Write(k)
	return b.String()
}

// timers returns the timers c has at time at under p (see Timers for each rule).
func (c *Conversation) timers(p Policy, at time.Time) Timers {
	var t Timers
	if c.Status == Closed {
		return t
	}
	// LastActivityAt and AssignedAt are zero only in records written before they existed; such a record gets
	// these timers at its next change rather than timers due in the year 1.
	if p.AutoCloseAfter > 0 && c.Status != Snoozed && !c.LastActivityAt.IsZero() {
		t.AutoClose = c.LastActivityAt.Add(p.AutoCloseAfter)
	}
	if c.Status == Snoozed {
		t.SnoozeWake = c.SnoozedUntil
	}
	if p.ReservationTimeout > 0 && c.Status == Assigned && !c.RepliedSinceAssigned && !c.AssignedAt.IsZero() {
		t.Reservation = c.AssignedAt.Add(p.ReservationTimeout)
	}
	if p.WindowWarning > 0 && c.WindowExpiresAt.After(at) && !c.WarnedWindow.Equal(c.WindowExpiresAt) {
		t.WindowWarning = c.WindowExpiresAt.Add(-p.WindowWarning)
	}
	return t
}

// seconds is the length of an interval in seconds, 0 when its start is unknown: a record written before the field
// existed must not report an interval from the year 1.
func seconds(from, to time.Time) float64 {
	if from.IsZero() {
		return 0
	}
	return to.Sub(from).Seconds()
}

// assign gives an unassigned conversation to op.
func (ch *change) assign(op string) {
	c := &ch.c
	wait := seconds(c.WaitingSince, ch.at)
	ch.hold(op)
	ch.emit(EventAssigned, Event{OperatorID: op, WaitSeconds: wait})
}

// transfer gives an assigned conversation to op, another operator.
func (ch *change) transfer(op string) {
	c := &ch.c
	prev, handling := c.AssigneeID, seconds(c.AssignedAt, ch.at)
	ch.hold(op)
	ch.emit(EventTransferred, Event{OperatorID: op, PreviousOperatorID: prev, HandlingSeconds: handling})
}

// hold makes op the holder of the conversation from now on.
func (ch *change) hold(op string) {
	c := &ch.c
	c.Status = Assigned
	c.AssigneeID = op
	c.LastOperatorID = op
	c.AssignedAt = ch.at
	c.RepliedSinceAssigned = false
	c.WaitingSince = time.Time{}
	c.LastActivityAt = ch.at
}

// release sends an assigned conversation back to the queue.
func (ch *change) release() {
	c := &ch.c
	prev, handling := c.AssigneeID, seconds(c.AssignedAt, ch.at)
	ch.enqueue()
	ch.emit(EventUnassigned, Event{PreviousOperatorID: prev, HandlingSeconds: handling})
}

// enqueue puts the conversation in the queue, without an assignee.
func (ch *change) enqueue() {
	c := &ch.c
	c.Status = Unassigned
	c.AssigneeID = ""
	c.AssignedAt = time.Time{}
	c.RepliedSinceAssigned = false
	c.SnoozedUntil = time.Time{}
	c.WaitingSince = ch.at
	c.LastActivityAt = ch.at
}

// close closes an open or snoozed conversation. LastOperatorID is kept: it is the sticky hint for a reopen.
func (ch *change) close() {
	c := &ch.c
	var e Event
	if c.AssigneeID != "" {
		e.PreviousOperatorID, e.HandlingSeconds = c.AssigneeID, seconds(c.AssignedAt, ch.at)
	}
	c.Status = Closed
	c.ClosedBy = ch.actor
	c.AssigneeID = ""
	c.AssignedAt = time.Time{}
	c.RepliedSinceAssigned = false
	c.SnoozedUntil = time.Time{}
	c.WaitingSince = time.Time{}
	c.LastActivityAt = ch.at
	ch.emit(EventClosed, e)
}

// reopen sends a closed conversation back to the queue and starts a new cycle.
func (ch *change) reopen() {
	c := &ch.c
	ch.enqueue()
	c.ClosedBy = ""
	c.CycleStartedAt = ch.at
	c.FirstResponseAt = time.Time{}
	ch.emit(EventReopened, Event{
		PreviousOperatorID: c.LastOperatorID,
		Sticky:             ch.p.ReopenTo == ReopenToLastOperator && c.LastOperatorID != "",
	})
}

// snooze hides the conversation until until (zero: until the customer writes). The assignee is kept, to get the
// conversation back when it wakes up (see Event for what that means for capacity).
func (ch *change) snooze(until time.Time) {
	c := &ch.c
	c.Status = Snoozed
	c.SnoozedUntil = until
	c.WaitingSince = time.Time{}
	c.LastActivityAt = ch.at
	ch.emit(EventSnoozed, Event{})
}

// wake ends a snooze: back to the assignee if it has one, else to the queue.
func (ch *change) wake() {
	c := &ch.c
	if c.AssigneeID == "" {
		ch.enqueue()
		ch.emit(EventUnsnoozed, Event{})
		return
	}
	c.Status = Assigned
	c.SnoozedUntil = time.Time{}
	c.LastActivityAt = ch.at
	ch.emit(EventUnsnoozed, Event{OperatorID: c.AssigneeID})
}
