// Package outbound benchmarks replies leaving through the sender to the WhatsApp Cloud API simulator: the rate per
// number against the channel's limit (offered above it, the sender should run at the limit and never above), and the
// latency from the operator's API call to the simulator receiving the message (offered below the limit).
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/outbound/
package outbound

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const limit = 80 // Meta's default per-number rate

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func BenchmarkOutbound(b *testing.B) {
	for _, tc := range []struct {
		name    string
		offered int // replies per second
		count   int
	}{{"above-limit", 200, 800}, {"below-limit", 40, 400}} {
		b.Run(tc.name, func(b *testing.B) { run(b, tc.offered, tc.count) })
	}
}

func run(b *testing.B, offered, count int) {
	httpAddr := freeAddr(b)
	s, err := sim.New(sim.Config{WebhookURL: "http://" + httpAddr + "/webhooks/whatsapp", AppSecret: "s", Rate: limit,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	go func() { _ = s.Run(sctx) }()
	defer func() { scancel(); s.Close() }()
	cfg, err := tenant.Parse([]byte(fmt.Sprintf(`tenants:
  - id: t
    channels:
      - {id: ch, type: whatsapp, phone_number_id: "555", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: %d}
    operators:
      - {id: op, role: admin, capacity: 1000, token: "bench-token-000000001"}
`, limit)))
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.New(context.Background(), node.Config{Tenants: cfg, DataDir: b.TempDir(), HTTPAddr: httpAddr,
		EmbeddedKafkaAddr: freeAddr(b), WhatsAppAPIURL: s.URL(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	defer func() { cancel(); <-done; n.Close() }()

	base := "http://" + httpAddr
	call := func(method, path, body string) (int, []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(base + path)
		req.Header.SetMethod(method)
		req.Header.Set("Authorization", "Bearer bench-token-000000001")
		req.SetBodyString(body)
		if err := fasthttp.DoTimeout(req, resp, 15*time.Second); err != nil {
			return 0, nil
		}
		return resp.StatusCode(), append([]byte{}, resp.Body()...)
	}
	eventually.True(b, 30*time.Second, 50*time.Millisecond, func() bool {
		code, _ := call("PUT", "/v1/operators/me/availability", `{"availability":"online"}`)
		return code == 200
	}, "operator online")
	// 50 customers, so per-recipient pacing (45 in a burst, then one per 6 s) stays out of the way.
	var convs []string
	var msgs []meta.Message
	for i := 0; i < 50; i++ {
		from := fmt.Sprintf("2781%07d", i)
		msgs = append(msgs, meta.Message{From: from, ID: fmt.Sprintf("wamid.%d", i), Timestamp: time.Now().Unix(), Text: "hi"})
		convs = append(convs, conversation.ID("ch", from))
	}
	if code, _, err := meta.Post(ctx, http.DefaultClient, base+"/webhooks/whatsapp", "s", meta.Payload(meta.Change{PhoneNumberID: "555", Messages: msgs})); err != nil || code != 200 {
		b.Fatalf("webhook: %d %v", code, err)
	}
	eventually.True(b, 30*time.Second, 20*time.Millisecond, func() bool {
		for _, id := range convs {
			code, body := call("GET", "/v1/conversations/"+id, "")
			var c struct {
				Status conversation.Status `json:"status"`
			}
			if code != 200 || json.Unmarshal(body, &c) != nil || c.Status != conversation.Assigned {
				return false
			}
		}
		return true
	}, "%d conversations assigned", len(convs))

	b.ResetTimer()
	sent := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < count; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(offered))))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			code, body := call("POST", "/v1/conversations/"+convs[i%len(convs)]+"/messages", `{"type":"text","text":"hello"}`)
			if code != 201 {
				b.Errorf("reply: %d %s", code, body)
				return
			}
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &id)
			mu.Lock()
			sent[id.ID] = t0
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	eventually.True(b, 2*time.Minute, 20*time.Millisecond, func() bool { return s.Stats().Accepted >= int64(count) },
		"%d replies accepted by the simulator", count)
	b.StopTimer()
	recv := s.Messages()
	if len(recv) < count {
		b.Fatalf("simulator received %d of %d", len(recv), count)
	}
	var lat []time.Duration
	first, last := recv[0].ReceivedAt, recv[len(recv)-1].ReceivedAt
	for _, m := range recv {
		if t0, ok := sent[m.IdempotencyKey]; ok {
			lat = append(lat, m.ReceivedAt.Sub(t0))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st := s.Stats()
	b.ReportMetric(float64(len(recv)-1)/last.Sub(first).Seconds(), "msgs/s")
	b.ReportMetric(float64(st.MaxPerSecond["555"]), "max-in-1s")
	b.ReportMetric(float64(limit), "limit")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(st.RateLimited), "refused-429")
}
