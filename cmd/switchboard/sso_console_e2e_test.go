package main_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// TestConsoleSingleSignOn: Alice (admin) configures single sign-on on Settings → Single sign-on against an OpenID
// Connect provider the test serves on loopback (mockoidc), with the IdP's groups mapped to roles; the secret is
// never shown again, and the change is in the audit log. Then a fresh browser's sign-in page offers "Sign in with
// single sign-on", goes through the IdP and lands in the inbox as Jane, created at her first sign-in with the role
// her group gives; and a user in no mapped group is sent back to the sign-in page, told why.
func TestConsoleSingleSignOn(t *testing.T) {
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	const secret = "console-sso-client-secret"
	idp.ClientSecret = secret

	n := newNodeConfig(t, conConfig, "--oidc-allow-loopback")
	n.start()
	admin := newBrowser(t)
	admin.signIn(n, conAlice, "")
	admin.click(`#nav-sso`)
	admin.waitJS(`location.pathname === '/settings/sso'`, "the single sign-on page")
	admin.waitJS(`document.getElementById('sso-callback')?.value === `+quoteJS(n.url("/v1/auth/oidc/callback")),
		"the callback URL to register")
	admin.text(`#sso-secret-state`, "not set")
	admin.setInput(`#sso-issuer`, idp.Issuer())
	admin.setInput(`#sso-client-id`, idp.ClientID)
	admin.setInput(`#sso-client-secret`, secret)
	admin.setInput(`#sso-scopes`, "email profile groups")
	admin.click(`#sso-add-group`)
	admin.setInput(`#sso-group-0`, "helpdesk-admins")
	admin.setInput(`#sso-role-0`, "admin")
	admin.click(`#sso-add-group`)
	admin.setInput(`#sso-group-1`, "helpdesk")
	admin.setInput(`#sso-role-1`, "builder")
	admin.setInput(`#sso-capacity`, "3")
	admin.click(`#sso-enabled`)
	admin.click(`#sso-save`)
	admin.text(`#sso-notice`, "Saved")
	admin.text(`#sso-secret-state`, "set")
	admin.waitJS(`document.getElementById('sso-client-secret').value === ''`, "the secret field emptied")
	admin.js(`document.getElementById('sso-page').scrollTop = 0`)
	admin.screenshot("sso-settings")
	if html := jsValue[string](admin, `document.documentElement.outerHTML`); strings.Contains(html, secret) {
		t.Error("the settings page shows the client secret")
	}
	body := n.mustCall("GET", "/v1/settings/sso", conAlice, nil, 200)
	if strings.Contains(string(body), secret) {
		t.Errorf("GET /v1/settings/sso shows the client secret: %s", body)
	}
	var audit struct {
		Entries []struct {
			Action, Target string
			Changes        []struct {
				Field string
				To    json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/audit?action=sso.", conAlice, nil, 200), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 1 || audit.Entries[0].Target != "sso/oidc" || strings.Contains(string(n.mustCall("GET",
		"/v1/audit", conAlice, nil, 200)), secret) {
		t.Errorf("audit entries of the SSO change: %+v", audit.Entries)
	}

	admin.click(`#nav-audit`)
	admin.text(`#audit-table`, "Set up single sign-on")
	admin.text(`#audit-table`, "(changed)")
	admin.screenshot("sso-audit")

	// A fresh browser: the sign-in page offers single sign-on (the node serves one tenant: no tenant field).
	jane := newBrowser(t)
	jane.run(chromedp.Navigate(n.url("/")), chromedp.WaitVisible(chromedp.CSS(`#sso-start`)))
	jane.text(`#sso-start`, "Sign in with single sign-on")
	jane.screenshot("sso-signin")
	idp.QueueUser(&mockoidc.MockUser{Subject: "jane-1", Email: "jane.doe@example.com", EmailVerified: true,
		PreferredUsername: "Jane Doe", Groups: []string{"helpdesk", "everyone"}})
	jane.click(`#sso-start`)
	jane.run(chromedp.WaitVisible(chromedp.CSS(`#tab-unassigned`)))
	jane.waitJS(`location.pathname === '/' && document.querySelector('.me-role')?.textContent === 'builder'`, "Jane in the inbox as a builder")
	jane.waitJS(`!document.getElementById('conn-banner')`, "the live stream connected")
	jane.text(`.me-name`, "Jane Doe")
	if jane.hasElement(`#nav-sso`) {
		t.Error("a builder sees Settings → Single sign-on")
	}
	jane.screenshot("sso-inbox")
	var op struct {
		Role     string
		Capacity int
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/operators/jane-doe-example-com", conAlice, nil, 200), &op); err != nil ||
		op.Role != "builder" || op.Capacity != 3 {
		t.Errorf("jane as created: %+v (%v)", op, err)
	}

	// Jane's creation is in the audit log, made by her sign-in.
	if err := json.Unmarshal(n.mustCall("GET", "/v1/audit?action=operator.added", conAlice, nil, 200), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 1 || audit.Entries[0].Target != "operator/jane-doe-example-com" {
		t.Errorf("audit entries of Jane's creation: %+v", audit.Entries)
	}

	// An operator of the YAML file signs in by SSO only once an admin marks them so, on the Team page; an admin's
	// own dialog has no such box (nobody marks themselves).
	admin.click(`#nav-team`)
	admin.click(`#team-edit-alice`)
	admin.run(chromedp.WaitVisible(chromedp.CSS(`#edit-dialog`)))
	if admin.hasElement(`#edit-sso`) {
		t.Error("the admin's own edit dialog offers to mark them SSO")
	}
	admin.js(`document.querySelector('#edit-dialog').closest('.overlay').click()`)
	admin.waitJS(`!document.getElementById('edit-dialog')`, "the dialog closed")
	admin.click(`#team-edit-bob`)
	admin.click(`#edit-sso`)
	admin.screenshot("sso-team-mark")
	admin.click(`#edit-save`)
	admin.waitJS(`!document.getElementById('edit-dialog')`, "the dialog closed after saving")
	admin.text(`#team-row-bob`, "SSO")
	var bob struct{ SSO bool }
	if err := json.Unmarshal(n.mustCall("GET", "/v1/operators/bob", conAlice, nil, 200), &bob); err != nil || !bob.SSO {
		t.Errorf("bob after the admin marked him SSO: %+v (%v)", bob, err)
	}
	admin.screenshot("sso-team")

	// Someone in none of the mapped groups: back on the sign-in page, told why, not signed in.
	sam := newBrowser(t)
	sam.run(chromedp.Navigate(n.url("/")), chromedp.WaitVisible(chromedp.CSS(`#sso-start`)))
	idp.QueueUser(&mockoidc.MockUser{Subject: "sam-1", Email: "sam@example.com", EmailVerified: true, Groups: []string{"sales"}})
	sam.click(`#sso-start`)
	sam.run(chromedp.WaitVisible(chromedp.CSS(`#sso-error`)))
	sam.text(`#sso-error`, "none of the groups")
	sam.waitJS(`location.search === '' && !document.getElementById('tab-unassigned')`, "still signed out, the address cleaned")
	if sam.hasElement(`#sso-signin .link-btn`) {
		t.Error("a node of one tenant offers to choose another organisation")
	}
	sam.screenshot("sso-refused")
}

// hasElement reports whether the page has an element matching sel now.
func (b *browser) hasElement(sel string) bool {
	b.t.Helper()
	return jsValue[bool](b, `document.querySelector(`+quoteJS(sel)+`) !== null`)
}

// TestSingleSignOnRoleOnEveryNode: the role a sign-in's groups give is a configuration change every node applies. Bo
// (an operator of the YAML file, refused by SSO until an admin marks him SSO) signs in by SSO on node A in the admin
// group: node B, which shares A's broker, lets his token change the settings soon after; signed in again out of that
// group, node B refuses him again.
func TestSingleSignOnRoleOnEveryNode(t *testing.T) {
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	a := newNodeConfig(t, configY, "--oidc-allow-loopback")
	a.start()
	b := newNodeConfig(t, configY, "--kafka-brokers", a.kafka, "--roles", "api")
	b.start()
	a.mustCall("PUT", "/v1/settings/sso", cfgAda, map[string]any{"enabled": true, "issuer": idp.Issuer(),
		"client_id": idp.ClientID, "client_secret": idp.ClientSecret, "scopes": []string{"email", "groups"},
		"allowed_domains": []string{"example.com"},
		"groups":          []map[string]string{{"group": "admins", "role": "admin"}, {"group": "staff", "role": "operator"}}}, 200)

	signIn := func(want string, groups ...string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(u string) string {
			t.Helper()
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.Header.Get("Location")
		}
		idp.QueueUser(&mockoidc.MockUser{Subject: "bo-1", Email: "bo@example.com", EmailVerified: true, Groups: groups})
		landing := get(get(get(a.url("/v1/auth/oidc/start?tenant=cfg"))))
		if landing != a.url(want) {
			t.Fatalf("bo's sign-in in %v landed on %s", groups, landing)
		}
	}
	settingsOnB := func() int {
		code, _ := b.get("/v1/settings", cfgBo)
		return code
	}
	if code := settingsOnB(); code != 403 {
		t.Fatalf("bo, an operator, reads the settings on node B: %d", code)
	}
	signIn("/?sso_error=sso_operator_conflict&tenant=cfg", "admins", "staff")
	a.mustCall("PATCH", "/v1/operators/bo", cfgAda, map[string]any{"sso": true}, 200)
	signIn("/", "admins", "staff")
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool { return settingsOnB() == 200 },
		"node B lets bo, made admin by his groups, read the settings")
	signIn("/", "staff")
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool { return settingsOnB() == 403 },
		"node B refuses bo again once out of the admin group")
}

// TestConsoleSingleSignOnTenantField: on a node of several tenants the sign-in page cannot know the tenant, so
// "Sign in with single sign-on" asks for the organisation first: one without SSO is told so, one with it goes to its
// IdP; the browser remembers it and offers its button straight away the next time.
func TestConsoleSingleSignOnTenantField(t *testing.T) {
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	n := newNodeConfig(t, conConfig+`  - id: globex
    channels:
      - {id: globex-wa, type: whatsapp, phone_number_id: "900800700", app_secret: "globex-secret", verify_token: gv, access_token: globex-access}
    operators:
      - {id: gina, name: Gina, role: admin, token: "globex-gina-token-0001"}
`, "--oidc-allow-loopback")
	n.start()
	n.mustCall("PUT", "/v1/settings/sso", conAlice, map[string]any{"enabled": true, "issuer": idp.Issuer(),
		"client_id": idp.ClientID, "client_secret": idp.ClientSecret, "scopes": []string{"email", "groups"},
		"groups": []map[string]string{{"group": "staff", "role": "operator"}}}, 200)

	b := newBrowser(t)
	// A link naming a tenant (here acme, whose IdP could as well be a look-alike of another's) does not make the page
	// offer that tenant's IdP: the page asks, says what came back, and clears its address.
	b.run(chromedp.Navigate(n.url("/?sso_error=sso_state&tenant=acme")), chromedp.WaitVisible(chromedp.CSS(`#sso-ask`)))
	b.text(`#sso-error`, "Start it again")
	if jsValue[bool](b, `document.getElementById('sso-start') !== null || location.search !== ''`) {
		t.Error("the sign-in page took its tenant from the address")
	}
	// A code the page does not know, even one naming a property every object has, gets the general message.
	b.run(chromedp.Navigate(n.url("/?sso_error=constructor")), chromedp.WaitVisible(chromedp.CSS(`#sso-ask`)))
	b.text(`#sso-error`, "Single sign-on did not sign you in.")
	b.run(chromedp.Navigate(n.url("/")), chromedp.WaitVisible(chromedp.CSS(`#sso-ask`)))
	b.click(`#sso-ask`)
	b.setInput(`#sso-tenant`, "globex")
	b.click(`#sso-continue`)
	b.text(`#sso-error`, "not set up for “globex”")
	b.screenshot("sso-tenant-field")
	b.setInput(`#sso-tenant`, "acme")
	idp.QueueUser(&mockoidc.MockUser{Subject: "kim-1", Email: "kim@example.org", EmailVerified: true, Groups: []string{"staff"}})
	b.click(`#sso-continue`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#tab-unassigned`)))
	b.waitJS(`document.querySelector('.me-role')?.textContent === 'operator'`, "Kim in acme's inbox as an operator")
	b.click(`#signout`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#sso-start`)))
	b.text(`#sso-signin`, "Not acme? Choose another organisation")
	b.screenshot("sso-remembered")
}
