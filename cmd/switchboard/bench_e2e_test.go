package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/bench/report"
)

// TestBenchSmoke runs `switchboard bench --scenario smoke`: a node started from the binary, the simulator, the
// ceilings and a few seconds of open-loop load. Its bounds are loose on purpose — they prove every stage was
// measured and the report written, not how fast this machine is (that is `make bench`).
func TestBenchSmoke(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(binary, "bench", "--scenario", "smoke", "--out", out)
	logs, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench smoke: %v\n%s", err, logs)
	}
	r := checkSmokeReport(t, out)
	if len(r.Ceilings) != 5 {
		t.Errorf("%d ceilings, want 5", len(r.Ceilings))
	}
}

// TestBenchExternalNode drives a node the test started itself (with the config `bench --print-config` gives and
// the simulator's address as its WhatsApp API), as a user drives their own node.
func TestBenchExternalNode(t *testing.T) {
	cfg, err := exec.Command(binary, "bench", "--scenario", "smoke", "--print-config").Output()
	if err != nil {
		t.Fatalf("print-config: %v", err)
	}
	simAddr := freeAddr(t)
	n := newNodeConfig(t, string(cfg), "--whatsapp-api-url", "http://"+simAddr)
	n.start()
	out := t.TempDir()
	logs, err := exec.Command(binary, "bench", "--scenario", "smoke", "--out", out, "--node-url", n.url(""),
		"--kafka-brokers", n.kafka, "--sim-addr", simAddr).CombinedOutput()
	if err != nil {
		t.Fatalf("bench smoke against %s: %v\n%s", n.url(""), err, logs)
	}
	checkSmokeReport(t, out)

	// The scenarios that kill or seed their node refuse an external one, and so does a run without the addresses.
	for _, args := range [][]string{
		{"--scenario", "recovery", "--node-url", n.url(""), "--kafka-brokers", n.kafka},
		{"--scenario", "smoke", "--node-url", n.url("")},
	} {
		b, err := exec.Command(binary, append([]string{"bench", "--out", out}, args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(b), "external node") {
			t.Errorf("bench %v: err %v, output %s; want an external-node error", args, err, b)
		}
	}
}

// checkSmokeReport reads the smoke report under out and checks, loosely, that every stage was measured.
func checkSmokeReport(t *testing.T, out string) *report.Report {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "smoke", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Steps) != 2 {
		t.Fatalf("%d steps, want 2 (constant and bursty)", len(r.Steps))
	}
	for _, st := range r.Steps {
		stages := map[string]report.Stage{}
		for _, s := range st.Stages {
			stages[s.Name] = s
		}
		ack := stages["webhook_ack"]
		if ack.Errors > 0 || float64(ack.Latency.Count) < 0.9*st.OfferedRate*st.Seconds {
			t.Errorf("%s: webhook_ack %+v; want about %.0f acknowledged without error", st.Name, ack, st.OfferedRate*st.Seconds)
		}
		for _, name := range []string{"webhook_to_assigned", "operator_api", "reply_to_simulator"} {
			s := stages[name]
			if s.Latency.Count == 0 || s.Throughput <= 0 || !(s.Latency.P50 <= s.Latency.P99 && s.Latency.P99 <= s.Latency.Max) {
				t.Errorf("%s: stage %s not measured or inconsistent: %+v", st.Name, name, s)
			}
		}
		if stages["router_apply"].Throughput <= 0 {
			t.Errorf("%s: router_apply not measured", st.Name)
		}
		if st.NodeCPUCores <= 0 {
			t.Errorf("%s: node CPU not measured", st.Name)
		}
	}
	want := map[string]bool{"http_json": true, "kafka_produce": true, "kafka_consume": true, "hollywood": true, "pebble_sync": true}
	for _, c := range r.Ceilings {
		if c.Throughput <= 0 {
			t.Errorf("ceiling %s: throughput %v", c.Name, c.Throughput)
		}
		delete(want, c.Name)
	}
	if len(want) > 0 {
		t.Errorf("ceilings missing: %v", want)
	}
	if r.Node.RSSMaxBytes <= 0 || r.Node.HeapEndBytes <= 0 {
		t.Errorf("node resources not measured: %+v", r.Node)
	}
	if len(r.Aims) == 0 {
		t.Error("no aims reported")
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(out, "smoke", "report.md"))
			t.Logf("report:\n%s", b)
		}
	}()
	for _, name := range []string{"report.md", "throughput.png", "latency_webhook_ack.png", "latency_webhook_to_assigned.png",
		"latency_reply_to_simulator.png", "node_cpu.png", "node_memory.png"} {
		if st, err := os.Stat(filepath.Join(out, "smoke", name)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	return r
}
