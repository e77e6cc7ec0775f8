package ceiling

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/bench/report"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
)

// startBroker runs the embedded broker as a node does (data directory, fsync on) and returns its address.
func startBroker(t testing.TB) string {
	t.Helper()
	return brokertest.Start(t, brokertest.Config{Sync: true}).Addr()
}

// measurement is one ceiling function with the config fields the tests vary.
type measurement struct {
	name    string
	latency bool // whether it measures per-operation latency
	run     func(ctx context.Context, d time.Duration) (report.Ceiling, error)
}

func measurements(brokerAddr, dir string) []measurement {
	brokers := []string{brokerAddr}
	return []measurement{
		{"http_json", true, func(ctx context.Context, d time.Duration) (report.Ceiling, error) {
			return HTTPJSON(ctx, HTTPConfig{Duration: d})
		}},
		{"kafka_produce", true, func(ctx context.Context, d time.Duration) (report.Ceiling, error) {
			return KafkaProduce(ctx, KafkaConfig{Brokers: brokers, Duration: d})
		}},
		{"kafka_consume", false, func(ctx context.Context, d time.Duration) (report.Ceiling, error) {
			// More records than fit in d, so that a cancellation always finds the measurement still running.
			return KafkaConsume(ctx, KafkaConfig{Brokers: brokers, Duration: d, Records: 10_000_000})
		}},
		{"hollywood", false, func(ctx context.Context, d time.Duration) (report.Ceiling, error) {
			return Hollywood(ctx, HollywoodConfig{Duration: d})
		}},
		{"pebble_sync", true, func(ctx context.Context, d time.Duration) (report.Ceiling, error) {
			return PebbleSync(ctx, PebbleConfig{Dir: dir, Duration: d})
		}},
	}
}

// checkCeiling fails t unless c is a plausible result of measurement m run for d.
func checkCeiling(t *testing.T, m measurement, d time.Duration, c report.Ceiling) {
	t.Helper()
	if c.Name != m.name {
		t.Errorf("Name = %q, want %q", c.Name, m.name)
	}
	if c.Description == "" || strings.Contains(c.Description, "\n") {
		t.Errorf("Description = %q, want one line", c.Description)
	}
	if !(c.Throughput > 0) {
		t.Errorf("Throughput = %v, want > 0", c.Throughput)
	}
	l := c.Latency
	if !m.latency {
		if l != (report.Latency{}) {
			t.Errorf("Latency = %+v, want none", l)
		}
		return
	}
	if l.Count <= 0 {
		t.Errorf("Latency.Count = %d, want > 0", l.Count)
	}
	if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("latency quantiles out of order (want 0 < p50 <= p90 <= p99 <= p999 <= max): %+v", l)
	}
	if !(l.Mean > 0 && l.Mean <= l.Max) {
		t.Errorf("Latency.Mean = %v, want in (0, Max %v]", l.Mean, l.Max)
	}
	// Every completed operation is timed, and the run lasts at least d, so Count / Throughput (the run's length)
	// is at least d.
	if run := time.Duration(float64(l.Count) / c.Throughput * float64(time.Second)); run < d*99/100 {
		t.Errorf("Latency.Count %d / Throughput %.0f/s = %v, shorter than the run's %v", l.Count, c.Throughput, run, d)
	}
}

func TestCeilings(t *testing.T) {
	dir := t.TempDir()
	addr := startBroker(t)
	for _, m := range measurements(addr, dir) {
		t.Run(m.name, func(t *testing.T) {
			const d = 400 * time.Millisecond
			c, err := m.run(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %.0f/s, latency %+v (%s)", c.Name, c.Throughput, c.Latency, c.Description)
			checkCeiling(t, m, d, c)
		})
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("PebbleSync left %d entries in its Dir", len(left))
	}
	if topics := scratchTopics(t, addr); len(topics) != 0 {
		t.Errorf("scratch topics left on the broker: %v", topics)
	}
}

// scratchTopics lists the broker's topics made by this package.
func scratchTopics(t *testing.T, addr string) []string {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ps, err := conn.ReadPartitions()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		if strings.HasPrefix(p.Topic, "ceiling.") {
			out = append(out, p.Topic)
		}
	}
	return out
}

func TestCancel(t *testing.T) {
	addr := startBroker(t)
	for _, m := range measurements(addr, t.TempDir()) {
		t.Run(m.name+"/before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := m.run(ctx, time.Minute); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
		t.Run(m.name+"/during", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(200*time.Millisecond, cancel)
			type result struct {
				c   report.Ceiling
				err error
			}
			done := make(chan result, 1)
			go func() {
				c, err := m.run(ctx, time.Minute)
				done <- result{c, err}
			}()
			// Far below the minute the measurement would take, far above the moment it should stop.
			select {
			case r := <-done:
				if !errors.Is(r.err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", r.err)
				}
				if !strings.Contains(r.err.Error(), m.name) {
					t.Errorf("err %q does not name %s", r.err, m.name)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("still running 20s after its context was cancelled")
			}
		})
	}
}

// TestCleanup checks that the measurements leave no goroutine behind: a leak would load the machine during the
// benchmark that follows them.
func TestCleanup(t *testing.T) {
	addr := startBroker(t)
	ms := measurements(addr, t.TempDir())
	// Warm up once: first use starts process-wide goroutines that stay (e.g. fasthttp's DNS cache cleaner).
	for _, m := range ms {
		if _, err := m.run(t.Context(), 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // let the warm-up's connections close
	before := goroutines()
	for _, m := range ms {
		if _, err := m.run(t.Context(), 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	// Goroutines of closed connections take a moment to return.
	eventually.NoError(t, 10*time.Second, 50*time.Millisecond, func() error {
		if after := goroutines(); len(after) > len(before) {
			return fmt.Errorf("%d goroutines before the measurements, %d after:\n%s", len(before), len(after), strings.Join(after, "\n\n"))
		}
		return nil
	}, "goroutines back to their number before the measurements")
}

// lingering are goroutines that fasthttp leaves asleep after a server's shutdown and exit at their next wake-up
// (10s later for the server's worker pool cleaner, whose period ingest/server does not set). They cost nothing
// meanwhile.
var lingering = []string{
	"fasthttp.(*workerPool).Start.func2",
	"fasthttp.(*HostClient).connsCleaner",
}

// goroutines returns the stacks of the running goroutines but those lingering.
func goroutines() []string {
	buf := make([]byte, 4<<20)
	var gs []string
stacks:
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		for _, l := range lingering {
			if strings.Contains(g, l) {
				continue stacks
			}
		}
		gs = append(gs, g)
	}
	return gs
}

func TestAll(t *testing.T) {
	addr := startBroker(t)
	const d = 300 * time.Millisecond
	cs, err := All(t.Context(), AllConfig{Brokers: []string{addr}, Dir: t.TempDir(), Duration: d})
	if err != nil {
		t.Fatal(err)
	}
	ms := measurements(addr, "")
	if len(cs) != len(ms) {
		t.Fatalf("All gave %d ceilings, want %d", len(cs), len(ms))
	}
	for i, m := range ms {
		t.Run(m.name, func(t *testing.T) { checkCeiling(t, m, d, cs[i]) })
	}
}

// TestShorterThanAnOperation gives every measurement a Duration shorter than any of its operations, which is what
// a short Duration looks like on a slow or loaded machine: each must still wait for its first operations and give a
// figure, never ErrNothingMeasured.
func TestShorterThanAnOperation(t *testing.T) {
	addr := startBroker(t)
	for _, m := range measurements(addr, t.TempDir()) {
		t.Run(m.name, func(t *testing.T) {
			const d = time.Nanosecond
			c, err := m.run(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			checkCeiling(t, m, d, c)
		})
	}
}

func TestInvalidConfig(t *testing.T) {
	ctx := t.Context()
	for name, run := range map[string]func() (report.Ceiling, error){
		"http negative concurrency": func() (report.Ceiling, error) { return HTTPJSON(ctx, HTTPConfig{Concurrency: -1}) },
		"kafka no brokers":          func() (report.Ceiling, error) { return KafkaProduce(ctx, KafkaConfig{}) },
		"consume no brokers":        func() (report.Ceiling, error) { return KafkaConsume(ctx, KafkaConfig{}) },
		"hollywood negative inbox": func() (report.Ceiling, error) {
			return Hollywood(ctx, HollywoodConfig{InboxSize: -1})
		},
		"pebble negative writers": func() (report.Ceiling, error) { return PebbleSync(ctx, PebbleConfig{Writers: -1}) },
		"all no brokers": func() (report.Ceiling, error) {
			_, err := All(ctx, AllConfig{})
			return report.Ceiling{}, err
		},
	} {
		if _, err := run(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}
