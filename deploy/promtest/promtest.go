// Package promtest lets tests use Prometheus' own tools: it installs Debian's prometheus package when promtool or
// prometheus is missing, runs processes that are stopped with SIGTERM when the test ends, starts a real Prometheus
// server on loopback and queries its HTTP API, and reads metric names out of PromQL expressions.
//
// It imports the standard library and actors/eventually; only tests import it.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

var (
	installOnce sync.Once
	installErr  error
	installSkip string
)

// Tools returns the paths of promtool and prometheus. When either is missing it installs Debian's prometheus
// package (apt-get update, apt-get install -y prometheus; once more if that fails), once per test binary. It
// skips the test only when apt-get itself is not there, and fails it when the installation fails.
func Tools(t testing.TB) (promtool, prometheus string) {
	t.Helper()
	installOnce.Do(func() { installSkip, installErr = install() })
	if installSkip != "" {
		t.Skip(installSkip)
	}
	if installErr != nil {
		t.Fatal(installErr)
	}
	promtool, _ = exec.LookPath("promtool")
	prometheus, _ = exec.LookPath("prometheus")
	return promtool, prometheus
}

func install() (skip string, err error) {
	if have("promtool") && have("prometheus") {
		return "", nil
	}
	if !have("apt-get") {
		return "promtool and prometheus are not installed and apt-get is not available to install Debian's " +
			"prometheus package", nil
	}
	var out []byte
	for attempt := 1; attempt <= 2; attempt++ {
		// Another apt run (a parallel test, the system) may hold the lock: wait for it rather than fail.
		if out, err = apt("update"); err == nil {
			if out, err = apt("install", "-y", "--no-install-recommends", "prometheus"); err == nil {
				break
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("install Debian's prometheus package: %w\n%s", err, out)
	}
	if !have("promtool") || !have("prometheus") {
		return "", errors.New("the prometheus package is installed but promtool or prometheus is not on PATH")
	}
	return "", nil
}

func have(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

func apt(args ...string) ([]byte, error) {
	cmd := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=300", "-q"}, args...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.CombinedOutput()
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Process is a child process of a test. Its output is kept for the test's log.
type Process struct {
	Name   string
	cmd    *exec.Cmd
	out    *buffer
	exited chan struct{}
	err    error
}

// Start runs bin with args. When the test ends it sends SIGTERM, waits up to 30 s for the process to exit (then
// kills it), and logs its output if the test failed.
func Start(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: name, cmd: exec.Command(bin, args...), out: &buffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output())
		}
	})
	return p
}

// Stop sends SIGTERM and waits for the process to exit; after timeout it kills it and reports that. It returns
// the exit error of a process that did not exit cleanly on SIGTERM.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return nil // already gone; Exited reports how
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("no exit %v after SIGTERM: killed", timeout)
	}
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.exited:
		return true, p.err
	default:
		return false, nil
	}
}

// Output is what the process wrote so far to stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Server is a Prometheus server run by a test.
type Server struct {
	URL  string
	Proc *Process
}

// StartServer runs prometheus with config (YAML text, written to a temp dir along with its own TSDB) on a free
// loopback port and waits until it answers /-/ready.
func StartServer(t testing.TB, prometheus, config string) *Server {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	p := Start(t, "prometheus", prometheus,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	s := &Server{URL: "http://" + addr, Proc: p}
	eventually.NoError(t, 30*time.Second, 100*time.Millisecond, func() error {
		if done, err := p.Exited(); done {
			t.Fatalf("prometheus exited during start: %v\n%s", err, p.Output())
		}
		if code, _, err := Get(s.URL + "/-/ready"); code != http.StatusOK {
			return fmt.Errorf("/-/ready %d %v\n%s", code, err, p.Output())
		}
		return nil
	}, "prometheus ready")
	return s
}

// Sample is one series of an instant vector.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// QueryError is Prometheus' answer to a query it refused (bad_data for a syntax error, execution, …).
type QueryError struct {
	Type, Message string
}

func (e *QueryError) Error() string { return e.Type + ": " + e.Message }

// Query evaluates expr now through /api/v1/query. A scalar result comes back as one sample without labels.
func (s *Server) Query(expr string) ([]Sample, error) {
	var resp struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := s.getJSON("/api/v1/query?query="+url.QueryEscape(expr), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, &QueryError{Type: resp.ErrorType, Message: resp.Error}
	}
	switch resp.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(resp.Data.Result, &vec); err != nil {
			return nil, err
		}
		out := make([]Sample, 0, len(vec))
		for _, v := range vec {
			f, err := sampleValue(v.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, Sample{Metric: v.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(resp.Data.Result, &v); err != nil {
			return nil, err
		}
		f, err := sampleValue(v)
		return []Sample{{Metric: map[string]string{}, Value: f}}, err
	default:
		return nil, fmt.Errorf("query %q: result type %q", expr, resp.Data.ResultType)
	}
}

func sampleValue(v [2]any) (float64, error) {
	s, ok := v[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v[1])
	}
	return strconv.ParseFloat(s, 64)
}

// Rule is one rule as /api/v1/rules reports it.
type Rule struct {
	Group          string
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// Rules lists the loaded rules with their health.
func (s *Server) Rules() ([]Rule, error) {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []Rule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := s.getJSON("/api/v1/rules", &resp); err != nil {
		return nil, err
	}
	var out []Rule
	for _, g := range resp.Data.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			out = append(out, r)
		}
	}
	return out, nil
}

// Target is one scrape target as /api/v1/targets reports it.
type Target struct {
	ScrapePool string            `json:"scrapePool"`
	ScrapeURL  string            `json:"scrapeUrl"`
	Health     string            `json:"health"`
	LastError  string            `json:"lastError"`
	Labels     map[string]string `json:"labels"`
}

// Targets lists the active scrape targets.
func (s *Server) Targets() ([]Target, error) {
	var resp struct {
		Data struct {
			ActiveTargets []Target `json:"activeTargets"`
		} `json:"data"`
	}
	err := s.getJSON("/api/v1/targets", &resp)
	return resp.Data.ActiveTargets, err
}

func (s *Server) getJSON(path string, v any) error {
	code, body, err := Get(s.URL + path)
	if err != nil {
		return err
	}
	// The query API answers 400/422 with a JSON error body, which the caller reports.
	if code != http.StatusOK && code != http.StatusBadRequest && code != http.StatusUnprocessableEntity {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// Get fetches u with a 5 s timeout and returns the status code and body.
func Get(u string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

var (
	stringLit  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	variable   = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	matchers   = regexp.MustCompile(`\{[^}]*\}`)
	ranges     = regexp.MustCompile(`\[[^\]]*\]`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	token      = regexp.MustCompile(`[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelValue = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	keywords   = map[string]bool{
		"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true,
	}
)

// MetricNames returns the metric names a PromQL expression selects, sorted and without repeats. It is a lexical
// reading, not a parser: it drops string literals, Grafana variables ($job, ${x}, $__rate_interval), label
// matchers, ranges and grouping clauses, then takes every identifier that is not a keyword and not followed by
// "(" (a function or an aggregation). Grafana's label_values(selector, label) is read as its selector.
func MetricNames(expr string) []string {
	if m := labelValue.FindStringSubmatch(expr); m != nil {
		expr = m[1]
	}
	expr = stringLit.ReplaceAllString(expr, `""`)
	expr = variable.ReplaceAllString(expr, "")
	expr = matchers.ReplaceAllString(expr, " ")
	expr = ranges.ReplaceAllString(expr, " ")
	expr = grouping.ReplaceAllString(expr, " ")
	seen := map[string]bool{}
	for _, loc := range token.FindAllStringIndex(expr, -1) {
		tok := expr[loc[0]:loc[1]]
		if tok[0] >= '0' && tok[0] <= '9' || keywords[strings.ToLower(tok)] {
			continue
		}
		if rest := strings.TrimLeft(expr[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue
		}
		seen[tok] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
