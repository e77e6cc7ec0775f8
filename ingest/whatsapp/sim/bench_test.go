package sim

import (
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

var benchBodies = []struct{ name, body string }{
	{"text", `{"messaging_product":"whatsapp","recipient_type":"individual","to":"15551234567","type":"text","text":{"body":"Hello, your order #1234 has shipped and will arrive tomorrow."}}`},
	{"template", `{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"order_update","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"#1234"}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"track"}]}]}}`},
	{"interactive", `{"messaging_product":"whatsapp","to":"15551234567","type":"interactive","interactive":{"type":"button","body":{"text":"Was this helpful?"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}}`},
}

// The send endpoint's handler without the network: validation, the bucket, recording and the answer. Messages
// beyond MaxRecorded are only counted, so memory stays flat however long it runs.
func BenchmarkSendHandler(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			s, err := New(Config{Rate: 1 << 30, MaxRecorded: 100_000, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			b.RunParallel(func(pb *testing.PB) {
				var req fasthttp.Request
				req.Header.SetMethod(fasthttp.MethodPost)
				req.SetRequestURI(testPath)
				req.Header.Set(fasthttp.HeaderAuthorization, "Bearer t")
				req.SetBodyString(bb.body)
				var ctx fasthttp.RequestCtx
				for pb.Next() {
					ctx.Init(&req, nil, nil)
					s.route(&ctx)
					if ctx.Response.StatusCode() != fasthttp.StatusOK {
						b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
			})
		})
	}
}

// The send endpoint over real HTTP on loopback, with a fasthttp client, as a sender would see it (client and
// simulator share the machine's cores).
func BenchmarkSendHTTP(b *testing.B) {
	s := start(b, Config{Rate: 1 << 30, MaxRecorded: 100_000})
	c := &fasthttp.HostClient{Addr: s.Addr(), MaxConns: 256}
	body := benchBodies[0].body
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(s.URL() + testPath)
		req.Header.Set(fasthttp.HeaderAuthorization, "Bearer t")
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
		for pb.Next() {
			if err := c.Do(req, resp); err != nil {
				b.Fatal(err)
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				b.Fatalf("%d %s", resp.StatusCode(), resp.Body())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// Over the bucket: the cost of a 429, which a sender over the limit causes on every request.
func BenchmarkSendRateLimited(b *testing.B) {
	s, err := New(Config{Rate: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var req fasthttp.Request
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(testPath)
	req.Header.Set(fasthttp.HeaderAuthorization, "Bearer t")
	req.SetBodyString(benchBodies[0].body)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		ctx.Init(&req, nil, nil)
		s.route(&ctx)
	}
	if s.Stats().RateLimited == 0 {
		b.Fatal("nothing was rate limited")
	}
}
