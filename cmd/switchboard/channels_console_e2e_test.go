package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// TestConsoleChannels: on Settings → Channels an admin sees the tenant's number with the webhook URL to give Meta and
// its secrets only as "set"; adds a number (a missing app secret refused beside its field first), which takes a signed
// webhook at once; renames it and rotates its app secret (the old one refused from then on); turns two-way chat off and on; and
// removes it after typing its id — its webhooks refused, its conversation kept. No secret is ever in the page. An
// operator has no Channels page.
func TestConsoleChannels(t *testing.T) {
	n := newNodeConfig(t, conConfig)
	n.start()
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.click(`#nav-channels`)
	b.waitJS(`location.pathname === '/settings/channels'`, "the channels page")
	b.text(`#channel-acme-wa`, conPhone)
	b.waitJS(`document.getElementById('channel-webhook-acme-wa').value === `+quoteJS(n.url("/webhooks/whatsapp")), "the webhook URL")
	b.text(`#channel-secret-acme-wa`, "set")
	b.text(`#channel-verify-acme-wa`, "set")
	b.screenshot("channels-page")

	// Add a number: without an app secret it is refused beside that field; with one it is added.
	const phone, secret = "100200388", "second-app-secret"
	b.click(`#channel-add-open`)
	b.setInput(`#channel-add-id`, "acme-wa-2")
	b.setInput(`#channel-add-phone_number_id`, phone)
	b.setInput(`#channel-add-verify_token`, "second-verify")
	b.setInput(`#channel-add-access_token`, "second-access")
	b.click(`#channel-add-submit`)
	b.text(`#channel-add-app_secret-error`, "required")
	b.screenshot("channels-add-refused")
	if _, body := n.get("/v1/channels", conAlice); strings.Contains(string(body), "acme-wa-2") {
		t.Fatal("a refused channel was added")
	}
	b.setInput(`#channel-add-app_secret`, secret)
	b.setInput(`#channel-add-name`, "Support UK")
	b.click(`#channel-add-submit`)
	b.text(`#channels-notice`, "acme-wa-2 added")
	b.text(`#channel-acme-wa-2`, phone)
	b.text(`#channel-name-acme-wa-2`, "Support UK")
	b.text(`#channel-token-acme-wa-2`, "set")
	b.screenshot("channels-added")
	msg := func(id, text string) []byte {
		return meta.Payload(meta.Change{PhoneNumberID: phone, Messages: []meta.Message{textMsg("447700900388", id, text, time.Now().Unix())}})
	}
	if code := n.post(msg("wamid.ch-1", "hello"), secret); code != 200 {
		t.Fatalf("the new number's webhook: %d", code)
	}

	// Edit: a new display name and app secret; the old secret is refused from the answer on.
	b.click(`#channel-rotate-acme-wa-2`)
	b.waitJS(`document.getElementById('channel-rotate-name').value === 'Support UK'`, "the display name in the form")
	b.setInput(`#channel-rotate-name`, "Support UK +44 20 7946 0388")
	b.setInput(`#channel-rotate-app_secret`, "rotated-app-secret")
	b.screenshot("channels-rotate")
	b.click(`#channel-rotate-submit`)
	b.text(`#channels-notice`, "display name, app secret changed")
	b.text(`#channel-name-acme-wa-2`, "Support UK +44 20 7946 0388")
	if code := n.post(msg("wamid.ch-2", "old secret"), secret); code != 401 {
		t.Errorf("the old app secret after rotation: %d, want 401", code)
	}
	if code := n.post(msg("wamid.ch-3", "new secret"), "rotated-app-secret"); code != 200 {
		t.Errorf("the new app secret: %d", code)
	}

	// Two-way chat off (after a confirmation) and on again.
	b.click(`#channel-disable-acme-wa-2`)
	b.text(`#channel-confirm`, "dropped")
	b.click(`#channel-confirm-ok`)
	b.text(`#channel-twoway-acme-wa-2`, "Two-way chat off")
	b.screenshot("channels-two-way-off")
	var list struct {
		Channels []struct {
			ID       string `json:"id"`
			Disabled bool   `json:"disabled"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/channels", conAlice, nil, 200), &list); err != nil || len(list.Channels) != 2 ||
		!list.Channels[1].Disabled {
		t.Fatalf("channels after turning two-way chat off: %+v (%v)", list.Channels, err)
	}
	b.click(`#channel-enable-acme-wa-2`)
	b.text(`#channel-twoway-acme-wa-2`, "Two-way chat on")

	// Remove it: the button waits for the typed id; then it is gone, its webhooks refused, its conversation kept.
	b.click(`#channel-remove-acme-wa-2`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#channel-remove-dialog`)))
	if !jsValue[bool](b, `document.getElementById('channel-remove-ok').disabled`) {
		t.Fatal("Remove channel is enabled before the id is typed")
	}
	b.setInput(`#channel-remove-typed`, "acme-wa-2")
	b.waitJS(`!document.getElementById('channel-remove-ok').disabled`, "Remove enabled once the id is typed")
	b.screenshot("channels-remove-confirm")
	b.click(`#channel-remove-ok`)
	b.text(`#channels-notice`, "acme-wa-2 removed")
	b.waitJS(`!document.getElementById('channel-acme-wa-2') && !!document.getElementById('channel-acme-wa')`, "the removed channel gone")
	b.screenshot("channels-removed")
	if code := n.post(msg("wamid.ch-4", "still there?"), "rotated-app-secret"); code != 401 {
		t.Errorf("the removed number's webhook: %d, want 401", code)
	}
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(conAlice, "channel=acme-wa-2")) == 1
	}, "the removed channel's conversation kept")
	// No secret ever reached the page.
	html := jsValue[string](b, `document.documentElement.outerHTML`)
	for _, s := range []string{secret, "rotated-app-secret", "second-verify", "second-access", outSecret, "acme-access"} {
		if strings.Contains(html, s) {
			t.Errorf("the page holds the secret %q", s)
		}
	}

	// An operator: no Channels entry, and the page's address says there is no access.
	ob := newBrowser(t)
	ob.signIn(n, conBob, "")
	ob.waitJS(`document.getElementById('tab-unassigned') && !document.getElementById('nav-channels')`, "no Channels entry for bob")
	ob.run(chromedp.Navigate(n.url("/settings/channels")))
	ob.text(`#no-access`, "You do not have access")
}
