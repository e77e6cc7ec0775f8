package api_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
)

// ssoEnv is the team's API with single sign-on configured against an OpenID Connect provider served by the test on
// loopback (mockoidc: its authorization endpoint signs in the next queued user at once, with no login page).
type ssoEnv struct {
	*teamEnv
	idp *mockoidc.MockOIDC
}

const ssoSecret = "the-client-secret-never-shown"

func startSSO(t *testing.T, more ...func(*api.Config)) *ssoEnv {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	m.ClientSecret = ssoSecret
	e := startTeam(t, append([]func(*api.Config){func(cfg *api.Config) { cfg.OIDCAllowLoopback = true }}, more...)...)
	body, _ := json.Marshal(map[string]any{"enabled": true, "issuer": m.Issuer(), "client_id": m.ClientID,
		"client_secret": ssoSecret, "scopes": []string{"email", "profile", "groups"},
		"groups":          []map[string]string{{"group": "helpdesk-admins", "role": "admin"}, {"group": "helpdesk", "role": "operator"}},
		"allowed_domains": []string{"example.com"}, "capacity": 4})
	r := e.do(t, "PUT", "/v1/settings/sso", bobToken, string(body))
	if r.status != 200 {
		t.Fatalf("PUT /v1/settings/sso = %s", r)
	}
	if strings.Contains(string(r.body), ssoSecret) {
		t.Fatalf("the answer shows the client secret: %s", r.body)
	}
	return &ssoEnv{teamEnv: e, idp: m}
}

// browser is a browser's cookies and a client that follows no redirect, so each step is seen.
type browser struct {
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// get answers the status and Location of a GET.
func (b *browser) get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// signIn runs a whole sign-in as user: start, the IdP, the callback. It returns the callback's redirect (the
// console, or the sign-in page with sso_error) and the callback's URL.
func (e *ssoEnv) signIn(t *testing.T, b *browser, user mockoidc.User) (landing, callback string) {
	t.Helper()
	st, loc := b.get(t, e.url+"/v1/auth/oidc/start?tenant=acme")
	if st != http.StatusFound || !strings.HasPrefix(loc, e.idp.AuthorizationEndpoint()+"?") {
		t.Fatalf("start = %d %s, want a redirect to the IdP", st, loc)
	}
	q, _ := url.Parse(loc)
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Query().Get(k) == "" {
			t.Fatalf("the authorization request lacks %s: %s", k, loc)
		}
	}
	if q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("redirect_uri") != e.url+api.CallbackPath {
		t.Fatalf("authorization request %s", loc)
	}
	e.idp.QueueUser(user)
	st, callback = b.get(t, loc)
	if st != http.StatusFound || !strings.HasPrefix(callback, e.url+api.CallbackPath+"?") {
		t.Fatalf("IdP = %d %s, want a redirect to the callback", st, callback)
	}
	st, landing = b.get(t, callback)
	if st != http.StatusSeeOther {
		t.Fatalf("callback = %d %s, want 303", st, landing)
	}
	return landing, callback
}

// session is the browser's session as GET /v1/session answers it ("" role when there is none).
func (e *ssoEnv) session(t *testing.T, b *browser) (id, role string) {
	t.Helper()
	resp, err := b.c.Get(e.url + "/v1/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", ""
	}
	var v struct {
		Operator struct{ ID, Role string } `json:"operator"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Operator.ID, v.Operator.Role
}

func user(email string, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true, Groups: groups}
}

// forged is a user whose ID token the IdP signs with a nonce, an audience (or several) or an authorized party (azp)
// of its choosing.
type forged struct {
	*mockoidc.MockUser
	nonce, aud string
	auds       []string
	azp        string
	extra      map[string]any // more claims, or other values of the user's
}

func (u forged) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.nonce != "" {
		c.Nonce = u.nonce
	}
	if u.aud != "" {
		c.Audience = jwt.ClaimStrings{u.aud}
	}
	if u.auds != nil {
		c.Audience = u.auds
	}
	claims, err := u.MockUser.Claims(scope, c)
	if err != nil || u.azp == "" && u.extra == nil {
		return claims, err
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	var m jwt.MapClaims
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if u.azp != "" {
		m["azp"] = u.azp
	}
	for k, v := range u.extra {
		m[k] = v
	}
	return m, nil
}

func wantLanding(t *testing.T, what, landing, code string) {
	t.Helper()
	want := "/"
	if code != "" {
		want = "/?" + url.Values{"sso_error": {code}, "tenant": {"acme"}}.Encode()
	}
	if u, err := url.Parse(landing); err != nil || u.RequestURI() != want {
		t.Errorf("%s: landed on %s, want %s", what, landing, want)
	}
}

func TestSSOSignIn(t *testing.T) {
	e := startSSO(t)

	// The settings never show the secret; the callback URL to register is this node's.
	var v map[string]any
	e.getJSON(t, "/v1/settings/sso", bobToken, &v)
	if v["has_client_secret"] != true || v["callback_url"] != e.url+api.CallbackPath || strings.Contains(
		func() string { b, _ := json.Marshal(v); return string(b) }(), ssoSecret) {
		t.Errorf("GET /v1/settings/sso = %v", v)
	}
	// The public methods say whether SSO is on, and nothing else.
	var m struct {
		SSO      bool   `json:"sso"`
		SSOStart string `json:"sso_start"`
		Tenant   string `json:"tenant"`
	}
	e.getJSON(t, "/v1/auth/methods?tenant=acme", "", &m)
	if !m.SSO || m.SSOStart != "/v1/auth/oidc/start?tenant=acme" {
		t.Errorf("methods of acme = %+v", m)
	}
	for _, q := range []string{"?tenant=globex", "?tenant=nosuch", ""} {
		m.SSO, m.Tenant = false, ""
		e.getJSON(t, "/v1/auth/methods"+q, "", &m)
		if m.SSO || m.Tenant != "" {
			t.Errorf("methods %s = %+v, want no SSO and no tenant named", q, m)
		}
	}

	// An IdP account whose address gives "bob", the YAML file's admin: not bob's to sign in as (he signs in by
	// token or password), whatever its groups; nothing changes.
	n := len(e.prod.changes())
	b := newBrowser(t)
	landing, callback := e.signIn(t, b, user("Bob@Example.com", "helpdesk"))
	wantLanding(t, "bob of the YAML file", landing, tenant.CodeSSOConflict)
	if id, _ := e.session(t, b); id != "" {
		t.Errorf("an IdP account signed in as the YAML file's %q", id)
	}
	if got := len(e.prod.changes()); got != n {
		t.Errorf("the refused sign-in produced %d changes", got-n)
	}
	acme, _ := e.dir.Tenant("acme")
	for _, o := range acme.Operators {
		if o.ID == "bob" && (o.Role != tenant.RoleAdmin || o.SSO || o.SSOSubject != "") {
			t.Errorf("bob after the refused sign-in: %+v", o)
		}
	}
	// The same callback again (its state bound to a cookie the callback cleared): refused.
	st, loc := b.get(t, callback)
	if st != http.StatusSeeOther {
		t.Fatalf("replay = %d", st)
	}
	if u, _ := url.Parse(loc); u.RequestURI() != "/?sso_error=sso_state" { // no flow cookie: no tenant known
		t.Errorf("replayed callback: landed on %s", loc)
	}

	// jane, unknown, in the operator group: created just in time, as an operator with the configured capacity.
	jb := newBrowser(t)
	landing, _ = e.signIn(t, jb, user("jane.doe@example.com", "helpdesk"))
	wantLanding(t, "jane", landing, "")
	if id, role := e.session(t, jb); id != "jane-doe" || role != tenant.RoleOperator {
		t.Errorf("jane's session: %q %q", id, role)
	}
	acme, _ = e.dir.Tenant("acme")
	var jane *tenant.Operator
	for i := range acme.Operators {
		if acme.Operators[i].ID == "jane-doe" {
			jane = &acme.Operators[i]
		}
	}
	if jane == nil || !jane.SSO || jane.Capacity != 4 || jane.Role != tenant.RoleOperator || jane.PasswordHash != "" ||
		jane.SSOSubject != e.idp.Issuer()+" sub-jane.doe@example.com" {
		t.Fatalf("jane in the directory: %+v", jane)
	}
	// Another account of the IdP whose address folds to the same id: not jane's.
	xb := newBrowser(t)
	landing, _ = e.signIn(t, xb, user("Jane_Doe@example.com", "helpdesk-admins"))
	wantLanding(t, "another account giving jane-doe", landing, tenant.CodeSSOConflict)
	if id, _ := e.session(t, xb); id != "" {
		t.Errorf("another IdP account signed in as %q", id)
	}

	// alice, an operator of the YAML file an admin marks SSO, put in the admin group: admin from this sign-in on
	// (a config_set, audited by the tenant actor like any role change); taken out of it, operator again at the next
	// sign-in.
	if r := e.do(t, "PATCH", "/v1/operators/alice", bobToken, `{"sso":true}`); r.status != 200 || !strings.Contains(string(r.body), `"sso":true`) {
		t.Fatalf("mark alice SSO = %s", r)
	}
	ab := newBrowser(t)
	landing, _ = e.signIn(t, ab, user("alice@example.com", "helpdesk-admins"))
	wantLanding(t, "alice promoted", landing, "")
	if _, role := e.session(t, ab); role != tenant.RoleAdmin {
		t.Errorf("alice in the admin group: role %q", role)
	}
	landing, _ = e.signIn(t, ab, user("alice@example.com", "helpdesk"))
	wantLanding(t, "alice demoted", landing, "")
	if _, role := e.session(t, ab); role != tenant.RoleOperator {
		t.Errorf("alice out of the admin group: role %q", role)
	}
	var changes []tenant.Change
	for _, rec := range e.prod.changes()[n:] {
		var ch tenant.Change
		if err := json.Unmarshal(rec.Items[0].Command.Config, &ch); err != nil {
			t.Fatal(err)
		}
		if ch.SSOSignIn != nil {
			changes = append(changes, ch)
		}
	}
	if len(changes) != 3 || changes[0].SSOSignIn == nil || !changes[0].SSOSignIn.Create ||
		changes[1].SSOSignIn.Role != tenant.RoleAdmin || changes[2].SSOSignIn.Role != tenant.RoleOperator {
		t.Errorf("changes of the sign-ins: %+v", changes)
	}

	// No group mapped: refused, with a clear code, and no session.
	e.clock.Add(6 * time.Minute) // a fresh limiter window for the refusals below
	nb := newBrowser(t)
	landing, _ = e.signIn(t, nb, user("sam@example.com", "sales"))
	wantLanding(t, "no matching group", landing, tenant.CodeSSONoGroup)
	if id, _ := e.session(t, nb); id != "" {
		t.Errorf("refused, yet signed in as %q", id)
	}
	// Another domain than the allowed one: refused.
	landing, _ = e.signIn(t, nb, user("mallory@evil.example", "helpdesk-admins"))
	wantLanding(t, "another domain", landing, tenant.CodeSSODomain)

	// A token with another nonce, for another audience, or expired: refused.
	landing, _ = e.signIn(t, nb, forged{MockUser: user("bob@example.com", "helpdesk-admins"), nonce: "forged"})
	wantLanding(t, "bad nonce", landing, "sso_failed")
	landing, _ = e.signIn(t, nb, forged{MockUser: user("bob@example.com", "helpdesk-admins"), aud: "another-client"})
	wantLanding(t, "other audience", landing, "sso_failed")
	if id, _ := e.session(t, nb); id != "" {
		t.Errorf("refused, yet signed in as %q", id)
	}
	// An expired ID token (the IdP's clock an hour behind: issued then, expired since): refused.
	e.idp.FastForward(-time.Hour)
	landing, _ = e.signIn(t, nb, user("bob@example.com", "helpdesk-admins"))
	e.idp.FastForward(time.Hour)
	wantLanding(t, "expired token", landing, "sso_failed")
	// Counted: the two conflicts, the replayed callback and these five.
	if got := testutil.ToFloat64(mustCounter(t, e.reg, "failed")); got != 8 {
		t.Errorf("failed sign-ins counted: %v, want 8", got)
	}
	// Five failures from this address: the next sign-in is limited, whoever it is, until the window ends.
	landing, _ = e.callbackOf(t, nb, user("bob@example.com", "helpdesk-admins"))
	wantLanding(t, "limited", landing, "too_many_attempts")
	if testutil.ToFloat64(mustCounter(t, e.reg, "limited")) < 1 {
		t.Error("the limited sign-in is not counted")
	}
	e.clock.Add(6 * time.Minute)

	// A wrong state (a callback this browser did not start): refused, and the code is not tried.
	st, loc = nb.get(t, e.url+"/v1/auth/oidc/start?tenant=acme")
	if st != http.StatusFound {
		t.Fatal(st)
	}
	e.idp.QueueUser(user("bob@example.com", "helpdesk-admins"))
	_, cb := nb.get(t, loc)
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", "not-"+q.Get("state"))
	u.RawQuery = q.Encode()
	_, landing = nb.get(t, u.String())
	wantLanding(t, "wrong state", landing, "sso_state")
	if id, _ := e.session(t, nb); id != "" {
		t.Errorf("a wrong state signed in %q", id)
	}

	// A replayed code by someone who kept the flow cookie: refused (the state was used once).
	kb := newBrowser(t)
	st, loc = kb.get(t, e.url+"/v1/auth/oidc/start?tenant=acme")
	if st != http.StatusFound {
		t.Fatal(st)
	}
	base, _ := url.Parse(e.url + "/v1/auth/oidc/")
	kept := kb.c.Jar.Cookies(base)
	e.idp.QueueUser(user("alice@example.com", "helpdesk-admins"))
	_, cb = kb.get(t, loc)
	if _, landing = kb.get(t, cb); landing != "/" && !strings.HasSuffix(landing, "/") {
		t.Fatalf("first use of the code landed on %s", landing)
	}
	rb := newBrowser(t)
	rb.c.Jar.SetCookies(base, kept)
	_, landing = rb.get(t, cb)
	wantLanding(t, "replayed code with the flow cookie", landing, "sso_state")
	if id, _ := e.session(t, rb); id != "" {
		t.Errorf("a replayed code signed in %q", id)
	}

	// A disabled operator cannot sign in by SSO either.
	if r := e.do(t, "PATCH", "/v1/operators/jane-doe", bobToken, `{"disabled":true}`); r.status != 200 {
		t.Fatalf("disable jane = %s", r)
	}
	if id, _ := e.session(t, jb); id != "" {
		t.Errorf("jane's session outlived her disabling: %q", id)
	}
	db := newBrowser(t)
	landing, _ = e.signIn(t, db, user("jane.doe@example.com", "helpdesk"))
	wantLanding(t, "disabled operator", landing, "sso_operator_disabled")
	if id, _ := e.session(t, db); id != "" {
		t.Errorf("a disabled operator signed in as %q", id)
	}

	// A removed one, still in a mapped group, is created again at its next sign-in (README: disable, not remove).
	if r := e.do(t, "DELETE", "/v1/operators/jane-doe", bobToken, ""); r.status != 200 {
		t.Fatalf("remove jane = %s", r)
	}
	landing, _ = e.signIn(t, db, user("jane.doe@example.com", "helpdesk"))
	wantLanding(t, "removed operator", landing, "")
	if id, _ := e.session(t, db); id != "jane-doe" {
		t.Errorf("removed jane signed in again as %q", id)
	}

	// Sign-in by password keeps working beside SSO.
	if r := e.do(t, "PUT", "/v1/operators/me/password", carolToken, `{"new":"`+goodPassword+`"}`); r.status != 200 {
		t.Fatalf("carol sets a password: %s", r)
	}
	if r := e.send(t, "POST", "/v1/session", nil, `{"operator":"carol","password":"`+goodPassword+`"}`); r.status != 200 {
		t.Errorf("password sign-in = %s", r)
	}

	// Turning SSO off ends the sessions it signed in (on every node: the check reads the configuration) and sends
	// the next start back to the sign-in page.
	if r := e.do(t, "PUT", "/v1/settings/sso", bobToken, `{"enabled":false}`); r.status != 200 {
		t.Fatalf("disable SSO = %s", r)
	}
	if id, _ := e.session(t, ab); id != "" {
		t.Errorf("alice's SSO session outlived SSO: %q", id)
	}
	st, loc = newBrowser(t).get(t, e.url+"/v1/auth/oidc/start?tenant=acme")
	if st != http.StatusSeeOther || !strings.Contains(loc, "sso_error=sso_disabled") {
		t.Errorf("start with SSO off = %d %s", st, loc)
	}
}

// callbackOf runs a sign-in up to the IdP and returns where the callback sends the browser, whatever it is.
func (e *ssoEnv) callbackOf(t *testing.T, b *browser, u mockoidc.User) (string, string) {
	t.Helper()
	st, loc := b.get(t, e.url+"/v1/auth/oidc/start?tenant=acme")
	if st != http.StatusFound {
		// Limited before the IdP: the start itself answers with the sign-in page.
		return loc, ""
	}
	e.idp.QueueUser(u)
	_, cb := b.get(t, loc)
	_, landing := b.get(t, cb)
	return landing, cb
}

// Invalid SSO settings are answered 400 naming the field; nothing is applied.
func TestSSOSettingsInvalid(t *testing.T) {
	e := startTeam(t)
	n := len(e.prod.changes())
	for body, field := range map[string]string{
		`{"enabled":true}`:                         "sso.issuer",
		`{"issuer":"http://idp.example.com"}`:      "sso.issuer",
		`{"groups":[{"group":"g","role":"boss"}]}`: "sso.groups[0].role",
		`{"capacity":0}`:                           "sso.capacity",
		`{"enabled":true,"issuer":"https://idp.example.com","client_id":"c"}`: "sso.groups",
	} {
		r := e.do(t, "PUT", "/v1/settings/sso", bobToken, body)
		wantError(t, body, r, 400, "invalid_setting")
		if !strings.Contains(string(r.body), field) {
			t.Errorf("%s: %s does not name %s", body, r.body, field)
		}
	}
	wantError(t, "unknown field", e.do(t, "PUT", "/v1/settings/sso", bobToken, `{"secret":"x"}`), 400, "invalid_json")
	if got := len(e.prod.changes()); got != n {
		t.Errorf("%d changes produced", got-n)
	}
	if acme, _ := e.dir.Tenant("acme"); acme.SSO != nil {
		t.Errorf("SSO configured: %+v", acme.SSO)
	}
}

// A sign-in started from another site is refused before the IdP: a link elsewhere cannot send a browser through a
// tenant's IdP and back signed in to that tenant (login CSRF, e.g. into a tenant whose IdP signs anyone in), nor use
// the node's address to redirect to whatever a tenant's discovery document names. The console's own button
// (same-origin) and a typed address or bookmark (none) start it; so does a client sending no Sec-Fetch-Site.
func TestSSOStartCrossSite(t *testing.T) {
	e := startSSO(t)
	for site, want := range map[string]int{"cross-site": 303, "same-site": 303, "same-origin": 302, "none": 302, "": 302} {
		req, _ := http.NewRequest("GET", e.url+"/v1/auth/oidc/start?tenant=acme", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		b := newBrowser(t)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != want {
			t.Errorf("Sec-Fetch-Site %q: %d %s, want %d", site, resp.StatusCode, loc, want)
			continue
		}
		base, _ := url.Parse(e.url + "/v1/auth/oidc/")
		if want == 303 {
			if u, _ := url.Parse(loc); u.RequestURI() != "/?sso_error=sso_cross_site" || len(b.c.Jar.Cookies(base)) != 0 {
				t.Errorf("Sec-Fetch-Site %q: refused to %s with cookies %v", site, loc, b.c.Jar.Cookies(base))
			}
		} else if !strings.HasPrefix(loc, e.idp.AuthorizationEndpoint()+"?") {
			t.Errorf("Sec-Fetch-Site %q: %s, want the IdP", site, loc)
		}
	}
}

// An ID token for several audiences must name this client as its authorized party (azp), and one that names another
// client as azp is refused even when this client is in its audience: such a token was issued to another client.
func TestSSOAuthorizedParty(t *testing.T) {
	e := startSSO(t)
	id := e.idp.ClientID
	for _, tt := range []struct {
		name string
		u    forged
		code string
	}{
		{"several audiences, no azp", forged{auds: []string{id, "another-client"}}, "sso_failed"},
		{"several audiences, another azp", forged{auds: []string{id, "another-client"}, azp: "another-client"}, "sso_failed"},
		{"this audience, another azp", forged{azp: "another-client"}, "sso_failed"},
		{"several audiences, this azp", forged{auds: []string{"another-client", id}, azp: id}, ""},
		{"this audience and azp", forged{azp: id}, ""},
	} {
		tt.u.MockUser = user("jane.doe@example.com", "helpdesk")
		b := newBrowser(t)
		landing, _ := e.signIn(t, b, tt.u)
		wantLanding(t, tt.name, landing, tt.code)
		if got, _ := e.session(t, b); (got != "") != (tt.code == "") {
			t.Errorf("%s: signed in as %q", tt.name, got)
		}
	}
}

// An authorization response naming another issuer (RFC 9207's iss) is refused before its code is sent anywhere: in
// a mix-up, the browser comes back from another IdP than the one this sign-in's tenant configured, and its code
// must not go to this tenant's token endpoint (nor this tenant's code to another's). An answer naming this issuer,
// or none (Entra ID sends none), goes on.
func TestSSOAuthorizationResponseIssuer(t *testing.T) {
	e := startSSO(t)
	for _, tt := range []struct{ iss, code string }{{"https://idp.evil.example", "sso_failed"}, {e.idp.Issuer(), ""}} {
		b := newBrowser(t)
		st, loc := b.get(t, e.url+"/v1/auth/oidc/start?tenant=acme")
		if st != http.StatusFound {
			t.Fatal(st, loc)
		}
		e.idp.QueueUser(user("jane.doe@example.com", "helpdesk"))
		_, cb := b.get(t, loc)
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("iss", tt.iss)
		u.RawQuery = q.Encode()
		_, landing := b.get(t, u.String())
		wantLanding(t, "iss "+tt.iss, landing, tt.code)
		if id, _ := e.session(t, b); (id != "") != (tt.code == "") {
			t.Errorf("iss %s: signed in as %q", tt.iss, id)
		}
	}
}

// With the e-mail address as the operator claim, an IdP's "email_verified" of false is refused whether it is sent as
// a boolean or as a string (some IdPs send "false"); true, "true" or no claim at all (Entra ID sends none) go on.
func TestSSOEmailVerified(t *testing.T) {
	e := startSSO(t)
	for _, tt := range []struct {
		v    any
		code string
	}{{false, tenant.CodeSSOClaim}, {"false", tenant.CodeSSOClaim}, {"FALSE", tenant.CodeSSOClaim}, {"true", ""}, {true, ""}} {
		b := newBrowser(t)
		landing, _ := e.signIn(t, b, forged{MockUser: user("jane.doe@example.com", "helpdesk"),
			extra: map[string]any{"email_verified": tt.v}})
		wantLanding(t, fmt.Sprintf("email_verified %#v", tt.v), landing, tt.code)
	}
}

// Another tenant's admin cannot end a tenant's SSO sessions by giving an operator of theirs the token whose hash is
// the SSO sessions' credential (its issuer and client id are no secret): a session is its own operator's, whichever
// operator a token of that hash names.
func TestSSOSessionCredentialNotATokenOfAnotherTenant(t *testing.T) {
	e := startSSO(t)
	b := newBrowser(t)
	landing, _ := e.signIn(t, b, user("jane.doe@example.com", "helpdesk"))
	wantLanding(t, "jane", landing, "")
	acme, _ := e.dir.Tenant("acme")
	cred := tenant.SSOSessionCredential(acme.SSO)
	// globex's admin sets dave's token to "oidc:<acme's issuer>\x00<acme's client id>" (PATCH /v1/operators/dave).
	cfg := &tenant.Config{}
	for _, id := range []string{"acme", "globex"} {
		tn, _ := e.dir.Tenant(id)
		tn = tn.Clone()
		for i := range tn.Operators {
			if id == "globex" && tn.Operators[i].ID == "dave" {
				tn.Operators[i].Token, tn.Operators[i].TokenHash = "", hex.EncodeToString(cred[:])
			}
		}
		cfg.Tenants = append(cfg.Tenants, *tn)
	}
	e.dir.Replace(cfg)
	if op, ok := e.dir.OperatorByTokenHash(cred); !ok || op.Tenant.ID != "globex" {
		t.Fatalf("the token of that hash names %+v", op)
	}
	if id, _ := e.session(t, b); id != "jane-doe" {
		t.Errorf("jane's SSO session after another tenant's token took its credential's hash: %q", id)
	}
}

// Unmarking an operator (PATCH {"sso":false}) ends its SSO sessions at once, as a new password ends the password's:
// single sign-on no longer vouches for it.
func TestSSOUnmarkEndsSessions(t *testing.T) {
	e := startSSO(t)
	if r := e.do(t, "PATCH", "/v1/operators/alice", bobToken, `{"sso":true}`); r.status != 200 {
		t.Fatalf("mark alice = %s", r)
	}
	wantError(t, "mark another tenant's operator", e.do(t, "PATCH", "/v1/operators/dave", bobToken, `{"sso":true}`), 404, "operator_not_found")
	wantError(t, "an operator marks itself", e.do(t, "PATCH", "/v1/operators/me", aliceToken, `{"name":"Alice","sso":false}`), 403, "forbidden")
	b := newBrowser(t)
	landing, _ := e.signIn(t, b, user("alice@example.com", "helpdesk"))
	wantLanding(t, "alice", landing, "")
	if id, _ := e.session(t, b); id != "alice" {
		t.Fatalf("alice's session: %q", id)
	}
	if r := e.do(t, "PATCH", "/v1/operators/alice", bobToken, `{"sso":false}`); r.status != 200 {
		t.Fatalf("unmark alice = %s", r)
	}
	if id, _ := e.session(t, b); id != "" {
		t.Errorf("alice's SSO session outlived her unmarking: %q", id)
	}
}

// The flow cookie: HttpOnly, SameSite=Lax (the IdP's redirect back is a cross-site navigation), scoped to the SSO
// paths, for the flow's 10 minutes, and Secure with --cookie-secure.
func TestSSOFlowCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := startSSO(t, func(cfg *api.Config) { cfg.CookieSecure = secure })
		resp, err := newBrowser(t).c.Get(e.url + "/v1/auth/oidc/start?tenant=acme")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var c *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == "sb_oidc" {
				c = k
			}
		}
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/v1/auth/oidc/" || c.MaxAge != 600 ||
			c.Secure != secure {
			t.Errorf("secure %v: flow cookie %+v", secure, c)
		}
	}
}
