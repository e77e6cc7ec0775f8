package api

// Single sign-on with OpenID Connect (README "Single sign-on (OpenID Connect)"): the tenant's SSO settings
// (GET/PUT /v1/settings/sso), which sign-in methods a tenant offers (GET /v1/auth/methods), and the authorization
// code flow with PKCE: GET /v1/auth/oidc/start redirects the browser to the tenant's IdP, GET /v1/auth/oidc/callback
// exchanges the code, verifies the ID token (github.com/coreos/go-oidc) and signs the operator in with the session
// machinery password sign-in uses (session.go). Who the operator is and which role their groups give are the pure
// rules of actors/tenant/sso.go; creating the operator or changing its role is a config_set, so it is durable,
// audited and seen by every node before the session starts.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/valyala/fasthttp"
	"golang.org/x/oauth2"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api/egress"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// OIDC limits.
const (
	// oidcFlowTTL is how long a started sign-in may take at the IdP: the flow cookie's lifetime.
	oidcFlowTTL = 10 * time.Minute
	// oidcTimeout bounds one request of the node to an IdP (discovery, token, keys), body included.
	oidcTimeout = 10 * time.Second
	// oidcMaxBody bounds the body of an IdP's answer.
	oidcMaxBody = 1 << 20
	// oidcProviderTTL is how long a discovery document is used before it is fetched again; a failed discovery is
	// remembered for oidcFailureTTL, so a broken issuer is not asked again on every click.
	oidcProviderTTL = time.Hour
	oidcFailureTTL  = 30 * time.Second
	// oidcMaxProviders bounds the discovery documents held (one per issuer).
	oidcMaxProviders = 1024
	// oidcMaxUsed bounds the remembered states of finished sign-ins (a replayed callback is refused by them).
	oidcMaxUsed = 100_000
	// flowCookie holds a started sign-in's state, nonce and PKCE verifier (HttpOnly, SameSite=Lax so the IdP's
	// redirect back carries it, scoped to /v1/auth/oidc/).
	flowCookie = "sb_oidc"
	flowPath   = "/v1/auth/oidc/"
	// CallbackPath is where the IdP sends the browser back: the redirect URI to register at the IdP is the node's
	// address followed by it.
	CallbackPath = "/v1/auth/oidc/callback"
)

// Sign-in error codes an SSO sign-in redirects to the console with (/?sso_error=<code>), besides the tenant
// package's sso_* refusal codes.
const (
	codeSSOUnavailable = "sso_unavailable" // the IdP could not be reached or its discovery document is wrong
	codeSSOState       = "sso_state"       // no, an expired or a replayed sign-in: start again
	codeSSOFailed      = "sso_failed"      // the code exchange or the ID token's verification failed
	codeSSOIdP         = "sso_idp_error"   // the IdP answered with an error (e.g. the user cancelled)
	codeSSODisabledOp  = "sso_operator_disabled"
	codeSSOCrossSite   = "sso_cross_site" // the sign-in was started from another site: start it on the console
)

// ssoState is the API's single sign-on state: discovery documents by issuer and the states of finished sign-ins.
type ssoState struct {
	transport http.RoundTripper

	mu        sync.Mutex
	providers map[string]*providerEntry
	used      map[[32]byte]time.Time
}

type providerEntry struct {
	p   *oidc.Provider
	err error
	at  time.Time
}

func newSSOState(allowLoopback, allowPrivate bool) *ssoState {
	var allowed []string
	if allowLoopback {
		allowed = append(allowed, "loopback")
	}
	if allowPrivate {
		allowed = append(allowed, "private")
	}
	d := &net.Dialer{Timeout: 5 * time.Second, Control: egress.Control(egress.Except(allowed...))}
	// No proxy: the dialer's check would see the proxy's address, not the IdP's.
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, TLSHandshakeTimeout: 5 * time.Second,
		ResponseHeaderTimeout: oidcTimeout, MaxResponseHeaderBytes: 64 << 10, MaxIdleConns: 16, IdleConnTimeout: time.Minute}
	return &ssoState{transport: tr, providers: map[string]*providerEntry{}, used: map[[32]byte]time.Time{}}
}

// issuerTransport lets requests reach only the issuer's host, with bounded bodies: the node contacts the configured
// issuer and nothing else, whatever its discovery document names.
type issuerTransport struct {
	host string
	next http.RoundTripper
}

func (t *issuerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.EqualFold(r.URL.Host, t.host) {
		return nil, fmt.Errorf("oidc: %s is not the issuer's host %s", r.URL.Host, t.host)
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &boundedBody{ReadCloser: resp.Body, left: oidcMaxBody}
	return resp, nil
}

type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, fmt.Errorf("oidc: the IdP's answer is over %d bytes", oidcMaxBody)
	}
	return n, err
}

// client is the HTTP client for the IdP of issuer.
func (s *ssoState) client(issuer string) (*http.Client, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	host := u.Host
	return &http.Client{Timeout: oidcTimeout, Transport: &issuerTransport{host: host, next: s.transport},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 3 || !strings.EqualFold(r.URL.Host, host) {
				return errors.New("oidc: the IdP redirects elsewhere")
			}
			return nil
		}}, nil
}

// provider is the discovery document of issuer, fetched when not held or older than oidcProviderTTL.
func (s *ssoState) provider(issuer string, now time.Time) (*oidc.Provider, *http.Client, error) {
	hc, err := s.client(issuer)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	e := s.providers[issuer]
	s.mu.Unlock()
	if e != nil && (e.err == nil && now.Sub(e.at) < oidcProviderTTL || e.err != nil && now.Sub(e.at) < oidcFailureTTL) {
		return e.p, hc, e.err
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), hc), oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, issuer)
	if err == nil {
		if why := checkEndpoints(p, hc.Transport.(*issuerTransport).host); why != "" {
			err = errors.New(why)
			p = nil
		}
	}
	s.mu.Lock()
	if len(s.providers) >= oidcMaxProviders {
		for k, old := range s.providers { // the stale first
			if now.Sub(old.at) >= oidcProviderTTL || old.err != nil {
				delete(s.providers, k)
			}
		}
		for k := range s.providers { // still full: arbitrary ones (fetched again when used)
			if len(s.providers) < oidcMaxProviders {
				break
			}
			delete(s.providers, k)
		}
	}
	s.providers[issuer] = &providerEntry{p: p, err: err, at: now}
	s.mu.Unlock()
	return p, hc, err
}

// checkEndpoints says what is wrong with the endpoints a discovery document of the issuer on host names, or "": the
// node fetches the token endpoint and the keys, so they must be on the issuer's host (the browser goes to the
// authorization endpoint, which may be anywhere).
func checkEndpoints(p *oidc.Provider, host string) string {
	var doc struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = p.Claims(&doc)
	ep := p.Endpoint()
	for _, e := range []struct{ name, raw string }{{"authorization", ep.AuthURL}, {"token", ep.TokenURL}, {"keys (jwks_uri)", doc.JWKS}} {
		u, err := url.Parse(e.raw)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			return "oidc: the discovery document names no usable " + e.name + " endpoint"
		case e.name != "authorization" && !strings.EqualFold(u.Host, host):
			return "oidc: the discovery document's " + e.name + " endpoint is on " + u.Host + ", not on the issuer's host " + host
		}
	}
	return ""
}

// use marks a sign-in's state as finished; false when it was already.
func (s *ssoState) use(state string, exp, now time.Time) bool {
	k := sha256.Sum256([]byte(state))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.used[k]; ok {
		return false
	}
	if len(s.used) >= oidcMaxUsed {
		for old, e := range s.used {
			if !e.After(now) {
				delete(s.used, old)
			}
		}
	}
	if len(s.used) >= oidcMaxUsed { // still full: every remembered state is live; forget arbitrary ones
		for old := range s.used {
			delete(s.used, old)
			if len(s.used) < oidcMaxUsed {
				break
			}
		}
	}
	s.used[k] = exp
	return true
}

// flow is a started sign-in, as the flow cookie holds it.
type flow struct {
	Tenant   string `json:"t"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Exp      int64  `json:"e"`
}

// ssoSettingsView is the SSO configuration as GET and PUT /v1/settings/sso answer it: never the client secret,
// only whether one is set; and the callback URL to register at the IdP.
type ssoSettingsView struct {
	Enabled         bool               `json:"enabled"`
	Issuer          string             `json:"issuer"`
	ClientID        string             `json:"client_id"`
	HasClientSecret bool               `json:"has_client_secret"`
	Scopes          []string           `json:"scopes"`
	GroupsClaim     string             `json:"groups_claim"`
	Groups          []tenant.GroupRole `json:"groups"`
	OperatorClaim   string             `json:"operator_claim"`
	Provision       bool               `json:"provision"`
	Capacity        int                `json:"capacity"`
	AllowedDomains  []string           `json:"allowed_domains"`
	CallbackURL     string             `json:"callback_url"`
	Version         uint64             `json:"version"`
}

func viewSSO(ctx *fasthttp.RequestCtx, s *tenant.SSO, version uint64) ssoSettingsView {
	if s == nil {
		s = &tenant.SSO{Scopes: tenant.DefaultSSOScopes[1:], GroupsClaim: tenant.DefaultGroupsClaim,
			OperatorClaim: tenant.DefaultOperatorClaim, Provision: true, Capacity: tenant.DefaultCapacity}
	}
	v := ssoSettingsView{Enabled: s.Enabled, Issuer: s.Issuer, ClientID: s.ClientID, HasClientSecret: s.ClientSecret != "",
		Scopes: nonNilStrings(s.Scopes), GroupsClaim: s.GroupsClaim, Groups: s.Groups, OperatorClaim: s.OperatorClaim,
		Provision: s.Provision, Capacity: s.Capacity, AllowedDomains: nonNilStrings(s.AllowedDomains),
		CallbackURL: publicBase(ctx) + CallbackPath, Version: version}
	if v.Groups == nil {
		v.Groups = []tenant.GroupRole{}
	}
	return v
}

func (a *API) getSSOSettings(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	a.writeJSON(ctx, fasthttp.StatusOK, viewSSO(ctx, op.Tenant.SSO, op.Tenant.Version))
}

// putSSOSettings answers PUT /v1/settings/sso: the fields given change (a client_secret of "" clears it; leaving
// it out keeps it), the rest stay. Invalid values are answered 400 invalid_setting naming the field, nothing
// applied.
func (a *API) putSSOSettings(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var ch tenant.SSOChange
	if !decode(ctx, &ch, false) {
		return
	}
	a.configure(ctx, op, tenant.Change{SSO: &ch}, fasthttp.StatusOK, func(r *tenant.Record) any {
		return viewSSO(ctx, r.SSO, r.Version)
	})
}

// serveAuth answers the public sign-in endpoints under /v1/auth/; false when the path is another.
func (a *API) serveAuth(ctx *fasthttp.RequestCtx) bool {
	p, ok := strings.CutPrefix(string(ctx.Path()), "/v1/auth/")
	if !ok {
		return false
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		fail(ctx, codeMethodNotAllowed, string(ctx.Method())+" is not allowed on "+string(ctx.Path()))
		return true
	}
	switch strings.TrimSuffix(p, "/") {
	case "methods":
		a.authMethods(ctx)
	case "oidc/start":
		a.oidcStart(ctx)
	case "oidc/callback":
		a.oidcCallback(ctx)
	default:
		fail(ctx, codeNotFound, "no such endpoint: "+string(ctx.Method())+" "+string(ctx.Path()))
	}
	return true
}

// authMethods answers GET /v1/auth/methods?tenant=T: which sign-in methods the tenant offers, and nothing else. An
// unknown tenant is answered like one without SSO. Without ?tenant, a node serving exactly one tenant answers for
// it (and names it, so the sign-in page needs no tenant field); a node of several names none.
func (a *API) authMethods(ctx *fasthttp.RequestCtx) {
	id := string(ctx.QueryArgs().Peek("tenant"))
	named := ""
	if id == "" {
		if ts := a.cfg.Directory.Tenants(); len(ts) == 1 {
			id, named = ts[0].ID, ts[0].ID
		}
	}
	sso := false
	if t, ok := a.cfg.Directory.Tenant(id); ok && t.SSO != nil && t.SSO.Enabled {
		sso = true
	}
	v := struct {
		Password bool   `json:"password"`
		Token    bool   `json:"token"`
		SSO      bool   `json:"sso"`
		Tenant   string `json:"tenant,omitempty"`
		SSOStart string `json:"sso_start,omitempty"`
	}{Password: true, Token: true, SSO: sso, Tenant: named}
	if sso {
		v.SSOStart = "/v1/auth/oidc/start?tenant=" + url.QueryEscape(id)
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	a.writeJSON(ctx, fasthttp.StatusOK, v)
}

// ssoFail ends a sign-in: the browser goes back to the console's sign-in page, which says what happened by code.
// charge counts it as a failed sign-in of the address (and of opKey when set), like a wrong password.
func (a *API) ssoFail(ctx *fasthttp.RequestCtx, tenantID, code string, charge bool, opKey string) {
	if charge {
		a.edge.limits.fail("addr:" + ctx.RemoteIP().String())
		if opKey != "" {
			a.edge.limits.fail(opKey)
		}
		a.edge.attempts.WithLabelValues("failed").Inc()
	}
	q := url.Values{"sso_error": {code}}
	if tenantID != "" {
		q.Set("tenant", tenantID)
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Redirect("/?"+q.Encode(), fasthttp.StatusSeeOther)
}

// setFlowCookie sets (value != "") or clears the flow cookie.
func (a *API) setFlowCookie(ctx *fasthttp.RequestCtx, value string) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(flowCookie)
	c.SetValue(value)
	c.SetPath(flowPath)
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	c.SetSecure(a.cfg.CookieSecure)
	if value == "" {
		c.SetExpire(fasthttp.CookieExpireDelete)
	} else {
		c.SetMaxAge(int(oidcFlowTTL / time.Second))
	}
	ctx.Response.Header.SetCookie(c)
}

// oauthConfig is the OAuth 2.0 client of s at p, returning to this node's callback.
func oauthConfig(ctx *fasthttp.RequestCtx, s *tenant.SSO, p *oidc.Provider) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	for _, sc := range s.Scopes {
		if sc != oidc.ScopeOpenID {
			scopes = append(scopes, sc)
		}
	}
	return &oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: publicBase(ctx) + CallbackPath, Scopes: scopes}
}

// oidcStart answers GET /v1/auth/oidc/start?tenant=T: a redirect to the tenant's IdP with a fresh state, nonce and
// PKCE challenge, the state bound to this browser by the flow cookie.
func (a *API) oidcStart(ctx *fasthttp.RequestCtx) {
	// Only the console's button (same-origin) or a typed address or bookmark (none) starts a sign-in: a link on
	// another site would sign the browser in to whichever tenant it names (login CSRF), and redirect it to whatever
	// that tenant's discovery document names. A client that sends no Sec-Fetch-Site is not a browser's navigation.
	if s := string(ctx.Request.Header.Peek("Sec-Fetch-Site")); s != "" && s != "same-origin" && s != "none" {
		a.ssoFail(ctx, "", codeSSOCrossSite, false, "")
		return
	}
	id := string(ctx.QueryArgs().Peek("tenant"))
	t, ok := a.cfg.Directory.Tenant(id)
	if !ok || t.SSO == nil || !t.SSO.Enabled {
		a.ssoFail(ctx, "", tenant.CodeSSODisabled, false, "")
		return
	}
	if wait := a.edge.limits.retryAfter("addr:" + ctx.RemoteIP().String()); wait > 0 {
		a.edge.attempts.WithLabelValues("limited").Inc()
		a.ssoFail(ctx, id, codeTooManyAttempts, false, "")
		return
	}
	p, _, err := a.sso.provider(t.SSO.Issuer, a.cfg.Now())
	if err != nil {
		a.log.Warn("sso: the IdP's discovery failed", "tenant", id, "issuer", t.SSO.Issuer, "err", err)
		a.ssoFail(ctx, id, codeSSOUnavailable, false, "")
		return
	}
	f := flow{Tenant: id, State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Exp: a.cfg.Now().Add(oidcFlowTTL).Unix()}
	b, _ := json.Marshal(f)
	a.setFlowCookie(ctx, base64.RawURLEncoding.EncodeToString(b))
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Redirect(oauthConfig(ctx, t.SSO, p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)),
		fasthttp.StatusFound)
}

// readFlow is the flow cookie's sign-in, if it is well formed and unexpired.
func (a *API) readFlow(ctx *fasthttp.RequestCtx) (flow, bool) {
	var f flow
	b, err := base64.RawURLEncoding.DecodeString(string(ctx.Request.Header.Cookie(flowCookie)))
	if err != nil || len(b) == 0 || json.Unmarshal(b, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return flow{}, false
	}
	return f, a.cfg.Now().Unix() < f.Exp
}

// oidcCallback answers GET /v1/auth/oidc/callback?code=&state=: the end of a sign-in.
func (a *API) oidcCallback(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	f, ok := a.readFlow(ctx)
	a.setFlowCookie(ctx, "") // one attempt per start
	addrKey := "addr:" + ctx.RemoteIP().String()
	if wait := a.edge.limits.retryAfter(addrKey); wait > 0 {
		a.edge.attempts.WithLabelValues("limited").Inc()
		a.ssoFail(ctx, f.Tenant, codeTooManyAttempts, false, "")
		return
	}
	if e := args.Peek("error"); len(e) > 0 && ok && subtle.ConstantTimeCompare(args.Peek("state"), []byte(f.State)) == 1 {
		// The IdP refused or the user cancelled: no credential was tried.
		a.log.Info("sso: the IdP answered an error", "tenant", f.Tenant, "error", truncate(string(e), 64))
		a.ssoFail(ctx, f.Tenant, codeSSOIdP, false, "")
		return
	}
	code := string(args.Peek("code"))
	if !ok || code == "" || subtle.ConstantTimeCompare(args.Peek("state"), []byte(f.State)) != 1 ||
		!a.sso.use(f.State, time.Unix(f.Exp, 0), a.cfg.Now()) {
		// No credential was tried (the code is not exchanged): counted, not charged to the address.
		a.edge.attempts.WithLabelValues("failed").Inc()
		a.ssoFail(ctx, f.Tenant, codeSSOState, false, "")
		return
	}
	t, ok := a.cfg.Directory.Tenant(f.Tenant)
	if !ok || t.SSO == nil || !t.SSO.Enabled {
		a.ssoFail(ctx, f.Tenant, tenant.CodeSSODisabled, true, "")
		return
	}
	s := t.SSO
	if iss := args.Peek("iss"); len(iss) > 0 && string(iss) != s.Issuer {
		// RFC 9207: the browser comes back from another IdP than this sign-in's (a mix-up): its code is not sent
		// to this tenant's token endpoint.
		a.log.Info("sso: sign-in refused", "tenant", t.ID, "reason", "the authorization response names another issuer",
			"iss", truncate(string(iss), 256))
		a.ssoFail(ctx, t.ID, codeSSOFailed, true, "")
		return
	}
	p, hc, err := a.sso.provider(s.Issuer, a.cfg.Now())
	if err != nil {
		a.log.Warn("sso: the IdP's discovery failed", "tenant", t.ID, "issuer", s.Issuer, "err", err)
		a.ssoFail(ctx, t.ID, codeSSOUnavailable, false, "")
		return
	}
	claims, err := a.exchange(ctx, s, p, hc, code, f)
	if err != nil {
		a.log.Info("sso: sign-in refused", "tenant", t.ID, "err", err)
		a.ssoFail(ctx, t.ID, codeSSOFailed, true, "")
		return
	}
	a.ssoSignIn(ctx, t, claims)
}

// exchange trades code for tokens and verifies the ID token: signature by the issuer's keys, issuer, audience (the
// client id), expiry, and the nonce of this browser's sign-in. It returns the token's claims.
func (a *API) exchange(ctx *fasthttp.RequestCtx, s *tenant.SSO, p *oidc.Provider, hc *http.Client, code string, f flow) (map[string]any, error) {
	c, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), hc), 2*oidcTimeout)
	defer cancel()
	tok, err := oauthConfig(ctx, s, p).Exchange(c, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token answer has no id_token")
	}
	// Token times are the IdP's wall clock, so the node's wall clock checks them. The provider's key set (fetched
	// with the issuer's client, cached with the discovery document) checks the signature.
	idt, err := p.Verifier(&oidc.Config{ClientID: s.ClientID}).Verify(c, raw)
	if err != nil {
		return nil, fmt.Errorf("verify the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return nil, errors.New("the ID token's nonce is not this sign-in's")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("decode the ID token's claims: %w", err)
	}
	// go-oidc checks only that the client is one of the audiences. A token for several must name the client it
	// was issued to (azp), and it must be this one (OpenID Connect Core 3.1.3.7).
	azp, _ := claims["azp"].(string)
	if _, set := claims["azp"]; set && azp != s.ClientID || !set && len(idt.Audience) > 1 {
		return nil, fmt.Errorf("the ID token's authorized party %q is not the client %q (audience %q)", azp, s.ClientID, idt.Audience)
	}
	return claims, nil
}

// ssoSignIn signs in the operator the verified claims name, with the role their groups give: the operator is
// created (just-in-time) or its role changed by a config_set first when needed.
func (a *API) ssoSignIn(ctx *fasthttp.RequestCtx, t *tenant.Tenant, claims map[string]any) {
	s := t.SSO
	refuse := func(code, opKey string, msg string, attrs ...any) {
		a.log.Info("sso: sign-in refused", append([]any{"tenant", t.ID, "code", code, "reason", msg}, attrs...)...)
		a.ssoFail(ctx, t.ID, code, true, opKey)
	}
	value, _ := claimValue(claims, s.OperatorClaim).(string)
	if s.OperatorClaim == "email" {
		// A boolean, or a string for some IdPs ("false"): anything but true is not verified; no claim is taken as
		// verified (Entra ID sends none).
		if v, ok := claims["email_verified"]; ok && !isTrue(v) {
			refuse(tenant.CodeSSOClaim, "", "the IdP says the e-mail address is not verified")
			return
		}
	}
	id, r := tenant.SSOOperatorID(s, value)
	if r != nil {
		refuse(r.Code, "", r.Message)
		return
	}
	opKey := "op:" + t.ID + "/" + id
	if wait := a.edge.limits.retryAfter(opKey); wait > 0 {
		a.edge.attempts.WithLabelValues("limited").Inc()
		a.ssoFail(ctx, t.ID, codeTooManyAttempts, false, "")
		return
	}
	role, ok := tenant.SSORole(s, claimStrings(claimValue(claims, s.GroupsClaim)))
	if !ok {
		refuse(tenant.CodeSSONoGroup, opKey, "none of the user's groups is mapped to a role", "operator", id)
		return
	}
	sub, _ := claims["sub"].(string)
	subject := tenant.SSOSubjectOf(s, sub)
	cur, exists := findOperator(t, id)
	switch {
	case sub == "":
		refuse(tenant.CodeSSOClaim, opKey, "the ID token has no sub", "operator", id)
		return
	case exists && cur.Disabled:
		refuse(codeSSODisabledOp, opKey, "the operator is disabled", "operator", id)
		return
	case exists:
		if r := tenant.SSOMayBind(s, cur, subject); r != nil {
			refuse(r.Code, opKey, r.Message, "operator", id)
			return
		}
	case !s.Provision:
		refuse(tenant.CodeSSONoOperator, opKey, "no such operator and just-in-time provisioning is off", "operator", id)
		return
	}
	if !exists || cur.Role != role || cur.SSOSubject != subject {
		name, _ := claims["name"].(string)
		if name == "" {
			name, _ = claims["preferred_username"].(string)
		}
		ch := tenant.Change{SSOSignIn: &tenant.SSOSignIn{Operator: id, Subject: subject, Create: !exists, Name: name, Role: role}}
		if code, msg := a.applyChange(tenant.OperatorRef{Tenant: t, Operator: &tenant.Operator{ID: id}}, ch); code != "" {
			if code == tenant.CodeLastAdmin || code == codeUnavailable || code == codeOutcomeUnknown {
				a.log.Warn("sso: the sign-in's change was not applied", "tenant", t.ID, "operator", id, "code", code, "reason", msg)
				a.ssoFail(ctx, t.ID, code, false, "")
				return
			}
			refuse(code, opKey, msg, "operator", id)
			return
		}
	}
	op, ok := a.operator(t.ID, id)
	if !ok || op.Operator.Role != role || op.Operator.SSOSubject != subject || op.Tenant.SSO == nil || !op.Tenant.SSO.Enabled {
		// The change applied but this node's directory does not show it yet, or SSO was turned off meanwhile.
		a.log.Warn("sso: the operator is not in this node's directory as signed in yet", "tenant", t.ID, "operator", id)
		a.ssoFail(ctx, t.ID, codeSSOUnavailable, false, "")
		return
	}
	if _, ok := a.startSession(ctx, op, tenant.SSOSessionCredential(op.Tenant.SSO)); !ok {
		a.ssoFail(ctx, t.ID, codeStoreUnavailable, false, "")
		return
	}
	a.edge.attempts.WithLabelValues("ok").Inc()
	a.log.Info("sso: signed in", "tenant", t.ID, "operator", id, "role", role)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Redirect("/", fasthttp.StatusSeeOther)
}

// applyChange sends change as a config_set on behalf of op and waits for its outcome and, with WaitConfig, for this
// node's directory to have it. code is "" when it applied; otherwise the refusal's code and message.
func (a *API) applyChange(op tenant.OperatorRef, change tenant.Change) (code, msg string) {
	if _, _, err := tenant.ApplyChange(op.Tenant, change, a.cfg.Now()); err != nil {
		var r *tenant.Refusal
		if errors.As(err, &r) {
			return r.Code, r.Text()
		}
	}
	raw, err := json.Marshal(change)
	if err != nil {
		return tenant.CodeInvalidSetting, err.Error()
	}
	res, code, msg := a.submit(op, "", inbox.Command{Type: inbox.CmdConfigSet, Config: raw})
	if code != "" {
		return code, msg
	}
	if res.Code != "" {
		return res.Code, res.Message
	}
	if applied, ok := res.Body.(tenant.Applied); ok && len(applied.Records) > 0 {
		a.awaitConfig(op.Tenant.ID, applied.Version)
	}
	return "", ""
}

// claimValue is the claim name of claims: the top-level claim of that name, or else, for a dotted name, the path
// through nested objects (Keycloak's realm_access.roles).
func claimValue(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	parts := strings.Split(name, ".")
	var cur any = claims
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// claimStrings reads a groups claim: a list of strings (other values are skipped) or one string.
func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return slices.Clip(out)
	}
	return nil
}

// isTrue is a claim's true: the boolean, or the string "true" (case aside).
func isTrue(v any) bool {
	s, ok := v.(string)
	return v == true || ok && strings.EqualFold(s, "true")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
