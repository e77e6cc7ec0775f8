package api

// Sign-in: POST/GET/DELETE /v1/session, cookie authentication and CSRF.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api/live"
)

// CookieName is the session cookie.
const CookieName = "sb_session"

// Error codes of sign-in and the live stream.
const (
	codeInvalidCredentials = "invalid_credentials"
	codeTooManyAttempts    = "too_many_attempts"
	codeCSRF               = "csrf_token_invalid"
	codeTooManyStreams     = "too_many_connections"
	codeInvalidPresence    = "invalid_presence"
)

// EdgeConfig is the part of Config for sessions and the live stream. Zero values take the defaults given.
type EdgeConfig struct {
	// Sessions stores browser sessions. Default NewMemorySessions(100000, Now): lost on restart.
	Sessions Sessions
	// SessionTTL is how long a session lasts (the cookie's Max-Age). Default 12 h.
	SessionTTL time.Duration
	// CookieSecure marks the session cookie Secure (the node is reached over TLS). Default false.
	CookieSecure bool
	// SignInFailures is how many failed sign-ins a remote address (or a named operator) may make per
	// SignInWindow before it is answered 429. Default 10.
	SignInFailures int
	// SignInWindow is the window of SignInFailures. Default 5 min.
	SignInWindow time.Duration
	// Live serves GET /v1/events and presence; nil answers them 503.
	Live *live.Hub
	// Counts computes the data of `counts` events (the body of GET /v1/inbox/counts); nil sends none.
	Counts func(tenant, operator string) (any, error)
	// Heartbeat is the interval of the stream's `: ping` comments. Default 20 s.
	Heartbeat time.Duration
	// StreamWriteTimeout bounds one write to a stream's client; a client that reads nothing for this long is
	// disconnected. Default 30 s.
	StreamWriteTimeout time.Duration
	// Registerer receives the sign-in counter; nil leaves it unregistered.
	Registerer prometheus.Registerer
}

func (c *EdgeConfig) setDefaults(now func() time.Time) {
	if c.Sessions == nil {
		c.Sessions = NewMemorySessions(0, now)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.SignInFailures == 0 {
		c.SignInFailures = 10
	}
	if c.SignInWindow == 0 {
		c.SignInWindow = 5 * time.Minute
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 20 * time.Second
	}
	if c.StreamWriteTimeout == 0 {
		c.StreamWriteTimeout = 30 * time.Second
	}
}

// edge is the API's sign-in state.
type edge struct {
	limits   *limiter
	attempts *prometheus.CounterVec
	counts   countsCache
}

func newEdge(c *Config) (*edge, error) {
	e := &edge{limits: newLimiter(c.SignInFailures, c.SignInWindow, c.Now),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_signin_attempts_total",
			Help: "Sign-in attempts (POST /v1/session, single sign-on) by result: ok, failed (bad credential, refused SSO sign-in), limited (answered 429)."},
			[]string{"result"})}
	for _, r := range []string{"ok", "failed", "limited"} {
		e.attempts.WithLabelValues(r)
	}
	if c.Registerer != nil {
		if err := c.Registerer.Register(e.attempts); err != nil {
			return nil, fmt.Errorf("api metrics: %w", err)
		}
	}
	return e, nil
}

// sessionView is the body of POST and GET /v1/session.
type sessionView struct {
	Operator struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"operator"`
	TenantID string `json:"tenant_id"`
	// Permissions are the caller's permission names (permissions.go): the console shows what they allow.
	Permissions []string  `json:"permissions"`
	CSRFToken   string    `json:"csrf_token,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

func viewSession(op tenant.OperatorRef, s Session) sessionView {
	var v sessionView
	v.Operator.ID, v.Operator.Name, v.Operator.Role = op.Operator.ID, op.Operator.Name, op.Operator.Role
	v.TenantID, v.CSRFToken, v.ExpiresAt = op.Tenant.ID, s.CSRF, s.ExpiresAt
	v.Permissions = PermissionsOf(op.Operator.Role)
	return v
}

// serveSession answers /v1/session; false when the path is another.
func (a *API) serveSession(ctx *fasthttp.RequestCtx) bool {
	if p := string(ctx.Path()); p != "/v1/session" && p != "/v1/session/" {
		return false
	}
	switch {
	case ctx.IsPost():
		a.signIn(ctx)
	case ctx.IsGet():
		if op, s, ok := a.authenticateSession(ctx); ok {
			a.writeJSON(ctx, fasthttp.StatusOK, viewSession(op, s))
		}
	case ctx.IsDelete():
		a.signOut(ctx)
	default:
		fail(ctx, codeMethodNotAllowed, string(ctx.Method())+" is not allowed on /v1/session")
	}
	return true
}

func (a *API) signIn(ctx *fasthttp.RequestCtx) {
	addrKey := "addr:" + ctx.RemoteIP().String()
	if wait := a.edge.limits.retryAfter(addrKey); wait > 0 {
		a.limited(ctx, wait)
		return
	}
	var body struct {
		Token string `json:"token"`
		// Operator and Password sign in by password (team.go); Tenant is needed only when two tenants have an
		// operator of that id.
		Operator string `json:"operator"`
		Password string `json:"password"`
		Tenant   string `json:"tenant"`
	}
	// JSON only: a cross-site form (text/plain, no preflight) cannot sign a browser into someone else's session.
	if ct := string(ctx.Request.Header.ContentType()); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		fail(ctx, codeInvalidJSON, "the body must be JSON (Content-Type: application/json): {\"token\":\"…\"}")
		return
	}
	if err := json.Unmarshal(ctx.PostBody(), &body); err != nil {
		fail(ctx, codeInvalidJSON, "the body must be {\"token\":\"…\"}")
		return
	}
	if body.Token == "" && body.Operator != "" {
		a.signInPassword(ctx, body.Tenant, body.Operator, body.Password)
		return
	}
	op, ok := a.cfg.Directory.OperatorByToken(body.Token)
	if !ok {
		// A wrong credential names no operator: only the address is charged. (A credential that names one, as
		// operator id and password will, charges "op:" too, so guessing one operator's from many addresses is
		// limited as well.)
		a.edge.limits.fail(addrKey)
		a.edge.attempts.WithLabelValues("failed").Inc()
		fail(ctx, codeInvalidCredentials, "the credential is not valid")
		return
	}
	if wait := a.edge.limits.retryAfter("op:" + op.Tenant.ID + "/" + op.Operator.ID); wait > 0 {
		a.limited(ctx, wait)
		return
	}
	cookie, csrf := randomToken(), randomToken()
	s := Session{Tenant: op.Tenant.ID, Operator: op.Operator.ID, CSRF: csrf,
		ExpiresAt:  a.cfg.Now().Add(a.cfg.SessionTTL).UTC().Truncate(time.Second),
		Credential: tenant.HashToken(body.Token)}
	if err := a.cfg.Sessions.Put(KeyOf(cookie), s); err != nil {
		a.log.Error("store session", "tenant", op.Tenant.ID, "operator", op.Operator.ID, "err", err)
		fail(ctx, codeStoreUnavailable, "the session could not be stored; retry later")
		return
	}
	a.edge.attempts.WithLabelValues("ok").Inc()
	a.setCookie(ctx, cookie, int(a.cfg.SessionTTL/time.Second))
	a.writeJSON(ctx, fasthttp.StatusOK, viewSession(op, s))
}

func (a *API) limited(ctx *fasthttp.RequestCtx, wait time.Duration) {
	a.edge.attempts.WithLabelValues("limited").Inc()
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	fail(ctx, codeTooManyAttempts, "too many failed sign-ins; retry later")
}

func (a *API) signOut(ctx *fasthttp.RequestCtx) {
	if c := ctx.Request.Header.Cookie(CookieName); len(c) > 0 {
		k := KeyOf(string(c))
		s, ok, err := a.cfg.Sessions.Get(k)
		if err != nil { // answering 204 would tell the operator they are signed out while the session lives on
			a.log.Error("read session", "err", err)
			fail(ctx, codeStoreUnavailable, "the session could not be read; retry later")
			return
		}
		if ok {
			if !csrfValid(ctx, s) {
				fail(ctx, codeCSRF, "X-CSRF-Token is missing or wrong")
				return
			}
			if err := a.cfg.Sessions.Delete(k); err != nil {
				a.log.Error("delete session", "tenant", s.Tenant, "operator", s.Operator, "err", err)
				fail(ctx, codeStoreUnavailable, "the session could not be deleted; retry later")
				return
			}
		}
	}
	a.setCookie(ctx, "", -1)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// setCookie sets the session cookie; maxAge < 0 expires it.
func (a *API) setCookie(ctx *fasthttp.RequestCtx, value string, maxAge int) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(CookieName)
	c.SetValue(value)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(a.cfg.CookieSecure)
	if maxAge < 0 {
		c.SetExpire(fasthttp.CookieExpireDelete)
		maxAge = 0
	}
	c.SetMaxAge(maxAge)
	ctx.Response.Header.SetCookie(c)
}

// authenticateSession authenticates the request by its session cookie; a write needs the session's CSRF token.
func (a *API) authenticateSession(ctx *fasthttp.RequestCtx) (tenant.OperatorRef, Session, bool) {
	c := ctx.Request.Header.Cookie(CookieName)
	if len(c) == 0 {
		fail(ctx, codeUnauthorized, "no session: sign in")
		return tenant.OperatorRef{}, Session{}, false
	}
	s, ok, err := a.cfg.Sessions.Get(KeyOf(string(c)))
	if err != nil {
		a.log.Error("read session", "err", err)
		fail(ctx, codeStoreUnavailable, "the session could not be read; retry later")
		return tenant.OperatorRef{}, Session{}, false
	}
	var op tenant.OperatorRef
	if ok {
		op, ok = a.sessionOperator(s)
	}
	if !ok {
		fail(ctx, codeUnauthorized, "the session is unknown or expired: sign in")
		return tenant.OperatorRef{}, Session{}, false
	}
	switch string(ctx.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions:
	default:
		if !csrfValid(ctx, s) {
			fail(ctx, codeCSRF, "X-CSRF-Token is missing or wrong")
			return tenant.OperatorRef{}, Session{}, false
		}
	}
	return op, s, true
}

func csrfValid(ctx *fasthttp.RequestCtx, s Session) bool {
	got := ctx.Request.Header.Peek("X-CSRF-Token")
	return len(got) > 0 && subtle.ConstantTimeCompare(got, []byte(s.CSRF)) == 1
}

// operator finds a configured operator; a session of an operator since removed is no longer valid.
// sessionOperator is the operator of s while the credential it was signed in with is still configured.
func (a *API) sessionOperator(s Session) (tenant.OperatorRef, bool) {
	if s.Credential != ([32]byte{}) {
		op, ok := a.cfg.Directory.OperatorByTokenHash(s.Credential)
		// A token of that hash that names another operator is not this session's credential: an admin may choose
		// any token, even one hashing like another tenant's SSO credential (public: its issuer and client id).
		if !ok || op.Tenant.ID != s.Tenant || op.Operator.ID != s.Operator {
			// Signed in by password: valid while the operator's password is the one it was signed in with. Signed
			// in by single sign-on (oidc.go): valid while the tenant's SSO is on, with the same issuer and client,
			// and the operator is one SSO may sign in.
			op, ok = a.operator(s.Tenant, s.Operator)
			byPassword := ok && op.Operator.PasswordHash != "" && passwordCredential(op.Operator.PasswordHash) == s.Credential
			bySSO := ok && op.Operator.SSO && op.Tenant.SSO != nil && op.Tenant.SSO.Enabled &&
				tenant.SSOSessionCredential(op.Tenant.SSO) == s.Credential
			if !byPassword && !bySSO {
				return tenant.OperatorRef{}, false
			}
		}
		if op.Tenant.ID != s.Tenant || op.Operator.ID != s.Operator {
			return tenant.OperatorRef{}, false
		}
		return op, true
	}
	return a.operator(s.Tenant, s.Operator)
}

func (a *API) operator(tenantID, id string) (tenant.OperatorRef, bool) {
	t, ok := a.cfg.Directory.Tenant(tenantID)
	if !ok {
		return tenant.OperatorRef{}, false
	}
	for i := range t.Operators {
		if t.Operators[i].ID == id && !t.Operators[i].Disabled { // a disabled operator is refused everywhere
			return tenant.OperatorRef{Tenant: t, Operator: &t.Operators[i]}, true
		}
	}
	return tenant.OperatorRef{}, false
}

// randomToken is 32 random bytes, base64url without padding.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
