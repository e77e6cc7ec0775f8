package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/deploy/promtest"
)

// A running node scraped by a real Prometheus through the shipped scrape config and rules.

// liveNode runs `switchboard serve` with no config file on loopback ports and waits until /readyz is 200.
func liveNode(t *testing.T) (httpAddr string) {
	t.Helper()
	httpAddr = promtest.FreeAddr(t)
	p := promtest.Start(t, "switchboard", binary, "serve",
		"--data-dir", t.TempDir(),
		"--http-addr", httpAddr,
		"--embedded-kafka-addr", promtest.FreeAddr(t),
		"--whatsapp-api-url", "http://127.0.0.1:1",
	)
	eventually.NoError(t, 60*time.Second, 100*time.Millisecond, func() error {
		if done, err := p.Exited(); done {
			t.Fatalf("switchboard exited during start: %v\n%s", err, p.Output())
		}
		if code, _, err := promtest.Get("http://" + httpAddr + "/readyz"); code != http.StatusOK {
			return fmt.Errorf("/readyz %d %v\n%s", code, err, p.Output())
		}
		return nil
	}, "switchboard ready")
	return httpAddr
}

// knownLint are `promtool check metrics` findings accepted on purpose, by metric name and message.
var knownLint = map[string]string{}

func TestLiveNode(t *testing.T) {
	promtool, prometheus := promtest.Tools(t)
	addr := liveNode(t)
	base := "http://" + addr

	t.Run("paths", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			code, body, err := promtest.Get(base + path)
			if err != nil || code != http.StatusOK {
				t.Errorf("GET %s: %d %v %s", path, code, err, body)
			}
		}
	})

	_, scrape, err := promtest.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(scrape)
		out, err := cmd.CombinedOutput()
		var problems []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if reason, ok := knownLint[line]; ok {
				t.Logf("accepted lint: %s (%s)", line, reason)
				continue
			}
			problems = append(problems, line)
		}
		if len(problems) > 0 {
			t.Errorf("promtool check metrics on a live scrape (%v):\n%s", err, strings.Join(problems, "\n"))
		} else {
			t.Logf("promtool check metrics: no problems in %d bytes of exposition", len(scrape))
		}
	})

	t.Run("collector metrics", func(t *testing.T) {
		exposed := map[string]bool{}
		for _, line := range strings.Split(string(scrape), "\n") {
			if name, _, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
				name, _, _ = strings.Cut(name, "{")
				exposed[name] = true
			}
		}
		var exprs []string
		for _, r := range alertRules(t) {
			exprs = append(exprs, r.Expr)
		}
		for _, e := range loadDashboard(t).exprs() {
			exprs = append(exprs, e)
		}
		for _, e := range exprs {
			for _, n := range promtest.MetricNames(e) {
				if collectorMetric(n) && !exposed[n] {
					t.Errorf("%s is not exposed by a node; used by %q", n, e)
				}
			}
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		srv := promtest.StartServer(t, prometheus, scrapeConfig(t, addr))

		// The shipped scrape config reaches the node.
		eventually.NoError(t, 30*time.Second, 200*time.Millisecond, func() error {
			s, err := srv.Query(`up{job="switchboard"}`)
			if err != nil {
				return err
			}
			if len(s) != 1 || s[0].Value != 1 {
				targets, _ := srv.Targets()
				return fmt.Errorf("up = %v; targets %+v", s, targets)
			}
			return nil
		}, "Prometheus scrapes the node")
		// A Switchboard metric and a collector metric come back through the query API.
		var lag []promtest.Sample
		eventually.NoError(t, 30*time.Second, 200*time.Millisecond, func() error {
			if lag, err = srv.Query(`switchboard_consumer_lag{job="switchboard"}`); err == nil && len(lag) == 0 {
				err = errors.New("no series")
			}
			return err
		}, "switchboard_consumer_lag through Prometheus")
		if lag[0].Metric["partition"] == "" || lag[0].Metric["instance"] != addr {
			t.Errorf("switchboard_consumer_lag came back as %v, want a partition label and instance %s", lag[0].Metric, addr)
		}
		t.Logf("switchboard_consumer_lag through Prometheus: %d partitions, e.g. %v = %v", len(lag), lag[0].Metric, lag[0].Value)
		g, err := srv.Query(`go_goroutines{job="switchboard"}`)
		if err != nil || len(g) != 1 || g[0].Value <= 0 {
			t.Errorf("go_goroutines through Prometheus: %v %v", g, err)
		}

		// The shipped rules load and evaluate without errors against real series.
		want := len(alertRules(t))
		eventually.NoError(t, 30*time.Second, 200*time.Millisecond, func() error {
			rules, err := srv.Rules()
			if err != nil {
				return err
			}
			n := 0
			for _, r := range rules {
				if !r.LastEvaluation.IsZero() && r.LastEvaluation.Year() > 1 {
					n++
				}
			}
			if len(rules) != want || n != want {
				return fmt.Errorf("%d of %d rules loaded, %d evaluated", len(rules), want, n)
			}
			return nil
		}, "every alert rule evaluated")
		rules, _ := srv.Rules()
		for _, r := range rules {
			if r.Health != "ok" {
				t.Errorf("rule %s: health %s: %s", r.Name, r.Health, r.LastError)
			}
		}

		// Every dashboard query is valid PromQL for this Prometheus, and the variables find the node.
		d := loadDashboard(t)
		for where, e := range d.exprs() {
			q := strings.NewReplacer("$__rate_interval", "1m", "${datasource}", "", "$job", "switchboard",
				"$instance", ".*").Replace(e)
			if strings.HasPrefix(where, "variable ") {
				names := promtest.MetricNames(e)
				if len(names) != 1 {
					t.Errorf("%s: %q names %d metrics, want one", where, e, len(names))
					continue
				}
				q = names[0] + selectorOf(q)
				s, err := srv.Query(q)
				if err != nil || len(s) == 0 || s[0].Metric["job"] != "switchboard" {
					t.Errorf("%s: %s finds no series of job switchboard: %v %v", where, q, s, err)
				}
				continue
			}
			if _, err := srv.Query(q); err != nil {
				t.Errorf("router.json %s: %v\n%s", where, err, q)
			}
		}
	})
}

// selectorOf returns the label matchers of a label_values(metric{…}, label) query, or "".
func selectorOf(q string) string {
	if i, j := strings.Index(q, "{"), strings.LastIndex(q, "}"); i >= 0 && j > i {
		return q[i : j+1]
	}
	return ""
}

// scrapeConfig is deploy/prometheus/prometheus.yml pointed at one node: the switchboard job with its target
// replaced, a 1 s scrape and evaluation interval, and the shipped alerts.yml by absolute path.
func scrapeConfig(t *testing.T, target string) string {
	t.Helper()
	var c map[string]any
	if err := yaml.Unmarshal(read(t, "prometheus/prometheus.yml"), &c); err != nil {
		t.Fatal(err)
	}
	c["global"] = map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
	c["rule_files"] = []string{filepath.Join(deployDir, "prometheus", "alerts.yml")}
	var jobs []any
	for _, j := range c["scrape_configs"].([]any) {
		job := j.(map[string]any)
		if job["job_name"] != "switchboard" {
			continue
		}
		job["static_configs"] = []any{map[string]any{"targets": []string{target}}}
		jobs = append(jobs, job)
	}
	if len(jobs) != 1 {
		t.Fatal(`prometheus.yml: want one job "switchboard"`)
	}
	c["scrape_configs"] = jobs
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
