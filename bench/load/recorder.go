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

// maxBuckets bounds the time buckets of a stage: a long run (a soak of hours) gets buckets wider than a second, so
// a stage holds at most about 25 MB of histograms however long it runs.
const maxBuckets = 900

// stage times one stage: a latency histogram per bucket of intended time (the bucket its input was due in), and
// per bucket of completion the completions and errors, for throughput over time. A bucket is width seconds (1 for
// runs up to maxBuckets seconds). Safe for concurrent use.
type stage struct {
	name  string
	start time.Time
	width int // seconds per bucket
	mu    sync.Mutex
	hist  []*hdrhistogram.Histogram // by intended second
	done  []int64                   // completions by completion second
	errs  []int64                   // errors by the second they happened
}

func newStage(name string, start time.Time, seconds int) *stage {
	width := max(1, (seconds+maxBuckets-1)/maxBuckets)
	n := seconds/width + 1
	return &stage{name: name, start: start, width: width, hist: make([]*hdrhistogram.Histogram, 0, n),
		done: make([]int64, 0, n), errs: make([]int64, 0, n)}
}

// bucket is the bucket of t, at least 0.
func (s *stage) bucket(t time.Time) int {
	d := t.Sub(s.start)
	if d < 0 {
		return 0
	}
	return int(d/time.Second) / s.width
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
	is, ds := s.bucket(intended), s.bucket(done)
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
	i := s.bucket(t)
	s.mu.Lock()
	s.errs = grow(s.errs, i)
	s.errs[i]++
	s.mu.Unlock()
}

// window sums the buckets of seconds [from, to) (widened to whole buckets): the latencies of inputs due then, the
// completions and the errors.
func (s *stage) window(from, to int) (h *hdrhistogram.Histogram, done, errs int64) {
	h = hdrhistogram.New(1, maxLatency, sigFigs)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := from / s.width; i < (to+s.width-1)/s.width; i++ {
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

// seconds is how many seconds the stage has data for (whole buckets).
func (s *stage) seconds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(len(s.hist), len(s.done), len(s.errs)) * s.width
}
