package report

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latencyPercentiles are the percentiles a Latency holds, in the order of its fields.
var latencyPercentiles = []float64{50, 90, 99, 99.9}

// LatencyFromHistogram summarises h as a Latency in milliseconds. unit is what one recorded value stands for
// (time.Microsecond when the producer recorded microseconds). A nil or empty histogram gives the zero Latency.
// The figures carry the histogram's precision: each is the highest value equivalent to the recorded one.
func LatencyFromHistogram(h *hdrhistogram.Histogram, unit time.Duration) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := float64(unit) / float64(time.Millisecond)
	q := h.ValueAtPercentilesSlice(latencyPercentiles)
	return Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() * ms,
		P50:   float64(q[0]) * ms,
		P90:   float64(q[1]) * ms,
		P99:   float64(q[2]) * ms,
		P999:  float64(q[3]) * ms,
		Max:   float64(h.Max()) * ms,
	}
}
