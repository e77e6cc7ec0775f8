package main_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleAuditRetention: Settings → General shows the audit log's retention in days (400 by default), an admin
// changes it there and the API answers it at once, the change is in the audit log; a retention under a day is
// refused naming the field (by the API, and the console refuses what is not a whole number of days); 0 keeps the
// log forever.
func TestConsoleAuditRetention(t *testing.T) {
	n := newNodeConfig(t, conConfig)
	n.start()
	retention := func() any {
		var s map[string]any
		if err := json.Unmarshal(n.mustCall("GET", "/v1/settings", conAlice, nil, 200), &s); err != nil {
			t.Fatal(err)
		}
		return s["audit_retention"]
	}
	if got := retention(); got != "9600h0m0s" {
		t.Fatalf("default audit_retention = %v, want 9600h0m0s (400 days)", got)
	}
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.click(`#nav-general`)
	b.waitJS(`document.getElementById('setting-audit_days')?.value === '400'`, "400 days shown")
	setField(b, "setting-audit_days", "30", "input")
	b.click(`#general-save`)
	b.text(`#general-notice`, "Saved")
	b.screenshot("settings-general-audit-retention")
	if got := retention(); got != "720h0m0s" {
		t.Fatalf("audit_retention after saving 30 days = %v", got)
	}
	body := string(n.mustCall("GET", "/v1/audit?action=settings.changed", conAlice, nil, 200))
	if !strings.Contains(body, `"field":"audit_retention"`) || !strings.Contains(body, `"to":"720h0m0s"`) {
		t.Errorf("the audit log lacks the change: %s", body)
	}
	// Not a whole number of days: the console says so and sends nothing.
	setField(b, "setting-audit_days", "1.5", "input")
	b.click(`#general-save`)
	b.text(`#general-error`, "whole number of days")
	// Under a day: the API refuses it naming the field, nothing applied.
	n.refused("PATCH", "/v1/settings", conAlice, map[string]any{"audit_retention": "12h"}, 400, "invalid_setting")
	if code, b := n.call("PATCH", "/v1/settings", conAlice, map[string]any{"audit_retention": "12h"}); code != 400 ||
		!strings.Contains(string(b), "audit_retention") {
		t.Errorf("12h: %d %s", code, b)
	}
	if got := retention(); got != "720h0m0s" {
		t.Fatalf("a refused retention applied: %v", got)
	}
	// 0: forever.
	setField(b, "setting-audit_days", "0", "input")
	b.click(`#general-save`)
	b.waitJS(`document.getElementById('general-notice')?.innerText.includes('Saved') && document.getElementById('setting-audit_days').value === '0'`, "0 saved")
	if got := retention(); got != float64(0) {
		t.Fatalf("audit_retention after 0 = %v", got)
	}
	// The entry says forever ("0s"), not an absent value (which would read as the default).
	if body := string(n.mustCall("GET", "/v1/audit?action=settings.changed&limit=1", conAlice, nil, 200)); !strings.Contains(body,
		`{"field":"audit_retention","from":"720h0m0s","to":"0s"}`) {
		t.Errorf("the entry of forever: %s", body)
	}
	// An operator may not change it.
	n.refused("PATCH", "/v1/settings", conBob, map[string]any{"audit_retention": 0}, 403, "forbidden")
	b.run(chromedp.Navigate(n.url("/settings/general")))
	b.waitJS(`document.getElementById('setting-audit_days')?.value === '0'`, "0 shown after a reload")
}
