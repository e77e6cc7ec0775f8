package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/deploy/promtest"
)

// Every metric name the deployment files use is documented in the README's Metrics table.

// external are metrics that come from elsewhere than Switchboard's registry.
var external = map[string]string{
	"up":                          "Prometheus' scrape health",
	"node_filesystem_avail_bytes": "node_exporter",
	"node_filesystem_size_bytes":  "node_exporter",
}

// notInREADME are metrics the deployment files use that the README's Metrics table does not list (yet). They are
// reported on every run. The test fails when the README documents one of them or no file uses it any more, so
// the list only shrinks: delete the entry then.
var notInREADME = map[string]string{}

// notOnDashboard are documented metrics the router dashboard leaves out on purpose.
var notOnDashboard = map[string]string{
	"switchboard_consumer_committed_offset": "an offset, not a rate; consumer lag shows the same thing",
}

// readmeRow is a row of the README's Metrics table; its first cell names one or more metrics in backquotes.
var (
	readmeRow  = regexp.MustCompile("(?m)^\\| (`switchboard_[^|]*)\\|")
	readmeName = regexp.MustCompile("`(switchboard_[a-z0-9_]+)`")
)

func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]bool{}
	for _, row := range readmeRow.FindAllSubmatch(b, -1) {
		for _, m := range readmeName.FindAllSubmatch(row[1], -1) {
			docs[string(m[1])] = true
		}
	}
	if len(docs) < 10 {
		t.Fatalf("README.md's Metrics table lists only %d switchboard_ metrics", len(docs))
	}
	return docs
}

// baseName is the documented name of a series name: a histogram's _bucket, _sum and _count series are documented
// under the histogram's name.
func baseName(name string, docs map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suffix); ok && (docs[b] || notInREADME[b] != "") {
			return b
		}
	}
	return name
}

// TestMetricsDocumented checks every metric name in the alert rules and the dashboard against the README's
// Metrics table. The Go and process collectors' names are checked against a live scrape in TestLiveNode.
func TestMetricsDocumented(t *testing.T) {
	docs := documentedMetrics(t)
	used := map[string][]string{} // documented name → where
	for _, r := range alertRules(t) {
		for _, n := range promtest.MetricNames(r.Expr) {
			used[baseName(n, docs)] = append(used[baseName(n, docs)], "alert "+r.Alert)
		}
	}
	for where, e := range loadDashboard(t).exprs() {
		for _, n := range promtest.MetricNames(e) {
			used[baseName(n, docs)] = append(used[baseName(n, docs)], "router.json "+where)
		}
	}
	for name, where := range used {
		switch {
		case docs[name], external[name] != "", collectorMetric(name):
		case notInREADME[name] != "":
			t.Logf("not in the README's Metrics table yet: %s (%s), used by %s", name, notInREADME[name], where[0])
		default:
			t.Errorf("%s is not in the README's Metrics table; used by %s", name, strings.Join(where, "; "))
		}
	}
	for name := range notInREADME {
		if docs[name] {
			t.Errorf("the README documents %s now: delete it from notInREADME", name)
		}
		if used[name] == nil {
			t.Errorf("no deployment file uses %s: delete it from notInREADME", name)
		}
	}
}

func collectorMetric(name string) bool {
	return strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_")
}
