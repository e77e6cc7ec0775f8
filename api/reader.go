package api

import (
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
)

// Reader is the state the API reads, in the API's own terms: the domain's records and the ListQuery and ErrNotFound of
// this package, so the API links no store. A node that owns the tenant's partition adapts its store to it
// (cmd/switchboard/node); a node that does not could implement it by asking the one that does. Implementations must
// be safe for concurrent use. Every method is scoped by tenant: another tenant's ids are not found.
type Reader interface {
	TemplateReader // api/templates.go
	// Conversation returns a conversation, or an error wrapping ErrNotFound.
	Conversation(tenant, id string) (conversation.Conversation, error)
	// ListConversations returns a page of conversations in q's order; next is the opaque cursor of the following
	// page, "" at the end. A page may be short (even empty) and still have a next cursor: the implementation bounds
	// the entries it examines per call. A cursor it did not make is an error wrapping ErrBadCursor.
	ListConversations(tenant string, q ListQuery) (list []conversation.Conversation, next string, err error)
	// InboxCounts returns the inbox tabs' counts for operator. It must not read every conversation: the console
	// asks for it after every change it hears of.
	InboxCounts(tenant, operator string) (InboxCounts, error)
	// Messages returns up to limit messages of a conversation below sequence number before (0: from the newest),
	// newest first.
	Messages(tenant, conv string, before uint64, limit int) ([]conversation.Message, error)
	// Operators returns the runtime state stored for the tenant's operators; those no command changed have none
	// (their state is operator.Initial of their configuration).
	Operators(tenant string) ([]operator.State, error)
	// OperatorLoads returns how many conversations each operator holds (routing.Holds); absent means none. It must
	// not cost a read of every open conversation: GET /v1/operators calls it on every request.
	OperatorLoads(tenant string) (map[string]int, error)
	// Search returns the conversations every term of q.Text matches (contact name, phone number, message text; the
	// last term as a prefix), in id order, at most q.Limit, and the cursor of the next page ("" at the end). It does
	// bounded work per call, so a page may hold fewer than q.Limit hits (even none) and still a cursor.
	Search(tenant string, q SearchQuery) (hits []SearchHit, next string, err error)

	CannedReader  // canned.go
	ContactReader // contacts.go
	// MediaReader finds the message carrying a media id (media.go).
	MediaReader
}

// SearchQuery is a search for Reader.Search.
type SearchQuery struct {
	// Text is the query as typed.
	Text string
	// After is the cursor of the previous page; empty starts at the beginning.
	After string
	// Limit is the most hits returned. 0 means 20.
	Limit int
}

// SearchHit is a conversation a search matched and where its first term matched.
type SearchHit struct {
	Conversation conversation.Conversation
	Match        SearchMatch
}

// SearchMatch is where a search matched a conversation.
type SearchMatch struct {
	// Field is "contact_name", "phone" or "message".
	Field string `json:"field"`
	// Snippet is the matched text: the name, the number, or up to 120 characters of the message around the match.
	Snippet string `json:"snippet"`
	// Seq is the message that matched; 0 for the name and the phone.
	Seq uint64 `json:"seq"`
}

// Sorts of ListQuery.
const (
	SortWaiting      = "waiting"       // waiting_since in the queue, else the customer's last message
	SortLastActivity = "last_activity" // last_activity_at
	SortCreated      = "created"       // created_at
)

// ListQuery selects and orders conversations for Reader.ListConversations.
type ListQuery struct {
	// Status restricts to one status; empty means all.
	Status conversation.Status
	// Assignee restricts to one operator's conversations: its assignee, or for a closed one who held it last.
	Assignee string
	// Unassigned restricts to conversations nobody holds (closed: nobody held). Ignored with Assignee.
	Unassigned bool
	// Label, Channel and ClosedBy keep only conversations with that label, on that channel, closed by that
	// operator; empty keeps all.
	Label, Channel, ClosedBy string
	// UnreadFor keeps only conversations with customer messages this operator has not read.
	UnreadFor string
	// MentionsOf lists the conversations whose notes mention this operator, by the time of the latest mention.
	MentionsOf string
	// Sort is SortWaiting, SortLastActivity or SortCreated. Required.
	Sort string
	// Desc orders newest first.
	Desc bool
	// Cursor continues from a previous page's next cursor; empty starts at the beginning.
	Cursor string
	// Limit is the most returned. 0 means 50.
	Limit int
}

// InboxCounts are the counts of the inbox tabs of one operator (GET /v1/inbox/counts).
type InboxCounts struct {
	Unassigned int `json:"unassigned"` // status unassigned
	Mine       int `json:"mine"`       // assigned to the operator
	All        int `json:"all"`        // status assigned, to anyone
	Snoozed    int `json:"snoozed"`
	Closed     int `json:"closed"`
	Mentions   int `json:"mentions"` // with a note mentioning the operator they have not read
	Unread     int `json:"unread"`   // assigned to the operator, with customer messages they have not read
}
