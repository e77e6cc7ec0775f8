package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// NodeSample is one reading of the node's /metrics.
type NodeSample struct {
	// T is seconds since the run's start.
	T float64
	// CPUSeconds is process_cpu_seconds_total; RSS process_resident_memory_bytes; Heap go_memstats_heap_alloc_bytes;
	// Lag the sum of switchboard_consumer_lag; Applied the sum of switchboard_records_applied_total.
	CPUSeconds, RSS, Heap, Lag, Applied float64
	// SelfCPUSeconds is the CPU time this process (the load generator, and the simulator when it runs in it) has
	// used, user and system.
	SelfCPUSeconds float64
}

// selfCPU is this process's CPU time so far, user and system, in seconds; 0 if it cannot be read.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// sampler reads the node's /metrics once a second: its CPU and memory (the process collector's figures, so a node
// on another process or machine reads the same) and the router's consumer lag.
type sampler struct {
	url   string
	start time.Time
	mu    sync.Mutex
	got   []NodeSample
}

func newSampler(base string, start time.Time) *sampler {
	return &sampler{url: base + "/metrics", start: start}
}

func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if smp, ok := Scrape(s.url); ok {
			smp.T = time.Since(s.start).Seconds()
			smp.SelfCPUSeconds = selfCPU()
			s.mu.Lock()
			s.got = append(s.got, smp)
			s.mu.Unlock()
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (s *sampler) samples() []NodeSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]NodeSample(nil), s.got...)
}

// Scrape reads a node's /metrics at url once; ok is false when it did not answer 200.
func Scrape(url string) (NodeSample, bool) {
	v, err := Metrics(url, "process_cpu_seconds_total", "process_resident_memory_bytes", "go_memstats_heap_alloc_bytes",
		"switchboard_consumer_lag", "switchboard_records_applied_total")
	if err != nil {
		return NodeSample{}, false
	}
	return NodeSample{CPUSeconds: v[0], RSS: v[1], Heap: v[2], Lag: v[3], Applied: v[4]}, true
}

// Metrics reads a node's /metrics at url once and returns, for each name, the sum of its samples (every label set;
// a name given with labels, e.g. `switchboard_events_total{type="conversation.assigned"}`, sums the samples whose
// labels start with them).
func Metrics(url string, names ...string) ([]float64, error) {
	code, body, err := fasthttp.GetTimeout(nil, url, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	if code != fasthttp.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %d", url, code)
	}
	out := make([]float64, len(names))
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series := line[:sp]
		for i, n := range names {
			match := series == n
			if !match && strings.HasPrefix(series, strings.TrimSuffix(n, "}")) {
				rest := series[len(strings.TrimSuffix(n, "}")):]
				match = rest != "" && (strings.HasSuffix(n, "}") && (rest[0] == ',' || rest[0] == '}') || rest[0] == '{')
			}
			if match {
				if v, err := strconv.ParseFloat(line[sp+1:], 64); err == nil {
					out[i] += v
				}
			}
		}
	}
	return out, nil
}
