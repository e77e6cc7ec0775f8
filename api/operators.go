package api

import (
	"errors"
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// OperatorView is an operator as GET /v1/operators shows it.
type OperatorView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Availability string   `json:"availability"`
	Capacity     int      `json:"capacity"`
	Skills       []string `json:"skills"`
	Load         int      `json:"load"`
}

// Operators returns the operators of t as configured, with the runtime state the store holds and their load.
func Operators(st *store.Store, t *tenant.Tenant) ([]OperatorView, error) {
	states, err := st.Operators(t.ID)
	if err != nil {
		return nil, err
	}
	byID := map[string]store.OperatorState{}
	for _, s := range states {
		byID[s.ID] = s
	}
	// Load is what the dispatcher counts: assigned conversations, and snoozed ones that keep their operator.
	held, err := st.OpenConversations(t.ID, conversation.Assigned, conversation.Snoozed)
	if err != nil {
		return nil, err
	}
	load := map[string]int{}
	for _, c := range held {
		if c.AssigneeID != "" {
			load[c.AssigneeID]++
		}
	}
	out := make([]OperatorView, 0, len(t.Operators))
	for _, o := range t.Operators {
		v := OperatorView{ID: o.ID, Name: o.Name, Role: o.Role, Availability: "offline", Capacity: o.Capacity,
			Skills: o.Skills, Load: load[o.ID]}
		if s, ok := byID[o.ID]; ok {
			v.Availability, v.Capacity, v.Role, v.Skills = s.Availability, s.Capacity, s.Role, s.Skills
		}
		if v.Skills == nil {
			v.Skills = []string{}
		}
		out = append(out, v)
	}
	return out, nil
}

func (a *API) listOperators(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	list, err := Operators(a.cfg.Store, op.Tenant)
	if err != nil {
		WriteError(ctx, fasthttp.StatusServiceUnavailable, "store_unavailable", err.Error())
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Operators []OperatorView `json:"operators"`
	}{list})
}

func (a *API) setAvailability(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var b struct {
		Availability string `json:"availability"`
	}
	if !decode(ctx, &b, false) {
		return
	}
	if !slices.Contains([]string{"online", "away", "offline"}, b.Availability) {
		WriteError(ctx, fasthttp.StatusBadRequest, "invalid_availability", "availability must be online, away or offline")
		return
	}
	a.run(ctx, op, inbox.Command{Type: "availability", TargetID: op.Operator.ID, Availability: b.Availability}, fasthttp.StatusOK)
}

func (a *API) updateOperator(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if op.Operator.Role != tenant.RoleAdmin {
		WriteError(ctx, fasthttp.StatusForbidden, "forbidden", "only an admin can change operators")
		return
	}
	if _, ok := findOperator(op.Tenant, id); !ok {
		WriteError(ctx, fasthttp.StatusNotFound, "operator_not_found", "no operator "+id)
		return
	}
	var b struct {
		Capacity *int     `json:"capacity"`
		Role     string   `json:"role"`
		Skills   []string `json:"skills"`
	}
	if !decode(ctx, &b, false) {
		return
	}
	if err := validateOperatorUpdate(b.Capacity, b.Role); err != nil {
		WriteError(ctx, fasthttp.StatusBadRequest, "invalid_operator", err.Error())
		return
	}
	a.run(ctx, op, inbox.Command{Type: "update_operator", TargetID: id, Capacity: b.Capacity, Role: b.Role, Skills: b.Skills}, fasthttp.StatusOK)
}

func validateOperatorUpdate(capacity *int, role string) error {
	if capacity != nil && (*capacity < 0 || *capacity > 10000) {
		return errors.New("capacity must be between 0 and 10000")
	}
	if role != "" && role != tenant.RoleAdmin && role != tenant.RoleBuilder && role != tenant.RoleOperator {
		return errors.New("role must be admin, builder or operator")
	}
	return nil
}
