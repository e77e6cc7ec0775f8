// Package sender delivers operators' replies to the WhatsApp Cloud API. A conversation actor queues each outbound
// message in the store in the same batch as the message itself; once that batch is durable the sender sends it,
// within the channel's rate limit and paced per recipient, retrying 429, 5xx and network errors with exponential
// backoff and jitter. The API's answer — accepted with Meta's message id, or refused for good with Meta's code — is
// recorded in the store before anything else, then produced as a delivery record to the tenant's partition, where
// the conversation actor applies it. No actor ever waits on HTTP.
//
// Across crashes a message is sent again only when no answer was recorded for it: the window of ambiguity is
// between the request leaving and its answer's note being synced (about one round trip to Meta plus one fsync), and
// at most Workers messages per channel are in it at any moment.
//
// Memory is bounded whatever the backlog: each worker's queue holds at most QueueLen jobs, the rest stay in the
// store and are read back in pages; recorded answers wait in a queue of NoteQueue, and a worker whose answer cannot
// be handed over waits before its next send.
//
// It may import the store, the conversation rules' types, tenant, ingest/inbox, golang.org/x/time/rate and the
// Prometheus client; it talks HTTP to the Cloud API with net/http.
package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Producer writes records to switchboard.inbox and returns once Kafka acknowledged them.
type Producer interface {
	Produce(ctx context.Context, recs []inbox.Record) error
}

// Config configures a Sender. Zero values take the defaults given; negative numbers are invalid.
type Config struct {
	// Store holds the send queues and the recorded answers. Required.
	Store *store.Store
	// Directory names the WhatsApp channels to send on (those present when New runs). Required.
	Directory *tenant.Directory
	// Producer takes the delivery records. Required.
	Producer Producer
	// BaseURL is the Cloud API base, e.g. https://graph.facebook.com/v21.0. Required.
	BaseURL string
	// Client sends the requests. Default: an http.Client with a 15 s timeout whose transport keeps up to 256 idle
	// connections to the API's host (http.DefaultTransport keeps 2 per host: every worker past the second dialed a
	// new connection for each send, and left one in TIME_WAIT).
	Client *http.Client
	// Workers per channel send in parallel; a recipient always goes to the same worker, so one customer's messages
	// leave in order. Default 8.
	Workers int
	// QueueLen bounds each worker's queue of jobs. Default 4,096 (pointers: 256 KB per channel with 8 workers);
	// past it Notify drops the job from memory (it stays in the store) and the worker's jobs come from the store,
	// in order, until it has caught up.
	QueueLen int
	// RecipientEvery and RecipientBurst pace messages to one customer like Meta's pair rate limit: a burst of
	// RecipientBurst (default 45), then one every RecipientEvery (default 6 s).
	RecipientEvery time.Duration
	RecipientBurst int
	// MaxBackoff caps the retry backoff. Default 30 s. Transient errors are retried MaxAttempts times, then the
	// message fails with code 0 "retries exhausted". MaxAttempts default 12.
	MaxBackoff  time.Duration
	MaxAttempts int
	// NoteQueue bounds the recorded answers waiting to be produced as delivery records. Default 4,096; when it is
	// full a worker waits before its next send (the answers are durable in the store already, so nothing is lost
	// if the process stops: the next Run produces them again).
	NoteQueue int
	// Owner, when set, fences the sender (README, "Failover"): before each attempt of a send it checks that the node
	// owns the job's tenant's partition now (not revoked, lease current); a job of a partition it does not own is
	// left in the store, whose copy of the partition is stale from then on, and the partition's owner sends it. A
	// request already on the wire when the partition is lost is the window of one in-flight request per worker.
	// Nil sends every job (a single node).
	Owner *ownership.Table
	// Registerer receives the sender's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// maxIdleConns is how many idle connections the default client keeps to the API's host: every worker of a few
// dozen channels keeps its own between sends.
const maxIdleConns = 256

func (c *Config) setDefaults() {
	if c.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = maxIdleConns, maxIdleConns
		c.Client = &http.Client{Timeout: 15 * time.Second, Transport: tr}
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.QueueLen == 0 {
		c.QueueLen = 4096
	}
	if c.RecipientEvery == 0 {
		c.RecipientEvery = 6 * time.Second
	}
	if c.RecipientBurst == 0 {
		c.RecipientBurst = 45
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 12
	}
	if c.NoteQueue == 0 {
		c.NoteQueue = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil || c.Directory == nil || c.Producer == nil || c.BaseURL == "":
		return errors.New("sender: Store, Directory, Producer and BaseURL are required")
	case c.Workers < 0 || c.QueueLen < 0 || c.RecipientBurst < 0 || c.MaxAttempts < 0 || c.NoteQueue < 0:
		return errors.New("sender: Workers, QueueLen, RecipientBurst, MaxAttempts and NoteQueue cannot be negative")
	case c.RecipientEvery < 0 || c.MaxBackoff < 0:
		return errors.New("sender: RecipientEvery and MaxBackoff cannot be negative")
	}
	return nil
}

// Job is one outbound message waiting to be sent, as queued in the store, or a read receipt (Kind KindRead).
type Job struct {
	// Queued is the job's place in its channel's send queue in the store.
	Queued uint64 `json:"-"`
	// Kind is "" for a message, KindRead for a read receipt: then MessageID is the wamid of the customer's message
	// to mark read, and To, ConversationID and Seq are empty.
	Kind           string          `json:"kind,omitempty"`
	Tenant         string          `json:"tenant"`
	Channel        string          `json:"channel"`
	ConversationID string          `json:"conversation_id"`
	Seq            uint64          `json:"seq"`
	MessageID      string          `json:"message_id"`
	To             string          `json:"to"`
	Type           string          `json:"type"`
	Text           string          `json:"text,omitempty"`
	Content        json.RawMessage `json:"content,omitempty"`
}

// Queue adds the outbound message m of conversation c to its channel's send queue in batch b and returns the job,
// to hand to Notify once b is durable.
func Queue(b *store.Batch, c *conversation.Conversation, m *conversation.Message) (Job, error) {
	j := Job{Tenant: c.TenantID, Channel: c.ChannelID, ConversationID: c.ID, Seq: m.Seq, MessageID: m.ID,
		To: c.Contact.WaID, Type: m.Type, Text: m.Text, Content: m.Content}
	v, err := json.Marshal(j)
	if err != nil {
		return j, fmt.Errorf("encode send job: %w", err)
	}
	ref, err := b.PutSendJob(c.TenantID, c.ChannelID, v)
	j.Queued = ref.Seq
	return j, err
}

// KindRead is the Kind of a read receipt job.
const KindRead = "read"

// QueueRead adds a read receipt to a channel's send queue in batch b: once b is durable, hand the returned job to
// Notify, and the sender marks the customer's message wamid read on WhatsApp (Meta's mark-as-read call, POST
// /{phone_number_id}/messages {"messaging_product":"whatsapp","status":"read","message_id":wamid}). The job is
// durable like a message's and leaves within the channel's rate limit, but it is not a conversation message: no
// delivery record follows it, and a refusal (or retries exhausted) is logged and counted
// (switchboard_outbound_read_receipts_total{result="failed"}), then dropped. Marking one message read marks every
// earlier message of the conversation read too, so callers queue the latest customer message only.
func QueueRead(b *store.Batch, tenant, channel, wamid string) (Job, error) {
	j := Job{Kind: KindRead, Tenant: tenant, Channel: channel, MessageID: wamid}
	v, err := json.Marshal(j)
	if err != nil {
		return j, fmt.Errorf("encode read receipt job: %w", err)
	}
	ref, err := b.PutSendJob(tenant, channel, v)
	j.Queued = ref.Seq
	return j, err
}

// recipient is what picks a job's worker: a message's recipient, so one customer's messages leave in order; a read
// receipt's wamid, which only spreads them.
func (j *Job) recipient() string {
	if j.Kind == KindRead {
		return j.MessageID
	}
	return j.To
}

func (j *Job) ref() store.SendRef {
	return store.SendRef{Tenant: j.Tenant, Channel: j.Channel, Seq: j.Queued}
}

// Sender sends the queued outbound messages of every WhatsApp channel in the directory. Notify is safe for
// concurrent use and never blocks; Run is called once; Close is idempotent and safe from any goroutine.
type Sender struct {
	cfg Config
	// chMu guards channels and runCtx: a channel added to the configuration at runtime gets its workers when its
	// first job comes (channel).
	chMu     sync.RWMutex
	channels map[string]*channel
	runCtx   context.Context
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	started  atomic.Bool
	done     chan struct{} // closed when Run returns
	wg       sync.WaitGroup
	m        metrics
	// notes are recorded (synced) answers for the note producers, so a worker does not wait for Kafka before its
	// next send.
	notes chan []byte
}

type channel struct {
	tenant  string
	cfg     *tenant.Channel
	limiter *rate.Limiter
	// rate is the rate_limit the limiter was last set for: a configuration change resets it (send).
	rate    atomic.Int64
	workers []*worker
	rescan  chan struct{}
	// fromStart has the next rescan read every worker's queue from its start (Rescan).
	fromStart atomic.Bool
}

// worker is one sending goroutine's queue. When the queue is full a job is dropped from memory (it is in the
// store) and the worker enters overflow: from then on its jobs go through the store only, and the channel's rescan
// queues them in key order — the order they were queued in — until a pass finds no more. So a later reply to a
// customer never overtakes an earlier one that was dropped.
type worker struct {
	q        chan *Job
	mu       sync.Mutex
	overflow bool
	// dropped is the highest queue position Notify dropped (under mu). refilled is the highest the rescan queued
	// (only the channel's rescan goroutine touches it): everything at or below it that is stored was queued.
	dropped, refilled uint64
}

// New builds a sender for the WhatsApp channels of cfg.Directory; Run starts it. Jobs handed to Notify before Run
// wait in the store: Run starts by sending what the store holds, in queue order.
func New(cfg Config) (*Sender, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, channels: map[string]*channel{}, stop: make(chan struct{}), done: make(chan struct{}),
		notes: make(chan []byte, cfg.NoteQueue)}
	var err error
	if s.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("sender metrics: %w", err)
	}
	for _, t := range cfg.Directory.Tenants() {
		for i := range t.Channels {
			s.channels[t.Channels[i].ID] = s.newChannel(t.ID, &t.Channels[i])
		}
	}
	return s, nil
}

func (s *Sender) newChannel(tenantID string, ch *tenant.Channel) *channel {
	c := &channel{tenant: tenantID, cfg: ch, limiter: rate.NewLimiter(limitOf(ch.RateLimit), 1), rescan: make(chan struct{}, 1)}
	c.rate.Store(int64(ch.RateLimit))
	// Every worker starts in overflow, with a rescan due: the jobs an earlier process left in the store, and
	// those handed to Notify before Run, are queued from the store in pages and in order.
	for w := 0; w < s.cfg.Workers; w++ {
		c.workers = append(c.workers, &worker{q: make(chan *Job, s.cfg.QueueLen), overflow: true})
	}
	c.rescan <- struct{}{}
	return c
}

// channel returns the channel id, adding it (and, once Run runs, starting its workers) when the configuration
// gained it since; nil if the configuration has no such channel.
func (s *Sender) channel(id string) *channel {
	s.chMu.RLock()
	c := s.channels[id]
	s.chMu.RUnlock()
	if c != nil {
		return c
	}
	for _, t := range s.cfg.Directory.Tenants() {
		for i := range t.Channels {
			if t.Channels[i].ID != id {
				continue
			}
			s.chMu.Lock()
			defer s.chMu.Unlock()
			if c = s.channels[id]; c == nil {
				c = s.newChannel(t.ID, &t.Channels[i])
				s.channels[id] = c
				if s.runCtx != nil {
					s.startChannel(s.runCtx, id, c)
				}
			}
			return c
		}
	}
	return nil
}

// limitOf is the limiter rate of a channel's rate_limit. Meta counts messages per second; a bucket of the channel's
// rate with no burst never sends more in any second. The rate is trimmed by one message so that a window straddling
// two ticks cannot hold rate+1.
func limitOf(perSecond int) rate.Limit {
	return rate.Limit(float64(perSecond) * float64(perSecond) / float64(perSecond+1))
}

// current is the channel's configuration now: its access token or rate limit may have changed since the channel
// started; a changed rate limit is applied to the channel's limiter here.
func (s *Sender) current(c *channel) *tenant.Channel {
	cfg := s.currentConfig(c)
	if r := int64(cfg.RateLimit); r > 0 && c.rate.Swap(r) != r {
		c.limiter.SetLimit(limitOf(cfg.RateLimit))
	}
	return cfg
}

// removed reports whether c's tenant no longer has the channel (its configuration removed it).
func (s *Sender) removed(c *channel) bool {
	t, ok := s.cfg.Directory.Tenant(c.tenant)
	return ok && !slices.ContainsFunc(t.Channels, func(x tenant.Channel) bool { return x.ID == c.cfg.ID })
}

func (s *Sender) currentConfig(c *channel) *tenant.Channel {
	if t, ok := s.cfg.Directory.Tenant(c.tenant); ok {
		for i := range t.Channels {
			if t.Channels[i].ID == c.cfg.ID {
				return &t.Channels[i]
			}
		}
	}
	return c.cfg
}

// recoverNotes produces again the answers an earlier process recorded and did not see applied, tenant by tenant in
// pages. It runs before any worker sends, so everything it finds is from before and durable. In batches: after a
// crash under load thousands of answers can be waiting, and one produce round trip each kept a restarting node
// from serving for seconds.
func (s *Sender) recoverNotes(ctx context.Context) error {
	for _, t := range s.cfg.Directory.Tenants() {
		if err := s.recoverTenantNotes(ctx, t.ID); err != nil {
			return err
		}
	}
	return nil
}

// recoverTenantNotes produces again the answers recorded for tenant and not yet seen applied.
func (s *Sender) recoverTenantNotes(ctx context.Context, tenantID string) error {
	recs := make([]inbox.Record, 0, noteBatch)
	var after store.NoteRef
	for {
		notes, err := s.cfg.Store.DeliveryNotes(tenantID, after, noteBatch)
		if err != nil {
			return err
		}
		if len(notes) == 0 {
			return nil
		}
		recs = recs[:0]
		for _, n := range notes {
			var rec inbox.Record
			if err := json.Unmarshal(n.Record, &rec); err != nil {
				s.cfg.Logger.Error("dropping undecodable delivery note", "tenant", tenantID,
					"conversation", n.Conversation, "seq", n.Seq, "err", err)
				continue
			}
			recs = append(recs, rec)
		}
		if len(recs) > 0 {
			if err := s.produceRecords(ctx, recs); err != nil {
				return fmt.Errorf("re-produce deliveries of %s: %w", tenantID, err)
			}
		}
		after = notes[len(notes)-1].NoteRef
	}
}

// Rescan is for a tenant whose stored state was just replaced (a restore from the changelog wrote its send jobs and
// recorded answers into the store without Notify): it produces the tenant's recorded answers again, and has the
// workers of its channels queue every stored job from the start of their queues. A job queued twice is sent once:
// a worker skips a job that is no longer stored. Safe for concurrent use; before Run, it only produces the answers
// (Run reads the queues anyway).
func (s *Sender) Rescan(ctx context.Context, tenantID string) error {
	if err := s.recoverTenantNotes(ctx, tenantID); err != nil {
		return err
	}
	s.chMu.RLock()
	var chans []*channel
	for _, c := range s.channels {
		if c.tenant == tenantID {
			chans = append(chans, c)
		}
	}
	s.chMu.RUnlock()
	for _, c := range chans {
		for _, w := range c.workers {
			w.mu.Lock()
			w.overflow = true
			w.mu.Unlock()
		}
		c.fromStart.Store(true)
		select {
		case c.rescan <- struct{}{}:
		default:
		}
	}
	return nil
}

// Notify hands durable jobs to their channel's workers. It never blocks: a full queue drops the job from memory
// (it is in the store), puts its worker in overflow and schedules a rescan of the store.
func (s *Sender) Notify(jobs ...Job) {
	for _, j := range jobs {
		c := s.channel(j.Channel)
		if c == nil {
			s.m.failed.WithLabelValues("unknown_channel").Inc()
			continue
		}
		w := c.workers[workerOf(j.recipient(), len(c.workers))]
		queued := false
		w.mu.Lock()
		if !w.overflow {
			select {
			case w.q <- &j:
				queued = true
			default:
				w.overflow = true
			}
		}
		if !queued {
			w.dropped = max(w.dropped, j.Queued)
		}
		w.mu.Unlock()
		if queued {
			s.m.queued.Inc()
			continue
		}
		select {
		case c.rescan <- struct{}{}:
		default:
		}
	}
}

// workerOf is the worker of a recipient: always the same one, so one customer's messages leave in order.
func workerOf(to string, workers int) int {
	h := fnv.New32a()
	h.Write([]byte(to))
	return int(h.Sum32() % uint32(workers))
}

// refillBatch is how many stored jobs a rescan reads at a time.
const refillBatch = 1024

// refill queues, in queue order, the stored jobs of each of a channel's workers in overflow, waiting for room in
// its queue, and ends the overflow when a pass made under the worker's lock finds nothing more and has passed every
// job Notify dropped (a Notify that dropped a job did so under that lock, after the job was durable; the store
// shows it once every batch that took an earlier queue position is durable or discarded too).
func (s *Sender) refill(ctx context.Context, c *channel) error {
	if c.fromStart.Swap(false) {
		for _, w := range c.workers {
			w.refilled = 0
		}
	}
	for i, w := range c.workers {
		w.mu.Lock()
		over := w.overflow
		w.mu.Unlock()
		if !over {
			continue
		}
		for {
			jobs, err := s.storedJobs(c, i, w.refilled, refillBatch)
			if err != nil {
				return err
			}
			if len(jobs) == 0 {
				w.mu.Lock()
				more, err := s.storedJobs(c, i, w.refilled, 1)
				done := err == nil && len(more) == 0 && w.refilled >= w.dropped
				if done {
					w.overflow = false
				}
				w.mu.Unlock()
				if err != nil {
					return err
				}
				if done {
					break
				}
				if len(more) == 0 && !sleep(ctx, time.Millisecond) { // a dropped job is not readable yet
					return ctx.Err()
				}
				continue
			}
			for _, j := range jobs {
				select {
				case w.q <- j:
					s.m.queued.Inc()
				case <-ctx.Done():
					return ctx.Err()
				}
				w.refilled = j.Queued
			}
		}
	}
	return nil
}

// storedJobs returns up to limit durable stored jobs of worker i of a channel, after the queue position after (0:
// from the first).
func (s *Sender) storedJobs(c *channel, i int, after uint64, limit int) ([]*Job, error) {
	var out []*Job
	for len(out) < limit {
		kvs, err := s.cfg.Store.SendJobs(c.tenant, c.cfg.ID, after, refillBatch)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			after = kv.Ref.Seq
			j := &Job{}
			if err := json.Unmarshal(kv.Value, j); err != nil {
				s.cfg.Logger.Error("skipping undecodable send job", "tenant", c.tenant, "channel", c.cfg.ID,
					"queued", kv.Ref.Seq, "err", err)
				continue
			}
			j.Queued = kv.Ref.Seq
			if workerOf(j.recipient(), len(c.workers)) == i {
				out = append(out, j)
				if len(out) == limit {
					break
				}
			}
		}
		if len(kvs) < refillBatch {
			break
		}
	}
	return out, nil
}

// noteProducers is how many goroutines produce recorded answers, each in batches of up to noteBatch.
const (
	noteProducers = 2
	noteBatch     = 256
)

// Run sends until ctx ends or Close is called; the request in progress on each worker finishes first, and the
// answers recorded by then are produced (for 5 s at most; what is left is produced at the next start). It first
// produces the answers an earlier process recorded and did not see applied (waiting for Kafka if it is down), then
// sends every job queued in the store, in order, and those handed to Notify. It returns nil when stopped, the
// error that kept it from starting otherwise, or ErrRunTwice.
func (s *Sender) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	defer close(s.done)
	select {
	case <-s.stop:
		return nil // closed before it ran
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	// The note producers outlive the workers, so that an answer a worker records while stopping is still
	// produced (flushNotes); they stop once the workers have.
	nctx, stopNotes := context.WithCancel(context.Background())
	var notesWG sync.WaitGroup
	for range noteProducers {
		notesWG.Go(func() { s.produceNotes(nctx) })
	}
	defer func() { stopNotes(); notesWG.Wait() }()
	if err := s.recoverNotes(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sender: recover recorded answers: %w", err)
	}
	s.chMu.Lock()
	s.runCtx = ctx
	for id, c := range s.channels {
		s.startChannel(ctx, id, c)
	}
	s.chMu.Unlock()
	<-ctx.Done()
	// No channel starts from now on, and one starting meanwhile has added itself to wg: the wait sees every goroutine.
	s.chMu.Lock()
	s.runCtx = nil
	s.chMu.Unlock()
	s.wg.Wait()
	return nil
}

// startChannel starts the workers and the rescan loop of channel id (under chMu).
func (s *Sender) startChannel(ctx context.Context, id string, c *channel) {
	for _, w := range c.workers {
		s.wg.Add(1)
		go s.work(ctx, c, w.q)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.rescan:
				if err := s.refill(ctx, c); err != nil && ctx.Err() == nil {
					s.cfg.Logger.Error("rescan send jobs", "tenant", c.tenant, "channel", id, "err", err)
					select { // try again later
					case c.rescan <- struct{}{}:
					default:
					}
					sleep(ctx, time.Second)
				}
			}
		}
	}()
}

// Close stops Run if it is running and waits for it to return. It is idempotent; a Run after Close returns at once.
func (s *Sender) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	if s.started.Load() {
		<-s.done
	}
	return nil
}

// pacePrune is the size at which a worker first drops the pacing of recipients whose burst is full again.
const pacePrune = 4096

// work sends one worker's jobs in order.
func (s *Sender) work(ctx context.Context, c *channel, q chan *Job) {
	defer s.wg.Done()
	pace := map[string]*rate.Limiter{} // recipient → its pair rate limit
	prunePace := pacePrune             // pace is pruned when it reaches this size
	for {
		var j *Job
		select {
		case <-ctx.Done():
			return
		case j = <-q:
		}
		// A rescan can queue a job twice; a job is taken out of the store (synced) before the worker takes its next,
		// and a job's recipient always maps to this worker, so a job no longer stored was already answered.
		if queued, err := s.cfg.Store.SendJobQueued(j.ref()); err != nil {
			s.cfg.Logger.Error("look up send job", "tenant", j.Tenant, "channel", j.Channel, "message", j.MessageID, "err", err)
			continue // it stays in the store; a rescan or the next start takes it again
		} else if !queued {
			continue
		}
		if !s.cfg.Owner.Owns(j.Tenant) {
			s.m.fenced.Inc()
			continue // the partition's owner sends it (a Rescan queues it again if this node is given it back)
		}
		if j.Kind == KindRead {
			d, ok := s.send(ctx, c, j)
			if !ok {
				if ctx.Err() != nil {
					return // stopping: the job stays in the store
				}
				continue // fenced: the job stays in the store
			}
			if err := s.readDone(j, d); err != nil {
				s.cfg.Logger.Error("record read receipt", "tenant", j.Tenant, "channel", j.Channel, "message", j.MessageID, "err", err)
			}
			continue
		}
		lim := pace[j.To]
		if lim == nil {
			if len(pace) >= prunePace {
				// A limiter back to a full burst is the same as a new one: forget those recipients. What stays is
				// only the recipients paced within the last burst × RecipientEvery.
				burst := float64(s.cfg.RecipientBurst)
				for to, l := range pace {
					if l.Tokens() >= burst {
						delete(pace, to)
					}
				}
				prunePace = max(pacePrune, 2*len(pace))
			}
			lim = rate.NewLimiter(rate.Every(s.cfg.RecipientEvery), s.cfg.RecipientBurst)
			pace[j.To] = lim
		}
		if r := lim.Reserve(); r.Delay() > 0 {
			s.m.paced.Inc()
			if !sleep(ctx, r.Delay()) {
				r.Cancel()
				return
			}
		}
		d, ok := s.send(ctx, c, j)
		if !ok {
			if ctx.Err() != nil {
				return // stopping: the job stays in the store
			}
			continue // fenced: the job stays in the store
		}
		if err := s.record(ctx, j, d); err != nil {
			s.cfg.Logger.Error("record delivery", "channel", j.Channel, "message", j.MessageID, "err", err)
			continue
		}
	}
}

// send posts the job until it is accepted or refused for good; ok is false when ctx ended first, or when the node
// stopped owning the job's partition (checked before each attempt).
func (s *Sender) send(ctx context.Context, c *channel, j *Job) (d inbox.Delivery, ok bool) {
	body, err := payload(j)
	if err != nil {
		return inbox.Delivery{ErrorCode: 0, ErrorTitle: "cannot build the request: " + err.Error()}, true
	}
	if s.removed(c) {
		// The channel was removed from its tenant (README "Channels"): nothing more leaves on it, and the message
		// fails with a reason that says why, instead of going out with a credential the tenant took back.
		if j.Kind != KindRead {
			s.m.failed.WithLabelValues("channel_removed").Inc()
		}
		return inbox.Delivery{ErrorTitle: "channel " + c.cfg.ID + " was removed: the message was not sent"}, true
	}
	cfg := s.current(c)
	url := strings.TrimSuffix(s.cfg.BaseURL, "/") + "/" + cfg.PhoneNumberID + "/messages"
	idem := j.MessageID
	if j.Kind == KindRead {
		idem = "read:" + j.MessageID // a wamid of the customer's, never one of our message ids, but kept apart
	}
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return d, false
		}
		if !s.cfg.Owner.Owns(j.Tenant) {
			s.m.fenced.Inc()
			return d, false
		}
		start := time.Now()
		status, resp, err := s.post(ctx, url, cfg.AccessToken, idem, body)
		s.m.latency.Observe(time.Since(start).Seconds())
		if ctx.Err() != nil {
			return d, false
		}
		switch {
		case err == nil && status == http.StatusOK && j.Kind == KindRead:
			var ok struct {
				Success bool `json:"success"`
			}
			if json.Unmarshal(resp, &ok) == nil && ok.Success {
				return inbox.Delivery{WAMID: j.MessageID}, true
			}
			err = fmt.Errorf("mark as read answered without success: %s", resp)
		case err == nil && status == http.StatusOK:
			var ok struct {
				Messages []struct {
					ID string `json:"id"`
				} `json:"messages"`
			}
			if json.Unmarshal(resp, &ok) == nil && len(ok.Messages) == 1 && ok.Messages[0].ID != "" {
				s.m.sent.Inc()
				return inbox.Delivery{WAMID: ok.Messages[0].ID}, true
			}
			err = fmt.Errorf("accepted without a message id: %s", resp)
		case err == nil && !transient(status, resp):
			code, title := metaError(resp)
			if j.Kind != KindRead {
				s.m.failed.WithLabelValues(fmt.Sprint(code)).Inc()
			}
			return inbox.Delivery{ErrorCode: code, ErrorTitle: title}, true
		}
		if attempt >= s.cfg.MaxAttempts {
			if j.Kind != KindRead {
				s.m.failed.WithLabelValues("retries_exhausted").Inc()
			}
			return inbox.Delivery{ErrorTitle: fmt.Sprintf("retries exhausted after %d attempts (last: %d %v)", attempt, status, err)}, true
		}
		s.m.retries.Inc()
		if status == http.StatusTooManyRequests {
			s.m.rateLimited.Inc()
		}
		// Full jitter: a random wait up to the backoff, so retrying workers do not move in step.
		if !sleep(ctx, time.Duration(rand.Int64N(int64(backoff)))+10*time.Millisecond) {
			return d, false
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

func (s *Sender) post(ctx context.Context, url, token, idem string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", idem)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// transient reports whether an answer is worth retrying: rate limits and server errors are; every other refusal is
// final (invalid recipient, outside the window, template missing or paused, …).
func transient(status int, body []byte) bool {
	if status == http.StatusTooManyRequests || status >= 500 {
		return true
	}
	code, _ := metaError(body)
	switch code {
	case 130429, 131056, 4, 80007, 1, 2, 131000: // rate limits and Meta's own temporary errors
		return true
	}
	return false
}

func metaError(body []byte) (int, string) {
	var e struct {
		Error struct {
			Code      int    `json:"code"`
			Message   string `json:"message"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return 0, "unreadable error from the WhatsApp API"
	}
	title := e.Error.Message
	if e.Error.ErrorData.Details != "" {
		title += ": " + e.Error.ErrorData.Details
	}
	return e.Error.Code, title
}

// record makes the answer durable (the job leaves the queue, a note of the answer stays until applied), then
// produces it to the tenant's partition.
func (s *Sender) record(ctx context.Context, j *Job, d inbox.Delivery) error {
	d.ConversationID, d.Seq, d.MessageID = j.ConversationID, j.Seq, j.MessageID
	rec := inbox.Record{Tenant: j.Tenant, IngestAt: time.Now().UnixMilli(), Items: []inbox.Item{{
		Kind: inbox.KindDelivery, Channel: j.Channel, Delivery: &d,
	}}}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	b := s.cfg.Store.NewBatch()
	if err := b.DeleteSendJob(j.ref()); err != nil {
		b.Discard()
		return fmt.Errorf("delete send job: %w", err)
	}
	if err := b.PutDeliveryNote(j.Tenant, store.NoteRef{Conversation: j.ConversationID, Seq: j.Seq}, v); err != nil {
		b.Discard()
		return fmt.Errorf("put delivery note: %w", err)
	}
	synced := make(chan error, 1)
	if err := s.cfg.Store.Commit(b, func(err error) { synced <- err }); err != nil {
		return fmt.Errorf("commit delivery note: %w", err)
	}
	if err := <-synced; err != nil {
		return fmt.Errorf("sync delivery note: %w", err)
	}
	select {
	case s.notes <- v:
		return nil
	case <-ctx.Done():
		select {
		case s.notes <- v: // stopping: the note producers flush what is queued
		default: // recorded: the next Run produces it again
		}
		return nil
	}
}

// readDone takes an answered read receipt out of the send queue (synced, so it is not sent again after a restart)
// and counts it; a refused one is logged. Nothing is produced: a read receipt changes no conversation.
func (s *Sender) readDone(j *Job, d inbox.Delivery) error {
	if d.WAMID != "" {
		s.m.readsSent.Inc()
	} else {
		s.m.readsFailed.Inc()
		s.cfg.Logger.Warn("read receipt refused", "tenant", j.Tenant, "channel", j.Channel, "message", j.MessageID,
			"code", d.ErrorCode, "error", d.ErrorTitle)
	}
	b := s.cfg.Store.NewBatch()
	if err := b.DeleteSendJob(j.ref()); err != nil {
		b.Discard()
		return fmt.Errorf("delete read receipt job: %w", err)
	}
	synced := make(chan error, 1)
	if err := s.cfg.Store.Commit(b, func(err error) { synced <- err }); err != nil {
		return fmt.Errorf("commit read receipt: %w", err)
	}
	return <-synced
}

// produceNotes produces the recorded answers handed over by the workers, in batches, until ctx ends; then it
// produces what is already queued, for a few seconds at most (anything left is produced again by the next Run).
func (s *Sender) produceNotes(ctx context.Context) {
	batch := make([]inbox.Record, 0, noteBatch)
	add := func(v []byte) {
		var rec inbox.Record
		if err := json.Unmarshal(v, &rec); err != nil {
			s.cfg.Logger.Error("dropping undecodable delivery note", "err", err)
			return
		}
		batch = append(batch, rec)
	}
	for {
		batch = batch[:0]
		select {
		case v := <-s.notes:
			add(v)
		case <-ctx.Done():
			s.flushNotes()
			return
		}
	more:
		for len(batch) < noteBatch {
			select {
			case v := <-s.notes:
				add(v)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			if err := s.produceRecords(ctx, batch); err != nil {
				// Only a stop ends the retries: the batch's answers are recorded in the store, and the next Run
				// produces them again. What is still queued is flushed below.
				s.cfg.Logger.Warn("delivery records left for the next start", "records", len(batch), "err", err)
			}
		}
	}
}

// flushNotes produces the answers still queued when the sender stops, in batches, giving up after 5 s (what is
// left is produced again by the next Run).
func (s *Sender) flushNotes() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		batch := make([]inbox.Record, 0, noteBatch)
	fill:
		for len(batch) < noteBatch {
			select {
			case v := <-s.notes:
				var rec inbox.Record
				if json.Unmarshal(v, &rec) == nil {
					batch = append(batch, rec)
				}
			default:
				break fill
			}
		}
		if len(batch) == 0 || s.cfg.Producer.Produce(ctx, batch) != nil {
			return
		}
	}
}

// produceRecords produces delivery records, retrying while Kafka is unavailable, until ctx ends.
func (s *Sender) produceRecords(ctx context.Context, recs []inbox.Record) error {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.cfg.Producer.Produce(pctx, recs)
		cancel()
		if err == nil {
			return nil
		}
		s.cfg.Logger.Warn("produce delivery", "err", err)
		if !sleep(ctx, backoff) {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
