package conversation

import (
	"errors"

	"github.com/switchboard-hq/switchboard/actors/refusal"
)

// Refusal codes (docs/contract.md, "Operator API"). The domain names what went wrong; the API's edge (package api)
// maps each code to its HTTP status in one table. The kind of refusal is given in brackets: input (the command
// itself is wrong), role, missing, state (the transition is not allowed now), window.
const (
	// CodeInvalidCommand [input]: the command type is unknown.
	CodeInvalidCommand = "invalid_command"
	// CodeInvalidOperator [input]: the acting operator or the target operator is missing.
	CodeInvalidOperator = "invalid_operator"
	// CodeInvalidUntil [input]: a snooze ends at or before the command's time.
	CodeInvalidUntil = "invalid_until"
	// CodeInvalidLabel [input]: a label is not [a-z0-9_-]{1,64}.
	CodeInvalidLabel = "invalid_label"
	// CodeUnknownLabel [input]: a label added is not in the tenant's labels catalogue (Policy.Labels).
	CodeUnknownLabel = "unknown_label"
	// CodeInvalidMessage [input]: a message or note is empty, blank, too long, of an unknown type, a template without
	// name or language, or comes without the message id the caller must allocate.
	CodeInvalidMessage = "invalid_message"
	// CodeInvalidSeq [input]: a read names a message beyond the conversation's.
	CodeInvalidSeq = "invalid_seq"
	// CodeForbidden [role]: the actor's role or relation to the conversation does not allow the command.
	CodeForbidden = "forbidden"
	// CodeNotFound [missing]: the conversation does not exist.
	CodeNotFound = "conversation_not_found"
	// CodeAlreadyAssigned [state]: take of a conversation another operator holds, by a role that may not take over.
	CodeAlreadyAssigned = "already_assigned"
	// CodeConversationClosed [state]: the command needs an open conversation.
	CodeConversationClosed = "conversation_closed"
	// CodeConversationSnoozed [state]: take or assign of a snoozed conversation; unsnooze it first.
	CodeConversationSnoozed = "conversation_snoozed"
	// CodeNotAssigned [state]: transfer or unassign of a conversation that is not assigned.
	CodeNotAssigned = "not_assigned"
	// CodeNotUnassigned [state]: a routing decision for a conversation that is no longer waiting in the queue.
	CodeNotUnassigned = "not_unassigned"
	// CodeAlreadyClosed [state]: close of a closed conversation.
	CodeAlreadyClosed = "already_closed"
	// CodeNotClosed [state]: reopen of a conversation that is not closed.
	CodeNotClosed = "not_closed"
	// CodeSnoozeClosed [state]: a closed conversation cannot be snoozed.
	CodeSnoozeClosed = "snooze_closed"
	// CodeNotSnoozed [state]: unsnooze of a conversation that is not snoozed.
	CodeNotSnoozed = "not_snoozed"
	// CodeInvalidStatus [state]: the stored conversation has a status this version does not know.
	CodeInvalidStatus = "unknown_status"
	// CodeWindowClosed [window]: free-form text outside the 24-hour window; only templates may be sent.
	CodeWindowClosed = "window_closed"
	// CodeErased [state]: reopen of a conversation whose customer was erased and has not written since: nothing
	// can reach them until they write again (a send is refused as the conversation is closed).
	CodeErased = "conversation_erased"
)

// Codes returns every refusal code of this package, so the API's edge can check that it maps each one to an HTTP
// status.
func Codes() []string {
	return []string{CodeInvalidCommand, CodeInvalidOperator, CodeInvalidUntil, CodeInvalidLabel, CodeUnknownLabel,
		CodeInvalidMessage, CodeInvalidSeq, CodeForbidden, CodeNotFound, CodeAlreadyAssigned, CodeConversationClosed, CodeConversationSnoozed,
		CodeNotAssigned, CodeNotUnassigned, CodeAlreadyClosed, CodeNotClosed, CodeSnoozeClosed, CodeNotSnoozed,
		CodeInvalidStatus, CodeWindowClosed, CodeErased}
}

// Refusal is the error returned when a command is not allowed, with one of the Code constants (actors/refusal);
// the state is then unchanged and there are no effects.
type Refusal = refusal.Refusal

// refuse returns a Refusal with code and a message.
func refuse(code, format string, args ...any) *Refusal { return refusal.New(code, format, args...) }

// Errors of FireTimer; they mean the caller is broken, not that a transition was refused.
var (
	// ErrUnknownTimer: the timer kind is not one of the TimerKind constants.
	ErrUnknownTimer = errors.New("unknown timer kind")
	// ErrTimerEarly: a timer was fired before it was due.
	ErrTimerEarly = errors.New("timer fired before it is due")
)

// Errors of the binary encoding's decoders (codec.go).
var (
	// ErrUnknownFormat: a record starts with a format byte this version does not know (written by a newer one).
	ErrUnknownFormat = errors.New("unknown record format")
	// ErrMalformed: a record is truncated or corrupt.
	ErrMalformed = errors.New("malformed record")
)
