package api

// Permissions: the one matrix of who may call what (README "## Permissions", generated from Routes by
// TestREADMEPermissionsTable). API.Serve matches every request to a route of Routes, checks the caller's role
// against the route's permission and only then dispatches; a request no route matches reaches no handler (404, or
// 405 when the path is a route's with another method), and a role the permission does not list is answered 403
// forbidden naming the permission, before anything is read or changed.
//
// The roles:
//   - admin — everything.
//   - builder — everything but the organisation-wide configuration: the tenant's settings, its channels, the team
//     (operators' roles, capacity, skills, teams, tokens of others), erasing or deleting contacts, the audit log.
//     A builder builds what the inbox works with: canned responses, templates, contacts (import, export), and
//     reads every operator's insights.
//   - operator — the inbox only: conversations and what working them needs (contacts as the inbox shows them,
//     templates and canned responses to send, media, the operators to transfer to), and their own profile and
//     availability.
//
// Domain rules stay where the domain decides them: who may take over a conversation another operator holds is the
// tenant setting takeover_roles, checked by the conversation rules; masking phone numbers (mask.go) is a tenant
// setting too. The matrix decides only whether a role may call a route at all.

import (
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// Permission names: what the session answers (GET /v1/session "permissions") and the console shows or hides by.
const (
	PermSession           = "session"         // sign in, read and end one's own session (no credential needed to sign in)
	PermInboxRead         = "inbox.read"      // conversations, messages, counts, search, the live feed
	PermInboxWork         = "inbox.work"      // act on conversations: take, assign, reply, note, snooze, close, start one
	PermMedia             = "media"           // upload and read attachments
	PermOperatorsList     = "operators.list"  // the team as the inbox needs it (names, availability, load)
	PermOperatorsSelf     = "operators.self"  // one's own profile and availability
	PermOperatorsRead     = "operators.read"  // any operator's profile
	PermTeamManage        = "team.manage"     // the team: invite, change (role, capacity, skills, teams), disable and remove operators
	PermContactsRead      = "contacts.read"   // read and search contacts, the contact fields
	PermContactsEdit      = "contacts.edit"   // edit a contact's name and fields, block and unblock (the inbox's panel)
	PermContactsManage    = "contacts.manage" // the People page: create, import and export contacts
	PermContactsErase     = "contacts.erase"  // delete or erase a contact and their conversations
	PermCannedRead        = "canned.read"     // read and render canned responses
	PermCannedManage      = "canned.manage"   // create, change and delete canned responses
	PermTemplatesRead     = "templates.read"  // read the message templates
	PermTemplatesSync     = "templates.sync"  // fetch the templates from Meta now
	PermChannelsRead      = "channels.read"   // the channels one may send on (no secrets, no settings)
	PermChannelsManage    = "channels.manage" // read every channel field, add and change channels
	PermSettingsManage    = "settings.manage" // read and change the tenant's settings
	PermInsightsRead      = "insights.read"   // the insights page, per operator included, and its CSV
	PermAuditRead         = "audit.read"      // the audit log (GET /v1/audit)
	PermTokensOwn         = "tokens.own"      // one's own API tokens: list, create, revoke
	PermTokensManageOther = "tokens.manage"   // every operator's API tokens
	PermLabelsManage      = "labels.manage"   // add, change and remove labels of the catalogue
	PermFieldsManage      = "fields.manage"   // add, change and remove the contact fields
	PermRulesManage       = "rules.manage"    // read and change the routing rules
)

var (
	everyone    = []string{tenant.RoleAdmin, tenant.RoleBuilder, tenant.RoleOperator}
	adminOnly   = []string{tenant.RoleAdmin}
	adminBuild  = []string{tenant.RoleAdmin, tenant.RoleBuilder}
	permissions = map[string][]string{
		PermSession: everyone, PermInboxRead: everyone, PermInboxWork: everyone, PermMedia: everyone,
		PermOperatorsList: everyone, PermOperatorsSelf: everyone, PermOperatorsRead: adminBuild,
		PermTeamManage: adminOnly, PermContactsRead: everyone, PermContactsEdit: everyone,
		PermContactsManage: adminBuild, PermContactsErase: adminOnly, PermCannedRead: everyone,
		PermCannedManage: adminBuild, PermTemplatesRead: everyone, PermTemplatesSync: adminBuild,
		PermChannelsRead: everyone, PermChannelsManage: adminOnly, PermSettingsManage: adminOnly,
		PermInsightsRead: adminBuild, PermAuditRead: adminOnly, PermTokensOwn: everyone,
		PermTokensManageOther: adminOnly, PermLabelsManage: adminBuild, PermFieldsManage: adminBuild,
		PermRulesManage: adminBuild,
	}
)

// Route is one row of the matrix: a method and a path pattern under /v1/ ("{id}", "{tid}" match any one segment;
// a literal segment wins over them), the permission it needs and what it is.
type Route struct {
	Method  string
	Pattern string
	// Permission names the roles that may call the route (Roles).
	Permission string
	// Own: the route acts on the caller's own resource ("me" or their own id); Self is the permission that covers
	// it when the caller lacks Permission (GET /v1/operators/{id} for an operator reading themselves).
	Own  bool
	Self string
	// Public routes are served before authentication (signing in, invites).
	Public bool
	// Scope is the API token scope the route needs (tenant.Scopes): a token acts within its scopes and its
	// operator's permissions both. "" is the admin scope only. Sessions and an operator's configured token have
	// every scope.
	Scope string
	Doc   string
}

// Roles are the roles Permission allows.
func (r Route) Roles() []string { return permissions[r.Permission] }

// Routes is every route the API serves: the matrix. Its order is the README table's.
var Routes = []Route{
	{Method: "POST", Pattern: "/v1/session", Permission: PermSession, Public: true, Doc: "sign in"},
	{Method: "GET", Pattern: "/v1/session", Permission: PermSession, Public: true, Doc: "the session and its permissions"},
	{Method: "DELETE", Pattern: "/v1/session", Permission: PermSession, Public: true, Doc: "sign out"},
	{Method: "GET", Pattern: "/v1/auth/methods", Permission: PermSession, Public: true, Doc: "the sign-in methods a tenant offers"},
	{Method: "GET", Pattern: "/v1/auth/oidc/start", Permission: PermSession, Public: true, Doc: "single sign-on: to the tenant's IdP"},
	{Method: "GET", Pattern: "/v1/auth/oidc/callback", Permission: PermSession, Public: true, Doc: "single sign-on: back from the IdP, signed in"},

	{Method: "GET", Pattern: "/v1/conversations", Permission: PermInboxRead, Scope: tenant.ScopeConversationsRead, Doc: "list conversations"},
	{Method: "POST", Pattern: "/v1/conversations", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "start a conversation"},
	{Method: "GET", Pattern: "/v1/conversations/{id}", Permission: PermInboxRead, Scope: tenant.ScopeConversationsRead, Doc: "a conversation"},
	{Method: "GET", Pattern: "/v1/conversations/{id}/messages", Permission: PermInboxRead, Scope: tenant.ScopeConversationsRead, Doc: "its messages"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/messages", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "reply"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/notes", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "internal note"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/take", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "take (takeover: tenant setting takeover_roles)"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/attend", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "take from the queue"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/assign", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "assign (domain rules)"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/transfer", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "transfer (domain rules)"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/unassign", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "back to unassigned"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/snooze", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "snooze"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/unsnooze", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "unsnooze"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/close", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "close"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/reopen", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "reopen"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/labels", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "labels"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/read", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "mark read"},
	{Method: "POST", Pattern: "/v1/conversations/{id}/presence", Permission: PermInboxWork, Scope: tenant.ScopeConversationsWrite, Doc: "viewing/typing presence"},
	{Method: "GET", Pattern: "/v1/inbox/counts", Permission: PermInboxRead, Scope: tenant.ScopeConversationsRead, Doc: "tab counts"},
	{Method: "GET", Pattern: "/v1/search", Permission: PermInboxRead, Scope: tenant.ScopeConversationsRead, Doc: "search conversations"},
	{Method: "GET", Pattern: "/v1/events", Permission: PermInboxRead, Scope: tenant.ScopeConversationsRead, Doc: "the live feed (SSE)"},

	{Method: "POST", Pattern: "/v1/media", Permission: PermMedia, Scope: tenant.ScopeConversationsWrite, Doc: "upload an attachment"},
	{Method: "GET", Pattern: "/v1/media/{id}", Permission: PermMedia, Scope: tenant.ScopeConversationsRead, Doc: "an attachment (and HEAD)"},

	{Method: "GET", Pattern: "/v1/operators", Permission: PermOperatorsList, Scope: tenant.ScopeConversationsRead, Doc: "the team, for assigning"},
	{Method: "GET", Pattern: "/v1/operators/me", Permission: PermOperatorsSelf, Own: true, Doc: "one's own profile"},
	{Method: "PUT", Pattern: "/v1/operators/me/availability", Permission: PermOperatorsSelf, Own: true, Scope: tenant.ScopeConversationsWrite, Doc: "one's own availability"},
	{Method: "GET", Pattern: "/v1/operators/{id}", Permission: PermOperatorsRead, Self: PermOperatorsSelf, Doc: "an operator (anyone may read themselves)"},
	{Method: "PATCH", Pattern: "/v1/operators/me", Permission: PermOperatorsSelf, Own: true, Doc: "change one's own name"},
	{Method: "PUT", Pattern: "/v1/operators/me/password", Permission: PermOperatorsSelf, Own: true, Doc: "change one's own password"},
	{Method: "PATCH", Pattern: "/v1/operators/{id}", Permission: PermTeamManage, Self: PermOperatorsSelf, Doc: "change an operator: name, role, capacity, skills, teams, token, disabled, sso (anyone their own name)"},
	{Method: "POST", Pattern: "/v1/operators", Permission: PermTeamManage, Doc: "invite an operator (as POST /v1/team/invites)"},
	{Method: "DELETE", Pattern: "/v1/operators/{id}", Permission: PermTeamManage, Doc: "remove an operator"},
	{Method: "POST", Pattern: "/v1/team/invites", Permission: PermTeamManage, Doc: "invite an operator: a one-time link"},
	{Method: "GET", Pattern: "/v1/team/invites", Permission: PermTeamManage, Doc: "the invites still open"},
	{Method: "GET", Pattern: "/v1/invites/{id}", Permission: PermSession, Public: true, Doc: "an invite (its secret is the credential)"},
	{Method: "POST", Pattern: "/v1/invites/{id}/accept", Permission: PermSession, Public: true, Doc: "accept an invite: set a password, signed in"},

	{Method: "GET", Pattern: "/v1/operators/me/tokens", Permission: PermTokensOwn, Own: true, Doc: "one's own API tokens"},
	{Method: "POST", Pattern: "/v1/operators/me/tokens", Permission: PermTokensOwn, Own: true, Doc: "create an API token (its secret shown once)"},
	{Method: "GET", Pattern: "/v1/operators/{id}/tokens", Permission: PermTokensManageOther, Self: PermTokensOwn, Doc: "an operator's API tokens"},
	{Method: "POST", Pattern: "/v1/operators/{id}/tokens", Permission: PermTokensManageOther, Self: PermTokensOwn, Doc: "create an operator's API token"},
	{Method: "DELETE", Pattern: "/v1/operators/{id}/tokens/{tid}", Permission: PermTokensManageOther, Self: PermTokensOwn, Doc: "revoke an operator's API token"},
	{Method: "DELETE", Pattern: "/v1/tokens/{id}", Permission: PermTokensOwn, Doc: "revoke an API token: one's own (tokens.manage: anyone's)"},

	{Method: "GET", Pattern: "/v1/contacts", Permission: PermContactsRead, Scope: tenant.ScopeContactsRead, Doc: "list and search contacts"},
	{Method: "POST", Pattern: "/v1/contacts", Permission: PermContactsManage, Scope: tenant.ScopeContactsWrite, Doc: "create a contact"},
	{Method: "GET", Pattern: "/v1/contacts/fields", Permission: PermContactsRead, Scope: tenant.ScopeContactsRead, Doc: "the contact fields"},
	{Method: "PUT", Pattern: "/v1/contacts/fields", Permission: PermFieldsManage, Doc: "replace the contact fields (values kept, hidden)"},
	{Method: "POST", Pattern: "/v1/contacts/import", Permission: PermContactsManage, Doc: "import a CSV"},
	{Method: "GET", Pattern: "/v1/contacts/export.csv", Permission: PermContactsManage, Doc: "export a CSV"},
	{Method: "GET", Pattern: "/v1/contacts/{id}", Permission: PermContactsRead, Scope: tenant.ScopeContactsRead, Doc: "a contact"},
	{Method: "PATCH", Pattern: "/v1/contacts/{id}", Permission: PermContactsEdit, Scope: tenant.ScopeContactsWrite, Doc: "edit a contact"},
	{Method: "DELETE", Pattern: "/v1/contacts/{id}", Permission: PermContactsErase, Doc: "delete a contact"},
	{Method: "POST", Pattern: "/v1/contacts/{id}/block", Permission: PermContactsEdit, Scope: tenant.ScopeContactsWrite, Doc: "block"},
	{Method: "POST", Pattern: "/v1/contacts/{id}/unblock", Permission: PermContactsEdit, Scope: tenant.ScopeContactsWrite, Doc: "unblock"},
	{Method: "POST", Pattern: "/v1/contacts/{id}/erase", Permission: PermContactsErase, Doc: "erase a contact and their conversations"},

	{Method: "GET", Pattern: "/v1/canned-responses", Permission: PermCannedRead, Scope: tenant.ScopeConversationsRead, Doc: "list canned responses"},
	{Method: "POST", Pattern: "/v1/canned-responses", Permission: PermCannedManage, Scope: tenant.ScopeConversationsWrite, Doc: "create one"},
	{Method: "GET", Pattern: "/v1/canned-responses/{id}", Permission: PermCannedRead, Scope: tenant.ScopeConversationsRead, Doc: "one"},
	{Method: "PATCH", Pattern: "/v1/canned-responses/{id}", Permission: PermCannedManage, Scope: tenant.ScopeConversationsWrite, Doc: "change one"},
	{Method: "DELETE", Pattern: "/v1/canned-responses/{id}", Permission: PermCannedManage, Scope: tenant.ScopeConversationsWrite, Doc: "delete one"},
	{Method: "POST", Pattern: "/v1/canned-responses/{id}/render", Permission: PermCannedRead, Scope: tenant.ScopeConversationsWrite, Doc: "render for a conversation"},

	{Method: "GET", Pattern: "/v1/templates", Permission: PermTemplatesRead, Scope: tenant.ScopeConversationsRead, Doc: "message templates"},
	{Method: "POST", Pattern: "/v1/templates/sync", Permission: PermTemplatesSync, Doc: "sync templates from Meta"},

	{Method: "GET", Pattern: "/v1/channels", Permission: PermChannelsRead, Scope: tenant.ScopeConversationsRead, Doc: "channels (every field for channels.manage)"},
	{Method: "POST", Pattern: "/v1/channels", Permission: PermChannelsManage, Doc: "add a channel"},
	{Method: "PATCH", Pattern: "/v1/channels/{id}", Permission: PermChannelsManage, Doc: "change a channel"},
	{Method: "DELETE", Pattern: "/v1/channels/{id}", Permission: PermChannelsManage, Doc: "remove a channel (its webhooks refused; its conversations kept, replies refused)"},
	{Method: "GET", Pattern: "/v1/settings", Permission: PermSettingsManage, Doc: "the tenant's settings"},
	{Method: "PATCH", Pattern: "/v1/settings", Permission: PermSettingsManage, Doc: "change them"},

	{Method: "GET", Pattern: "/v1/labels", Permission: PermInboxRead, Scope: tenant.ScopeConversationsRead, Doc: "the labels catalogue"},
	{Method: "POST", Pattern: "/v1/labels", Permission: PermLabelsManage, Doc: "add a label"},
	{Method: "PATCH", Pattern: "/v1/labels/{id}", Permission: PermLabelsManage, Doc: "change a label's colour or description"},
	{Method: "DELETE", Pattern: "/v1/labels/{id}", Permission: PermLabelsManage, Doc: "remove a label (conversations keep it as text)"},
	{Method: "GET", Pattern: "/v1/routing/rules", Permission: PermRulesManage, Doc: "the routing rules"},
	{Method: "PUT", Pattern: "/v1/routing/rules", Permission: PermRulesManage, Doc: "replace the routing rules"},
	{Method: "GET", Pattern: "/v1/audit", Permission: PermAuditRead, Doc: "the audit log (README \"Audit log\")"},
	{Method: "GET", Pattern: "/v1/settings/sso", Permission: PermSettingsManage, Doc: "single sign-on settings (README \"Single sign-on\"); never the client secret"},
	{Method: "PUT", Pattern: "/v1/settings/sso", Permission: PermSettingsManage, Doc: "change them"},

	{Method: "GET", Pattern: "/v1/insights", Permission: PermInsightsRead, Doc: "insights, per operator included"},
	{Method: "GET", Pattern: "/v1/insights.csv", Permission: PermInsightsRead, Doc: "insights as CSV"},
}

// Allowed reports whether role holds permission.
func Allowed(role, permission string) bool { return slices.Contains(permissions[permission], role) }

// PermissionsOf is every permission role holds, sorted: the session's "permissions".
func PermissionsOf(role string) []string {
	out := []string{}
	for p, roles := range permissions {
		if slices.Contains(roles, role) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// may reports whether op holds permission (for what a handler shows, e.g. every field of a channel).
func may(op tenant.OperatorRef, permission string) bool { return Allowed(op.Operator.Role, permission) }

// MatchRoute finds the route of method and path (starting /v1/). pathKnown is whether some route has the path with
// another method (405 rather than 404). HEAD is GET's.
func MatchRoute(method, path string) (r *Route, pathKnown bool) {
	if method == "HEAD" {
		method = "GET"
	}
	segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(path, "/v1/"), "/"), "/")
	best := ""
	bestScore := -1
	for i := range Routes {
		rt := &Routes[i]
		if s := matchScore(rt.Pattern, segs); s > bestScore {
			best, bestScore = rt.Pattern, s
		}
	}
	if bestScore < 0 {
		return nil, false
	}
	for i := range Routes {
		if Routes[i].Pattern == best && Routes[i].Method == method {
			return &Routes[i], true
		}
	}
	return nil, true
}

// matchScore is -1 when pattern does not match segs, else a score where literal segments earlier in the path weigh
// more, so /v1/contacts/fields wins over /v1/contacts/{id}.
func matchScore(pattern string, segs []string) int {
	ps := strings.Split(strings.TrimPrefix(pattern, "/v1/"), "/")
	if len(ps) != len(segs) {
		return -1
	}
	score := 0
	for i, p := range ps {
		score <<= 1
		switch {
		case strings.HasPrefix(p, "{"):
			if segs[i] == "" {
				return -1
			}
		case p == segs[i]:
			score |= 1
		default:
			return -1
		}
	}
	return score
}

// permits reports whether op may call r; id is the {id} segment of an own-resource route.
func permits(op tenant.OperatorRef, r *Route, segs []string) bool {
	if Allowed(op.Operator.Role, r.Permission) {
		return true
	}
	if r.Self == "" || !Allowed(op.Operator.Role, r.Self) {
		return false
	}
	// The {id} of the pattern names the caller.
	ps := strings.Split(strings.TrimPrefix(r.Pattern, "/v1/"), "/")
	for i, p := range ps {
		if p == "{id}" && i < len(segs) && segs[i] != "me" && segs[i] != op.Operator.ID {
			return false
		}
	}
	return true
}

// forbid answers 403 forbidden naming the permission r needs, and reports the refusal (denied).
func (a *API) forbid(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, r *Route) {
	a.denied(ctx, op, r)
	fail(ctx, tenant.CodeForbidden, "your role ("+op.Operator.Role+") does not have the permission "+r.Permission+
		" that "+r.Method+" "+r.Pattern+" needs")
}

// denied is called for every refused call, before the 403 is written and with nothing read or changed: it logs,
// without the request's body or query, and records a refused change in the audit log (audit.go, recordDenied).
func (a *API) denied(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, r *Route) {
	a.log.Info("permission denied", "tenant", op.Tenant.ID, "operator", op.Operator.ID, "role", op.Operator.Role,
		"permission", r.Permission, "route", r.Method+" "+r.Pattern)
	a.recordDenied(ctx, op, r.Method+" "+r.Pattern)
}
