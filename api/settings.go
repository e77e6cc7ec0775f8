package api

// Configuration at runtime (docs/contract.md, "Configuration at runtime"): tenant settings, channels and operators'
// capacity, role, skills and teams, changed by admins. A change is a config_set command on the tenant's partition;
// the tenant actor applies it (actors/router/config.go) and the answer waits until this node's directory has the
// new version, so the caller's next call on this node sees it.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// settingsView is the tenant's settings as GET and PATCH /v1/settings answer them.
type settingsView struct {
	tenant.Settings
	// AuditRetention is the retention in effect (the default when the settings do not say); it shadows Settings'.
	AuditRetention tenant.Duration `json:"audit_retention"`
	// Version is the tenant's configuration version.
	Version uint64 `json:"version"`
}

func settingsViewOf(s tenant.Settings, version uint64) settingsView {
	return settingsView{Settings: s, AuditRetention: tenant.Duration(s.AuditKeep()), Version: version}
}

// adminChannelView is a channel as an admin sees it: everything but the secrets, which are write-only; whether each
// is set is shown instead.
type adminChannelView struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	PhoneNumberID  string `json:"phone_number_id"`
	Name           string `json:"name,omitempty"`
	RateLimit      int    `json:"rate_limit"`
	WABAID         string `json:"waba_id,omitempty"`
	Disabled       bool   `json:"disabled"`
	HasAppSecret   bool   `json:"has_app_secret"`
	HasVerifyToken bool   `json:"has_verify_token"`
	HasAccessToken bool   `json:"has_access_token"`
	// WebhookURL is the callback URL to give Meta for the number (channels.go).
	WebhookURL string `json:"webhook_url,omitempty"`
}

func adminChannelOf(c *tenant.Channel) adminChannelView {
	return adminChannelView{ID: c.ID, Type: c.Type, PhoneNumberID: c.PhoneNumberID, Name: c.Name, RateLimit: c.RateLimit,
		WABAID: c.WABAID, Disabled: c.Disabled, HasAppSecret: c.AppSecret != "", HasVerifyToken: c.VerifyToken != "",
		HasAccessToken: c.AccessToken != ""}
}

func (a *API) getSettings(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	a.writeJSON(ctx, fasthttp.StatusOK, settingsViewOf(op.Tenant.Settings, op.Tenant.Version))
}

func (a *API) patchSettings(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var ch tenant.SettingsChange
	if !decode(ctx, &ch, false) {
		return
	}
	a.configure(ctx, op, tenant.Change{Settings: &ch}, fasthttp.StatusOK, func(r *tenant.Record) any {
		return settingsViewOf(*r.Settings, r.Version)
	})
}

// listAdminChannels answers GET /v1/channels for an admin: every field but the secrets.
func (a *API) listAdminChannels(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	out := make([]adminChannelView, 0, len(op.Tenant.Channels))
	for i := range op.Tenant.Channels {
		out = append(out, adminChannelAt(ctx, &op.Tenant.Channels[i]))
	}
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Channels []adminChannelView `json:"channels"`
	}{out})
}

func (a *API) addChannel(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var ch tenant.ChannelChange
	if !decode(ctx, &ch, false) {
		return
	}
	ch.Create = true
	// Numbers are unique across tenants; the tenant's rule sees only its own tenant, so the directory checks the
	// others (a race between two tenants adding one number at once is not caught: the topic then holds both, and
	// every node logs it).
	if ref, ok := a.cfg.Directory.ChannelByPhone(ch.PhoneNumberID); ok && ref.Tenant.ID != op.Tenant.ID {
		fail(ctx, tenant.CodeInvalidSetting, "phone_number_id: already used by another tenant")
		return
	}
	a.configureChannel(ctx, op, &ch, false, fasthttp.StatusCreated)
}

func (a *API) patchChannel(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	var ch tenant.ChannelChange
	if !decode(ctx, &ch, false) {
		return
	}
	if ch.Create || (ch.ID != "" && ch.ID != id) {
		fail(ctx, tenant.CodeInvalidSetting, "id: the channel is named by the path; create is POST /v1/channels")
		return
	}
	ch.ID = id
	a.configureChannel(ctx, op, &ch, false, fasthttp.StatusOK)
}

// getOperator answers GET /v1/operators/{id}: admins and builders read anyone, anyone themselves (permissions.go).
func (a *API) getOperator(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if id == "me" {
		id = op.Operator.ID
	}
	list, err := Operators(a.cfg.Reader, op.Tenant)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	for _, v := range list {
		if v.ID == id {
			a.writeJSON(ctx, fasthttp.StatusOK, v)
			return
		}
	}
	fail(ctx, tenant.CodeOperatorNotFound, "no operator "+id)
}

// updateOperator answers PATCH /v1/operators/{id}: an admin changes an operator's name, role, capacity, skills or
// teams. The caller's role is the live directory's, the same configuration the tenant actor applies the change
// under.
func (a *API) updateOperator(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if id == "me" {
		id = op.Operator.ID
	}
	// The role is checked (permissions.go: team.manage, or operators.self for one's own record) before the operator
	// is looked up, so a non-admin learns nothing of who exists. What one may change of oneself (the name) is
	// tenant.MayChange's, checked once the body says what changes.
	if _, ok := findOperator(op.Tenant, id); !ok {
		fail(ctx, tenant.CodeOperatorNotFound, "no operator "+id)
		return
	}
	var body struct {
		Name     *string   `json:"name"`
		Role     *string   `json:"role"`
		Capacity *int      `json:"capacity"`
		Skills   *[]string `json:"skills"`
		Teams    *[]string `json:"teams"`
		// Token is a new API token: only its hash goes further, and the old token (and every session signed in
		// with it) stops working.
		Token *string `json:"token"`
		// Disabled disables or enables the operator (team.go): a disabled one's sessions and tokens stop at once
		// on every node that has the record.
		Disabled *bool `json:"disabled"`
		// SSO lets single sign-on sign the operator in (oidc.go: only operators it created, or marked so).
		SSO *bool `json:"sso"`
	}
	if !decode(ctx, &body, false) {
		return
	}
	ch := tenant.OperatorChange{ID: id, Name: body.Name, Role: body.Role, Capacity: body.Capacity, Skills: body.Skills,
		Teams: body.Teams, Disabled: body.Disabled, SSO: body.SSO}
	if body.Token != nil {
		if len(*body.Token) < 16 {
			fail(ctx, tenant.CodeInvalidSetting, "token: must be at least 16 characters")
			return
		}
		if _, taken := a.cfg.Directory.OperatorByToken(*body.Token); taken {
			fail(ctx, tenant.CodeInvalidSetting, "token: already in use; choose another")
			return
		}
		h := tenant.HashToken(*body.Token)
		ch.TokenHash = new(hex.EncodeToString(h[:]))
	}
	if !a.mayChange(ctx, op, tenant.Change{Operator: &ch}) {
		return
	}
	a.configure(ctx, op, tenant.Change{Operator: &ch}, fasthttp.StatusOK, func(r *tenant.Record) any {
		o := r.Operator
		loads, err := a.cfg.Reader.OperatorLoads(op.Tenant.ID)
		var load *int
		if err == nil {
			load = new(loads[o.ID])
		}
		avail := "offline"
		if states, err := a.cfg.Reader.Operators(op.Tenant.ID); err == nil {
			for _, s := range states {
				if s.ID == o.ID {
					avail = string(s.Availability)
				}
			}
		}
		return OperatorView{ID: o.ID, Name: o.Name, Role: o.Role, Availability: avail, Capacity: o.Capacity,
			Skills: nonNilStrings(o.Skills), Teams: o.Teams, Load: load, Disabled: o.Disabled,
			HasPassword: o.PasswordHash != "", SSO: o.SSO}
	})
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// configure sends change as a config_set and answers what present makes of the record it wrote, once this node's
// directory has applied the change's version. The change is durable when the tenant actor answers; if the directory
// has not caught up within the command timeout, the answer still says it applied and the log says why the next read
// may not show it yet.
func (a *API) configure(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, change tenant.Change, okStatus int, present func(*tenant.Record) any) {
	// The rule runs here first, on this node's directory, so a bad value is refused before anything is queued; the
	// tenant actor runs it again on the configuration it holds, which decides.
	if _, _, err := tenant.ApplyChange(op.Tenant, change, a.cfg.Now()); err != nil {
		var r *tenant.Refusal
		if errors.As(err, &r) {
			fail(ctx, r.Code, r.Text())
			return
		}
	}
	raw, err := json.Marshal(change)
	if err != nil {
		fail(ctx, tenant.CodeInvalidSetting, "body: "+err.Error())
		return
	}
	a.run(ctx, op, inbox.Command{Type: inbox.CmdConfigSet, Config: raw}, okStatus, func(body any) any {
		res, ok := body.(tenant.Applied)
		if !ok || len(res.Records) == 0 {
			return body // a replay's answer: the change applied before
		}
		a.awaitConfig(op.Tenant.ID, res.Version)
		return present(&res.Records[0])
	})
}

// awaitConfig waits, with WaitConfig, until this node's directory has tenant's configuration at version, at most the
// command timeout; a directory still behind then is logged, not an error (the change is durable).
func (a *API) awaitConfig(tenantID string, version uint64) {
	if !a.cfg.WaitConfig {
		return
	}
	wctx, cancel := context.WithTimeout(context.Background(), a.cfg.CommandTimeout)
	defer cancel()
	start := time.Now()
	if err := a.cfg.Directory.WaitVersion(wctx, tenantID, version); err != nil {
		a.log.Warn("config: the change applied, but this node's directory has not caught up yet",
			"tenant", tenantID, "version", version, "waited", time.Since(start))
	}
}
