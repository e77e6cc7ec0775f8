package whatsapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Path is where Meta is told to deliver webhooks; mount Handler.Serve on it.
const Path = "/webhooks/whatsapp"

// MaxBodyBytes is the largest payload the handler accepts (1 MiB); a larger one is answered 413. A fasthttp server
// whose MaxRequestBodySize is below it answers larger bodies itself (also 413, but not counted in the metrics).
const MaxBodyBytes = 1 << 20

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the raw body under the Meta app's secret.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// DefaultProduceTimeout bounds Producer.Produce when Config.ProduceTimeout is 0.
const DefaultProduceTimeout = 5 * time.Second

// retryAfterSeconds is sent with a 503. Meta retries on its own schedule; other senders may honour it.
const retryAfterSeconds = "5"

// Producer writes inbox records to Kafka. Produce returns nil only once Kafka has acknowledged every record
// (acks=all); on an error some records may have been written, which is safe because the webhook is then answered
// 503, Meta sends it again and inbound messages are deduplicated by their id. Produce must honour ctx's deadline,
// must not modify recs (it may keep them: they share no memory with the request) and must be safe for concurrent use.
type Producer interface {
	Produce(ctx context.Context, recs []inbox.Record) error
}

// Config configures a Handler.
type Config struct {
	// Directory resolves phone_number_id to channel and tenant and holds the app secrets and verify tokens. Required.
	Directory *tenant.Directory
	// Producer takes the records of an accepted payload. Required.
	Producer Producer
	// Registerer receives the handler's metrics. nil registers them on a private registry, so they are not exported.
	Registerer prometheus.Registerer
	// Now gives the ingest time written in records (inbox.Record.IngestAt). nil means time.Now. Request durations in
	// the metrics always use the real clock.
	Now func() time.Time
	// ProduceTimeout bounds each Producer.Produce call; when it expires the webhook is answered 503. The webhooks
	// of the same 1/64 of it share their bound, so a call gets between 63/64 of it and all of it. 0 means
	// DefaultProduceTimeout (5s); negative is invalid.
	ProduceTimeout time.Duration
	// Logger receives what an operator must see: rejected payloads that were correctly signed, and producer
	// failures. Nothing is logged for an accepted webhook or for a bad signature (anyone can send those); both are
	// counted instead. nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = DefaultProduceTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Directory == nil:
		return fmt.Errorf("%w: Directory is required", ErrInvalidConfig)
	case c.Producer == nil:
		return fmt.Errorf("%w: Producer is required", ErrInvalidConfig)
	case c.ProduceTimeout < 0:
		return fmt.Errorf("%w: ProduceTimeout %v is negative", ErrInvalidConfig, c.ProduceTimeout)
	}
	return nil
}

// Handler serves the WhatsApp webhook endpoint. It is safe for concurrent use.
type Handler struct {
	dir      *tenant.Directory
	producer Producer
	now      func() time.Time
	deadline *sharedDeadline // bounds each produce by ProduceTimeout
	log      *slog.Logger

	// keys are the app secrets of the directory's current configuration with their MACs; rebuilt when the
	// directory's generation changes (a channel added, a secret rotated).
	keys atomic.Pointer[macKeys]

	m metrics
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		dir:      cfg.Directory,
		producer: cfg.Producer,
		now:      cfg.Now,
		deadline: newSharedDeadline(cfg.ProduceTimeout),
		log:      cfg.Logger,
		m:        m,
	}
	h.keys.Store(newMACKeys(cfg.Directory))
	return h, nil
}

// Serve answers one request on Path: GET is Meta's subscription check, POST a webhook payload, anything else 405.
// It does not look at the path: the server routes Path to it. It is a fasthttp.RequestHandler.
func (h *Handler) Serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	var res result
	switch {
	case ctx.IsPost():
		res = h.receive(ctx)
	case ctx.IsGet():
		res = h.verify(ctx)
	default:
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, POST")
		res = h.fail(ctx, fasthttp.StatusMethodNotAllowed, bodyMethodNotAllowed, resMethodNotAllowed)
	}
	h.m.duration[res].Observe(time.Since(start).Seconds())
}

// verify answers Meta's subscription check: it echoes hub.challenge when hub.verify_token is a channel's.
func (h *Handler) verify(ctx *fasthttp.RequestCtx) result {
	args := ctx.QueryArgs()
	if string(args.Peek("hub.mode")) != "subscribe" || !h.dir.VerifyTokenKnown(string(args.Peek("hub.verify_token"))) {
		return h.fail(ctx, fasthttp.StatusForbidden, bodyForbidden, resVerifyForbidden)
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	// The challenge is caller-chosen text sent back verbatim: never let a browser sniff it into HTML.
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetBody(args.Peek("hub.challenge")) // SetBody copies
	h.m.unknown[resVerifyOK].Inc()
	return resVerifyOK
}

// receive handles a webhook payload, checking in the order the contract fixes: signature present, size, signature
// valid, payload well formed, channels known and signed by their own app, records acknowledged.
func (h *Handler) receive(ctx *fasthttp.RequestCtx) result {
	var want [sha256.Size]byte
	sig := ctx.Request.Header.Peek(SignatureHeader)
	if len(sig) == 0 {
		return h.fail(ctx, fasthttp.StatusUnauthorized, bodyMissingSignature, resBadSignature)
	}
	if !decodeSignature(sig, &want) {
		return h.fail(ctx, fasthttp.StatusUnauthorized, bodyGarbledSignature, resBadSignature)
	}
	body := ctx.PostBody()
	if len(body) > MaxBodyBytes {
		return h.fail(ctx, fasthttp.StatusRequestEntityTooLarge, bodyTooLarge, resTooLarge)
	}
	secret := h.signedBy(body, &want)
	if secret == nil {
		return h.fail(ctx, fasthttp.StatusUnauthorized, bodyBadSignature, resBadSignature)
	}

	var chanBuf [4]*tenant.Channel
	var stats parseStats
	recs, chans, err := parse(body, h.dir, h.now(), chanBuf[:0], &stats)
	if stats.unknownAccounts > 0 {
		h.m.unknownAccounts.Add(float64(stats.unknownAccounts))
	}
	if stats.disabled > 0 {
		h.m.disabled.Add(float64(stats.disabled))
	}
	if err != nil {
		// The payload is correctly signed, so it comes from Meta: a rejection means a bug or a config gap here.
		if errors.Is(err, ErrUnknownChannel) {
			h.log.Warn("whatsapp webhook for an unknown channel", "err", err)
			return h.failDetail(ctx, fasthttp.StatusNotFound, "unknown_channel", err, resUnknownChannel)
		}
		h.log.Warn("malformed whatsapp webhook", "err", err)
		return h.failDetail(ctx, fasthttp.StatusBadRequest, "malformed_payload", err, resMalformed)
	}
	for _, ch := range chans {
		// A channel may only be written to by a payload signed with its own app's secret; otherwise one tenant's app
		// could inject messages into another tenant's channels.
		if ch.AppSecret != string(secret) {
			h.log.Warn("whatsapp webhook signed by another app than its channel's", "channel", ch.ID)
			h.writeError(ctx, fasthttp.StatusUnauthorized, bodyWrongApp)
			h.m.countChannel(ch.ID, resBadSignature)
			return resBadSignature
		}
	}

	if len(recs) > 0 {
		// Not derived from ctx: fasthttp cancels that on server shutdown, and a graceful stop should let in-flight
		// produces finish rather than turn them into 503s.
		err = h.producer.Produce(h.deadline.context(), recs)
		if err != nil {
			h.log.Warn("produce whatsapp webhook records", "err", err, "tenant", recs[0].Tenant, "records", len(recs))
			ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, retryAfterSeconds)
			h.writeError(ctx, fasthttp.StatusServiceUnavailable, bodyUnavailable)
			h.m.count(chans, resUnavailable)
			return resUnavailable
		}
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(bodyOK)
	h.m.count(chans, resOK)
	return resOK
}

// decodeSignature reads "sha256=<64 hex digits>" into sum.
func decodeSignature(sig []byte, sum *[sha256.Size]byte) bool {
	if len(sig) != len(signaturePrefix)+2*sha256.Size || string(sig[:len(signaturePrefix)]) != signaturePrefix {
		return false
	}
	_, err := hex.Decode(sum[:], sig[len(signaturePrefix):])
	return err == nil
}

// signedBy returns the app secret whose HMAC of body is want, or nil. Each comparison is constant-time; the cost is
// one HMAC of the body per distinct app secret in the config.
func (h *Handler) signedBy(body []byte, want *[sha256.Size]byte) []byte {
	k := h.keys.Load()
	if k.gen != h.dir.Generation() {
		k = newMACKeys(h.dir)
		h.keys.Store(k)
	}
	for i := range k.secrets {
		mac := k.macs[i].Get().(*pooledMAC)
		mac.h.Reset()
		mac.h.Write(body)
		ok := hmac.Equal(mac.h.Sum(mac.sum[:0]), want[:])
		k.macs[i].Put(mac)
		if ok {
			return k.secrets[i]
		}
	}
	return nil
}

// pooledMAC is a ready HMAC with room for its sum (a sum on the stack would escape through the hash interface).
type pooledMAC struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// macKeys are the app secrets of one configuration of the directory: secrets[i] is checked with a MAC from macs[i]
// (an HMAC costs several allocations to build, so each secret keeps a pool of ready ones).
type macKeys struct {
	gen     uint64
	secrets [][]byte
	macs    []sync.Pool
}

func newMACKeys(d *tenant.Directory) *macKeys {
	// The generation is read first: a configuration replaced meanwhile makes the next request rebuild again.
	k := &macKeys{gen: d.Generation(), secrets: d.AppSecrets()}
	k.macs = make([]sync.Pool, len(k.secrets))
	for i, s := range k.secrets {
		k.macs[i].New = func() any { return &pooledMAC{h: hmac.New(sha256.New, s)} }
	}
	return k
}

// fail writes a static error body and counts the request under channel "unknown".
func (h *Handler) fail(ctx *fasthttp.RequestCtx, code int, body []byte, res result) result {
	h.writeError(ctx, code, body)
	h.m.unknown[res].Inc()
	return res
}

// failDetail is fail with the parse error as message: only for correctly signed payloads, which come from Meta.
func (h *Handler) failDetail(ctx *fasthttp.RequestCtx, status int, code string, err error, res result) result {
	return h.fail(ctx, status, errorBody(code, err.Error()), res)
}

func (h *Handler) writeError(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// Response bodies, built once.
var (
	bodyOK               = []byte(`{"status":"ok"}`)
	bodyMissingSignature = errorBody("missing_signature", "the "+SignatureHeader+" header is missing")
	bodyGarbledSignature = errorBody("bad_signature", "the "+SignatureHeader+" header is not sha256=<64 hex digits>")
	bodyBadSignature     = errorBody("bad_signature", "the signature matches no configured app secret")
	bodyWrongApp         = errorBody("bad_signature", "the payload names a channel of another app than the one that signed it")
	bodyTooLarge         = errorBody("body_too_large", "the body is over 1 MiB")
	bodyUnavailable      = errorBody("unavailable", "the payload could not be stored; retry later")
	bodyForbidden        = errorBody("forbidden", "hub.mode must be subscribe and hub.verify_token a configured channel's")
	bodyMethodNotAllowed = errorBody("method_not_allowed", "use GET for the subscription check or POST for webhooks")
)

// errorBody renders the API's error shape: {"error":{"code":"…","message":"…"}}.
func errorBody(code, message string) []byte {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, err := json.Marshal(struct {
		Error detail `json:"error"`
	}{detail{code, message}})
	if err != nil {
		panic("BUG: marshal error body: " + err.Error())
	}
	return b
}
