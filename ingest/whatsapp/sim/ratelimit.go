package sim

import (
	"sync"
	"time"
)

// bucket is a token bucket: it holds up to burst tokens and gains rate tokens per second. Times are offsets from
// the simulator's start on the monotonic clock, so tests can drive it with synthetic times.
type bucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Duration
}

func newBucket(rate, burst int) bucket {
	return bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// take takes one token at now if there is one.
func (b *bucket) take(now time.Duration) bool {
	if now > b.last {
		b.tokens += float64(now-b.last) * b.rate / float64(time.Second)
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// window counts events in the last second and keeps the most it ever counted: the peak of a rolling one-second
// window. It holds the times of the events of the last second, so its memory is bounded by what the bucket admits
// in a second (burst + rate).
type window struct {
	ring []time.Duration // ring[head], … ring[head+n-1] (mod len) are the times in the last second, oldest first
	head int
	n    int
	max  int
}

// add counts an event at now (not before the previous one) and returns the count of the second ending at now.
func (w *window) add(now time.Duration) int {
	for w.n > 0 && w.ring[w.head] <= now-time.Second {
		w.head = (w.head + 1) % len(w.ring)
		w.n--
	}
	if w.n == len(w.ring) {
		grown := make([]time.Duration, max(16, 2*len(w.ring)))
		for i := range w.n {
			grown[i] = w.ring[(w.head+i)%len(w.ring)]
		}
		w.ring, w.head = grown, 0
	}
	w.ring[(w.head+w.n)%len(w.ring)] = now
	w.n++
	if w.n > w.max {
		w.max = w.n
	}
	return w.n
}

// number is the rate-limit state of one phone number id.
type number struct {
	mu     sync.Mutex
	bucket bucket
	window window
}
