// Package live is the hub behind GET /v1/events: per tenant, a bounded replay log of durable events keyed by their
// per-tenant sequence, the connected subscribers with bounded buffers, the ephemeral presence of operators in
// conversations, and the Server-Sent Events writer of one connection (stream.go).
//
// It imports no Kafka: a feed (api/livefeed) reads switchboard.events and calls Publish; the API subscribes. A
// publisher never waits for a subscriber: a subscriber whose buffer is full is sent `reset` and dropped.
package live

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Event types the hub filters by operator: only the operator the event names (OperatorID) receives them.
const (
	TypeMentioned = "operator.mentioned"
	TypeRead      = "conversation.read"
	// TypeAuditRecorded is never streamed: the audit log is for admins, through GET /v1/audit (api/audit.go).
	TypeAuditRecorded = "audit.recorded"
)

// Reasons a subscriber is sent `reset` (the label of switchboard_sse_resets_total).
const (
	ResetGarbage  = "garbage"  // Last-Event-ID is no sequence this hub knows
	ResetTooOld   = "too_old"  // older than the replay log
	ResetOverflow = "overflow" // the connection's buffer overflowed; the stream is then closed
)

// ErrTooManyConnections is returned by Subscribe when the operator already has Config.MaxPerOperator streams.
var ErrTooManyConnections = errors.New("live: too many connections for this operator")

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("live: hub closed")

// Event is one durable event of switchboard.events, as the hub needs it.
type Event struct {
	// Seq is the event's per-tenant sequence: increasing within the tenant, the same on every node (the feed uses
	// the Kafka offset). It is the SSE id.
	Seq int64
	// ID is the event's own id; a repeat of an id already seen for the tenant is dropped (the outbox relay is
	// at-least-once).
	ID string
	// Type is the event's type, the SSE event name.
	Type string
	// Tenant owns the event.
	Tenant string
	// Operator is the event's operator_id; it selects the receiver of TypeMentioned and TypeRead.
	Operator string
	// Data is the event's JSON on one line; the hub keeps it, the caller must not modify it afterwards.
	Data []byte
}

// Bounds reports how much of a tenant's sequence the feed has read: every event with floor < Seq <= head has been
// published to the hub (or was none of the tenant's), and nothing at or below floor has. ok is false when the feed
// cannot say (not started).
type Bounds func(tenant string) (floor, head int64, ok bool)

// Config configures a Hub. Zero values take the defaults given.
type Config struct {
	// ReplaySize is how many durable events of each tenant are kept for resuming. Default 4,096.
	ReplaySize int
	// DedupeSize is how many event ids of each tenant are remembered to drop repeats. Default 8,192.
	DedupeSize int
	// BufferSize is how many frames a connection may have waiting to be written; one more and it is sent `reset`
	// and closed. Default 512.
	BufferSize int
	// MaxPerOperator bounds one operator's open streams. Default 8.
	MaxPerOperator int
	// Bounds tells which sequences were read; nil: the hub knows only what it was given (from -1).
	Bounds Bounds
	// Now is the clock of presence expiry. Default time.Now.
	Now func() time.Time
	// Registerer receives the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.ReplaySize == 0 {
		c.ReplaySize = 4096
	}
	if c.DedupeSize == 0 {
		c.DedupeSize = 8192
	}
	if c.BufferSize == 0 {
		c.BufferSize = 512
	}
	if c.MaxPerOperator == 0 {
		c.MaxPerOperator = 8
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	if c.ReplaySize < 1 || c.DedupeSize < 1 || c.BufferSize < 1 || c.MaxPerOperator < 1 {
		return errors.New("live: ReplaySize, DedupeSize, BufferSize and MaxPerOperator must be positive")
	}
	return nil
}

// Hub fans durable events and presence out to subscribers. It is safe for concurrent use.
type Hub struct {
	cfg Config

	mu      sync.Mutex
	tenants map[string]*tenantLog
	perOp   map[string]int // tenant + "/" + operator → open streams
	closed  bool

	clients prometheus.Gauge
	sent    prometheus.Counter
	resets  *prometheus.CounterVec
	drops   prometheus.Counter
}

// New builds a hub.
func New(cfg Config) (*Hub, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Hub{cfg: cfg, tenants: map[string]*tenantLog{}, perOp: map[string]int{},
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_sse_clients",
			Help: "Open GET /v1/events streams."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sse_events_sent_total",
			Help: "Durable events written to event streams (replayed ones included)."}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_sse_resets_total",
			Help: "reset events sent, by reason: garbage or too_old Last-Event-ID, overflow of a slow connection."},
			[]string{"reason"}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sse_drops_total",
			Help: "Streams closed by the server because the client read too slowly."}),
	}
	for _, r := range []string{ResetGarbage, ResetTooOld, ResetOverflow} {
		h.resets.WithLabelValues(r)
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{h.clients, h.sent, h.resets, h.drops} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("live metrics: %w", err)
			}
		}
	}
	return h, nil
}

// tenantLog is one tenant's replay ring, dedupe set, subscribers and presence. Guarded by Hub.mu.
type tenantLog struct {
	ring    []entry // ring buffer of the last ReplaySize events, oldest at start; grows with use, so a quiet tenant costs little
	start   int
	n       int
	evicted int64 // Seq of the last event pushed out of the ring; -1 none
	head    int64 // highest Seq published
	seen    map[string]struct{}
	seenQ   []string // ring of ids in seen, oldest at seenAt
	seenAt  int
	subs    map[*Sub]struct{}
	present map[string]Presence // conversation + "/" + operator
}

type entry struct {
	seq      int64
	typ      string
	operator string
	frame    []byte
}

func (h *Hub) tenant(id string) *tenantLog {
	t, ok := h.tenants[id]
	if !ok {
		t = &tenantLog{evicted: -1, head: -1, seen: map[string]struct{}{},
			seenQ: make([]string, 0, 64), subs: map[*Sub]struct{}{}, present: map[string]Presence{}}
		h.tenants[id] = t
	}
	return t
}

// Head returns the Seq of the newest event published for tenant, -1 before any. A value computed from the state
// after reading Head reflects every event up to it, since events are published only once durable.
func (h *Hub) Head(tenant string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.tenants[tenant]; ok {
		return t.head
	}
	return -1
}

// Publish adds a durable event to its tenant's log and sends it to the tenant's subscribers that may see it. It
// never blocks on a subscriber. It reports false for a repeat (an id already seen) or an event not newer than the
// tenant's last, which it drops, and for an audit.recorded event, which no stream carries.
func (h *Hub) Publish(e Event) bool {
	if e.Type == TypeAuditRecorded {
		return false
	}
	frame := formatSeqFrame(e.Seq, e.Type, e.Data)
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tenant(e.Tenant)
	if e.Seq <= t.head {
		return false
	}
	if e.ID != "" {
		if _, dup := t.seen[e.ID]; dup {
			return false
		}
		h.remember(t, e.ID)
	}
	t.head = e.Seq
	if e.Type == TypeErased {
		h.redact(t, e) // erase.go
	}
	en := entry{seq: e.Seq, typ: e.Type, operator: e.Operator, frame: frame}
	switch {
	case t.n < len(t.ring):
		t.ring[(t.start+t.n)%len(t.ring)] = en
		t.n++
	case len(t.ring) < h.cfg.ReplaySize: // the ring grows with use (start is 0 until it is full)
		t.ring = append(t.ring, en)
		t.n++
	default:
		t.evicted = t.ring[t.start].seq
		t.ring[t.start] = en
		t.start = (t.start + 1) % len(t.ring)
	}
	for s := range t.subs {
		if visible(en, s.operator) {
			h.send(t, s, Frame{Data: frame, Durable: true})
		}
	}
	return true
}

func (h *Hub) remember(t *tenantLog, id string) {
	if len(t.seenQ) < h.cfg.DedupeSize {
		t.seenQ = append(t.seenQ, id)
	} else {
		delete(t.seen, t.seenQ[t.seenAt])
		t.seenQ[t.seenAt] = id
		t.seenAt = (t.seenAt + 1) % len(t.seenQ)
	}
	t.seen[id] = struct{}{}
}

func visible(e entry, operator string) bool {
	switch e.typ {
	case TypeMentioned, TypeRead:
		return e.operator == operator
	}
	return true
}

// send queues f for s, or drops s when its buffer is full. Called with h.mu held.
func (h *Hub) send(t *tenantLog, s *Sub, f Frame) {
	select {
	case s.ch <- f:
	default:
		h.drops.Inc()
		h.resets.WithLabelValues(ResetOverflow).Inc()
		h.unsubscribe(t, s, ResetOverflow)
	}
}

// Frame is one SSE frame ready to write.
type Frame struct {
	Data []byte
	// Durable is true for an event of the replay log (it has an id).
	Durable bool
}

// Sub is one connection's subscription. Its frames come from C; when Gone is closed the hub dropped it (Reason
// says why) and no more frames will come after those buffered.
type Sub struct {
	hub      *Hub
	tenant   string
	operator string
	// Initial are the frames to write first: a reset or the replayed events, then the current presence.
	Initial []Frame
	ch      chan Frame
	gone    chan struct{}
	reason  string
	once    sync.Once
}

// C delivers the frames published after the subscription.
func (s *Sub) C() <-chan Frame { return s.ch }

// Gone is closed when the hub dropped the subscription: overflow (Reason ResetOverflow) or Close.
func (s *Sub) Gone() <-chan struct{} { return s.gone }

// Reason is why the hub dropped the subscription; valid after Gone is closed. "" means the hub closed.
func (s *Sub) Reason() string {
	<-s.gone
	return s.reason
}

// Close ends the subscription; it is idempotent.
func (s *Sub) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.tenants[s.tenant]; ok {
		h.unsubscribe(t, s, "")
	}
}

// unsubscribe removes s. Called with h.mu held.
func (h *Hub) unsubscribe(t *tenantLog, s *Sub, reason string) {
	if _, ok := t.subs[s]; !ok {
		return
	}
	delete(t.subs, s)
	key := s.tenant + "/" + s.operator
	if h.perOp[key]--; h.perOp[key] <= 0 {
		delete(h.perOp, key)
	}
	h.clients.Dec()
	s.once.Do(func() {
		s.reason = reason
		close(s.gone)
	})
}

// Subscribe opens operator's stream of tenant's events. lastID is the Last-Event-ID the client sent ("" for none):
// the events after it are replayed, or a reset frame comes first when it is garbage or older than the log.
// Subscribing and taking the replay are one step, so no event is missed or sent twice.
func (h *Hub) Subscribe(tenant, operator, lastID string) (*Sub, error) {
	var floor, head int64 = -1, -1
	known := false
	if h.cfg.Bounds != nil {
		floor, head, known = h.cfg.Bounds(tenant)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	key := tenant + "/" + operator
	if h.perOp[key] >= h.cfg.MaxPerOperator {
		return nil, ErrTooManyConnections
	}
	t := h.tenant(tenant)
	s := &Sub{hub: h, tenant: tenant, operator: operator, ch: make(chan Frame, h.cfg.BufferSize),
		gone: make(chan struct{})}
	if !known {
		floor, head = -1, t.head
	}
	floor = max(floor, t.evicted)
	head = max(head, t.head)
	if lastID != "" {
		last, err := strconv.ParseInt(lastID, 10, 64)
		switch {
		case err != nil || last < -1 || last > head:
			s.Initial = append(s.Initial, resetFrame)
			h.resets.WithLabelValues(ResetGarbage).Inc()
		case last < floor:
			s.Initial = append(s.Initial, resetFrame)
			h.resets.WithLabelValues(ResetTooOld).Inc()
		default:
			for i := 0; i < t.n; i++ {
				e := t.ring[(t.start+i)%len(t.ring)]
				if e.seq > last && visible(e, operator) {
					s.Initial = append(s.Initial, Frame{Data: e.frame, Durable: true})
				}
			}
		}
	}
	now := h.cfg.Now()
	for k, p := range t.present {
		if !p.ExpiresAt.After(now) {
			delete(t.present, k)
			continue
		}
		s.Initial = append(s.Initial, Frame{Data: p.frame})
	}
	t.subs[s] = struct{}{}
	h.perOp[key]++
	h.clients.Inc()
	return s, nil
}

// Presence is who views or types in a conversation, until when.
type Presence struct {
	ConversationID string    `json:"conversation_id"`
	OperatorID     string    `json:"operator_id"`
	OperatorName   string    `json:"operator_name"`
	State          string    `json:"state"`
	ExpiresAt      time.Time `json:"expires_at"`
	frame          []byte
	sentAt         time.Time // when it was last broadcast
}

// presenceEvery is the least time between two broadcasts of the same operator's same state in a conversation: a
// renewal sooner (a burst of typing updates) only moves its expiry, so one operator cannot flood the tenant's
// streams into resets.
const presenceEvery = time.Second

// Presence states and how long each lasts unless renewed.
const (
	Viewing = "viewing"
	Typing  = "typing"
	Left    = "left"

	ViewingFor = 30 * time.Second
	TypingFor  = 8 * time.Second
)

// SetPresence records p in tenant (its ExpiresAt is set from its State; "left" forgets it) and sends it to the
// tenant's subscribers as a `presence` event. It never blocks on a subscriber.
func (h *Hub) SetPresence(tenant string, p Presence) {
	now := h.cfg.Now()
	switch p.State {
	case Viewing:
		p.ExpiresAt = now.Add(ViewingFor)
	case Typing:
		p.ExpiresAt = now.Add(TypingFor)
	default:
		p.State, p.ExpiresAt = Left, now
	}
	p.ExpiresAt = p.ExpiresAt.UTC()
	data, _ := jsonMarshal(p)
	p.frame = formatFrame("", "presence", data)
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tenant(tenant)
	key := p.ConversationID + "/" + p.OperatorID
	if p.State == Left {
		delete(t.present, key)
	} else {
		if q, ok := t.present[key]; ok && q.State == p.State && now.Sub(q.sentAt) < presenceEvery {
			q.ExpiresAt = p.ExpiresAt // renewed, not broadcast again
			t.present[key] = q
			return
		}
		p.sentAt = now
		t.present[key] = p
	}
	for k, q := range t.present { // expired presence is forgotten here and at Subscribe
		if !q.ExpiresAt.After(now) {
			delete(t.present, k)
		}
	}
	for s := range t.subs {
		h.send(t, s, Frame{Data: p.frame})
	}
}

// Close drops every subscriber (their streams end) and refuses new ones. It is idempotent.
func (h *Hub) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, t := range h.tenants {
		for s := range t.subs {
			h.unsubscribe(t, s, "")
		}
	}
	return nil
}

// countSent counts n durable events written to a stream.
func (h *Hub) countSent(n int) { h.sent.Add(float64(n)) }
