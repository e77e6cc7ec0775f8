package main_test

// The console in a real browser: chromedp drives Debian's chromium (make test-deps installs it) against a node
// started from the binary, with the Cloud API simulator. Each test waits for conditions on the page (never
// sleep-and-assert) and saves a screenshot of the screens it reaches (bin/screenshots; `make screenshots`
// refreshes docs/screenshots, which the README shows).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// TestConsoleAttendReplyRead is the operator's day in one test: sign in; a customer's webhook appears live in
// Unassigned; open it (every message type shown as such); Attend; reply; the simulator receives the reply and its
// ticks move to read.
func TestConsoleAttendReplyRead(t *testing.T) {
	n, s := startConsoleNode(t)
	now := time.Now()
	// Others waiting already, so the inbox looks like a working day.
	customerWrites(t, n, named("34600111222", "Jonas Weber", "wamid.cw1", "Is the store open on Sunday?", now.Add(-95*time.Minute)))
	customerWrites(t, n, named("44770090001", "Priya Shah", "wamid.cw2", "I was charged twice for order 5521", now.Add(-40*time.Minute)))
	customerWrites(t, n, typed("5511987650000", "Lucas Silva", "wamid.cw3", "image",
		`{"id":"media-1","mime_type":"image/jpeg","caption":"The box arrived like this"}`, now.Add(-12*time.Minute)))
	customerWrites(t, n, named("201001234567", "Ahmed Hassan", "wamid.cw4", "Thanks, that solved it!", now.Add(-26*time.Hour)))
	customerWrites(t, n, typed("393331234567", "Sofia Rossi", "wamid.cw5", "audio",
		`{"id":"media-3","mime_type":"audio/ogg; codecs=opus","voice":true}`, now.Add(-3*time.Minute)))
	customerWrites(t, n, typed("818012345678", "Kenji Tanaka", "wamid.cw6", "contacts",
		`[{"name":{"formatted_name":"Yuki Tanaka"},"phones":[{"phone":"+81 80 1111 2222","type":"CELL"}]}]`, now.Add(-2*time.Minute)))

	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.text(`#conv-list .row-name`, "Priya Shah")

	// A new customer appears live, without a reload.
	maria := "5215512345678"
	customerWrites(t, n,
		named(maria, "María López", "wamid.m1", "Hola! My order #1234 hasn't arrived yet 😟", now.Add(-6*time.Minute)),
		typed(maria, "María López", "wamid.m2", "document",
			`{"id":"media-2","mime_type":"application/pdf","filename":"invoice-1234.pdf","caption":"Here is the invoice"}`, now.Add(-5*time.Minute)),
		typed(maria, "María López", "wamid.m3", "location",
			`{"latitude":19.4326,"longitude":-99.1332,"name":"Home","address":"Av. Reforma 100, CDMX"}`, now.Add(-5*time.Minute)),
		typed(maria, "María López", "wamid.m4", "interactive",
			`{"type":"button_reply","button_reply":{"id":"track","title":"Track my order"}}`, now.Add(-4*time.Minute)),
	)
	b.text(`#conv-list .row-name`, "María López")
	b.waitJS(`document.querySelector('#tab-unassigned .count')?.innerText === '7'`, "Unassigned counts 7")
	b.screenshot("console-inbox")

	b.openRow("María López")
	b.run(chromedp.WaitVisible(chromedp.CSS(`#attend`)))
	b.waitJS(`document.querySelector('.media-card.document')?.innerText.includes('invoice-1234.pdf')`, "the document card")
	b.waitJS(`document.querySelector('.media-card.location')?.innerText.includes('Av. Reforma 100')`, "the location card")
	b.text(`.choice-title`, "Track my order")

	b.click(`#attend`)
	b.text(`#conv-status`, "Open")
	// Now in Mine, live.
	b.waitJS(`document.querySelector('#tab-mine .count')?.innerText === '1'`, "Mine counts 1")
	b.click(`#tab-mine`)
	b.openRow("María López")
	b.run(chromedp.WaitVisible(chromedp.CSS(`#composer`)))
	// A private note with an @mention, picked from the completion list.
	b.click(`#mode-note`)
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "Checking with the courier, @b"))
	b.text(`#mention-list`, "Bob Okafor")
	// Tab picks the highlighted operator (chromedp's Enter also sends a char event, which a real keyboard's
	// prevented Enter does not).
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "\t"))
	b.waitJS(`document.getElementById('composer').value.endsWith('@bob ')`, "the mention completed")
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "can you look at the courier's portal?\r"))
	b.text(`.msg.note`, "@bob can you look")

	b.click(`#mode-reply`)
	reply := "Hi María, sorry about that! Your parcel is with the courier and arrives tomorrow."
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), reply+"\r"))
	simReceived(t, s, maria, "the reply", "arrives tomorrow")
	b.waitJS(`document.querySelector('.msg.out[data-status="read"] .ticks.read') !== null`, "the reply's ticks at read")
	// The labels of the details column.
	b.run(chromedp.SendKeys(chromedp.CSS(`#label-input`), "delivery\r"))
	b.text(`#labels`, "delivery")
	b.run(chromedp.SendKeys(chromedp.CSS(`#label-input`), "vip\r"))
	b.text(`#labels`, "vip")
	b.run(chromedp.Click(chromedp.CSS(`#mode-reply`)))
	b.screenshotWithoutToast("console-conversation")

	b.js(`document.getElementById('composer').blur()`)
	b.run(chromedp.KeyEvent("?"))
	b.run(chromedp.WaitVisible(chromedp.CSS(`.help`)))
	b.screenshot("console-shortcuts")

	id := conversation.ID("acme-wa", maria)
	if code, v := n.conversation(conAlice, id); code != 200 || v.AssigneeID != "alice" || len(v.Labels) != 2 {
		t.Fatalf("after the console: %d assignee %q labels %v", code, v.AssigneeID, v.Labels)
	}
}

// TestConsoleSecondBrowserSeesAssignment: two operators in two browsers. Bob sees Alice viewing the conversation he
// has open, and sees her Attend it live: his Unassigned list loses it and his open conversation shows her as the
// assignee, without a reload.
func TestConsoleSecondBrowserSeesAssignment(t *testing.T) {
	n, _ := startConsoleNode(t)
	customerWrites(t, n, named("4915112345678", "Lena Fischer", "wamid.l1", "Can I change my delivery address?", time.Now()))
	customerWrites(t, n, named("33612345678", "Camille Durand", "wamid.l2", "Bonjour, do you ship to Lyon?", time.Now()))

	alice, bob := newBrowser(t), newBrowser(t)
	alice.signIn(n, conAlice, "")
	bob.signIn(n, conBob, "")
	bob.openRow("Lena Fischer")
	alice.openRow("Lena Fischer")
	bob.text(`#presence`, "Alice Martin is viewing")

	alice.click(`#attend`)
	alice.text(`#conv-status`, "Open")
	bob.text(`#conv-status`, "Open")
	bob.text(`#assignee`, "Alice Martin")
	bob.waitJS(`![...document.querySelectorAll('#conv-list .row-name')].some(e => e.innerText === 'Lena Fischer')`,
		"Lena gone from Bob's Unassigned list")
	bob.text(`#conv-list .row-name`, "Camille Durand")
	bob.waitJS(`document.querySelector('#tab-unassigned .count')?.innerText === '1'`, "Bob's Unassigned counts 1")
	bob.run(chromedp.WaitVisible(chromedp.CSS(`#takeover`)))
	bob.screenshot("console-second-operator")
}

// TestConsoleWindowClosedTemplate: a customer's last message is 25 hours old, so the composer is locked and offers
// the template form; the template goes out to the simulator.
func TestConsoleWindowClosedTemplate(t *testing.T) {
	n, s := startConsoleNode(t)
	from := "61412345678"
	customerWrites(t, n, named(from, "Oliver Smith", "wamid.o1", "Please call me back about the refund", time.Now().Add(-25*time.Hour)))
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.openRow("Oliver Smith")
	b.click(`#attend`)
	b.text(`#conv-status`, "Open")
	b.text(`#window-chip`, "Window closed")
	b.text(`#composer-locked`, "over 24 hours old")
	b.waitJS(`!document.getElementById('composer')`, "no free-text composer")
	b.click(`.tpl-row[data-name="refund_update"]`)
	b.waitJS(`document.getElementById('tpl-param-1').value === 'Oliver Smith'`, "{{1}} prefilled with the contact's name")
	b.run(chromedp.SendKeys(chromedp.CSS(`#tpl-param-2`), "R-2291"))
	b.text(`#tpl-preview-body`, "Hello Oliver Smith, your refund R-2291 has been processed.")
	b.screenshotWithoutToast("console-window-closed")
	b.click(`#tpl-send`)
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		for _, m := range s.Messages() {
			if m.To == from && m.Type == "template" && strings.Contains(string(m.Payload), "refund_update") {
				return true
			}
		}
		return false
	}, "the simulator received the template")
	b.text(`.template-msg`, "refund_update")
	b.waitJS(`document.querySelector('.msg.out[data-status="read"]') !== null`, "the template read")
}

// TestConsoleInertCustomerHTML: a customer whose name and text hold HTML and script is shown as that text; nothing
// runs and no element is made from it.
func TestConsoleInertCustomerHTML(t *testing.T) {
	n, _ := startConsoleNode(t)
	name := `<img src=x onerror="window.__pwned=1">Eve`
	text := `<script>window.__pwned=2</script><b>bold</b> & <a href="javascript:alert(1)">click</a>`
	customerWrites(t, n, named("15550001111", name, "wamid.x1", text, time.Now()))
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.openRow(name)
	b.text(`.msg.in .text`, text)
	b.text(`#conv-name`, name)
	if v := jsValue[string](b, `String(window.__pwned)`); v != "undefined" {
		t.Fatalf("customer HTML ran: window.__pwned = %s", v)
	}
	if nodes := jsValue[int](b, `document.querySelectorAll('#app img, #app script, #app b, #app a[href^="javascript"]').length`); nodes != 0 {
		t.Fatalf("customer HTML made %d elements", nodes)
	}
}

// TestConsoleUnknownSessionSignsOut: a session the server does not know (expired, or signed out elsewhere) sends the
// console back to sign-in on its next call, with a notice.
func TestConsoleUnknownSessionSignsOut(t *testing.T) {
	n, _ := startConsoleNode(t)
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	// Replace the session cookie with one the server never issued, as a session that expired looks to it.
	b.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{
			Name: "sb_session", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", URL: n.url("/")})
		return err
	}))
	b.click(`#tab-mine`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#token`)))
	b.text(`.alert.info`, "Sign in again")
	b.screenshot("console-session-ended")
	// Signing in again works.
	b.submitToken(conAlice)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#tab-unassigned`)))
}

// cutProxy forwards TCP connections to a node and can drop them all at once and refuse new ones for a while: to the
// browser behind it, the server dropped the stream and is unreachable.
type cutProxy struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns map[net.Conn]bool
	held  bool
}

func newCutProxy(t *testing.T, to string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, to: to, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			held := p.held
			if !held {
				p.conns[c] = true
			}
			p.mu.Unlock()
			if held {
				c.Close()
				continue
			}
			go p.pipe(c)
		}
	}()
	return p
}

func (p *cutProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.to)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
}

// cut closes every forwarded connection; hold refuses new ones until the next cut(false).
func (p *cutProxy) cut(hold bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = hold
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *cutProxy) url(path string) string { return "http://" + p.ln.Addr().String() + path }

// sseIDs reads the node's event stream as alice with her bearer token and collects the ids of durable events.
func sseIDs(t *testing.T, n *node) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url("/v1/events"), nil)
	req.Header.Set("Authorization", "Bearer "+conAlice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/events: %v %v", err, resp)
	}
	var mu sync.Mutex
	var ids []string
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

// TestConsoleStreamResumesExactly: the connection to the server drops while customers keep writing; when the page
// reconnects, its EventSource sends Last-Event-ID and receives exactly the events it missed: the ids a direct
// stream saw, each once, in order, without a reset.
func TestConsoleStreamResumesExactly(t *testing.T) {
	n, _ := startConsoleNode(t)
	ids := sseIDs(t, n)
	p := newCutProxy(t, n.http)
	customerWrites(t, n, named("3531234567", "Aoife Byrne", "wamid.s1", "Hello?", time.Now()))

	b := newBrowser(t)
	b.signInAt(p.url("/"), conAlice, "")
	b.text(`#conv-list .row-name`, "Aoife Byrne")
	customerWrites(t, n, named("3531234567", "Aoife Byrne", "wamid.s2", "Anyone there?", time.Now()))
	b.text(`#conv-list .row-preview`, "Anyone there?")
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		seen := jsValue[[]string](b, `window.__switchboard.events`)
		all := ids()
		return len(seen) > 0 && len(all) > 0 && seen[len(seen)-1] == all[len(all)-1]
	}, "the page is up to date with the stream")
	page := jsValue[[]string](b, `window.__switchboard.events`)
	last := page[len(page)-1]

	p.cut(true)
	b.text(`#conn-banner`, "Reconnecting")
	b.screenshot("console-reconnecting")
	before := len(ids())
	customerWrites(t, n, named("447700900123", "Tom Baker", "wamid.s3", "My card was declined", time.Now()))
	customerWrites(t, n, named("3531234567", "Aoife Byrne", "wamid.s4", "Hello again", time.Now()))
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(ids()) >= before+3 }, "the missed events")
	p.cut(false)

	b.waitJS(`!document.getElementById('conn-banner')`, "live again")
	b.text(`#conv-list .row-name`, "Tom Baker")
	all := ids()
	var missed []string
	for i, id := range all {
		if id == last {
			missed = all[i+1:]
		}
	}
	b.waitJS(fmt.Sprintf(`window.__switchboard.events.length >= %d`, len(page)+len(missed)), "the missed events in the page")
	got := jsValue[[]string](b, `window.__switchboard.events`)[len(page):]
	if strings.Join(got, ",") != strings.Join(missed, ",") || len(missed) < 3 {
		t.Fatalf("after reconnecting the page received events %v; it missed %v", got, missed)
	}
	if r := jsValue[int](b, `window.__switchboard.resets`); r != 0 {
		t.Fatalf("the page was reset %d times instead of resuming", r)
	}
}

// TestConsoleListIsVirtual: a tab of 300 conversations loads one page of 50, renders only the rows in view, and
// loads the next pages with the cursor as the list scrolls, still rendering only a screenful.
func TestConsoleListIsVirtual(t *testing.T) {
	n, _ := startConsoleNode(t)
	const total = 300
	now := time.Now()
	for k := 0; k < total; k += 50 {
		var msgs []meta.Message
		for i := k; i < k+50; i++ {
			msgs = append(msgs, named(fmt.Sprintf("4670%07d", i), fmt.Sprintf("Customer %03d", i), fmt.Sprintf("wamid.v%d", i), "hello", now))
		}
		customerWrites(t, n, msgs...)
	}
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(conAlice, "status=unassigned")) == total
	}, "every conversation stored")
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.waitJS(fmt.Sprintf(`document.querySelector('#tab-unassigned .count')?.innerText === '%d'`, total), "the count")
	const rows = `document.querySelectorAll('#conv-list .row').length`
	// One page loaded: the scroll area is 50 rows and a loading row high.
	b.waitJS(`document.querySelector('#conv-list .list-inner').style.height === (51 * 76) + 'px'`, "one page of 50")
	if r := jsValue[int](b, rows); r < 5 || r > 30 {
		t.Fatalf("%d rows in the DOM for a 800 px window", r)
	}
	// Scroll to the end, page after page, until the list holds all 300 and nothing more to load.
	b.waitJS(`(() => { const el = document.getElementById('conv-list'); el.scrollTop = el.scrollHeight;
		return document.querySelector('#conv-list .list-inner').style.height === (300 * 76) + 'px'; })()`, "all pages")
	if r := jsValue[int](b, rows); r < 5 || r > 30 {
		t.Fatalf("%d rows in the DOM after scrolling through %d", r, total)
	}
	b.text(`#conv-list .row-name`, "Customer")
}

// TestConsoleActionsAndShortcuts: the keyboard opens conversations (Alt J), snoozes (Alt M) and closes (Alt E); the
// snooze menu, Unsnooze, the ⋯ menu's Transfer, Reopen and the availability switch do what they say, each visible in
// the tabs' counts.
func TestConsoleActionsAndShortcuts(t *testing.T) {
	n, _ := startConsoleNode(t)
	n.mustCall("PUT", "/v1/operators/me/availability", conBob, map[string]string{"availability": "online"}, 200)
	customerWrites(t, n, named("5491112345678", "Martina Gómez", "wamid.k1", "Hola, una consulta", time.Now().Add(-2*time.Minute)))
	customerWrites(t, n, named("27821234567", "Thabo Nkosi", "wamid.k2", "Hi there", time.Now()))
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.run(chromedp.WaitVisible(chromedp.CSS(`#conv-list .row`)))
	first := jsValue[string](b, `document.querySelector('#conv-list .row .row-name').innerText`)
	b.run(chromedp.KeyEvent("j", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	b.text(`#conv-name`, first)

	// Availability: the switch is the API's.
	b.run(chromedp.SetValue(chromedp.CSS(`#availability`), "online"))
	b.js(`document.getElementById('availability').dispatchEvent(new Event('change', {bubbles: true}))`)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, body := n.get("/v1/operators", conAlice)
		return strings.Contains(string(body), `"id":"alice","name":"Alice Martin","role":"admin","availability":"online"`)
	}, "alice online")

	b.click(`#attend`)
	b.text(`#conv-status`, "Open")
	// Alt M: snooze until the customer replies.
	b.run(chromedp.KeyEvent("m", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	b.click(`#snooze-reply`)
	b.text(`#conv-status`, "Snoozed")
	b.waitJS(`document.querySelector('#tab-snoozed .count')?.innerText === '1'`, "Snoozed counts 1")
	b.click(`#unsnooze`)
	b.text(`#conv-status`, "Open")
	// ⋯ → Transfer to Bob.
	b.click(`#more`)
	b.click(`#transfer`)
	b.click(`#assign-menu [data-operator="bob"]`)
	b.text(`#assignee`, "Bob Okafor")
	b.waitJS(`document.querySelector('#tab-all .count')?.innerText === '1' && document.querySelector('#tab-mine .count')?.innerText === '0'`,
		"All active 1, Mine 0")
	// Alt E closes (an admin may close what Bob holds); Reopen.
	b.run(chromedp.KeyEvent("e", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	b.text(`#conv-status`, "Closed")
	b.waitJS(`document.querySelector('#tab-closed .count')?.innerText === '1'`, "Closed counts 1")
	b.text(`#composer-locked`, "closed")
	b.click(`#reopen`)
	b.waitJS(`!document.getElementById('reopen')`, "reopened")
	// Alt K goes back up the list; shortcuts stay off while typing.
	b.click(`#tab-unassigned`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#conv-list .row`)))
	b.run(chromedp.KeyEvent("j", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	b.run(chromedp.WaitVisible(chromedp.CSS(`#conv-name`)))
	opened := jsValue[string](b, `document.getElementById('conv-name').innerText`)
	b.click(`#label-input`)
	b.run(chromedp.KeyEvent("e", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	if s := jsValue[string](b, `document.getElementById('conv-status').innerText`); s == "Closed" {
		t.Fatalf("Alt E closed %s while typing in a field", opened)
	}
}

// TestConsoleSignInLimited: wrong tokens are refused with a message, and after too many the page says how long to
// wait (the server's 429 and Retry-After).
func TestConsoleSignInLimited(t *testing.T) {
	n, _ := startConsoleNode(t)
	b := newBrowser(t)
	b.run(chromedp.Navigate(n.url("/")), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	b.submitToken("not-a-token")
	b.text(`#signin-error`, "not valid")
	for i := 0; i < 20 && !strings.Contains(jsValue[string](b, `document.getElementById('signin-error')?.innerText || ''`), "Try again in"); i++ {
		b.waitJS(`!document.querySelector('#signin button[type=submit]').disabled`, "the button enabled")
		b.click(`#signin button[type=submit]`)
		b.waitJS(`!document.querySelector('#signin button[type=submit]').innerText.includes('Signing in')`, "the answer")
	}
	b.text(`#signin-error`, "Too many failed attempts. Try again in")
	b.screenshot("console-signin-limited")
}

// TestConsoleFailedSendShowsReason: a reply Meta refuses (the simulator's undeliverable recipients start with 999)
// is shown failed, with Meta's reason.
func TestConsoleFailedSendShowsReason(t *testing.T) {
	n, _ := startConsoleNode(t)
	customerWrites(t, n, named("9991234567", "Nadia Petrova", "wamid.f1", "Hello", time.Now()))
	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.openRow("Nadia Petrova")
	b.click(`#attend`)
	b.text(`#conv-status`, "Open")
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "Hi Nadia, how can I help?\r"))
	b.waitJS(`document.querySelector('.msg.out.failed .ticks.failed') !== null`, "the reply failed")
	b.text(`.failed-reason`, "Not delivered: ")
	t.Logf("failed reply shown as: %s", jsValue[string](b, `document.querySelector('.failed-reason').innerText`))
}
