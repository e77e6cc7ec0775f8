// Package server is a node's HTTP front: it mounts the webhook receivers, the /v1 API, /metrics, /healthz,
// /readyz and the operator console on one fasthttp server.
//
// It may import api, fasthttp and the Prometheus client.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/switchboard-hq/switchboard/api"
)

// MaxBodySize is the largest request body the server reads for a handler (except the paths of
// Config.StreamsBody). It is twice the webhook limit (1 MiB), so the webhook handler itself answers and counts the
// 413s of docs/contract.md; larger bodies are refused by the server with 413 too.
const MaxBodySize = 2 << 20

// Check is one readiness condition; it returns nil when satisfied.
type Check struct {
	Name string
	Fn   func() error
}

// Config configures the server. A nil handler leaves its path unmounted (404), as for a node without that role.
type Config struct {
	// Addr is where to listen. Default 127.0.0.1:8080.
	Addr string
	// WhatsApp serves /webhooks/whatsapp.
	WhatsApp fasthttp.RequestHandler
	// API serves /v1/….
	API fasthttp.RequestHandler
	// Web serves the operator console: every path that is not under /webhooks or /v1 and not /metrics, /healthz or
	// /readyz (its client routes such as /mine/<id> get the page). Nil leaves those paths 404.
	Web fasthttp.RequestHandler
	// Gatherer is what /metrics exposes. Default prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// StreamsBody reports the requests whose handler reads the body itself as a stream
	// (fasthttp.RequestCtx.RequestBodyStream), of any length: the server applies no MaxBodySize to them, and closes
	// their connection after the answer (the handler may answer before the body's end). Nil: none.
	StreamsBody func(method, path []byte) bool
	// Ready lists what /readyz checks; /readyz is 200 only when all pass and the server is not draining.
	Ready []Check
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.DefaultGatherer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server is the HTTP front of a node: New listens, Run serves, Close stops. Drain, Close and Addr are safe for
// concurrent use.
type Server struct {
	cfg      Config
	srv      *fasthttp.Server
	ln       net.Listener
	metrics  fasthttp.RequestHandler
	draining sync.Once
	drain    chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// New listens on cfg.Addr, so a port taken is an error here rather than in Run; Run serves. A server that is never
// run must still be closed, to release the listener.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{
		cfg:     cfg,
		ln:      ln,
		metrics: fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})),
		drain:   make(chan struct{}),
	}
	// GET /v1/events takes over its connection (api/events.go), so WriteTimeout and IdleTimeout do not cut a stream,
	// and Shutdown ends streams by closing RequestCtx.Done rather than waiting for them.
	//
	// Bodies are streamed (StreamRequestBody): fasthttp then calls the handler after the headers and a first 8 KiB
	// whatever the body's length, and route enforces MaxBodySize itself on every path but those of StreamsBody.
	// Multipart forms are not pre-parsed: fasthttp would do it before the handler, without a size limit.
	s.srv = &fasthttp.Server{
		Handler:                      s.route,
		Name:                         "switchboard",
		MaxRequestBodySize:           MaxBodySize,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  2 * time.Minute,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		ErrorHandler:                 errorHandler,
		Logger:                       debugLogger{cfg.Logger},
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends or Close is called, and then returns once the server has stopped: on ctx's end it
// stops as Close does (the requests in progress finish). It returns nil after such a stop, and the error that made
// serving fail otherwise. Run is called at most once.
func (s *Server) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	var err, cerr error
	select {
	case err = <-served:
	case <-ctx.Done():
		// Serve has returned, or will, even when Close fails part-way (the listener closed, a connection stuck):
		// Run waits for it either way, so no goroutine outlives Run, and reports both errors.
		cerr = s.Close()
		err = <-served
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("http server: %w", err)
	} else {
		err = nil
	}
	return errors.Join(cerr, err)
}

// Drain makes /readyz answer 503 so load balancers stop sending, while requests are still served. It is
// idempotent.
func (s *Server) Drain() { s.draining.Do(func() { close(s.drain) }) }

// Close drains, stops accepting, closes the listener and waits for the requests in progress to finish; Run then
// returns. It is idempotent: every call returns the first call's result.
func (s *Server) Close() error {
	s.Drain()
	s.stopOnce.Do(func() {
		if err := s.srv.Shutdown(); err != nil {
			s.stopErr = fmt.Errorf("http server shutdown: %w", err)
		}
		// fasthttp closes the listener only if Serve ran; a server never run still holds it.
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) && s.stopErr == nil {
			s.stopErr = fmt.Errorf("close listener %s: %w", s.Addr(), err)
		}
	})
	return s.stopErr
}

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	if s.cfg.StreamsBody != nil && s.cfg.StreamsBody(ctx.Method(), ctx.Path()) {
		ctx.SetConnectionClose()
	} else if !limitBody(ctx) {
		return
	}
	path := string(ctx.Path())
	switch {
	case path == "/webhooks/whatsapp" && s.cfg.WhatsApp != nil:
		s.cfg.WhatsApp(ctx)
	case strings.HasPrefix(path, "/v1/") && s.cfg.API != nil:
		s.cfg.API(ctx)
	case path == "/metrics":
		s.metrics(ctx)
	case path == "/healthz":
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("ok\n")
	case path == "/readyz":
		s.readyz(ctx)
	case s.cfg.Web != nil && !reserved(path):
		s.cfg.Web(ctx)
	default:
		api.WriteError(ctx, fasthttp.StatusNotFound, "not_found", "no such endpoint: "+path)
	}
}

// reserved reports whether path belongs to the webhooks or the API, which answer their own 404s (in the API's error
// shape) rather than the console's page.
func reserved(path string) bool {
	return path == "/v1" || strings.HasPrefix(path, "/v1/") || path == "/webhooks" || strings.HasPrefix(path, "/webhooks/")
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain")
	select {
	case <-s.drain:
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("draining\n")
		return
	default:
	}
	var failed []string
	for _, c := range s.cfg.Ready {
		if err := c.Fn(); err != nil {
			failed = append(failed, c.Name+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("not ready\n" + strings.Join(failed, "\n") + "\n")
		return
	}
	ctx.SetBodyString("ready\n")
}

// limitBody refuses a body over MaxBodySize with 413, as fasthttp does without StreamRequestBody, and leaves a
// smaller one readable with PostBody. A body of known length is read by PostBody itself, bounded by its length; a
// chunked one is read here, to at most MaxBodySize+1 bytes.
func limitBody(ctx *fasthttp.RequestCtx) bool {
	stream := ctx.RequestBodyStream()
	if stream == nil {
		return true
	}
	n := ctx.Request.Header.ContentLength()
	if n > MaxBodySize {
		tooLarge(ctx)
		return false
	}
	if n >= 0 {
		return true
	}
	b, err := io.ReadAll(io.LimitReader(stream, MaxBodySize+1))
	if err != nil {
		ctx.SetConnectionClose()
		api.WriteError(ctx, fasthttp.StatusBadRequest, "bad_request", "the body could not be read: "+err.Error())
		return false
	}
	if len(b) > MaxBodySize {
		// What is left of a body only a little too large is read, so the client reads the 413 rather than a reset.
		_, _ = io.CopyN(io.Discard, stream, 64<<10)
		tooLarge(ctx)
		return false
	}
	ctx.Request.SetBody(b)
	return true
}

// tooLarge answers 413 without reading the body, so the connection cannot carry another request.
func tooLarge(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose()
	api.WriteError(ctx, fasthttp.StatusRequestEntityTooLarge, "body_too_large", "request body over 2 MiB")
}

// errorHandler answers requests fasthttp rejects before a handler runs, in the contract's error shape.
func errorHandler(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		api.WriteError(ctx, fasthttp.StatusRequestEntityTooLarge, "body_too_large", "request body over 2 MiB")
		return
	}
	api.WriteError(ctx, fasthttp.StatusBadRequest, "bad_request", err.Error())
}

// debugLogger sends fasthttp's per-connection error lines to debug level: the error handler already answered them.
type debugLogger struct{ l *slog.Logger }

func (d debugLogger) Printf(format string, args ...any) { d.l.Debug(fmt.Sprintf(format, args...)) }
