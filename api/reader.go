package api

import (
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
)

// Reader is the state the API reads. *store.Store implements it on the node that owns the tenant's partition; a
// node that does not could implement it by asking the one that does. Implementations must be safe for concurrent
// use. Every method is scoped by tenant: another tenant's ids are not found.
type Reader interface {
	// Conversation returns a conversation, or an error wrapping store.ErrNotFound.
	Conversation(tenant, id string) (conversation.Conversation, error)
	// Conversations lists conversations in id order; next is the cursor of the following page, "" at the end.
	Conversations(tenant string, f store.Filter) (list []conversation.Conversation, next string, err error)
	// Messages returns up to limit messages of a conversation below sequence number before (0: from the newest),
	// newest first.
	Messages(tenant, conv string, before uint64, limit int) ([]conversation.Message, error)
	// Operators returns the runtime state stored for the tenant's operators (those never changed have none).
	Operators(tenant string) ([]store.OperatorState, error)
	// OperatorLoads returns how many conversations each operator holds (routing.Holds); absent means none. It must
	// not cost a read of every open conversation: GET /v1/operators calls it on every request.
	OperatorLoads(tenant string) (map[string]int, error)
}
