package main_test

// BenchmarkConsoleBudgets measures the console's budgets (issue 11) against a node started from the binary with the
// Cloud API simulator, and reports them with b.ReportMetric; it asserts nothing about time. Run it alone:
//
//	go test -run '^$' -bench ConsoleBudgets -benchtime 1x ./cmd/switchboard/
//
// It is one pass whatever b.N is (seeding 10,000 conversations and connecting 1,000 streams is the setup, not the
// operation), so -benchtime 1x. The figures and the budgets are in the README's "Console budgets".

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const (
	budgetTab       = 10000 // conversations in the Unassigned tab
	budgetBatch     = 100   // messages per webhook while seeding
	budgetLoads     = 30    // first loads timed
	budgetScrolls   = 10    // jumps to the bottom of the list
	budgetOperators = 125   // operators whose streams are the 1,000 consoles (8 streams each, the per-operator cap)
	budgetPerOp     = 8
	budgetProbes    = 200                    // customer webhooks timed to the streams
	budgetGap       = 100 * time.Millisecond // between probes: 10 events/s into 1,000 streams
)

// budgetConfig is the console test tenant (manual routing, so the tab keeps every conversation) with alice, who uses
// the browser, and budgetOperators operators who hold the Go streams.
func budgetConfig() string {
	var sb strings.Builder
	sb.WriteString(`tenants:
  - id: acme
    settings:
      routing: manual
` + conChannelY + `    operators:
` + conAliceY)
	for i := range budgetOperators {
		fmt.Fprintf(&sb, "      - {id: op%03d, name: Operator %03d, role: operator, capacity: 5, token: %q}\n", i, i, budgetToken(i))
	}
	return sb.String()
}

func budgetToken(i int) string { return fmt.Sprintf("bench-operator-%03d-token", i) }

// injected runs in every document before the console's own script: it notes when the first row of the inbox list
// appears (ms since navigation start), the most rows the list ever held, and the arrival time (ms since the epoch)
// of every message.received event at the page's EventSource. With sessionStorage "bench-no-stream" set (the timed
// loads) the page's EventSource never connects: every reload would otherwise leave a stream open on the server until
// its next heartbeat, and alice would reach the per-operator cap of 8 streams.
const injected = `(() => {
  if (window.__bench) return;
  const B = window.__bench = { inbox: 0, maxRows: 0, events: [] };
  try { performance.setResourceTimingBufferSize(100000); } catch (e) {}
  const check = () => {
    const n = document.querySelectorAll('#conv-list .row').length;
    if (n > B.maxRows) B.maxRows = n;
    if (n > 0 && !B.inbox) B.inbox = performance.now();
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
  const ES = window.EventSource;
  if (sessionStorage.getItem('bench-no-stream')) {
    window.EventSource = class { constructor() { this.readyState = 0; } addEventListener() {} close() {} };
    window.EventSource.CLOSED = 2;
    return;
  }
  window.EventSource = class extends ES {
    constructor(u, o) {
      super(u, o);
      this.addEventListener('message.received', (e) => {
        const at = performance.timeOrigin + performance.now();
        try { B.events.push([JSON.parse(e.data).conversation_id, at]); } catch (_) {}
      });
    }
  };
})();`

// benchBrowser is a chromium for a benchmark (the tests' browser takes a *testing.T).
type benchBrowser struct {
	tb  testing.TB
	ctx context.Context
}

// newBenchBrowser starts a chromium (startChromium) that runs the injected script in every document.
func newBenchBrowser(tb testing.TB) *benchBrowser {
	ctx := startChromium(tb)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: injected}); err != nil {
		tb.Fatalf("inject: %v", err)
	}
	return &benchBrowser{tb: tb, ctx: ctx}
}

func (b *benchBrowser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.tb.Fatalf("browser: %v", err)
	}
}

func benchJS[T any](b *benchBrowser, expr string) T {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls expr until true, at most timeout.
func (b *benchBrowser) wait(expr string, timeout time.Duration) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		b.tb.Fatalf("waiting for %s: %v", expr, err)
	}
}

func BenchmarkConsoleBudgets(b *testing.B) {
	n, _ := startNodeWithSim(b, budgetConfig(), sim.Config{AppSecret: outSecret, Rate: outRate, StatusDelay: 20 * time.Millisecond, Seed: 7})

	seedTab(b, n)
	jsGzip(b, n)
	br := newBenchBrowser(b)
	firstLoads(b, n, br)
	scrollTab(b, n, br)
	eventLatency(b, n, br)
	b.ReportMetric(0, "ns/op")
}

// seedTab creates budgetTab conversations, budgetBatch customers per signed webhook, 4 webhooks at a time, and
// waits (at most 5 min) until the Unassigned count says they are all there.
func seedTab(b *testing.B, n *node) {
	start := time.Now()
	now := start.Unix()
	batches := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for k := range batches {
				msgs := make([]meta.Message, 0, budgetBatch)
				for i := k; i < k+budgetBatch; i++ {
					msgs = append(msgs, meta.Message{From: fmt.Sprintf("4670%07d", i), ProfileName: fmt.Sprintf("Customer %05d", i),
						ID: fmt.Sprintf("wamid.tab%d", i), Timestamp: now, Text: "Hello, where is my order?"})
				}
				if code := n.post(meta.Payload(meta.Change{PhoneNumberID: conPhone, Messages: msgs}), outSecret); code != 200 {
					failed.Add(1)
				}
			}
		})
	}
	for k := 0; k < budgetTab; k += budgetBatch {
		batches <- k
	}
	close(batches)
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d seeding webhooks failed", failed.Load())
	}
	eventually.True(b, 5*time.Minute, 200*time.Millisecond, func() bool { return unassigned(n) >= budgetTab },
		"%d conversations in Unassigned", budgetTab)
	b.Logf("seeded %d conversations in %s", budgetTab, time.Since(start).Round(time.Millisecond))
}

func unassigned(n *node) int {
	var c struct{ Unassigned int }
	code, body := n.get("/v1/inbox/counts", conAlice)
	if code != 200 || json.Unmarshal(body, &c) != nil {
		return -1
	}
	return c.Unassigned
}

var scriptSrc = regexp.MustCompile(`<script[^>]+src="([^"]+\.js)"`)

// jsGzip fetches / and the bundle its script names, gzipped as a browser asks for it.
func jsGzip(b *testing.B, n *node) {
	code, index := n.get("/", "")
	m := scriptSrc.FindSubmatch(index)
	if code != 200 || m == nil {
		b.Fatalf("GET /: %d, no script in %s", code, index)
	}
	raw := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	req, _ := http.NewRequest(http.MethodGet, n.url(string(m[1])), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := raw.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		b.Fatalf("GET %s: %d, Content-Encoding %q", m[1], resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	_, plain := n.get(string(m[1]), "") // the default client asks for gzip and decompresses: the bundle's own size
	b.Logf("JavaScript %s: %d bytes gzipped (%d bytes)", m[1], len(body), len(plain))
	b.ReportMetric(float64(len(body)), "js-gzip-bytes")
}

// firstLoads signs in once, then loads the console budgetLoads times with the browser cache off, each time from
// navigation start to the first row of the inbox list in the DOM (the session cookie boots straight to the inbox:
// GET /v1/session, the counts and the first page of Unassigned). The live stream is left out of these loads.
func firstLoads(b *testing.B, n *node, br *benchBrowser) {
	br.do(chromedp.Navigate(n.url("/")), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	br.do(chromedp.SendKeys(chromedp.CSS(`#token`), conAlice), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	br.wait(`window.__bench.inbox > 0`, 30*time.Second)
	if _, err := chromedp.Call(br.ctx, network.Enable, network.EnableParams{}); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Call(br.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		b.Fatal(err)
	}
	br.do(chromedp.Evaluate[chromedp.Void](`void sessionStorage.setItem('bench-no-stream', '1')`))
	var ms, load []float64
	for range budgetLoads {
		br.do(chromedp.Navigate(n.url("/")))
		br.wait(`window.__bench.inbox > 0 && performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0`, 30*time.Second)
		ms = append(ms, benchJS[float64](br, `window.__bench.inbox`))
		load = append(load, benchJS[float64](br, `performance.getEntriesByType('navigation')[0].loadEventEnd`))
	}
	if _, err := chromedp.Call(br.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: false}); err != nil {
		b.Fatal(err)
	}
	br.do(chromedp.Evaluate[chromedp.Void](`void sessionStorage.removeItem('bench-no-stream')`))
	b.Logf("first load to the inbox list (%d loads, cache off): p50 %.0f ms, p99 %.0f ms, max %.0f ms; to the load event p50 %.0f ms",
		len(ms), pct(ms, 50), pct(ms, 99), slices.Max(ms), pct(load, 50))
	b.ReportMetric(pct(ms, 50), "first-load-p50-ms")
	b.ReportMetric(pct(ms, 99), "first-load-p99-ms")
}

// scrollTab opens Unassigned (the 10,000) and jumps to the bottom of the list budgetScrolls times, each time waiting
// for the next page, then counts the list requests, the most rows the DOM held and the rows loaded.
func scrollTab(b *testing.B, n *node, br *benchBrowser) {
	br.do(chromedp.Navigate(n.url("/")))
	br.wait(`window.__bench.inbox > 0 && !document.getElementById('conn-banner')`, 30*time.Second)
	br.wait(fmt.Sprintf(`+document.querySelector('#tab-unassigned .count')?.innerText.replace(/\D/g, '') >= %d`, budgetTab), 30*time.Second)
	const loaded = `Math.floor(parseInt(document.querySelector('#conv-list .list-inner').style.height) / 76)`
	for range budgetScrolls {
		before := benchJS[int](br, loaded)
		br.wait(fmt.Sprintf(`(() => { const el = document.getElementById('conv-list'); el.scrollTop = el.scrollHeight;
			return %s > %d; })()`, loaded, before), 30*time.Second)
	}
	// A few screens back up and down again, as an operator reading the list does.
	for _, dy := range []int{-800, -800, -800, 800, 800, 800} {
		br.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`void (document.getElementById('conv-list').scrollTop += %d)`, dy)))
		time.Sleep(100 * time.Millisecond) // a frame or two: the rows of the new screen render
	}
	reqs := benchJS[int](br, `performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/conversations?')).length`)
	maxRows := benchJS[int](br, `window.__bench.maxRows`)
	rows := benchJS[int](br, loaded) - 1 // the list-inner holds a loading row while there is a next page
	b.Logf("tab of %d: %d /v1/conversations requests, %d conversations loaded, at most %d rows in the DOM",
		unassigned(n), reqs, rows, maxRows)
	if rows >= budgetTab {
		b.Errorf("the list loaded all %d conversations", rows)
	}
	b.ReportMetric(float64(reqs), "tab-list-requests")
	b.ReportMetric(float64(rows), "tab-rows-loaded")
	b.ReportMetric(float64(maxRows), "tab-max-dom-rows")
}

// eventLatency connects budgetOperators×budgetPerOp Go streams and the browser (on a fresh Unassigned tab), posts
// budgetProbes webhooks of new customers budgetGap apart, and times each message.received from the webhook's 200
// to its arrival at every stream and at the page's EventSource.
func eventLatency(b *testing.B, n *node, br *benchBrowser) {
	br.do(chromedp.Navigate(n.url("/")))
	br.wait(`window.__bench.inbox > 0 && !document.getElementById('conn-banner')`, 30*time.Second)

	probe := map[string]int{}
	from := make([]string, budgetProbes)
	for i := range budgetProbes {
		from[i] = fmt.Sprintf("4699%07d", i)
		probe[conversation.ID("acme-wa", from[i])] = i
	}
	clients := budgetOperators * budgetPerOp
	arrived := make([][]time.Time, clients)
	var resets, ended, got atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: -1}
	hc := &http.Client{Transport: tr}
	ready := make(chan error, clients)
	var streams sync.WaitGroup
	connect := make(chan int)
	var dial sync.WaitGroup
	for range 32 {
		dial.Go(func() {
			for c := range connect {
				arrived[c] = make([]time.Time, budgetProbes)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url("/v1/events"), nil)
				req.Header.Set("Authorization", "Bearer "+budgetToken(c/budgetPerOp))
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != 200 {
					ready <- fmt.Errorf("stream %d: %v %v", c, err, resp)
					continue
				}
				rd := bufio.NewReaderSize(resp.Body, 16<<10)
				if _, err := rd.ReadString('\n'); err != nil { // "retry: 2000"
					ready <- fmt.Errorf("stream %d: %v", c, err)
					continue
				}
				ready <- nil
				streams.Go(func() { readStream(ctx, rd, resp.Body, arrived[c], probe, &got, &resets, &ended) })
			}
		})
	}
	start := time.Now()
	go func() {
		for c := range clients {
			connect <- c
		}
		close(connect)
	}()
	for range clients {
		select {
		case err := <-ready:
			if err != nil {
				b.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			b.Fatal("the streams did not connect within 2 minutes")
		}
	}
	dial.Wait()
	b.Logf("%d streams connected in %s", clients, time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // the connect-time counts settle

	durable := make([]time.Time, budgetProbes)
	for i := range budgetProbes {
		at := time.Now()
		msg := meta.Message{From: from[i], ProfileName: fmt.Sprintf("Probe %03d", i), ID: fmt.Sprintf("wamid.probe%d", i),
			Timestamp: at.Unix(), Text: "Is anyone there?"}
		if code := n.post(meta.Payload(meta.Change{PhoneNumberID: conPhone, Messages: []meta.Message{msg}}), outSecret); code != 200 {
			b.Fatalf("probe webhook: %d", code)
		}
		durable[i] = time.Now()
		time.Sleep(budgetGap - time.Since(at))
	}
	// Every (event, stream) pair, or 30 s.
	_ = eventually.Wait(30*time.Second, 100*time.Millisecond, func() error {
		if got.Load() < int64(clients*budgetProbes) {
			return fmt.Errorf("incomplete")
		}
		return nil
	})
	cancel()
	streams.Wait()
	tr.CloseIdleConnections()

	var lat []float64
	perProbe := make([][]float64, budgetProbes) // each probe's latencies over the streams: is a tail one slow event or slow streams?
	missing, early := 0, 0
	for c := range arrived {
		for i := range budgetProbes {
			t := arrived[c][i] // read after streams.Wait: every stream's goroutine is done
			switch {
			case t.IsZero():
				missing++
			case t.Before(durable[i]):
				early++
				lat = append(lat, 0)
				perProbe[i] = append(perProbe[i], 0)
			default:
				d := float64(t.Sub(durable[i])) / float64(time.Millisecond)
				lat = append(lat, d)
				perProbe[i] = append(perProbe[i], d)
			}
		}
	}
	var first, last []float64 // per probe: the first stream served and the last
	for _, p := range perProbe {
		if len(p) > 0 {
			first, last = append(first, slices.Min(p)), append(last, slices.Max(p))
		}
	}
	b.Logf("per event: the first stream reached after p50 %.1f ms (p99 %.1f ms), the last after p50 %.1f ms (p99 %.1f ms); "+
		"all pairs p90 %.1f ms", pct(first, 50), pct(first, 99), pct(last, 50), pct(last, 99), pct(lat, 90))
	b.Logf("event latency, webhook 200 → %d Go streams (%d events, %d/s): p50 %.1f ms, p99 %.1f ms, max %.1f ms; "+
		"%d (event, stream) pairs missing, %d arrived before the 200, %d resets, %d streams ended by the server",
		clients, budgetProbes, int(time.Second/budgetGap), pct(lat, 50), pct(lat, 99), slices.Max(lat), missing, early,
		resets.Load(), ended.Load())
	b.ReportMetric(float64(clients), "streams")
	b.ReportMetric(pct(lat, 50), "event-go-p50-ms")
	b.ReportMetric(pct(lat, 99), "event-go-p99-ms")
	b.ReportMetric(float64(missing), "event-go-missing")

	// The browser: its EventSource saw the same events; ms since the epoch on the same clock.
	seen := benchJS[[][2]any](br, `window.__bench.events`)
	var blat []float64
	for _, e := range seen {
		id, _ := e[0].(string)
		at, _ := e[1].(float64)
		i, ok := probe[id]
		if !ok {
			continue
		}
		d := at - float64(durable[i].UnixNano())/1e6
		blat = append(blat, math.Max(0, d))
	}
	if len(blat) == 0 {
		b.Errorf("the browser saw none of the %d events", budgetProbes)
		return
	}
	b.Logf("event latency, webhook 200 → the console's EventSource: %d of %d events, p50 %.1f ms, p99 %.1f ms",
		len(blat), budgetProbes, pct(blat, 50), pct(blat, 99))
	b.ReportMetric(pct(blat, 50), "event-browser-p50-ms")
	b.ReportMetric(pct(blat, 99), "event-browser-p99-ms")
}

// readStream reads one event stream until it ends, noting when each probe's message.received arrived.
func readStream(ctx context.Context, rd *bufio.Reader, body io.Closer, arrived []time.Time, probe map[string]int,
	got, resets, ended *atomic.Int64) {
	defer body.Close()
	go func() { <-ctx.Done(); body.Close() }()
	typ := ""
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			if ctx.Err() == nil {
				ended.Add(1)
			}
			return
		}
		now := time.Now()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimSpace(line[len("event: "):])
			if typ == "reset" {
				resets.Add(1)
			}
		case strings.HasPrefix(line, "data: ") && typ == "message.received":
			const key = `"conversation_id":"`
			if k := strings.Index(line, key); k >= 0 {
				rest := line[k+len(key):]
				if e := strings.IndexByte(rest, '"'); e >= 0 {
					if i, ok := probe[rest[:e]]; ok && arrived[i].IsZero() {
						arrived[i] = now
						got.Add(1)
					}
				}
			}
		case line == "\n":
			typ = ""
		}
	}
}

// pct is the p-th percentile of xs (nearest rank).
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}
