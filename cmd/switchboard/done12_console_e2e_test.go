package main_test

// Issue 12's "done means" in one browser session, against the real binary with the simulator and the embedded
// broker (the harness of console_e2e_test.go): an admin imports a CSV of contacts with visible progress, starts a
// conversation with one of them from an approved template, answers the customer's reply with a canned response
// picked with "/" and a photo from the paperclip, opens the photo the customer sent full size, blocks one contact and
// erases another after the typed confirmation. Each outcome is checked on the page and through the API or the
// simulator, not only clicked.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// d12Config is the console tests' tenant (conConfig: manual routing, the simulator's WABA) with the custom fields
// the imported file fills.
var d12Config = strings.Replace(conConfig, "      routing: manual\n", `      routing: manual
      contact_fields:
        - {key: city, label: City, type: text}
        - {key: plan, label: Plan, type: choice, choices: [basic, premium]}
`, 1)

const d12Admin = conAlice

// d12Contacts is the tenant's contacts as the API lists them, by phone.
func d12Contacts(t *testing.T, n *node) map[string]e2eContact {
	t.Helper()
	var list struct {
		Contacts []e2eContact `json:"contacts"`
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/contacts", d12Admin, nil, 200), &list); err != nil {
		t.Fatal(err)
	}
	byPhone := map[string]e2eContact{}
	for _, c := range list.Contacts {
		byPhone[c.Phone] = c
	}
	return byPhone
}

func TestConsoleIssue12Journey(t *testing.T) {
	if !strings.Contains(d12Config, "contact_fields") {
		t.Fatal("the console config changed: no place for the contact fields")
	}
	n := newNodeConfig(t, d12Config)
	s := startSim(t, n, sim.FailConfig{})
	n.extra = []string{"--whatsapp-api-url", s.URL()}
	n.start()
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, b := n.get("/v1/templates", d12Admin)
		return code == 200 && strings.Count(string(b), `"name":`) == len(sim.SeedTemplates)
	}, "the template catalogue synced")
	// The admin's canned response, as one made on Settings → Canned responses (that page has its own test).
	n.mustCall("POST", "/v1/canned-responses", d12Admin, map[string]any{"title": "Photo of the replacement",
		"category": "Returns", "text": "Hi {{contact.name}}, here is the replacement we send to {{contact.fields.city}} today."}, 201)

	const (
		ana   = "+447700900461" // the conversation
		ben   = "+4915112340002"
		chloe = "+33612340003"
	)
	csvFile := "phone,name,city,plan\n" +
		ana + ",Ana Souza,London,premium\n" +
		ben + ",Ben Richter,Berlin,basic\n" +
		chloe + ",Chloé Martin,Lyon,premium\n" +
		"+5511987650004,Diego Alves,São Paulo,basic\n"
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(csvPath, []byte(csvFile), 0o600); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	b.signIn(n, d12Admin, "")

	// 1. People → Import contacts: the header mapped, Import, progress, the report.
	b.click(`#nav-people`)
	b.click(`#people-import`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#import-page`)))
	b.run(chromedp.SetUploadFiles(chromedp.CSS(`#import-file`), []string{csvPath}))
	b.text(`#import-mapping`, "city")
	b.waitJS(`!document.getElementById('import-start').disabled`, "Import enabled")
	b.screenshot("done12-1-import-mapping")
	b.click(`#import-start`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#import-report`)))
	b.run(chromedp.WaitVisible(chromedp.CSS(`#import-progress`)))
	b.text(`#import-rows`, "4 rows")
	b.text(`#import-created`, "4")
	b.text(`#import-refused`, "0")
	b.screenshot("done12-2-import-report")
	people := d12Contacts(t, n)
	if len(people) != 4 || people[ana].Name != "Ana Souza" || string(people[ben].Fields["city"]) != `"Berlin"` {
		t.Fatalf("after the import the API lists %+v", people)
	}
	b.click(`#import-people`)
	b.text(`#people-table`, "Chloé Martin")
	b.waitJS(`document.querySelectorAll('#people-table tbody tr').length === 4`, "the four imported contacts on People")

	// 2. Start conversation with Ana from her contact on People, with an approved template, her name prefilled.
	b.js(`[...document.querySelectorAll('#people-table tbody tr')].find(r => r.innerText.includes('Ana Souza')).click()`)
	b.text(`#contact-title`, "Ana Souza")
	b.waitJS(`document.getElementById('field-city')?.value === 'London'`, "her imported city")
	b.click(`#contact-start`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#start-dialog`)))
	b.text(`#start-contact`, "Ana Souza")
	b.click(`#start-dialog #tpl-list .tpl-row[data-name="order_update"][data-language="en_US"]`)
	b.waitJS(`document.querySelector('#start-dialog #tpl-param-1')?.value === 'Ana Souza'`, "the name prefilled from the contact")
	b.run(chromedp.SendKeys(chromedp.CSS(`#start-dialog #tpl-param-2`), "R-4612"))
	b.text(`#tpl-preview-body`, "Hi Ana Souza, your order R-4612 has shipped")
	b.screenshot("done12-3-start-dialog")
	b.click(`#start-dialog #tpl-send`)
	waAna := strings.TrimPrefix(ana, "+")
	conv := conversation.ID("acme-wa", waAna)
	b.waitJS(`location.pathname === '/mine/`+conv+`'`, "the new conversation opened in Mine")
	b.text(`.template-msg`, "order_update")
	b.waitJS(`document.querySelector('#tab-mine .count')?.innerText === '1'`, "Mine counts 1")
	b.text(`#conv-list .row-name`, "Ana Souza")
	simReceived(t, s, waAna, "the template", `"type":"template"`, "R-4612", "Ana Souza")
	if code, v := n.conversation(d12Admin, conv); code != 200 || v.AssigneeID != "alice" {
		t.Fatalf("the started conversation: %d assignee %q", code, v.AssigneeID)
	}

	// 3. Ana replies (the window opens), and is answered with the canned response and a photo from the paperclip.
	customerWrites(t, n, named(waAna, "Ana Souza", "wamid.d12a", "Thanks! Can you show me the replacement?", time.Now()))
	b.text(`.msg.in`, "show me the replacement")
	b.run(chromedp.WaitVisible(chromedp.CSS(`#composer`)))
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "/replace"))
	b.text(`#canned-list .canned-row.active`, "Photo of the replacement")
	b.waitJS(`!document.getElementById('toast')`, "the toast gone")
	b.screenshot("done12-4-canned-picker")
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "\t"))
	cannedText := "Hi Ana Souza, here is the replacement we send to London today."
	b.waitJS(`document.getElementById('composer').value === `+quoteJS(cannedText), "the canned response inserted, rendered")
	photo := testPNG(t, 480, 320, color.RGBA{40, 160, 90, 255})
	photoPath := filepath.Join(dir, "replacement.png")
	if err := os.WriteFile(photoPath, photo, 0o600); err != nil {
		t.Fatal(err)
	}
	b.run(chromedp.SetUploadFiles(chromedp.CSS(`#attach-input`), []string{photoPath}))
	b.waitJS(`document.querySelector('#attach-chip[data-state=ready]') !== null`, "the photo uploaded")
	b.text(`#attach-chip`, "replacement.png")
	b.screenshot("done12-5-canned-and-photo")
	b.click(`#send`)
	b.waitJS(`!document.getElementById('attach-chip')`, "the chip cleared after sending")
	var sentID string
	eventually.True(t, 30*time.Second, 50*time.Millisecond, func() bool {
		for _, m := range s.Messages() {
			var p struct {
				Image struct{ ID, Caption string } `json:"image"`
			}
			if m.To != waAna || m.Type != "image" || json.Unmarshal(m.Payload, &p) != nil || p.Image.Caption != cannedText {
				continue
			}
			if f, ok := s.Media(p.Image.ID); ok && f.Uploaded && bytes.Equal(f.Data, photo) {
				sentID = p.Image.ID
				return true
			}
		}
		return false
	}, "the simulator received the photo by its media id, captioned with the canned response")
	b.waitJS(`(() => { const i = document.querySelector('.msg.out .media-thumb[data-media="`+sentID+`"] img');
		return i && i.complete && i.naturalWidth === 480 })()`, "the sent photo shown")

	// 4. Ana sends a photo; the operator opens it full size.
	custPhoto := testPNG(t, 640, 420, color.RGBA{230, 80, 60, 255})
	custID, _, err := s.SendCustomerMedia(context.Background(), sim.CustomerMedia{PhoneNumberID: conPhone, From: waAna,
		ProfileName: "Ana Souza", MIMEType: "image/png", Data: custPhoto, Caption: "the box it came in"})
	if err != nil {
		t.Fatal(err)
	}
	thumb := `.msg.in .media-thumb[data-media="` + custID + `"]`
	b.waitJS(`(() => { const i = document.querySelector('`+thumb+` img'); return i && i.complete && i.naturalWidth > 0 })()`,
		"the customer's photo shown")
	b.waitJS(`!document.getElementById('toast')`, "the toast gone")
	b.screenshot("done12-6-customer-photo")
	b.click(thumb)
	b.waitJS(`(() => { const i = document.querySelector('#lightbox img'); return i && i.complete && i.naturalWidth === 640 })()`,
		"the photo opened full size")
	b.screenshot("done12-7-lightbox")
	b.click(`#lightbox-close`)
	b.waitJS(`!document.getElementById('lightbox')`, "the lightbox closed")

	// 5. Block Ben from the People page: the Blocked badge, the API, and sending to him refused.
	b.click(`#nav-people`)
	b.text(`#people-table`, "Ben Richter")
	b.js(`[...document.querySelectorAll('#people-table tbody tr')].find(r => r.innerText.includes('Ben Richter')).click()`)
	b.text(`#contact-title`, "Ben Richter")
	b.click(`#contact-block`)
	b.text(`#contact-blocked`, "Blocked")
	b.waitJS(`[...document.querySelectorAll('#people-table tbody tr')].some(r => r.innerText.includes('Ben Richter') && r.innerText.includes('Blocked'))`,
		"Ben's row shows Blocked")
	b.waitJS(`!document.getElementById('toast')`, "the toast gone")
	b.screenshot("done12-8-blocked")
	if _, c := n.contact(d12Admin, people[ben].ID); !c.Blocked {
		t.Fatal("blocked in the console, not in the API")
	}
	code, body := n.call("POST", "/v1/conversations", d12Admin, map[string]any{"channel_id": "acme-wa", "contact_id": people[ben].ID,
		"template": map[string]any{"name": "order_update", "language": "en_US", "params": []string{"Ben", "R-1"}}})
	if code != 409 || !strings.Contains(string(body), "contact_blocked") {
		t.Errorf("a template to the blocked contact: %d %s", code, body)
	}

	// 6. Erase Ana, from her conversation's contact panel, after typing her number's last 4 digits.
	b.click(`#tab-mine`)
	b.openRow("Ana Souza")
	b.click(`#contact-erase`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#erase-dialog`)))
	b.waitJS(`document.getElementById('erase-confirm').disabled`, "Erase disabled until confirmed")
	b.run(chromedp.SendKeys(chromedp.CSS(`#erase-confirm-input`), ana[len(ana)-4:]))
	b.waitJS(`!document.getElementById('erase-confirm').disabled`, "the last 4 digits enable Erase")
	b.screenshot("done12-9-erase-confirm")
	b.click(`#erase-confirm`)
	b.waitJS(`!document.getElementById('erase-dialog')`, "the dialog closed")
	b.text(`#contact-missing`, "erased")
	b.text(`#toast`, "the messages of their conversation")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, _ := n.contact(d12Admin, people[ana].ID)
		return code == 404
	}, "Ana's contact gone")
	b.waitJS(`!document.body.innerText.includes('Ana Souza') && !document.body.innerText.includes('show me the replacement')`,
		"Ana's name and words gone from the page")
	b.text(`#conv-name`, "Erased customer")
	b.text(`#composer-locked`, "reopens if they write again")
	b.waitJS(`!document.getElementById('reopen')`, "no Reopen for an erased customer (the server refuses it)")
	b.waitJS(`!document.getElementById('toast')`, "the toast gone")
	b.screenshot("done12-10-erased")
	_, cv := n.conversation(d12Admin, conv)
	if s := fmt.Sprint(cv); strings.Contains(s, waAna) || strings.Contains(s, "Ana Souza") || strings.Contains(s, "replacement") {
		t.Fatalf("the conversation still holds Ana's data after the erase: %s", s)
	}
	if _, c := n.contact(d12Admin, people[ben].ID); !c.Blocked || c.Name != "Ben Richter" {
		t.Fatalf("Ben after Ana's erase: %+v", c)
	}
}
