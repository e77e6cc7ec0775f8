package scenario

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/bench/load"
	"github.com/switchboard-hq/switchboard/bench/report"
)

// Every scenario's node config is a valid config with the tenants, channels and operators the generator uses.
func TestNodeConfigParses(t *testing.T) {
	for _, name := range Names {
		yaml, err := NodeConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := tenant.Parse([]byte(yaml))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, yaml)
		}
		want, _ := tenantsConfig(shapes[name])
		if len(cfg.Tenants) != len(want) {
			t.Fatalf("%s: %d tenants, want %d", name, len(cfg.Tenants), len(want))
		}
		for i, tc := range cfg.Tenants {
			if tc.ID != want[i].ID || len(tc.Channels) != 1 || tc.Channels[0].PhoneNumberID != want[i].PhoneNumberID ||
				tc.Channels[0].RateLimit != metaRate || len(tc.Operators) != len(want[i].Operators) {
				t.Errorf("%s: tenant %d is %+v, want %+v", name, i, tc, want[i])
			}
		}
	}
	if _, err := NodeConfig("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("NodeConfig(nope): %v", err)
	}
}

func TestRunRefusesBadConfigs(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want error
	}{
		{Config{Name: "nope"}, ErrUnknown},
		{Config{Name: "memory", NodeURL: "http://127.0.0.1:1", Brokers: []string{"127.0.0.1:2"}, SimAddr: "127.0.0.1:3"}, ErrExternal},
		{Config{Name: "recovery", NodeURL: "http://127.0.0.1:1", Brokers: []string{"127.0.0.1:2"}, SimAddr: "127.0.0.1:3"}, ErrExternal},
		{Config{Name: "smoke", NodeURL: "http://127.0.0.1:1"}, ErrExternal},
	} {
		c.cfg.Out = t.TempDir()
		if _, err := Run(context.Background(), c.cfg); !errors.Is(err, c.want) {
			t.Errorf("%+v: err %v, want %v", c.cfg, err, c.want)
		}
	}
}

// The seeded conversations are closed, one message each, under the customers the generator writes as first, and
// apply any new record (their applied position is before every offset).
func TestSeedClosed(t *testing.T) {
	dir := t.TempDir()
	tenants, _ := tenantsConfig(shape{tenants: 2, operators: 1, capacity: 1})
	const n = 5001 // not a multiple of the batch: the last partial batch is written too
	if err := seedClosed(context.Background(), dir, tenants, n); err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, store.Config{Dir: filepath.Join(dir, "store")})
	total := 0
	for ti, tn := range tenants {
		after := ""
		for {
			list, next, err := st.Conversations(tn.ID, store.Filter{Status: conversation.Closed, After: after, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			total += len(list)
			for _, c := range list {
				if c.Messages != 1 || !c.Applied.Less(conversation.Position{}) {
					t.Fatalf("seeded %+v", c)
				}
			}
			if next == "" {
				break
			}
			after = next
		}
		first := conversation.ID(tn.ChannelID, load.ContactWAID(ti, 0))
		c, err := st.Conversation(tn.ID, first)
		if err != nil || c.Status != conversation.Closed {
			t.Errorf("tenant %s: the generator's first customer %s: %+v, %v", tn.ID, first, c, err)
		}
		if _, err := st.Message(tn.ID, first, 1); err != nil {
			t.Errorf("tenant %s: message 1 of %s: %v", tn.ID, first, err)
		}
	}
	if total != n {
		t.Errorf("%d closed conversations stored, want %d", total, n)
	}
}

func step(name string, rate float64, sustained bool, cpu, lag float64, stages ...report.Stage) report.Step {
	return report.Step{Name: name, OfferedRate: rate, Seconds: 10, Sustained: sustained, NodeCPUCores: cpu, ConsumerLagMax: lag, Stages: stages}
}

func stg(name string, tp, p50, p99 float64, errs int64) report.Stage {
	return report.Stage{Name: name, Throughput: tp, Errors: errs, Latency: report.Latency{Count: 1, P50: p50, P99: p99}}
}

// The aims read the highest sustained step, and the limit names the stage that gave way first.
func TestAimsAndLimits(t *testing.T) {
	e := &env{r: &report.Report{Ceilings: []report.Ceiling{{Name: "http_json", Throughput: 10000}, {Name: "pebble_sync", Throughput: 100000}}}}
	e.r.Steps = []report.Step{
		step("500/s constant", 500, true, 1.0, 0, stg(load.StageWebhookAck, 500, 4, 20, 0), stg(load.StageWebhookToAssigned, 166, 10, 100, 0), stg(load.StageRouterApply, 1100, 0, 0, 0)),
		step("1000/s constant", 1000, true, 1.2, 0, stg(load.StageWebhookAck, 1000, 5, 30, 0), stg(load.StageWebhookToAssigned, 333, 20, 200, 0), stg(load.StageRouterApply, 2300, 0, 0, 0)),
		step("2000/s constant", 2000, false, 1.4, 0, stg(load.StageWebhookAck, 1990, 300, 1500, 0), stg(load.StageWebhookToAssigned, 600, 500, 2000, 0), stg(load.StageRouterApply, 2500, 0, 0, 0)),
		step("ingest only (--roles ingest): 15000/s constant", 15000, false, 0.9, 0, stg(load.StageWebhookAck, 9000, 1000, 3000, 10)),
	}
	e.aims()
	byName := map[string]report.Aim{}
	for _, a := range e.r.Aims {
		byName[a.Name] = a
	}
	if a := byName["customer messages sustained, standard mix, durability on"]; a.Met || !strings.HasPrefix(a.Measured, "1000 msg/s") ||
		!strings.Contains(a.Limit, "the CPU is saturated") {
		t.Errorf("sustained aim %+v: want 1000 msg/s, limited by CPU (no lag, acks kept pace)", a)
	}
	if a := byName["acknowledged webhooks per node core, ingest alone"]; !strings.Contains(a.Measured, "9000/s at 0.90 node cores → 10000/s per core") {
		t.Errorf("per-core aim %+v: want the ingest-only step", a)
	}
	if a := byName["webhook → assigned p99"]; !strings.Contains(a.Measured, "p99 200 ms (p50 20 ms) at 1000 msg/s") {
		t.Errorf("latency aim %+v: want the highest sustained step", a)
	}
	if a := byName["node CPU per customer message, standard mix"]; a.Met ||
		!strings.HasPrefix(a.Measured, "2.00 ms at 500/s constant (1.00 cores; 2.2 records applied per message)") {
		t.Errorf("CPU per message aim %+v: want the lowest step's 1.00 cores / 500 msg/s", a)
	}
	if c := e.r.Ceilings[1]; c.UsedBy != "router_apply at 1000/s constant" || c.Share != 0.023 {
		t.Errorf("pebble_sync used %q %v, want router_apply at 1000/s constant, 0.023", c.UsedBy, c.Share)
	}

	// Acknowledgements falling behind is ingest; records piling up unconsumed is the router.
	ingest := step("3000/s constant", 3000, false, 1.4, 0, stg(load.StageWebhookAck, 2000, 900, 5000, 0))
	if l := e.limit(&ingest); !strings.Contains(l, "ingest fell behind") {
		t.Errorf("limit %q, want ingest", l)
	}
	router := step("3000/s constant", 3000, false, 1.4, 20000, stg(load.StageWebhookAck, 3000, 9, 50, 0))
	if l := e.limit(&router); !strings.Contains(l, "the router fell behind") {
		t.Errorf("limit %q, want router", l)
	}
}
