package main_test

// The console tests' harness: the console's test tenant, a node with the Cloud API simulator for it, and a browser
// (chromedp driving Debian's chromium, which make test-deps installs) with steps that wait for conditions on the page
// (never sleep-and-assert) and save screenshots of the screens a test reaches (bin/screenshots; `make screenshots`
// refreshes docs/screenshots, which the README shows).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// The console's test tenant: acme, routed by hand, with one channel whose WhatsApp Business Account is the
// simulator's (its templates are the simulator's seeded catalogue), and two operators, Alice (admin) and Bob.
const (
	conPhone = "100200300"
	conWABA  = "102290129340398"
	conAlice = "console-alice-token-0001"
	conBob   = "console-bob-token-00002"

	// conChannelY is the channels list of the console's tenant up to its channel's waba_id: the channel acme-wa on
	// conPhone, signed with the simulator's outSecret.
	conChannelY = `    channels:
      - id: acme-wa
        type: whatsapp
        phone_number_id: "` + conPhone + `"
        app_secret: "` + outSecret + `"
        verify_token: "v"
        access_token: "acme-access"
`
	// conAliceY is Alice Martin, the console tenant's admin, an entry of its operators list.
	conAliceY = `      - {id: alice, name: Alice Martin, role: admin, capacity: 5, token: "` + conAlice + `"}
`
	// conOperatorsY is the console tenant's operators list: Alice and Bob Okafor, an operator.
	conOperatorsY = `    operators:
` + conAliceY + `      - {id: bob, name: Bob Okafor, role: operator, capacity: 5, token: "` + conBob + `"}
`
	conConfig = `tenants:
  - id: acme
    settings:
      routing: manual
` + conChannelY + `        waba_id: "` + conWABA + `"
` + conOperatorsY
)

// startConsoleNode starts a node with the console test tenant and the simulator, and waits until the node has
// synced the simulator's template catalogue (the template picker lists it).
func startConsoleNode(t *testing.T, extra ...string) (*node, *sim.Sim) {
	t.Helper()
	return startConsoleNodeConfig(t, conConfig, extra...)
}

// startConsoleNodeConfig is startConsoleNode with another tenants file, such as conConfig with settings added; its
// channel must have conWABA for the catalogue.
func startConsoleNodeConfig(t *testing.T, config string, extra ...string) (*node, *sim.Sim) {
	t.Helper()
	n, s := startNodeWithSim(t, config, simConfig(sim.FailConfig{}), extra...)
	waitTemplatesSynced(t, n, conAlice)
	return n, s
}

// customerWrites posts a signed webhook with msgs, from customers of the console tenant's channel.
func customerWrites(t *testing.T, n *node, msgs ...meta.Message) {
	t.Helper()
	n.deliver(conPhone, outSecret, msgs...)
}

// named is a text message from a customer with a WhatsApp profile name, sent at at.
func named(from, name, id, text string, at time.Time) meta.Message {
	return meta.Message{From: from, ProfileName: name, ID: id, Timestamp: at.Unix(), Text: text}
}

// typed is a message of another type than text with its JSON content (meta.Message.Content).
func typed(from, name, id, typ, content string, at time.Time) meta.Message {
	return meta.Message{From: from, ProfileName: name, ID: id, Timestamp: at.Unix(), Type: typ, Content: json.RawMessage(content)}
}

// browserPath is the browser chromedp drives: Debian's chromium.
func browserPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("no chromium on PATH: make test-deps installs Debian's chromium package")
	return ""
}

// startChromium starts a chromium process with its own profile, a 1280×800 window at scale 1 and English, ended
// with the test; its context drives the first tab.
func startChromium(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("lang", "en-GB"),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	// The first run starts the browser, which lives as long as the context of that run: no timeout on this one.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// browser is one browser process with its own profile (cookies), showing a 1280×800 window.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts a browser for the test (startChromium).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	return &browser{t: t, ctx: startChromium(t)}
}

// run performs steps, failing the test after 30 s.
func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// js runs a JavaScript expression for its effect.
func (b *browser) js(expr string) {
	b.t.Helper()
	b.run(chromedp.Evaluate[chromedp.Void](expr))
}

// jsValue runs a JavaScript expression and returns its value.
func jsValue[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// quoteJS is s as a JavaScript string literal.
func quoteJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitJS waits until a JavaScript expression is true, polling the page.
func (b *browser) waitJS(expr, what string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		b.t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expr, err, body)
	}
}

// text waits until the page shows s in an element matching the CSS selector sel.
func (b *browser) text(sel, s string) {
	b.t.Helper()
	b.waitJS(fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.innerText.includes(%s))`, quoteJS(sel), quoteJS(s)),
		fmt.Sprintf("%q in %s", s, sel))
}

// click clicks the element matching a CSS selector once it is visible.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.run(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// setInput sets the value of the input or select matching sel as a person would, firing input and change events.
func (b *browser) setInput(sel, value string) {
	b.t.Helper()
	b.run(chromedp.WaitVisible(chromedp.CSS(sel)))
	b.js(fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.focus(); el.value = %s;
		el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); })()`,
		quoteJS(sel), quoteJS(value)))
}

// screenshot saves the viewport to <dir>/<name>.png, dir being $SWITCHBOARD_SCREENSHOTS or bin/screenshots (out of
// git, so a test run leaves the checkout clean); `make screenshots` refreshes the README's copies in
// docs/screenshots.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// screenshotWithoutToast is screenshot once the page is settled, with the console's toast (#toast, the notice an
// action flashes for 3.5 s) hidden while the picture is taken: the picture a test got by waiting the toast out, without
// the wait. The toast is an overlay that takes no room and no clicks, so hiding it changes nothing else on the screen;
// the wait let the tabs' counts catch up, which waitCountsSettled does. (The console's CSP refuses a <style> element,
// so the rule goes in a constructed style sheet.)
func (b *browser) screenshotWithoutToast(name string) {
	b.t.Helper()
	b.waitCountsSettled()
	b.js(`(() => { const s = new CSSStyleSheet(); s.replaceSync('#toast { visibility: hidden !important; }');
		window.__testHideToast = s; document.adoptedStyleSheets = [...document.adoptedStyleSheets, s]; })()`)
	b.waitJS(`!document.getElementById('toast') || getComputedStyle(document.getElementById('toast')).visibility === 'hidden'`,
		"the toast hidden")
	b.screenshot(name)
	b.js(`document.adoptedStyleSheets = document.adoptedStyleSheets.filter(s => s !== window.__testHideToast)`)
}

// waitCountsSettled waits until the tabs' counts on the page are the server's (GET /v1/inbox/counts as the signed-in
// operator): the live stream sends counts at most once a second, so right after an action the page may still show
// the counts from before it.
func (b *browser) waitCountsSettled() {
	b.t.Helper()
	const settled = `(async () => {
		try {
			const c = await (await fetch('/v1/inbox/counts', {credentials: 'same-origin'})).json();
			return Object.entries(c).every(([k, n]) => {
				const e = document.querySelector('#tab-' + k + ' .count');
				return !document.getElementById('tab-' + k) || (e !== null && e.innerText === String(n));
			});
		} catch (e) { return false; }
	})()`
	eventually.True(b.t, 30*time.Second, 50*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](settled, chromedp.EvalAwaitPromise))
		return err == nil && ok
	}, "the tabs' counts up to date")
}

// submitToken types token into the sign-in form and submits it.
func (b *browser) submitToken(token string) {
	b.t.Helper()
	b.run(chromedp.SendKeys(chromedp.CSS(`#token`), token))
	b.click(`#signin button[type=submit]`)
}

// signIn opens the console of node n and signs in with token (screenshot shot of the filled form unless it is ""),
// then waits for the inbox and its live stream.
func (b *browser) signIn(n *node, token string, shot string) {
	b.t.Helper()
	b.signInAt(n.url("/"), token, shot)
}

// signInAt is signIn with the console at url (such as a proxy's in front of the node).
func (b *browser) signInAt(url, token, shot string) {
	b.t.Helper()
	b.run(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	// The first load's time, reported (the budget is 1 s on loopback), never asserted.
	b.waitJS(`performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0`, "the page loaded")
	b.t.Logf("console first load: %.0f ms (navigation start to the load event)",
		jsValue[float64](b, `performance.getEntriesByType('navigation')[0].loadEventEnd`))
	b.run(chromedp.SendKeys(chromedp.CSS(`#token`), token))
	if shot != "" {
		b.screenshot(shot)
	}
	b.click(`#signin button[type=submit]`)
	b.run(chromedp.WaitVisible(chromedp.CSS(`#tab-unassigned`)))
	b.waitJS(`!document.getElementById('conn-banner')`, "the live stream connected")
}

// openRow opens the conversation whose row shows name in the list.
func (b *browser) openRow(name string) {
	b.t.Helper()
	b.text(`#conv-list .row-name`, name)
	b.js(fmt.Sprintf(
		`[...document.querySelectorAll('#conv-list .row')].find(r => r.querySelector('.row-name').innerText === %s).click()`, quoteJS(name)))
	b.text(`#conv-name`, name)
}
