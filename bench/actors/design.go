// Package actors measures what the actor framework (hollywood) costs Switchboard, against plain-goroutine designs
// doing the same work, in process and without I/O: the CPU and latency of delivering a message to a conversation's
// handler, and what a resident conversation costs in memory and to start and stop (issue 15).
//
// Three designs deliver a partition consumer's stream — one producer goroutine, messages spread uniformly (fixed
// seed) over N conversations, at most 4,096 unhandled (the router's MaxInFlight) — to per-conversation handlers:
//
//   - hollywood: one actor per conversation, spawned as the router spawns it (a child of a tenant actor, inbox 8,
//     actor id "<conversation>.<n>"), sent to by PID, stopped with Poison as the router passivates;
//   - goroutine: one goroutine per conversation reading a buffered channel of the same capacity (8);
//   - pool: GOMAXPROCS worker goroutines, each with a 1,024-slot queue, a conversation going to the worker its id
//     hashes to (FNV-1a), whose map from conversation id holds the conversation's state.
//
// Every handler does the same work (run.handle): an ordering check and counters, the send→handled latency, and, for
// the "receive" work, conversation.Receive (the pure rule of a customer message) on the conversation's state, or,
// for "stack8k", a call using 8 KiB of stack (a goroutine started small grows its stack to run it).
// BenchmarkDelivery runs as fast as each design goes, BenchmarkLatency at a steady rate like a node's (BENCH_RATE,
// default 20,000 messages/s); both report per message ns/op, allocs/op, the process's CPU (cpu-ns/msg, every
// goroutine's and the GC's: the figure that holds on a machine shared with other work) and p50-ns/p99-ns
// send→handled. BenchmarkResident's op is one idle conversation started and stopped; it reports heap and goroutine
// stack bytes per resident conversation (stacks are not in HeapAlloc), the heap still held once all are stopped,
// and spawn and stop CPU and allocations per conversation. A test checks that every design delivers every message
// exactly once, in order. Run (under 2 minutes on two busy cores; BenchmarkResident in fresh processes, since the
// runtime keeps goroutine records and sizes new stacks by what ran before):
//
//	GOEXPERIMENT=jsonv2 go test ./bench/actors/
//	GOEXPERIMENT=jsonv2 go test -run '^$' -bench 'Delivery|Latency' -benchtime 20000x -count 3 ./bench/actors/
//	for i in 1 2 3; do GOEXPERIMENT=jsonv2 go test -run '^$' -bench Resident -benchtime 30000x ./bench/actors/; done
package actors

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

const (
	// maxInFlight bounds the messages sent and not yet handled, as the router's MaxInFlight bounds a partition's
	// records: hollywood inboxes grow without bound, so an unbounded producer would measure the allocator.
	maxInFlight = 4096
	// wakeEvery is how many handled messages wake a waiting producer (and the last one always does).
	wakeEvery = 256
	// inboxSize is the conversation actors' inbox size in the router (tenant.go, kid), and the goroutine design's
	// channel capacity.
	inboxSize = 8
	// poolQueue is a pool worker's queue capacity.
	poolQueue = 1024
)

// message is one item for a conversation. Every design sends it by pointer, so each allocates it once per message,
// as the router allocates an itemMsg per item.
type message struct {
	conv int32  // the conversation's index in run.states
	seq  uint32 // the conversation's sequence number, from 1
	i    int64  // the message's position in the run (index into run.lat)
	sent int64  // nanoseconds from run.start to the send
}

// convState is a conversation's state as every design's handler sees it: what it needs to check delivery.
type convState struct {
	id    string
	idx   int32
	next  uint32 // the seq expected next
	count uint32 // messages handled
	bad   uint32 // messages handled out of order (a repeat, or after a gap)
	sum   uint32 // WorkStack's results
}

// Work is what a handler does for a message beyond the bookkeeping every design shares.
type Work int

const (
	// WorkCount is the bookkeeping only: an ordering check, counters and the latency sample.
	WorkCount Work = iota
	// WorkReceive adds conversation.Receive, the pure rule of a customer message, on the conversation's state.
	WorkReceive
	// WorkStack adds a call that uses deepFrame bytes of stack, as the router's conversation actor does on its way
	// through the store (the node's profile shows its goroutines growing their stacks): a goroutine that starts
	// small grows its stack, by copying, the first time it runs it.
	WorkStack
)

// deepFrame is the stack WorkStack's call uses, in bytes.
const deepFrame = 8 << 10

func (w Work) String() string {
	switch w {
	case WorkReceive:
		return "receive"
	case WorkStack:
		return "stack8k"
	}
	return "count"
}

// deep uses deepFrame bytes of stack, touching one word in 64 (its own work is small: the zeroing of its frame and
// a few dozen words), and returns a value that depends on them, so the frame is not optimised away.
//
//go:noinline
func deep(seed uint32) uint32 {
	var frame [deepFrame / 4]uint32
	for i := 0; i < len(frame); i += 64 {
		frame[i] = seed + uint32(i)
	}
	var sum uint32
	for i := 0; i < len(frame); i += 64 {
		sum = sum*31 + frame[i]
	}
	return sum
}

// run is one measurement's shared state: the conversations, the latency samples and the in-flight bound.
type run struct {
	start  time.Time
	states []convState
	work   Work
	// convs and inbound are the conversations' domain state and each one's customer message (WorkReceive only).
	convs   []conversation.Conversation
	inbound []conversation.Inbound
	// lat[i] is message i's send→handled latency in nanoseconds; nil records none.
	lat     []int64
	total   int64
	handled atomic.Int64
	// wake is a wake-up, not a count: the producer re-reads handled after each one, so a dropped signal loses
	// nothing.
	wake chan struct{}
}

// newRun makes n conversations named "c<i>" with work w.
func newRun(n int, w Work) *run {
	r := &run{start: time.Now(), states: make([]convState, n), work: w, wake: make(chan struct{}, 1)}
	for i := range r.states {
		r.states[i] = convState{id: fmt.Sprintf("wa1:2771%07d", i), idx: int32(i), next: 1}
	}
	if w == WorkReceive {
		r.convs = make([]conversation.Conversation, n)
		r.inbound = make([]conversation.Inbound, n)
		at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		for i := range r.inbound {
			r.inbound[i] = conversation.Inbound{TenantID: "t1", ChannelID: "wa1", At: at,
				Message: &inbox.Message{ID: fmt.Sprintf("wamid.%d", i), From: fmt.Sprintf("2771%07d", i),
					Type: "text", Timestamp: at.Unix(), Text: "hello, is my order on its way?"}}
		}
	}
	return r
}

// handle is every design's handler: the same work whatever delivered m.
func (r *run) handle(st *convState, m *message) {
	if m.seq != st.next {
		st.bad++
	}
	st.next = m.seq + 1
	st.count++
	if r.work == WorkReceive {
		in := r.inbound[st.idx]
		in.Pos = conversation.Position{Offset: m.i}
		r.convs[st.idx], _, _ = conversation.Receive(r.convs[st.idx], in, conversation.Policy{})
	}
	if r.work == WorkStack {
		st.sum += deep(m.seq)
	}
	if r.lat != nil {
		r.lat[m.i] = int64(time.Since(r.start)) - m.sent
	}
	if h := r.handled.Add(1); h%wakeEvery == 0 || h == r.total {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// produce sends one message to each conversation in targets, in order, as a partition consumer delivers: one
// goroutine, at most maxInFlight messages unhandled. A rate > 0 paces the sends at rate messages per second, in
// batches of a millisecond's worth; 0 sends as fast as the design takes them. It returns once every message is
// handled.
func (r *run) produce(d design, targets []int32, rate int) {
	r.total = int64(len(targets))
	seqs := make([]uint32, len(r.states))
	batch := max(rate/1000, 1)
	begin := time.Now()
	for i, c := range targets {
		if rate > 0 && i%batch == 0 {
			if wait := time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(rate))); wait > 0 {
				time.Sleep(wait)
			}
		}
		for int64(i)-r.handled.Load() >= maxInFlight {
			<-r.wake
		}
		seqs[c]++
		d.send(&message{conv: c, seq: seqs[c], i: int64(i), sent: int64(time.Since(r.start))})
	}
	for r.handled.Load() < r.total {
		<-r.wake
	}
}

// check reports the first conversation whose messages were not each handled exactly once and in order: want[i] is
// how many were sent to conversation i.
func (r *run) check(want []uint32) error {
	for i := range r.states {
		st := &r.states[i]
		if st.bad != 0 || st.count != want[i] {
			return fmt.Errorf("conversation %s: %d messages handled (%d out of order or repeated), %d sent",
				st.id, st.count, st.bad, want[i])
		}
	}
	return nil
}

// design delivers messages to per-conversation handlers that call run.handle. A design is made with none of the
// run's conversations started; its methods are called from one goroutine.
type design interface {
	// spawn starts every conversation of the run and returns once each is resident and ready for messages.
	spawn() error
	// send delivers m to conversation m.conv's handler; it may block while that conversation's mailbox is full.
	send(m *message)
	// passivate stops every conversation after it has handled what was sent to it, and returns once all have.
	passivate()
	// close stops what the design runs besides the conversations (engine, tenant actor, workers); after passivate.
	close()
}

// designs are the designs compared, by name.
var designs = []struct {
	name string
	new  func(r *run) (design, error)
}{
	{"hollywood", newHollywood},
	{"goroutine", newGoroutines},
	{"pool", newPool},
}

// hollywoodDesign is one hollywood actor per conversation, a child of a tenant actor, as the router runs them.
type hollywoodDesign struct {
	e      *actor.Engine
	tenant *actor.PID
	pids   []*actor.PID
}

// convActor is a conversation actor: it holds its conversation's state.
type convActor struct {
	r  *run
	st *convState
}

func (a *convActor) Receive(c *actor.Context) {
	if m, ok := c.Message().(*message); ok {
		a.r.handle(a.st, m)
	}
}

// tenantActor spawns conversation actors as its children, as the router's tenant actor does (tenant.go, kid).
type tenantActor struct {
	r *run
	// spawned counts the conversation actors started; each one's actor id ends with it, as in the router.
	spawned uint64
}

// spawnReq asks the tenant actor to spawn the actors of every conversation; it answers with their PIDs.
type spawnReq struct{}

func (t *tenantActor) Receive(c *actor.Context) {
	if _, ok := c.Message().(spawnReq); !ok {
		return
	}
	pids := make([]*actor.PID, len(t.r.states))
	for i := range t.r.states {
		st := &t.r.states[i]
		t.spawned++
		pids[i] = c.SpawnChild(func() actor.Receiver { return &convActor{r: t.r, st: st} }, "c",
			actor.WithID(st.id+"."+strconv.FormatUint(t.spawned, 36)), actor.WithInboxSize(inboxSize))
	}
	c.Respond(pids)
}

func newHollywood(r *run) (design, error) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, fmt.Errorf("hollywood engine: %w", err)
	}
	d := &hollywoodDesign{e: e}
	d.tenant = e.Spawn(func() actor.Receiver { return &tenantActor{r: r} }, "tenant",
		actor.WithID("t1-p0-g1"), actor.WithInboxSize(256))
	return d, nil
}

func (d *hollywoodDesign) spawn() error {
	res, err := d.e.Request(d.tenant, spawnReq{}, 5*time.Minute).Result()
	if err != nil {
		return fmt.Errorf("spawn conversation actors: %w", err)
	}
	pids, ok := res.([]*actor.PID)
	if !ok {
		return fmt.Errorf("BUG: spawnReq answered with %T", res)
	}
	d.pids = pids
	return nil
}

func (d *hollywoodDesign) send(m *message) { d.e.Send(d.pids[m.conv], m) }

// passivate poisons every conversation actor, as the tenant actor passivates idle ones, and waits until all have
// stopped; the tenant actor stays.
func (d *hollywoodDesign) passivate() {
	done := make([]<-chan struct{}, len(d.pids))
	for i, pid := range d.pids {
		done[i] = d.e.Poison(pid).Done()
	}
	for _, c := range done {
		<-c
	}
	d.pids = nil
}

func (d *hollywoodDesign) close() { <-d.e.Poison(d.tenant).Done() }

// goroutineDesign is one goroutine per conversation reading its own buffered channel.
type goroutineDesign struct {
	r     *run
	chans []chan *message
	wg    sync.WaitGroup
}

func newGoroutines(r *run) (design, error) { return &goroutineDesign{r: r}, nil }

func (d *goroutineDesign) spawn() error {
	d.chans = make([]chan *message, len(d.r.states))
	d.wg.Add(len(d.chans))
	for i := range d.chans {
		ch := make(chan *message, inboxSize)
		d.chans[i] = ch
		go d.loop(&d.r.states[i], ch)
	}
	return nil
}

func (d *goroutineDesign) loop(st *convState, ch <-chan *message) {
	defer d.wg.Done()
	for m := range ch {
		d.r.handle(st, m)
	}
}

func (d *goroutineDesign) send(m *message) { d.chans[m.conv] <- m }

func (d *goroutineDesign) passivate() {
	for _, ch := range d.chans {
		close(ch)
	}
	d.wg.Wait()
	d.chans = nil
}

func (d *goroutineDesign) close() {}

// poolDesign is a fixed pool of workers, each owning the conversations whose ids hash to it: no per-conversation
// mailbox, goroutine or actor, only a map entry in the owning worker.
type poolDesign struct {
	r      *run
	queues []chan poolItem
	wg     sync.WaitGroup
}

// poolItem is a message for conversation id, or (m nil) an instruction: open makes the conversation resident with
// state st, otherwise it is dropped (passivated); a non-nil flushed is marked done once what came before is done.
type poolItem struct {
	id      string
	m       *message
	st      *convState
	open    bool
	flushed *sync.WaitGroup
}

func newPool(r *run) (design, error) {
	d := &poolDesign{r: r, queues: make([]chan poolItem, runtime.GOMAXPROCS(0))}
	d.wg.Add(len(d.queues))
	for i := range d.queues {
		d.queues[i] = make(chan poolItem, poolQueue)
		go d.worker(d.queues[i])
	}
	return d, nil
}

func (d *poolDesign) worker(q <-chan poolItem) {
	defer d.wg.Done()
	convs := map[string]*convState{}
	for it := range q {
		switch {
		case it.m != nil:
			st := convs[it.id]
			if st == nil {
				panic(fmt.Sprintf("BUG: message for conversation %s, which is not open", it.id))
			}
			d.r.handle(st, it.m)
		case it.flushed != nil:
			it.flushed.Done()
		case it.open:
			convs[it.id] = it.st
		default:
			delete(convs, it.id)
		}
	}
}

// queue is the queue of the worker that owns conversation id.
func (d *poolDesign) queue(id string) chan poolItem {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return d.queues[h%uint32(len(d.queues))]
}

// flush returns once every worker has handled what was queued before.
func (d *poolDesign) flush() {
	var wg sync.WaitGroup
	wg.Add(len(d.queues))
	for _, q := range d.queues {
		q <- poolItem{flushed: &wg}
	}
	wg.Wait()
}

func (d *poolDesign) spawn() error {
	for i := range d.r.states {
		st := &d.r.states[i]
		d.queue(st.id) <- poolItem{id: st.id, st: st, open: true}
	}
	d.flush()
	return nil
}

func (d *poolDesign) send(m *message) {
	id := d.r.states[m.conv].id
	d.queue(id) <- poolItem{id: id, m: m}
}

func (d *poolDesign) passivate() {
	for i := range d.r.states {
		id := d.r.states[i].id
		d.queue(id) <- poolItem{id: id}
	}
	d.flush()
}

func (d *poolDesign) close() {
	for _, q := range d.queues {
		close(q)
	}
	d.wg.Wait()
}
