// Package metrichandles keeps the children of Prometheus metric vectors that a hot path counts into, resolved once
// per label value (issue 15): a vector's WithLabelValues hashes its labels and takes the vector's lock on every
// call, where a resolved handle is one map read without a lock.
package metrichandles

import (
	"sync"
	"sync/atomic"
)

// DefaultMax is the number of handles a Set keeps when its Max is 0.
const DefaultMax = 256

// Set resolves handles by key (a label value, or an array of them) once and keeps them, at most Max; a key beyond
// them is resolved on every call, as without a Set. Reads take no lock: the kept handles are a map replaced, never
// changed, when one is added. The zero value is not usable: give it Resolve. A Set is safe for concurrent use.
//
// A kept handle stays valid while its series is never deleted from the vector: do not keep handles of a vector
// whose series are deleted (DeleteLabelValues, Reset).
type Set[K comparable, M any] struct {
	// Resolve returns the metric of a key, e.g. func(k string) prometheus.Counter { return vec.WithLabelValues(k) }.
	Resolve func(K) M
	// Max bounds the handles kept; 0 means DefaultMax.
	Max int

	mu   sync.Mutex // serialises additions
	kept atomic.Pointer[map[K]M]
}

// New returns a Set resolving keys with resolve, keeping at most DefaultMax handles.
func New[K comparable, M any](resolve func(K) M) *Set[K, M] { return &Set[K, M]{Resolve: resolve} }

// Get returns the handle of k, resolving and keeping it on its first use.
func (s *Set[K, M]) Get(k K) M {
	if m := s.kept.Load(); m != nil {
		if h, ok := (*m)[k]; ok {
			return h
		}
	}
	return s.add(k)
}

func (s *Set[K, M]) add(k K) M {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.kept.Load()
	if old != nil {
		if h, ok := (*old)[k]; ok {
			return h
		}
	}
	h := s.Resolve(k)
	max := s.Max
	if max == 0 {
		max = DefaultMax
	}
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n >= max {
		return h
	}
	next := make(map[K]M, n+1)
	if old != nil {
		for key, v := range *old {
			next[key] = v
		}
	}
	next[k] = h
	s.kept.Store(&next)
	return h
}
