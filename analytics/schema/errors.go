package schema

import "errors"

// Sentinel errors of Decode. The sink counts and skips events that fail with any of them.
var (
	// ErrMalformed: the record is not a JSON event object, or lacks id, type, tenant_id, conversation_id or a
	// representable at.
	ErrMalformed = errors.New("malformed event")
	// ErrUnknownType: the event's type is not one this schema knows (see KnownTypes).
	ErrUnknownType = errors.New("unknown event type")
	// ErrNotStored: the event's type is one Switchboard publishes but the raw table does not keep (see
	// NotStoredTypes): an event that is not about a conversation (operator.availability), or an operator's read
	// mark (conversation.read).
	ErrNotStored = errors.New("event type not stored")
)
