package main_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsolePermissionsOperator: the console shows what the session's permissions allow. An operator sees the
// inbox and their own profile (Settings → My profile) and availability, nothing of People, Insights, the Team or
// the other settings; a page's address typed
// directly says "You do not have access", and the API refuses the admin action behind it. An admin sees every
// entry.
func TestConsolePermissionsOperator(t *testing.T) {
	n := newNodeConfig(t, conConfig)
	n.start()
	bob := newBrowser(t)
	bob.signIn(n, conBob, "")
	bob.waitJS(`document.getElementById('tab-mine') && document.getElementById('availability') && document.querySelector('.me-name')`,
		"the inbox and bob's own profile")
	for _, id := range []string{"nav-people", "nav-import", "nav-insights", "nav-canned", "nav-general", "nav-team", "nav-audit"} {
		if k := jsValue[int](bob, `document.querySelectorAll('#`+id+`').length`); k != 0 {
			t.Errorf("an operator is shown #%s", id)
		}
	}
	if got := jsValue[[]string](bob, `[...document.querySelectorAll('.nav-section')].map(e => e.textContent.trim())`); len(got) != 2 || got[0] != "Inbox" || got[1] != "Settings" {
		t.Errorf("an operator's nav sections: %q, want Inbox and Settings (My profile)", got)
	}
	if got := jsValue[[]string](bob, `[...document.querySelectorAll('.nav-section + .tabs .tab-label')].slice(-1).map(e => e.textContent.trim())`); len(got) != 1 || got[0] != "My profile" {
		t.Errorf("an operator's Settings entries end with %q, want My profile", got)
	}
	bob.run(chromedp.WaitVisible(chromedp.CSS(`#nav-profile`)))
	bob.screenshot("permissions-operator")
	for _, path := range []string{"/settings/general", "/settings/canned", "/insights", "/people", "/people/import"} {
		bob.run(chromedp.Navigate(n.url(path)))
		bob.text(`#no-access`, "You do not have access")
		bob.waitJS(`!document.querySelector('.settings-page, #people-table, #ins-finished, #canned-new, #import-file, #team-table')`, "nothing of the page")
	}
	bob.screenshot("permissions-no-access")
	// The Team page by its address, in a browser of its own (the page loads above are as many as one browser keeps).
	bob2 := newBrowser(t)
	bob2.signIn(n, conBob, "")
	bob2.run(chromedp.Navigate(n.url("/settings/team")))
	bob2.text(`#no-access`, "You do not have access")
	bob2.waitJS(`!document.querySelector('#team-table, #invite-open')`, "nothing of the Team page")
	n.refused("PATCH", "/v1/settings", conBob, map[string]any{"routing": "auto"}, 403, "forbidden")

	alice := newBrowser(t)
	alice.signIn(n, conAlice, "")
	for _, id := range []string{"nav-people", "nav-import", "nav-insights", "nav-canned", "nav-general", "nav-team", "nav-profile"} {
		alice.run(chromedp.WaitVisible(chromedp.CSS(`#` + id)))
	}
}
