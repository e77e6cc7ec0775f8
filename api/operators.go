package api

import (
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// OperatorView is an operator as the API shows it: GET /v1/operators lists them, and PUT
// /v1/operators/me/availability and PATCH /v1/operators/{id} answer the operator they changed.
type OperatorView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Availability string   `json:"availability"`
	Capacity     int      `json:"capacity"`
	Skills       []string `json:"skills"`
	Teams        []string `json:"teams,omitempty"`
	// Load is how many conversations the operator holds (routing.Holds): what its capacity is measured against.
	// It is absent (nil) only in the answer to a change that applied when the loads could not be read afterwards:
	// a durable change is never answered with an error.
	Load *int `json:"load,omitempty"`
	// Disabled operators cannot sign in (README "## Team").
	Disabled bool `json:"disabled,omitempty"`
	// HasPassword says the operator can sign in with a password.
	HasPassword bool `json:"has_password,omitempty"`
	// SSO says single sign-on may sign the operator in (created by it, or marked so by an admin).
	SSO bool `json:"sso,omitempty"`
}

// Operators returns the operators of t as configured, with the runtime state r holds and their loads.
func Operators(r Reader, t *tenant.Tenant) ([]OperatorView, error) {
	states, err := r.Operators(t.ID)
	if err != nil {
		return nil, fmt.Errorf("read operators of tenant %s: %w", t.ID, err)
	}
	byID := make(map[string]*operator.State, len(states))
	for i := range states {
		byID[states[i].ID] = &states[i]
	}
	loads, err := r.OperatorLoads(t.ID)
	if err != nil {
		return nil, fmt.Errorf("read operator loads of tenant %s: %w", t.ID, err)
	}
	out := make([]OperatorView, 0, len(t.Operators))
	for i := range t.Operators {
		o := &t.Operators[i]
		s, ok := byID[o.ID]
		if !ok {
			s = new(operator.Initial(o.ID, o.Capacity, o.Role, o.Skills))
		}
		out = append(out, viewOf(o, *s, new(loads[o.ID])))
	}
	return out, nil
}

// viewOf is the view of the configured operator o in state s; load is nil when unknown. Role, capacity, skills and
// teams are the configuration's (o), the availability the runtime state's (s).
func viewOf(o *tenant.Operator, s operator.State, load *int) OperatorView {
	return OperatorView{ID: o.ID, Name: o.Name, Role: o.Role, Availability: string(s.Availability), Capacity: o.Capacity,
		Skills: nonNilStrings(o.Skills), Teams: o.Teams, Load: load, Disabled: o.Disabled, HasPassword: o.PasswordHash != "", SSO: o.SSO}
}

func (a *API) listOperators(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	list, err := Operators(a.cfg.Reader, op.Tenant)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Operators []OperatorView `json:"operators"`
	}{list})
}

// presentOperator turns the outcome of an operator command (the operator's new state) into its view. The change is
// durable by then, so a failure to read the loads is logged and the view answered without its load, never as an
// error the caller would take for a change that did not happen.
func (a *API) presentOperator(t *tenant.Tenant) func(body any) any {
	return func(body any) any {
		s, ok := body.(operator.State)
		if !ok {
			return body
		}
		o, ok := findOperator(t, s.ID)
		if !ok {
			return body
		}
		loads, err := a.cfg.Reader.OperatorLoads(t.ID)
		if err != nil {
			a.log.Error("read operator loads after a change; answered without the load", "tenant", t.ID,
				"operator", s.ID, "err", err)
			return viewOf(o, s, nil)
		}
		return viewOf(o, s, new(loads[s.ID]))
	}
}

// refuse answers a refusal of the operator rules.
func refuse(ctx *fasthttp.RequestCtx, r *operator.Refusal) { fail(ctx, r.Code, r.Message) }

func (a *API) setAvailability(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var b struct {
		Availability string `json:"availability"`
	}
	if !decode(ctx, &b, false) {
		return
	}
	cmd := operator.Command{Type: operator.CmdAvailability, Availability: routing.Availability(b.Availability)}
	if r := operator.Validate(cmd, callerOf(op), op.Operator.ID); r != nil {
		refuse(ctx, r)
		return
	}
	a.run(ctx, op, inbox.Command{Type: string(cmd.Type), TargetID: op.Operator.ID, Availability: b.Availability},
		fasthttp.StatusOK, a.presentOperator(op.Tenant))
}

// callerOf is the authenticated operator as the operator rules see it.
func callerOf(op tenant.OperatorRef) operator.Caller {
	return operator.Caller{ID: op.Operator.ID, Role: op.Operator.Role}
}
