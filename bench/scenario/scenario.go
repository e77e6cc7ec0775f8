// Package scenario runs Switchboard's benchmark scenarios: it starts a node as a child process (embedded broker,
// Pebble on disk), the WhatsApp simulator in-process, measures the ceilings of the parts in the same run, drives the
// node with bench/load, and writes a report (bench/report) with JSON, Markdown and PNG plots.
//
// Scenarios:
//   - smoke: a few seconds of light load; proves the whole chain works (make test runs it).
//   - standard: a ramp of constant rates and a bursty step, about 4 minutes (make bench).
//   - memory: Conversations stored conversations: the node's RSS and heap per stored conversation, per idle
//     conversation actor, and after passivation.
//   - recovery: Conversations stored conversations, load, kill -9 under load, restart: time to ready, to the
//     first assignment and to caught up.
//   - soak: a constant rate for Duration (opt-in, long).
//
// It may import the bench packages, the simulator and the store (seeding); only cmd/switchboard-bench imports it.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/bench/ceiling"
	"github.com/switchboard-hq/switchboard/bench/load"
	"github.com/switchboard-hq/switchboard/bench/report"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// Names are the scenarios Run knows.
var Names = []string{"smoke", "standard", "memory", "recovery", "soak"}

// ErrUnknown is returned for a scenario name not in Names.
var ErrUnknown = errors.New("unknown scenario")

// Config says which scenario to run and where.
type Config struct {
	// Name is one of Names. Required.
	Name string
	// Exe is the switchboard binary that serves the node. Default: `switchboard` beside this process's executable
	// (bin/switchboard-bench runs bin/switchboard).
	Exe string
	// Out is where the report goes: Out/<Name>/report.{json,md} and the plots. Default "bench/results".
	Out string
	// Dir holds the node's data and log. Default: a new temporary directory, removed after the run unless Keep.
	Dir  string
	Keep bool
	// Conversations is how many stored conversations the memory and recovery scenarios seed. Default 1,000,000.
	Conversations int
	// Duration is the soak scenario's length. Default 1h.
	Duration time.Duration
	// Rates, when set, replaces the standard scenario's constant steps (messages per second).
	Rates []float64
	// StepDuration, when set, replaces the length of each standard step. Default 25s.
	StepDuration time.Duration
	// Profile saves a CPU profile of the node from the middle of each load step next to the report.
	Profile bool
	// Changelog runs the node with --changelog (every durable write also to switchboard.changelog), to measure its
	// cost. Default false.
	Changelog bool
	// NodeURL, when set, drives a node already running there instead of starting one (smoke, standard and soak
	// only: memory and recovery seed, restart and kill their own node). That node must serve the scenario's
	// tenants (Config prints them) with --whatsapp-api-url http://SimAddr; Brokers are its Kafka brokers, where
	// the generator reads switchboard.events. The node's CPU and memory then come from its /metrics.
	NodeURL string
	Brokers []string
	// SimAddr is where the WhatsApp simulator listens when NodeURL is set. Required with NodeURL.
	SimAddr string
	// Logger reports progress. Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the switchboard binary: %w", err)
		}
		c.Exe = filepath.Join(filepath.Dir(exe), "switchboard")
	}
	if c.Out == "" {
		c.Out = filepath.Join("bench", "results")
	}
	if c.Conversations == 0 {
		c.Conversations = 1_000_000
	}
	if c.Duration == 0 {
		c.Duration = time.Hour
	}
	if c.StepDuration == 0 {
		c.StepDuration = 25 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.NodeURL != "" {
		switch {
		case c.Name == "memory" || c.Name == "recovery":
			return fmt.Errorf("%w: the %s scenario starts, seeds and restarts a node of its own; it cannot use --node-url", ErrExternal, c.Name)
		case len(c.Brokers) == 0 || c.SimAddr == "":
			return fmt.Errorf("%w: --node-url needs --kafka-brokers (the node's) and --sim-addr (its --whatsapp-api-url)", ErrExternal)
		}
	}
	return nil
}

// ErrExternal is returned for a scenario that cannot drive an external node, or an external node without the
// addresses it needs.
var ErrExternal = errors.New("external node")

// Shapes are the tenants and operators of each scenario.
var shapes = map[string]shape{
	"smoke":    {tenants: 2, operators: 5, capacity: 200},
	"standard": {tenants: 4, operators: 20, capacity: 500},
	"soak":     {tenants: 4, operators: 20, capacity: 500, idleAfter: time.Minute},
	"memory":   {tenants: 4, operators: 20, capacity: 2000, idleAfter: 45 * time.Second},
	"recovery": {tenants: 4, operators: 20, capacity: 2000},
}

// NodeConfig is the YAML config a node driven by scenario name must serve (for --node-url).
func NodeConfig(name string) (string, error) {
	s, ok := shapes[name]
	if !ok {
		return "", fmt.Errorf("%w %q: want one of %s", ErrUnknown, name, strings.Join(Names, ", "))
	}
	_, yaml := tenantsConfig(s)
	return yaml, nil
}

// Run runs the scenario, writes its report under Config.Out, and returns it.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	run, ok := map[string]func(context.Context, *env) error{
		"smoke": smoke, "standard": standard, "memory": memory, "recovery": recovery, "soak": soak,
	}[cfg.Name]
	if !ok {
		return nil, fmt.Errorf("%w %q: want one of %s", ErrUnknown, cfg.Name, strings.Join(Names, ", "))
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "switchboard-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
		if !cfg.Keep {
			defer os.RemoveAll(d)
		}
	}
	e := &env{cfg: cfg, dir: dir, log: cfg.Logger, r: &report.Report{
		Scenario: cfg.Name, StartedAt: time.Now().UTC(), Config: map[string]any{},
		Machine: report.Machine{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
			CPUs: runtime.NumCPU(), Commit: commit()}}}
	defer e.close()
	if err := run(ctx, e); err != nil {
		return e.r, fmt.Errorf("scenario %s: %w", cfg.Name, err)
	}
	e.r.Seconds = time.Since(e.r.StartedAt).Seconds()
	out := filepath.Join(cfg.Out, cfg.Name)
	if err := e.r.WriteAll(out); err != nil {
		return e.r, fmt.Errorf("write report to %s: %w", out, err)
	}
	e.log.Info("report written", "dir", out)
	return e.r, nil
}

// env is one run's shared state: its report, the node and the simulator.
type env struct {
	cfg  Config
	dir  string
	log  *slog.Logger
	r    *report.Report
	node *node
	sim  *sim.Sim
	stop func()
	// onAccepted hands the simulator's accepted messages to the running generator.
	onAccepted *lazyAccept
}

func (e *env) close() {
	if e.node != nil {
		e.node.stop()
	}
	if e.stop != nil {
		e.stop()
	}
}

// shape is the tenants and operators a scenario loads.
type shape struct {
	tenants, operators, capacity int
	idleAfter                    time.Duration
}

// up starts the simulator and the node (with s's tenants) and puts every operator online. seed, when not nil, fills
// the node's data dir before it starts.
func (e *env) up(ctx context.Context, s shape, seed func(dataDir string) error) ([]load.Tenant, error) {
	tenants, yaml := tenantsConfig(s)
	e.r.Config["tenants"], e.r.Config["operators_per_tenant"], e.r.Config["capacity"] = s.tenants, s.operators, s.capacity
	if e.cfg.NodeURL != "" {
		return e.external(ctx, tenants)
	}
	simAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	extra := []string{}
	if s.idleAfter > 0 {
		extra = append(extra, "--idle-after", s.idleAfter.String())
	}
	if e.cfg.Changelog {
		extra = append(extra, "--changelog")
		e.r.Config["changelog"] = true
	}
	e.node, err = newNode(e.cfg.Exe, filepath.Join(e.dir, "node"), yaml, "http://"+simAddr, extra...)
	if err != nil {
		return nil, err
	}
	if err := e.startSim(simAddr); err != nil {
		return nil, err
	}
	if seed != nil {
		if err := seed(e.node.dataDir()); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	e.log.Info("starting node", "dir", e.node.dir)
	if err := e.node.start(ctx, 5*time.Minute); err != nil {
		return nil, err
	}
	if err := online(e.node.url(), tenants); err != nil {
		return nil, err
	}
	return tenants, nil
}

// startSim runs the WhatsApp simulator on addr, posting its status webhooks to the node.
func (e *env) startSim(addr string) error {
	gen := &lazyAccept{}
	var err error
	e.sim, err = sim.New(sim.Config{Addr: addr, WebhookURL: e.node.url() + "/webhooks/whatsapp", AppSecret: appSecret,
		Rate: metaRate, MaxRecorded: 1000, WebhookWorkers: 32, WebhookQueue: 1_000_000, OnAccepted: gen.accepted,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	simCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.sim.Run(simCtx) }()
	e.stop = func() { cancel(); <-done; e.sim.Close() }
	e.onAccepted = gen
	return nil
}

// external uses the node at Config.NodeURL: it must be ready; the simulator starts on Config.SimAddr.
func (e *env) external(ctx context.Context, tenants []load.Tenant) ([]load.Tenant, error) {
	u, err := url.Parse(e.cfg.NodeURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: --node-url %q is not an http://host:port URL", ErrExternal, e.cfg.NodeURL)
	}
	e.node = &node{http: u.Host, kafka: e.cfg.Brokers[0]}
	e.r.Config["node"] = e.cfg.NodeURL
	if err := e.startSim(e.cfg.SimAddr); err != nil {
		return nil, err
	}
	if err := e.node.waitReady(ctx, 30*time.Second); err != nil {
		return nil, fmt.Errorf("node at %s: %w", e.cfg.NodeURL, err)
	}
	if err := online(e.node.url(), tenants); err != nil {
		return nil, fmt.Errorf("%w (does the node serve the scenario's tenants? switchboard bench --print-config)", err)
	}
	return tenants, nil
}

// commit is the git commit of the working tree, "" when git cannot tell.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// ceilings measures the ceilings against the node's broker, with the node idle.
func (e *env) ceilings(ctx context.Context, d time.Duration) error {
	e.log.Info("measuring ceilings")
	cs, err := ceiling.All(ctx, ceiling.AllConfig{Brokers: []string{e.node.kafka}, Dir: e.dir, Duration: d})
	if err != nil {
		return err
	}
	e.r.Ceilings = cs
	return nil
}

func (e *env) ceiling(name string) (report.Ceiling, bool) {
	for _, c := range e.r.Ceilings {
		if c.Name == name {
			return c, true
		}
	}
	return report.Ceiling{}, false
}
