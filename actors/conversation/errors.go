package conversation

import (
	"errors"
	"fmt"
	"net/http"
)

// Refusal codes (docs/contract.md, "Operator API"). Each code always comes with the same HTTP status, given in brackets.
const (
	// CodeInvalidCommand [400]: the command type is unknown.
	CodeInvalidCommand = "invalid_command"
	// CodeInvalidOperator [400]: the acting operator or the target operator is missing.
	CodeInvalidOperator = "invalid_operator"
	// CodeInvalidUntil [400]: a snooze ends at or before the command's time.
	CodeInvalidUntil = "invalid_until"
	// CodeInvalidLabel [400]: a label is not [a-z0-9_-]{1,64}.
	CodeInvalidLabel = "invalid_label"
	// CodeInvalidMessage [400]: a message or note is empty, blank, too long, of an unknown type, a template without
	// name or language, or comes without the message id the caller must allocate.
	CodeInvalidMessage = "invalid_message"
	// CodeForbidden [403]: the actor's role or relation to the conversation does not allow the command.
	CodeForbidden = "forbidden"
	// CodeNotFound [404]: the conversation does not exist.
	CodeNotFound = "not_found"
	// CodeAlreadyAssigned [409]: take of a conversation another operator holds, by a role that may not take over.
	CodeAlreadyAssigned = "already_assigned"
	// CodeConversationClosed [409]: the command needs an open conversation.
	CodeConversationClosed = "conversation_closed"
	// CodeConversationSnoozed [409]: take or assign of a snoozed conversation; unsnooze it first.
	CodeConversationSnoozed = "conversation_snoozed"
	// CodeNotAssigned [409]: transfer or unassign of a conversation that is not assigned.
	CodeNotAssigned = "not_assigned"
	// CodeNotUnassigned [409]: a routing decision for a conversation that is no longer waiting in the queue.
	CodeNotUnassigned = "not_unassigned"
	// CodeAlreadyClosed [409]: close of a closed conversation.
	CodeAlreadyClosed = "already_closed"
	// CodeNotClosed [409]: reopen of a conversation that is not closed.
	CodeNotClosed = "not_closed"
	// CodeSnoozeClosed [409]: a closed conversation cannot be snoozed.
	CodeSnoozeClosed = "snooze_closed"
	// CodeNotSnoozed [409]: unsnooze of a conversation that is not snoozed.
	CodeNotSnoozed = "not_snoozed"
	// CodeInvalidStatus [409]: the stored conversation has a status this version does not know.
	CodeInvalidStatus = "invalid_status"
	// CodeWindowClosed [422]: free-form text outside the 24-hour window; only templates may be sent.
	CodeWindowClosed = "window_closed"
)

// codeStatus is the HTTP status of each refusal code.
var codeStatus = map[string]int{
	CodeInvalidCommand:      http.StatusBadRequest,
	CodeInvalidOperator:     http.StatusBadRequest,
	CodeInvalidUntil:        http.StatusBadRequest,
	CodeInvalidLabel:        http.StatusBadRequest,
	CodeInvalidMessage:      http.StatusBadRequest,
	CodeForbidden:           http.StatusForbidden,
	CodeNotFound:            http.StatusNotFound,
	CodeAlreadyAssigned:     http.StatusConflict,
	CodeConversationClosed:  http.StatusConflict,
	CodeConversationSnoozed: http.StatusConflict,
	CodeNotAssigned:         http.StatusConflict,
	CodeNotUnassigned:       http.StatusConflict,
	CodeAlreadyClosed:       http.StatusConflict,
	CodeNotClosed:           http.StatusConflict,
	CodeSnoozeClosed:        http.StatusConflict,
	CodeNotSnoozed:          http.StatusConflict,
	CodeInvalidStatus:       http.StatusConflict,
	CodeWindowClosed:        http.StatusUnprocessableEntity,
}

// Refusal is the error returned when a command or transition is not allowed. The conversation is then unchanged
// and there are no effects. The API answers Status with {"error":{"code":Code,"message":Message}}.
type Refusal struct {
	// Status is the HTTP status: 400, 403, 404, 409 or 422.
	Status int
	// Code is one of the Code constants.
	Code string
	// Message explains the refusal to a person.
	Message string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// Is reports whether target is a *Refusal with the same Code, so errors.Is(err, &Refusal{Code: CodeWindowClosed})
// tests for a code.
func (r *Refusal) Is(target error) bool {
	t, ok := target.(*Refusal)
	return ok && t.Code == r.Code
}

// refuse returns a Refusal with code's status.
func refuse(code, format string, args ...any) *Refusal {
	st, ok := codeStatus[code]
	if !ok {
		panic("BUG: refusal code " + code + " has no status")
	}
	return &Refusal{Status: st, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors of FireTimer; they mean the caller is broken, not that a transition was refused.
var (
	// ErrUnknownTimer: the timer kind is not one of the TimerKind constants.
	ErrUnknownTimer = errors.New("unknown timer kind")
	// ErrTimerEarly: a timer was fired before it was due.
	ErrTimerEarly = errors.New("timer fired before it is due")
)
