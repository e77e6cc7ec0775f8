package router

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// BenchmarkConversationMemory applies one customer message to each of N new conversations through the tenant and
// conversation actors and the Pebble store (no Kafka: records are handed to the tenant actor directly), then
// measures the heap per conversation while their actors are active, once they have dropped their conversations
// (trimmed, idle for half of IdleAfter) and after they are passivated, and the rate of the actor + store stage.
//
//	BENCH_CONVERSATIONS=100000 go test -run '^$' -bench ConversationMemory -benchtime 1x ./actors/router/
//
// BENCH_HEAPPROFILE=PATH writes a heap profile while the actors are active.
func BenchmarkConversationMemory(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("BENCH_CONVERSATIONS")); err == nil && v > 0 {
		n = v
	}
	cfg, err := tenant.Parse([]byte(`tenants:
  - id: mem
    channels:
      - {id: mem-wa, type: whatsapp, phone_number_id: "1", app_secret: "s", verify_token: "v"}
`))
	if err != nil {
		b.Fatal(err)
	}
	st := storetest.Open(b, store.Config{})
	reg := prometheus.NewRegistry()
	r, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Store: st, Directory: tenant.NewDirectory(cfg),
		Outcomes: outcome.NewRegistry(), IdleAfter: 15 * time.Second, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	// Passivated actors stop after passivate returns; their stopped events say when they are gone.
	var stopped atomic.Int64
	events := r.engine.SpawnFunc(func(c *actor.Context) {
		if _, ok := c.Message().(actor.ActorStoppedEvent); ok {
			stopped.Add(1)
		}
	}, "bench-events")
	r.engine.Subscribe(events)
	pid := r.engine.Spawn(func() actor.Receiver { return &tenantActor{r: r, tenant: "mem", lastAvail: map[string]int{}} },
		"tenant", actor.WithID("mem-bench"), actor.WithInboxSize(1024))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	ts := time.Now().Unix()
	sem := make(chan struct{}, 4096) // the partition consumer's in-flight bound
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		ack := &recordAck{finish: func() { <-sem; wg.Done() }}
		ack.remaining.Store(1)
		rec := inbox.Record{Tenant: "mem", IngestAt: time.Now().UnixMilli(), Items: []inbox.Item{{Kind: inbox.KindMessage,
			Channel: "mem-wa", Message: &inbox.Message{ID: fmt.Sprintf("wamid.m%d", i), From: fmt.Sprintf("27%010d", i),
				Type: "text", Timestamp: ts, Text: "hello"}}}}
		r.engine.Send(pid, &recordMsg{rec: rec, offset: int64(i), ack: ack})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	active := float64(int64(ms.HeapAlloc)-int64(heap0)) / float64(n)
	if path := os.Getenv("BENCH_HEAPPROFILE"); path != "" {
		// What the active actors hold: go tool pprof -sample_index=inuse_space PATH
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	// With many conversations the run outlasts IdleAfter and passivation starts during it: the active figure is
	// then not per active actor, and is not reported.
	allActive := gauge(r.metrics.actorsActive) == float64(n)
	// Idle for half of IdleAfter, the actors drop their conversations (trimMsg) before they are passivated.
	trimmed := -1.0
	if allActive {
		eventually.NoError(b, 5*time.Minute, 50*time.Millisecond, func() error {
			if t := r.trims.Load(); t < int64(n) {
				return fmt.Errorf("%d of %d actors trimmed", t, n)
			}
			return nil
		}, "every conversation actor trimmed")
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if gauge(r.metrics.actorsActive) == float64(n) {
			trimmed = float64(int64(ms.HeapAlloc)-int64(heap0)) / float64(n)
		}
	}
	eventually.NoError(b, 5*time.Minute, 100*time.Millisecond, func() error {
		if active, gone := gauge(r.metrics.actorsActive), stopped.Load(); active > 0 || gone < int64(n) {
			return fmt.Errorf("%v actors active, %d of %d stopped", active, gone, n)
		}
		return nil
	}, "every conversation actor passivated and stopped")
	runtime.GC()
	runtime.ReadMemStats(&ms)
	idle := float64(int64(ms.HeapAlloc)-int64(heap0)) / float64(n)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(rssMiB(), "RSS-MiB")
	if allActive {
		b.ReportMetric(active, "heap-B/active-conv")
	}
	if trimmed >= 0 {
		b.ReportMetric(trimmed, "heap-B/trimmed-conv")
	}
	b.ReportMetric(idle, "heap-B/idle-conv")
	<-r.engine.Poison(pid).Done()
}

func gauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		panic(err)
	}
	return m.GetGauge().GetValue()
}

// rssMiB is the process's resident set size in MiB, from /proc (0 where there is none).
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
