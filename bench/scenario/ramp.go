package scenario

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/bench/load"
	"github.com/switchboard-hq/switchboard/bench/report"
)

// stageCeiling is the ceiling each stage's throughput is compared with.
// The stages between (webhook → assigned, operator API, reply → simulator) cross several parts and have no single
// ceiling; the report's ceilings table holds the others (kafka-go consume, hollywood) for comparison.
var stageCeiling = map[string]string{
	load.StageWebhookAck:  "http_json",   // the same HTTP server, HMAC and JSON parse, without Kafka
	load.StageRouterApply: "pebble_sync", // each applied record is a synced Pebble write, group-committed
}

// drive runs a generator over steps against the node and adds its steps, series and resources to the report.
func (e *env) drive(ctx context.Context, tenants []load.Tenant, steps []load.Step, tune func(*load.Config)) (*load.Generator, error) {
	cfg := load.Config{NodeURL: e.node.url(), Brokers: []string{e.node.kafka}, Tenants: tenants, Steps: steps, Seed: 1}
	if tune != nil {
		tune(&cfg)
	}
	g, err := load.New(cfg)
	if err != nil {
		return nil, err
	}
	e.onAccepted.g.Store(g)
	defer e.onAccepted.g.Store(nil)
	cfg = g.Config()
	e.r.Config["contacts"], e.r.Config["messages_per_conversation"] = cfg.Contacts, cfg.MessagesPerConversation
	e.r.Config["think"], e.r.Config["handle"] = cfg.Think.String(), cfg.Handle.String()
	for _, s := range steps {
		e.log.Info("load step", "step", s.Name(), "for", s.Duration)
	}
	pctx, stopProfiles := context.WithCancel(ctx)
	var profiles sync.WaitGroup
	if e.cfg.Profile && e.node.pprof != "" {
		first := len(e.r.Steps) + 1 // the report's number of this drive's first step
		profiles.Go(func() { e.profileSteps(pctx, steps, first) })
	}
	err = g.Run(ctx)
	stopProfiles()
	profiles.Wait()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, st := range g.Steps() {
		for i := range st.Stages {
			sg := &st.Stages[i]
			if name, ok := stageCeiling[sg.Name]; ok {
				if c, ok := e.ceiling(name); ok && c.Throughput > 0 {
					sg.Ceiling, sg.Share = name, sg.Throughput/c.Throughput
				}
			}
		}
		e.r.Steps = append(e.r.Steps, st)
	}
	e.r.Series = append(e.r.Series, g.Series()...)
	e.r.Node = g.Resources()
	if n := g.Unsent(); n > 0 {
		e.r.Notes = append(e.r.Notes, fmt.Sprintf("%d webhooks scheduled up to %s were never sent: they were still "+
			"queued behind a node that had fallen behind when the run's time was up (counted as errors of their step)",
			n, steps[len(steps)-1].Name()))
	}
	if n := g.Unmatched(); n > 0 {
		e.r.Notes = append(e.r.Notes, fmt.Sprintf("%d assignments had no new conversation waiting for them (a follow-up "+
			"reopened a conversation the operator was closing); they are not in webhook_to_assigned", n))
	}
	return g, nil
}

// smoke proves the chain works end to end in well under a minute.
func smoke(ctx context.Context, e *env) error {
	tenants, err := e.up(ctx, shapes["smoke"], nil)
	if err != nil {
		return err
	}
	if err := e.ceilings(ctx, 300*time.Millisecond); err != nil {
		return err
	}
	_, err = e.drive(ctx, tenants, []load.Step{
		{Rate: 100, Duration: 5 * time.Second},
		{Rate: 100, Duration: 5 * time.Second, Bursty: true},
	}, func(c *load.Config) { c.Think, c.Handle, c.Drain = 100*time.Millisecond, time.Second, 3*time.Second })
	if err != nil {
		return err
	}
	e.aims()
	return nil
}

// standardRates are the standard scenario's constant steps; a bursty step at standardBursty goes in after the
// steps at or below its rate, before the ramp reaches the rates that overload this machine (whose backlog would
// spill into it).
var (
	standardRates  = []float64{500, 1000, 2000, 3000, 4000}
	standardBursty = 1000.0
)

// standard ramps the rate to find what one node sustains, with a bursty step among the lower rates.
func standard(ctx context.Context, e *env) error {
	tenants, err := e.up(ctx, shapes["standard"], nil)
	if err != nil {
		return err
	}
	if err := e.ceilings(ctx, 3*time.Second); err != nil {
		return err
	}
	rates, bursty := standardRates, standardBursty
	if len(e.cfg.Rates) > 0 {
		rates, bursty = e.cfg.Rates, e.cfg.Rates[0]
	}
	var steps []load.Step
	burstDone := false
	for _, r := range rates {
		if !burstDone && r > bursty {
			steps = append(steps, load.Step{Rate: bursty, Duration: e.cfg.StepDuration, Bursty: true})
			burstDone = true
		}
		steps = append(steps, load.Step{Rate: r, Duration: e.cfg.StepDuration})
	}
	if !burstDone {
		steps = append(steps, load.Step{Rate: bursty, Duration: e.cfg.StepDuration, Bursty: true})
	}
	if _, err := e.drive(ctx, tenants, steps, nil); err != nil {
		return err
	}
	if e.cfg.NodeURL != "" {
		e.r.Notes = append(e.r.Notes, "no ingest-only step: it needs a node of its own (--roles ingest), and this run drove "+e.cfg.NodeURL)
	} else if err := e.ingestOnly(ctx, tenants, ingestRate, 10*time.Second); err != nil {
		return err
	}
	e.aims()
	return nil
}

// ingestRate is the offered rate of the standard scenario's ingest-only step: above what this machine acknowledges.
const ingestRate = 15000

// ingestOnly measures webhook acknowledgement alone: a second node with --roles ingest (webhook → Kafka, no router,
// no API) takes open-loop webhooks at rate for d. Its step is added to the report; its series get the prefix
// "ingest_".
func (e *env) ingestOnly(ctx context.Context, tenants []load.Tenant, rate float64, d time.Duration) error {
	_, yaml := tenantsConfig(shape{tenants: len(tenants), operators: len(tenants[0].Operators), capacity: 1})
	e.node.stop()
	n, err := newNode(e.cfg.Exe, filepath.Join(e.dir, "ingest"), yaml, "http://127.0.0.1:1", "--roles", "ingest")
	if err != nil {
		return err
	}
	e.node = n
	e.log.Info("starting an ingest-only node")
	if err := n.start(ctx, time.Minute); err != nil {
		return err
	}
	keep, nSeries, nSteps := e.r.Node, len(e.r.Series), len(e.r.Steps)
	if _, err := e.drive(ctx, tenants, []load.Step{{Rate: rate, Duration: d}}, func(c *load.Config) { c.Drain = 2 * time.Second }); err != nil {
		return err
	}
	e.r.Node = keep
	for i := nSeries; i < len(e.r.Series); i++ {
		e.r.Series[i].Plot = "ingest_" + e.r.Series[i].Plot
	}
	for i := nSteps; i < len(e.r.Steps); i++ {
		e.r.Steps[i].Name = "ingest only (--roles ingest): " + e.r.Steps[i].Name
	}
	return nil
}

// soak holds a moderate rate for a long time: memory, lag and latency must stay flat.
func soak(ctx context.Context, e *env) error {
	tenants, err := e.up(ctx, shapes["soak"], nil)
	if err != nil {
		return err
	}
	if err := e.ceilings(ctx, 3*time.Second); err != nil {
		return err
	}
	rate := 1000.0
	if len(e.cfg.Rates) > 0 {
		rate = e.cfg.Rates[0]
	}
	e.r.Config["duration"] = e.cfg.Duration.String()
	if _, err := e.drive(ctx, tenants, []load.Step{{Rate: rate, Duration: e.cfg.Duration}},
		func(c *load.Config) { c.Contacts = 1_000_000 }); err != nil {
		return err
	}
	e.aims()
	return nil
}

// The aims of the standard scenario (issue 15, "five times the messages per core"), on the 2-core machine with the
// node, the load generator and the simulator sharing it.
const (
	aimAckPerCore    = 30000.0 // acknowledged webhooks per node core, ingest alone
	aimSustained     = 5000.0  // customer messages per second sustained, standard mix, durability on
	aimCPUPerMessage = 0.25    // ms of node CPU per customer message, standard mix
	aimAssignedRate  = 2000.0  // msg/s at which webhook → assigned p99 is judged
	aimAssignedP99   = 50.0    // ms
)

// aims compares the load steps with the project's aims and says what limits each figure that falls short.
func (e *env) aims() {
	var best *report.Step  // highest sustained rate
	var first *report.Step // first step not sustained
	var low *report.Step   // lowest constant rate: the CPU per message and the latency without a queue
	var maxAck, maxAckCPU float64
	for i := range e.r.Steps {
		st := &e.r.Steps[i]
		if a := stageOf(st, load.StageWebhookAck); a.Throughput > maxAck {
			maxAck, maxAckCPU = a.Throughput, st.NodeCPUCores
		}
		if isIngestOnly(st) {
			continue // no routing: not an end-to-end step
		}
		if st.Sustained && (best == nil || st.OfferedRate > best.OfferedRate) {
			best = st
		}
		if !st.Sustained && first == nil {
			first = st
		}
		if !isBursty(st) && (low == nil || st.OfferedRate < low.OfferedRate) {
			low = st
		}
	}
	e.useCeilings(best)
	perCore := 0.0
	if maxAckCPU > 0 {
		perCore = maxAck / maxAckCPU
	}
	limit := ""
	if first != nil {
		limit = e.limit(first)
	}
	e.r.Aims = append(e.r.Aims, report.Aim{Name: "acknowledged webhooks per node core, ingest alone",
		Target:   fmt.Sprintf("≥ %s/s per core", thousands(aimAckPerCore)),
		Measured: fmt.Sprintf("%.0f/s at %.2f node cores → %.0f/s per core", maxAck, maxAckCPU, perCore),
		Met:      perCore >= aimAckPerCore, Limit: e.ackLimit()})
	sustained := "none"
	if best != nil {
		sustained = fmt.Sprintf("%.0f msg/s (%s)", best.OfferedRate, best.Name)
	}
	e.r.Aims = append(e.r.Aims, report.Aim{Name: "customer messages sustained, standard mix, durability on",
		Target: fmt.Sprintf("≥ %s msg/s", thousands(aimSustained)), Measured: sustained,
		Met: best != nil && best.OfferedRate >= aimSustained, Limit: limit})
	if low != nil && low.OfferedRate > 0 && low.NodeCPUCores > 0 {
		ms := 1000 * low.NodeCPUCores / low.OfferedRate
		records := stageOf(low, load.StageRouterApply).Throughput / low.OfferedRate
		e.r.Aims = append(e.r.Aims, report.Aim{Name: "node CPU per customer message, standard mix",
			Target:   fmt.Sprintf("≤ %.2f ms", aimCPUPerMessage),
			Measured: fmt.Sprintf("%.2f ms at %s (%.2f cores; %.1f records applied per message)", ms, low.Name, low.NodeCPUCores, records),
			Met:      ms <= aimCPUPerMessage,
			Limit: limitIf(ms > aimCPUPerMessage, fmt.Sprintf("CPU per record applied and per HTTP request: see the "+
				"step's profile (cpu-step%d.pprof with --profile); the load generator and the simulator used %.2f cores",
				stepNumber(e.r.Steps, low), low.LoadCPUCores))})
	}
	// Routing latency at the aim's rate if it was sustained, else at the highest rate sustained (a step the node did
	// not sustain has a queue, not a latency), and at the lowest rate for comparison.
	if best != nil && low != nil {
		a, l := stageOf(best, load.StageWebhookToAssigned), stageOf(low, load.StageWebhookToAssigned)
		met := best.OfferedRate >= aimAssignedRate && a.Latency.P99 <= aimAssignedP99
		e.r.Aims = append(e.r.Aims, report.Aim{Name: "webhook → assigned p99",
			Target: fmt.Sprintf("≤ %.0f ms at %s msg/s", aimAssignedP99, thousands(aimAssignedRate)),
			Measured: fmt.Sprintf("p99 %.0f ms (p50 %.0f ms) at %.0f msg/s, the highest rate sustained; p99 %.0f ms (p50 %.1f ms) at %.0f msg/s",
				a.Latency.P99, a.Latency.P50, best.OfferedRate, l.Latency.P99, l.Latency.P50, low.OfferedRate),
			Met: met, Limit: limitIf(!met, fmt.Sprintf("the node's CPU: %.2f of %d cores busy at %.0f msg/s, the load generator and the simulator %.2f; %s",
				best.NodeCPUCores, runtime.NumCPU(), best.OfferedRate, best.LoadCPUCores, limit))})
	}
}

// thousands formats n with a thousands separator: 30000 → "30,000".
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// stepNumber is st's number in steps, from 1.
func stepNumber(steps []report.Step, st *report.Step) int {
	for i := range steps {
		if &steps[i] == st {
			return i + 1
		}
	}
	return 0
}

// ceilingUsers are the stage compared with each ceiling: every record the router applied was produced to and
// consumed from switchboard.inbox, handled by at least one actor message and written in a synced Pebble batch.
var ceilingUsers = map[string]string{
	"http_json":     load.StageWebhookAck,
	"kafka_produce": load.StageRouterApply,
	"kafka_consume": load.StageRouterApply,
	"hollywood":     load.StageRouterApply,
	"pebble_sync":   load.StageRouterApply,
}

// useCeilings records, for each ceiling, the share of it its stage used at step st (the highest sustained).
func (e *env) useCeilings(st *report.Step) {
	if st == nil {
		return
	}
	for i := range e.r.Ceilings {
		c := &e.r.Ceilings[i]
		name, ok := ceilingUsers[c.Name]
		if !ok || c.Throughput <= 0 {
			continue
		}
		c.UsedBy = name + " at " + st.Name
		c.Share = stageOf(st, name).Throughput / c.Throughput
	}
}

func isIngestOnly(st *report.Step) bool { return strings.HasPrefix(st.Name, "ingest only") }

func isBursty(st *report.Step) bool { return len(st.Name) > 0 && st.Name[len(st.Name)-1] == ')' }

func stageOf(st *report.Step, name string) report.Stage {
	for _, s := range st.Stages {
		if s.Name == name {
			return s
		}
	}
	return report.Stage{}
}

// ackLimit says what bounds webhook acknowledgement: the share of its ceilings and the CPU.
func (e *env) ackLimit() string {
	h, _ := e.ceiling("http_json")
	k, _ := e.ceiling("kafka_produce")
	return fmt.Sprintf("per core of the node's own CPU use; ceilings on this machine: HTTP+HMAC+JSON %.0f/s, "+
		"kafka-go produce (acks=all, one partition per tenant) %.0f/s, sharing %d cores with the load generator, "+
		"which offered at most %.0f/s", h.Throughput, k.Throughput, runtime.NumCPU(), maxOffered(e.r.Steps))
}

func maxOffered(steps []report.Step) float64 {
	m := 0.0
	for _, s := range steps {
		m = max(m, s.OfferedRate)
	}
	return m
}

// limit diagnoses the first step the node did not sustain.
func (e *env) limit(st *report.Step) string {
	ack, asg, app := stageOf(st, load.StageWebhookAck), stageOf(st, load.StageWebhookToAssigned), stageOf(st, load.StageRouterApply)
	cpu := fmt.Sprintf("node used %.2f of %d cores, the load generator and the simulator %.2f", st.NodeCPUCores, runtime.NumCPU(), st.LoadCPUCores)
	switch {
	case ack.Errors > 0 || ack.Throughput < 0.97*st.OfferedRate:
		return fmt.Sprintf("at %s ingest fell behind: %.0f acks/s, p99 %.0f ms, %d errors (%.0f%% of the HTTP+JSON ceiling); %s",
			st.Name, ack.Throughput, ack.Latency.P99, ack.Errors, 100*ack.Share, cpu)
	case st.ConsumerLagMax > st.OfferedRate/2:
		return fmt.Sprintf("at %s the router fell behind: consumer lag up to %.0f records, webhook → assigned p99 %.0f ms, "+
			"%.0f records applied/s (%.1f%% of Pebble's synced group-commit ceiling); %s",
			st.Name, st.ConsumerLagMax, asg.Latency.P99, app.Throughput, 100*app.Share, cpu)
	default:
		return fmt.Sprintf("at %s every record was consumed as it came (consumer lag at most %.0f) but latency grew in "+
			"every stage (webhook ack p99 %.0f ms, webhook → assigned p99 %.0f ms) at %.0f records applied/s "+
			"(%.1f%% of Pebble's synced group-commit ceiling): the CPU is saturated — %s",
			st.Name, st.ConsumerLagMax, ack.Latency.P99, asg.Latency.P99, app.Throughput, 100*app.Share, cpu)
	}
}

// profileSteps saves a CPU profile of the node from the middle of each step, as cpu-step<N>.pprof next to the
// report, N being the step's number in the report (the first of steps is first), so a later drive (the
// ingest-only step) does not overwrite an earlier one's. Read with `go tool pprof -top bin/switchboard <file>`.
func (e *env) profileSteps(ctx context.Context, steps []load.Step, first int) {
	dir := filepath.Join(e.cfg.Out, e.cfg.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.log.Warn("cpu profiles", "err", err)
		return
	}
	start := time.Now()
	for i, s := range steps {
		secs := max(1, min(10, int(s.Duration.Seconds()/2)))
		wait := time.Until(start.Add(s.Duration/2 - time.Duration(secs)*time.Second/2))
		start = start.Add(s.Duration)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		code, body, err := fasthttp.GetTimeout(nil, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", e.node.pprof, secs),
			time.Duration(secs+30)*time.Second)
		if err != nil || code != fasthttp.StatusOK {
			e.log.Warn("cpu profile", "step", s.Name(), "code", code, "err", err)
			continue
		}
		name := filepath.Join(dir, fmt.Sprintf("cpu-step%d.pprof", first+i))
		if err := os.WriteFile(name, body, 0o644); err != nil {
			e.log.Warn("cpu profile", "err", err)
		}
	}
}
