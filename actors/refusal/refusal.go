// Package refusal holds the error the pure rules return when a command is not allowed: a domain code and a message
// for a person. The rule packages (actors/conversation, actors/operator) define their codes and alias this type; the
// API's edge (package api) maps each code to its HTTP status in one table.
//
// It imports only the standard library (fmt), and is one of the leaves the domain's import-boundary test
// (actors/domain_test.go) allows.
package refusal

import "fmt"

// Refusal is the error returned when a command or transition is not allowed. What it refused is then unchanged and
// there are no effects. The API answers {"error":{"code":Code,"message":Message}} with the status it maps Code to.
type Refusal struct {
	// Code is one of the rule package's Code constants.
	Code string
	// Message explains the refusal to a person.
	Message string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Message }

// Is reports whether target is a *Refusal with the same Code, so errors.Is(err, &Refusal{Code: c}) tests for a code.
func (r *Refusal) Is(target error) bool {
	t, ok := target.(*Refusal)
	return ok && t.Code == r.Code
}

// New returns a Refusal with code and a message formed from format and args.
func New(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}
