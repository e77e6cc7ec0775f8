package main_test

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleGeneralSettings: an admin switches routing from manual to automatic on Settings → General and sets an
// auto-close; the API answers the new settings at once (no restart), a bad duration is refused naming the field,
// and an operator has no such page.
func TestConsoleGeneralSettings(t *testing.T) {
	n := newNodeConfig(t, conConfig)
	n.start()
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.click(`#nav-general`)
	b.waitJS(`location.pathname === '/settings/general'`, "the general settings page")
	b.waitJS(`document.getElementById('setting-routing') && document.getElementById('setting-routing').value === 'manual'`,
		"the tenant's routing mode shown")
	setField(b, "setting-routing", "auto", "change")
	setField(b, "setting-auto_close_after", "", "input")
	b.run(chromedp.SendKeys(chromedp.CSS(`#setting-auto_close_after`), "24h"))
	b.click(`#general-save`)
	b.text(`#general-notice`, "Saved")
	b.screenshot("settings-general")
	var s map[string]any
	if err := json.Unmarshal(n.mustCall("GET", "/v1/settings", conAlice, nil, 200), &s); err != nil {
		t.Fatal(err)
	}
	if s["routing"] != "auto" || s["auto_close_after"] != "24h0m0s" {
		t.Fatalf("settings after saving in the console = %v", s)
	}

	// A bad duration: refused, the field named, nothing applied.
	setField(b, "setting-window_warning", "", "input")
	b.run(chromedp.SendKeys(chromedp.CSS(`#setting-window_warning`), "25h"))
	b.click(`#general-save`)
	b.text(`#general-error`, "settings.window_warning")
	b.screenshot("settings-general-refused")
	if err := json.Unmarshal(n.mustCall("GET", "/v1/settings", conAlice, nil, 200), &s); err != nil {
		t.Fatal(err)
	}
	if s["window_warning"] != float64(0) {
		t.Fatalf("a refused window warning applied: %v", s)
	}

	// An operator sees no General settings and the API refuses them.
	bob := newBrowser(t)
	bob.signIn(n, conBob, "")
	bob.waitJS(`document.getElementById('tab-unassigned') && !document.getElementById('nav-general')`, "no General entry for an operator")
	n.refused("GET", "/v1/settings", conBob, nil, 403, "forbidden")
}

// setField sets a form control's value as a user would and fires the event Preact listens to.
func setField(b *browser, id, value, event string) {
	b.t.Helper()
	b.js(`(() => { const e = document.getElementById(` + quoteJS(id) + `); e.value = ` + quoteJS(value) +
		`; e.dispatchEvent(new Event(` + quoteJS(event) + `, {bubbles: true})) })()`)
}
