package main_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// TestConsoleAuditLog: an admin changes a setting on Settings → General and an operator's capacity through the API,
// an operator tries an admin action (403, nothing changed); the admin's Settings → Audit log lists all three, newest
// first, with who, what and the fields that changed, filters them by action, and the operator has no such page.
func TestConsoleAuditLog(t *testing.T) {
	n := newNodeConfig(t, conConfig)
	n.start()
	b := newBrowser(t)
	b.signIn(n, conAlice, "")

	// Before anything changed: the empty state.
	b.click(`#nav-audit`)
	b.waitJS(`location.pathname === '/settings/audit'`, "the audit log page")
	b.waitJS(`!!document.getElementById('audit-empty')`, "the empty audit log")

	// 1. A setting, on Settings → General.
	b.click(`#nav-general`)
	b.waitJS(`document.getElementById('setting-routing') && document.getElementById('setting-routing').value === 'manual'`,
		"the tenant's routing mode shown")
	setField(b, "setting-routing", "auto", "change")
	b.click(`#general-save`)
	b.text(`#general-notice`, "Saved")

	// 2. An operator's capacity, through the API.
	n.mustCall("PATCH", "/v1/operators/bob", conAlice, map[string]any{"capacity": 7}, 200)

	// 3. The operator tries an admin action: refused, nothing changed.
	n.refused("PATCH", "/v1/settings", conBob, map[string]any{"routing": "manual"}, 403, "forbidden")
	var s map[string]any
	if err := json.Unmarshal(n.mustCall("GET", "/v1/settings", conAlice, nil, 200), &s); err != nil {
		t.Fatal(err)
	}
	if s["routing"] != "auto" {
		t.Fatalf("the refused change applied: routing %v", s["routing"])
	}
	// The refusal is recorded through the tenant's partition: wait for the API to list it.
	eventually.NoError(t, 30*time.Second, 50*time.Millisecond, func() error {
		var page struct {
			Entries []struct {
				Action string `json:"action"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(n.mustCall("GET", "/v1/audit", conAlice, nil, 200), &page); err != nil {
			return err
		}
		if len(page.Entries) != 3 || page.Entries[0].Action != "access.denied" {
			return fmt.Errorf("entries %+v", page.Entries)
		}
		return nil
	}, "waiting for the three audit entries")

	// The admin's page lists the three, newest first.
	b.click(`#nav-audit`)
	b.waitJS(`document.querySelectorAll('#audit-table tbody tr').length === 3`, "three audit entries on the page")
	rows := jsValue[[]string](b, `[...document.querySelectorAll('#audit-table tbody tr')].map(r =>
		[...r.querySelectorAll('td')].slice(1).map(td => td.innerText.replace(/\s+/g, ' ').trim()).join(' | '))`)
	want := []string{
		"bob · operator | Was refused | PATCH /v1/settings | ",
		"alice · admin | Changed an operator | operator/bob | capacity 5 → 7",
		"alice · admin | Changed settings | settings | routing manual → auto",
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
	b.screenshot("audit-log")

	// Filtered by action: the refusals only.
	setField(b, "audit-action", "access.denied", "change")
	b.waitJS(`document.querySelectorAll('#audit-table tbody tr').length === 1 &&
		document.querySelector('#audit-table tbody tr').dataset.action === 'access.denied'`, "only the refusal")

	// The operator has no audit log, in the console or the API.
	bob := newBrowser(t)
	bob.signIn(n, conBob, "")
	bob.waitJS(`document.getElementById('tab-unassigned') && !document.getElementById('nav-audit')`, "no Audit log entry for an operator")
	n.refused("GET", "/v1/audit", conBob, nil, 403, "forbidden")
	// A direct link to the page says there is no access, and lists nothing.
	bob.run(chromedp.Navigate(n.url("/settings/audit")))
	bob.text(`#no-access`, "You do not have access")
	bob.waitJS(`!document.getElementById('audit-page')`, "nothing of the audit log page")
}
