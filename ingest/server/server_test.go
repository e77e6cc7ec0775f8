package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

var quiet = slog.New(slog.DiscardHandler)

// echo is a mounted handler that says who it is and what it got, copying the body out of fasthttp's buffer.
func echo(name string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(fasthttp.StatusAccepted)
		ctx.SetBodyString(fmt.Sprintf("%s %s %s %d", name, ctx.Method(), ctx.Path(), len(ctx.PostBody())))
	}
}

type running struct {
	s    *Server
	url  string
	done chan error
}

// startServer builds a server on a free loopback port and runs it; it is shut down when the test ends.
func startServer(t *testing.T, cfg Config) *running {
	t.Helper()
	cfg.Addr, cfg.Logger = "127.0.0.1:0", quiet
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{s: s, url: "http://" + s.Addr(), done: make(chan error, 1)}
	go func() { r.done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after Close")
		}
	})
	return r
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r *running) do(t *testing.T, method, path, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// wantError checks the contract's error shape: {"error":{"code","message"}} and nothing else.
func wantError(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s = %d %s, want %d %s", what, r.status, r.body, status, code)
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Errorf("%s: %s is not the error shape: %v", what, r.body, err)
		return
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Errorf("%s: error %+v, want code %q with a message", what, body.Error, code)
	}
}

func TestRoutesToMountedHandlers(t *testing.T) {
	r := startServer(t, Config{WhatsApp: echo("whatsapp"), API: echo("api")})
	for _, tc := range []struct{ method, path, body, want string }{
		{"GET", "/webhooks/whatsapp?hub.mode=subscribe", "", "whatsapp GET /webhooks/whatsapp 0"},
		{"POST", "/webhooks/whatsapp", `{"entry":[]}`, "whatsapp POST /webhooks/whatsapp 12"},
		{"GET", "/v1/conversations?status=assigned", "", "api GET /v1/conversations 0"},
		{"POST", "/v1/conversations/c1/take", "", "api POST /v1/conversations/c1/take 0"},
		{"PATCH", "/v1/operators/alice", `{"capacity":1}`, "api PATCH /v1/operators/alice 14"},
		{"GET", "/v1/", "", "api GET /v1/ 0"},
	} {
		got := r.do(t, tc.method, tc.path, tc.body)
		if got.status != http.StatusAccepted || got.body != tc.want {
			t.Errorf("%s %s = %d %q, want 202 %q", tc.method, tc.path, got.status, got.body, tc.want)
		}
	}
	for _, p := range []string{"/", "/v1", "/v2/conversations", "/webhooks/whatsapp/x", "/webhooks/other", "/healthz/x", "/metricsx"} {
		wantError(t, "GET "+p, r.do(t, "GET", p, ""), http.StatusNotFound, "not_found")
	}
}

// The console gets every path the webhooks, the API and the node's own endpoints do not own: its client routes
// (e.g. /mine/<id>) get its page. /v1 and /webhooks paths keep their own 404s in the error shape even with no handler.
func TestConsoleGetsTheRest(t *testing.T) {
	r := startServer(t, Config{API: echo("api"), Web: echo("web"), Gatherer: prometheus.NewRegistry()})
	for _, p := range []string{"/", "/mine/c0123456789abcdefg", "/assets/main-X.js", "/v2/conversations", "/v1x", "/metricsx", "/healthz/x"} {
		if got := r.do(t, "GET", p, ""); got.status != http.StatusAccepted || got.body != "web GET "+p+" 0" {
			t.Errorf("GET %s = %d %q, want the console", p, got.status, got.body)
		}
	}
	if got := r.do(t, "GET", "/v1/conversations", ""); got.body != "api GET /v1/conversations 0" {
		t.Errorf("GET /v1/conversations = %q, want the API", got.body)
	}
	for _, p := range []string{"/v1", "/webhooks", "/webhooks/whatsapp", "/webhooks/other"} {
		wantError(t, "GET "+p, r.do(t, "GET", p, ""), http.StatusNotFound, "not_found")
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if got := r.do(t, "GET", p, ""); got.status != http.StatusOK {
			t.Errorf("GET %s = %d %s, want the node's own endpoint", p, got.status, got.body)
		}
	}
}

// A node without a role leaves its paths unmounted: 404 in the error shape, while the node's own endpoints work.
func TestUnmountedRoles(t *testing.T) {
	r := startServer(t, Config{Gatherer: prometheus.NewRegistry()})
	wantError(t, "webhook without ingest", r.do(t, "POST", "/webhooks/whatsapp", "{}"), http.StatusNotFound, "not_found")
	wantError(t, "api without the api role", r.do(t, "GET", "/v1/conversations", ""), http.StatusNotFound, "not_found")
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if got := r.do(t, "GET", p, ""); got.status != http.StatusOK {
			t.Errorf("GET %s = %d %s", p, got.status, got.body)
		}
	}
	// Mounting one role does not mount the other.
	r2 := startServer(t, Config{API: echo("api")})
	wantError(t, "webhook on an api-only node", r2.do(t, "POST", "/webhooks/whatsapp", "{}"), http.StatusNotFound, "not_found")
	if got := r2.do(t, "GET", "/v1/operators", ""); got.body != "api GET /v1/operators 0" {
		t.Errorf("api on an api-only node = %d %q", got.status, got.body)
	}
}

func TestHealthz(t *testing.T) {
	failing := Check{Name: "kafka", Fn: func() error { return errors.New("down") }}
	r := startServer(t, Config{Ready: []Check{failing}})
	r.s.Drain()
	// Liveness does not depend on readiness or draining.
	if got := r.do(t, "GET", "/healthz", ""); got.status != http.StatusOK || got.body != "ok\n" {
		t.Errorf("/healthz = %d %q", got.status, got.body)
	}
}

// switchable is a readiness condition the test turns on and off.
type switchable struct {
	mu  sync.Mutex
	err error
}

func (s *switchable) set(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }
func (s *switchable) check() error  { s.mu.Lock(); defer s.mu.Unlock(); return s.err }

func TestReadyz(t *testing.T) {
	kafka, store := &switchable{}, &switchable{}
	r := startServer(t, Config{API: echo("api"), Ready: []Check{{"kafka", kafka.check}, {"store", store.check}}})
	ready := func(step string) {
		t.Helper()
		if got := r.do(t, "GET", "/readyz", ""); got.status != http.StatusOK || got.body != "ready\n" {
			t.Errorf("%s: /readyz = %d %q, want 200 ready", step, got.status, got.body)
		}
	}
	notReady := func(step string, named, notNamed []string) {
		t.Helper()
		got := r.do(t, "GET", "/readyz", "")
		if got.status != http.StatusServiceUnavailable {
			t.Errorf("%s: /readyz = %d %q, want 503", step, got.status, got.body)
		}
		for _, n := range named {
			if !strings.Contains(got.body, n) {
				t.Errorf("%s: /readyz body %q does not name %q", step, got.body, n)
			}
		}
		for _, n := range notNamed {
			if strings.Contains(got.body, n) {
				t.Errorf("%s: /readyz body %q names %q, which passes", step, got.body, n)
			}
		}
	}
	ready("all pass")
	kafka.set(errors.New("no broker reachable at 127.0.0.1:9092"))
	notReady("kafka failing", []string{"kafka", "no broker reachable at 127.0.0.1:9092"}, []string{"store"})
	store.set(errors.New("pebble closed"))
	notReady("both failing", []string{"kafka: no broker", "store: pebble closed"}, nil)
	kafka.set(nil)
	notReady("store failing", []string{"store: pebble closed"}, []string{"kafka"})
	store.set(nil)
	ready("recovered")

	// Draining: /readyz says so even with every check passing, and requests are still served.
	r.s.Drain()
	r.s.Drain() // idempotent
	got := r.do(t, "GET", "/readyz", "")
	if got.status != http.StatusServiceUnavailable || got.body != "draining\n" {
		t.Errorf("draining: /readyz = %d %q, want 503 draining", got.status, got.body)
	}
	if got := r.do(t, "GET", "/v1/conversations", ""); got.status != http.StatusAccepted {
		t.Errorf("draining: API request = %d %q, want it still served", got.status, got.body)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	r := startServer(t, Config{Gatherer: reg})
	got := r.do(t, "GET", "/metrics", "")
	if got.status != http.StatusOK {
		t.Fatalf("/metrics = %d %s", got.status, got.body)
	}
	if !strings.Contains(got.body, "\nswitchboard_test_things_total 3\n") || !strings.Contains(got.body, "# HELP switchboard_test_things_total Things.") {
		t.Errorf("/metrics does not expose the registered counter:\n%s", got.body)
	}
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	c.Inc()
	if got := r.do(t, "GET", "/metrics", ""); !strings.Contains(got.body, "\nswitchboard_test_things_total 4\n") {
		t.Errorf("/metrics is not live:\n%s", got.body)
	}
}

// rawRequest writes head (and no body) on a fresh connection and reads the answer: a body fasthttp refuses on its
// declared length is never sent, so the connection is not reset under the answer.
func rawRequest(t *testing.T, addr, head string) response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func TestBodyOverMaxBodySize(t *testing.T) {
	r := startServer(t, Config{WhatsApp: echo("whatsapp"), API: echo("api")})
	for _, path := range []string{"/webhooks/whatsapp", "/v1/conversations/c1/messages"} {
		// The server reads the first 8 KiB of a body before it answers (bodies are streamed): they are sent, as a
		// client sends its body after the head, and the rest is not needed.
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			path, MaxBodySize+1, strings.Repeat("x", 8<<10))
		wantError(t, "POST "+path+" over MaxBodySize", rawRequest(t, r.s.Addr(), head), http.StatusRequestEntityTooLarge, "body_too_large")
	}
	// Exactly MaxBodySize reaches the handler, which decides for itself.
	body := bytes.Repeat([]byte("x"), MaxBodySize)
	resp, err := http.Post(r.url+"/webhooks/whatsapp", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("whatsapp POST /webhooks/whatsapp %d", MaxBodySize); resp.StatusCode != http.StatusAccepted || string(b) != want {
		t.Errorf("POST of MaxBodySize bytes = %d %q, want 202 %q", resp.StatusCode, b, want)
	}
}

// A request fasthttp cannot parse is answered by the error handler in the error shape too.
func TestMalformedRequest(t *testing.T) {
	r := startServer(t, Config{})
	got := rawRequest(t, r.s.Addr(), "POST /webhooks/whatsapp HTTP/1.1\r\nHost: test\r\nContent-Length: nope\r\n\r\n")
	wantError(t, "bad Content-Length", got, http.StatusBadRequest, "bad_request")
}

// Close stops the server (Run returns nil), refuses new connections and can be called again.
func TestCloseIdempotent(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	url := "http://" + s.Addr()
	eventually.NoError(t, 10*time.Second, 10*time.Millisecond, func() error {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}, "server answers")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s.Drain() // after Close: no panic on a closed channel
	c := http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	if resp, err := c.Get(url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("after Close the server still answers: %d", resp.StatusCode)
	}
}

func TestNewOnBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if s, err := New(Config{Addr: ln.Addr().String(), Logger: quiet}); err == nil {
		_ = s.Close()
		t.Fatal("New on a busy address: want an error")
	}
}

// Run stops when its context ends, as Close stops it, and a later Close is a no-op.
func TestRunStopsWithContext(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after its context ended: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after Run stopped: %v", err)
	}
}

// A server closed before it ran releases its listener, and Run then returns at once.
func TestCloseBeforeRun(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the address is still held after Close: %v", err)
	}
	ln.Close()
	if err := s.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
}

// closeFailing is a listener whose Close closes the real one but reports an error, and whose Accept then fails
// with errServeFailed, which Serve returns.
type closeFailing struct {
	net.Listener
}

var (
	errCloseFailed = errors.New("close failed")
	errServeFailed = errors.New("accept failed")
)

func (l closeFailing) Close() error {
	_ = l.Listener.Close()
	return errCloseFailed
}

func (l closeFailing) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, errServeFailed
	}
	return c, nil
}

// When stopping fails, Run still waits for Serve to return and reports both errors: nothing it started outlives
// it, and Serve's own error is not lost.
func TestRunWaitsForServeWhenCloseFails(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.ln = closeFailing{s.ln}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	err = <-done
	if !errors.Is(err, errCloseFailed) || !errors.Is(err, errServeFailed) {
		t.Errorf("Run = %v, want the Close error and Serve's", err)
	}
}

// Bodies are streamed to the handlers of Config.StreamsBody, of any length; every other path keeps MaxBodySize,
// whether the body says its length or comes in chunks, and a body within it reaches the handler whole.
func TestStreamedBodies(t *testing.T) {
	streamed := func(ctx *fasthttp.RequestCtx) {
		n, err := io.Copy(io.Discard, ctx.RequestBodyStream())
		ctx.SetStatusCode(fasthttp.StatusAccepted)
		ctx.SetBodyString(fmt.Sprintf("streamed %d %v", n, err))
	}
	r := startServer(t, Config{WhatsApp: echo("whatsapp"), API: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/v1/big" {
			streamed(ctx)
			return
		}
		echo("api")(ctx)
	}, StreamsBody: func(method, path []byte) bool { return string(path) == "/v1/big" }})
	post := func(path string, body io.Reader) (int, string) {
		t.Helper()
		resp, err := http.Post(r.url+path, "text/csv", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	big := bytes.Repeat([]byte("x"), 3*MaxBodySize)
	// io.MultiReader hides the length: net/http sends it chunked.
	for _, body := range []func() io.Reader{func() io.Reader { return bytes.NewReader(big) }, func() io.Reader { return io.MultiReader(bytes.NewReader(big)) }} {
		if code, got := post("/v1/big", body()); code != http.StatusAccepted || got != fmt.Sprintf("streamed %d <nil>", len(big)) {
			t.Errorf("streamed path: %d %q", code, got)
		}
	}
	// Over MaxBodySize elsewhere: with a length (the server reads 8 KiB of it), and in one chunk.
	wantError(t, "a length over MaxBodySize", rawRequest(t, r.s.Addr(), fmt.Sprintf(
		"POST /v1/other HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", len(big), big[:8<<10])),
		http.StatusRequestEntityTooLarge, "body_too_large")
	wantError(t, "a chunked body over MaxBodySize", rawRequest(t, r.s.Addr(), fmt.Sprintf(
		"POST /v1/other HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", MaxBodySize+1, big[:MaxBodySize+1])),
		http.StatusRequestEntityTooLarge, "body_too_large")
	small := bytes.Repeat([]byte("y"), MaxBodySize)
	if code, got := post("/v1/other", io.MultiReader(bytes.NewReader(small))); code != http.StatusAccepted || got != fmt.Sprintf("api POST /v1/other %d", len(small)) {
		t.Errorf("chunked body of MaxBodySize: %d %q", code, got)
	}
	// Keep-alive still works for small bodies: two requests on one connection.
	conn, err := net.Dial("tcp", r.s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := 0; i < 2; i++ {
		if _, err := fmt.Fprintf(conn, "POST /v1/x HTTP/1.1\r\nHost: test\r\nContent-Length: 20000\r\n\r\n%s", strings.Repeat("z", 20000)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "api POST /v1/x 20000" {
			t.Errorf("request %d on one connection: %q", i, b)
		}
	}
}
