// Package webhook benchmarks webhook ingest: signed WhatsApp webhooks over real HTTP into a node with the embedded
// broker, answered 200 only after Kafka acknowledged them (acks=all, fsynced).
//
//	go test -run '^$' -bench . -benchtime 20000x ./bench/webhook/
//
// Each benchmark reports acknowledged webhooks per second and the acknowledgement latency p50/p99 seen by 64
// concurrent senders on the same machine (they share its cores with the node).
package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const cfgYAML = `tenants:
  - id: bench
    channels:
      - id: bench-wa
        type: whatsapp
        phone_number_id: "111"
        app_secret: "bench-secret"
        verify_token: "bench-verify"
    operators:
      - id: op
        token: "bench-token-000000001"
`

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startNode(b *testing.B, roles []string) *node.Node {
	cfg, err := tenant.Parse([]byte(cfgYAML))
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.New(context.Background(), node.Config{
		Tenants: cfg, DataDir: b.TempDir(), HTTPAddr: freeAddr(b), EmbeddedKafkaAddr: freeAddr(b),
		Roles: roles, EmbeddedKafkaFsync: os.Getenv("BENCH_KAFKA_FSYNC") != "", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; n.Close() })
	return n
}

func BenchmarkWebhookIngest(b *testing.B) {
	for _, tc := range []struct {
		name  string
		roles []string
	}{{"ingest-only", []string{"ingest"}}, {"full-node", nil}} {
		b.Run(tc.name, func(b *testing.B) { run(b, startNode(b, tc.roles)) })
	}
}

func run(b *testing.B, n *node.Node) {
	senders := 64
	if v, err := strconv.Atoi(os.Getenv("BENCH_SENDERS")); err == nil && v > 0 {
		senders = v
	}
	url := "http://" + n.HTTPAddr() + "/webhooks/whatsapp"
	hc := &fasthttp.Client{MaxConnsPerHost: senders}
	ts := time.Now().Unix()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failures atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				body := meta.Payload(meta.Change{PhoneNumberID: "111", Messages: []meta.Message{{
					From: fmt.Sprintf("2780%07d", i%10000), ProfileName: "Load", ID: fmt.Sprintf("wamid.bench-%d-%d", ts, i),
					Timestamp: ts, Text: "hello from the benchmark",
				}}})
				req.Reset()
				req.SetRequestURI(url)
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/json")
				req.Header.Set(meta.SignatureHeader, meta.Sign("bench-secret", body))
				req.SetBodyRaw(body)
				t0 := time.Now()
				err := hc.Do(req, resp)
				lat[i] = time.Since(t0)
				if err != nil || resp.StatusCode() != 200 {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d webhooks not acknowledged", f, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	if os.Getenv("BENCH_DEBUG") != "" {
		_, body, _ := fasthttp.Get(nil, "http://"+n.HTTPAddr()+"/metrics")
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "switchboard_kafka_produce_seconds_sum") || strings.HasPrefix(l, "switchboard_kafka_produce_seconds_count") {
				b.Log(l)
			}
		}
	}
}
