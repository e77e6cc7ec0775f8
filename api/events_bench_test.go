package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/live"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
)

// startB serves the API with hub for a benchmark.
func startB(b *testing.B, hub *live.Hub) *env {
	cfg, err := tenant.Load("testdata/tenants.yaml")
	if err != nil {
		b.Fatal(err)
	}
	st := storetest.Open(b, store.Config{})
	a, err := api.New(api.Config{Directory: tenant.NewDirectory(cfg), Reader: node.APIReader(st),
		Logger: slog.New(slog.DiscardHandler), EdgeConfig: api.EdgeConfig{Live: hub}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: a.Serve}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return &env{url: "http://" + ln.Addr().String(), store: st}
}

// BenchmarkEventLatency measures an event's way from durable in switchboard.events (the producer's acknowledged
// write) to read by every connected stream: the feed's fetch, the hub, the SSE write and the client's read. It
// runs at a fixed event rate per sub-benchmark, and reports the p50 and p99 over every (event, client) pair, timed from the start of the produce call (so they include
// the producer's acknowledgement and bound the durable → read time from above); it asserts nothing about time.
func BenchmarkEventLatency(b *testing.B) {
	for _, c := range []struct {
		clients int
		every   time.Duration
	}{{10, 5 * time.Millisecond}, {1000, 5 * time.Millisecond}, {1000, 50 * time.Millisecond}} {
		clients := c.clients
		b.Run(fmt.Sprintf("clients=%d/every=%s", clients, c.every), func(b *testing.B) {
			l := startLive(b, live.Config{MaxPerOperator: clients, BufferSize: 4096}, nil)
			var mu sync.Mutex
			sent := map[string]time.Time{}
			type arrival struct {
				id string
				at time.Time
			}
			var arrivals []arrival
			var wg sync.WaitGroup
			ready := make(chan struct{}, clients)
			tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: clients}
			hc := &http.Client{Transport: tr}
			for range clients {
				req, _ := http.NewRequest("GET", l.url+"/v1/events", nil)
				req.Header.Set("Authorization", "Bearer "+aliceToken)
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("open stream: %v %v", err, resp)
				}
				b.Cleanup(func() { resp.Body.Close() })
				wg.Go(func() {
					sc := bufio.NewScanner(resp.Body)
					first := true
					for sc.Scan() {
						line := sc.Text()
						if first && line == "" {
							first = false
							ready <- struct{}{}
							continue
						}
						data, ok := strings.CutPrefix(line, "data: ")
						if !ok {
							continue
						}
						at := time.Now()
						var v struct {
							ID string `json:"id"`
						}
						_ = json.Unmarshal([]byte(data), &v)
						mu.Lock()
						arrivals = append(arrivals, arrival{v.ID, at})
						mu.Unlock()
					}
				})
			}
			for range clients {
				<-ready
			}
			b.ResetTimer()
			tick := time.NewTicker(c.every) // an open loop: events come at a rate, not after the previous one
			defer tick.Stop()
			for i := 0; b.Loop(); i++ {
				<-tick.C
				id := "lat" + strconv.Itoa(i)
				m := event("acme", id, "message.received", "")
				mu.Lock()
				sent[id] = time.Now() // the event is durable before this produce returns, after it starts
				mu.Unlock()
				l.produce(b, m)
			}
			b.StopTimer()
			want := b.N * clients
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				n := len(arrivals)
				mu.Unlock()
				if n >= want || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			var lat []time.Duration
			for _, a := range arrivals {
				lat = append(lat, a.at.Sub(sent[a.id]))
			}
			if len(lat) == 0 {
				b.Fatal("no event read")
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(len(lat))/float64(want), "delivered")
		})
	}
}
