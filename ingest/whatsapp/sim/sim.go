// Package sim is a simulator of the WhatsApp Cloud API send endpoint, for tests, demos and benchmarks: Meta is the
// one party the project cannot run, so it tests against this instead.
//
// It serves POST /{version}/{phone_number_id}/messages (and the same without the version), validates the payload
// as Meta does, answers with Meta's success and error shapes, enforces Meta's per-phone-number throughput limit
// with a token bucket (error 130429), injects 429s, 5xxs and permanent errors at configured rates, records what it
// accepted (GET /sim/messages, GET /sim/reads, GET /sim/stats, DELETE /sim/messages) and posts signed status webhooks (sent,
// delivered, read) back to a webhook URL, as Meta does. Customers plays customers writing in. The media endpoints
// (media.go) store uploads and serve them back, and SendCustomerMedia plays a customer sending a photo or a file.
//
// Some permanent errors are deterministic, so a test can trigger them without injection: a recipient starting with
// "999" is undeliverable (131026), a free-form message to one starting with "998" is outside the customer service
// window (131047), and the template "missing_template" does not exist (132001).
//
// It may import ingest/whatsapp/meta, fasthttp and the Prometheus client; only the simulator binary, the bench and
// tests import it.
package sim

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// Defaults of Config.
const (
	DefaultAddr           = "127.0.0.1:0"
	DefaultRate           = 80
	DefaultStatusDelay    = 50 * time.Millisecond
	DefaultPermanentCode  = CodeUndeliverable
	DefaultMaxRecorded    = 1_000_000
	DefaultWebhookWorkers = 8
	DefaultWebhookQueue   = 10_000
	DefaultWebhookRetries = 3
)

// MaxPhoneNumbers is how many distinct phone number ids the simulator keeps a rate limit for; a request for
// another one is answered with error 100, as for an unknown phone number id.
const MaxPhoneNumbers = 10_000

// MaxBodyBytes is the largest request body the simulator reads; a larger one is answered 413.
const MaxBodyBytes = 1 << 20

// idempotencyHeader carries a client's idempotency hint. Meta ignores it; the simulator counts duplicates by it.
const idempotencyHeader = "Idempotency-Key"

// shutdownTimeout bounds the wait for open requests when the simulator stops.
const shutdownTimeout = 5 * time.Second

// Config configures a Sim. The zero value is a simulator on a free loopback port, 80 messages per second per phone
// number, no injected failures and no status webhooks.
type Config struct {
	// Addr is where to listen. Default DefaultAddr (127.0.0.1:0, a free port: Addr and URL say which).
	Addr string
	// WebhookURL receives status webhooks for accepted messages. "" sends none.
	WebhookURL string
	// AppSecret signs webhooks (X-Hub-Signature-256), as the Meta app's secret does. Required with WebhookURL.
	AppSecret string
	// Tokens, when not nil, maps each phone number id the simulator serves to its access token: a request for
	// another id is answered 400 with code 100, one with another token 401 with code 190. nil accepts any
	// non-empty Bearer token for any phone number id.
	Tokens map[string]string
	// Rate is the throughput limit per phone number id in messages per second. Default DefaultRate (80, Meta's
	// default); negative is invalid.
	Rate int
	// Burst is the token bucket's size: how many messages a number may send at once after a pause. Default Rate.
	Burst int
	// Latency is added to every answer of the send endpoint. 0 adds none.
	Latency time.Duration
	// Fail injects failures into requests that passed validation and the rate limit.
	Fail FailConfig
	// StatusDelay is the gap between accepting a message and its sent webhook, and between sent, delivered and
	// read. Default DefaultStatusDelay (50ms). It counts from acceptance, not from the answer: with a Latency above
	// it the sent webhook may arrive before the answer, a race a sender must handle with Meta too.
	StatusDelay time.Duration
	// Seed seeds the injected failures: the same seed and the same order of requests inject the same failures.
	// 0 is a seed like any other.
	Seed int64
	// MaxRecorded bounds the accepted messages Messages keeps (the first ones) and the idempotency hints
	// remembered; the rest are counted. Default DefaultMaxRecorded (1,000,000).
	MaxRecorded int
	// WebhookWorkers is how many status webhooks are posted at once. Default DefaultWebhookWorkers (8).
	WebhookWorkers int
	// WebhookQueue bounds the messages whose status webhooks wait to be posted; the statuses of a message accepted
	// beyond it are dropped and counted. Default DefaultWebhookQueue (10,000).
	WebhookQueue int
	// WebhookRetries is how many times a status webhook not answered 200 is tried again (100ms, 200ms, 400ms, …
	// later) before the message's remaining statuses are given up. Default DefaultWebhookRetries (3); negative
	// means no retries.
	WebhookRetries int
	// MaxMediaBytes bounds the bytes of the files the media store keeps (uploads and customers' media, media.go);
	// the oldest are forgotten first. Default DefaultMaxMediaBytes (256 MiB).
	MaxMediaBytes int64
	// OnAccepted, when set, is called with every accepted message as it is accepted, on the request's goroutine
	// (it must be quick and safe for concurrent use): a load generator times delivery with it without keeping
	// every message (MaxRecorded can then be small).
	OnAccepted func(*Received)
	// Registerer receives the switchboard_sim_* metrics. nil registers none.
	Registerer prometheus.Registerer
	// Logger receives what an operator must see: the first status webhook given up, connections cut at shutdown.
	// Nothing is logged per request. nil means slog.Default().
	Logger *slog.Logger

	// clock is the simulator's time; nil means the machine's. Tests of this package set a manual one.
	clock clock
}

// FailConfig sets the injected failures. Each rate is the fraction (0 to 1) of valid requests within the rate
// limit that fail that way; their sum must not exceed 1. The zero value injects nothing.
type FailConfig struct {
	// Rate429 is the fraction answered 429 with code 130429, as when Meta's limit is hit.
	Rate429 float64
	// Rate5xx is the fraction answered with a server error: half 500 (code 131000), half 503 (code 2).
	Rate5xx float64
	// RatePermanent is the fraction that fails with PermanentCode.
	RatePermanent float64
	// PermanentCode is the code of injected permanent errors. Default DefaultPermanentCode (131026, undeliverable).
	PermanentCode int
	// PermanentAsync reports the injected permanent errors and the deterministic 131026 and 131047 the way Meta
	// reports most delivery failures: the request is accepted with a wamid, then a failed status webhook carries
	// the code. It needs a WebhookURL. false answers them at once with Meta's error shape (HTTP 400).
	PermanentAsync bool
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = c.Rate
	}
	if c.StatusDelay == 0 {
		c.StatusDelay = DefaultStatusDelay
	}
	if c.Fail.PermanentCode == 0 {
		c.Fail.PermanentCode = DefaultPermanentCode
	}
	if c.MaxRecorded == 0 {
		c.MaxRecorded = DefaultMaxRecorded
	}
	if c.WebhookWorkers == 0 {
		c.WebhookWorkers = DefaultWebhookWorkers
	}
	if c.WebhookQueue == 0 {
		c.WebhookQueue = DefaultWebhookQueue
	}
	switch {
	case c.WebhookRetries == 0:
		c.WebhookRetries = DefaultWebhookRetries
	case c.WebhookRetries < 0:
		c.WebhookRetries = 0
	}
	if c.MaxMediaBytes == 0 {
		c.MaxMediaBytes = DefaultMaxMediaBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.clock == nil {
		c.clock = machineClock{}
	}
}

// Validate reports the first invalid field. It is called by New after the defaults are set.
func (c *Config) Validate() error {
	f := c.Fail
	switch {
	case c.Rate < 0:
		return fmt.Errorf("%w: Rate %d is negative", ErrInvalidConfig, c.Rate)
	case c.Burst < 0:
		return fmt.Errorf("%w: Burst %d is negative", ErrInvalidConfig, c.Burst)
	case c.Latency < 0:
		return fmt.Errorf("%w: Latency %v is negative", ErrInvalidConfig, c.Latency)
	case c.StatusDelay < 0:
		return fmt.Errorf("%w: StatusDelay %v is negative", ErrInvalidConfig, c.StatusDelay)
	case c.MaxMediaBytes < 0:
		return fmt.Errorf("%w: MaxMediaBytes %d is negative", ErrInvalidConfig, c.MaxMediaBytes)
	case c.MaxRecorded < 0:
		return fmt.Errorf("%w: MaxRecorded %d is negative", ErrInvalidConfig, c.MaxRecorded)
	case c.WebhookWorkers < 0 || c.WebhookQueue < 0:
		return fmt.Errorf("%w: WebhookWorkers %d and WebhookQueue %d must not be negative", ErrInvalidConfig,
			c.WebhookWorkers, c.WebhookQueue)
	case !fraction(f.Rate429) || !fraction(f.Rate5xx) || !fraction(f.RatePermanent):
		return fmt.Errorf("%w: Fail rates %v, %v, %v must be between 0 and 1", ErrInvalidConfig, f.Rate429,
			f.Rate5xx, f.RatePermanent)
	case f.Rate429+f.Rate5xx+f.RatePermanent > 1+1e-9:
		return fmt.Errorf("%w: Fail rates add up to %v, more than 1", ErrInvalidConfig,
			f.Rate429+f.Rate5xx+f.RatePermanent)
	case f.PermanentCode < 0:
		return fmt.Errorf("%w: Fail.PermanentCode %d is negative", ErrInvalidConfig, f.PermanentCode)
	case f.PermanentAsync && c.WebhookURL == "":
		return fmt.Errorf("%w: Fail.PermanentAsync needs a WebhookURL to report failures to", ErrInvalidConfig)
	case c.WebhookURL != "" && !httpURL(c.WebhookURL):
		return fmt.Errorf("%w: WebhookURL %q is not an http or https URL", ErrInvalidConfig, c.WebhookURL)
	case c.WebhookURL != "" && c.AppSecret == "":
		return fmt.Errorf("%w: AppSecret is required to sign webhooks to %s", ErrInvalidConfig, c.WebhookURL)
	}
	for id, tok := range c.Tokens {
		if !allDigits(id) || tok == "" {
			return fmt.Errorf("%w: Tokens: phone number id %q must be digits with a non-empty token", ErrInvalidConfig, id)
		}
	}
	return nil
}

func fraction(f float64) bool { return f >= 0 && f <= 1 }

// Sim is a running simulator of the Cloud API send endpoint. Its methods are safe for concurrent use.
type Sim struct {
	cfg      Config
	clk      clock
	log      *slog.Logger
	ln       net.Listener
	srv      *fasthttp.Server
	start    time.Time
	nonce    uint64 // in every wamid's id, so two simulators never answer the same one
	seq      atomic.Uint64
	c        *counters
	rec      recorder
	reads    readRecorder
	hooks    *webhooks // nil without a WebhookURL
	media    mediaStore
	tpl      catalogues // the message template catalogues (templates.go)
	client   *http.Client
	failFrom float64 // Fail.Rate429 + Fail.Rate5xx + Fail.RatePermanent; 0 draws nothing

	randMu sync.Mutex
	rand   *rand.Rand

	numMu   sync.RWMutex
	numbers map[string]*number

	baseMu sync.Mutex
	base   tally // counters at the last Reset

	// conns are the open connections and their states, with stateHandling while the handler runs. fasthttp's
	// Shutdown closes idle keep-alive connections but waits until ReadTimeout for one still reading a request,
	// which is every new connection (a client may dial ahead and never send); Run closes those when it stops.
	connMu sync.Mutex
	conns  map[net.Conn]fasthttp.ConnState

	running  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{} // closed by Close or when Run's context ends
	stopped  chan struct{} // closed when Run returns
}

// New listens on cfg.Addr; Run serves.
func New(cfg Config) (*Sim, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:      cfg,
		clk:      cfg.clock,
		log:      cfg.Logger,
		start:    cfg.clock.Now(),
		nonce:    uint64(time.Now().UnixNano()),
		c:        newCounters(cfg.Fail.PermanentCode),
		rec:      recorder{max: cfg.MaxRecorded},
		reads:    readRecorder{max: cfg.MaxRecorded},
		rand:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5157_3ab1_c0de_0001)),
		failFrom: cfg.Fail.Rate429 + cfg.Fail.Rate5xx + cfg.Fail.RatePermanent,
		numbers:  map[string]*number{},
		conns:    map[net.Conn]fasthttp.ConnState{},
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	s.media.max = cfg.MaxMediaBytes
	s.cfg.Tokens = maps.Clone(cfg.Tokens) // the caller may change its map while requests read this one
	s.rec.reset()
	s.base = s.c.load()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = max(cfg.WebhookWorkers, 64)
	s.client = &http.Client{Transport: transport, Timeout: 10 * time.Second}
	if cfg.WebhookURL != "" {
		s.hooks = &webhooks{
			url: cfg.WebhookURL, secret: cfg.AppSecret, delay: cfg.StatusDelay, retries: cfg.WebhookRetries,
			workers: cfg.WebhookWorkers, max: cfg.WebhookQueue, client: s.client, clock: s.clock, after: s.clk.After, c: s.c,
			log: cfg.Logger, wake: make(chan struct{}, 1), work: make(chan statusJob),
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("whatsapp simulator: listen on %s: %w", cfg.Addr, err)
	}
	if cfg.Registerer != nil {
		if err := registerMetrics(cfg.Registerer, s); err != nil {
			ln.Close()
			return nil, err
		}
	}
	s.ln = ln
	s.srv = &fasthttp.Server{
		Handler:            s.route,
		Name:               "switchboard-whatsapp-sim",
		MaxRequestBodySize: MaxBodyBytes,
		// Media uploads may be larger (media.go: uploadConfig).
		HeaderReceived:               uploadConfig,
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  time.Minute,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		ErrorHandler:                 s.errorHandler,
		ConnState:                    s.connState,
		Logger:                       debugLogger{cfg.Logger},
	}
	return s, nil
}

// Addr is the address the simulator listens on (host:port).
func (s *Sim) Addr() string { return s.ln.Addr().String() }

// URL is the simulator's base URL, http://Addr(): the WhatsApp API URL to give a sender.
func (s *Sim) URL() string { return "http://" + s.Addr() }

// Run serves until ctx ends or Close is called, then stops accepting, ends Latency waits, waits up to 5s for the
// requests being handled (closing their connections after that) and returns nil; an error only when serving
// failed. Status webhooks not yet posted are not sent. A Sim runs once: Run returns ErrRunning if it already runs
// and ErrClosed after Close.
func (s *Sim) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(s.stopped)
	select {
	case <-s.stop:
		s.ln.Close()
		return ErrClosed
	default:
	}
	hctx, cancelHooks := context.WithCancel(context.Background())
	var hooksDone sync.WaitGroup
	if s.hooks != nil {
		hooksDone.Go(func() { s.hooks.run(hctx) })
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()

	var err error
	select {
	case <-ctx.Done():
	case <-s.stop:
	case err = <-served:
		served <- nil // Serve is done: the wait below must not block
		if err != nil {
			err = fmt.Errorf("whatsapp simulator: serve: %w", err)
		}
	}
	s.stopOnce.Do(func() { close(s.stop) }) // ends Latency waits
	if e := s.shutdown(); e != nil && err == nil {
		err = fmt.Errorf("whatsapp simulator: shut down: %w", e)
	}
	s.ln.Close() // Shutdown does not close it when Serve has not started yet
	<-served
	cancelHooks()
	hooksDone.Wait()
	return err
}

// shutdown stops accepting and waits up to shutdownTimeout for the requests being handled, closing the connections
// still reading one; after the timeout it closes every connection.
func (s *Sim) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.srv.ShutdownWithContext(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeConns(false)
		select {
		case err := <-done:
			if errors.Is(err, context.DeadlineExceeded) {
				n := s.closeConns(true)
				s.log.Warn("whatsapp simulator: closed connections still busy at shutdown", "connections", n,
					"after", shutdownTimeout)
				return nil
			}
			return err
		case <-tick.C:
		}
	}
}

// stateHandling marks a connection whose request the handler is serving; fasthttp knows no such state.
const stateHandling fasthttp.ConnState = 1 << 10

// closeConns closes the connections still reading a request (all of them when all is set) and returns how many.
func (s *Sim) closeConns(all bool) int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	n := 0
	for c, st := range s.conns {
		if all || st == fasthttp.StateNew || st == fasthttp.StateActive {
			c.Close()
			delete(s.conns, c)
			n++
		}
	}
	return n
}

func (s *Sim) connState(c net.Conn, st fasthttp.ConnState) {
	s.connMu.Lock()
	if st == fasthttp.StateClosed || st == fasthttp.StateHijacked {
		delete(s.conns, c)
	} else {
		s.conns[c] = st
	}
	s.connMu.Unlock()
}

// handling marks c as serving a request until fasthttp reports it idle.
func (s *Sim) handling(c net.Conn) {
	s.connMu.Lock()
	if _, ok := s.conns[c]; ok {
		s.conns[c] = stateHandling
	}
	s.connMu.Unlock()
}

// Close stops the simulator: it makes Run return and waits for it, or closes the listener when Run was never
// called. It is idempotent and returns nil.
func (s *Sim) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	if s.running.Load() {
		<-s.stopped
	} else {
		s.ln.Close()
	}
	return nil
}

// Messages returns a copy of the accepted messages recorded since the start or the last Reset, oldest first.
func (s *Sim) Messages() []Received { return s.rec.slice(0, -1) }

// Stats returns what the simulator counted since the start or the last Reset.
func (s *Sim) Stats() Stats {
	s.baseMu.Lock()
	st := s.c.load().since(s.base)
	s.baseMu.Unlock()
	st.Recorded = s.rec.len()
	st.Rate, st.Burst = s.cfg.Rate, s.cfg.Burst
	st.MaxPerSecond = map[string]int{}
	s.numMu.RLock()
	for id, n := range s.numbers {
		n.mu.Lock()
		if n.window.max > 0 {
			st.MaxPerSecond[id] = n.window.max
		}
		n.mu.Unlock()
	}
	s.numMu.RUnlock()
	if s.hooks != nil {
		st.Webhooks.Pending = s.hooks.pendingNow()
	}
	return st
}

// Reset forgets the recorded messages, mark-as-read calls and idempotency hints, starts the counts of Stats from zero and refills
// every phone number's bucket. Status webhooks already scheduled are still posted. Requests served during a Reset
// may be counted on either side of it.
func (s *Sim) Reset() {
	s.rec.reset()
	s.reads.reset()
	s.numMu.Lock()
	s.numbers = map[string]*number{}
	s.numMu.Unlock()
	s.baseMu.Lock()
	s.base = s.c.load()
	s.baseMu.Unlock()
}

// clock is the time since the start (monotonic with the machine's clock): the rate limit's and the webhook
// timers' time.
func (s *Sim) clock() time.Duration { return s.clk.Now().Sub(s.start) }

// newWAMID returns a message id for a message from or to waID, unique to this simulator and unlikely to repeat
// across simulators: WAMID of the per-simulator nonce and a sequence number.
func (s *Sim) newWAMID(waID string) string {
	return WAMID(waID, fmt.Sprintf("%016X%016X", s.nonce, s.seq.Add(1)))
}

// WAMID returns a message id shaped as Meta's: "wamid." and the base64 of a record holding the customer's number
// waID and id (Meta's is 18 or 32 hex digits). Meta's documented example wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTND…
// decodes to 1c 18 0b "16505076520" 15 02 00 11 18 12 "9A3C…" 00: a wamid carries the number, which is why an erase
// drops wamids as well as numbers, and the simulator's carry it too so tests see it.
func WAMID(waID, id string) string {
	waID, id = waID[:min(len(waID), 0x7f)], id[:min(len(id), 0x7f)]
	raw := make([]byte, 0, 3+len(waID)+6+len(id)+1)
	raw = append(raw, 0x1c, 0x18, byte(len(waID)))
	raw = append(raw, waID...)
	raw = append(raw, 0x15, 0x02, 0x00, 0x12, 0x18, byte(len(id)))
	raw = append(raw, id...)
	raw = append(raw, 0)
	return "wamid." + base64.StdEncoding.EncodeToString(raw)
}

// traceID returns an fbtrace_id, which Meta adds to every error so support can find the request.
func (s *Sim) traceID() string {
	var raw [9]byte
	binary.BigEndian.PutUint64(raw[1:], s.seq.Add(1))
	raw[0] = 'A'
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// number returns the rate-limit state of phone number id p, creating it; nil when MaxPhoneNumbers are tracked.
func (s *Sim) number(p []byte) *number {
	s.numMu.RLock()
	n := s.numbers[string(p)]
	s.numMu.RUnlock()
	if n != nil {
		return n
	}
	s.numMu.Lock()
	defer s.numMu.Unlock()
	if n = s.numbers[string(p)]; n == nil {
		if len(s.numbers) >= MaxPhoneNumbers {
			return nil
		}
		n = &number{bucket: newBucket(s.cfg.Rate, s.cfg.Burst)}
		n.bucket.last = s.clock()
		s.numbers[string(p)] = n
	}
	return n
}

// errorHandler answers requests fasthttp rejects before the handler runs, in Meta's error shape.
func (s *Sim) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// Not a request: a connection that sent nothing, or not all of it, in ReadTimeout.
		ctx.Error("Request timeout", fasthttp.StatusRequestTimeout)
		return
	}
	s.c.requests.Add(1)
	e := invalidParam("The request could not be read: " + err.Error())
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		e.status = fasthttp.StatusRequestEntityTooLarge
		e.details = fmt.Sprintf("The request body is larger than %d bytes", MaxBodyBytes)
	}
	s.reject(ctx, e)
}

// debugLogger sends fasthttp's per-connection error lines to debug level: the error handler answered them.
type debugLogger struct{ l *slog.Logger }

func (d debugLogger) Printf(format string, args ...any) { d.l.Debug(fmt.Sprintf(format, args...)) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
