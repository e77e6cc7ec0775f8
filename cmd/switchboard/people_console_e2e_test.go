package main_test

// The People screens in a real browser (the harness of console_e2e_test.go): contacts made through the API found on
// the People page by search, a custom field edited in the contact panel beside a conversation (a bad value refused
// next to the field), block and unblock, erase after a typed confirmation, the CSV export, an operator of a tenant
// that hides phone numbers seeing only masked numbers, and customer-written names shown as text.

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const (
	pplHushPhone = "100200302"
	pplAlice     = conAlice // acme's operators are the console tenant's (conOperatorsY); the older names stay
	pplBob       = conBob
	pplHank      = "people-hank-token-00003"
	pplOlga      = "people-olga-token-00004"
	pplConfig    = `tenants:
  - id: acme
    settings:
      routing: manual
      contact_fields:
        - {key: city, label: City, type: text}
        - {key: plan, label: Plan, type: choice, choices: [basic, premium]}
        - {key: seats, label: Seats, type: number}
        - {key: birthday, label: Birthday, type: date}
        - {key: vip, label: VIP, type: boolean}
        - {key: account, label: Account number, type: text, required: true}
` + conChannelY + conOperatorsY + `  - id: hush
    settings:
      routing: manual
      hide_phone_numbers: true
      contact_fields:
        - {key: city, label: City, type: text}
    channels:
      - id: hush-wa
        type: whatsapp
        phone_number_id: "` + pplHushPhone + `"
        app_secret: "` + outSecret + `"
        verify_token: "v2"
        access_token: "hush-access"
    operators:
      - {id: hank, name: Hank Admin, role: admin, capacity: 5, token: "` + pplHank + `"}
      - {id: olga, name: Olga Operator, role: operator, capacity: 5, token: "` + pplOlga + `"}
`
)

// startPeopleNode starts a node with the People tests' tenants (pplConfig) and the simulator.
func startPeopleNode(t *testing.T) *node {
	t.Helper()
	n, _ := startNodeWithSim(t, pplConfig, simConfig(sim.FailConfig{}))
	return n
}

// createContact makes a contact through the API and returns it.
func createContact(t *testing.T, n *node, token, phone, name string, fields map[string]any) e2eContact {
	t.Helper()
	body := map[string]any{"phone": phone, "name": name}
	if fields != nil {
		body["fields"] = fields
	}
	b := n.mustCall("POST", "/v1/contacts", token, body, 201)
	var c e2eContact
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
		t.Fatalf("POST /v1/contacts: %v %s", err, b)
	}
	return c
}

// peopleRows is the People table's rows as "name|phone|…|status" lines.
const peopleRows = `[...document.querySelectorAll('#people-table tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim()).join('|'))`

// TestConsolePeople: contacts created through the API are on the People page and found by search (a customer-written
// name shown as text); beside the conversation of one of them the contact panel edits a custom field (a bad number
// refused next to the field, then a good one stored); block and unblock from the panel; the CSV export is the tenant's
// contacts with formula cells neutralised; erase after typing the phone's last 4 digits.
func TestConsolePeople(t *testing.T) {
	n := startPeopleNode(t)
	now := time.Now()
	maria := createContact(t, n, conAlice, "+5215512345678", "María López", map[string]any{
		"city": "CDMX", "plan": "premium", "account": "AC-1001", "vip": true})
	people := []struct{ phone, name, city, plan string }{
		{"+4915112345678", "Lena Fischer", "Berlin", "basic"},
		{"+33612345678", "Camille Durand", "Lyon", "premium"},
		{"+447700900123", "Tom Baker", "London", "basic"},
		{"+818012345678", "Kenji Tanaka", "Osaka", "premium"},
		{"+5511987650000", "Lucas Silva", "São Paulo", "basic"},
		{"+27821234567", "Thabo Nkosi", "Cape Town", "premium"},
	}
	for i, p := range people {
		createContact(t, n, conAlice, p.phone, p.name, map[string]any{"city": p.city, "plan": p.plan, "account": fmt.Sprintf("AC-%d", 2000+i)})
	}
	evil := `<img src=x onerror="window.__pwned=1">Eve`
	createContact(t, n, conAlice, "+15550001111", evil, map[string]any{"city": `=HYPERLINK("http://evil.example","x")`, "account": "AC-666"})
	// María writes: her conversation carries her contact.
	customerWrites(t, n, named("5215512345678", "María López", "wamid.p1", "Hola! Can you update my plan?", now.Add(-3*time.Minute)))
	mariaConv := ""
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		_, c := n.contact(conAlice, maria.ID)
		if len(c.Conversations) > 0 {
			mariaConv = c.Conversations[0].ID
		}
		return mariaConv != ""
	}, "María's conversation listed on her contact")

	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.click(`#nav-people`)
	b.text(`#people-table`, "Thabo Nkosi")
	b.text(`#people-table`, evil)
	b.waitJS(`location.pathname === '/people'`, "the People route")
	b.screenshot("console-people")
	if v := jsValue[string](b, `String(window.__pwned)`); v != "undefined" {
		t.Fatalf("a contact's name ran as HTML: window.__pwned = %s", v)
	}
	if k := jsValue[int](b, `document.querySelectorAll('#app img').length`); k != 0 {
		t.Fatalf("a contact's name made %d img elements", k)
	}

	// Import is the import page (import.jsx), under the same nav section.
	b.click(`#people-import`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#import-page`)))
	b.waitJS(`location.pathname === '/people/import' && document.getElementById('nav-import').classList.contains('active')`, "the import page")
	b.click(`#nav-people`)
	b.text(`#people-table`, "Thabo Nkosi")

	// Search by name, then by the last 4 digits; the filter for blocked shows nobody yet.
	b.run(chromedp.SendKeys(chromedp.CSS(`#people-search`), "lopez"))
	b.waitJS(`(() => { const r = `+peopleRows+`; return r.length === 1 && r[0].includes('María López|+5215512345678|CDMX|premium|'); })()`,
		"only María found by name")
	b.setInput(`#people-search`, "0123")
	b.waitJS(`(() => { const r = `+peopleRows+`; return r.length === 1 && r[0].includes('Tom Baker'); })()`, "Tom found by his last 4 digits")
	b.setInput(`#people-search`, "")
	b.waitJS(`document.querySelectorAll('#people-table tbody tr').length === 8`, "everyone again")
	// A choice field's filter keeps exactly the contacts with that value.
	b.setInput(`#people-filter-plan`, "premium")
	b.waitJS(`(() => { const r = `+peopleRows+`; return r.length === 4 && r.every(x => x.includes('|premium|')); })()`,
		"the four premium contacts")
	b.setInput(`#people-filter-plan`, "")
	b.waitJS(`document.querySelectorAll('#people-table tbody tr').length === 8`, "everyone again")

	// The detail of a row, then its conversation from the panel's list.
	b.js(`[...document.querySelectorAll('#people-table tbody tr')].find(r => r.innerText.includes('María López')).click()`)
	b.waitJS(`location.pathname === '/people/`+maria.ID+`'`, "the contact's route")
	b.text(`#contact-title`, "María López")
	b.text(`#contact-convs`, "Unassigned")
	b.waitJS(`document.getElementById('field-city').value === 'CDMX' && document.getElementById('field-vip').value === 'true'`, "her fields")
	b.screenshot("console-people-contact")
	b.click(`#contact-convs a[data-conversation="` + mariaConv + `"]`)
	b.text(`#conv-name`, "María López")

	// Beside the conversation: a bad number is refused next to its field and nothing changes.
	b.text(`#contact-panel`, "Seats")
	b.run(chromedp.SendKeys(chromedp.CSS(`#field-seats`), "twelve"))
	b.click(`#contact-save`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#field-error-seats`)))
	t.Logf("the refusal beside the field: %s", jsValue[string](b, `document.getElementById('field-error-seats').innerText`))
	b.waitJS(`document.querySelector('.cf.invalid #field-seats') !== null`, "the field marked invalid")
	b.screenshot("console-contact-invalid")
	if _, c := n.contact(conAlice, maria.ID); c.Fields["seats"] != nil {
		t.Fatalf("a refused value was stored: %s", c.Fields["seats"])
	}
	b.setInput(`#field-seats`, "12")
	b.waitJS(`!document.getElementById('field-error-seats')`, "the error cleared on edit")
	b.setInput(`#field-plan`, "basic")
	b.click(`#contact-save`)
	b.waitJS(`!document.getElementById('contact-save')`, "saved")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, c := n.contact(conAlice, maria.ID)
		return string(c.Fields["seats"]) == "12" && string(c.Fields["plan"]) == `"basic"` && string(c.Fields["city"]) == `"CDMX"`
	}, "seats 12 and plan basic stored, city kept")
	b.screenshotWithoutToast("console-contact-panel")

	// Block, then unblock.
	b.click(`#contact-block`)
	b.text(`#contact-blocked`, "Blocked")
	b.run(chromedp.WaitVisible(chromedp.CSS(`#contact-unblock`)))
	if _, c := n.contact(conAlice, maria.ID); !c.Blocked {
		t.Fatal("blocked in the console, not in the API")
	}
	b.click(`#nav-people`)
	b.setInput(`#people-filter`, "true")
	b.waitJS(`(() => { const r = `+peopleRows+`; return r.length === 1 && r[0].includes('María López') && r[0].includes('Blocked'); })()`,
		"the blocked filter shows María")
	b.js(`document.querySelector('#people-table tbody tr').click()`)
	b.click(`#contact-unblock`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#contact-block`)))
	b.waitJS(`document.querySelectorAll('#people-table tbody tr').length === 0`, "nobody blocked any more")
	if _, c := n.contact(conAlice, maria.ID); c.Blocked {
		t.Fatal("unblocked in the console, still blocked in the API")
	}

	// The export, as the browser downloads it with the session cookie.
	b.run(chromedp.WaitVisible(chromedp.CSS(`#people-export[href="/v1/contacts/export.csv"]`)))
	csvText, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(async () => {
		const r = await fetch(document.getElementById('people-export').href, {credentials: 'same-origin'});
		return r.status + ' ' + r.headers.get('Content-Type') + '\n' + await r.text(); })()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch the export: %v", err)
	}
	status, body, _ := strings.Cut(csvText, "\n")
	if !strings.HasPrefix(status, "200 text/csv") {
		t.Fatalf("export: %s", status)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, body)
	}
	if got := strings.Join(recs[0], ","); got != "id,phone,name,city,plan,seats,birthday,vip,account,blocked,created_at" {
		t.Fatalf("export header %q", got)
	}
	if len(recs) != 1+8 {
		t.Fatalf("export has %d rows, want 8 contacts:\n%s", len(recs)-1, body)
	}
	var sawEve, sawMaria bool
	for _, r := range recs[1:] {
		switch r[0] {
		case maria.ID:
			sawMaria = r[1] == "+5215512345678" && r[2] == "María López" && r[3] == "CDMX" && r[4] == "basic" && r[5] == "12" && r[9] == "false"
		default:
			if r[1] == "+15550001111" {
				sawEve = r[2] == evil && r[3] == `'=HYPERLINK("http://evil.example","x")`
			}
		}
	}
	if !sawEve || !sawMaria {
		t.Fatalf("export rows wrong (eve %v, maria %v):\n%s", sawEve, sawMaria, body)
	}

	// Erase, from the conversation: the confirmation takes only the last 4 digits or ERASE.
	b.run(chromedp.Navigate(n.url("/unassigned/" + mariaConv)))
	b.text(`#conv-name`, "María López")
	b.click(`#contact-erase`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#erase-dialog`)))
	b.run(chromedp.SendKeys(chromedp.CSS(`#erase-confirm-input`), "1234"))
	b.waitJS(`document.getElementById('erase-confirm').disabled`, "a wrong confirmation keeps Erase disabled")
	b.setInput(`#erase-confirm-input`, "5678")
	b.waitJS(`!document.getElementById('erase-confirm').disabled`, "the last 4 digits enable Erase")
	b.screenshot("console-contact-erase")
	b.click(`#erase-confirm`)
	b.waitJS(`!document.getElementById('erase-dialog')`, "the dialog closed")
	b.text(`#contact-missing`, "erased")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, _ := n.contact(conAlice, maria.ID)
		return code == 404
	}, "María's contact gone")
	_, cv := n.conversation(conAlice, mariaConv)
	if strings.Contains(fmt.Sprint(cv), "5215512345678") || strings.Contains(fmt.Sprint(cv), "María") {
		t.Fatalf("the conversation still names María after the erase: %+v", cv)
	}
	b.waitJS(`!document.body.innerText.includes('María')`, "María's name gone from the page")
	b.run(chromedp.Navigate(n.url("/people/" + maria.ID)))
	b.text(`#contact-missing`, "No such contact")
	b.waitJS(`!document.body.innerText.includes('María')`, "María not on People")
}

// TestConsolePeopleMaskedForOperator: in a tenant with hide_phone_numbers, an operator sees masked numbers on the
// People page, in the contact panel and in the conversation, and nowhere the full number; the tenant's admin sees it.
func TestConsolePeopleMaskedForOperator(t *testing.T) {
	n := startPeopleNode(t)
	const full = "+4915112345678"
	c := createContact(t, n, pplHank, full, "Lena Fischer", map[string]any{"city": "Berlin"})
	createContact(t, n, pplHank, "+33612345678", "Camille Durand", nil)
	if code, b := n.get("/v1/contacts", pplOlga); code != 200 || strings.Contains(string(b), "12345678") {
		t.Fatalf("GET /v1/contacts as the operator: %d %s", code, b)
	}
	n.deliver(pplHushPhone, outSecret, named("4915112345678", "Lena Fischer", "wamid.h1", "Hallo, wo ist mein Paket?", time.Now()))

	b := newBrowser(t)
	b.signIn(n, pplOlga, "")
	b.openRow("Lena Fischer")
	b.text(`.contact-card`, "+4915•••5678")
	b.waitJS(`document.getElementById('field-city')?.value === 'Berlin'`, "her city in the panel")
	b.screenshot("console-people-masked")
	page := jsValue[string](b, `document.documentElement.outerHTML`)
	for _, s := range []string{"4915112345678", "12345678", "15112345678"} {
		if strings.Contains(page, s) {
			t.Fatalf("the operator's page holds %q:\n%s", s, page)
		}
	}
	// The erase is an admin's: the operator has no button for it.
	if k := jsValue[int](b, `document.querySelectorAll('#contact-erase').length`); k != 0 {
		t.Fatal("an operator is offered Erase")
	}

	// The People page is contacts.manage's (admins and builders): no entry for the operator, and its address says so.
	b.waitJS(`!document.getElementById('nav-people') && !document.getElementById('nav-import')`, "no People entry for an operator")
	b.run(chromedp.Navigate(n.url("/people")))
	b.text(`#no-access`, "You do not have access")

	// Pages of 50 with the server's cursor: 54 contacts are a full page and one of 4, and back (as the admin).
	for i := 0; i < 52; i++ {
		createContact(t, n, pplHank, fmt.Sprintf("+3491%07d", i), fmt.Sprintf("Cliente %02d", i), nil)
	}
	b = newBrowser(t)
	b.signIn(n, pplHank, "")
	b.click(`#nav-people`)
	b.waitJS(`location.pathname === '/people'`, "the People page")
	b.waitJS(`document.querySelectorAll('#people-table tbody tr').length === 50 && !document.getElementById('people-next').disabled`,
		"a full first page, and a next one")
	first := jsValue[[]string](b, peopleRows)
	b.click(`#people-next`)
	b.waitJS(`document.querySelectorAll('#people-table tbody tr').length === 4`, "the second page")
	b.text(`#people-count`, "Page 2")
	second := jsValue[[]string](b, peopleRows)
	for _, r := range second {
		if slices.Contains(first, r) {
			t.Fatalf("%q on both pages", r)
		}
	}
	b.waitJS(`document.getElementById('people-next').disabled`, "no third page")
	b.click(`#people-prev`)
	b.waitJS(`document.querySelectorAll('#people-table tbody tr').length === 50`, "the first page again")

	admin := newBrowser(t)
	admin.signIn(n, pplHank, "")
	admin.run(chromedp.Navigate(n.url("/people/" + c.ID)))
	admin.text(`#contact-phone`, full)

	// A contact deleted while its conversation is open: the panel hears it on the live stream and offers to save
	// the customer again.
	admin.click(`#tab-unassigned`)
	admin.openRow("Lena Fischer")
	admin.waitJS(`document.getElementById('field-city')?.value === 'Berlin'`, "Lena's panel")
	n.mustCall("DELETE", "/v1/contacts/"+c.ID, pplHank, nil, 200)
	admin.text(`#contact-missing`, "Not in People")
	admin.click(`#contact-create`)
	admin.waitJS(`document.getElementById('contact-name-input')?.value === 'Lena Fischer' && document.getElementById('field-city')?.value === ''`,
		"Lena saved again, without her old fields")
	if code, again := n.contact(pplHank, c.ID); code != 200 || again.Phone != full {
		t.Fatalf("saved again: %d %+v", code, again)
	}
}
