package api

// The labels catalogue, the contact field schema and the routing rules at runtime (issue 13; actors/tenant/labels.go
// has the rules of each): GET /v1/labels for everyone in the inbox, POST /v1/labels and PATCH/DELETE
// /v1/labels/{name}, PUT /v1/contacts/fields and GET/PUT /v1/routing/rules for admins and builders (permissions.go).
// Each change is a config_set (settings.go, configure), answered once this node's directory has it.

import (
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// serveCatalogue answers the paths of this file; false when parts is another.
func (a *API) serveCatalogue(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, parts []string) bool {
	method := string(ctx.Method())
	switch {
	case len(parts) == 1 && parts[0] == "labels" && method == fasthttp.MethodGet:
		labels := op.Tenant.Labels
		if labels == nil {
			labels = []tenant.Label{}
		}
		a.writeJSON(ctx, fasthttp.StatusOK, struct {
			Labels []tenant.Label `json:"labels"`
		}{labels})
	case len(parts) == 1 && parts[0] == "labels" && method == fasthttp.MethodPost:
		var body struct {
			Name        string  `json:"name"`
			Color       *string `json:"color"`
			Description *string `json:"description"`
		}
		if !decode(ctx, &body, false) {
			return true
		}
		a.changeLabel(ctx, op, tenant.LabelChange{Name: body.Name, Create: true, Color: body.Color,
			Description: body.Description}, fasthttp.StatusCreated)
	case len(parts) == 2 && parts[0] == "labels" && method == fasthttp.MethodPatch:
		var body struct {
			Color       *string `json:"color"`
			Description *string `json:"description"`
		}
		if !decode(ctx, &body, false) {
			return true
		}
		a.changeLabel(ctx, op, tenant.LabelChange{Name: parts[1], Color: body.Color, Description: body.Description},
			fasthttp.StatusOK)
	case len(parts) == 2 && parts[0] == "labels" && method == fasthttp.MethodDelete:
		a.changeLabel(ctx, op, tenant.LabelChange{Name: parts[1], Delete: true}, fasthttp.StatusOK)
	case len(parts) == 2 && parts[0] == "contacts" && parts[1] == "fields" && method == fasthttp.MethodPut:
		var body tenant.FieldsChange
		if !decode(ctx, &body, false) {
			return true
		}
		a.configure(ctx, op, tenant.Change{Fields: &body}, fasthttp.StatusOK, func(r *tenant.Record) any {
			t := tenant.Tenant{Settings: *r.Settings}
			return fieldsView{Fields: schemaOf(&t), Version: r.Version}
		})
	case len(parts) == 2 && parts[0] == "routing" && parts[1] == "rules" && method == fasthttp.MethodGet:
		a.writeJSON(ctx, fasthttp.StatusOK, rulesView{Rules: nonNilRules(op.Tenant.Rules), Version: op.Tenant.Version})
	case len(parts) == 2 && parts[0] == "routing" && parts[1] == "rules" && method == fasthttp.MethodPut:
		var body tenant.RulesChange
		if !decode(ctx, &body, false) {
			return true
		}
		a.configure(ctx, op, tenant.Change{Rules: &body}, fasthttp.StatusOK, func(r *tenant.Record) any {
			return rulesView{Rules: nonNilRules(r.Rules.Rules), Version: r.Version}
		})
	default:
		return false
	}
	return true
}

// fieldsView answers PUT /v1/contacts/fields: the schema as GET /v1/contacts/fields gives it, and the tenant's
// configuration version.
type fieldsView struct {
	Fields  contact.Schema `json:"fields"`
	Version uint64         `json:"version"`
}

// rulesView answers GET and PUT /v1/routing/rules.
type rulesView struct {
	Rules   []routing.Rule `json:"rules"`
	Version uint64         `json:"version"`
}

func nonNilRules(rs []routing.Rule) []routing.Rule {
	if rs == nil {
		return []routing.Rule{}
	}
	return rs
}

// deletedLabel answers DELETE /v1/labels/{name}.
type deletedLabel struct {
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
}

func (a *API) changeLabel(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, ch tenant.LabelChange, okStatus int) {
	if !routing.ValidName(ch.Name) {
		fail(ctx, tenant.CodeInvalidSetting, "name: a label is [a-z0-9_-]{1,64}")
		return
	}
	a.configure(ctx, op, tenant.Change{Label: &ch}, okStatus, func(r *tenant.Record) any {
		if r.Deleted || r.Label == nil {
			return deletedLabel{Name: r.ID, Deleted: true}
		}
		return r.Label
	})
}
