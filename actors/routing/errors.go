package routing

import "errors"

// Errors returned by the Dispatcher, wrapped with the conversation and operator concerned; test with errors.Is.
var (
	// ErrOperatorUnknown: the operator was never added with UpsertOperator or Rebuild.
	ErrOperatorUnknown = errors.New("operator unknown")
	// ErrOperatorNotOnline: the operator is away or offline, so it cannot be given a conversation.
	ErrOperatorNotOnline = errors.New("operator not online")
	// ErrAtCapacity: the operator already holds as many conversations as its capacity allows (or more, after its
	// capacity was lowered).
	ErrAtCapacity = errors.New("operator at capacity")
	// ErrConversationAssigned: a conversation that is assigned cannot also wait in the queue; release it first.
	ErrConversationAssigned = errors.New("conversation is assigned")
	// ErrEmptyID: an operator or conversation id is empty.
	ErrEmptyID = errors.New("empty id")
	// ErrInvalidCapacity: a capacity is negative.
	ErrInvalidCapacity = errors.New("invalid capacity")
	// ErrInvalidAvailability: an availability is not online, away or offline.
	ErrInvalidAvailability = errors.New("invalid availability")
)
