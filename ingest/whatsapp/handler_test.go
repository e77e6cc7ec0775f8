package whatsapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// memProducer is the in-memory Producer: it keeps what it acknowledged, and can fail or hang until its deadline.
type memProducer struct {
	mu       sync.Mutex
	attempts int
	acked    [][]inbox.Record
	err      error // returned by every Produce when set
	hang     bool  // wait for ctx to end, as a broker that does not answer
}

func (p *memProducer) Produce(ctx context.Context, recs []inbox.Record) error {
	p.mu.Lock()
	p.attempts++
	hang, err := p.hang, p.err
	p.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.acked = append(p.acked, recs)
	p.mu.Unlock()
	return nil
}

func (p *memProducer) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts, p.acked = 0, nil
}

func (p *memProducer) state() (attempts int, acked [][]inbox.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts, append([][]inbox.Record(nil), p.acked...)
}

type testServer struct {
	url  string
	h    *Handler
	reg  *prometheus.Registry
	prod *memProducer
}

// startServer serves a Handler on a real fasthttp server on loopback.
func startServer(t *testing.T, prod *memProducer, timeout time.Duration) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := New(Config{
		Directory:      testDirectory(t),
		Producer:       prod,
		Registerer:     reg,
		Now:            func() time.Time { return ingestAt },
		ProduceTimeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The server's own limit is above MaxBodyBytes so that the handler answers oversized bodies (and counts them).
	srv := &fasthttp.Server{Handler: h.Serve, MaxRequestBodySize: 2 * MaxBodyBytes}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{url: "http://" + ln.Addr().String() + Path, h: h, reg: reg, prod: prod}
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *testServer) do(t *testing.T, method, query, signature string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, s.url+query, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if signature != "" {
		req.Header.Set(SignatureHeader, signature)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// The metrics are read from the registry, as a scrape would: that also checks they are registered, under these
// names. (prometheus/testutil would need a module this repository does not otherwise require.)

// counter is the value of switchboard_webhooks_total{channel,result}, 0 if the series does not exist.
func (s *testServer) counter(t *testing.T, channel, res string) float64 {
	t.Helper()
	if m := findSeries(t, s.reg, "switchboard_webhooks_total", "channel", channel, "result", res); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

// observations is how many requests the duration histogram holds for res.
func (s *testServer) observations(t *testing.T, res string) uint64 {
	t.Helper()
	if m := findSeries(t, s.reg, "switchboard_webhook_duration_seconds", "result", res); m != nil {
		return m.GetHistogram().GetSampleCount()
	}
	return 0
}

// findSeries returns the series of the named metric whose labels are exactly the given name, value pairs.
func findSeries(t *testing.T, g prometheus.Gatherer, name string, labels ...string) interface {
	GetCounter() *dto.Counter
	GetHistogram() *dto.Histogram
} {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel())*2 != len(labels) {
				continue
			}
			for i, lp := range m.GetLabel() {
				if lp.GetName() != labels[2*i] || lp.GetValue() != labels[2*i+1] {
					continue series
				}
			}
			return m
		}
	}
	return nil
}

// errorCode is the code of a JSON error body, or "" if the body is not one.
func errorCode(b []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}

func TestHandlerPost(t *testing.T) {
	text := readTestdata(t, "text.json")
	multi := readTestdata(t, "multi.json")
	crossApp := readTestdata(t, "cross_app.json")
	initech := []byte(mustReplace(t, string(text), `"100200300"`, `"700600500"`))
	unknown := []byte(mustReplace(t, string(text), `"100200300"`, `"555000111"`))
	malformed := []byte(mustReplace(t, string(text), `"1749416383"`, `"yesterday"`))
	huge := bytes.Repeat([]byte{' '}, MaxBodyBytes+1)
	atLimit := append(bytes.Repeat([]byte{' '}, MaxBodyBytes-len(text)), text...)
	tests := []struct {
		name      string
		body      []byte
		signature string
		status    int
		code      string   // error code of the body; "" for 200
		channels  []string // labels of switchboard_webhooks_total that must move by one
		result    string
		produced  []string // tenants of the records acknowledged
	}{
		{"text message", text, sign(bspSecret, text), 200, "", []string{"acme-wa"}, "ok", []string{"acme"}},
		{"at the size limit", atLimit, sign(bspSecret, atLimit), 200, "", []string{"acme-wa"}, "ok", []string{"acme"}},
		{"several tenants of one app", multi, sign(bspSecret, multi), 200, "", []string{"acme-wa", "acme-wa-2", "globex-wa"}, "ok", []string{"acme", "globex"}},
		{"another app's channel", initech, sign(initechSecret, initech), 200, "", []string{"initech-wa"}, "ok", []string{"initech"}},
		{"nothing to produce", readTestdata(t, "template_status_update.json"), sign(bspSecret, readTestdata(t, "template_status_update.json")), 200, "", []string{"unknown"}, "ok", nil},
		{"no signature", text, "", 401, "missing_signature", []string{"unknown"}, "bad_signature", nil},
		{"signature not hex", text, "sha256=" + strings.Repeat("zz", 32), 401, "bad_signature", []string{"unknown"}, "bad_signature", nil},
		{"signature too short", text, sign(bspSecret, text)[:70], 401, "bad_signature", []string{"unknown"}, "bad_signature", nil},
		{"signature with sha1 prefix", text, "sha1=" + sign(bspSecret, text)[len("sha256="):], 401, "bad_signature", []string{"unknown"}, "bad_signature", nil},
		{"signature by an unknown secret", text, sign("not-a-configured-secret", text), 401, "bad_signature", []string{"unknown"}, "bad_signature", nil},
		{"signature of another body", text, sign(bspSecret, multi), 401, "bad_signature", []string{"unknown"}, "bad_signature", nil},
		// A secret of the config signs it, but not the secret of the channel it names.
		{"signed by the wrong app", initech, sign(bspSecret, initech), 401, "bad_signature", []string{"initech-wa"}, "bad_signature", nil},
		{"mixes two apps' channels", crossApp, sign(bspSecret, crossApp), 401, "bad_signature", []string{"initech-wa"}, "bad_signature", nil},
		{"mixes two apps' channels, other secret", crossApp, sign(initechSecret, crossApp), 401, "bad_signature", []string{"acme-wa"}, "bad_signature", nil},
		{"over 1 MiB", huge, sign(bspSecret, huge), 413, "body_too_large", []string{"unknown"}, "too_large", nil},
		{"over 1 MiB checked before the signature", huge, sign("not-a-configured-secret", huge), 413, "body_too_large", []string{"unknown"}, "too_large", nil},
		{"over 1 MiB without signature", huge, "", 401, "missing_signature", []string{"unknown"}, "bad_signature", nil},
		{"malformed", malformed, sign(bspSecret, malformed), 400, "malformed_payload", []string{"unknown"}, "malformed", nil},
		{"not JSON", []byte("hello"), sign(bspSecret, []byte("hello")), 400, "malformed_payload", []string{"unknown"}, "malformed", nil},
		{"unknown channel", unknown, sign(bspSecret, unknown), 404, "unknown_channel", []string{"unknown"}, "unknown_channel", nil},
	}
	// One server for all cases (a fasthttp shutdown takes 100 ms); each case looks at what moved during it.
	s := startServer(t, &memProducer{}, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.prod.reset()
			before := make([]float64, len(tt.channels))
			for i, ch := range tt.channels {
				before[i] = s.counter(t, ch, tt.result)
			}
			observedBefore := s.observations(t, tt.result)
			resp := s.do(t, http.MethodPost, "", tt.signature, tt.body)
			if resp.status != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.status, resp.body, tt.status)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if tt.code == "" {
				if string(resp.body) != `{"status":"ok"}` {
					t.Errorf("body %s, want {\"status\":\"ok\"}", resp.body)
				}
			} else if got := errorCode(resp.body); got != tt.code {
				t.Errorf("error code %q in %s, want %q", got, resp.body, tt.code)
			}
			for i, ch := range tt.channels {
				if d := s.counter(t, ch, tt.result) - before[i]; d != 1 {
					t.Errorf("switchboard_webhooks_total{channel=%q,result=%q} moved by %v, want 1", ch, tt.result, d)
				}
			}
			if n := s.observations(t, tt.result) - observedBefore; n != 1 {
				t.Errorf("duration histogram took %d requests with result %q, want 1", n, tt.result)
			}
			attempts, acked := s.prod.state()
			var tenants []string
			for _, call := range acked {
				for _, r := range call {
					tenants = append(tenants, r.Tenant)
				}
			}
			if !reflect.DeepEqual(tenants, tt.produced) {
				t.Errorf("produced records for %v, want %v", tenants, tt.produced)
			}
			if tt.produced == nil && attempts != 0 {
				t.Errorf("Produce called %d times, want never", attempts)
			}
			if tt.produced != nil && len(acked) != 1 {
				t.Errorf("Produce acknowledged %d calls, want 1 for the whole payload", len(acked))
			}
		})
	}
}

func TestHandlerProducerFailure(t *testing.T) {
	text := readTestdata(t, "text.json")
	tests := []struct {
		name    string
		prod    *memProducer
		timeout time.Duration
	}{
		{"producer error", &memProducer{err: errors.New("kafka: not enough replicas")}, 0},
		// The timeout is what the handler must apply; the test only needs it to end.
		{"producer never answers", &memProducer{hang: true}, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.prod, tt.timeout)
			resp := s.do(t, http.MethodPost, "", sign(bspSecret, text), text)
			if resp.status != 503 || errorCode(resp.body) != "unavailable" {
				t.Fatalf("got %d %s, want 503 unavailable", resp.status, resp.body)
			}
			if ra := resp.header.Get("Retry-After"); ra == "" {
				t.Error("no Retry-After header on 503")
			}
			attempts, acked := s.prod.state()
			if attempts != 1 || len(acked) != 0 {
				t.Errorf("Produce attempted %d times, acknowledged %d; want 1 and 0", attempts, len(acked))
			}
			if got := s.counter(t, "acme-wa", "unavailable"); got != 1 {
				t.Errorf(`switchboard_webhooks_total{channel="acme-wa",result="unavailable"} = %v, want 1`, got)
			}
			if got := s.counter(t, "acme-wa", "ok"); got != 0 {
				t.Errorf(`switchboard_webhooks_total{channel="acme-wa",result="ok"} = %v, want 0`, got)
			}
		})
	}
}

func TestHandlerVerify(t *testing.T) {
	q := func(mode, token, challenge string) string {
		v := url.Values{}
		for k, val := range map[string]string{"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge} {
			if val != "" {
				v.Set(k, val)
			}
		}
		return "?" + v.Encode()
	}
	tests := []struct {
		name   string
		method string
		query  string
		status int
		body   string
		result string
	}{
		{"known token", http.MethodGet, q("subscribe", acmeVerify, "1158201444"), 200, "1158201444", "verify_ok"},
		{"another channel's token", http.MethodGet, q("subscribe", "initech-verify-token-5555", "ch<script>"), 200, "ch<script>", "verify_ok"},
		{"unknown token", http.MethodGet, q("subscribe", "guess-verify-token-0000", "1158201444"), 403, "", "verify_forbidden"},
		{"no token", http.MethodGet, q("subscribe", "", "1158201444"), 403, "", "verify_forbidden"},
		{"wrong mode", http.MethodGet, q("unsubscribe", acmeVerify, "1158201444"), 403, "", "verify_forbidden"},
		{"no mode", http.MethodGet, q("", acmeVerify, "1158201444"), 403, "", "verify_forbidden"},
		{"PUT", http.MethodPut, "", 405, "", "method_not_allowed"},
		{"DELETE", http.MethodDelete, "", 405, "", "method_not_allowed"},
	}
	s := startServer(t, &memProducer{}, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.counter(t, "unknown", tt.result)
			resp := s.do(t, tt.method, tt.query, "", nil)
			if resp.status != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.status, resp.body, tt.status)
			}
			switch tt.status {
			case 200:
				if string(resp.body) != tt.body {
					t.Errorf("body %q, want the challenge %q", resp.body, tt.body)
				}
				if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q, want text/plain", ct)
				}
			case 405:
				if allow := resp.header.Get("Allow"); allow != "GET, POST" {
					t.Errorf("Allow %q, want GET, POST", allow)
				}
				fallthrough
			default:
				if errorCode(resp.body) == "" {
					t.Errorf("body %s is not a JSON error", resp.body)
				}
			}
			if d := s.counter(t, "unknown", tt.result) - before; d != 1 {
				t.Errorf("switchboard_webhooks_total{channel=\"unknown\",result=%q} moved by %v, want 1", tt.result, d)
			}
		})
	}
	if attempts, _ := s.prod.state(); attempts != 0 {
		t.Errorf("Produce called %d times by GET/other methods", attempts)
	}
}

// TestHandlerCopiesRequest checks that acknowledged records survive fasthttp reusing its request buffer for the
// next request on the same connection.
func TestHandlerCopiesRequest(t *testing.T) {
	first := readTestdata(t, "text.json")
	second := []byte(mustReplace(t, string(first), "Does it come in another color?", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"))
	second = []byte(mustReplace(t, string(second), "Sheena Nelson", "YYYYYYYYYYYYY"))
	if len(second) != len(first) {
		t.Fatal("BUG in test: the payloads must have the same length to land on the same buffer bytes")
	}
	want, err := Parse(first, testDirectory(t), ingestAt)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, &memProducer{}, 0)
	for _, body := range [][]byte{first, second} {
		if resp := s.do(t, http.MethodPost, "", sign(bspSecret, body), body); resp.status != 200 {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
	}
	_, acked := s.prod.state()
	if len(acked) != 2 {
		t.Fatalf("%d calls acknowledged, want 2", len(acked))
	}
	if !reflect.DeepEqual(acked[0], want) {
		t.Errorf("first record changed after the second request:\n got %+v\nwant %+v", acked[0][0].Items[0].Message, want[0].Items[0].Message)
	}
}

func TestNewValidates(t *testing.T) {
	dir := testDirectory(t)
	tests := map[string]Config{
		"no directory":     {Producer: &memProducer{}},
		"no producer":      {Directory: dir},
		"negative timeout": {Directory: dir, Producer: &memProducer{}, ProduceTimeout: -time.Second},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
	// Two handlers on one registry share the metrics rather than fail.
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := New(Config{Directory: dir, Producer: &memProducer{}, Registerer: reg}); err != nil {
			t.Fatalf("New on a shared registry: %v", err)
		}
	}
	if findSeries(t, reg, "switchboard_webhooks_total", "channel", "unknown", "result", "ok") == nil ||
		findSeries(t, reg, "switchboard_webhook_duration_seconds", "result", "ok") == nil {
		t.Error("the webhook metrics are not on the registry")
	}
}

type nopProducer struct{}

func (nopProducer) Produce(context.Context, []inbox.Record) error { return nil }

func BenchmarkHandler(b *testing.B) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, readTestdata(b, "text.json")); err != nil {
		b.Fatal(err)
	}
	body := compact.Bytes()
	sig := sign(bspSecret, body)
	h, err := New(Config{Directory: testDirectory(b), Producer: nopProducer{}})
	if err != nil {
		b.Fatal(err)
	}
	// In process: the handler's own cost, without the network.
	b.Run("serve", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		var ctx fasthttp.RequestCtx
		for b.Loop() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.Header.SetMethod(fasthttp.MethodPost)
			ctx.Request.SetRequestURI(Path)
			ctx.Request.Header.Set(SignatureHeader, sig)
			ctx.Request.SetBody(body)
			h.Serve(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	})
	// Over loopback TCP with a keep-alive fasthttp client: allocations include the client's.
	b.Run("loopback", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &fasthttp.Server{Handler: h.Serve}
		go func() { _ = srv.Serve(ln) }()
		defer func() { _ = srv.Shutdown() }()
		uri := "http://" + ln.Addr().String() + Path
		var c fasthttp.Client
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(uri)
		req.Header.Set(SignatureHeader, sig)
		req.SetBody(body)
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := c.Do(req, resp); err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode() != 200 {
				b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
			}
		}
	})
}
