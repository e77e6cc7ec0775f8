package metrichandles

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestSetCountsIntoTheVector checks that a handle is the vector's own series (a count through the Set is the
// vector's count), resolved once per key, and that keys beyond Max are still counted.
func TestSetCountsIntoTheVector(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a", "b"})
	resolved := 0
	s := &Set[[2]string, prometheus.Counter]{Max: 2, Resolve: func(k [2]string) prometheus.Counter {
		resolved++
		return vec.WithLabelValues(k[0], k[1])
	}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				s.Get([2]string{"send", "ok"}).Inc()
			}
		})
	}
	wg.Wait()
	s.Get([2]string{"close", "ok"}).Inc()
	s.Get([2]string{"take", "refused"}).Inc() // beyond Max: resolved, counted, not kept
	s.Get([2]string{"take", "refused"}).Inc()
	for k, want := range map[[2]string]float64{{"send", "ok"}: 400, {"close", "ok"}: 1, {"take", "refused"}: 2} {
		if got := value(t, vec.WithLabelValues(k[0], k[1])); got != want {
			t.Errorf("%v = %v, want %v", k, got, want)
		}
	}
	if n := len(*s.kept.Load()); n != 2 {
		t.Errorf("%d handles kept, want 2 (Max)", n)
	}
	if resolved != 4 {
		t.Errorf("resolved %d times, want 4 (once per kept key, each time beyond)", resolved)
	}
}

func BenchmarkCounter(b *testing.B) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"type", "result"})
	typ, res := "send", "ok"
	b.Run("WithLabelValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vec.WithLabelValues(typ, res).Inc()
		}
	})
	s := New(func(k [2]string) prometheus.Counter { return vec.WithLabelValues(k[0], k[1]) })
	b.Run("Set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Get([2]string{typ, res}).Inc()
		}
	})
}
