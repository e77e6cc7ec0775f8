package api

// The team (README "## Team"): invitations (one-time links that set a password), password sign-in and change,
// disabling and removing operators, and API tokens with scopes. Every change is a config_set the tenant actor
// applies (tenant.ApplyChange); secrets are shown once and only their SHA-256 leaves this file.

import (
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// Codes of the team endpoints.
const (
	codeWeakPassword      = "weak_password"
	codeInsufficientScope = "insufficient_scope"
)

// InviteTTL is how long an invite link lasts unless the request says otherwise.
const InviteTTL = 72 * time.Hour

// lastUseEvery is how often this node records a token's use: at most once a minute per token.
const lastUseEvery = time.Minute

// tokenUse remembers when this node last saw each API token used (by token id). It is per node and in memory:
// last_used_at is approximate (to the minute, this node's view) and restarts empty.
type tokenUse struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (u *tokenUse) touch(id string, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]time.Time{}
	}
	if prev, ok := u.m[id]; !ok || now.Sub(prev) >= lastUseEvery {
		u.m[id] = now.UTC().Truncate(time.Second)
	}
}

func (u *tokenUse) get(id string) (time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.m[id]
	return t, ok
}

// RequiredScope is the API token scope a request needs: the Scope of its route in the matrix (permissions.go);
// "" — only the admin scope — for a route of none. path starts /v1/.
func RequiredScope(method, path string) string {
	if rt, _ := MatchRoute(method, path); rt != nil {
		return rt.Scope
	}
	return ""
}

// checkScope answers 403 insufficient_scope and returns false when the caller's API token lacks the scope rt
// needs.
func (a *API) checkScope(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, rt *Route) bool {
	if op.Token == nil {
		return true
	}
	a.tokenUse.touch(op.Token.ID, a.cfg.Now())
	need := rt.Scope
	if tenant.ScopeAllows(op.Scopes(), need) {
		return true
	}
	if need == "" {
		need = tenant.ScopeAdmin
	}
	fail(ctx, codeInsufficientScope, "this API token lacks the scope "+need)
	return false
}

// mayChange answers 403 and returns false unless the caller may make ch (tenant.MayChange: the matrix let the
// request through, e.g. an operator's PATCH of themselves, but the body asks for more than their own name). The
// refusal is reported like the matrix's (denied: logged, and recorded in the audit log).
func (a *API) mayChange(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, ch tenant.Change) bool {
	if tenant.MayChange(op.Tenant, op.Operator, ch) {
		return true
	}
	if rt, _ := MatchRoute(string(ctx.Method()), string(ctx.Path())); rt != nil {
		a.denied(ctx, op, rt)
	}
	fail(ctx, tenant.CodeForbidden, "only an admin can do this")
	return false
}

// servePublicTeam answers the invite endpoints, which need no credential (the invite's secret is one); false when
// the path is another.
func (a *API) servePublicTeam(ctx *fasthttp.RequestCtx) bool {
	rest, ok := strings.CutPrefix(string(ctx.Path()), "/v1/invites/")
	if !ok {
		return false
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case len(parts) == 1 && ctx.IsGet():
		a.showInvite(ctx, parts[0])
	case len(parts) == 2 && parts[1] == "accept" && ctx.IsPost():
		a.acceptInvite(ctx, parts[0])
	default:
		fail(ctx, codeNotFound, "no such endpoint: "+string(ctx.Method())+" "+string(ctx.Path()))
	}
	return true
}

// invite looks an invite up by its secret; a wrong, expired or used one is the same 404, and charges the caller's
// address like a failed sign-in.
func (a *API) invite(ctx *fasthttp.RequestCtx, secret string) (tenant.InviteRef, bool) {
	addrKey := "addr:" + ctx.RemoteIP().String()
	if wait := a.edge.limits.retryAfter(addrKey); wait > 0 {
		a.limited(ctx, wait)
		return tenant.InviteRef{}, false
	}
	r, ok := a.cfg.Directory.InviteBySecret(secret, a.cfg.Now())
	if !ok {
		a.edge.limits.fail(addrKey)
		fail(ctx, tenant.CodeInviteNotFound, "this invite link is wrong, expired or already used")
		return tenant.InviteRef{}, false
	}
	return r, true
}

type inviteView struct {
	TenantID       string    `json:"tenant_id"`
	Operator       string    `json:"operator"`
	Name           string    `json:"name"`
	Role           string    `json:"role"`
	ExpiresAt      time.Time `json:"expires_at"`
	PasswordPolicy string    `json:"password_policy"`
}

func (a *API) showInvite(ctx *fasthttp.RequestCtx, secret string) {
	r, ok := a.invite(ctx, secret)
	if !ok {
		return
	}
	n := r.Invite
	a.writeJSON(ctx, fasthttp.StatusOK, inviteView{TenantID: r.Tenant.ID, Operator: n.Operator, Name: n.Name,
		Role: n.Role, ExpiresAt: n.ExpiresAt, PasswordPolicy: PasswordPolicy})
}

func (a *API) acceptInvite(ctx *fasthttp.RequestCtx, secret string) {
	r, ok := a.invite(ctx, secret)
	if !ok {
		return
	}
	var body struct {
		Password string `json:"password"`
	}
	// JSON only, as sign-in: a cross-site form cannot sign a browser into an account someone else set up.
	if ct := string(ctx.Request.Header.ContentType()); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		fail(ctx, codeInvalidJSON, "the body must be JSON (Content-Type: application/json): {\"password\":\"…\"}")
		return
	}
	if !decode(ctx, &body, false) {
		return
	}
	if why := CheckPassword(body.Password, r.Invite.Operator); why != "" {
		fail(ctx, codeWeakPassword, "the password is too weak: "+why+"; the policy: "+PasswordPolicy)
		return
	}
	hash := HashPassword(body.Password)
	// Nobody is signed in: the command names the operator it creates, whom the configuration does not have yet, and
	// the rule accepts only an invite's acceptance from someone it does not know (tenant.MayChange).
	anon := tenant.OperatorRef{Tenant: r.Tenant, Operator: &tenant.Operator{ID: r.Invite.Operator}}
	ch := tenant.Change{Invite: &tenant.InviteChange{ID: r.Invite.ID, Accept: true, PasswordHash: hash}}
	a.configure(ctx, anon, ch, fasthttp.StatusCreated, func(rec *tenant.Record) any {
		o := r.Invite
		v, ok := a.startSession(ctx, tenant.OperatorRef{Tenant: r.Tenant, Operator: &tenant.Operator{ID: o.Operator,
			Name: o.Name, Role: o.Role}}, passwordCredential(hash))
		if !ok {
			return struct{}{} // the operator exists: the caller signs in with the password
		}
		return v
	})
}

// passwordCredential is what a session signed in with a password keeps: a hash of the operator's password hash, so
// a new password ends the sessions of the old one.
func passwordCredential(hash string) [32]byte { return tenant.HashToken("password:" + hash) }

// startSession stores a new session of op and sets its cookie; false (logged) when it could not be stored.
func (a *API) startSession(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, cred [32]byte) (sessionView, bool) {
	cookie, csrf := randomToken(), randomToken()
	s := Session{Tenant: op.Tenant.ID, Operator: op.Operator.ID, CSRF: csrf,
		ExpiresAt: a.cfg.Now().Add(a.cfg.SessionTTL).UTC().Truncate(time.Second), Credential: cred}
	if err := a.cfg.Sessions.Put(KeyOf(cookie), s); err != nil {
		a.log.Error("store session", "tenant", op.Tenant.ID, "operator", op.Operator.ID, "err", err)
		return sessionView{}, false
	}
	a.setCookie(ctx, cookie, int(a.cfg.SessionTTL/time.Second))
	return viewSession(op, s), true
}

// signInPassword is POST /v1/session with {"operator","password"[,"tenant"]}: the tenant may be left out when only
// one tenant has an operator of that id. A failure charges the address and the operator named (limiter), and is
// counted (switchboard_signin_attempts_total{result="failed"}).
func (a *API) signInPassword(ctx *fasthttp.RequestCtx, tenantID, id, password string) {
	addrKey := "addr:" + ctx.RemoteIP().String()
	var found []tenant.OperatorRef
	for _, t := range a.cfg.Directory.Tenants() {
		if tenantID != "" && t.ID != tenantID {
			continue
		}
		if op, ok := a.operator(t.ID, id); ok {
			found = append(found, op)
		}
	}
	opKey := "op:" + tenantID + "/" + id
	if len(found) == 1 {
		opKey = "op:" + found[0].Tenant.ID + "/" + id
	}
	if wait := a.edge.limits.retryAfter(opKey); wait > 0 {
		a.limited(ctx, wait)
		return
	}
	hash := ""
	if len(found) == 1 {
		hash = found[0].Operator.PasswordHash
	}
	if hash == "" {
		hash = dummyHash()
	}
	if !VerifyPassword(password, hash) || len(found) != 1 || found[0].Operator.PasswordHash == "" {
		a.edge.limits.fail(addrKey)
		a.edge.limits.fail(opKey)
		a.edge.attempts.WithLabelValues("failed").Inc()
		fail(ctx, codeInvalidCredentials, "the credential is not valid")
		return
	}
	v, ok := a.startSession(ctx, found[0], passwordCredential(found[0].Operator.PasswordHash))
	if !ok {
		fail(ctx, codeStoreUnavailable, "the session could not be stored; retry later")
		return
	}
	a.edge.attempts.WithLabelValues("ok").Inc()
	a.writeJSON(ctx, fasthttp.StatusOK, v)
}

// dummyHash is verified against when no operator matches, so a wrong id takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() string { return HashPassword(randomToken()) })

// serveTeam answers the authenticated team endpoints; false when the request is another's.
func (a *API) serveTeam(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, parts []string) bool {
	m := string(ctx.Method())
	switch {
	case len(parts) == 2 && parts[0] == "team" && parts[1] == "invites" && m == fasthttp.MethodPost:
		a.createInvite(ctx, op)
	case len(parts) == 2 && parts[0] == "team" && parts[1] == "invites" && m == fasthttp.MethodGet:
		a.listInvites(ctx, op)
	case len(parts) == 3 && parts[0] == "operators" && parts[1] == "me" && parts[2] == "password" && m == fasthttp.MethodPut:
		a.changePassword(ctx, op)
	case len(parts) == 2 && parts[0] == "operators" && m == fasthttp.MethodDelete:
		a.removeOperator(ctx, op, parts[1])
	case len(parts) == 3 && parts[0] == "operators" && parts[2] == "tokens" && m == fasthttp.MethodPost:
		a.createToken(ctx, op, parts[1])
	case len(parts) == 3 && parts[0] == "operators" && parts[2] == "tokens" && m == fasthttp.MethodGet:
		a.listTokens(ctx, op, parts[1])
	case len(parts) == 2 && parts[0] == "tokens" && m == fasthttp.MethodDelete:
		a.revokeToken(ctx, op, "", parts[1])
	// The contract's spellings (docs/contract.md, "Team"): creating an operator is inviting one; a token is also
	// revoked under its operator.
	case len(parts) == 1 && parts[0] == "operators" && m == fasthttp.MethodPost:
		a.createInvite(ctx, op)
	case len(parts) == 4 && parts[0] == "operators" && parts[2] == "tokens" && m == fasthttp.MethodDelete:
		a.revokeToken(ctx, op, parts[1], parts[3])
	default:
		return false
	}
	return true
}

// inviteURL is the console's address of an invite: the address this request came to.
func inviteURL(ctx *fasthttp.RequestCtx, secret string) string {
	return publicBase(ctx) + "/invite/" + secret
}

type invitePendingView struct {
	Operator  string    `json:"operator"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Capacity  int       `json:"capacity"`
	ExpiresAt time.Time `json:"expires_at"`
	By        string    `json:"by,omitempty"`
}

func (a *API) createInvite(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var body struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Capacity int    `json:"capacity"`
		// ExpiresIn is a Go duration ("24h"); default 72h, at most 30 days.
		ExpiresIn string `json:"expires_in"`
	}
	if !decode(ctx, &body, false) {
		return
	}
	ttl := InviteTTL
	if body.ExpiresIn != "" {
		d, err := time.ParseDuration(body.ExpiresIn)
		if err != nil || d < time.Minute || d > 30*24*time.Hour {
			fail(ctx, tenant.CodeInvalidSetting, "expires_in: a Go duration between 1m and 720h")
			return
		}
		ttl = d
	}
	secret := randomToken()
	h := tenant.HashToken(secret)
	exp := a.cfg.Now().Add(ttl).UTC().Truncate(time.Second)
	ch := tenant.Change{Invite: &tenant.InviteChange{ID: hex.EncodeToString(h[:]), Create: true, Operator: body.ID,
		Name: body.Name, Role: body.Role, Capacity: body.Capacity, ExpiresAt: exp, By: op.Operator.ID}}
	if !a.mayChange(ctx, op, ch) {
		return
	}
	a.configure(ctx, op, ch, fasthttp.StatusCreated, func(r *tenant.Record) any {
		n := r.Invite
		return struct {
			InviteURL string `json:"invite_url"`
			invitePendingView
		}{inviteURL(ctx, secret), invitePendingView{Operator: n.Operator, Name: n.Name, Role: n.Role,
			Capacity: n.Capacity, ExpiresAt: n.ExpiresAt, By: n.By}}
	})
}

// listInvites answers GET /v1/team/invites: the invites that can still be accepted (never their links).
func (a *API) listInvites(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	now := a.cfg.Now()
	out := []invitePendingView{}
	for _, n := range op.Tenant.Invites {
		if n.Valid(now) {
			out = append(out, invitePendingView{Operator: n.Operator, Name: n.Name, Role: n.Role,
				Capacity: n.Capacity, ExpiresAt: n.ExpiresAt, By: n.By})
		}
	}
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Invites []invitePendingView `json:"invites"`
	}{out})
}

func (a *API) changePassword(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var body struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if !decode(ctx, &body, false) {
		return
	}
	opKey := "op:" + op.Tenant.ID + "/" + op.Operator.ID
	if wait := a.edge.limits.retryAfter(opKey); wait > 0 {
		a.limited(ctx, wait)
		return
	}
	// An operator without a password yet (one configured with a token) sets one without a current password.
	if op.Operator.PasswordHash != "" && !VerifyPassword(body.Current, op.Operator.PasswordHash) {
		a.edge.limits.fail(opKey)
		a.edge.attempts.WithLabelValues("failed").Inc()
		fail(ctx, codeInvalidCredentials, "current: the current password is wrong")
		return
	}
	if why := CheckPassword(body.New, op.Operator.ID); why != "" {
		fail(ctx, codeWeakPassword, "new: the password is too weak: "+why+"; the policy: "+PasswordPolicy)
		return
	}
	hash := HashPassword(body.New)
	ch := tenant.Change{Operator: &tenant.OperatorChange{ID: op.Operator.ID, PasswordHash: &hash}}
	if !a.mayChange(ctx, op, ch) {
		return
	}
	bySession := len(ctx.Request.Header.Peek("Authorization")) == 0
	a.configure(ctx, op, ch, fasthttp.StatusOK, func(r *tenant.Record) any {
		// The new password ends the sessions signed in with the old one; this browser gets a new session.
		if bySession {
			if v, ok := a.startSession(ctx, tenant.OperatorRef{Tenant: op.Tenant, Operator: r.Operator}, passwordCredential(hash)); ok {
				return v
			}
		}
		return struct {
			Changed bool `json:"changed"`
		}{true}
	})
}

func (a *API) removeOperator(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if _, ok := findOperator(op.Tenant, id); !ok {
		fail(ctx, tenant.CodeOperatorNotFound, "no operator "+id)
		return
	}
	ch := tenant.Change{Operator: &tenant.OperatorChange{ID: id, Delete: true}}
	if !a.mayChange(ctx, op, ch) {
		return
	}
	a.configure(ctx, op, ch, fasthttp.StatusOK, func(r *tenant.Record) any {
		return struct {
			Removed string `json:"removed"`
		}{id}
	})
}

// tokenView is an API token as listed: never its secret.
type tokenView struct {
	ID         string     `json:"id"`
	Operator   string     `json:"operator"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func (a *API) viewToken(k *tenant.APIToken) tokenView {
	v := tokenView{ID: k.ID, Operator: k.Operator, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt,
		RevokedAt: k.RevokedAt}
	if t, ok := a.tokenUse.get(k.ID); ok {
		v.LastUsedAt = &t
	}
	return v
}

// tokenOwner resolves "me" and answers 404 when id is no operator of the tenant. Whether the caller may manage
// id's tokens (its own: tokens.own; anyone's: tokens.manage) the matrix decided.
func tokenOwner(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) (string, bool) {
	if id == "me" || id == op.Operator.ID {
		return op.Operator.ID, true
	}
	if _, ok := findOperator(op.Tenant, id); !ok {
		fail(ctx, tenant.CodeOperatorNotFound, "no operator "+id)
		return "", false
	}
	return id, true
}

func (a *API) createToken(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, who string) {
	owner, ok := tokenOwner(ctx, op, who)
	if !ok {
		return
	}
	var body struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if !decode(ctx, &body, false) {
		return
	}
	secret := "sbt_" + randomToken()
	h := tenant.HashToken(secret)
	ch := tenant.Change{Token: &tenant.TokenChange{ID: "tok-" + newID()[:16], Create: true, Operator: owner,
		Name: body.Name, Scopes: body.Scopes, Hash: hex.EncodeToString(h[:])}}
	if !a.mayChange(ctx, op, ch) {
		return
	}
	a.configure(ctx, op, ch, fasthttp.StatusCreated, func(r *tenant.Record) any {
		return struct {
			tokenView
			// Token is the secret, shown this once.
			Token string `json:"token"`
		}{a.viewToken(r.Token), secret}
	})
}

func (a *API) listTokens(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, who string) {
	owner, ok := tokenOwner(ctx, op, who)
	if !ok {
		return
	}
	out := []tokenView{}
	for i := range op.Tenant.Tokens {
		if k := &op.Tenant.Tokens[i]; k.Operator == owner {
			out = append(out, a.viewToken(k))
		}
	}
	slices.SortStableFunc(out, func(x, y tokenView) int { return y.CreatedAt.Compare(x.CreatedAt) })
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Tokens []tokenView `json:"tokens"`
	}{out})
}

// revokeToken answers DELETE /v1/tokens/{id} (owner "") and DELETE /v1/operators/{owner}/tokens/{id}.
func (a *API) revokeToken(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, owner, id string) {
	if owner == "me" {
		owner = op.Operator.ID
	}
	i := slices.IndexFunc(op.Tenant.Tokens, func(k tenant.APIToken) bool { return k.ID == id && (owner == "" || k.Operator == owner) })
	// Someone else's token is not found, unless the caller manages everyone's: nobody learns which ids exist.
	if i < 0 || op.Tenant.Tokens[i].Operator != op.Operator.ID && !may(op, PermTokensManageOther) {
		fail(ctx, tenant.CodeTokenNotFound, "no token "+quoteID(id))
		return
	}
	ch := tenant.Change{Token: &tenant.TokenChange{ID: id, Revoke: true}}
	if !a.mayChange(ctx, op, ch) {
		return
	}
	a.configure(ctx, op, ch, fasthttp.StatusOK, func(r *tenant.Record) any { return a.viewToken(r.Token) })
}
