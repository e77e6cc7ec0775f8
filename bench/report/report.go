// Package report holds the results of one benchmark run (bench/scenario) and writes them as JSON, a Markdown table
// and PNG plots. Every throughput is per second and every latency is in milliseconds, so that a report reads the
// same whatever the scenario.
//
// It may import HdrHistogram and gonum/plot; only the bench binary imports it, so the production binary does not link
// plotting.
package report

import "time"

// Report is one benchmark run.
type Report struct {
	// Scenario is the scenario's name: smoke, standard, memory, recovery or soak.
	Scenario string `json:"scenario"`
	// StartedAt is when the run began; Seconds how long it took, ceilings included.
	StartedAt time.Time `json:"started_at"`
	Seconds   float64   `json:"seconds"`
	// Machine is what the run ran on.
	Machine Machine `json:"machine"`
	// Config is the scenario's parameters (rates, tenants, contacts, operators, think and handling times).
	Config map[string]any `json:"config"`
	// Steps are the load steps of the run, in order (one for a constant rate, several for a ramp).
	Steps []Step `json:"steps,omitempty"`
	// Ceilings are the raw speeds of the parts, measured in the same run.
	Ceilings []Ceiling `json:"ceilings,omitempty"`
	// Node is the node's resource use over the run.
	Node Resources `json:"node"`
	// Figures are scenario-specific single figures (memory per conversation, time to first assignment, ...).
	Figures []Figure `json:"figures,omitempty"`
	// Aims are the project's targets with what the run measured against them.
	Aims []Aim `json:"aims,omitempty"`
	// Series are time series for the plots.
	Series []Series `json:"series,omitempty"`
	// Notes are free-form remarks (what limits a figure, what was skipped and why).
	Notes []string `json:"notes,omitempty"`
}

// Machine describes where a run ran.
type Machine struct {
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	// Commit is the project's git commit, "" when unknown.
	Commit string `json:"commit,omitempty"`
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Step is one load step: an offered rate held for a while, and what each stage achieved during it.
type Step struct {
	// Name says what the step offered, e.g. "2000/s constant" or "2000/s bursty".
	Name string `json:"name"`
	// OfferedRate is the intended inbound messages per second; Seconds the step's length.
	OfferedRate float64 `json:"offered_rate"`
	Seconds     float64 `json:"seconds"`
	// Stages are the figures of each stage in the step.
	Stages []Stage `json:"stages"`
	// Sustained is true when the node kept up: every webhook acknowledged, no errors, assignments keeping pace.
	Sustained bool `json:"sustained"`
	// NodeCPUCores is the node's mean CPU use over the step (1.0 = one core busy); ConsumerLagMax the most
	// records the router had not yet consumed at any scrape during it.
	NodeCPUCores   float64 `json:"node_cpu_cores"`
	ConsumerLagMax float64 `json:"consumer_lag_max"`
	// LoadCPUCores is the bench process's own mean CPU use over the step: the load generator and the WhatsApp
	// simulator, which run in it and share the machine with the node. 0 when not measured.
	LoadCPUCores float64 `json:"load_cpu_cores,omitempty"`
}

// Stage is the figure of one stage of the pipeline in one step.
type Stage struct {
	// Name is one of webhook_ack, webhook_to_assigned, reply_to_simulator, operator_api.
	Name string `json:"name"`
	// Throughput is completions per second over the step; Errors counts failures (non-2xx answers, timeouts).
	Throughput float64 `json:"throughput"`
	Errors     int64   `json:"errors"`
	// Latency is measured from the intended send time of the input (open loop).
	Latency Latency `json:"latency"`
	// Ceiling names the Ceiling this stage is compared with; Share is Throughput / that ceiling's Throughput.
	Ceiling string  `json:"ceiling,omitempty"`
	Share   float64 `json:"share,omitempty"`
}

// Ceiling is the raw speed of one part, measured in the same run as the stages.
type Ceiling struct {
	// Name is one of http_json, kafka_produce, kafka_consume, hollywood, pebble_sync.
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Throughput  float64 `json:"throughput"`
	// Latency is per operation where the ceiling measures it (zero otherwise).
	Latency Latency `json:"latency"`
	// UsedBy names the stage and step compared with this ceiling (the highest step the node sustained), and Share
	// is the fraction of the ceiling that stage used there; empty and zero when nothing was compared.
	UsedBy string  `json:"used_by,omitempty"`
	Share  float64 `json:"share,omitempty"`
}

// Resources is the node's CPU and memory over a run, read from its /proc entry or its /metrics.
type Resources struct {
	// CPUCoresAvg and CPUCoresMax are CPU seconds per second (1.0 = one core busy).
	CPUCoresAvg float64 `json:"cpu_cores_avg"`
	CPUCoresMax float64 `json:"cpu_cores_max"`
	// RSSMaxBytes and RSSEndBytes are the resident set, at its highest and at the end.
	RSSMaxBytes int64 `json:"rss_max_bytes"`
	RSSEndBytes int64 `json:"rss_end_bytes"`
	// HeapEndBytes is the Go heap in use at the end (go_memstats_heap_alloc_bytes).
	HeapEndBytes int64 `json:"heap_end_bytes"`
}

// Figure is one named measurement.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Note says how it was measured.
	Note string `json:"note,omitempty"`
}

// Aim is one of the project's targets and what the run measured against it.
type Aim struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	// Limit says which stage or part limits the figure when the aim is not met.
	Limit string `json:"limit,omitempty"`
}

// Series is one line of a plot: Points over the run's time.
type Series struct {
	// Plot groups series drawn together, and names the PNG file (e.g. "latency_webhook_ack" →
	// latency_webhook_ack.png); Name is the line's legend (e.g. "p99").
	Plot string `json:"plot"`
	Name string `json:"name"`
	// Unit labels the y axis (e.g. "ms", "msg/s", "cores", "MiB").
	Unit   string  `json:"unit"`
	Points []Point `json:"points"`
}

// Point is a value at T seconds since the run started.
type Point struct {
	T float64 `json:"t"`
	V float64 `json:"v"`
}
