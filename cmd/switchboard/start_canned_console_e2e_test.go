package main_test

// The console's Start conversation dialog and canned responses in a real browser (see console_e2e_test.go for the
// harness): an operator writes first to a number with an approved template, and answers a customer with a canned
// response picked with "/" in the composer after an admin created it on the Settings page.

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// TestConsoleStartConversation: the operator opens Start conversation, finds the country by its code, types the
// number, picks an approved template, fills its parameters with the preview showing them, and sends: the console
// opens the new conversation, assigned to the operator, and the simulator received the template.
func TestConsoleStartConversation(t *testing.T) {
	n, s := startConsoleNode(t)
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.click(`#start-open`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#start-dialog`)))
	b.text(`#start-wait`, "Enter the customer")
	b.run(chromedp.SendKeys(chromedp.CSS(`#start-cc-search`), "+44"))
	b.waitJS(`document.getElementById('start-cc').value === 'GB'`, "the country found by its code")
	b.run(chromedp.SendKeys(chromedp.CSS(`#start-number`), "07700 900123"))
	b.text(`#start-to`, "To +447700900123")
	b.text(`#tpl-list`, "order_update")
	b.click(`#tpl-list .tpl-row[data-name="order_update"][data-language="en_US"]`)
	b.run(
		chromedp.SendKeys(chromedp.CSS(`#tpl-param-1`), "Ann"),
		chromedp.SendKeys(chromedp.CSS(`#tpl-param-2`), "R-1024"),
	)
	b.text(`#tpl-preview-body`, "Hi Ann, your order R-1024 has shipped")
	b.screenshot("start-dialog")
	b.click(`#tpl-send`)
	wa := "447700900123"
	id := conversation.ID("acme-wa", wa)
	b.waitJS(`location.pathname === '/mine/`+id+`'`, "the new conversation opened")
	b.text(`#conv-status`, "Open")
	b.text(`.template-msg`, "order_update")
	simReceived(t, s, wa, "the template", `"type":"template"`, "R-1024")
	b.text(`#composer-locked`, "has not written yet")
	b.waitJS(`document.querySelector('#tab-mine .count')?.innerText === '1'`, "Mine counts 1")
	b.screenshotWithoutToast("start-conversation")
	if code, v := n.conversation(conAlice, id); code != 200 || v.AssigneeID != "alice" {
		t.Fatalf("the started conversation: %d assignee %q", code, v.AssigneeID)
	}

	// By contact: found by name, the template's name parameter prefilled from the contact.
	n.mustCall("POST", "/v1/contacts", conAlice, map[string]any{"phone": "+44 7700 900555", "name": "Priya Shah"}, 201)
	b.click(`#start-open`)
	b.click(`#start-by-contact`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#start-contact-search`), "priya"))
	b.text(`#start-contact-list`, "Priya Shah")
	b.click(`#start-contact-list li[role=option]`)
	b.text(`#start-contact`, "Priya Shah")
	b.click(`#start-dialog #tpl-list .tpl-row[data-name="order_update"][data-language="en_US"]`)
	b.waitJS(`document.querySelector('#start-dialog #tpl-param-1').value === 'Priya Shah'`, "the name prefilled from the contact")
	b.run(chromedp.SendKeys(chromedp.CSS(`#start-dialog #tpl-param-2`), "R-2048"))
	b.screenshot("start-dialog-contact")
	b.click(`#start-dialog #tpl-send`)
	priya := conversation.ID("acme-wa", "447700900555")
	b.waitJS(`location.pathname === '/mine/`+priya+`'`, "Priya's conversation opened")
	b.text(`#conv-name`, "Priya Shah")
	simReceived(t, s, "447700900555", "Priya's template", "Priya Shah")

	// A number that is not one is not offered a template; Esc closes the dialog.
	b.click(`#start-open`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#start-number`), "12"))
	b.text(`#start-to`, "Not a valid international number")
	b.waitJS(`!document.querySelector('#start-dialog #tpl-list') && !!document.getElementById('start-wait')`, "no template list for a bad number")
	b.run(chromedp.KeyEvent(kb.Escape))
	b.waitJS(`!document.getElementById('start-dialog')`, "the dialog closed")
}

// TestConsoleCannedResponses: an admin creates a canned response with variables on Settings → Canned responses;
// in a conversation, "/" opens the picker, typing filters it, the arrow keys move and Enter inserts the response
// rendered for the customer and the operator; Enter again sends it. An operator sees the page read-only.
func TestConsoleCannedResponses(t *testing.T) {
	n, s := startConsoleNode(t)
	maria := "5215512345678"
	customerWrites(t, n, named(maria, "María López", "wamid.cr1", "Hola! Where is my order #1234?", time.Now()))
	b := newBrowser(t)
	b.signIn(n, conAlice, "")

	b.click(`#nav-canned`)
	b.waitJS(`location.pathname === '/settings/canned'`, "the settings page")
	b.text(`#canned-empty`, "No canned responses yet")
	for _, r := range []struct{ title, category, text, media string }{
		{"Order delayed", "Shipping", "Hi {{contact.name}}, this is {{operator.name}}: your order ships tomorrow.", ""},
		{"Opening hours", "General", "We are open 9:00–18:00, Monday to Friday.", "media-hours-1"},
	} {
		b.click(`#canned-new`)
		b.run(
			chromedp.SendKeys(chromedp.CSS(`#canned-title`), r.title),
			chromedp.SendKeys(chromedp.CSS(`#canned-category`), r.category),
			chromedp.SendKeys(chromedp.CSS(`#canned-text`), r.text),
		)
		if r.media != "" {
			b.run(chromedp.SetValue(chromedp.CSS(`#canned-media-type`), "image"))
			b.js(`document.getElementById('canned-media-type').dispatchEvent(new Event('change', {bubbles: true}))`)
			b.run(chromedp.SendKeys(chromedp.CSS(`#canned-media-id`), r.media))
		}
		b.click(`#canned-save`)
		b.text(`.canned-card .canned-title`, r.title)
	}
	b.text(`.canned-card[data-id] .canned-cat`, "image")
	b.waitJS(`[...document.querySelectorAll('.canned-group-title')].map(e => e.textContent).join() === 'General,Shipping'`,
		"the responses grouped by category")
	b.screenshot("canned-settings")

	b.click(`#tab-unassigned`)
	b.openRow("María López")
	b.click(`#attend`)
	b.text(`#conv-status`, "Open")
	b.run(chromedp.WaitVisible(chromedp.CSS(`#composer`)))
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "/"))
	b.run(chromedp.WaitVisible(chromedp.CSS(`#canned-picker`)))
	b.text(`#canned-list`, "Opening hours")
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "ship"))
	b.waitJS(`document.querySelectorAll('#canned-list .canned-row').length === 1`, "the picker filtered to one")
	b.text(`#canned-list .canned-row.active`, "Order delayed")
	b.screenshotWithoutToast("canned-picker")
	// Esc closes the picker and leaves the text; "/" again reopens it; the arrows move; Enter inserts.
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), kb.Escape))
	b.waitJS(`!document.getElementById('canned-picker')`, "the picker closed")
	b.js(`(() => { const c = document.getElementById('composer'); c.value = ''; c.dispatchEvent(new Event('input', {bubbles: true})) })()`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "/"))
	b.run(chromedp.WaitVisible(chromedp.CSS(`#canned-picker`)))
	b.waitJS(`document.querySelectorAll('#canned-list .canned-row').length === 2`, "both responses listed")
	first := jsValue[string](b, `document.querySelector('#canned-list .canned-row.active .canned-title').innerText`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), kb.ArrowDown))
	b.waitJS(`document.querySelector('#canned-list .canned-row.active .canned-title').innerText !== `+quoteJS(first), "the arrow moved")
	if first == "Order delayed" {
		b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), kb.ArrowUp))
	}
	b.text(`#canned-list .canned-row.active`, "Order delayed")
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "\t"))
	want := "Hi María López, this is Alice Martin: your order ships tomorrow."
	b.waitJS(`document.getElementById('composer').value === `+quoteJS(want), "the rendered response inserted")
	b.waitJS(`!document.getElementById('canned-picker')`, "the picker closed")
	b.screenshot("canned-inserted")
	b.click(`#send`)
	simReceived(t, s, maria, "the canned response", "this is Alice Martin")
	b.text(`.msg.out`, "your order ships tomorrow")

	// A response with a file: the picker brings the file along (a chip), and Send sends it with the text as its
	// caption, by its media id.
	n.mustCall("POST", "/v1/canned-responses", conAlice, map[string]any{"title": "Return label", "category": "Shipping",
		"text": "Here is your return label, {{contact.name}}.", "media": map[string]string{"type": "document", "id": "media-label-1"}}, 201)
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "/return"))
	b.text(`#canned-list .canned-row.active`, "Return label")
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "\t"))
	b.text(`#canned-media`, "document from the canned response")
	b.waitJS(`document.getElementById('composer').value === 'Here is your return label, María López.'`, "the text inserted")
	b.screenshotWithoutToast("canned-media")
	b.click(`#send`)
	simReceived(t, s, maria, "the canned response's document", `"document"`, "media-label-1", "return label, María López")
	b.waitJS(`!document.getElementById('canned-media')`, "the file sent with the reply")

	// Bob, an operator, uses the responses in the composer but has no page to manage them (canned.manage).
	bob := newBrowser(t)
	bob.signIn(n, conBob, "")
	bob.waitJS(`document.getElementById('tab-unassigned') && !document.getElementById('nav-canned')`, "no Canned responses entry for an operator")
	bob.run(chromedp.Navigate(n.url("/settings/canned")))
	bob.text(`#no-access`, "You do not have access")
	// An admin's change reaches another admin's open page live (canned.changed).
	other := newBrowser(t)
	other.signIn(n, conAlice, "")
	other.click(`#nav-canned`)
	other.text(`.canned-card .canned-title`, "Order delayed")
	var list struct {
		CannedResponses []struct{ ID, Title string } `json:"canned_responses"`
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/canned-responses?q=delayed", conAlice, nil, 200), &list); err != nil || len(list.CannedResponses) != 1 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	n.mustCall("PATCH", "/v1/canned-responses/"+list.CannedResponses[0].ID, conAlice, map[string]any{"title": "Order running late"}, 200)
	other.text(`.canned-card .canned-title`, "Order running late")
}
