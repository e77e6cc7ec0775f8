package operator

import "fmt"

// Refusal codes. The domain names what went wrong; the API's edge (package api) maps each code to its HTTP status in
// one table. The kind of refusal is given in brackets, as in actors/conversation.
const (
	// CodeInvalidCommand [input]: the command type is unknown.
	CodeInvalidCommand = "invalid_command"
	// CodeInvalidAvailability [input]: the availability is not online, away or offline.
	CodeInvalidAvailability = "invalid_availability"
	// CodeInvalidOperator [input]: a capacity out of range or an unknown role.
	CodeInvalidOperator = "invalid_operator"
	// CodeForbidden [role]: the caller may not change this operator.
	CodeForbidden = "forbidden"
	// CodeNotFound [missing]: the operator, or the caller, is not one of the tenant's operators.
	CodeNotFound = "operator_not_found"
	// CodeAtCapacity [state]: the operator already holds as many conversations as its capacity allows.
	CodeAtCapacity = "at_capacity"
	// CodeNotOnline [state]: the operator is away or offline, so it cannot be given a conversation.
	CodeNotOnline = "operator_not_online"
	// CodeNotAssignable [state]: routing refused an assignment for another reason.
	CodeNotAssignable = "not_assignable"
)

// Codes returns every refusal code of this package, so the API's edge can check that it maps each one to an HTTP
// status.
func Codes() []string {
	return []string{CodeInvalidCommand, CodeInvalidAvailability, CodeInvalidOperator, CodeForbidden, CodeNotFound,
		CodeAtCapacity, CodeNotOnline, CodeNotAssignable}
}

// Refusal is the error returned when a command is not allowed. The state is then unchanged and there are no
// effects.
type Refusal struct {
	// Code is one of the Code constants.
	Code string
	// Message explains the refusal to a person.
	Message string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// Is reports whether target is a *Refusal with the same Code, so errors.Is(err, &Refusal{Code: CodeForbidden})
// tests for a code.
func (r *Refusal) Is(target error) bool {
	t, ok := target.(*Refusal)
	return ok && t.Code == r.Code
}

func refuse(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}
