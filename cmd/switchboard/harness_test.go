package main_test

// The end-to-end harness: it builds the real binary once and runs nodes as child processes on loopback ports with
// their own data dirs, so tests can post real webhooks, call the real API, SIGTERM and kill -9 them. It also holds
// what the tests share: the pieces of their tenants files, the HTTP helpers, /metrics and the Cloud API simulator.
// The browser's harness is console_harness_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchboard")
	// `switchboard bench` and `switchboard whatsapp-sim` run the binaries built beside it. One go build builds the
	// three in parallel.
	pkgs := []string{".", "../switchboard-bench", "../switchboard-whatsapp-sim"}
	out, err := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build %v: %v\n%s", pkgs, err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Test tenants: acme has one channel and one operator, alice; beta is another tenant, with carol. Other tests'
// tenants files are built from the same pieces (the *Y constants below), so a channel or an operator is written once.
const (
	acmePhone  = "100200300"
	acmeSecret = "acme-app-secret"
	acmeVerify = "acme-verify-token"
	aliceToken = "alice-token-0000000001"
	betaPhone  = "400500600"
	betaSecret = "beta-app-secret"
	betaToken  = "beta-token-00000000001"

	// acmeChannelY is the channels list of a tenant acme: its one WhatsApp channel, acme-wa (acmePhone, signed with
	// acmeSecret).
	acmeChannelY = `    channels:
      - id: acme-wa
        type: whatsapp
        phone_number_id: "` + acmePhone + `"
        app_secret: "` + acmeSecret + `"
        verify_token: "` + acmeVerify + `"
        access_token: "acme-access"
`
	// betaTenantY is tenant beta up to its operators list, which the config goes on to fill (carolY): another tenant,
	// whose operators must see nothing of acme's.
	betaTenantY = `  - id: beta
    channels:
      - id: beta-wa
        type: whatsapp
        phone_number_id: "` + betaPhone + `"
        app_secret: "` + betaSecret + `"
        verify_token: "beta-verify-token"
        access_token: "beta-access"
    operators:
`
	// carolY is beta's operator carol, with the default role.
	carolY = `      - id: carol
        token: "` + betaToken + `"
`
	testConfigY = `tenants:
  - id: acme
` + acmeChannelY + `    operators:
      - id: alice
        name: Alice
        role: admin
        capacity: 2
        token: "` + aliceToken + `"
` + betaTenantY + carolY
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// node is a switchboard process under test.
type node struct {
	t       testing.TB
	dir     string
	http    string
	kafka   string
	extra   []string
	cmd     *exec.Cmd
	logs    *syncBuffer
	exited  chan struct{}
	exitErr error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newNode prepares a node with a fresh data dir and the test config; start runs it.
func newNode(t testing.TB, extra ...string) *node {
	t.Helper()
	return newNodeConfig(t, testConfigY, extra...)
}

// newNodeConfig prepares a node with a fresh data dir and the given config file.
func newNodeConfig(t testing.TB, config string, extra ...string) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), http: freeAddr(t), kafka: freeAddr(t), extra: extra}
	writeConfig(t, n, config)
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("node logs:\n%s", n.logs)
		}
	})
	return n
}

// writeConfig writes the node's config file; a running node reads it at its next start.
func writeConfig(t testing.TB, n *node, config string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(n.dir, "config.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

// start runs the node and waits until /readyz says ready.
func (n *node) start() {
	n.t.Helper()
	args := append([]string{"serve",
		"--config", filepath.Join(n.dir, "config.yaml"),
		"--data-dir", filepath.Join(n.dir, "data"),
		"--http-addr", n.http,
		"--embedded-kafka-addr", n.kafka,
		"--partitions", "4",
		"--kafka-session-timeout", "2s",
		// Tests never reach Meta: a node without a simulator sends to a closed loopback port.
		"--whatsapp-api-url", "http://127.0.0.1:1",
		// Tests serve operators' media links from loopback.
		"--media-allow-private",
	}, n.extra...)
	n.cmd = exec.Command(binary, args...)
	if n.logs == nil {
		n.logs = &syncBuffer{}
	}
	fmt.Fprintf(n.logs, "---- start %v\n", args)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.exited = make(chan struct{})
	go func() { n.exitErr = n.cmd.Wait(); close(n.exited) }()
	eventually.NoError(n.t, 60*time.Second, 50*time.Millisecond, func() error {
		select {
		case <-n.exited:
			n.t.Fatalf("node exited during start: %v\n%s", n.exitErr, n.logs)
		default:
		}
		if code, _ := n.get("/readyz", ""); code != 200 {
			return fmt.Errorf("/readyz %d\n%s", code, n.logs)
		}
		return nil
	}, "node ready")
}

// kill9 kills the node without warning and waits for it to be gone.
func (n *node) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

// stop sends SIGTERM and requires a clean exit.
func (n *node) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
		if n.exitErr != nil {
			n.t.Fatalf("node exited with %v after SIGTERM\n%s", n.exitErr, n.logs)
		}
	case <-time.After(60 * time.Second):
		n.t.Fatalf("node did not stop within 60s of SIGTERM\n%s", n.logs)
	}
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (n *node) url(path string) string { return "http://" + n.http + path }

// sendRequest performs one request through hc with a bearer token (none when token is "") and a Content-Type (none
// when contentType is ""), and returns the status and the body (as much of it as could be read). It fails no test,
// so load generators' goroutines use it too; err is the transport's, when there is no answer.
func sendRequest(ctx context.Context, hc *http.Client, method, url, token, contentType string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// jsonBody is body as JSON, or no body when body is nil.
func jsonBody(body any) (io.Reader, error) {
	if body == nil {
		return nil, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// apiCall is sendRequest with a JSON body (none when body is nil) and no Content-Type, for load generators.
func apiCall(ctx context.Context, hc *http.Client, url, method, token string, body any) (int, []byte, error) {
	rd, err := jsonBody(body)
	if err != nil {
		return 0, nil, err
	}
	return sendRequest(ctx, hc, method, url, token, "", rd)
}

// get performs a GET with an optional bearer token; status 0 when the node did not answer (start polls /readyz
// with it).
func (n *node) get(path, token string) (int, []byte) {
	code, b, _ := sendRequest(context.Background(), client, http.MethodGet, n.url(path), token, "", nil)
	return code, b
}

// send performs a request with a body of the given content type and fails the test when the node does not answer.
func (n *node) send(method, path, token, contentType string, body io.Reader) (int, []byte) {
	n.t.Helper()
	code, b, err := sendRequest(context.Background(), client, method, n.url(path), token, contentType, body)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, b
}

// call performs an API request with a JSON body (none when body is nil) and returns the status and body.
func (n *node) call(method, path, token string, body any) (int, []byte) {
	n.t.Helper()
	rd, err := jsonBody(body)
	if err != nil {
		n.t.Fatal(err)
	}
	return n.send(method, path, token, "application/json", rd)
}

// mustCall is call that fails the test unless the status is want; it returns the body.
func (n *node) mustCall(method, path, token string, body any, want int) []byte {
	n.t.Helper()
	code, b := n.call(method, path, token, body)
	if code != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	return b
}

// refused is call that expects the API's refusal: status wantStatus with error code wantCode (reported with
// t.Errorf, so a test lists every wrong refusal).
func (n *node) refused(method, path, token string, body any, wantStatus int, wantCode string) {
	n.t.Helper()
	code, b := n.call(method, path, token, body)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	if code != wantStatus || e.Error.Code != wantCode {
		n.t.Errorf("%s %s: %d %s, want %d %s", method, path, code, b, wantStatus, wantCode)
	}
}

// mustGetJSON GETs path, fails the test unless the answer is 200, and decodes it into a T.
func mustGetJSON[T any](n *node, path, token string) T {
	n.t.Helper()
	code, b := n.get(path, token)
	if code != 200 {
		n.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		n.t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
	return v
}

// getJSON GETs path and, when the answer is 200, decodes it into a T (failing the test on a body that is not one);
// any other status returns the zero T.
func getJSON[T any](n *node, path, token string) (int, T) {
	n.t.Helper()
	code, b := n.get(path, token)
	var v T
	if code == 200 {
		if err := json.Unmarshal(b, &v); err != nil {
			n.t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	return code, v
}

// post sends a webhook body signed with secret ("" sends no signature header) and returns the status code.
func (n *node) post(body []byte, secret string) int {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.url("/webhooks/whatsapp"), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(meta.SignatureHeader, meta.Sign(secret, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		n.t.Fatalf("post webhook: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// deliver posts one signed webhook carrying msgs to the channel with phoneID, as Meta does when customers write,
// and fails the test unless the node accepts it (200).
func (n *node) deliver(phoneID, secret string, msgs ...meta.Message) {
	n.t.Helper()
	if code := n.post(meta.Payload(meta.Change{PhoneNumberID: phoneID, Messages: msgs}), secret); code != 200 {
		n.t.Fatalf("webhook to %s with %d message(s) from %s: %d", phoneID, len(msgs), msgs[0].From, code)
	}
}

type convList struct {
	Conversations []conversation.Conversation `json:"conversations"`
	NextCursor    string                      `json:"next_cursor"`
}

// conversations lists every conversation of the token's tenant, following cursors.
func (n *node) conversations(token string) []conversation.Conversation {
	n.t.Helper()
	var all []conversation.Conversation
	cursor := ""
	for {
		l := mustGetJSON[convList](n, "/v1/conversations?sort=created&order=asc&limit=500&cursor="+cursor, token)
		all = append(all, l.Conversations...)
		if l.NextCursor == "" {
			return all
		}
		cursor = l.NextCursor
	}
}

// messageCount sums the messages of every conversation of token's tenant, as the lists count them: all of them, or
// only the customers' when inbound.
func (n *node) messageCount(token string, inbound bool) int {
	n.t.Helper()
	c := 0
	for _, cv := range n.conversations(token) {
		if inbound {
			c += int(cv.InboundCount)
		} else {
			c += int(cv.Messages)
		}
	}
	return c
}

type convView struct {
	conversation.Conversation
	Messages []conversation.Message `json:"messages"`
}

// conversation reads one conversation with its messages; a status other than 200 returns an empty view.
func (n *node) conversation(token, id string) (int, convView) {
	n.t.Helper()
	return getJSON[convView](n, "/v1/conversations/"+id, token)
}

// listIDs lists the ids of the conversations a query of GET /v1/conversations finds (one page of up to 500), sorted.
func (n *node) listIDs(token, query string) []string {
	n.t.Helper()
	l := mustGetJSON[convList](n, "/v1/conversations?limit=500&"+query, token)
	ids := []string{}
	for _, c := range l.Conversations {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	return ids
}

// storeDir is the node's Pebble directory.
func (n *node) storeDir() string { return filepath.Join(n.dir, "data", "store") }

// openStore opens the store of a stopped (or killed) node, closed at the end of the test; close it sooner when the
// node is to start again on the directory.
func (n *node) openStore() *store.Store {
	n.t.Helper()
	return storetest.Open(n.t, store.Config{Dir: n.storeDir()})
}

// metric returns the sum of every sample of a metric family (all label sets) from /metrics.
func (n *node) metric(name string, labels ...string) float64 {
	n.t.Helper()
	return n.scrape().sum(name, labels...)
}

// scrape reads /metrics once, for several figures taken at the same moment.
func (n *node) scrape() scraped {
	n.t.Helper()
	code, b := n.get("/metrics", "")
	if code != 200 {
		n.t.Fatalf("/metrics: %d", code)
	}
	return scraped{t: n.t, text: b}
}

// scraped is one /metrics answer.
type scraped struct {
	t    testing.TB
	text []byte
}

// sum adds every sample of a metric family whose labels contain each of labels (e.g. `kind="status"`).
func (m scraped) sum(name string, labels ...string) float64 {
	m.t.Helper()
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(m.text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
			}
		}
		if !match {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			m.t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// textMsg is a text message from a customer whose WhatsApp profile name is "Customer <from>".
func textMsg(from, id, text string, ts int64) meta.Message {
	return meta.Message{From: from, ProfileName: "Customer " + from, ID: id, Timestamp: ts, Text: text}
}

// The Cloud API simulator (ingest/whatsapp/sim) stands in for Meta: nodes send to it and it posts signed status
// webhooks back.
const (
	outSecret = "out-app-secret" // the app secret of the simulator's webhooks in simConfig
	outRate   = 500              // the simulator's per-number limit in simConfig (messages per second)
)

// simConfig is the tests' usual simulator: it signs with outSecret, allows outRate messages a second per number,
// fails as fail says, and answers statuses 20 ms after a send.
func simConfig(fail sim.FailConfig) sim.Config {
	return sim.Config{AppSecret: outSecret, Rate: outRate, Fail: fail, StatusDelay: 20 * time.Millisecond, Seed: 7,
		// Every status webhook must reach the node, even when a busy machine makes the node answer slowly: a queue
		// that holds all of them (the simulator drops webhooks past its queue rather than block its send endpoint).
		WebhookQueue: 100000}
}

// startSim runs the simulator of simConfig(fail) on loopback, posting its webhooks to n, until the test ends.
func startSim(t testing.TB, n *node, fail sim.FailConfig) *sim.Sim {
	t.Helper()
	return startSimConfig(t, n, simConfig(fail))
}

// startSimConfig runs a simulator with cfg on loopback, posting its webhooks to n (it sets cfg.WebhookURL), until
// the test ends.
func startSimConfig(t testing.TB, n *node, cfg sim.Config) *sim.Sim {
	t.Helper()
	cfg.WebhookURL = n.url("/webhooks/whatsapp")
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return s
}

// startNodeWithSim starts a node on config whose WhatsApp Cloud API is a simulator with simCfg (startSimConfig),
// with the extra flags, and returns both.
func startNodeWithSim(t testing.TB, config string, simCfg sim.Config, extra ...string) (*node, *sim.Sim) {
	t.Helper()
	n := newNodeConfig(t, config)
	s := startSimConfig(t, n, simCfg)
	n.extra = append([]string{"--whatsapp-api-url", s.URL()}, extra...)
	n.start()
	return n, s
}

// simReceived waits until the simulator accepted a message to `to` whose payload holds every one of parts.
func simReceived(t testing.TB, s *sim.Sim, to, what string, parts ...string) {
	t.Helper()
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		for _, m := range s.Messages() {
			if m.To != to {
				continue
			}
			all := true
			for _, p := range parts {
				all = all && strings.Contains(string(m.Payload), p)
			}
			if all {
				return true
			}
		}
		return false
	}, "the simulator received %s", what)
}

// waitTemplatesSynced waits until the node's template catalogue, as token sees it, holds the simulator's seeded
// templates (a node syncs them from the simulator at start).
func waitTemplatesSynced(t testing.TB, n *node, token string) {
	t.Helper()
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, b := n.get("/v1/templates", token)
		return code == 200 && strings.Count(string(b), `"name":`) == len(sim.SeedTemplates)
	}, "the template catalogue synced")
}
