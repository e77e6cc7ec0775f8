// Package conversation holds the conversation record and the pure rules that change it. The router's actors call
// these functions, persist the result and release effects; refusals carry domain codes, which the API maps to HTTP
// statuses.
//
// It imports only the standard library, the inbox record's types (ingest/inbox), the shared refusal type
// (actors/refusal) and the routing rules' name check (actors/routing), all standard library only;
// actors/domain_test.go checks it.
package conversation

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"time"
)

// Status is where a conversation stands in its lifecycle.
type Status string

// Conversation statuses (docs/design.md, "Conversation lifecycle").
const (
	Unassigned Status = "unassigned"
	Assigned   Status = "assigned"
	Snoozed    Status = "snoozed"
	Closed     Status = "closed"
)

// Window is how long after the customer's last message free-form replies are allowed.
const Window = 24 * time.Hour

// Contact is the customer at the other end of a conversation.
type Contact struct {
	ID   string `json:"id"`
	WaID string `json:"wa_id"`
	Name string `json:"name"`
}

// Position is where in the tenant's partition a record was: a Kafka offset and the item's index in the record.
// Positions order every input of a tenant.
type Position struct {
	Offset int64 `json:"offset"`
	Index  int   `json:"index"`
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Offset < q.Offset || (p.Offset == q.Offset && p.Index < q.Index)
}

// Conversation is the durable record of one customer's conversation on one channel. Messages are kept as separate
// records; the conversation holds the count.
type Conversation struct {
	ID              string    `json:"id"`
	TenantID        string    `json:"tenant_id"`
	ChannelID       string    `json:"channel_id"`
	Contact         Contact   `json:"contact"`
	Status          Status    `json:"status"`
	AssigneeID      string    `json:"assignee_id"`
	Labels          []string  `json:"labels"`
	WindowExpiresAt time.Time `json:"window_expires_at"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	LastInboundAt   time.Time `json:"last_inbound_at"`
	// Messages is how many messages the conversation has; the next message gets sequence number Messages+1.
	Messages uint64 `json:"message_count"`
	// Applied is the position of the last input applied, so a replayed record is skipped (docs/design.md, invariant 5).
	Applied Position `json:"applied"`

	// The fields below are kept by the state machine (Receive, ApplyCommand, Assign, FireTimer); every time is a
	// record's time, never the wall clock (docs/design.md, invariant 7).

	// Priority orders the tenant's queue: higher first. The zero value is the ordinary priority. The tenant's
	// routing rules set it, with RequiredSkills, when the conversation enters the queue and while it waits
	// (actors/router, routing.Evaluate); it keeps the last value while the conversation is assigned or closed.
	Priority int `json:"priority"`
	// RequiredSkills are the skills an operator needs (all of them) to be offered the conversation by the
	// dispatcher, from the routing rules like Priority. nil: any operator. A person's choice (take, assign) does
	// not need them.
	RequiredSkills []string `json:"required_skills,omitempty"`
	// LastOperatorID is the operator who held the conversation last (or holds it now). It survives unassign, close
	// and reopen: it is the sticky hint the dispatcher uses when the tenant reopens to the last operator.
	LastOperatorID string `json:"last_operator_id,omitempty"`
	// AssignedAt is when the current assignee got the conversation; zero exactly when AssigneeID is empty.
	AssignedAt time.Time `json:"assigned_at,omitzero"`
	// WaitingSince is when the conversation entered the queue (creation, unassign, reopen, a wake-up or a
	// reservation timeout that sends it back); zero exactly when the status is not Unassigned.
	WaitingSince time.Time `json:"waiting_since,omitzero"`
	// SnoozedUntil is when a snoozed conversation wakes up; zero while snoozed means until the customer writes.
	// Zero whenever the status is not Snoozed.
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
	// LastActivityAt is the time of the last message in or out, note, or status transition; auto-close counts
	// from it. Label changes and delivery statuses are not activity.
	LastActivityAt time.Time `json:"last_activity_at,omitzero"`
	// CycleStartedAt is when the current cycle started: creation or the last reopen.
	CycleStartedAt time.Time `json:"cycle_started_at,omitzero"`
	// AwaitingReply is true when the customer wrote and no public operator message (text or template) followed.
	AwaitingReply bool `json:"awaiting_reply"`
	// FirstResponseAt is the time of the first public operator message of the current cycle; zero until then.
	FirstResponseAt time.Time `json:"first_response_at,omitzero"`
	// RepliedSinceAssigned is true once a public operator message was sent after the current assignment; until
	// then a reservation timeout may send the conversation back to the queue.
	RepliedSinceAssigned bool `json:"replied_since_assigned,omitempty"`
	// WarnedWindow is the WindowExpiresAt that a window.closing event was last emitted for, so a window is warned
	// about once.
	WarnedWindow time.Time `json:"warned_window,omitzero"`
	// Version is incremented once by every change the state machine makes; event ids derive from it.
	Version uint64 `json:"version"`
	// Timers are the due times of the conversation's pending timers, recomputed after every change.
	Timers Timers `json:"timers"`

	// The fields below serve the inbox lists (lists.go); records written before they existed lack them until
	// their next change.

	// LastMessage summarises the latest message or note stored; nil before the first. Its Status follows the
	// message's delivery status (ApplyLastStatus).
	LastMessage *LastMessage `json:"last_message,omitempty"`
	// InboundCount is how many customer messages (system messages excluded) the conversation has had.
	InboundCount uint64 `json:"inbound_count,omitempty"`
	// ReadBy is each operator's read mark (CmdRead); Unread derives the operator's unread count from it.
	ReadBy map[string]ReadMark `json:"read_by,omitempty"`
	// MentionMarks is, per operator, the latest note mentioning them (MentionUnread).
	MentionMarks map[string]MentionMark `json:"mention_marks,omitempty"`
	// ClosedBy is the operator who closed the conversation, "" when a timer closed it; cleared by a reopen.
	ClosedBy string `json:"closed_by,omitempty"`
	// ErasedAt is when the customer was last erased (Erase); zero if never. The conversation then kept its counts
	// only, until the customer wrote again (Erased).
	ErasedAt time.Time `json:"erased_at,omitzero"`
}

// Timers are the due times of a conversation's timers; a zero time means no such timer. The router keeps them
// scheduled and, when one is due, appends a timer record to the tenant's partition, which calls FireTimer.
type Timers struct {
	// AutoClose is LastActivityAt + Policy.AutoCloseAfter while the conversation is unassigned or assigned.
	AutoClose time.Time `json:"auto_close,omitzero"`
	// SnoozeWake is SnoozedUntil while the conversation is snoozed until a time.
	SnoozeWake time.Time `json:"snooze_wake,omitzero"`
	// Reservation is AssignedAt + Policy.ReservationTimeout while the conversation is assigned and nobody has
	// replied since the assignment.
	Reservation time.Time `json:"reservation,omitzero"`
	// WindowWarning is WindowExpiresAt − Policy.WindowWarning while the conversation is not closed, its window is
	// in the future and was not warned about yet.
	WindowWarning time.Time `json:"window_warning,omitzero"`
}

// Direction says who wrote a message.
type Direction string

// Message directions.
const (
	DirIn  Direction = "in"
	DirOut Direction = "out"
	// DirNote is a private note between operators: stored with the conversation, never sent to the customer.
	DirNote Direction = "note"
)

// MessageStatus is the delivery state of a message.
type MessageStatus string

// Message statuses. Inbound messages are Received; outbound ones move Pending → Sent → Delivered → Read, or Failed.
const (
	Received  MessageStatus = "received"
	Pending   MessageStatus = "pending"
	Sent      MessageStatus = "sent"
	Delivered MessageStatus = "delivered"
	Read      MessageStatus = "read"
	Failed    MessageStatus = "failed"
)

// Message is one message of a conversation.
type Message struct {
	ConversationID string          `json:"conversation_id"`
	Seq            uint64          `json:"seq"`
	ID             string          `json:"id"` // the channel's id (wamid)
	Direction      Direction       `json:"direction"`
	Type           string          `json:"type"`
	Text           string          `json:"text,omitempty"`
	Content        json.RawMessage `json:"content,omitempty"`
	ReplyTo        string          `json:"reply_to,omitempty"`
	Status         MessageStatus   `json:"status"`
	// SentAt is the channel's timestamp of the message.
	SentAt time.Time `json:"sent_at,omitzero"`
	// CreatedAt is when Switchboard accepted it (ingest time).
	CreatedAt time.Time `json:"created_at"`
	// StatusAt is the channel's timestamp of the latest status change.
	StatusAt   time.Time `json:"status_at,omitzero"`
	ErrorCode  int       `json:"error_code,omitempty"`
	ErrorTitle string    `json:"error_title,omitempty"`
	// OperatorID is the author of an outbound message or a note; empty for inbound messages.
	OperatorID string `json:"operator_id,omitempty"`
	// WAMID is the channel's id of an outbound message, known once the channel accepted it; ID is then
	// Switchboard's own id, which the channel never sees.
	WAMID string `json:"wamid,omitempty"`
}

// ID returns the conversation id for a customer on a channel. It is derived, not allocated, so every node and every
// replay of a record names the same conversation.
func ID(channelID, customer string) string {
	var buf [64]byte
	return derivedID('c', append(append(append(buf[:0], channelID...), 0), customer...))
}

// derivedID is kind and the base32hex of the first 10 bytes of in's SHA-256, in one allocation (the string).
func derivedID(kind byte, in []byte) string {
	h := sha256.Sum256(in)
	var id [idLen]byte
	id[0] = kind
	idEncoding.Encode(id[1:], h[:10])
	return string(id[:])
}

// idLen is the length of an id ID or ContactID returns: a one-letter kind and 16 base32 characters (10 bytes).
const idLen = 17

// ValidID reports whether id has the form ID returns: "c" and 16 characters of the lower-case base32hex alphabet
// (0-9, a-v). It checks the form only, not that the conversation exists, so the API can refuse an id no
// conversation can have without producing a record or reading the store.
func ValidID(id string) bool { return validID(id, 'c') }

// ValidContactID reports whether id has the form ContactID returns: "k" and 16 characters of the lower-case
// base32hex alphabet. Like ValidID, it checks the form only.
func ValidContactID(id string) bool { return validID(id, 'k') }

func validID(id string, kind byte) bool {
	if len(id) != idLen || id[0] != kind {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'v') {
			return false
		}
	}
	return true
}

// ContactID returns the id of the tenant's contact with WhatsApp address customer (the digits of the E.164 number,
// no "+"). It is per phone, not per channel: one contact links its conversations on every channel of the tenant,
// each of them ID(channel, customer). Derived, not allocated, like ID.
func ContactID(customer string) string {
	var buf [48]byte
	return derivedID('k', append(append(buf[:0], "contact\x00"...), customer...))
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)
