// Package routing benchmarks the routing path end to end on one node: signed webhooks of new customers arrive
// open-loop at a fixed rate; each becomes a conversation that the tenant's dispatcher assigns to an online operator;
// the latency is from the intended send time of the webhook to the moment its conversation.assigned event is read
// from switchboard.events (so it includes the outbox relay), measured from the intended time so that a stalled node
// cannot hide its delay.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/routing/
//
// BENCH_SECONDS (default 3) sets each rate's duration; BENCH_RATES (default 1000,5000,10000) the rates.
// BENCH_MEMPROFILE=path writes the process's allocation profile at the start of each rate's window
// (path.rate.before) and at its end (path.rate), so that
//
//	go tool pprof -sample_index=alloc_objects -base path.1000.before path.1000
//
// shows only the window's allocations (run with -memprofilerate=1 for exact counts; any -memprofile makes the
// testing package set the rate).
package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const operators = 50

func config() string {
	var b strings.Builder
	b.WriteString(`tenants:
  - id: bench
    channels:
      - id: bench-wa
        type: whatsapp
        phone_number_id: "111"
        app_secret: "bench-secret"
        verify_token: "bench-verify"
    operators:
`)
	for i := 0; i < operators; i++ {
		fmt.Fprintf(&b, "      - {id: op%d, capacity: 10000, token: \"bench-token-%010d\"}\n", i, i)
	}
	return b.String()
}

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type bench struct {
	n     *node.Node
	url   string
	kafka string
	// rounds counts the runs so far: each run's customers and wamids are new, also when the testing package calls
	// a sub-benchmark again (-count, or its b.N probing), so no run's messages are duplicates of an earlier one's.
	rounds int
}

func start(b *testing.B) *bench {
	cfg, err := tenant.Parse([]byte(config()))
	if err != nil {
		b.Fatal(err)
	}
	kafkaAddr := freeAddr(b)
	n, err := node.New(context.Background(), node.Config{
		Tenants: cfg, DataDir: b.TempDir(), HTTPAddr: freeAddr(b), EmbeddedKafkaAddr: kafkaAddr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; n.Close() })
	be := &bench{n: n, url: "http://" + n.HTTPAddr(), kafka: kafkaAddr}
	for i := 0; i < operators; i++ {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(be.url + "/v1/operators/me/availability")
		req.Header.SetMethod("PUT")
		req.Header.Set("Authorization", fmt.Sprintf("Bearer bench-token-%010d", i))
		req.SetBodyString(`{"availability":"online"}`)
		eventually.NoError(b, 30*time.Second, 50*time.Millisecond, func() error {
			if err := fasthttp.Do(req, resp); err != nil {
				return err
			}
			if resp.StatusCode() != 200 {
				return fmt.Errorf("%d %s", resp.StatusCode(), resp.Body())
			}
			return nil
		}, "operator %d online", i)
	}
	return be
}

func BenchmarkRoutingLatency(b *testing.B) {
	seconds := 3.0
	if v, err := strconv.ParseFloat(os.Getenv("BENCH_SECONDS"), 64); err == nil && v > 0 {
		seconds = v
	}
	rates := []int{1000, 5000, 10000}
	if v := os.Getenv("BENCH_RATES"); v != "" {
		rates = nil
		for _, s := range strings.Split(v, ",") {
			r, err := strconv.Atoi(s)
			if err != nil {
				b.Fatal(err)
			}
			rates = append(rates, r)
		}
	}
	be := start(b)
	for _, rate := range rates {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			be.rounds++
			be.run(b, be.rounds, rate, time.Duration(seconds*float64(time.Second)))
		})
	}
}

func (be *bench) run(b *testing.B, round, rate int, d time.Duration) {
	total := int(float64(rate) * d.Seconds())
	intended := make(map[string]time.Time, total)
	ids := make([]string, total)
	start := time.Now().Add(100 * time.Millisecond)
	ts := time.Now().Unix()
	for i := 0; i < total; i++ {
		from := fmt.Sprintf("27%02d%08d", round, i)
		ids[i] = conversation.ID("bench-wa", from)
		intended[ids[i]] = start.Add(time.Duration(i) * time.Second / time.Duration(rate))
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, total)
	ctx, cancel := context.WithTimeout(context.Background(), d+60*time.Second)
	defer cancel()
	// One reader per partition, each from the log end, started before anything is sent.
	conn, err := kafka.Dial("tcp", be.kafka)
	if err != nil {
		b.Fatal(err)
	}
	parts, err := conn.ReadPartitions("switchboard.events")
	conn.Close()
	if err != nil {
		b.Fatal(err)
	}
	// Events are keyed by tenant: only the bench tenant's partition carries them.
	ids0 := make([]int, len(parts))
	for i := range parts {
		ids0[i] = parts[i].ID
	}
	sort.Ints(ids0) // the writer balances over the partitions in id order
	only := (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte("bench")}, ids0...)
	for _, p := range parts {
		if p.ID != only {
			continue
		}
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{be.kafka}, Topic: "switchboard.events",
			Partition: p.ID, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: inbox.FetchWait(5 * time.Millisecond)})
		if err := rd.SetOffset(kafka.LastOffset); err != nil {
			b.Fatal(err)
		}
		defer rd.Close()
		go func() {
			for {
				m, err := rd.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						b.Logf("events reader: %v", err)
					}
					return
				}
				var ev struct {
					Type           string `json:"type"`
					ConversationID string `json:"conversation_id"`
				}
				if json.Unmarshal(m.Value, &ev) != nil || ev.Type != conversation.EventAssigned {
					continue
				}
				if t0, ok := intended[ev.ConversationID]; ok {
					mu.Lock()
					lat = append(lat, time.Since(t0))
					n := len(lat)
					mu.Unlock()
					if n == total {
						cancel()
						return
					}
				}
			}
		}()
	}
	// The webhooks are built and signed before the window, so that its allocations are the node's and the HTTP
	// client's (building one with meta.Payload costs about 90 allocations, as many as half the node's).
	bodies, sigs := make([][]byte, total), make([]string, total)
	for i := range bodies {
		bodies[i] = webhook(fmt.Sprintf("27%02d%08d", round, i), fmt.Sprintf("wamid.b%d-%d", round, i), ts)
		sigs[i] = meta.Sign("bench-secret", bodies[i])
	}
	memProfile(b, fmt.Sprintf("%d.before", rate))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore, mallocsBefore := ms.HeapAlloc, ms.Mallocs

	b.ResetTimer()
	var failures atomic.Int64
	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	for i := 0; i < total; i++ {
		if w := time.Until(intended[ids[i]]); w > 0 {
			time.Sleep(w)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if !be.post(bodies[i], sigs[i]) {
				failures.Add(1)
			}
		}(i)
	}
	wg.Wait()
	sent := time.Since(start)
	<-ctx.Done()
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	runtime.ReadMemStats(&ms)
	memProfile(b, strconv.Itoa(rate))
	if len(lat) == 0 {
		b.Fatalf("no assignment seen (%d webhooks failed)", failures.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if os.Getenv("BENCH_DEBUG") != "" {
		_, body, _ := fasthttp.Get(nil, be.url+"/metrics")
		_ = os.WriteFile(os.Getenv("BENCH_DEBUG"), body, 0o644)
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "switchboard_") && !strings.Contains(l, "_bucket") {
				b.Log(l)
			}
		}
	}
	b.ReportMetric(float64(total)/sent.Seconds(), "sent/s")
	b.ReportMetric(float64(len(lat))/float64(total)*100, "assigned-%")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(failures.Load()), "failed")
	b.ReportMetric(float64(int64(ms.HeapAlloc)-int64(heapBefore))/float64(total), "heap-B/conv")
	// Every allocation of the process per webhook: the node's ingest, router, relay and event reader, and the load
	// generator's HTTP client and its reader of switchboard.events (an upper bound for the node alone; the
	// webhooks were built and signed before the window).
	b.ReportMetric(float64(ms.Mallocs-mallocsBefore)/float64(total), "allocs/msg")
}

// memProfile writes the allocation profile to $BENCH_MEMPROFILE.suffix when that variable is set.
func memProfile(b *testing.B, suffix string) {
	path := os.Getenv("BENCH_MEMPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path + "." + suffix)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC() // the profile counts allocations up to the last completed collection
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

var client = &fasthttp.Client{MaxConnsPerHost: 1024}

// webhook is the signed body of one customer's text message.
func webhook(from, id string, ts int64) []byte {
	return meta.Payload(meta.Change{PhoneNumberID: "111", Messages: []meta.Message{{From: from, ID: id, Timestamp: ts, Text: "hello"}}})
}

func (be *bench) post(body []byte, sig string) bool {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(be.url + "/webhooks/whatsapp")
	req.Header.SetMethod("POST")
	req.Header.Set(meta.SignatureHeader, sig)
	req.SetBodyRaw(body)
	return client.Do(req, resp) == nil && resp.StatusCode() == 200
}
