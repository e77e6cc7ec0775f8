package main_test

// The end-to-end harness: it builds the real binary once and runs nodes as child processes on loopback ports with
// their own data dirs, so tests can post real webhooks, call the real API, SIGTERM and kill -9 them.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchboard")
	// `switchboard bench` and `switchboard whatsapp-sim` run the binaries built beside it.
	for _, pkg := range []string{".", "../switchboard-bench", "../switchboard-whatsapp-sim"} {
		out, err := exec.Command("go", "build", "-o", dir+"/", pkg).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Test tenants: acme has one channel and two operators; beta has another channel.
const (
	acmePhone   = "100200300"
	acmeSecret  = "acme-app-secret"
	acmeVerify  = "acme-verify-token"
	aliceToken  = "alice-token-0000000001"
	betaPhone   = "400500600"
	betaSecret  = "beta-app-secret"
	betaToken   = "beta-token-00000000001"
	testConfigY = `tenants:
  - id: acme
    channels:
      - id: acme-wa
        type: whatsapp
        phone_number_id: "` + acmePhone + `"
        app_secret: "` + acmeSecret + `"
        verify_token: "` + acmeVerify + `"
        access_token: "acme-access"
    operators:
      - id: alice
        name: Alice
        role: admin
        capacity: 2
        token: "` + aliceToken + `"
  - id: beta
    channels:
      - id: beta-wa
        type: whatsapp
        phone_number_id: "` + betaPhone + `"
        app_secret: "` + betaSecret + `"
        verify_token: "beta-verify-token"
        access_token: "beta-access"
    operators:
      - id: carol
        token: "` + betaToken + `"
`
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

// get performs a GET with an optional bearer token.
func (n *node) get(path, token string) (int, []byte) {
	req, _ := http.NewRequest(http.MethodGet, n.url(path), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// call performs an API request with a JSON body and returns the status and body.
func (n *node) call(method, path, token string, body any) (int, []byte) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.url(path), rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
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
		code, b := n.get("/v1/conversations?sort=created&order=asc&limit=500&cursor="+cursor, token)
		if code != 200 {
			n.t.Fatalf("list conversations: %d %s", code, b)
		}
		var l convList
		if err := json.Unmarshal(b, &l); err != nil {
			n.t.Fatal(err)
		}
		all = append(all, l.Conversations...)
		if l.NextCursor == "" {
			return all
		}
		cursor = l.NextCursor
	}
}

type convView struct {
	conversation.Conversation
	Messages []conversation.Message `json:"messages"`
}

func (n *node) conversation(token, id string) (int, convView) {
	n.t.Helper()
	code, b := n.get("/v1/conversations/"+id, token)
	var v convView
	if code == 200 {
		if err := json.Unmarshal(b, &v); err != nil {
			n.t.Fatal(err)
		}
	}
	return code, v
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

func textMsg(from, id, text string, ts int64) meta.Message {
	return meta.Message{From: from, ProfileName: "Customer " + from, ID: id, Timestamp: ts, Text: text}
}

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}
