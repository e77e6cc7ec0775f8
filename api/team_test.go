package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/sessiontest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// teamEnv runs the API with a producer that applies config_set as the tenant actor does (tenant.MayChange, then
// tenant.ApplyChange on the directory's acme) and swaps the directory, as the configuration watcher would.
type teamEnv struct {
	*env
	clock *sessiontest.Clock
	reg   *prometheus.Registry
}

func startTeam(t *testing.T, more ...func(*api.Config)) *teamEnv {
	t.Helper()
	c := sessiontest.NewClock(now)
	reg := prometheus.NewRegistry()
	e := start(t, options{configure: func(cfg *api.Config) {
		withClock(c)(cfg)
		cfg.Registerer = reg
		cfg.SignInFailures = 5
		for _, f := range more {
			f(cfg)
		}
	}})
	var mu sync.Mutex
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		if cmd.Type != inbox.CmdConfigSet {
			return outcome.Result{}, false
		}
		mu.Lock()
		defer mu.Unlock()
		var ch tenant.Change
		if err := json.Unmarshal(cmd.Config, &ch); err != nil {
			return outcome.Result{Code: tenant.CodeInvalidSetting, Message: err.Error()}, true
		}
		cur, _ := e.dir.Tenant("acme")
		var caller *tenant.Operator
		for i := range cur.Operators {
			if cmd.OperatorID != "" && cur.Operators[i].ID == cmd.OperatorID {
				caller = &cur.Operators[i]
			}
		}
		if !tenant.MayChange(cur, caller, ch) {
			return outcome.Result{Code: tenant.CodeForbidden, Message: "forbidden"}, true
		}
		next, recs, err := tenant.ApplyChange(cur, ch, c.Now())
		if r, ok := err.(*tenant.Refusal); ok {
			return outcome.Result{Code: r.Code, Message: r.Text()}, true
		} else if err != nil {
			t.Error(err)
			return outcome.Result{}, false
		}
		cfg := &tenant.Config{}
		for _, id := range []string{"acme", "globex"} {
			tn, _ := e.dir.Tenant(id)
			if id == "acme" {
				tn = next
			}
			cfg.Tenants = append(cfg.Tenants, *tn.Clone())
		}
		e.dir.Replace(cfg)
		return outcome.Result{Body: tenant.Applied{Version: next.Version, Records: recs}}, true
	})
	return &teamEnv{env: e, clock: c, reg: reg}
}

func decodeBody(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v in %s", err, r.body)
	}
}

// invite has bob (admin) invite id and returns the link's secret.
func (e *teamEnv) invite(t *testing.T, id, extra string) string {
	t.Helper()
	r := e.do(t, "POST", "/v1/team/invites", bobToken, `{"id":"`+id+`","name":"Erin","role":"operator","capacity":3`+extra+`}`)
	if r.status != 201 {
		t.Fatalf("invite = %s", r)
	}
	var v struct {
		InviteURL string    `json:"invite_url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	decodeBody(t, r, &v)
	_, secret, ok := strings.Cut(v.InviteURL, "/invite/")
	if !ok || len(secret) != 43 || !strings.HasPrefix(v.InviteURL, e.url) {
		t.Fatalf("invite_url %q: want %s/invite/<43 characters>", v.InviteURL, e.url)
	}
	if extra == "" && !v.ExpiresAt.Equal(e.clock.Now().Add(72*time.Hour)) {
		t.Errorf("expires_at %v, want 72 h from now", v.ExpiresAt)
	}
	return secret
}

const goodPassword = "correct horse battery"

func TestInviteAcceptAndSignIn(t *testing.T) {
	e := startTeam(t)
	wantError(t, "an operator invites", e.do(t, "POST", "/v1/team/invites", aliceToken, `{"id":"erin"}`), 403, "forbidden")
	wantError(t, "inviting an existing id", e.do(t, "POST", "/v1/team/invites", bobToken, `{"id":"alice"}`), 409, "operator_exists")
	secret := e.invite(t, "erin", "")
	// The secret is stored nowhere: only its hash is in the configuration.
	acme, _ := e.dir.Tenant("acme")
	if b, _ := json.Marshal(acme); strings.Contains(string(b), secret) {
		t.Fatal("the invite's secret is in the configuration")
	}
	r := e.do(t, "GET", "/v1/invites/"+secret, "", "")
	var shown struct {
		Operator       string `json:"operator"`
		Role           string `json:"role"`
		PasswordPolicy string `json:"password_policy"`
	}
	decodeBody(t, r, &shown)
	if r.status != 200 || shown.Operator != "erin" || shown.Role != "operator" || !strings.Contains(shown.PasswordPolicy, "12") {
		t.Fatalf("GET invite = %s", r)
	}
	for _, bad := range []string{"wrong", secret + "x", strings.Repeat("A", 43)} {
		wantError(t, "GET invite "+bad, e.do(t, "GET", "/v1/invites/"+bad, "", ""), 404, "invite_not_found")
	}
	for _, weak := range []string{"short", "password1234", "i-am-erin-the-operator"} {
		wantError(t, "weak "+weak, e.do(t, "POST", "/v1/invites/"+secret+"/accept", "", `{"password":"`+weak+`"}`), 400, "weak_password")
	}
	wantError(t, "accept from a form", e.send(t, "POST", "/v1/invites/"+secret+"/accept", map[string]string{"Content-Type": "text/plain"},
		`{"password":"`+goodPassword+`"}`), 400, "invalid_json")
	r = e.do(t, "POST", "/v1/invites/"+secret+"/accept", "", `{"password":"`+goodPassword+`"}`)
	if r.status != 201 || !strings.Contains(r.header.Get("Set-Cookie"), "sb_session=") {
		t.Fatalf("accept = %s", r)
	}
	cookie := strings.SplitN(r.header.Get("Set-Cookie"), ";", 2)[0]
	r = e.send(t, "GET", "/v1/session", map[string]string{"Cookie": cookie}, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"id":"erin"`) {
		t.Fatalf("session after accepting = %s", r)
	}
	acme, _ = e.dir.Tenant("acme")
	if b, _ := json.Marshal(acme); !strings.Contains(string(b), `"password_hash":"$argon2id$`) || strings.Contains(string(b), goodPassword) {
		t.Fatal("the operator's password is not kept as an argon2id hash only")
	}
	// Used: the same 404 as a wrong link.
	wantError(t, "GET a used invite", e.do(t, "GET", "/v1/invites/"+secret, "", ""), 404, "invite_not_found")
	wantError(t, "accept twice", e.do(t, "POST", "/v1/invites/"+secret+"/accept", "", `{"password":"`+goodPassword+`"}`), 404, "invite_not_found")
	// Five wrong links from this address: it is limited like failed sign-ins, until the window passes.
	wantError(t, "limited", e.do(t, "GET", "/v1/invites/"+secret, "", ""), 429, "too_many_attempts")
	e.clock.Add(6 * time.Minute)
	// Sign in by password; the tenant may be left out when the id is unique.
	r = e.send(t, "POST", "/v1/session", nil, `{"operator":"erin","password":"`+goodPassword+`"}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"role":"operator"`) {
		t.Fatalf("password sign-in = %s", r)
	}
	// Expired: the same 404.
	old := e.invite(t, "fred", `,"expires_in":"1h"`)
	e.clock.Add(time.Hour)
	wantError(t, "GET an expired invite", e.do(t, "GET", "/v1/invites/"+old, "", ""), 404, "invite_not_found")
	wantError(t, "accept an expired invite", e.do(t, "POST", "/v1/invites/"+old+"/accept", "", `{"password":"`+goodPassword+`"}`), 404, "invite_not_found")
}

func TestFailedPasswordSignInsAreLimitedAndCounted(t *testing.T) {
	e := startTeam(t)
	secret := e.invite(t, "erin", "")
	if r := e.do(t, "POST", "/v1/invites/"+secret+"/accept", "", `{"password":"`+goodPassword+`"}`); r.status != 201 {
		t.Fatal(r)
	}
	for i := range 5 {
		wantError(t, "wrong password "+strconv.Itoa(i), e.send(t, "POST", "/v1/session", nil,
			`{"operator":"erin","tenant":"acme","password":"wrong-`+strconv.Itoa(i)+`"}`), 401, "invalid_credentials")
	}
	wantError(t, "the right password once limited", e.send(t, "POST", "/v1/session", nil,
		`{"operator":"erin","password":"`+goodPassword+`"}`), 429, "too_many_attempts")
	failed := testutil.ToFloat64(mustCounter(t, e.reg, "failed"))
	if failed != 5 {
		t.Errorf("switchboard_signin_attempts_total{result=failed} = %v, want 5", failed)
	}
	e.clock.Add(6 * time.Minute)
	if r := e.send(t, "POST", "/v1/session", nil, `{"operator":"erin","password":"`+goodPassword+`"}`); r.status != 200 {
		t.Fatalf("after the window = %s", r)
	}
	// No operator of that id: the same answer.
	wantError(t, "unknown operator", e.send(t, "POST", "/v1/session", nil, `{"operator":"nobody","password":"x"}`), 401, "invalid_credentials")
}

// mustCounter finds the sign-in counter of result in reg.
func mustCounter(t *testing.T, reg *prometheus.Registry, result string) prometheus.Counter {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_signin_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("no switchboard_signin_attempts_total{result=%q}", result)
	return nil
}

func TestChangePasswordEndsOldSessions(t *testing.T) {
	e := startTeam(t)
	secret := e.invite(t, "erin", "")
	r := e.do(t, "POST", "/v1/invites/"+secret+"/accept", "", `{"password":"`+goodPassword+`"}`)
	var s struct {
		CSRF string `json:"csrf_token"`
	}
	decodeBody(t, r, &s)
	cookie := strings.SplitN(r.header.Get("Set-Cookie"), ";", 2)[0]
	other := e.send(t, "POST", "/v1/session", nil, `{"operator":"erin","password":"`+goodPassword+`"}`)
	otherCookie := strings.SplitN(other.header.Get("Set-Cookie"), ";", 2)[0]
	hdr := map[string]string{"Cookie": cookie, "X-CSRF-Token": s.CSRF}
	wantError(t, "wrong current", e.send(t, "PUT", "/v1/operators/me/password", hdr, `{"current":"nope","new":"another long passphrase"}`), 401, "invalid_credentials")
	wantError(t, "weak new", e.send(t, "PUT", "/v1/operators/me/password", hdr, `{"current":"`+goodPassword+`","new":"short"}`), 400, "weak_password")
	r = e.send(t, "PUT", "/v1/operators/me/password", hdr, `{"current":"`+goodPassword+`","new":"another long passphrase"}`)
	if r.status != 200 {
		t.Fatalf("change password = %s", r)
	}
	newCookie := strings.SplitN(r.header.Get("Set-Cookie"), ";", 2)[0]
	if r := e.send(t, "GET", "/v1/session", map[string]string{"Cookie": newCookie}, ""); r.status != 200 {
		t.Fatalf("the new session = %s", r)
	}
	wantError(t, "another session of the old password", e.send(t, "GET", "/v1/session", map[string]string{"Cookie": otherCookie}, ""), 401, "unauthorized")
	wantError(t, "old password", e.send(t, "POST", "/v1/session", nil, `{"operator":"erin","password":"`+goodPassword+`"}`), 401, "invalid_credentials")
	// An operator configured with a token sets a first password without a current one.
	if r := e.do(t, "PUT", "/v1/operators/me/password", aliceToken, `{"new":"my first long passphrase"}`); r.status != 200 {
		t.Fatalf("first password = %s", r)
	}
	if r := e.send(t, "POST", "/v1/session", nil, `{"operator":"alice","tenant":"acme","password":"my first long passphrase"}`); r.status != 200 {
		t.Fatalf("sign in with the first password = %s", r)
	}
}

func TestDisableAndRemoveOperators(t *testing.T) {
	e := startTeam(t)
	alice := e.signIn(t, aliceToken)
	wantError(t, "an operator disables", e.do(t, "PATCH", "/v1/operators/bob", aliceToken, `{"disabled":true}`), 403, "forbidden")
	if r := e.do(t, "PATCH", "/v1/operators/alice", bobToken, `{"disabled":true}`); r.status != 200 {
		t.Fatalf("disable = %s", r)
	}
	wantError(t, "a disabled operator's token", e.do(t, "GET", "/v1/conversations", aliceToken, ""), 401, "unauthorized")
	wantError(t, "a disabled operator's session", e.send(t, "GET", "/v1/session", map[string]string{"Cookie": alice.cookie}, ""), 401, "unauthorized")
	wantError(t, "a disabled operator signs in", e.send(t, "POST", "/v1/session", nil, `{"token":"`+aliceToken+`"}`), 401, "invalid_credentials")
	if r := e.do(t, "PATCH", "/v1/operators/alice", bobToken, `{"disabled":false}`); r.status != 200 {
		t.Fatalf("enable = %s", r)
	}
	if r := e.do(t, "GET", "/v1/conversations", aliceToken, ""); r.status != 200 {
		t.Fatalf("enabled again = %s", r)
	}
	// Anyone changes their own name, nothing else of themselves.
	if r := e.do(t, "PATCH", "/v1/operators/me", aliceToken, `{"name":"Alice B."}`); r.status != 200 || !strings.Contains(string(r.body), `"name":"Alice B."`) {
		t.Fatalf("own name = %s", r)
	}
	wantError(t, "own capacity", e.do(t, "PATCH", "/v1/operators/me", aliceToken, `{"capacity":9}`), 403, "forbidden")
	wantError(t, "disable the last admin", e.do(t, "PATCH", "/v1/operators/bob", bobToken, `{"disabled":true}`), 409, "last_admin")
	wantError(t, "remove the last admin", e.do(t, "DELETE", "/v1/operators/bob", bobToken, ""), 409, "last_admin")
	wantError(t, "a builder removes", e.do(t, "DELETE", "/v1/operators/alice", carolToken, ""), 403, "forbidden")
	wantError(t, "another tenant's admin removes", e.do(t, "DELETE", "/v1/operators/alice", daveToken, ""), 404, "operator_not_found")
	if r := e.do(t, "DELETE", "/v1/operators/alice", bobToken, ""); r.status != 200 {
		t.Fatalf("remove = %s", r)
	}
	wantError(t, "a removed operator's token", e.do(t, "GET", "/v1/conversations", aliceToken, ""), 401, "unauthorized")
	wantError(t, "remove again", e.do(t, "DELETE", "/v1/operators/alice", bobToken, ""), 404, "operator_not_found")
}

func TestAPITokens(t *testing.T) {
	e := startTeam(t)
	wantError(t, "unknown scope", e.do(t, "POST", "/v1/operators/me/tokens", aliceToken, `{"name":"ci","scopes":["root"]}`), 400, "invalid_setting")
	wantError(t, "no scope", e.do(t, "POST", "/v1/operators/me/tokens", aliceToken, `{"name":"ci","scopes":[]}`), 400, "invalid_setting")
	wantError(t, "an operator issues for another", e.do(t, "POST", "/v1/operators/bob/tokens", aliceToken, `{"name":"ci","scopes":["admin"]}`), 403, "forbidden")
	r := e.do(t, "POST", "/v1/operators/me/tokens", aliceToken, `{"name":"ci","scopes":["conversations:read"]}`)
	if r.status != 201 {
		t.Fatalf("create = %s", r)
	}
	var tok struct {
		ID, Token string
		Scopes    []string
	}
	decodeBody(t, r, &tok)
	if !strings.HasPrefix(tok.Token, "sbt_") || tok.ID == "" {
		t.Fatalf("created %s", r.body)
	}
	acme, _ := e.dir.Tenant("acme")
	if b, _ := json.Marshal(acme); strings.Contains(string(b), tok.Token) {
		t.Fatal("the token's secret is in the configuration")
	}
	if r := e.do(t, "GET", "/v1/conversations", tok.Token, ""); r.status != 200 {
		t.Fatalf("read with the token = %s", r)
	}
	wantError(t, "write beyond the scope", e.do(t, "PUT", "/v1/operators/me/availability", tok.Token, `{"availability":"online"}`), 403, "insufficient_scope")
	wantError(t, "contacts beyond the scope", e.do(t, "GET", "/v1/contacts", tok.Token, ""), 403, "insufficient_scope")
	wantError(t, "tokens need admin scope", e.do(t, "POST", "/v1/operators/me/tokens", tok.Token, `{"name":"x","scopes":["admin"]}`), 403, "insufficient_scope")
	// Listed without the secret, with this node's last use.
	r = e.do(t, "GET", "/v1/operators/me/tokens", aliceToken, "")
	if r.status != 200 || strings.Contains(string(r.body), tok.Token) || strings.Contains(string(r.body), "sha256") ||
		!strings.Contains(string(r.body), `"last_used_at":"`+now.Format(time.RFC3339)) {
		t.Fatalf("list = %s", r)
	}
	// Only its owner or an admin of its tenant revokes it; anyone else finds nothing.
	wantError(t, "carol revokes alice's", e.do(t, "DELETE", "/v1/tokens/"+tok.ID, carolToken, ""), 404, "token_not_found")
	wantError(t, "another tenant revokes", e.do(t, "DELETE", "/v1/tokens/"+tok.ID, daveToken, ""), 404, "token_not_found")
	if r := e.do(t, "DELETE", "/v1/tokens/"+tok.ID, aliceToken, ""); r.status != 200 || !strings.Contains(string(r.body), "revoked_at") {
		t.Fatalf("revoke = %s", r)
	}
	wantError(t, "a revoked token", e.do(t, "GET", "/v1/conversations", tok.Token, ""), 401, "unauthorized")
	// An admin issues one for another operator, and removing that operator revokes it.
	r = e.do(t, "POST", "/v1/operators/alice/tokens", bobToken, `{"name":"bot","scopes":["contacts:write"]}`)
	decodeBody(t, r, &tok)
	if r.status != 201 {
		t.Fatal(r)
	}
	if r := e.do(t, "GET", "/v1/contacts", tok.Token, ""); r.status != 200 {
		t.Fatalf("contacts:write reads contacts = %s", r)
	}
	wantError(t, "another tenant's admin lists", e.do(t, "GET", "/v1/operators/alice/tokens", daveToken, ""), 404, "operator_not_found")
	if r := e.do(t, "DELETE", "/v1/operators/alice", bobToken, ""); r.status != 200 {
		t.Fatal(r)
	}
	wantError(t, "the token of a removed operator", e.do(t, "GET", "/v1/contacts", tok.Token, ""), 401, "unauthorized")
	// The contract's spelling of a revocation: under its operator, whose id must be the token's.
	r = e.do(t, "POST", "/v1/operators/me/tokens", carolToken, `{"name":"x","scopes":["admin"]}`)
	decodeBody(t, r, &tok)
	wantError(t, "revoke under another operator", e.do(t, "DELETE", "/v1/operators/bob/tokens/"+tok.ID, bobToken, ""), 404, "token_not_found")
	if r := e.do(t, "DELETE", "/v1/operators/carol/tokens/"+tok.ID, bobToken, ""); r.status != 200 {
		t.Fatalf("admin revokes under the operator = %s", r)
	}
	wantError(t, "revoked", e.do(t, "GET", "/v1/settings", tok.Token, ""), 401, "unauthorized")
	// POST /v1/operators is an invite.
	r = e.do(t, "POST", "/v1/operators", bobToken, `{"id":"gil","name":"Gil"}`)
	if r.status != 201 || !strings.Contains(string(r.body), `"invite_url":"`) {
		t.Fatalf("POST /v1/operators = %s", r)
	}
	if got := e.do(t, "GET", "/v1/operators/alice/tokens", bobToken, ""); got.status != http.StatusNotFound {
		t.Fatalf("tokens of a removed operator = %s", got)
	}
}
