package report

import (
	"bytes"
	"errors"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

var update = flag.Bool("update", false, "rewrite testdata/report.md from the full report")

// fullReport fills every section. Config holds only what JSON gives back unchanged (float64, string, bool), so that
// the round trip can be compared whole.
func fullReport() *Report {
	lat := func(p50, p90, p99, max float64) Latency {
		return Latency{Count: 120000, Mean: p50 * 1.1, P50: p50, P90: p90, P99: p99, P999: max * 0.9, Max: max}
	}
	ramp := func(v0, dv float64) []Point {
		pts := make([]Point, 60)
		for i := range pts {
			pts[i] = Point{T: float64(i), V: v0 + dv*float64(i)}
		}
		return pts
	}
	return &Report{
		Scenario:  "standard",
		StartedAt: time.Date(2026, 3, 14, 15, 9, 26, 535000000, time.FixedZone("CET", 3600)),
		Seconds:   312.4,
		Machine:   Machine{GoVersion: "go1.26.0", OS: "linux", Arch: "amd64", CPUs: 8, Commit: "0123456789ab"},
		Config: map[string]any{
			"rate": 2000.0, "tenants": 10.0, "think": "2s", "bursty": false, "contacts": 100000.0,
		},
		Steps: []Step{
			{
				Name: "1000/s constant", OfferedRate: 1000, Seconds: 60, Sustained: true,
				Stages: []Stage{
					{Name: "webhook_ack", Throughput: 999.6, Latency: lat(0.534, 0.91, 2.345, 12.6), Ceiling: "http_json", Share: 0.04321},
					{Name: "webhook_to_assigned", Throughput: 998.2, Latency: lat(4.1, 8.8, 17.4, 80.2), Ceiling: "kafka_produce", Share: 0.1},
					// Compared with a ceiling the run did not measure: no share to show.
					{Name: "reply_to_simulator", Throughput: 997, Latency: lat(3.2, 5.5, 9.99, 31), Ceiling: "kafka_consume"},
					// No Share: the report computes it from the ceiling (500 / 2000).
					{Name: "operator_api", Throughput: 500, Latency: lat(0.0042, 0.008, 0.02, 0.3), Ceiling: "hollywood"},
				},
			},
			{
				Name: "4000/s bursty", OfferedRate: 4000, Seconds: 60, Sustained: false,
				Stages: []Stage{
					{Name: "webhook_ack", Throughput: 3871.4, Errors: 1234, Latency: lat(1.9, 40, 250, 1200.5), Ceiling: "http_json", Share: 0.167},
				},
			},
		},
		Ceilings: []Ceiling{
			{Name: "http_json", Description: "fasthttp JSON echo | loopback", Throughput: 23130.2, Latency: lat(0.2, 0.4, 0.9, 3)},
			{Name: "kafka_produce", Description: "acks=all, one partition", Throughput: 9982},
			{Name: "hollywood", Description: "actor round trip", Throughput: 2000},
		},
		Node: Resources{
			CPUCoresAvg: 1.234, CPUCoresMax: 3.9, RSSMaxBytes: 412 << 20, RSSEndBytes: 380<<20 + 1<<19, HeapEndBytes: 95 << 20,
		},
		Figures: []Figure{
			{Name: "memory per conversation", Value: 2345.6, Unit: "B", Note: "heap growth / open conversations"},
			{Name: "time to first assignment", Value: 4.25, Unit: "ms"},
		},
		Aims: []Aim{
			{Name: "webhook ack p99", Target: "< 50 ms", Measured: "2.35 ms", Met: true},
			{Name: "sustained inbound", Target: "≥ 4,000/s", Measured: "1,000/s", Met: false, Limit: "webhook_ack"},
		},
		Series: []Series{
			{Plot: "latency_webhook_ack", Name: "p50", Unit: "ms", Points: ramp(0.5, 0.01)},
			{Plot: "latency_webhook_ack", Name: "p99", Unit: "ms", Points: ramp(2, 0.1)},
			{Plot: "throughput", Name: "offered", Unit: "msg/s", Points: ramp(1000, 50)},
			{Plot: "latency_webhook_ack", Name: "max", Unit: "ms", Points: ramp(10, 1)},
			{Plot: "throughput", Name: "assigned", Unit: "msg/s", Points: ramp(990, 49)},
			{Plot: "empty", Name: "nothing", Unit: "ms"},
		},
		Notes: []string{
			"kafka_consume ceiling skipped: the broker ran in-process.",
			"Latency is measured from the intended send time\n(open loop).",
		},
	}
}

// utc returns a copy of r with StartedAt in UTC, the location a JSON round trip cannot keep.
func utc(r *Report) *Report {
	c := *r
	c.StartedAt = c.StartedAt.UTC()
	return &c
}

func TestWriteAll(t *testing.T) {
	want := fullReport()
	dir := filepath.Join(t.TempDir(), "run")
	if err := want.WriteAll(dir); err != nil {
		t.Fatalf("WriteAll: %v", err)
	}

	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadJSON(f)
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if !reflect.DeepEqual(utc(got), utc(want)) {
		t.Errorf("JSON round trip differs:\n got %+v\nwant %+v", utc(got), utc(want))
	}

	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(md) != want.Markdown() {
		t.Errorf("report.md is not Markdown()")
	}

	for _, name := range []string{"latency_webhook_ack.png", "throughput.png"} {
		checkPNG(t, filepath.Join(dir, name), 800, 400)
	}
	if _, err := os.Stat(filepath.Join(dir, "empty.png")); !os.IsNotExist(err) {
		t.Errorf("empty.png: want no file for a plot without points, got err %v", err)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(pngs) != 2 {
		t.Errorf("PNG files = %v, want 2", pngs)
	}
}

func TestWritePlotsReturnsFiles(t *testing.T) {
	dir := t.TempDir()
	files, err := fullReport().WritePlots(dir)
	if err != nil {
		t.Fatalf("WritePlots: %v", err)
	}
	want := []string{filepath.Join(dir, "latency_webhook_ack.png"), filepath.Join(dir, "throughput.png")}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("WritePlots = %v, want %v", files, want)
	}
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("plot: %v", err)
		return
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Errorf("decode %s: %v", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
}

func TestMarkdown(t *testing.T) {
	md := fullReport().Markdown()
	for _, want := range []string{
		"## Benchmark: standard\n",
		"2026-03-14 14:09 UTC · 5m 12s · 8 CPUs · go1.26.0 · linux/amd64 · commit `0123456789ab`",
		"Config: `bursty=false`, `contacts=100000`, `rate=2000`, `tenants=10`, `think=2s`\n",
		"### Step 1: 1000/s constant\n\nOffered 1,000/s for 60 s: sustained ✅.",
		"### Step 2: 4000/s bursty\n\nOffered 4,000/s for 60 s: not sustained ❌.",
		"| webhook_ack | 1,000 | 0 | 0.53 | 0.91 | 2.35 | 13 | 4.3% of http_json |",
		"| webhook_to_assigned | 998 | 0 | 4.10 | 8.80 | 17 | 80 | 10.0% of kafka_produce |",
		"| reply_to_simulator | 997 | 0 | 3.20 | 5.50 | 9.99 | 31 | – of kafka_consume |",
		"| operator_api | 500 | 0 | 0.0042 | 0.008 | 0.02 | 0.30 | 25.0% of hollywood |",
		"| webhook_ack | 3,871 | 1,234 | 1.90 | 40 | 250 | 1,201 | 16.7% of http_json |",
		`| http_json | fasthttp JSON echo \| loopback | 23,130 | 0.20 | 0.90 |`,
		"| kafka_produce | acks=all, one partition | 9,982 | – | – |",
		"| 1.23 | 3.9 | 412 | 381 | 95 |",
		"| memory per conversation | 2,346 B | heap growth / open conversations |",
		"| time to first assignment | 4.25 ms |  |",
		"| webhook ack p99 | < 50 ms | 2.35 ms | ✅ |  |",
		"| sustained inbound | ≥ 4,000/s | 1,000/s | ❌ | webhook_ack |",
		"- kafka_consume ceiling skipped: the broker ran in-process.\n",
		"- Latency is measured from the intended send time\n  (open loop).\n",
		"![latency webhook ack](latency_webhook_ack.png)",
		"![throughput](throughput.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "empty.png") {
		t.Errorf("Markdown links a plot without points")
	}

	golden := filepath.Join("testdata", "report.md")
	if *update {
		if err := os.WriteFile(golden, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if md != string(want) {
		t.Errorf("Markdown differs from %s (run with -update to accept):\n%s", golden, md)
	}
}

func TestEmptyReport(t *testing.T) {
	var r Report
	md := r.Markdown()
	if md != "## Benchmark\n\n" {
		t.Errorf("empty Markdown = %q, want only the title", md)
	}
	dir := t.TempDir()
	if err := r.WriteAll(dir); err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"report.json", "report.md"}; !reflect.DeepEqual(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadJSON(f)
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if !reflect.DeepEqual(*got, r) {
		t.Errorf("round trip of the empty report = %+v", *got)
	}

	// A plot whose only series has no points writes nothing and does not create the directory.
	r.Series = []Series{{Plot: "p", Name: "s"}}
	missing := filepath.Join(t.TempDir(), "absent")
	files, err := r.WritePlots(missing)
	if err != nil || files != nil {
		t.Errorf("WritePlots without points = %v, %v; want nil, nil", files, err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("WritePlots created %s: %v", missing, err)
	}
}

func TestReadJSONRejectsGarbage(t *testing.T) {
	if _, err := ReadJSON(strings.NewReader(`{"scenario": 3}`)); err == nil {
		t.Error("ReadJSON accepted a number as the scenario")
	}
}

func TestLatencyFromHistogram(t *testing.T) {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for v := int64(1); v <= 1000; v++ {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	got := LatencyFromHistogram(h, time.Microsecond)
	near := func(name string, got, want float64) {
		t.Helper()
		if d := got - want; d < -0.002 || d > 0.002 {
			t.Errorf("%s = %v ms, want %v ms", name, got, want)
		}
	}
	if got.Count != 1000 {
		t.Errorf("Count = %d, want 1000", got.Count)
	}
	near("Mean", got.Mean, 0.5005)
	near("P50", got.P50, 0.5)
	near("P90", got.P90, 0.9)
	near("P99", got.P99, 0.99)
	near("P999", got.P999, 0.999)
	near("Max", got.Max, 1)

	// The unit scales: the same counts read as nanoseconds are a thousand times smaller.
	near("P99 in ns", LatencyFromHistogram(h, time.Nanosecond).P99*1000, 0.99)

	if l := LatencyFromHistogram(nil, time.Microsecond); l != (Latency{}) {
		t.Errorf("nil histogram = %+v, want zero", l)
	}
	if l := LatencyFromHistogram(hdrhistogram.New(1, 1000, 3), time.Microsecond); l != (Latency{}) {
		t.Errorf("empty histogram = %+v, want zero", l)
	}
}

func TestNumbers(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(float64) string
		in   float64
		want string
	}{
		{"integer", integer, 0, "0"},
		{"integer", integer, 999.4, "999"},
		{"integer", integer, 1234567.5, "1,234,568"},
		{"integer", integer, -1234, "-1,234"},
		{"integer", integer, -0.2, "0"},
		{"millis", millis, 0, "0.00"},
		{"millis", millis, 0.534, "0.53"},
		{"millis", millis, 9.994, "9.99"},
		{"millis", millis, 10.4, "10"},
		{"millis", millis, 1234.5, "1,235"},
		{"millis", millis, 0.00123, "0.0012"},
		{"number", number, 4.5, "4.5"},
		{"number", number, 12.04, "12"},
		{"number", number, 123.4, "123"},
		{"number", number, 0.000123, "0.00012"},
		{"percent", percent, 0.4321, "43.2%"},
		{"percent", percent, 1.25, "125.0%"},
		{"duration", duration, 2.5, "2.5 s"},
		{"duration", duration, 60, "60 s"},
		{"duration", duration, 312.4, "5m 12s"},
		{"duration", duration, 3725, "1h 2m 5s"},
	} {
		if got := c.f(c.in); got != c.want {
			t.Errorf("%s(%v) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestPlotFileStaysInDirectory(t *testing.T) {
	for in, want := range map[string]string{
		"latency_webhook_ack": "latency_webhook_ack.png",
		"../../etc/passwd":    "_.._etc_passwd.png",
		"cpu cores":           "cpu_cores.png",
		"":                    "plot.png",
	} {
		if got := plotFile(in); got != want {
			t.Errorf("plotFile(%q) = %q, want %q", in, got, want)
		}
	}
}

// Splice replaces marked blocks and keeps the markers; ReadmeBlocks renders the reports' steps, aims and figures.
func TestSpliceReadmeBlocks(t *testing.T) {
	doc := "intro\n<!-- bench:standard -->\nold table\n<!-- /bench:standard -->\nmiddle\n<!-- bench:aims -->\nx\n<!-- /bench:aims -->\nend\n"
	std := &Report{Steps: []Step{{Name: "500/s constant", Sustained: true, NodeCPUCores: 1.2, Stages: []Stage{
		{Name: "webhook_ack", Throughput: 500, Latency: Latency{Count: 10, P50: 4.2, P99: 25}},
		{Name: "router_apply", Throughput: 1234}}}},
		Aims: []Aim{{Name: "sustained", Target: "≥ 20,000 msg/s", Measured: "1000 msg/s"}}}
	mem := &Report{Aims: []Aim{{Name: "heap", Target: "≤ 1 KB", Measured: "0.4 B", Met: true}},
		Figures: []Figure{{Name: "heap per stored conversation", Value: 0.37, Unit: "bytes"}}}
	blocks := ReadmeBlocks(std, mem, nil)
	delete(blocks, "memrec") // this document has no such block
	out, err := Splice(doc, blocks)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 500/s constant | ✅ | 500 | 4.20 / 25 |", "| 1,234 | 1.20 |", "| sustained (≥ 20,000 msg/s) | 1000 msg/s | ❌ |",
		"| heap (≤ 1 KB) | 0.4 B | ✅ |", "intro\n<!-- bench:standard -->\n", "<!-- /bench:aims -->\nend\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("spliced document lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "old table") {
		t.Error("the old block is still there")
	}
	again, err := Splice(out, blocks)
	if err != nil || again != out {
		t.Errorf("splicing twice changed the document (err %v)", err)
	}
	if _, err := Splice(doc, map[string]string{"memrec": "x"}); !errors.Is(err, ErrNoBlock) {
		t.Errorf("unmarked block: err %v, want ErrNoBlock", err)
	}
}
