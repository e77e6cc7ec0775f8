package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api/egress"
	"github.com/valyala/fasthttp"
)

// discovery serves a discovery document naming the given token and keys endpoints (issuer: the server itself), padded
// to pad bytes.
func discovery(t *testing.T, token, jwks func(base string) string, pad int) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := srv.URL
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,"padding":%q}`,
			base, base+"/authorize", token(base), jwks(base), strings.Repeat("x", pad))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func same(path string) func(string) string { return func(base string) string { return base + path } }

// The node's requests to an IdP: only the issuer's host, bounded answers, no loopback unless allowed.
func TestOIDCIssuerOnly(t *testing.T) {
	now := time.Now()
	ok := discovery(t, same("/token"), same("/keys"), 0)
	if _, _, err := newSSOState(true, false).provider(ok.URL, now); err != nil {
		t.Fatalf("a well-formed issuer: %v", err)
	}
	// Loopback refused unless allowed (the dialer's check, before any byte is sent).
	if _, _, err := newSSOState(false, false).provider(ok.URL, now); !errors.As(err, new(*egress.Refused)) {
		t.Errorf("a loopback issuer without --oidc-allow-loopback: %v", err)
	}
	// Private addresses (the network the node runs in) refused unless allowed, and no proxy is used (the dialer
	// would check the proxy's address instead of the IdP's).
	for _, issuer := range []string{"https://10.255.255.1", "https://192.168.255.254", "https://100.64.0.1", "https://[fd00::1]"} {
		if _, _, err := newSSOState(false, false).provider(issuer, now); !errors.As(err, new(*egress.Refused)) {
			t.Errorf("a private issuer %s: %v", issuer, err)
		}
	}
	if tr, ok := newSSOState(false, false).transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Error("the IdP's requests may go through a proxy")
	}
	// Endpoints on another host than the issuer's: refused at discovery.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ok.URL, "http://"))
	other := func(string) string { return "http://localhost:" + port + "/keys" }
	for name, srv := range map[string]*httptest.Server{
		"token": discovery(t, other, same("/keys"), 0),
		"keys":  discovery(t, same("/token"), other, 0),
	} {
		_, _, err := newSSOState(true, false).provider(srv.URL, now)
		if err == nil || !strings.Contains(err.Error(), "not on the issuer's host") {
			t.Errorf("%s endpoint on another host: %v", name, err)
		}
	}
	// The client refuses another host whatever asks it.
	hc, err := newSSOState(true, false).client(ok.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Get("http://localhost:" + port + "/"); err == nil || !strings.Contains(err.Error(), "not the issuer's host") {
		t.Errorf("a request to another host: %v", err)
	}
	// An answer over the bound.
	big := discovery(t, same("/token"), same("/keys"), oidcMaxBody)
	if _, _, err := newSSOState(true, false).provider(big.URL, now); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("a discovery document over %d bytes: %v", oidcMaxBody, err)
	}
	// A failed discovery is remembered for a while: the broken issuer is not asked again at once.
	s := newSSOState(true, false)
	_, _, err1 := s.provider(big.URL, now)
	big.Close()
	if _, _, err2 := s.provider(big.URL, now.Add(time.Second)); err2 != err1 {
		t.Errorf("asked again within %v: %v", oidcFailureTTL, err2)
	}
}

// An ID token signed with alg none, or with HS256 keyed by the client secret (which the node knows, and an attacker
// who learns it could forge), is refused: only the issuer's asymmetric keys sign.
func TestOIDCTokenAlgorithms(t *testing.T) {
	const secret = "the-client-secret-of-this-test"
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	var srv *httptest.Server
	var idToken string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,
				"id_token_signing_alg_values_supported":["RS256","HS256","none"]}`, srv.URL, srv.URL+"/authorize", srv.URL+"/token", srv.URL+"/keys")
		case "/keys":
			fmt.Fprint(w, `{"keys":[]}`)
		case "/token":
			fmt.Fprintf(w, `{"access_token":"a","token_type":"Bearer","id_token":%q}`, idToken)
		}
	}))
	t.Cleanup(srv.Close)
	claims := b64(map[string]any{"iss": srv.URL, "aud": "client", "sub": "jane", "nonce": "n",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
	mac := hmac.New(sha256.New, []byte(secret))
	hsHead := b64(map[string]string{"alg": "HS256", "typ": "JWT"})
	mac.Write([]byte(hsHead + "." + claims))
	s := &tenant.SSO{Enabled: true, Issuer: srv.URL, ClientID: "client", ClientSecret: secret}
	st := newSSOState(true, false)
	p, hc, err := st.provider(srv.URL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"none":  b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + claims + ".",
		"HS256": hsHead + "." + claims + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)),
	} {
		idToken = tok
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("http://node.example.com/v1/auth/oidc/callback")
		if _, err := (&API{}).exchange(&ctx, s, p, hc, "code", flow{Nonce: "n", Verifier: "v"}); err == nil ||
			!strings.Contains(err.Error(), "verify the ID token") || !strings.Contains(err.Error(), "signature algorithm") {
			t.Errorf("an ID token signed with %s: %v", name, err)
		}
	}
}

// An issuer that ends with a slash (Auth0's do) is kept as the admin typed it: ID tokens and the discovery document
// must name it exactly, so a configuration without the slash could never sign anyone in.
func TestOIDCIssuerTrailingSlash(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q}`,
			srv.URL+"/", srv.URL+"/authorize", srv.URL+"/oauth/token", srv.URL+"/.well-known/jwks.json")
	}))
	t.Cleanup(srv.Close)
	cur := &tenant.Tenant{ID: "acme", Settings: tenant.Settings{ReopenTo: "queue", Routing: tenant.RoutingAuto}, Operators: []tenant.Operator{{ID: "root", Role: tenant.RoleAdmin, TokenHash: strings.Repeat("a", 64)}}}
	next, _, err := tenant.ApplyChange(cur, tenant.Change{SSO: &tenant.SSOChange{Issuer: new(srv.URL + "/")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newSSOState(true, false).provider(next.SSO.Issuer, time.Now()); err != nil {
		t.Errorf("issuer %q: %v", next.SSO.Issuer, err)
	}
}
