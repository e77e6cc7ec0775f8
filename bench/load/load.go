package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// Stage names, as in report.Stage.
const (
	StageWebhookAck        = "webhook_ack"
	StageWebhookToAssigned = "webhook_to_assigned"
	StageOperatorAPI       = "operator_api"
	StageReplyToSimulator  = "reply_to_simulator"
	// StageRouterApply is the records (messages, statuses, commands, timers) the router applied per second, read
	// from the node's switchboard_records_applied_total: a throughput with no latency.
	StageRouterApply = "router_apply"
)

// jobQueue bounds the webhooks due but not yet taken by a sender: past it the schedule waits, and the wait shows
// in the latency (it is counted from the intended time).
const jobQueue = 65536

// maxEarly bounds the replies the simulator accepted before the API answered with their id.
const maxEarly = 100_000

// webhookTimeout bounds one webhook request, as Meta's own delivery does.
const webhookTimeout = 20 * time.Second

// Generator drives one node. Create it with New, give its Accepted method to the WhatsApp simulator
// (sim.Config.OnAccepted), then Run it once.
type Generator struct {
	cfg    Config
	start  time.Time
	client *fasthttp.HostClient
	base   string

	ack, assigned, api, reply *stage
	offered, offeredNew       *stage // arrivals and new conversations, counted by intended second

	tenants []*tenantState
	byID    map[string]*tenantState

	pendingMu sync.Mutex
	pending   map[string]time.Time // conversation → intended time of the message that opened it

	replyMu sync.Mutex
	replies map[string]time.Time // reply message id → its intended time, until the simulator accepts it
	early   map[string]time.Time // accepted by the simulator before the API answered with its id

	ops chan opJob

	// stepAt are the steps' start seconds since the run's start, and the end of the last one.
	stepAt []int

	unmatched atomic.Int64 // assignments of conversations without a pending first message (reopens)
	unsent    atomic.Int64 // webhooks still queued when the run's time was up
	node      *sampler
	started   atomic.Bool
	finished  atomic.Bool
}

type tenantState struct {
	Tenant
	idx    int
	tokens map[string]string
	mu     sync.Mutex
	next   int            // next contact for a new conversation
	open   []string       // open conversations, for follow-ups
	openAt map[string]int // conversation → its index in open
	waID   map[string]string
}

type opJob struct {
	at     time.Time
	tenant *tenantState
	conv   string
	op     string
	close  bool
}

// New checks cfg and prepares a generator.
func New(cfg Config) (*Generator, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	addr := strings.TrimPrefix(strings.TrimPrefix(cfg.NodeURL, "http://"), "https://")
	g := &Generator{
		cfg: cfg, base: strings.TrimRight(cfg.NodeURL, "/"),
		client: &fasthttp.HostClient{Addr: addr, MaxConns: cfg.Senders + cfg.OperatorWorkers + 8,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxIdemponentCallAttempts: 1},
		byID: map[string]*tenantState{}, pending: map[string]time.Time{},
		replies: map[string]time.Time{}, early: map[string]time.Time{},
		ops: make(chan opJob, jobQueue),
	}
	for i, t := range cfg.Tenants {
		ts := &tenantState{Tenant: t, idx: i, tokens: map[string]string{}, openAt: map[string]int{}, waID: map[string]string{}}
		for _, o := range t.Operators {
			ts.tokens[o.ID] = o.Token
		}
		g.tenants = append(g.tenants, ts)
		g.byID[t.ID] = ts
	}
	return g, nil
}

// Accepted is the WhatsApp simulator's OnAccepted hook: it times an operator's reply to its acceptance.
func (g *Generator) Accepted(r *sim.Received) {
	if r.IdempotencyKey == "" || !g.started.Load() {
		return
	}
	g.replyMu.Lock()
	at, ok := g.replies[r.IdempotencyKey]
	if ok {
		delete(g.replies, r.IdempotencyKey)
	} else if len(g.early) < maxEarly {
		// Accepted before the API answered with its id — or a resend of one already timed, which never matches:
		// bounded, so resends after a crash cannot grow it for the rest of the run.
		g.early[r.IdempotencyKey] = r.ReceivedAt
	}
	g.replyMu.Unlock()
	if ok {
		g.reply.observe(at, r.ReceivedAt)
	}
}

// Run runs every step, then drains for Config.Drain, and returns when done or when ctx ends.
func (g *Generator) Run(ctx context.Context) error {
	if g.started.Swap(true) {
		return ErrRunTwice
	}
	total := g.cfg.Drain
	for _, s := range g.cfg.Steps {
		total += s.Duration
	}
	secs := int(total/time.Second) + 2
	g.start = time.Now()
	g.ack = newStage(StageWebhookAck, g.start, secs)
	g.assigned = newStage(StageWebhookToAssigned, g.start, secs)
	g.api = newStage(StageOperatorAPI, g.start, secs)
	g.reply = newStage(StageReplyToSimulator, g.start, secs)
	g.offered = newStage("offered", g.start, secs)
	g.offeredNew = newStage("offered_new", g.start, secs)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := newEventReader(ctx, g.cfg.Brokers, g.onAssigned)
	if err != nil {
		return err
	}
	g.node = newSampler(g.base, g.start)
	var wg sync.WaitGroup
	wg.Go(func() { events.run(ctx) })
	wg.Go(func() { g.node.run(ctx) })
	for range g.cfg.OperatorWorkers {
		wg.Go(func() { g.operate(ctx) })
	}
	jobs := make(chan webhookJob, jobQueue)
	// Webhooks still queued when the drain ends are not sent (and counted): a node far behind does not stretch the
	// run without bound.
	sendCtx, stopSending := context.WithDeadline(ctx, g.start.Add(total))
	defer stopSending()
	var senders sync.WaitGroup
	for range g.cfg.Senders {
		senders.Go(func() { g.send(sendCtx, jobs) })
	}

	rng := rand.New(rand.NewPCG(g.cfg.Seed, 0x6c6f_6164))
	var seq int64
	stepStart := g.start
	var runErr error
	for _, s := range g.cfg.Steps {
		g.stepAt = append(g.stepAt, int(stepStart.Sub(g.start)/time.Second))
		if runErr = g.schedule(ctx, s, stepStart, rng, &seq, jobs); runErr != nil {
			break
		}
		stepStart = stepStart.Add(s.Duration)
	}
	g.stepAt = append(g.stepAt, int(stepStart.Sub(g.start)/time.Second))
	close(jobs)
	senders.Wait()
	select {
	case <-time.After(time.Until(stepStart.Add(g.cfg.Drain))):
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	g.finished.Store(true)
	return runErr
}

type webhookJob struct {
	at      time.Time
	tenant  *tenantState
	contact string
	seq     int64
}

// schedule emits a step's arrivals at their intended times. It never waits for the node: when the senders are
// busy the queue fills, and past it the schedule runs late, which the latencies (from the intended times) show.
func (g *Generator) schedule(ctx context.Context, s Step, start time.Time, rng *rand.Rand, seq *int64, jobs chan<- webhookJob) error {
	n := arrivals(s)
	pNew := 1 / g.cfg.MessagesPerConversation
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for k := int64(0); k < n; {
		now := time.Now()
		for ; k < n; k++ {
			at := start.Add(arrivalAt(s, k))
			if at.After(now) {
				break
			}
			t := g.tenants[rng.IntN(len(g.tenants))]
			contact, first := t.pick(rng, pNew, g.cfg.Contacts)
			g.offered.observe(at, at)
			if first {
				g.offeredNew.observe(at, at)
				g.pendingMu.Lock()
				if _, ok := g.pending[conversation.ID(t.ChannelID, contact)]; !ok {
					g.pending[conversation.ID(t.ChannelID, contact)] = at
				}
				g.pendingMu.Unlock()
			}
			*seq++
			select {
			case jobs <- webhookJob{at: at, tenant: t, contact: contact, seq: *seq}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// pick chooses the customer of an arrival: a new conversation with probability pNew (or when none is open),
// else a follow-up in an open one. first reports a new conversation.
func (t *tenantState) pick(rng *rand.Rand, pNew float64, contacts int) (waID string, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.open) > 0 && rng.Float64() >= pNew {
		return t.waID[t.open[rng.IntN(len(t.open))]], false
	}
	c := t.next % contacts
	t.next++
	waID = ContactWAID(t.idx, c)
	conv := conversation.ID(t.ChannelID, waID)
	if _, open := t.openAt[conv]; open {
		return waID, false // the round robin came back to a conversation still open: a follow-up
	}
	t.openAt[conv] = len(t.open)
	t.open = append(t.open, conv)
	t.waID[conv] = waID
	return waID, true
}

// ContactWAID is the WhatsApp id of the c-th customer of the tenant at index tenant of Config.Tenants.
func ContactWAID(tenant, c int) string {
	return fmt.Sprintf("27%02d%09d", 10+tenant%90, c)
}

// closed forgets an open conversation.
func (t *tenantState) closed(conv string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.openAt[conv]
	if !ok {
		return
	}
	last := len(t.open) - 1
	t.open[i] = t.open[last]
	t.openAt[t.open[i]] = i
	t.open = t.open[:last]
	delete(t.openAt, conv)
	delete(t.waID, conv)
}

// send posts webhooks until jobs is closed.
func (g *Generator) send(ctx context.Context, jobs <-chan webhookJob) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	url := g.base + "/webhooks/whatsapp"
	for j := range jobs {
		if ctx.Err() != nil {
			g.unsent.Add(1)
			g.ack.fail(j.at) // an error of the step it was due in
			continue
		}
		body := meta.Payload(meta.Change{PhoneNumberID: j.tenant.PhoneNumberID, Messages: []meta.Message{{
			From: j.contact, ProfileName: "Customer " + j.contact, ID: "wamid.load-" + g.cfg.RunID + "-" + strconv.FormatInt(j.seq, 10),
			Timestamp: j.at.Unix(), Text: "hello " + strconv.FormatInt(j.seq, 10)}}})
		sig := meta.Sign(j.tenant.AppSecret, body)
		backoff := 250 * time.Millisecond
		for {
			req.Reset()
			req.SetRequestURI(url)
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			req.Header.Set(meta.SignatureHeader, sig)
			req.SetBodyRaw(body)
			err := g.client.DoTimeout(req, resp, webhookTimeout)
			now := time.Now()
			if err == nil && resp.StatusCode() == fasthttp.StatusOK {
				g.ack.observe(j.at, now)
				break
			}
			g.ack.fail(now)
			if !g.cfg.RetryWebhooks || now.Sub(j.at) > time.Minute || ctx.Err() != nil {
				break
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, 4*time.Second)
		}
	}
}

// onAssigned is called for every conversation.assigned event.
func (g *Generator) onAssigned(tenant, conv, op string, read time.Time) {
	t := g.byID[tenant]
	if t == nil {
		return // another tenant's
	}
	g.pendingMu.Lock()
	at, ok := g.pending[conv]
	delete(g.pending, conv)
	g.pendingMu.Unlock()
	if ok {
		g.assigned.observe(at, read)
	} else {
		g.unmatched.Add(1)
	}
	if _, ok := t.tokens[op]; !ok {
		return
	}
	time.AfterFunc(g.cfg.Think, func() { g.enqueue(opJob{at: read.Add(g.cfg.Think), tenant: t, conv: conv, op: op}) })
	time.AfterFunc(g.cfg.Handle, func() { g.enqueue(opJob{at: read.Add(g.cfg.Handle), tenant: t, conv: conv, op: op, close: true}) })
}

func (g *Generator) enqueue(j opJob) {
	if g.finished.Load() {
		return // a think or handling time that ends after the run: nobody reads g.ops any more
	}
	select {
	case g.ops <- j:
	default:
		g.api.fail(time.Now()) // the operators' backlog is full: counted, not buffered without bound
	}
}

// operate makes operator API calls until ctx ends.
func (g *Generator) operate(ctx context.Context) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for {
		var j opJob
		select {
		case j = <-g.ops:
		case <-ctx.Done():
			return
		}
		req.Reset()
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.Set("Authorization", "Bearer "+j.tenant.tokens[j.op])
		want := fasthttp.StatusCreated
		if j.close {
			req.SetRequestURI(g.base + "/v1/conversations/" + j.conv + "/close")
			want = fasthttp.StatusOK
		} else {
			req.SetRequestURI(g.base + "/v1/conversations/" + j.conv + "/messages")
			req.Header.SetContentType("application/json")
			req.SetBodyString(`{"type":"text","text":"Thanks, looking into it."}`)
		}
		err := g.client.Do(req, resp)
		now := time.Now()
		if err != nil || resp.StatusCode() != want {
			g.api.fail(now)
			continue
		}
		g.api.observe(j.at, now)
		if j.close {
			j.tenant.closed(j.conv)
			continue
		}
		id := messageID(resp.Body())
		if id == "" {
			continue
		}
		g.replyMu.Lock()
		acc, early := g.early[id]
		if early {
			delete(g.early, id)
		} else {
			g.replies[id] = j.at
		}
		g.replyMu.Unlock()
		if early {
			g.reply.observe(j.at, acc)
		}
	}
}

// messageID finds the "id" of a message answer without decoding the whole of it.
func messageID(b []byte) string {
	const key = `"id":"`
	s := string(b)
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i+len(key):]
	j := strings.IndexByte(s, '"')
	if j < 0 {
		return ""
	}
	return s[:j]
}

// Unsent is how many scheduled webhooks were never sent: still queued behind a node that had fallen behind when
// the steps and the drain were over.
func (g *Generator) Unsent() int64 { return g.unsent.Load() }

// Unmatched is how many assignments had no new conversation waiting for them (reopens by a follow-up that raced a
// close, or conversations from before the run).
func (g *Generator) Unmatched() int64 { return g.unmatched.Load() }
