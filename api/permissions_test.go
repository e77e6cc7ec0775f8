package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
)

// Ids of the permissions table: each exists in one tenant only.
const (
	permConvAcme   = "c0000000000000a01"
	permConvGlobex = "c0000000000000b01"
	permMediaNone  = "m0000000000000000000000000000000"
)

var (
	permContactAcme   = conversation.ContactID("15550001111")
	permContactGlobex = conversation.ContactID("15550009999")
)

// permRequest is a concrete request for a route: the path with the own tenant's ids, the path with another
// tenant's ids ("" when the route names nothing), and a body.
type permRequest struct {
	own, other, body string
}

// permRequests has one request per route of api.Routes; TestPermissionsCoverEveryRoute fails when a route lacks one.
func permRequests() map[string]permRequest {
	c, g := "/v1/conversations/"+permConvAcme, "/v1/conversations/"+permConvGlobex
	k, kg := "/v1/contacts/"+permContactAcme, "/v1/contacts/"+permContactGlobex
	cr, crg := "/v1/canned-responses/"+cannedA, "/v1/canned-responses/"+cannedG
	m := map[string]permRequest{
		"POST /v1/session":   {own: "/v1/session", body: `{}`},
		"GET /v1/session":    {own: "/v1/session"},
		"DELETE /v1/session": {own: "/v1/session"},

		"GET /v1/conversations":                  {own: "/v1/conversations"},
		"POST /v1/conversations":                 {own: "/v1/conversations", body: `{}`},
		"GET /v1/conversations/{id}":             {own: c, other: g},
		"GET /v1/conversations/{id}/messages":    {own: c + "/messages", other: g + "/messages"},
		"POST /v1/conversations/{id}/messages":   {own: c + "/messages", other: g + "/messages", body: `{"text":"hi"}`},
		"POST /v1/conversations/{id}/notes":      {own: c + "/notes", other: g + "/notes", body: `{"text":"hi"}`},
		"POST /v1/conversations/{id}/read":       {own: c + "/read", other: g + "/read", body: `{}`},
		"POST /v1/conversations/{id}/presence":   {own: c + "/presence", other: g + "/presence", body: `{"state":"viewing"}`},
		"GET /v1/inbox/counts":                   {own: "/v1/inbox/counts"},
		"GET /v1/search":                         {own: "/v1/search?q=x"},
		"GET /v1/events":                         {own: "/v1/events"},
		"POST /v1/media":                         {own: "/v1/media", body: `{}`},
		"GET /v1/media/{id}":                     {own: "/v1/media/" + permMediaNone},
		"GET /v1/operators":                      {own: "/v1/operators"},
		"GET /v1/operators/me":                   {own: "/v1/operators/me"},
		"PUT /v1/operators/me/availability":      {own: "/v1/operators/me/availability", body: `{"availability":"bogus"}`},
		"GET /v1/operators/{id}":                 {own: "/v1/operators/bob", other: "/v1/operators/dave"},
		"PATCH /v1/operators/{id}":               {own: "/v1/operators/bob", other: "/v1/operators/dave", body: `{"capacity":7}`},
		"GET /v1/contacts":                       {own: "/v1/contacts"},
		"POST /v1/contacts":                      {own: "/v1/contacts", body: `{"phone":"+15550002222"}`},
		"GET /v1/contacts/fields":                {own: "/v1/contacts/fields"},
		"POST /v1/contacts/import":               {own: "/v1/contacts/import", body: "phone\n+15550003333\n"},
		"GET /v1/contacts/export.csv":            {own: "/v1/contacts/export.csv"},
		"GET /v1/contacts/{id}":                  {own: k, other: kg},
		"PATCH /v1/contacts/{id}":                {own: k, other: kg, body: `{"name":"Changed"}`},
		"DELETE /v1/contacts/{id}":               {own: k, other: kg},
		"POST /v1/contacts/{id}/block":           {own: k + "/block", other: kg + "/block"},
		"POST /v1/contacts/{id}/unblock":         {own: k + "/unblock", other: kg + "/unblock"},
		"POST /v1/contacts/{id}/erase":           {own: k + "/erase", other: kg + "/erase"},
		"GET /v1/canned-responses":               {own: "/v1/canned-responses"},
		"POST /v1/canned-responses":              {own: "/v1/canned-responses", body: `{"title":"T","text":"x"}`},
		"GET /v1/canned-responses/{id}":          {own: cr, other: crg},
		"PATCH /v1/canned-responses/{id}":        {own: cr, other: crg, body: `{"title":"Changed"}`},
		"DELETE /v1/canned-responses/{id}":       {own: cr, other: crg},
		"POST /v1/canned-responses/{id}/render":  {own: cr + "/render", other: crg + "/render", body: `{"conversation_id":"` + permConvAcme + `"}`},
		"GET /v1/templates":                      {own: "/v1/templates"},
		"POST /v1/templates/sync":                {own: "/v1/templates/sync"},
		"GET /v1/channels":                       {own: "/v1/channels"},
		"POST /v1/channels":                      {own: "/v1/channels", body: `{"id":"new"}`},
		"PATCH /v1/channels/{id}":                {own: "/v1/channels/acme-wa", other: "/v1/channels/globex-wa", body: `{"rate_limit":5}`},
		"DELETE /v1/channels/{id}":               {own: "/v1/channels/acme-wa", other: "/v1/channels/globex-wa"},
		"GET /v1/settings":                       {own: "/v1/settings"},
		"GET /v1/audit":                          {own: "/v1/audit"},
		"PATCH /v1/settings":                     {own: "/v1/settings", body: `{"reopen_to":"queue"}`},
		"GET /v1/insights":                       {own: "/v1/insights?since=1h"},
		"GET /v1/insights.csv":                   {own: "/v1/insights.csv"},
		"PATCH /v1/operators/me":                 {own: "/v1/operators/me", body: `{"name":"Me"}`},
		"PUT /v1/operators/me/password":          {own: "/v1/operators/me/password", body: `{"current":"x","new":"short"}`},
		"POST /v1/operators":                     {own: "/v1/operators", body: `{"id":"erin","name":"Erin","role":"operator"}`},
		"DELETE /v1/operators/{id}":              {own: "/v1/operators/carol", other: "/v1/operators/dave"},
		"POST /v1/team/invites":                  {own: "/v1/team/invites", body: `{"id":"erin","name":"Erin","role":"operator"}`},
		"GET /v1/team/invites":                   {own: "/v1/team/invites"},
		"GET /v1/invites/{id}":                   {own: "/v1/invites/nosuchinvitesecret"},
		"POST /v1/invites/{id}/accept":           {own: "/v1/invites/nosuchinvitesecret/accept", body: `{"password":"a long enough passphrase"}`},
		"GET /v1/operators/me/tokens":            {own: "/v1/operators/me/tokens"},
		"POST /v1/operators/me/tokens":           {own: "/v1/operators/me/tokens", body: `{"name":"t","scopes":["conversations:read"]}`},
		"GET /v1/operators/{id}/tokens":          {own: "/v1/operators/bob/tokens", other: "/v1/operators/dave/tokens"},
		"POST /v1/operators/{id}/tokens":         {own: "/v1/operators/bob/tokens", other: "/v1/operators/dave/tokens", body: `{"name":"t","scopes":["conversations:read"]}`},
		"DELETE /v1/operators/{id}/tokens/{tid}": {own: "/v1/operators/bob/tokens/tok-none", other: "/v1/operators/dave/tokens/tok-none"},
		"DELETE /v1/tokens/{id}":                 {own: "/v1/tokens/tok-none"},
		"GET /v1/auth/methods":                   {own: "/v1/auth/methods?tenant=acme"},
		"GET /v1/auth/oidc/start":                {own: "/v1/auth/oidc/start?tenant=acme"},
		"GET /v1/auth/oidc/callback":             {own: "/v1/auth/oidc/callback?code=x&state=y"},
		"GET /v1/settings/sso":                   {own: "/v1/settings/sso"},
		"PUT /v1/settings/sso":                   {own: "/v1/settings/sso", body: `{"capacity":0}`},
		"PUT /v1/contacts/fields":                {own: "/v1/contacts/fields", body: `{"fields":[{"key":"city","type":"text"}]}`},
		"GET /v1/labels":                         {own: "/v1/labels"},
		"POST /v1/labels":                        {own: "/v1/labels", body: `{"name":"new-label"}`},
		"PATCH /v1/labels/{id}":                  {own: "/v1/labels/vip", other: "/v1/labels/globex-only", body: `{"color":"#00ff00"}`},
		"DELETE /v1/labels/{id}":                 {own: "/v1/labels/vip", other: "/v1/labels/globex-only"},
		"GET /v1/routing/rules":                  {own: "/v1/routing/rules"},
		"PUT /v1/routing/rules":                  {own: "/v1/routing/rules", body: `{"rules":[]}`},
	}
	for _, a := range []string{"take", "attend", "assign", "transfer", "unassign", "snooze", "unsnooze", "close", "reopen", "labels"} {
		m["POST /v1/conversations/{id}/"+a] = permRequest{own: c + "/" + a, other: g + "/" + a, body: `{}`}
	}
	return m
}

var permTokens = map[string]string{tenant.RoleOperator: aliceToken, tenant.RoleBuilder: carolToken, tenant.RoleAdmin: bobToken}

// permOperators are the operators of permTokens, by role.
var permOperators = map[string]string{tenant.RoleOperator: "alice", tenant.RoleBuilder: "carol", tenant.RoleAdmin: "bob"}

// TestPermissionsTable walks every route of the matrix as every role: a role the route allows is never answered 403
// (the body decides the rest); any other role is answered 403 forbidden naming the permission, and nothing is
// produced nor configured. Another tenant's ids answer 404 to every role the route allows, and never its data.
func TestPermissionsTable(t *testing.T) {
	e := start(t, options{tenants: "testdata/contacts_tenants.yaml", commandTimeout: 100 * time.Millisecond,
		insights: func(_ context.Context, _ string, _ time.Duration, _ bool) (any, error) { return map[string]any{}, nil }})
	e.putConvs(t, conv("acme", permConvAcme, conversation.Assigned, "bob"), conv("globex", permConvGlobex, conversation.Assigned, "dave"))
	e.putContacts(t, "acme", person("15550001111", "Acme Person", nil))
	e.putContacts(t, "globex", person("15550009999", "Globex Secret Person", nil))
	e.putCanned(t, "acme", canned.Response{ID: cannedA, Title: "Acme canned", Text: "x", UpdatedAt: at})
	e.putCanned(t, "globex", canned.Response{ID: cannedG, Title: "Globex Secret canned", Text: "x", UpdatedAt: at})
	reqs := permRequests()
	acme, _ := e.dir.Tenant("acme")
	version := acme.Version
	for _, rt := range api.Routes {
		key := rt.Method + " " + rt.Pattern
		rq, ok := reqs[key]
		if !ok {
			t.Errorf("%s: no request in the table", key)
			continue
		}
		for _, role := range []string{tenant.RoleAdmin, tenant.RoleBuilder, tenant.RoleOperator} {
			token := permTokens[role]
			if rt.Public {
				token = ""
			}
			allowed := slices.Contains(rt.Roles(), role)
			n, d := len(e.prod.changes()), len(e.prod.denials())
			r := e.do(t, rt.Method, rq.own, token, rq.body)
			switch {
			case allowed && r.status == http.StatusForbidden:
				t.Errorf("%s as %s (allowed): %s", key, role, r)
			case !allowed:
				wantError(t, key+" as "+role, r, http.StatusForbidden, "forbidden")
				if !strings.Contains(string(r.body), rt.Permission) {
					t.Errorf("%s as %s: the refusal %s does not name %s", key, role, r.body, rt.Permission)
				}
				if got := len(e.prod.changes()); got != n {
					t.Errorf("%s as %s: refused, yet %d records produced", key, role, got-n)
				}
				// A refused change is audited (one audit command naming the route); a refused read is not.
				wantDenials := 1
				if rt.Method == http.MethodGet {
					wantDenials = 0
				}
				if got := e.prod.denials(); len(got)-d != wantDenials || (wantDenials == 1 && got[len(got)-1] != permOperators[role]+" "+key) {
					t.Errorf("%s as %s: audit commands %v after %d, want %d more for %s", key, role, got, d, wantDenials, key)
				}
				if a, _ := e.dir.Tenant("acme"); a.Version != version {
					t.Errorf("%s as %s: refused, yet the configuration changed", key, role)
				}
			}
			if a, _ := e.dir.Tenant("acme"); a.Version != version {
				version = a.Version
			}
			if rq.other == "" || rt.Public {
				continue
			}
			n = len(e.prod.records())
			r = e.do(t, rt.Method, rq.other, token, rq.body)
			if strings.Contains(string(r.body), "Globex Secret") || strings.Contains(string(r.body), "15550009999") {
				t.Errorf("%s %s as %s shows another tenant's data: %s", rt.Method, rq.other, role, r)
			}
			// Reads answer 404 here. A command is not looked up by the API: it goes to the caller's own tenant's
			// partition, whose actor finds no such id (404 there); what matters here is that it never names
			// another tenant, and that it did not succeed.
			recs := e.prod.records()[n:]
			for _, rec := range recs {
				if rec.Tenant != "acme" {
					t.Errorf("%s %s as %s produced a record for tenant %q", rt.Method, rq.other, role, rec.Tenant)
				}
			}
			if allowed && r.status != http.StatusNotFound && (len(recs) == 0 && r.status != http.StatusBadRequest &&
				r.status != http.StatusServiceUnavailable || r.status < 400 || r.status == http.StatusForbidden) {
				t.Errorf("%s %s as %s (another tenant's id) = %s, want 404", rt.Method, rq.other, role, r)
			}
			if !allowed && r.status != http.StatusForbidden {
				t.Errorf("%s %s as %s (another tenant's id, not allowed) = %s, want 403", rt.Method, rq.other, role, r)
			}
		}
	}
}

// An operator may read themselves by id (operators.self), not another operator (operators.read).
func TestPermissionsOwnOperator(t *testing.T) {
	e := start(t, options{})
	var me struct {
		ID string `json:"id"`
	}
	e.getJSON(t, "/v1/operators/alice", aliceToken, &me)
	if me.ID != "alice" {
		t.Errorf("GET /v1/operators/alice as alice = %+v", me)
	}
	e.getJSON(t, "/v1/operators/me", aliceToken, &me)
	if me.ID != "alice" {
		t.Errorf("GET /v1/operators/me as alice = %+v", me)
	}
	wantError(t, "GET /v1/operators/bob as alice", e.do(t, http.MethodGet, "/v1/operators/bob", aliceToken, ""),
		http.StatusForbidden, "forbidden")
	e.getJSON(t, "/v1/operators/bob", carolToken, &me) // a builder reads anyone
	if me.ID != "bob" {
		t.Errorf("GET /v1/operators/bob as carol = %+v", me)
	}
}

// TestPermissionsCoverEveryRoute: every route the API serves is in the matrix. The served routes are found by
// probing, as an admin, every method on every path of the table (and of paths only a handler knows): a path and
// method no row has must answer 404 or 405 (the matrix let it through to no handler); one a row has must not.
func TestPermissionsCoverEveryRoute(t *testing.T) {
	e := start(t, options{tenants: "testdata/contacts_tenants.yaml", commandTimeout: 100 * time.Millisecond})
	reqs := permRequests()
	for key := range reqs {
		method, pattern, _ := strings.Cut(key, " ")
		if rt, _ := api.MatchRoute(method, pattern); rt == nil || rt.Method+" "+rt.Pattern != key {
			t.Errorf("the table's %s is not a route of the matrix", key)
		}
	}
	paths := map[string]bool{}
	for _, rq := range reqs {
		p, _, _ := strings.Cut(rq.own, "?")
		paths[p] = true
	}
	// Paths the handlers once served or could serve without a row.
	for _, p := range []string{"/v1/audit", "/v1/tokens", "/v1/operators/me/tokens", "/v1/invites", "/v1/team",
		"/v1/conversations/" + permConvAcme + "/explode", "/v1/contacts/" + permContactAcme + "/fields",
		"/v1/templates/" + "x", "/v1/channels/acme-wa/secrets", "/v1/settings/general", "/v1/media/x/y"} {
		paths[p] = true
	}
	for p := range paths {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			rt, _ := api.MatchRoute(m, p)
			if rt != nil || strings.HasPrefix(p, "/v1/session") {
				continue
			}
			r := e.do(t, m, p, bobToken, "{}")
			if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s is in no row of the matrix, yet answered %s", m, p, r)
			}
		}
	}
	// And every row names a permission with roles, admins holding every permission.
	for _, rt := range api.Routes {
		if len(rt.Roles()) == 0 {
			t.Errorf("%s %s: permission %q has no roles", rt.Method, rt.Pattern, rt.Permission)
		}
		if !slices.Contains(rt.Roles(), tenant.RoleAdmin) {
			t.Errorf("%s %s: admins lack %q", rt.Method, rt.Pattern, rt.Permission)
		}
	}
}

// An operator trying an admin action: 403 forbidden naming the permission, nothing changed (a following GET as the
// admin shows the settings as they were), and the refusal reported to the denied hook (logged, and an audit command
// for the audit log).
func TestOperatorAdminActionRefused(t *testing.T) {
	log := &logRecords{}
	e := start(t, options{logger: slog.New(log)})
	var before map[string]any
	e.getJSON(t, "/v1/settings", bobToken, &before)
	r := e.do(t, http.MethodPatch, "/v1/settings", aliceToken, `{"reopen_to":"queue"}`)
	wantError(t, "PATCH /v1/settings as an operator", r, http.StatusForbidden, "forbidden")
	if !strings.Contains(string(r.body), api.PermSettingsManage) {
		t.Errorf("the refusal does not name the permission: %s", r.body)
	}
	var after map[string]any
	e.getJSON(t, "/v1/settings", bobToken, &after)
	if before["version"] != after["version"] || before["reopen_to"] != after["reopen_to"] {
		t.Errorf("settings changed: %v → %v", before, after)
	}
	if n := len(e.prod.changes()); n != 0 {
		t.Errorf("%d records produced", n)
	}
	// The audit log's record of the refusal (audit.go): one audit command, the route, never the body.
	if got := e.prod.denials(); !slices.Equal(got, []string{"alice PATCH /v1/settings"}) {
		t.Errorf("audit commands %v, want alice's PATCH /v1/settings", got)
	}
	if !log.has("permission denied") || !log.has("settings.manage") {
		t.Errorf("the refusal is not reported: %q", log.lines)
	}
}

// The session (POST and GET /v1/session) carries the caller's permissions, from the matrix.
func TestSessionPermissions(t *testing.T) {
	e := start(t, options{})
	for role, token := range permTokens {
		s := e.signIn(t, token)
		r := e.send(t, "GET", "/v1/session", map[string]string{"Cookie": s.cookie}, "")
		var body struct {
			Permissions []string `json:"permissions"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || r.status != 200 {
			t.Fatalf("GET /v1/session as %s = %s", role, r)
		}
		if want := api.PermissionsOf(role); !slices.Equal(body.Permissions, want) {
			t.Errorf("%s: permissions %v, want %v", role, body.Permissions, want)
		}
		if !slices.Contains(body.Permissions, api.PermInboxRead) {
			t.Errorf("%s lacks %s: %v", role, api.PermInboxRead, body.Permissions)
		}
		for _, p := range []string{api.PermSettingsManage, api.PermChannelsManage, api.PermTeamManage, api.PermContactsErase} {
			if slices.Contains(body.Permissions, p) != (role == tenant.RoleAdmin) {
				t.Errorf("%s: %s = %v", role, p, slices.Contains(body.Permissions, p))
			}
		}
		for _, p := range []string{api.PermInsightsRead, api.PermCannedManage, api.PermContactsManage} {
			if slices.Contains(body.Permissions, p) != (role != tenant.RoleOperator) {
				t.Errorf("%s: %s = %v", role, p, slices.Contains(body.Permissions, p))
			}
		}
	}
}
