// Package conversation holds the conversation record and the pure rules that change it. It imports neither the actor
// system nor Kafka nor the store: the router's actors call these functions, persist the result and release effects.
package conversation

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"time"
)

// Status is where a conversation stands in its lifecycle.
type Status string

// Conversation statuses (DESIGN.md, "Conversation lifecycle").
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
	// Applied is the position of the last input applied, so a replayed record is skipped (DESIGN.md, invariant 5).
	Applied Position `json:"applied"`
}

// Direction says who wrote a message.
type Direction string

// Message directions.
const (
	DirIn  Direction = "in"
	DirOut Direction = "out"
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
	SentAt time.Time `json:"sent_at"`
	// CreatedAt is when Switchboard accepted it (ingest time).
	CreatedAt time.Time `json:"created_at"`
	// StatusAt is the channel's timestamp of the latest status change.
	StatusAt   time.Time `json:"status_at,omitempty"`
	ErrorCode  int       `json:"error_code,omitempty"`
	ErrorTitle string    `json:"error_title,omitempty"`
}

// ID returns the conversation id for a customer on a channel. It is derived, not allocated, so every node and every
// replay of a record names the same conversation.
func ID(channelID, customer string) string {
	h := sha256.Sum256([]byte(channelID + "\x00" + customer))
	return "c" + idEncoding.EncodeToString(h[:10])
}

// ContactID returns the contact id of a customer on a channel.
func ContactID(channelID, customer string) string {
	h := sha256.Sum256([]byte("contact\x00" + channelID + "\x00" + customer))
	return "k" + idEncoding.EncodeToString(h[:10])
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)
