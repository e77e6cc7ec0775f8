package operator

import "github.com/switchboard-hq/switchboard/actors/refusal"

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

// Refusal is the error returned when a command is not allowed, with one of the Code constants (actors/refusal);
// the state is then unchanged and there are no effects.
type Refusal = refusal.Refusal

// refuse returns a Refusal with code and a message.
func refuse(code, format string, args ...any) *Refusal { return refusal.New(code, format, args...) }
