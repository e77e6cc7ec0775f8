package main_test

// Issue 13's "done means" in one browser journey, against the real binary started with the demo configuration
// `make run` uses (deploy/dev/config.yaml), the WhatsApp simulator and a real ClickHouse: an admin invites an
// operator, who sets a password (a weak one refused first) in a browser of her own and signs in; the admin changes her
// capacity, adds a WhatsApp number whose signed webhook reaches her inbox, switches routing to manual (a new customer
// waits though she is online with room) and back (it is offered to her), reads the insights; the operator's try at an
// admin action is refused (403, nothing changed); and the audit log lists every one of these changes, with who and
// when. No restart anywhere. Each outcome is checked through the page and the API.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// The demo's credentials (deploy/dev/config.yaml, printed by make run).
const (
	demoAlice = "dev-token-alice-0001" // admin
	demoBob   = "dev-token-bob-00002"  // operator
)

type d13AuditEntry struct {
	At      time.Time `json:"at"`
	ActorID string    `json:"actor_id"`
	Role    string    `json:"actor_role"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Changes []struct {
		Field string          `json:"field"`
		From  json.RawMessage `json:"from"`
		To    json.RawMessage `json:"to"`
	} `json:"changes"`
}

// invite fills Invite an operator on the Team page the browser shows, saves a screenshot shot of the link shown,
// and returns the link, failing unless it is under node n's address.
func (b *browser) invite(n *node, id, name, capacity, shot string) string {
	b.t.Helper()
	b.click(`#invite-open`)
	b.setInput(`#invite-id`, id)
	b.setInput(`#invite-name`, name)
	b.setInput(`#invite-capacity`, capacity)
	b.click(`#invite-submit`)
	b.waitJS(`(document.getElementById('invite-link')?.value || '').includes('/invite/')`, "the invite link shown")
	b.screenshot(shot)
	link := jsValue[string](b, `document.getElementById('invite-link').value`)
	if !strings.HasPrefix(link, n.url("/invite/")) {
		b.t.Fatalf("invite link %q, want under %s", link, n.url("/invite/"))
	}
	return link
}

func TestConsoleIssue13Journey(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "deploy", "dev", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ch := chtest.StartServer(t)
	n := newNodeConfig(t, string(demo))
	s := startSim(t, n, sim.FailConfig{})
	n.extra = []string{"--whatsapp-api-url", s.URL(), "--clickhouse-addr", ch.Addr()}
	n.start()
	start := time.Now().UTC()

	// 1. The admin signs in; Team → Invite an operator: a one-time link.
	admin := newBrowser(t)
	admin.signIn(n, demoAlice, "")
	admin.click(`#nav-team`)
	admin.waitJS(`location.pathname === '/settings/team'`, "the team page")
	admin.text(`#team-row-bob`, "Bob")
	link := admin.invite(n, "erin", "Erin Vale", "2", "done13-1-invite-link")
	admin.click(`#invite-done`)
	admin.text(`#team-table`, "Invited")

	// 2. The operator, in a second browser: a weak password refused with the policy, then a good one signs her in.
	op := newBrowser(t)
	op.run(chromedp.Navigate(link))
	op.text(`#invite-form`, "Welcome, Erin Vale")
	op.setInput(`#invite-password`, "erin-password")
	op.click(`#invite-accept`)
	op.text(`#invite-error`, "too weak")
	op.screenshot("done13-2-weak-password")
	if code, _ := n.get("/v1/operators/erin", demoAlice); code != 404 {
		t.Fatalf("the weak password created the operator: %d", code)
	}
	op.setInput(`#invite-password`, "lantern harbour seventeen")
	op.click(`#invite-accept`)
	op.run(chromedp.WaitVisible(chromedp.CSS(`#tab-unassigned`)))
	op.waitJS(`document.querySelector('.me-name')?.innerText === 'Erin Vale'`, "Erin signed in")
	op.setInput(`#availability`, "online")
	op.waitJS(`document.querySelector('.avail-dot.online') !== null`, "Erin online")
	op.screenshot("done13-3-operator-signed-in")

	// 3. The admin changes her capacity (2 → 4).
	admin.run(chromedp.Reload())
	admin.text(`#team-row-erin`, "Erin Vale")
	admin.click(`#team-edit-erin`)
	admin.setInput(`#edit-capacity`, "4")
	admin.click(`#edit-save`)
	admin.text(`#team-row-erin .team-capacity`, "/4")
	admin.screenshot("done13-4-capacity")
	var erin struct {
		Capacity     int    `json:"capacity"`
		Availability string `json:"availability"`
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/operators/erin", demoAlice, nil, 200), &erin); err != nil ||
		erin.Capacity != 4 || erin.Availability != "online" {
		t.Fatalf("erin = %+v (%v), want capacity 4, online", erin, err)
	}

	// 4. Settings → Channels → Add WhatsApp number; a signed webhook to it is accepted and reaches Erin's inbox.
	const phone, secret = "100200301", "second-number-app-secret"
	admin.click(`#nav-channels`)
	admin.waitJS(`location.pathname === '/settings/channels'`, "the channels page")
	admin.text(`#channel-acme-wa`, "100200300")
	admin.click(`#channel-add-open`)
	admin.setInput(`#channel-add-id`, "acme-wa-2")
	admin.setInput(`#channel-add-phone_number_id`, phone)
	admin.setInput(`#channel-add-app_secret`, secret)
	admin.setInput(`#channel-add-verify_token`, "second-number-verify")
	admin.setInput(`#channel-add-access_token`, "second-number-access")
	admin.setInput(`#channel-add-name`, "+44 7700 900301")
	admin.screenshot("done13-5-add-number")
	admin.click(`#channel-add-submit`)
	admin.text(`#channel-acme-wa-2`, phone)
	admin.text(`#channel-name-acme-wa-2`, "+44 7700 900301")
	admin.text(`#channels-notice`, "acme-wa-2 added")
	admin.screenshot("done13-6-number-added")
	const priya = "447700900313"
	n.deliver(phone, secret, named(priya, "Priya Nair", "wamid.d13-1", "Hi, my order has not arrived", time.Now()))
	first := conversation.ID("acme-wa-2", priya)
	op.click(`#tab-mine`)
	op.openRow("Priya Nair")
	op.text(`.msg.in`, "my order has not arrived")
	op.waitCountsSettled()
	op.screenshot("done13-7-new-number-in-inbox")
	if code, v := n.conversation(demoAlice, first); code != 200 || v.AssigneeID != "erin" || v.ChannelID != "acme-wa-2" {
		t.Fatalf("the new number's conversation: %d %+v", code, v.Conversation)
	}

	// 5. Settings → General: routing manual. A new customer waits unassigned though Erin is online with room (1/4).
	admin.click(`#nav-general`)
	admin.waitJS(`document.getElementById('setting-routing')?.value === 'auto'`, "the demo routes automatically")
	setField(admin, "setting-routing", "manual", "change")
	admin.click(`#general-save`)
	admin.text(`#general-notice`, "Saved")
	admin.screenshot("done13-8-routing-manual")
	const omar = "447700900314"
	n.deliver(phone, secret, named(omar, "Omar Haddad", "wamid.d13-2", "Hello, is anyone there?", time.Now()))
	second := conversation.ID("acme-wa-2", omar)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return slices.Contains(n.listIDs(demoAlice, "status=unassigned"), second)
	}, "Omar's conversation in Unassigned")
	// A later command of the tenant, answered after the webhook was applied: the dispatcher had the conversation and
	// offered it to no one.
	n.mustCall("PUT", "/v1/operators/me/availability", demoBob, map[string]string{"availability": "away"}, 200)
	if code, v := n.conversation(demoAlice, second); code != 200 || v.Status != conversation.Unassigned || v.AssigneeID != "" {
		t.Fatalf("with manual routing: %d %s %q", code, v.Status, v.AssigneeID)
	}
	op.click(`#tab-unassigned`)
	op.text(`#conv-list .row-name`, "Omar Haddad")
	op.waitJS(`document.querySelector('#tab-mine .count')?.innerText === '1'`, "Erin still holds one")
	op.screenshot("done13-9-manual-waits")

	// Back to automatic: the waiting conversation is offered to Erin at once.
	setField(admin, "setting-routing", "auto", "change")
	admin.click(`#general-save`)
	admin.text(`#general-notice`, "Saved")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		code, v := n.conversation(demoAlice, second)
		return code == 200 && v.AssigneeID == "erin"
	}, "Omar's conversation assigned to Erin once routing is automatic again")
	op.click(`#tab-mine`)
	op.text(`#conv-list .row-name`, "Omar Haddad")
	op.waitJS(`document.querySelector('#tab-mine .count')?.innerText === '2'`, "Erin holds two")
	op.screenshot("done13-10-auto-offered")

	// 6. The operator tries an admin action through the API with her own session: 403, nothing changed.
	op.js(`fetch('/v1/session').then(r => r.json()).then(s => fetch('/v1/channels/acme-wa', {method: 'DELETE',
		headers: {'X-CSRF-Token': s.csrf_token}})).then(async r => { window.refusal = r.status + ' ' + await r.text() })`)
	op.waitJS(`typeof window.refusal === 'string'`, "the refused call answered")
	if got := jsValue[string](op, `window.refusal`); !strings.HasPrefix(got, `403 `) || !strings.Contains(got, `"forbidden"`) {
		t.Fatalf("an operator removing a channel: %s", got)
	}
	if _, body := n.get("/v1/channels", demoAlice); !strings.Contains(string(body), `"id":"acme-wa"`) {
		t.Fatalf("the refused removal changed the channels: %s", body)
	}
	n.refused("PATCH", "/v1/settings", demoBob, map[string]string{"routing": "manual"}, 403, "forbidden")

	// 7. Insights: the figures of the last 24 hours (two active conversations, both Erin's, both answered by none).
	from := url.QueryEscape(start.Add(-time.Hour).Format(time.RFC3339))
	eventually.True(t, 60*time.Second, 100*time.Millisecond, func() bool {
		var v struct {
			Totals insightsTotals `json:"totals"`
		}
		code, b := n.get("/v1/insights?from="+from, demoAlice)
		return code == 200 && json.Unmarshal(b, &v) == nil && v.Totals.Active == 2 && v.Totals.MessagesIn == 2
	}, "the insights count the two conversations")
	admin.click(`#nav-insights`)
	admin.waitJS(`location.pathname === '/insights'`, "the insights page")
	admin.waitJS(`document.querySelector('#ins-active')?.dataset.value === '2'`, "two active conversations on the page")
	admin.text(`#ins-operators tr[data-operator="erin"]`, "erin")
	admin.screenshot("done13-11-insights")

	// 8. The audit log: every change above, with who and when, and the refusals.
	want := []struct{ actor, action, target string }{
		{"alice", "invite.added", ""},
		{"erin", "operator.added", "operator/erin"},
		{"alice", "operator.changed", "operator/erin"},
		{"alice", "channel.added", "channel/acme-wa-2"},
		{"alice", "settings.changed", "settings"},
		{"alice", "settings.changed", "settings"},
		{"erin", "access.denied", "DELETE /v1/channels/{id}"},
		{"bob", "access.denied", "PATCH /v1/settings"},
	}
	var entries []d13AuditEntry
	eventually.NoError(t, 30*time.Second, 50*time.Millisecond, func() error {
		var page struct {
			Entries []d13AuditEntry `json:"entries"`
		}
		if err := json.Unmarshal(n.mustCall("GET", "/v1/audit?limit=500", demoAlice, nil, 200), &page); err != nil {
			return err
		}
		entries = page.Entries
		for _, w := range want {
			if !slices.ContainsFunc(entries, func(e d13AuditEntry) bool {
				return e.ActorID == w.actor && e.Action == w.action && (w.target == "" || e.Target == w.target)
			}) {
				return fmt.Errorf("no %+v in %+v", w, entries)
			}
		}
		return nil
	}, "the audit log has every change")
	for _, e := range entries {
		if e.At.Before(start.Add(-time.Minute)) && !strings.HasPrefix(e.Action, "access.") && e.ActorID != "" {
			t.Errorf("an entry from before the journey: %+v", e)
		}
	}
	// The capacity change and the routing changes say what changed.
	for _, e := range entries {
		switch {
		case e.Action == "operator.changed" && e.Target == "operator/erin":
			if len(e.Changes) != 1 || e.Changes[0].Field != "capacity" || string(e.Changes[0].From) != "2" || string(e.Changes[0].To) != "4" {
				t.Errorf("the capacity change: %+v", e.Changes)
			}
		case e.Action == "channel.added":
			for _, c := range e.Changes {
				if strings.Contains(string(c.To), secret) || strings.Contains(string(c.To), "second-number-access") {
					t.Errorf("the audit log shows a secret: %+v", c)
				}
			}
		}
	}
	admin.click(`#nav-audit`)
	admin.waitJS(`location.pathname === '/settings/audit'`, "the audit log page")
	admin.waitJS(fmt.Sprintf(`document.querySelectorAll('#audit-table tbody tr').length === %d`, len(entries)), "every entry on the page")
	rows := jsValue[[]string](admin, `[...document.querySelectorAll('#audit-table tbody tr')].map(r =>
		r.dataset.action + ' | ' + [...r.querySelectorAll('td')].map(td => td.innerText.replace(/\s+/g, ' ').trim()).join(' | '))`)
	for _, w := range want {
		found := false
		for _, r := range rows {
			cells := strings.Split(r, " | ")
			// action | when | who | what | target | changes
			if len(cells) >= 5 && cells[0] == w.action && (cells[2] == w.actor || strings.HasPrefix(cells[2], w.actor+" ·")) && cells[1] != "" &&
				(w.target == "" || cells[4] == w.target) {
				found = true
			}
		}
		if !found {
			t.Errorf("the audit log page has no row for %+v:\n%s", w, strings.Join(rows, "\n"))
		}
	}
	admin.screenshot("done13-12-audit-log")
	t.Logf("the journey took %v", time.Since(start).Round(100*time.Millisecond))
}
