// Package operator holds an operator's state as routing sees it (availability, with the capacity, role and skills of
// the tenant's configuration) and the pure rules that change its availability, as actors/conversation does for
// conversations: Apply(state, command, caller) returns the new state, the
// effects routing must hear of, or a Refusal with a domain code. It does no I/O and reads no clock: times are unix
// milliseconds taken from records.
//
// The tenant actor (actors/router) holds the states, calls Apply, persists the result and hands the effects to the
// tenant's dispatcher.
//
// It imports only the standard library, actors/routing, whose Availability it uses and whose errors it turns into
// refusals, and actors/refusal (both standard library only); the import-boundary test in actors (domain_test.go)
// keeps it so.
package operator

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard-hq/switchboard/actors/routing"
)

// Roles an operator can have. They match the roles of the tenant config (actors/tenant).
const (
	RoleAdmin    = "admin"
	RoleBuilder  = "builder"
	RoleOperator = "operator"
)

// State is an operator's runtime state.
type State struct {
	// ID names the operator within its tenant; "" is the zero State of an operator that does not exist.
	ID string
	// Availability says whether the operator is offered conversations: only routing.Online is.
	Availability routing.Availability
	// Capacity is the most conversations the operator holds at once (see routing.Holds for what holds one).
	Capacity int
	// Role is admin, builder or operator.
	Role string
	// Skills the operator has; nil means none.
	Skills []string
	// IdleSince is when the operator last came online or last had a conversation end (unix ms): routing's
	// tie-break.
	IdleSince int64
	// Version counts the changes applied to the operator: Apply adds one for every command that changes something,
	// none for a command that changes nothing. It names the operator's events (AvailabilityEvent), so an event
	// written again after a replay has the id it had the first time.
	Version uint64
}

// Initial is the state of an operator no command has changed: offline, with the capacity, role and skills of its
// configuration. The router starts a tenant's operators from it and the API shows it for an operator with no
// stored state, so both agree on what an untouched operator is.
func Initial(id string, capacity int, role string, skills []string) State {
	return State{ID: id, Availability: routing.Offline, Capacity: capacity, Role: role, Skills: skills}
}

// Routing is what the dispatcher knows of the operator.
func (s State) Routing() routing.Operator {
	return routing.Operator{ID: s.ID, Availability: s.Availability, Capacity: s.Capacity, Skills: s.Skills,
		IdleSince: s.IdleSince}
}

// CommandType says what a Command asks for.
type CommandType string

// Command types; their values are those of the inbox record's command type.
const (
	// CmdAvailability sets the caller's own availability.
	CmdAvailability CommandType = "availability"
)

// An operator's capacity, role and skills are tenant configuration, changed by a config_set (actors/tenant's
// ApplyChange, applied by the tenant actor), not by a command of these rules.

// Command is a request to change an operator.
type Command struct {
	Type CommandType
	// Availability is the availability CmdAvailability sets.
	Availability routing.Availability
}

// Caller is the operator who issues a command.
type Caller struct {
	ID   string
	Role string
}

// EffectKind says what the tenant's dispatcher must be told after a change.
type EffectKind int

const (
	// EffectAvailability: the availability changed; the dispatcher's SetAvailability may release the operator's
	// conversations or offer it waiting ones.
	EffectAvailability EffectKind = iota + 1
)

func (k EffectKind) String() string {
	switch k {
	case EffectAvailability:
		return "availability"
	}
	return "unknown"
}

// Effect is one consequence of an applied command that is not in the state itself.
type Effect struct {
	Kind EffectKind
}

// Validate checks what can be checked without the operator's state: the caller's role, then the command's input.
// target is the operator the command changes. The API calls it to refuse a command before producing it; Apply calls
// it again, so a command produced by anyone else is held to the same rules.
func Validate(cmd Command, caller Caller, target string) *Refusal {
	switch cmd.Type {
	case CmdAvailability:
		if target != caller.ID {
			return refuse(CodeForbidden, "operators set their own availability")
		}
		if !cmd.Availability.Valid() {
			return refuse(CodeInvalidAvailability, "availability must be online, away or offline")
		}
	default:
		return refuse(CodeInvalidCommand, "unknown operator command %q", cmd.Type)
	}
	return nil
}

// Apply applies cmd, issued by caller at unix ms at, to the operator s and returns the new state and the effects
// for routing. It is pure: s is not modified, and the returned Skills are a copy.
//
// A refused command returns s unchanged, no effects and a *Refusal. Checks run in this order: the operator and
// the caller exist (operator_not_found), then Validate (the caller's role, then the input). A command that changes
// nothing (the current availability again, an update to the current values) succeeds with no effects.
//
// Coming online sets IdleSince to at, so an operator who just arrived is offered work after those idle longer.
func Apply(s State, cmd Command, caller Caller, at int64) (State, []Effect, error) {
	if s.ID == "" {
		return s, nil, refuse(CodeNotFound, "no such operator")
	}
	if caller.ID == "" {
		return s, nil, refuse(CodeNotFound, "the caller is not an operator of the tenant")
	}
	if r := Validate(cmd, caller, s.ID); r != nil {
		return s, nil, r
	}
	next := s
	next.Version++
	next.Skills = slices.Clone(s.Skills)
	var effects []Effect
	switch cmd.Type {
	case CmdAvailability:
		if cmd.Availability == s.Availability {
			next.Version = s.Version
			return next, nil, nil
		}
		if cmd.Availability == routing.Online {
			next.IdleSince = at
		}
		next.Availability = cmd.Availability
		effects = append(effects, Effect{Kind: EffectAvailability})
	}
	return next, effects, nil
}

// EventAvailability is the type of the event published on switchboard.events when an operator's availability
// changes.
const EventAvailability = "operator.availability"

// Event is an operator's entry in switchboard.events. It has no conversation: consumers that keep conversation
// events only (the analytics sink) skip it by its type.
type Event struct {
	// ID is "op.<tenant>.<operator>.<version>": the operator's Version after the change. It is the same on every
	// replay of the change, so consumers drop repeats by it. Tenant and operator ids never hold a dot.
	ID           string               `json:"id"`
	Type         string               `json:"type"`
	TenantID     string               `json:"tenant_id"`
	OperatorID   string               `json:"operator_id"`
	Availability routing.Availability `json:"availability"`
	// At is the time of the change (the command's record), UTC.
	At time.Time `json:"at"`
}

// AvailabilityEvent is the operator.availability event of tenant's operator s, whose availability the change at
// unix ms at set to s.Availability. Call it with the state Apply returned along an EffectAvailability.
func AvailabilityEvent(tenant string, s State, at int64) Event {
	return Event{ID: "op." + tenant + "." + s.ID + "." + strconv.FormatUint(s.Version, 10), Type: EventAvailability,
		TenantID: tenant, OperatorID: s.ID, Availability: s.Availability, At: time.UnixMilli(at).UTC()}
}

// RefusalOf turns the dispatcher's refusal of an assignment (routing.ErrAtCapacity, ErrOperatorNotOnline,
// ErrOperatorUnknown, anything else) into a Refusal that keeps err's message.
func RefusalOf(err error) *Refusal {
	code := CodeNotAssignable
	switch {
	case errors.Is(err, routing.ErrAtCapacity):
		code = CodeAtCapacity
	case errors.Is(err, routing.ErrOperatorNotOnline):
		code = CodeNotOnline
	case errors.Is(err, routing.ErrOperatorUnknown):
		code = CodeNotFound
	}
	return &Refusal{Code: code, Message: err.Error()}
}
