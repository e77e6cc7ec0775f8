package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// TestConsoleTeam: Alice (admin) invites Erin on Settings → Team; Erin opens the link in her own browser, sets a
// password and lands in the inbox, signed in; Alice changes Erin's capacity; Erin creates an API token on My
// profile, it reads the API, she revokes it and it gets 401 at once. Then Erin signs in again by password, and
// Alice cannot remove herself, the last admin.
func TestConsoleTeam(t *testing.T) {
	n := newNodeConfig(t, conConfig)
	n.start()
	admin := newBrowser(t)
	admin.signIn(n, conAlice, "")
	admin.click(`#nav-team`)
	admin.waitJS(`location.pathname === '/settings/team'`, "the team page")
	admin.text(`#team-row-bob`, "Bob Okafor")
	link := admin.invite(n, "erin", "Erin Vale", "3", "team-invite-link") // done13_console_e2e_test.go
	admin.click(`#invite-done`)
	admin.text(`#team-table`, "Invited")
	admin.screenshot("team-page-invited")

	// Erin, in a browser of her own: a weak password is refused with the policy, a good one signs her in.
	erin := newBrowser(t)
	erin.run(chromedp.Navigate(link))
	erin.text(`#invite-form`, "Welcome, Erin Vale")
	erin.setInput(`#invite-password`, "short")
	erin.click(`#invite-accept`)
	erin.text(`#invite-error`, "too weak: it is shorter than 12 characters")
	erin.screenshot("team-invite-weak")
	erin.setInput(`#invite-password`, "a long enough passphrase")
	erin.click(`#invite-accept`)
	erin.run(chromedp.WaitVisible(chromedp.CSS(`#tab-unassigned`)))
	erin.waitJS(`location.pathname === '/' && document.querySelector('.me-name').innerText === 'Erin Vale'`, "Erin in the inbox")
	erin.screenshot("team-invite-inbox")
	// The link is used: opened again, it says so.
	n.refused("GET", "/v1/invites/"+link[strings.LastIndex(link, "/")+1:], "", nil, 404, "invite_not_found")

	// Alice changes Erin's capacity.
	admin.run(chromedp.Reload())
	admin.text(`#team-row-erin`, "Erin Vale")
	admin.click(`#team-edit-erin`)
	admin.setInput(`#edit-capacity`, "7")
	admin.click(`#edit-save`)
	admin.text(`#team-row-erin .team-capacity`, "/7")
	admin.screenshot("team-page")
	var op struct{ Capacity int }
	if err := json.Unmarshal(n.mustCall("GET", "/v1/operators/erin", conAlice, nil, 200), &op); err != nil || op.Capacity != 7 {
		t.Fatalf("erin's capacity = %d (%v), want 7", op.Capacity, err)
	}

	// Erin's API token: shown once, reads the API, revoked: 401 at once.
	erin.click(`#nav-profile`)
	erin.waitJS(`location.pathname === '/settings/profile'`, "my profile")
	erin.setInput(`#profile-name`, "Erin V.")
	erin.click(`#name-save`)
	erin.text(`#name-msg`, "Saved")
	erin.setInput(`#token-name`, "CRM sync")
	erin.click(`#token-create`)
	erin.waitJS(`document.getElementById('token-secret') && document.getElementById('token-secret').value.startsWith('sbt_')`, "the token shown")
	erin.text(`#token-table`, "CRM sync")
	erin.screenshot("team-profile-token")
	token := jsValue[string](erin, `document.getElementById('token-secret').value`)
	if code, body := n.get("/v1/conversations", token); code != 200 {
		t.Fatalf("the new token: %d %s", code, body)
	}
	erin.click(`#token-table button.danger`)
	erin.text(`#token-table`, "Revoked")
	n.refused("GET", "/v1/conversations", token, nil, 401, "unauthorized")

	// Erin signs out and in again with her id and password.
	erin.click(`#signout`)
	erin.run(chromedp.WaitVisible(chromedp.CSS(`#operator-id`)))
	erin.run(chromedp.SendKeys(chromedp.CSS(`#operator-id`), "erin"), chromedp.SendKeys(chromedp.CSS(`#token`), "a long enough passphrase"))
	erin.screenshot("team-signin-password")
	erin.click(`#signin button[type=submit]`)
	erin.run(chromedp.WaitVisible(chromedp.CSS(`#tab-unassigned`)))

	// The last admin cannot be removed or disabled.
	n.refused("DELETE", "/v1/operators/alice", conAlice, nil, 409, "last_admin")
	n.refused("PATCH", "/v1/operators/alice", conAlice, map[string]any{"disabled": true}, 409, "last_admin")
	// Alice disables Erin: her session ends at once.
	admin.click(`#team-disable-erin`)
	admin.click(`#team-confirm-ok`)
	admin.text(`#team-row-erin`, "Disabled")
	admin.text(`#team-row-erin`, "Erin V.")
	admin.screenshot("team-page-disabled")
	erin.run(chromedp.Reload())
	erin.run(chromedp.WaitVisible(chromedp.CSS(`#operator-id`)))
}

// TestTeamCredentialsStopOnEveryNode: an API token issued through node A authenticates on node B (API only, on A's
// broker); revoked through A, it is 401 on B as soon as B's directory has the record, and so is the configured token
// of an operator disabled through A. The test logs how long B took after A answered.
func TestTeamCredentialsStopOnEveryNode(t *testing.T) {
	a := newNodeConfig(t, configY)
	a.start()
	b := newNodeConfig(t, configY, "--kafka-brokers", a.kafka, "--roles", "api")
	b.start()
	var tok struct{ ID, Token string }
	if err := json.Unmarshal(a.mustCall("POST", "/v1/operators/me/tokens", cfgAda,
		map[string]any{"name": "ops", "scopes": []string{"admin"}}, 201), &tok); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
		code, _ := b.get("/v1/settings", tok.Token)
		return code == 200
	}, "node B accepts the new token")
	a.mustCall("DELETE", "/v1/tokens/"+tok.ID, cfgAda, nil, 200)
	answered := time.Now()
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
		code, _ := b.get("/v1/settings", tok.Token)
		return code == 401
	}, "node B refuses the revoked token")
	t.Logf("node B refused the revoked token %v after node A answered", time.Since(answered).Round(100*time.Microsecond))
	if code, body := a.get("/v1/settings", tok.Token); code != 401 {
		t.Fatalf("node A, revoked token: %d %s", code, body)
	}
	// Bo, disabled through A: his token stops on B too.
	if code, body := b.get("/v1/conversations", cfgBo); code != 200 {
		t.Fatalf("node B, bo before: %d %s", code, body)
	}
	a.mustCall("PATCH", "/v1/operators/bo", cfgAda, map[string]any{"disabled": true}, 200)
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
		code, _ := b.get("/v1/conversations", cfgBo)
		return code == 401
	}, "node B refuses a disabled operator's token")
	a.refused("DELETE", "/v1/operators/ada", cfgAda, nil, 409, "last_admin")
}
