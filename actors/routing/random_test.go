package routing

// The randomised test drives a Dispatcher with random sequences of arrivals, closes, unassignments, availability and
// capacity changes, manual takes and rebuilds, and after every step compares it with a plain model kept here from
// the decisions the Dispatcher returned. The model re-derives every routing choice independently (exact ratios
// with math/big), so a decision the caller would not hear about, or a wrong one, fails the test.
//
// A failure prints its seed; `go test ./actors/routing -run TestRandomised -seed=N -sequences=1 -v` replays it.

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	randSeed      = flag.Int64("seed", 0, "first seed of TestRandomised (0: derived from the time)")
	randSequences = flag.Int("sequences", 3000, "number of random sequences TestRandomised runs (a tenth with -short)")
	randSteps     = flag.Int("steps", 150, "steps per random sequence")
)

func TestRandomised(t *testing.T) {
	seed := *randSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	n := *randSequences
	if testing.Short() && n > 10 {
		n /= 10
	}
	for i := range n {
		s := seed + int64(i)
		if err := runRandom(s, *randSteps); err != nil {
			t.Fatalf("seed %d: %v\nreplay: go test ./actors/routing -run TestRandomised -seed=%d -sequences=1 -v", s, err, s)
		}
	}
	t.Logf("%d sequences of %d steps from seed %d", n, *randSteps, seed)
}

var (
	randOps    = []string{"o0", "o1", "o2", "o3", "o4", "o5"}
	randSkills = []string{"en", "fr", "de"}
)

// model is the test's own account of the routing state, kept from what the Dispatcher returns.
type model struct {
	rng    *rand.Rand
	d      *Dispatcher
	p      Policy
	at     int64
	ops    map[string]*modelOp
	held   map[string]modelHeld
	queued map[string]Waiting
	convs  []string // every conversation id ever used

	trace    []string
	prevLoad map[string]int
	routed   []modelRouted // assignments by routing (not by hand) in this step
}

type modelOp struct {
	avail    Availability
	capacity int
	skills   []string
	load     int
	idle     int64
}

type modelHeld struct {
	op string
	w  Waiting
}

type modelRouted struct {
	w  Waiting
	op string
}

// failure is raised (panicked) by failf and turned into runRandom's error.
type failure string

func (m *model) failf(format string, args ...any) {
	panic(failure(fmt.Sprintf(format, args...)))
}

func runRandom(seed int64, steps int) (err error) {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>32|1))
	m := &model{
		rng:    rng,
		p:      Policy{Sticky: rng.IntN(2) == 0, OfflineReleases: rng.IntN(2) == 0, Manual: rng.IntN(4) == 0},
		ops:    map[string]*modelOp{},
		held:   map[string]modelHeld{},
		queued: map[string]Waiting{},
	}
	m.d = New(m.p)
	nconv := 5 + rng.IntN(40)
	for i := range nconv {
		m.convs = append(m.convs, fmt.Sprintf("c%d", i))
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s\npolicy %+v; steps:\n  %s", string(f), m.p, strings.Join(m.trace, "\n  "))
		}
	}()
	for range 2 + rng.IntN(3) {
		m.upsert()
		m.after()
	}
	for range steps {
		m.at += int64(rng.IntN(50)) // sometimes 0: equal times must be ordered too
		m.prevLoad = map[string]int{}
		for id, o := range m.ops {
			m.prevLoad[id] = o.load
		}
		m.routed = m.routed[:0]
		switch r := rng.IntN(100); {
		case r < 30:
			m.arrive()
		case r < 48:
			m.close()
		case r < 52:
			m.remove()
		case r < 64:
			m.availability()
		case r < 72:
			m.capacity()
		case r < 84:
			m.take()
		case r < 90:
			m.unassign()
		case r < 96:
			m.upsert()
		default:
			m.rebuild()
		}
		m.after()
	}
	return nil
}

func (m *model) log(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

func (m *model) conv() string { return m.convs[m.rng.IntN(len(m.convs))] }

func (m *model) op() string {
	if m.rng.IntN(20) == 0 {
		return "zed" // never added
	}
	return randOps[m.rng.IntN(len(randOps))]
}

func (m *model) skills() []string {
	var s []string
	for _, k := range randSkills {
		if m.rng.IntN(4) == 0 {
			s = append(s, k)
		}
	}
	return s
}

func (m *model) availabilityValue() Availability {
	switch r := m.rng.IntN(20); {
	case r == 0:
		return "busy"
	case r < 10:
		return Online
	case r < 14:
		return Away
	default:
		return Offline
	}
}

func (m *model) arrive() {
	w := Waiting{ConversationID: m.conv(), Priority: m.rng.IntN(3), EnqueuedAt: m.at, Skills: m.skills()}
	if m.rng.IntN(10) == 0 {
		w.Priority = m.rng.IntN(20) - 5 // many priorities: buckets come and go
	}
	if m.rng.IntN(5) == 0 {
		w.EnqueuedAt -= m.rng.Int64N(m.at + 1) // entered the queue earlier: inserted at the front or in the middle
	}
	if m.rng.IntN(3) == 0 {
		w.LastOperator = m.op()
	}
	as, err := m.d.Enqueue(w)
	m.log("arrive %s -> %v %v", formatWaiting(w), as, err)
	if _, ok := m.held[w.ConversationID]; ok {
		if !errors.Is(err, ErrConversationAssigned) || as != nil {
			m.failf("enqueue of an assigned conversation: %v, %v", as, err)
		}
		return
	}
	if err != nil {
		m.failf("enqueue: %v", err)
	}
	m.queued[w.ConversationID] = w
	if len(as) > 1 || len(as) == 1 && as[0].ConversationID != w.ConversationID {
		m.failf("enqueue of %s assigned %v", w.ConversationID, as)
	}
	m.applyRouted(as)
}

func (m *model) close() {
	id := m.conv()
	as := m.d.Released(id, m.at)
	m.log("close %s at=%d -> %v", id, m.at, as)
	if h, ok := m.held[id]; ok {
		m.unhold(id, h)
	} else {
		delete(m.queued, id)
		if as != nil {
			m.failf("releasing an unassigned conversation assigned %v", as)
		}
	}
	m.applyRouted(as)
}

func (m *model) remove() {
	id := m.conv()
	got := m.d.Remove(id)
	m.log("remove %s -> %t", id, got)
	_, want := m.queued[id]
	if got != want {
		m.failf("Remove(%s) = %t, want %t", id, got, want)
	}
	delete(m.queued, id)
}

func (m *model) availability() {
	id, a := m.op(), m.availabilityValue()
	as, rel, err := m.d.SetAvailability(id, a, m.at)
	m.log("availability %s %s at=%d -> %v released %v %v", id, a, m.at, as, rel, err)
	o, known := m.ops[id]
	switch {
	case !known:
		if !errors.Is(err, ErrOperatorUnknown) {
			m.failf("want ErrOperatorUnknown, got %v", err)
		}
		return
	case !a.Valid():
		if !errors.Is(err, ErrInvalidAvailability) {
			m.failf("want ErrInvalidAvailability, got %v", err)
		}
		return
	case err != nil:
		m.failf("SetAvailability: %v", err)
	}
	if o.avail == a {
		if as != nil || rel != nil {
			m.failf("setting the same availability changed something")
		}
		return
	}
	if a == Online {
		o.idle = m.at
	}
	o.avail = a
	var want []string
	if a == Offline && m.p.OfflineReleases {
		for c, h := range m.held {
			if h.op == id {
				want = append(want, c)
			}
		}
		slices.Sort(want)
	}
	if !slices.Equal(rel, want) {
		m.failf("released %v, want %v", rel, want)
	}
	for _, c := range want {
		w := m.held[c].w
		w.EnqueuedAt, w.LastOperator = m.at, id
		delete(m.held, c)
		o.load--
		m.queued[c] = w
	}
	m.applyRouted(as)
}

func (m *model) capacity() {
	id, n := m.op(), m.rng.IntN(6)-1
	as, err := m.d.SetCapacity(id, n)
	m.log("capacity %s %d -> %v %v", id, n, as, err)
	o, known := m.ops[id]
	switch {
	case !known:
		if !errors.Is(err, ErrOperatorUnknown) {
			m.failf("want ErrOperatorUnknown, got %v", err)
		}
		return
	case n < 0:
		if !errors.Is(err, ErrInvalidCapacity) {
			m.failf("want ErrInvalidCapacity, got %v", err)
		}
		return
	case err != nil:
		m.failf("SetCapacity: %v", err)
	}
	o.capacity = n
	m.applyRouted(as)
}

func (m *model) take() {
	conv, id := m.conv(), m.op()
	as, err := m.d.Assigned(conv, id, m.at)
	m.log("take %s %s at=%d -> %v %v", conv, id, m.at, as, err)
	h, wasHeld := m.held[conv]
	o, known := m.ops[id]
	var want error
	switch {
	case wasHeld && h.op == id:
	case !known:
		want = ErrOperatorUnknown
	case o.avail != Online && !m.p.Manual:
		want = ErrOperatorNotOnline
	case o.load >= o.capacity:
		want = ErrAtCapacity
	}
	if want != nil || err != nil {
		if !errors.Is(err, want) || as != nil {
			m.failf("Assigned = %v, %v; want error %v", as, err, want)
		}
		return
	}
	if wasHeld && h.op == id {
		if as != nil {
			m.failf("assigning to the holder assigned %v", as)
		}
		return
	}
	w := Waiting{ConversationID: conv}
	if wasHeld {
		m.unhold(conv, h)
		w = h.w
	} else if q, ok := m.queued[conv]; ok {
		w = q
		delete(m.queued, conv)
	}
	m.held[conv] = modelHeld{id, w}
	o.load++
	if !wasHeld && as != nil {
		m.failf("taking a conversation no one held assigned %v", as)
	}
	m.applyRouted(as)
}

func (m *model) unassign() {
	var ids []string
	for c := range m.held {
		ids = append(ids, c)
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	id := ids[m.rng.IntN(len(ids))]
	h := m.held[id]
	as := m.d.Released(id, m.at)
	m.log("unassign %s from %s at=%d -> %v", id, h.op, m.at, as)
	m.unhold(id, h)
	m.applyRouted(as)
	// The requeued conversation may rank ahead of what the release just assigned: check queue order in between.
	m.checkOrder()
	m.routed = m.routed[:0]
	w := h.w
	w.EnqueuedAt, w.LastOperator = m.at, h.op
	as, err := m.d.Enqueue(w)
	m.log("  requeue -> %v %v", as, err)
	if err != nil {
		m.failf("requeue: %v", err)
	}
	m.queued[id] = w
	m.applyRouted(as)
}

func (m *model) upsert() {
	id := randOps[m.rng.IntN(len(randOps))]
	o := Operator{ID: id, Availability: m.availabilityValue(), Capacity: m.rng.IntN(5), Skills: m.skills(),
		Load: m.rng.IntN(9), IdleSince: m.rng.Int64N(m.at + 1)}
	if o.Availability == "busy" {
		o.Availability = ""
	}
	as, err := m.d.UpsertOperator(o)
	m.log("upsert %+v -> %v %v", o, as, err)
	if err != nil {
		m.failf("UpsertOperator: %v", err)
	}
	if mo, ok := m.ops[id]; ok {
		mo.capacity, mo.skills = o.Capacity, o.Skills
	} else {
		if o.Availability == "" {
			o.Availability = Offline
		}
		m.ops[id] = &modelOp{avail: o.Availability, capacity: o.Capacity, skills: o.Skills, idle: o.IdleSince}
	}
	m.applyRouted(as)
}

func (m *model) rebuild() {
	var convs []ConvState
	for _, h := range m.held {
		convs = append(convs, ConvState{Waiting: h.w, Status: StatusAssigned, Assignee: h.op})
	}
	for _, w := range m.queued {
		convs = append(convs, ConvState{Waiting: w, Status: StatusUnassigned})
	}
	for _, c := range m.convs {
		if _, ok := m.held[c]; ok {
			continue
		}
		if _, ok := m.queued[c]; ok {
			continue
		}
		if m.rng.IntN(2) == 0 {
			convs = append(convs, ConvState{Waiting: Waiting{ConversationID: c}, Status: StatusClosed, Assignee: "o1"})
		}
	}
	// Record order must not matter.
	slices.SortFunc(convs, func(a, b ConvState) int { return strings.Compare(a.ConversationID, b.ConversationID) })
	m.rng.Shuffle(len(convs), func(i, j int) { convs[i], convs[j] = convs[j], convs[i] })
	ops := m.d.Operators()
	m.rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	d, as := Rebuild(ops, convs, m.p)
	m.log("rebuild -> %v", as)
	if len(as) != 0 {
		m.failf("rebuilding a settled state assigned %v", as)
	}
	if got, want := d.Operators(), m.d.Operators(); !slices.EqualFunc(got, want, equalOperator) {
		m.failf("rebuilt operators %+v, want %+v", got, want)
	}
	if got, want := d.Queue(), m.d.Queue(); !slices.EqualFunc(got, want, equalWaiting) {
		m.failf("rebuilt queue %+v, want %+v", got, want)
	}
	m.d = d
}

func (m *model) unhold(id string, h modelHeld) {
	delete(m.held, id)
	o := m.ops[h.op]
	o.load--
	o.idle = m.at
}

// applyRouted checks each assignment made by routing against the model's own choice and applies it, in order.
func (m *model) applyRouted(as []Assignment) {
	for _, a := range as {
		w, ok := m.queued[a.ConversationID]
		if !ok {
			m.failf("assigned %s, which was not waiting", a.ConversationID)
		}
		if want := m.choose(w); want != a.OperatorID {
			m.failf("%s assigned to %s, want %q", a.ConversationID, a.OperatorID, want)
		}
		delete(m.queued, a.ConversationID)
		m.held[a.ConversationID] = modelHeld{a.OperatorID, w}
		m.ops[a.OperatorID].load++
		m.routed = append(m.routed, modelRouted{w, a.OperatorID})
	}
}

// choose is the model's own routing choice for w, "" for none; ratios are compared as exact rationals.
func (m *model) choose(w Waiting) string {
	ids := make([]string, 0, len(m.ops))
	for id := range m.ops {
		if m.candidate(id, w) {
			ids = append(ids, id)
		}
	}
	if m.p.Sticky && slices.Contains(ids, w.LastOperator) {
		return w.LastOperator
	}
	best := ""
	for _, id := range ids {
		if best == "" {
			best = id
			continue
		}
		a, b := m.ops[id], m.ops[best]
		c := big.NewRat(int64(a.load), int64(a.capacity)).Cmp(big.NewRat(int64(b.load), int64(b.capacity)))
		if c == 0 {
			c = cmp.Compare(a.idle, b.idle)
		}
		if c == 0 {
			c = strings.Compare(id, best)
		}
		if c < 0 {
			best = id
		}
	}
	return best
}

func (m *model) candidate(id string, w Waiting) bool {
	o := m.ops[id]
	if m.p.Manual || o.avail != Online || o.load >= o.capacity {
		return false
	}
	for _, s := range w.Skills {
		if !slices.Contains(o.skills, s) {
			return false
		}
	}
	return true
}

// queuedBefore reports whether a is offered before b: priority descending, then time, then id.
func queuedBefore(a, b Waiting) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if a.EnqueuedAt != b.EnqueuedAt {
		return a.EnqueuedAt < b.EnqueuedAt
	}
	return a.ConversationID < b.ConversationID
}

// after checks, once a step is done, the Dispatcher against the model and the invariants both must keep.
func (m *model) after() {
	if err := m.d.check(); err != nil {
		m.failf("internal invariant: %v", err)
	}
	ops := m.d.Operators()
	if len(ops) != len(m.ops) {
		m.failf("dispatcher has %d operators, model %d", len(ops), len(m.ops))
	}
	held := map[string]int{}
	for _, h := range m.held {
		held[h.op]++
	}
	for _, o := range ops {
		mo, ok := m.ops[o.ID]
		switch {
		case !ok:
			m.failf("unknown operator %s", o.ID)
		case o.Availability != mo.avail || o.Capacity != mo.capacity || o.IdleSince != mo.idle ||
			!slices.Equal(o.Skills, mo.skills):
			m.failf("operator %+v, model %+v", o, *mo)
		case o.Load != mo.load || o.Load != held[o.ID] || m.d.Load(o.ID) != o.Load:
			m.failf("operator %s: load %d, Load() %d, model %d, holding %d", o.ID, o.Load, m.d.Load(o.ID), mo.load,
				held[o.ID])
		case o.Load > o.Capacity && o.Load > m.prevLoad[o.ID]:
			m.failf("operator %s rose to load %d above capacity %d (was %d)", o.ID, o.Load, o.Capacity,
				m.prevLoad[o.ID])
		}
	}
	for c, h := range m.held {
		if op, ok := m.d.Assignee(c); !ok || op != h.op {
			m.failf("Assignee(%s) = %q, %t; model %s", c, op, ok, h.op)
		}
		if _, ok := m.queued[c]; ok {
			m.failf("model has %s both assigned and waiting", c)
		}
	}
	want := make([]Waiting, 0, len(m.queued))
	for _, w := range m.queued {
		want = append(want, w)
	}
	slices.SortFunc(want, func(a, b Waiting) int {
		if queuedBefore(a, b) {
			return -1
		}
		return 1
	})
	q := m.d.Queue()
	if !slices.EqualFunc(q, want, equalWaiting) {
		m.failf("queue %v, model %v", q, want)
	}
	for _, w := range q {
		if _, ok := m.d.Assignee(w.ConversationID); ok {
			m.failf("%s both waiting and assigned", w.ConversationID)
		}
		for id := range m.ops {
			if m.candidate(id, w) {
				m.failf("%s waits although %s is online with room and the skills", w.ConversationID, id)
			}
		}
	}
	m.checkOrder()
}

// checkOrder checks that routing kept queue order: whoever got a conversation in this step could not serve anything
// still waiting ahead of it.
func (m *model) checkOrder() {
	for _, r := range m.routed {
		o := m.ops[r.op]
		for _, w := range m.queued {
			if queuedBefore(w, r.w) && !slices.ContainsFunc(w.Skills, func(s string) bool {
				return !slices.Contains(o.skills, s)
			}) {
				m.failf("%s went to %s ahead of %s, which waited longer and %s could serve", r.w.ConversationID,
					r.op, w.ConversationID, r.op)
			}
		}
	}
}

func equalOperator(a, b Operator) bool {
	return a.ID == b.ID && a.Availability == b.Availability && a.Capacity == b.Capacity && a.Load == b.Load &&
		a.IdleSince == b.IdleSince && slices.Equal(a.Skills, b.Skills)
}

func equalWaiting(a, b Waiting) bool {
	return a.ConversationID == b.ConversationID && a.Priority == b.Priority && a.EnqueuedAt == b.EnqueuedAt &&
		a.LastOperator == b.LastOperator && slices.Equal(a.Skills, b.Skills)
}
