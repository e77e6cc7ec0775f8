// Package ceiling measures the raw speed of the parts Switchboard is built on — fasthttp with the webhook's own
// verification and parsing, kafka-go against a broker, hollywood message passing, Pebble synced writes — on this
// machine and in the same run as the system benchmarks, so each pipeline stage's figure can be read as a share of
// its ceiling. Every measurement runs in-process, on 127.0.0.1 only, is bounded by its Duration and by its context,
// and removes what it created (servers, topics, directories, connections) before it returns.
//
// The measurements load the machine: run them one at a time (All does), never next to the system under test.
//
//	go test -run '^$' -bench . ./bench/ceiling/
//
// It may import anything the node is built on (fasthttp, kafka-go, hollywood, Pebble) and the ingest packages it
// measures; only the bench binary and tests import it.
package ceiling

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/switchboard-hq/switchboard/bench/report"
)

// AllConfig configures All.
type AllConfig struct {
	// Brokers are the bootstrap addresses of the Kafka broker to measure (in a real run, the node's own embedded
	// broker). Required.
	Brokers []string
	// Dir is where PebbleSync makes its scratch directory. Empty means os.TempDir().
	Dir string
	// Duration is how long each ceiling measures. 0 means each function's own default (HTTPJSON 5s, the others 3s).
	Duration time.Duration
}

// Validate reports the first missing or invalid field.
func (c *AllConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return fmt.Errorf("%w: Brokers is required", ErrInvalidConfig)
	case c.Duration < 0:
		return fmt.Errorf("%w: Duration %v is negative", ErrInvalidConfig, c.Duration)
	}
	return nil
}

// All measures every ceiling, one after another because they compete for the same cores: http_json,
// kafka_produce, kafka_consume, hollywood, pebble_sync. On an error it returns the ceilings measured so far with it.
func All(ctx context.Context, cfg AllConfig) ([]report.Ceiling, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	// The same batch size as the node's inbox producer (ingest/inbox), so the webhook stage is compared with the
	// producer it uses.
	kc := KafkaConfig{Brokers: cfg.Brokers, Duration: cfg.Duration, BatchSize: 256}
	runs := []func() (report.Ceiling, error){
		func() (report.Ceiling, error) { return HTTPJSON(ctx, HTTPConfig{Duration: cfg.Duration}) },
		func() (report.Ceiling, error) { return KafkaProduce(ctx, kc) },
		func() (report.Ceiling, error) { return KafkaConsume(ctx, kc) },
		func() (report.Ceiling, error) { return Hollywood(ctx, HollywoodConfig{Duration: cfg.Duration}) },
		func() (report.Ceiling, error) {
			return PebbleSync(ctx, PebbleConfig{Dir: cfg.Dir, Duration: cfg.Duration})
		},
	}
	out := make([]report.Ceiling, 0, len(runs))
	for _, run := range runs {
		// The previous measurement's garbage would otherwise be collected during the next one, on its time.
		runtime.GC()
		c, err := run()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

// latencies records operation latencies from many goroutines. The measured operations take microseconds to
// milliseconds, so a mutex around one histogram costs less than one histogram per worker (256 of them would be
// tens of MB).
type latencies struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// latencyMax is the largest latency recorded as itself; longer ones are recorded as latencyMax.
const latencyMax = time.Minute

func newLatencies() *latencies {
	// Microseconds, 3 significant digits.
	return &latencies{h: hdrhistogram.New(1, latencyMax.Microseconds(), 3)}
}

func (l *latencies) record(d time.Duration) {
	us := min(max(d.Microseconds(), 1), latencyMax.Microseconds())
	l.mu.Lock()
	_ = l.h.RecordValue(us) // cannot fail: us is within the histogram's range
	l.mu.Unlock()
}

// summary returns the distribution in milliseconds.
func (l *latencies) summary() report.Latency {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return report.Latency{
		Count: l.h.TotalCount(),
		Mean:  l.h.Mean() / 1000,
		P50:   ms(l.h.ValueAtQuantile(50)),
		P90:   ms(l.h.ValueAtQuantile(90)),
		P99:   ms(l.h.ValueAtQuantile(99)),
		P999:  ms(l.h.ValueAtQuantile(99.9)),
		Max:   ms(l.h.Max()),
	}
}

// loop runs op in a closed loop on workers goroutines until d has passed or ctx ends, recording each op's latency
// in lat. It returns how many ops completed and the time from the start until the last worker returned, which is
// never less than d: ops in flight when d passes are waited for and counted, and each worker completes at least
// one, so a run on a slow machine still measures something. The first error of an op ends the run (op's ctx is
// then cancelled) and is returned; ctx's error is returned when ctx ended the run.
func loop(ctx context.Context, d time.Duration, workers int, lat *latencies, op func(ctx context.Context, worker int) error) (int64, time.Duration, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now() // before the timer, so that elapsed is at least d
	var stop atomic.Bool
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	unwatch := context.AfterFunc(runCtx, func() { stop.Store(true) })
	defer unwatch()

	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	counts := make([]int64, workers)
	for w := range workers {
		wg.Go(func() {
			var n int64
			defer func() { counts[w] = n }()
			for {
				t0 := time.Now()
				if err := op(runCtx, w); err != nil {
					once.Do(func() { first = err })
					cancel()
					return
				}
				lat.record(time.Since(t0))
				n++
				if stop.Load() {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return 0, elapsed, err
	}
	if first != nil {
		return 0, elapsed, first
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	return total, elapsed, nil
}

// measured is the ceiling of a loop run: its error, or ErrNothingMeasured when it completed nothing, or its
// throughput and latencies.
func measured(name, description string, n int64, elapsed time.Duration, lat *latencies, err error) (report.Ceiling, error) {
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	if n == 0 {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, ErrNothingMeasured)
	}
	return report.Ceiling{Name: name, Description: description, Throughput: rate(n, elapsed), Latency: lat.summary()}, nil
}

// rate is n per second over d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
