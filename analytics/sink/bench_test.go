package sink_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/sink"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// events returns n distinct events encoded as the relay produces them: random lifecycles played through the real
// rules, copied with their conversation ids (and so their event ids) made distinct per copy.
func events(b *testing.B, n int) [][]byte {
	sim := scenario.New(b, "acme", "acme-wa")
	scenario.Random(sim, rand.New(rand.NewPCG(5, 6)), []string{"alice", "bob", "carol"}, []string{"billing", "vip"},
		time.Now().Add(-3*time.Hour), 2*time.Hour, 4000)
	pool := scenario.JSON(b, sim.Events)
	convs := make([][]byte, len(sim.Events))
	for i, e := range sim.Events {
		convs[i] = []byte(e.ConversationID)
	}
	out := make([][]byte, 0, n)
	for k := 0; len(out) < n; k++ {
		suffix := []byte("x" + strconv.Itoa(k))
		for i := 0; i < len(pool) && len(out) < n; i++ {
			out = append(out, bytes.ReplaceAll(pool[i], convs[i], append(convs[i][:len(convs[i]):len(convs[i])], suffix...)))
		}
	}
	return out
}

func (e *env) produceAll(values [][]byte) {
	e.t.Helper()
	for i := 0; i < len(values); i += 10000 {
		e.produce("acme", values[i:min(i+10000, len(values))]...)
	}
}

// BenchmarkSinkThroughput measures how fast one sink stores a backlog of 300,000 events: from its start (group join
// included) until ClickHouse holds them all.
func BenchmarkSinkThroughput(b *testing.B) {
	e := newEnv(b)
	const n = 300000
	e.produceAll(events(b, n))
	b.ResetTimer()
	var rate float64
	for i := 0; b.Loop(); i++ {
		reg := prometheus.NewRegistry()
		cfg := testConfig(e.brokers, e.ch.Addr())
		cfg.Group = fmt.Sprintf("bench-%d", i)
		cfg.FlushInterval = time.Second
		cfg.Registerer = reg
		s, err := sink.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- s.Run(ctx) }()
		var first time.Time
		eventually.True(b, 10*time.Minute, 5*time.Millisecond, func() bool {
			v := gathered(b, reg, "switchboard_analytics_rows_total")
			if v > 0 && first.IsZero() {
				first = time.Now()
			}
			return v >= n
		}, "%v rows stored", n)
		total := time.Since(start)
		rate = n / total.Seconds()
		b.Logf("%d events in %v (first batch stored after %v): %.0f events/s", n, total.Round(time.Millisecond),
			first.Sub(start).Round(time.Millisecond), rate)
		cancel()
		<-done
		s.Close()
	}
	b.ReportMetric(rate, "events/s")
}

// BenchmarkSinkLag20k produces 20,000 events/s for 10 s into a running sink with the default batching (10,000
// events or 1 s) and reports the lag: the most records behind seen (sampled every 50 ms), and the delay from a
// batch's oldest record being produced to its storage.
func BenchmarkSinkLag20k(b *testing.B) {
	e := newEnv(b)
	const rate, seconds = 20000, 10
	values := events(b, rate*seconds)
	reg := prometheus.NewRegistry()
	cfg := testConfig(e.brokers, e.ch.Addr())
	cfg.FlushInterval = 0 // the default, 1 s
	cfg.Registerer = reg
	s, err := sink.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done; s.Close() }()
	e.produce("acme", values[0])
	eventually.True(b, time.Minute, 10*time.Millisecond, func() bool {
		return gathered(b, reg, "switchboard_analytics_rows_total") >= 1
	}, "the first event stored")
	w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: inbox.EventsTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, BatchSize: 1000}
	defer w.Close()
	b.ResetTimer()
	for b.Loop() {
		var maxLag float64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					maxLag = max(maxLag, gathered(b, reg, "switchboard_analytics_lag"))
				}
			}
		}()
		// 200 events every 10 ms.
		start := time.Now()
		const step = 200
		for i := 1; i < len(values); i += step {
			if d := time.Until(start.Add(time.Duration(i/step) * 10 * time.Millisecond)); d > 0 {
				time.Sleep(d)
			}
			msgs := make([]kafka.Message, 0, step)
			for _, v := range values[i:min(i+step, len(values))] {
				msgs = append(msgs, kafka.Message{Key: []byte("acme"), Value: v})
			}
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
		}
		produced := time.Since(start)
		eventually.True(b, 10*time.Minute, 10*time.Millisecond, func() bool {
			return gathered(b, reg, "switchboard_analytics_rows_total") >= float64(len(values))
		}, "%d events stored", len(values))
		caughtUp := time.Since(start)
		close(stop)
		<-sampled
		mean, p99 := histogram(b, reg, "switchboard_analytics_delay_seconds")
		b.Logf("produced %d events in %v (%.0f/s); all stored %v after the start; most records behind %0.f; "+
			"batch delay mean %.3fs, p99 ≤ %.3gs", len(values), produced.Round(time.Millisecond),
			float64(len(values))/produced.Seconds(), caughtUp.Round(time.Millisecond), maxLag, mean, p99)
		b.ReportMetric(maxLag, "max-lag-records")
		b.ReportMetric(mean, "mean-delay-s")
		b.ReportMetric(p99, "p99-delay-s")
		b.ReportMetric((caughtUp - produced).Seconds(), "catch-up-s")
	}
}

func gathered(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// histogram returns the mean of a histogram and the upper bound of the bucket that holds its 99th percentile.
func histogram(tb testing.TB, reg *prometheus.Registry, name string) (mean, p99 float64) {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var h *dto.Histogram = mf.GetMetric()[0].GetHistogram()
		n := float64(h.GetSampleCount())
		if n == 0 {
			return 0, 0
		}
		for _, bk := range h.GetBucket() {
			if float64(bk.GetCumulativeCount()) >= 0.99*n {
				return h.GetSampleSum() / n, bk.GetUpperBound()
			}
		}
		return h.GetSampleSum() / n, 0
	}
	return 0, 0
}
