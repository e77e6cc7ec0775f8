package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/sessiontest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// withClock runs the API on a settable clock.
func withClock(c *sessiontest.Clock) func(*api.Config) {
	return func(cfg *api.Config) {
		cfg.Now = c.Now
		cfg.Sessions = api.NewMemorySessions(0, c.Now)
	}
}

// send sends a request with the given headers and a raw body (none when empty), and reads the answer.
func (e *env) send(t *testing.T, method, path string, hdr map[string]string, body string) response {
	t.Helper()
	resp := e.request(t, method, path, hdr, body)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// request sends a request with the given headers and a raw body (none when empty); the caller closes the body.
func (e *env) request(t testing.TB, method, path string, hdr map[string]string, body string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" && (body[0] == '{' || body[0] == '[') {
		req.Header.Set("Content-Type", "application/json") // as a browser's fetch and scripts send JSON
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type signedIn struct {
	cookie string // "sb_session=…"
	body   struct {
		Operator struct {
			ID, Name, Role string
		} `json:"operator"`
		TenantID  string    `json:"tenant_id"`
		CSRFToken string    `json:"csrf_token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

// signIn signs in with token and checks the cookie's attributes.
func (e *env) signIn(t *testing.T, token string) signedIn {
	t.Helper()
	r := e.send(t, "POST", "/v1/session", nil, `{"token":"`+token+`"}`)
	if r.status != 200 {
		t.Fatalf("sign in = %s", r)
	}
	var s signedIn
	if err := json.Unmarshal(r.body, &s.body); err != nil {
		t.Fatal(err)
	}
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{"sb_session=", "Path=/", "HttpOnly", "SameSite=Strict", "max-age=43200"} {
		if !strings.Contains(strings.ToLower(sc), strings.ToLower(want)) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(strings.ToLower(sc), "secure;") || strings.HasSuffix(strings.ToLower(sc), "secure") {
		t.Errorf("Set-Cookie %q is Secure without --cookie-secure", sc)
	}
	s.cookie = strings.SplitN(sc, ";", 2)[0]
	if v := strings.TrimPrefix(s.cookie, "sb_session="); len(v) != 43 {
		t.Errorf("cookie value %q: want 32 bytes base64url (43 characters)", v)
	}
	return s
}

func TestSignInWithATokenGivesACookieSession(t *testing.T) {
	c := sessiontest.NewClock(now)
	e := start(t, options{configure: withClock(c)})
	s := e.signIn(t, aliceToken)
	b := s.body
	if b.Operator.ID != "alice" || b.Operator.Name != "Alice" || b.Operator.Role != "operator" || b.TenantID != "acme" {
		t.Errorf("session body %+v", b)
	}
	if len(b.CSRFToken) < 32 || !b.ExpiresAt.Equal(now.Add(12*time.Hour)) {
		t.Errorf("csrf %q expires %v, want a token and %v", b.CSRFToken, b.ExpiresAt, now.Add(12*time.Hour))
	}

	// The console's boot: the same body from the cookie.
	r := e.send(t, "GET", "/v1/session", map[string]string{"Cookie": s.cookie}, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"csrf_token":"`+b.CSRFToken+`"`) {
		t.Errorf("GET /v1/session = %s", r)
	}
	// The cookie authenticates reads like a token.
	if r := e.send(t, "GET", "/v1/conversations", map[string]string{"Cookie": s.cookie}, ""); r.status != 200 {
		t.Errorf("GET /v1/conversations with the cookie = %s", r)
	}
	wantError(t, "GET /v1/session without a cookie", e.send(t, "GET", "/v1/session", nil, ""), 401, "unauthorized")
	wantError(t, "a forged cookie", e.send(t, "GET", "/v1/conversations",
		map[string]string{"Cookie": "sb_session=" + strings.Repeat("A", 43)}, ""), 401, "unauthorized")
	wantError(t, "a bad token", e.send(t, "POST", "/v1/session", nil, `{"token":"nope"}`), 401, "invalid_credentials")
	wantError(t, "no JSON", e.send(t, "POST", "/v1/session", nil, `token`), 400, "invalid_json")

	// Expired after 12 h.
	c.Add(12*time.Hour + time.Second)
	wantError(t, "an expired session", e.send(t, "GET", "/v1/conversations", map[string]string{"Cookie": s.cookie}, ""),
		401, "unauthorized")
}

func TestCookieWritesNeedTheCSRFToken(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Unassigned, ""))
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Body: map[string]string{"id": cmd.ConversationID}}, true
	})
	s := e.signIn(t, aliceToken)
	path := "/v1/conversations/c0000000000000001/take"
	wantError(t, "a cookie write without X-CSRF-Token", e.send(t, "POST", path, map[string]string{"Cookie": s.cookie}, ""),
		403, "csrf_token_invalid")
	wantError(t, "a cookie write with a wrong X-CSRF-Token", e.send(t, "POST", path,
		map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.body.CSRFToken + "x"}, ""), 403, "csrf_token_invalid")
	if n := len(e.prod.records()); n != 0 {
		t.Fatalf("%d commands queued by refused writes", n)
	}
	if r := e.send(t, "POST", path, map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.body.CSRFToken}, ""); r.status != 200 {
		t.Errorf("a cookie write with the CSRF token = %s", r)
	}
	// A bearer token needs none, even with a cookie beside it.
	if r := e.send(t, "POST", path, map[string]string{"Authorization": "Bearer " + aliceToken, "Cookie": s.cookie}, ""); r.status != 200 {
		t.Errorf("a bearer write = %s", r)
	}
	if recs := e.prod.records(); len(recs) != 2 || recs[0].Items[0].Command.OperatorID != "alice" {
		t.Errorf("queued %+v, want two takes by alice", recs)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	e := start(t, options{})
	s := e.signIn(t, bobToken)
	other := e.signIn(t, bobToken)
	wantError(t, "sign-out without the CSRF token", e.send(t, "DELETE", "/v1/session", map[string]string{"Cookie": s.cookie}, ""),
		403, "csrf_token_invalid")
	r := e.send(t, "DELETE", "/v1/session", map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.body.CSRFToken}, "")
	if r.status != 204 {
		t.Fatalf("DELETE /v1/session = %s", r)
	}
	if sc := strings.ToLower(r.header.Get("Set-Cookie")); !strings.Contains(sc, "sb_session=;") || !strings.Contains(sc, "expires=") {
		t.Errorf("sign-out Set-Cookie %q does not expire the cookie", sc)
	}
	wantError(t, "the signed-out session", e.send(t, "GET", "/v1/session", map[string]string{"Cookie": s.cookie}, ""), 401, "unauthorized")
	if r := e.send(t, "GET", "/v1/session", map[string]string{"Cookie": other.cookie}, ""); r.status != 200 {
		t.Errorf("the other session of the same operator = %s", r)
	}
}

func TestFailedSignInsAreLimitedPerAddress(t *testing.T) {
	c := sessiontest.NewClock(now)
	e := start(t, options{configure: withClock(c)})
	for i := range 10 {
		wantError(t, "bad token "+strconv.Itoa(i), e.send(t, "POST", "/v1/session", nil, `{"token":"guess-`+strconv.Itoa(i)+`"}`),
			401, "invalid_credentials")
	}
	c.Add(time.Minute)
	r := e.send(t, "POST", "/v1/session", nil, `{"token":"guess-10"}`)
	wantError(t, "the 11th attempt", r, 429, "too_many_attempts")
	if ra := r.header.Get("Retry-After"); ra != "240" {
		t.Errorf("Retry-After %q, want 240 (the 5-minute window's rest)", ra)
	}
	// Limited, a right token is refused as well: guessing cannot go on by trying known-good ones in between.
	wantError(t, "a good token while limited", e.send(t, "POST", "/v1/session", nil, `{"token":"`+aliceToken+`"}`),
		429, "too_many_attempts")
	// A bearer token is the same credential: the limited address cannot go on guessing through any endpoint.
	wantError(t, "bearer while the address is limited", e.do(t, "GET", "/v1/conversations", aliceToken, ""),
		429, "too_many_attempts")
	c.Add(4 * time.Minute)
	e.signIn(t, aliceToken)
}

func TestUnknownBearerTokensAreChargedToTheAddress(t *testing.T) {
	c := sessiontest.NewClock(now)
	e := start(t, options{configure: withClock(c)})
	for i := range 10 {
		wantError(t, "bad bearer "+strconv.Itoa(i), e.do(t, "GET", "/v1/conversations", "guess-"+strconv.Itoa(i), ""),
			401, "unauthorized")
	}
	r := e.do(t, "GET", "/v1/inbox/counts", "guess-10", "")
	wantError(t, "the 11th guess", r, 429, "too_many_attempts")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	wantError(t, "a sign-in from the address", e.send(t, "POST", "/v1/session", nil, `{"token":"`+aliceToken+`"}`),
		429, "too_many_attempts")
	c.Add(5 * time.Minute)
	if r := e.do(t, "GET", "/v1/conversations", aliceToken, ""); r.status != 200 {
		t.Errorf("a good bearer after the window = %s", r)
	}
}

func TestMemorySessionsConform(t *testing.T) {
	sessiontest.Run(t, func(_ *testing.T, max int, now func() time.Time) api.Sessions {
		return api.NewMemorySessions(max, now)
	})
}

// A cross-site form can post text/plain without a preflight; sign-in takes JSON only, so such a form cannot sign a
// browser into a session of the form's choosing.
func TestSignInTakesJSONOnly(t *testing.T) {
	e := start(t, options{})
	r := e.send(t, "POST", "/v1/session", map[string]string{"Content-Type": "text/plain"}, `{"token":"`+aliceToken+`"}`)
	wantError(t, "a text/plain sign-in", r, 400, "invalid_json")
	if sc := r.header.Get("Set-Cookie"); sc != "" {
		t.Errorf("a refused sign-in set a cookie: %q", sc)
	}
}

// A session lasts only as long as the token it was signed in with: rotating a leaked token in the configuration
// ends the sessions made with it, while sessions of the operator's still-configured tokens are untouched.
func TestRotatingATokenEndsItsSessions(t *testing.T) {
	shared := api.NewMemorySessions(0, func() time.Time { return now })
	withShared := func(c *api.Config) { c.Sessions = shared }
	before := start(t, options{configure: withShared})
	s := before.signIn(t, aliceToken)

	cfg, err := tenant.Load("testdata/tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rotated := false
	for i := range cfg.Tenants {
		for j := range cfg.Tenants[i].Operators {
			if o := &cfg.Tenants[i].Operators[j]; o.Token == aliceToken {
				o.Token, rotated = "alice-rotated-token-0000000001", true
			}
		}
	}
	if !rotated {
		t.Fatal("alice's token is not in testdata/tenants.yaml")
	}
	after := start(t, options{configure: func(c *api.Config) {
		withShared(c)
		c.Directory = tenant.NewDirectory(cfg)
	}})
	wantError(t, "the session after its token was rotated", after.send(t, "GET", "/v1/session",
		map[string]string{"Cookie": s.cookie}, ""), 401, "unauthorized")
	if r := before.send(t, "GET", "/v1/session", map[string]string{"Cookie": s.cookie}, ""); r.status != 200 {
		t.Errorf("the same session where the token is still configured = %s", r)
	}
}
