package routing

// Scenario tests: each testdata/*.txt file is a sequence of commands, each followed by "----" and the output it must
// produce, in the style of pebble's datadriven tests. `go test ./actors/routing -run TestScenarios -rewrite` writes
// the actual outputs into the files, to be reviewed with git diff.
//
// Commands (times are unix ms; skills are comma-separated; "id" words are operator or conversation ids):
//
//	policy [sticky] [offline-releases] [manual]   start over with a new, empty Dispatcher
//	operator ID capacity=N [skills=..] [online|away|offline] [idle=N]   UpsertOperator
//	skills ID a,b                                 UpsertOperator keeping the capacity, with new skills
//	arrive CONV at=N [priority=N] [skills=..] [last=OP]                 Enqueue
//	close CONV at=N                               Released
//	unassign CONV at=N [priority=N]               Released, then Enqueue with LastOperator = the old assignee
//	remove CONV                                   Remove
//	availability OP online|away|offline at=N      SetAvailability
//	capacity OP N                                 SetCapacity
//	take CONV OP at=N  (or assign)                Assigned
//	can OP                                        CanAssign
//	queue | operators                             print the state
//	rebuild                                       Rebuild from the current state, as after a partition move
//
// Outputs list released and assigned conversations, "CONV waits" for an arrival left in the queue, "error: ..." for
// an error, and "ok" when nothing happened. After every command the Dispatcher's invariants are checked.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/scenariofile"
)

func TestScenarios(t *testing.T) {
	for _, path := range scenariofile.Files(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			runScenario(t, path)
		})
	}
}

func runScenario(t *testing.T, path string) {
	s := &scenario{d: New(Policy{})}
	scenariofile.Run(t, path, *scenariofile.Rewrite, func(cmd string) (string, error) {
		got := s.run(cmd)
		return got, s.d.check()
	})
}

// scenario is the state of a running scenario file.
type scenario struct {
	d *Dispatcher
}

// args is a command's words (scenariofile.Args) with this suite's readers.
type args struct{ scenariofile.Args }

func parseArgs(fields []string) args { return args{scenariofile.ParseArgs(fields)} }

func (a args) int(key string) int64 {
	v, ok := a.KV[key]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("%s=%q is not an integer", key, v))
	}
	return n
}

func (a args) skills() []string {
	if v, ok := a.KV["skills"]; ok && v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// run executes one command and returns its output. A malformed command is reported as its output, so the file
// shows what is wrong with it.
func (s *scenario) run(cmd string) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("bad command: %v", r)
		}
	}()
	fields := strings.Fields(cmd)
	a := parseArgs(fields[1:])
	need := func(n int) {
		if len(a.Pos) < n {
			panic(fmt.Sprintf("want %d positional arguments", n))
		}
	}
	var lines []string
	assigned := func(as []Assignment) {
		for _, x := range as {
			lines = append(lines, fmt.Sprintf("assigned %s to %s", x.ConversationID, x.OperatorID))
		}
	}
	var err error
	switch fields[0] {
	case "policy":
		s.d = New(Policy{Sticky: a.Has("sticky"), OfflineReleases: a.Has("offline-releases"),
			Manual: a.Has("manual")})
	case "operator":
		need(1)
		o := Operator{ID: a.Pos[0], Capacity: int(a.int("capacity")), Skills: a.skills(), IdleSince: a.int("idle")}
		for _, av := range []Availability{Online, Away, Offline} {
			if a.Has(string(av)) {
				o.Availability = av
			}
		}
		var as []Assignment
		as, err = s.d.UpsertOperator(o)
		assigned(as)
	case "skills":
		need(1)
		o, ok := s.operator(a.Pos[0])
		if !ok {
			panic("unknown operator " + a.Pos[0])
		}
		o.Skills = nil
		if len(a.Pos) > 1 {
			o.Skills = strings.Split(a.Pos[1], ",")
		}
		var as []Assignment
		as, err = s.d.UpsertOperator(o)
		assigned(as)
	case "arrive":
		need(1)
		w := Waiting{ConversationID: a.Pos[0], Priority: int(a.int("priority")), EnqueuedAt: a.int("at"),
			Skills: a.skills(), LastOperator: a.KV["last"]}
		var as []Assignment
		as, err = s.d.Enqueue(w)
		assigned(as)
		if err == nil && len(as) == 0 {
			lines = append(lines, w.ConversationID+" waits")
		}
	case "close":
		need(1)
		assigned(s.d.Released(a.Pos[0], a.int("at")))
	case "unassign":
		need(1)
		op, ok := s.d.Assignee(a.Pos[0])
		if !ok {
			panic(a.Pos[0] + " is not assigned")
		}
		assigned(s.d.Released(a.Pos[0], a.int("at")))
		var as []Assignment
		as, err = s.d.Enqueue(Waiting{ConversationID: a.Pos[0], Priority: int(a.int("priority")),
			EnqueuedAt: a.int("at"), LastOperator: op})
		assigned(as)
		if err == nil && len(as) == 0 {
			lines = append(lines, a.Pos[0]+" waits")
		}
	case "remove":
		need(1)
		if !s.d.Remove(a.Pos[0]) {
			lines = append(lines, a.Pos[0]+" was not waiting")
		}
	case "availability":
		need(2)
		var as []Assignment
		var rel []string
		as, rel, err = s.d.SetAvailability(a.Pos[0], Availability(a.Pos[1]), a.int("at"))
		for _, c := range rel {
			lines = append(lines, fmt.Sprintf("released %s", c))
		}
		assigned(as)
	case "capacity":
		need(2)
		n, perr := strconv.Atoi(a.Pos[1])
		if perr != nil {
			panic(perr)
		}
		var as []Assignment
		as, err = s.d.SetCapacity(a.Pos[0], n)
		assigned(as)
	case "take", "assign":
		need(2)
		var as []Assignment
		as, err = s.d.Assigned(a.Pos[0], a.Pos[1], a.int("at"))
		assigned(as)
	case "can":
		need(1)
		err = s.d.CanAssign(a.Pos[0])
	case "queue":
		for _, w := range s.d.Queue() {
			lines = append(lines, formatWaiting(w))
		}
		if len(lines) == 0 {
			lines = append(lines, "(empty)")
		}
	case "operators":
		for _, o := range s.d.Operators() {
			lines = append(lines, fmt.Sprintf("%s %s load=%d/%d skills=%s idle=%d", o.ID, o.Availability, o.Load,
				o.Capacity, strings.Join(o.Skills, ","), o.IdleSince))
		}
	case "rebuild":
		var as []Assignment
		s.d, as = Rebuild(s.d.Operators(), snapshot(s.d), s.d.Policy())
		assigned(as)
	default:
		panic("unknown command " + fields[0])
	}
	if err != nil {
		lines = append(lines, "error: "+err.Error())
	}
	if len(lines) == 0 {
		return "ok"
	}
	return strings.Join(lines, "\n")
}

func (s *scenario) operator(id string) (Operator, bool) {
	for _, o := range s.d.Operators() {
		if o.ID == id {
			return o, true
		}
	}
	return Operator{}, false
}

func formatWaiting(w Waiting) string {
	s := fmt.Sprintf("%s priority=%d at=%d", w.ConversationID, w.Priority, w.EnqueuedAt)
	if len(w.Skills) > 0 {
		s += " skills=" + strings.Join(w.Skills, ",")
	}
	if w.LastOperator != "" {
		s += " last=" + w.LastOperator
	}
	return s
}

// snapshot lists d's conversations as their records would, for Rebuild.
func snapshot(d *Dispatcher) []ConvState {
	var cs []ConvState
	for _, w := range d.Queue() {
		cs = append(cs, ConvState{Waiting: w, Status: StatusUnassigned})
	}
	for _, h := range d.held {
		cs = append(cs, ConvState{Waiting: h.w, Status: StatusAssigned, Assignee: h.op})
	}
	// Records come in key order, not in the map's; sort so a rebuild is reproducible.
	slices.SortFunc(cs, func(a, b ConvState) int { return strings.Compare(a.ConversationID, b.ConversationID) })
	return cs
}
