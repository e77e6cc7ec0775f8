package load

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1µs to maxLatency, with 2 significant digits (1% resolution):
// about 27 KB per histogram, one per second of the run and stage.
const (
	maxLatency = int64(10 * time.Minute / time.Microsecond)
	sigFigs    = 2
)

// stage times one stage: a latency histogram per second of intended time (the second its input was due), and
// per second of completion the completions and errors, for throughput over time. Safe for concurrent use.
type stage struct {
	name  string
	start time.Time
	mu    sync.Mutex
	hist  []*hdrhistogram.Histogram // by intended second
	done  []int64                   // completions by completion second
	errs  []int64                   // errors by the second they happened
}

func newStage(name string, start time.Time, seconds int) *stage {
	return &stage{name: name, start: start, hist: make([]*hdrhistogram.Histogram, 0, seconds),
		done: make([]int64, 0, seconds), errs: make([]int64, 0, seconds)}
}

// second is t's second since the start, at least 0.
func (s *stage) second(t time.Time) int {
	d := t.Sub(s.start)
	if d < 0 {
		return 0
	}
	return int(d / time.Second)
}

func grow[T any](v []T, i int) []T {
	for len(v) <= i {
		var zero T
		v = append(v, zero)
	}
	return v
}

// observe records an input due at intended and completed at done.
func (s *stage) observe(intended, done time.Time) {
	us := done.Sub(intended).Microseconds()
	if us < 1 {
		us = 1
	}
	if us > maxLatency {
		us = maxLatency
	}
	is, ds := s.second(intended), s.second(done)
	s.mu.Lock()
	s.hist = grow(s.hist, is)
	if s.hist[is] == nil {
		s.hist[is] = hdrhistogram.New(1, maxLatency, sigFigs)
	}
	_ = s.hist[is].RecordValue(us)
	s.done = grow(s.done, ds)
	s.done[ds]++
	s.mu.Unlock()
}

// fail counts an error at t.
func (s *stage) fail(t time.Time) {
	i := s.second(t)
	s.mu.Lock()
	s.errs = grow(s.errs, i)
	s.errs[i]++
	s.mu.Unlock()
}

// window sums seconds [from, to): the latencies of inputs due then, the completions and the errors.
func (s *stage) window(from, to int) (h *hdrhistogram.Histogram, done, errs int64) {
	h = hdrhistogram.New(1, maxLatency, sigFigs)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := from; i < to; i++ {
		if i < len(s.hist) && s.hist[i] != nil {
			h.Merge(s.hist[i])
		}
		if i < len(s.done) {
			done += s.done[i]
		}
		if i < len(s.errs) {
			errs += s.errs[i]
		}
	}
	return h, done, errs
}

// seconds is how many seconds the stage has data for.
func (s *stage) seconds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(len(s.hist), len(s.done), len(s.errs))
}
