package main_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// TestConsoleTemplatePicker: the operator picks a template from the channel's catalogue by searching its name; its
// first parameter comes prefilled with the contact's name, the preview shows the filled body, and it goes out; an
// image header is given by link and previewed; a dynamic URL button's suffix and a location header are asked for,
// previewed and sent; a template that is not approved shows why and cannot be sent; one
// Meta pauses meanwhile shows PAUSED and its reason.
func TestConsoleTemplatePicker(t *testing.T) {
	// The console's tenant with a custom field, so a template parameter can come from it.
	n, s := startConsoleNodeConfig(t, strings.Replace(conConfig, "      routing: manual\n",
		"      routing: manual\n      contact_fields:\n        - {key: city, label: City, type: text}\n", 1))
	from := "351912345678"
	customerWrites(t, n, named(from, "Marta Silva", "wamid.tp1", "Where is my parcel?", time.Now().Add(-3*time.Minute)))
	contactID := conversation.ContactID(from)
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, _ := n.get("/v1/contacts/"+contactID, conAlice)
		return code == 200
	}, "the customer is a contact")
	n.mustCall("PATCH", "/v1/contacts/"+contactID, conAlice, map[string]any{"fields": map[string]string{"city": "Lisbon"}}, 200)
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.openRow("Marta Silva")
	b.click(`#attend`)
	b.text(`#conv-status`, "Open")

	b.click(`#template-toggle`)
	b.text(`#tpl-list .tpl-row`, "order_update")
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-search`), "order_update"))
	b.waitJS(`document.querySelectorAll('#tpl-list .tpl-row').length === 2`, "two order_update languages")
	b.text(`#tpl-list .tpl-row[data-language="pt_BR"]`, "APPROVED")
	b.screenshotWithoutToast("templates-picker")

	b.click(`.tpl-row[data-name="order_update"][data-language="en_US"]`)
	b.waitJS(`document.getElementById('tpl-param-1').value === 'Marta Silva'`, "{{1}} prefilled with the contact's name")
	b.text(`label`, "from contact.name")
	b.waitJS(`document.getElementById('tpl-send').disabled`, "send disabled while {{2}} is empty")
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-param-2`), "R-1024"))
	b.text(`#tpl-preview-body`, "Hi Marta Silva, your order R-1024 has shipped and should arrive within 3 days.")
	b.text(`#tpl-preview`, "Track my order")
	b.screenshotWithoutToast("templates-preview")
	b.click(`#tpl-send`)
	simReceived(t, s, from, "order_update with both parameters", `"name":"order_update"`, `"text":"Marta Silva"`, `"text":"R-1024"`)
	b.text(`.template-msg`, "order_update")
	b.text(`.template-msg .template-body`, "Hi Marta Silva, your order R-1024 has shipped")

	// An image header, by link, shown in the preview and carried to Meta.
	b.click(`#template-toggle`) // back to the reply box
	b.click(`#template-toggle`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-search`), "spring"))
	b.click(`.tpl-row[data-name="spring_sale"]`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-header`), "https://cdn.example.com/spring.jpg"))
	b.text(`.tpl-preview-media`, "Image: https://cdn.example.com/spring.jpg")
	b.text(`#tpl-preview-body`, "Hi Marta Silva, our spring sale starts today")
	b.screenshotWithoutToast("templates-image-header")
	b.click(`#tpl-send`)
	simReceived(t, s, from, "spring_sale with its image header", `"name":"spring_sale"`, `"type":"header"`,
		`"link":"https://cdn.example.com/spring.jpg"`)

	// Named parameters: {{first_name}} is the contact's name, {{city}} its custom field.
	b.click(`#template-toggle`)
	b.click(`#template-toggle`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-search`), "appointment"))
	b.click(`.tpl-row[data-name="appointment_reminder"]`)
	b.waitJS(`document.getElementById('tpl-param-1').value === 'Marta Silva' && document.getElementById('tpl-param-2').value === 'Lisbon'`,
		"{{first_name}} and {{city}} prefilled from the contact")
	b.text(`label`, "from contact.fields.city")
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-param-3`), "May 3"))
	b.text(`#tpl-preview-body`, "Hello Marta Silva, your appointment at our Lisbon store is confirmed for May 3.")
	b.screenshotWithoutToast("templates-contact-fields")
	b.click(`#tpl-send`)
	simReceived(t, s, from, "appointment_reminder with named parameters", `"parameter_name":"city"`, `"text":"Lisbon"`)

	// A dynamic URL button: its suffix is asked for, shown in the preview's button, and sent as the button's
	// parameter; the send waits for it.
	b.click(`#template-toggle`)
	b.click(`#template-toggle`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-search`), "tracking"))
	b.click(`.tpl-row[data-name="order_tracking"]`)
	b.waitJS(`document.getElementById('tpl-param-1').value === 'Marta Silva'`, "{{1}} prefilled")
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-param-2`), "R-2048"))
	b.text(`label`, "the end of https://shop.example.com/track/{{1}}")
	b.waitJS(`document.getElementById('tpl-send').disabled`, "send disabled while the URL suffix is empty")
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-button-0`), "R-2048"))
	b.text(`.btn-preview[data-index="0"]`, "Track order → https://shop.example.com/track/R-2048")
	b.text(`.btn-preview[data-index="1"]`, "Talk to us")
	b.waitJS(`!document.getElementById('tpl-send').disabled`, "send enabled once the suffix is given")
	b.waitJS(`!document.getElementById('toast')`, "no toast over the picker")
	b.screenshot("templates-url-button")
	b.click(`#tpl-send`)
	simReceived(t, s, from, "order_tracking with its URL suffix", `"name":"order_tracking"`,
		`{"index":"0","parameters":[{"text":"R-2048","type":"text"}],"sub_type":"url","type":"button"}`)

	// A location header: its coordinates, name and address, in range before the send is allowed.
	b.click(`#template-toggle`)
	b.click(`#template-toggle`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-search`), "pickup"))
	b.click(`.tpl-row[data-name="pickup_ready"]`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-param-2`), "R-2048"))
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-loc-lat`), "38.7223"))
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-loc-long`), "-190"))
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-loc-name`), "Baixa store"))
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-loc-address`), "Rua Augusta 1, Lisboa"))
	b.waitJS(`document.getElementById('tpl-send').disabled`, "send disabled while the longitude is out of range")
	b.js(`document.getElementById('tpl-loc-long').select()`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-loc-long`), "-9.1393"))
	b.text(`.tpl-preview-location`, "Baixa store, Rua Augusta 1, Lisboa (38.7223, -9.1393)")
	b.waitJS(`!document.getElementById('tpl-send').disabled`, "send enabled with a valid place")
	b.waitJS(`!document.getElementById('toast')`, "no toast over the picker")
	b.screenshot("templates-location-header")
	b.click(`#tpl-send`)
	simReceived(t, s, from, "pickup_ready with its location", `"name":"pickup_ready"`,
		`{"address":"Rua Augusta 1, Lisboa","latitude":"38.7223","longitude":"-9.1393","name":"Baixa store"}`)

	// Not approved: the picker says why and will not send.
	b.click(`#template-toggle`)
	b.click(`#template-toggle`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-search`), "welcome"))
	b.text(`.tpl-row[data-name="welcome_offer"] .tpl-status`, "PENDING")
	b.click(`.tpl-row[data-name="welcome_offer"]`)
	b.text(`#tpl-blocked`, "is waiting for Meta’s review")
	b.waitJS(`document.getElementById('tpl-send').disabled && document.getElementById('tpl-param-1').disabled`, "nothing to send")
	b.screenshotWithoutToast("templates-not-approved")

	// Meta pauses order_update while the operator has it open: the catalogue follows the webhook, and the open picker
	// shows it paused, with the reason, without a reload.
	b.click(`#tpl-back`)
	b.js(`document.getElementById('tpl-search').select()`) // typing replaces the search "welcome"
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-search`), "order"))
	b.click(`.tpl-row[data-name="order_update"][data-language="en_US"]`)
	b.text(`#tpl-chosen-status`, "APPROVED")
	resp, err := http.Post(s.URL()+"/sim/templates/order_update/status", "application/json",
		strings.NewReader(`{"language":"en_US","status":"PAUSED","reason":"LOW_QUALITY","waba":"`+conWABA+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pause: %d", resp.StatusCode)
	}
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		_, body := n.get("/v1/templates?status=PAUSED", conAlice)
		return strings.Contains(string(body), `"order_update"`)
	}, "order_update paused in the catalogue")
	b.text(`#tpl-chosen-status`, "PAUSED")
	b.text(`#tpl-blocked`, "is paused by Meta for low quality (LOW_QUALITY)")
	b.waitJS(`document.getElementById('tpl-send').disabled`, "paused cannot be sent")
	b.screenshotWithoutToast("templates-paused")
	b.click(`#tpl-back`)
	b.text(`.tpl-row[data-name="order_update"][data-language="en_US"] .tpl-status`, "PAUSED")
}
