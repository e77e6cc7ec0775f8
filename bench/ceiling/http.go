package ceiling

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/bench/report"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/server"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// HTTPConfig configures HTTPJSON.
type HTTPConfig struct {
	// Concurrency is how many clients post at once, each waiting for its answer before the next post. 0 means 64.
	Concurrency int
	// Duration is how long the clients post. 0 means 5s.
	Duration time.Duration
}

func (c *HTTPConfig) setDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
}

// Validate reports the first invalid field.
func (c *HTTPConfig) Validate() error {
	switch {
	case c.Concurrency < 0:
		return fmt.Errorf("%w: Concurrency %d is negative", ErrInvalidConfig, c.Concurrency)
	case c.Duration < 0:
		return fmt.Errorf("%w: Duration %v is negative", ErrInvalidConfig, c.Duration)
	}
	return nil
}

// The one tenant and channel the HTTP ceiling's webhooks are for.
const (
	httpPhoneID   = "100000000000001"
	httpAppSecret = "ceiling-app-secret"
	httpTenants   = `tenants:
  - id: ceiling
    channels:
      - id: ceiling-wa
        type: whatsapp
        phone_number_id: "` + httpPhoneID + `"
        app_secret: "` + httpAppSecret + `"
        verify_token: "ceiling-verify"
`
)

// acceptAll is a whatsapp.Producer that acknowledges at once: the HTTP ceiling is the webhook path without Kafka.
type acceptAll struct{}

func (acceptAll) Produce(context.Context, []inbox.Record) error { return nil }

// HTTPJSON measures the webhook path without Kafka: the node's own HTTP front (ingest/server, fasthttp) serving the
// real WhatsApp webhook handler — signature check (HMAC-SHA256, constant-time compare), payload parse into inbox
// records, channel checks, metrics — with a Producer that acknowledges at once. Concurrency fasthttp clients post a
// signed one-message webhook over loopback for Duration. Throughput is 200 answers per second; Latency is each
// request's, as its client saw it. Any other answer fails the measurement.
func HTTPJSON(ctx context.Context, cfg HTTPConfig) (report.Ceiling, error) {
	const name = "http_json"
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	tenants, err := tenant.Parse([]byte(httpTenants))
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("BUG: ceiling %s: tenant config: %w", name, err)
	}
	quiet := slog.New(slog.DiscardHandler)
	h, err := whatsapp.New(whatsapp.Config{Directory: tenant.NewDirectory(tenants), Producer: acceptAll{}, Logger: quiet})
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: webhook handler: %w", name, err)
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", WhatsApp: h.Serve, Gatherer: prometheus.NewRegistry(), Logger: quiet})
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Run(context.Background()) }()

	hc := &fasthttp.HostClient{
		Addr:         srv.Addr(),
		MaxConns:     cfg.Concurrency,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		// Also the period of the client's idle-connection cleaner, which would outlive HTTPJSON by up to that.
		MaxIdleConnDuration: time.Second,
	}
	defer func() {
		// Idle keep-alive connections first, so the server's graceful shutdown has nothing to wait for.
		hc.CloseIdleConnections()
		_ = srv.Close()
		<-served
	}()

	body := meta.Payload(meta.Change{PhoneNumberID: httpPhoneID, Messages: []meta.Message{{
		From: "15550001111", ProfileName: "Ceiling", ID: "wamid.ceiling", Timestamp: time.Now().Unix(),
		Text: "Hello, where is my order? It was due yesterday.",
	}}})
	sig := meta.Sign(httpAppSecret, body)
	reqs := make([]*fasthttp.Request, cfg.Concurrency)
	resps := make([]*fasthttp.Response, cfg.Concurrency)
	for i := range reqs {
		req := fasthttp.AcquireRequest()
		req.SetRequestURI("http://" + srv.Addr() + whatsapp.Path)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.Header.Set(meta.SignatureHeader, sig)
		req.SetBody(body)
		reqs[i], resps[i] = req, fasthttp.AcquireResponse()
	}
	defer func() {
		for i := range reqs {
			fasthttp.ReleaseRequest(reqs[i])
			fasthttp.ReleaseResponse(resps[i])
		}
	}()

	lat := newLatencies()
	n, elapsed, err := loop(ctx, cfg.Duration, cfg.Concurrency, lat, func(_ context.Context, w int) error {
		if err := hc.Do(reqs[w], resps[w]); err != nil {
			return fmt.Errorf("post webhook: %w", err)
		}
		if code := resps[w].StatusCode(); code != fasthttp.StatusOK {
			return fmt.Errorf("post webhook: answered %d: %s", code, resps[w].Body())
		}
		return nil
	})
	return measured(name, fmt.Sprintf("fasthttp + HMAC + webhook JSON parse (the real server and handler, no Kafka), "+
		"%d loopback clients, %d-byte one-message webhooks", cfg.Concurrency, len(body)), n, elapsed, lat, err)
}
