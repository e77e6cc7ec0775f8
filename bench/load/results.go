package load

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/switchboard-hq/switchboard/bench/report"
)

// A step is sustained when the node kept up with it: every webhook acknowledged without error, assignments keeping
// pace with new conversations, and neither latency running away.
const (
	sustainedAckShare      = 0.97
	sustainedAssignedShare = 0.95
	sustainedP99           = 1000.0 // ms
)

func latency(h *hdrhistogram.Histogram) report.Latency {
	return report.LatencyFromHistogram(h, time.Microsecond)
}

// Steps returns each step's figures; Stage.Ceiling and Stage.Share are left for the caller, who knows the ceilings.
func (g *Generator) Steps() []report.Step {
	samples := g.node.samples()
	var out []report.Step
	for i, s := range g.cfg.Steps {
		from, to := g.stepAt[i], g.stepAt[i+1]
		// A long run's buckets are wider than a second: a step covers whole buckets, and its rates use their span.
		w := g.ack.width
		from, to = from/w*w, (to+w-1)/w*w
		secs := float64(to - from)
		_, offered, _ := g.offered.window(from, to)
		_, offeredNew, _ := g.offeredNew.window(from, to)
		st := report.Step{Name: s.Name(), OfferedRate: s.Rate, Seconds: secs}
		var ack, assigned report.Stage
		for _, sg := range []*stage{g.ack, g.assigned, g.api, g.reply} {
			h, done, errs := sg.window(from, to)
			fig := report.Stage{Name: sg.name, Throughput: float64(done) / secs, Errors: errs, Latency: latency(h)}
			st.Stages = append(st.Stages, fig)
			switch sg {
			case g.ack:
				ack = fig
			case g.assigned:
				assigned = fig
			}
		}
		st.Sustained = ack.Errors == 0 && ack.Throughput*secs >= sustainedAckShare*float64(offered) &&
			assigned.Throughput*secs >= sustainedAssignedShare*float64(offeredNew) &&
			ack.Latency.P99 <= sustainedP99 && assigned.Latency.P99 <= sustainedP99
		st.NodeCPUCores, st.ConsumerLagMax, st.LoadCPUCores = cpuAndLag(samples, float64(from), float64(to))
		st.Stages = append(st.Stages, report.Stage{Name: StageRouterApply, Throughput: appliedRate(samples, float64(from), float64(to))})
		out = append(out, st)
	}
	return out
}

// cpuAndLag is the node's mean CPU use, its highest consumer lag and this process's mean CPU use between from and
// to (seconds since the start).
func cpuAndLag(samples []NodeSample, from, to float64) (cores, lag, self float64) {
	var first, last *NodeSample
	for i := range samples {
		s := &samples[i]
		if s.T < from || s.T > to+1 {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
		lag = max(lag, s.Lag)
	}
	if first != nil && last.T > first.T {
		cores = (last.CPUSeconds - first.CPUSeconds) / (last.T - first.T)
		self = (last.SelfCPUSeconds - first.SelfCPUSeconds) / (last.T - first.T)
	}
	return cores, lag, self
}

// appliedRate is the records the router applied per second between from and to, by the node's own count.
func appliedRate(samples []NodeSample, from, to float64) float64 {
	var first, last *NodeSample
	for i := range samples {
		if s := &samples[i]; s.T >= from && s.T <= to+1 {
			if first == nil {
				first = s
			}
			last = s
		}
	}
	if first == nil || last.T <= first.T {
		return 0
	}
	return (last.Applied - first.Applied) / (last.T - first.T)
}

// Resources is the node's CPU and memory over the whole run.
func (g *Generator) Resources() report.Resources {
	return Resources(g.node.samples())
}

// Resources summarises samples of a node's /metrics.
func Resources(samples []NodeSample) report.Resources {
	var r report.Resources
	for i, s := range samples {
		r.RSSMaxBytes = max(r.RSSMaxBytes, int64(s.RSS))
		if i > 0 && s.T > samples[i-1].T {
			r.CPUCoresMax = max(r.CPUCoresMax, (s.CPUSeconds-samples[i-1].CPUSeconds)/(s.T-samples[i-1].T))
		}
	}
	if n := len(samples); n > 0 {
		last := samples[n-1]
		r.RSSEndBytes, r.HeapEndBytes = int64(last.RSS), int64(last.Heap)
		if n > 1 && last.T > samples[0].T {
			r.CPUCoresAvg = (last.CPUSeconds - samples[0].CPUSeconds) / (last.T - samples[0].T)
		}
	}
	return r
}

// Series returns the run's time series: latency percentiles by intended second, throughput by completion second,
// and the node's CPU, memory and consumer lag.
func (g *Generator) Series() []report.Series {
	var out []report.Series
	for _, sg := range []*stage{g.ack, g.assigned, g.reply} {
		p50 := report.Series{Plot: "latency_" + sg.name, Name: "p50", Unit: "ms"}
		p99 := report.Series{Plot: "latency_" + sg.name, Name: "p99", Unit: "ms"}
		for i := 0; i < sg.seconds(); i += sg.width {
			h, _, _ := sg.window(i, i+sg.width)
			if h.TotalCount() == 0 {
				continue
			}
			l := latency(h)
			p50.Points = append(p50.Points, report.Point{T: float64(i), V: l.P50})
			p99.Points = append(p99.Points, report.Point{T: float64(i), V: l.P99})
		}
		out = append(out, p50, p99)
	}
	for _, sg := range []struct {
		s    *stage
		name string
	}{{g.offered, "offered"}, {g.ack, "acknowledged"}, {g.assigned, "assigned (new conversations)"}, {g.reply, "replies delivered"}} {
		tp := report.Series{Plot: "throughput", Name: sg.name, Unit: "per second"}
		for i := 0; i < sg.s.seconds(); i += sg.s.width {
			_, done, _ := sg.s.window(i, i+sg.s.width)
			tp.Points = append(tp.Points, report.Point{T: float64(i), V: float64(done) / float64(sg.s.width)})
		}
		out = append(out, tp)
	}
	return append(out, NodeSeries(g.node.samples())...)
}

// NodeSeries plots samples of a node's /metrics: CPU, memory and consumer lag over time.
func NodeSeries(samples []NodeSample) []report.Series {
	cpu := report.Series{Plot: "node_cpu", Name: "cores", Unit: "cores"}
	rss := report.Series{Plot: "node_memory", Name: "RSS", Unit: "MiB"}
	heap := report.Series{Plot: "node_memory", Name: "Go heap", Unit: "MiB"}
	lag := report.Series{Plot: "consumer_lag", Name: "records", Unit: "records"}
	every := max(1, len(samples)/maxBuckets) // a long run plots at most about maxBuckets points a line
	for i := 0; i < len(samples); i += every {
		s := samples[i]
		if p := i - every; p >= 0 && s.T > samples[p].T {
			cpu.Points = append(cpu.Points, report.Point{T: s.T, V: (s.CPUSeconds - samples[p].CPUSeconds) / (s.T - samples[p].T)})
		}
		rss.Points = append(rss.Points, report.Point{T: s.T, V: s.RSS / (1 << 20)})
		heap.Points = append(heap.Points, report.Point{T: s.T, V: s.Heap / (1 << 20)})
		lag.Points = append(lag.Points, report.Point{T: s.T, V: s.Lag})
	}
	return []report.Series{cpu, rss, heap, lag}
}

// Samples returns the node's /metrics readings of the run.
func (g *Generator) Samples() []NodeSample { return g.node.samples() }

// StepStart is the second since the start at which step i began (i = len(Steps) gives the end of the last).
func (g *Generator) StepStart(i int) int { return g.stepAt[i] }

// Config is the generator's configuration, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Start is when Run started.
func (g *Generator) Start() time.Time { return g.start }
