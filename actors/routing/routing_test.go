package routing

import (
	"errors"
	"slices"
	"testing"
)

func TestPick(t *testing.T) {
	on := func(id string, load, capacity int, idle int64, skills ...string) Operator {
		return Operator{ID: id, Availability: Online, Capacity: capacity, Load: load, IdleSince: idle, Skills: skills}
	}
	sticky := Policy{Sticky: true}
	tests := []struct {
		name   string
		ops    []Operator
		w      Waiting
		p      Policy
		want   string
		wantOK bool
	}{
		{name: "no operators", w: Waiting{ConversationID: "c"}},
		{
			name: "nobody free",
			ops:  []Operator{on("a", 2, 2, 0), on("b", 1, 1, 0), on("c", 0, 0, 0)},
			w:    Waiting{ConversationID: "c"},
		},
		{
			name: "only online operators",
			ops: []Operator{
				{ID: "a", Availability: Away, Capacity: 5},
				{ID: "b", Availability: Offline, Capacity: 5},
				{ID: "c", Capacity: 5}, // "" counts as offline
				on("d", 4, 5, 0),
			},
			want: "d", wantOK: true,
		},
		{
			name: "above capacity after a lowered capacity",
			ops:  []Operator{on("a", 3, 1, 0)},
		},
		{
			name: "least loaded relative to capacity",
			ops:  []Operator{on("a", 1, 2, 0), on("b", 2, 5, 0), on("c", 0, 0, 0)},
			want: "b", wantOK: true, // 2/5 < 1/2
		},
		{
			name: "equal ratios exactly, longest idle wins",
			ops:  []Operator{on("a", 1, 3, 500), on("b", 2, 6, 400), on("c", 3, 9, 450)},
			want: "b", wantOK: true,
		},
		{
			name: "ratio beats idle",
			ops:  []Operator{on("a", 1, 3, 0), on("b", 1, 4, 900)},
			want: "b", wantOK: true,
		},
		{
			name: "equal ratio and idle, smallest id wins",
			ops:  []Operator{on("c", 1, 2, 7), on("a", 2, 4, 7), on("b", 3, 6, 7)},
			want: "a", wantOK: true,
		},
		{
			name: "all required skills",
			ops:  []Operator{on("a", 0, 5, 0, "en"), on("b", 4, 5, 0, "fr", "en"), on("c", 0, 5, 0, "fr")},
			w:    Waiting{Skills: []string{"en", "fr"}},
			want: "b", wantOK: true,
		},
		{
			name: "nobody has the skills",
			ops:  []Operator{on("a", 0, 5, 0, "en"), on("b", 0, 5, 0, "fr")},
			w:    Waiting{Skills: []string{"de"}},
		},
		{
			name: "no skills required",
			ops:  []Operator{on("a", 1, 5, 0, "en"), on("b", 0, 5, 0)},
			want: "b", wantOK: true,
		},
		{
			name: "sticky to a free last operator",
			ops:  []Operator{on("a", 0, 5, 0), on("b", 4, 5, 0)},
			w:    Waiting{LastOperator: "b"},
			p:    sticky,
			want: "b", wantOK: true,
		},
		{
			name: "last operator ignored without sticky",
			ops:  []Operator{on("a", 0, 5, 0), on("b", 4, 5, 0)},
			w:    Waiting{LastOperator: "b"},
			want: "a", wantOK: true,
		},
		{
			name: "sticky but last operator full",
			ops:  []Operator{on("a", 1, 5, 0), on("b", 5, 5, 0), on("c", 0, 5, 0)},
			w:    Waiting{LastOperator: "b"},
			p:    sticky,
			want: "c", wantOK: true,
		},
		{
			name: "sticky but last operator away",
			ops:  []Operator{{ID: "b", Availability: Away, Capacity: 5}, on("c", 3, 5, 0)},
			w:    Waiting{LastOperator: "b"},
			p:    sticky,
			want: "c", wantOK: true,
		},
		{
			name: "sticky but last operator lacks a skill",
			ops:  []Operator{on("a", 3, 5, 0, "en"), on("b", 0, 5, 0, "fr")},
			w:    Waiting{LastOperator: "b", Skills: []string{"en"}},
			p:    sticky,
			want: "a", wantOK: true,
		},
		{
			name: "sticky to an unknown operator",
			ops:  []Operator{on("a", 3, 5, 0)},
			w:    Waiting{LastOperator: "zed"},
			p:    sticky,
			want: "a", wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.ops)
			got, ok := Pick(tt.ops, tt.w, tt.p)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Pick = %q, %t; want %q, %t", got, ok, tt.want, tt.wantOK)
			}
			if !slices.EqualFunc(before, tt.ops, func(a, b Operator) bool {
				return a.ID == b.ID && a.Load == b.Load && a.Capacity == b.Capacity && a.IdleSince == b.IdleSince
			}) {
				t.Errorf("Pick modified its operators")
			}
		})
	}
}

// TestPickLargeNumbers checks that the ratio comparison is exact where float64 division is not: (n-1)/n and
// n/(n+1) round to the same float64 for n = 2^31, which would hand the tie to the longer idle operator.
func TestPickLargeNumbers(t *testing.T) {
	if ^uint(0)>>32 == 0 {
		t.Skip("32-bit int")
	}
	shift := 31 // a variable, so that this compiles where int has 32 bits
	n := 1 << shift
	ops := []Operator{
		{ID: "a", Availability: Online, Load: n, Capacity: n + 1, IdleSince: 0},
		{ID: "b", Availability: Online, Load: n - 1, Capacity: n, IdleSince: 9},
	}
	if float64(ops[0].Load)/float64(ops[0].Capacity) != float64(ops[1].Load)/float64(ops[1].Capacity) {
		t.Fatal("the float ratios differ; the test no longer shows anything")
	}
	if got, _ := Pick(ops, Waiting{}, Policy{}); got != "b" {
		t.Errorf("Pick = %q, want b", got)
	}
}

func TestRebuild(t *testing.T) {
	ops := []Operator{
		{ID: "bob", Availability: Online, Capacity: 2, Load: 99}, // Load is ignored
		{ID: "alice", Availability: Online, Capacity: 1, Skills: []string{"en"}},
		{ID: "carol", Availability: "weird", Capacity: -3},
		{ID: "bob", Availability: Online, Capacity: 3, IdleSince: 5}, // the last entry wins
		{ID: ""},
	}
	w := func(id string, at int64, skills ...string) Waiting {
		return Waiting{ConversationID: id, EnqueuedAt: at, Skills: skills}
	}
	convs := []ConvState{
		{Waiting: w("c1", 100), Status: StatusAssigned, Assignee: "alice"},
		{Waiting: w("c2", 200), Status: StatusAssigned, Assignee: "alice"}, // alice above capacity: kept
		{Waiting: w("c3", 300), Status: StatusAssigned, Assignee: "gone"},  // operator no longer configured
		{Waiting: w("c4", 400), Status: StatusClosed, Assignee: "bob"},
		{Waiting: w("c5", 500), Status: StatusSnoozed, Assignee: "bob"},
		{Waiting: w("c6", 600, "fr"), Status: StatusUnassigned}, // nobody speaks French
		{Waiting: w("c7", 700), Status: StatusUnassigned},
		{Waiting: w("c8", 800), Status: StatusAssigned}, // no assignee: waits
		{Waiting: w("c9", 900), Status: StatusUnassigned},
		{Waiting: w("c9", 950), Status: StatusClosed}, // the last entry wins
		{Waiting: w("", 1000), Status: StatusUnassigned},
		{Waiting: w("c10", 1100), Status: "archived"},
	}
	d, as := Rebuild(ops, convs, Policy{})
	if err := d.check(); err != nil {
		t.Fatal(err)
	}
	if want := []Assignment{{"c7", "bob"}, {"c8", "bob"}}; !slices.Equal(as, want) {
		t.Errorf("assignments = %v, want %v", as, want)
	}
	wantOps := map[string][3]int{ // load, capacity, online
		"alice": {2, 1, 1},
		"bob":   {2, 3, 1},
		"carol": {0, 0, 0},
		"gone":  {1, 0, 0},
	}
	got := d.Operators()
	if len(got) != len(wantOps) {
		t.Errorf("operators = %v", got)
	}
	for _, o := range got {
		online := 0
		if o.Availability == Online {
			online = 1
		}
		if w := wantOps[o.ID]; w != [3]int{o.Load, o.Capacity, online} {
			t.Errorf("operator %s: load, capacity, online = %d, %d, %d; want %v", o.ID, o.Load, o.Capacity, online, w)
		}
	}
	if q := d.Queue(); len(q) != 1 || q[0].ConversationID != "c6" {
		t.Errorf("queue = %v, want c6 only", q)
	}
	if op, ok := d.Assignee("c3"); !ok || op != "gone" {
		t.Errorf("Assignee(c3) = %q, %t", op, ok)
	}
	if _, err := d.Assigned("c6", "gone", 2000); !errors.Is(err, ErrOperatorNotOnline) {
		t.Errorf("assign to an operator missing from the config: %v", err)
	}
	// Closing c3 frees nothing usable, but must not break anything.
	if as := d.Released("c3", 2000); as != nil {
		t.Errorf("Released(c3) = %v", as)
	}
	if err := d.check(); err != nil {
		t.Fatal(err)
	}
}

func TestDispatcherErrors(t *testing.T) {
	d := New(Policy{})
	if _, err := d.UpsertOperator(Operator{}); !errors.Is(err, ErrEmptyID) {
		t.Errorf("empty operator id: %v", err)
	}
	if _, err := d.UpsertOperator(Operator{ID: "a", Capacity: -1}); !errors.Is(err, ErrInvalidCapacity) {
		t.Errorf("negative capacity: %v", err)
	}
	if _, err := d.UpsertOperator(Operator{ID: "a", Availability: "busy"}); !errors.Is(err, ErrInvalidAvailability) {
		t.Errorf("bad availability: %v", err)
	}
	if len(d.Operators()) != 0 {
		t.Errorf("a refused upsert added an operator")
	}
	if _, err := d.UpsertOperator(Operator{ID: "a", Capacity: 1}); err != nil {
		t.Fatal(err)
	}
	if o := d.Operators()[0]; o.Availability != Offline {
		t.Errorf("new operator without availability is %q, want offline", o.Availability)
	}
	if _, _, err := d.SetAvailability("zed", Online, 1); !errors.Is(err, ErrOperatorUnknown) {
		t.Errorf("unknown operator: %v", err)
	}
	if _, err := d.Enqueue(Waiting{}); !errors.Is(err, ErrEmptyID) {
		t.Errorf("empty conversation id: %v", err)
	}
	if _, err := d.Assigned("", "a", 1); !errors.Is(err, ErrEmptyID) {
		t.Errorf("empty conversation id: %v", err)
	}
	if _, _, err := d.SetAvailability("a", Online, 1); err != nil {
		t.Fatal(err)
	}
	if as, err := d.Enqueue(Waiting{ConversationID: "c1"}); err != nil || len(as) != 1 {
		t.Fatalf("Enqueue = %v, %v", as, err)
	}
	if _, err := d.Enqueue(Waiting{ConversationID: "c1"}); !errors.Is(err, ErrConversationAssigned) {
		t.Errorf("enqueue an assigned conversation: %v", err)
	}
	if d.Remove("c1") {
		t.Errorf("Remove took an assigned conversation")
	}
	if d.Load("a") != 1 || d.Load("zed") != 0 {
		t.Errorf("loads %d, %d", d.Load("a"), d.Load("zed"))
	}
	if err := d.check(); err != nil {
		t.Fatal(err)
	}
}

func TestHolds(t *testing.T) {
	for _, tc := range []struct {
		s        Status
		assignee string
		want     bool
	}{
		{StatusAssigned, "alice", true},
		{StatusSnoozed, "alice", true}, // kept for its operator
		{StatusSnoozed, "", false},     // snoozed from the queue
		{StatusAssigned, "", false},    // a broken record: waits, holds nothing
		{StatusUnassigned, "", false},
		{StatusUnassigned, "alice", false},
		{StatusClosed, "alice", false},
		{"archived", "alice", false},
	} {
		if got := Holds(tc.s, tc.assignee); got != tc.want {
			t.Errorf("Holds(%s, %q) = %v, want %v", tc.s, tc.assignee, got, tc.want)
		}
	}
}

// TestManual: under Policy.Manual nothing is offered by any path, and a hand assignment is bounded by capacity
// alone.
func TestManual(t *testing.T) {
	p := Policy{Manual: true, Sticky: true}
	ops := []Operator{
		{ID: "alice", Availability: Online, Capacity: 2},
		{ID: "bob", Availability: Offline, Capacity: 1},
	}
	if id, ok := Pick(ops, Waiting{ConversationID: "c1", LastOperator: "alice"}, p); ok {
		t.Errorf("Pick = %q, want nobody under manual routing", id)
	}
	convs := []ConvState{
		{Waiting: Waiting{ConversationID: "c1", EnqueuedAt: 100}, Status: StatusUnassigned},
		{Waiting: Waiting{ConversationID: "c2", EnqueuedAt: 200, LastOperator: "alice"}, Status: StatusUnassigned},
	}
	d, as := Rebuild(ops, convs, p)
	if as != nil {
		t.Errorf("Rebuild assigned %v, want nothing", as)
	}
	steps := []struct {
		name string
		do   func() ([]Assignment, error)
	}{
		{"enqueue", func() ([]Assignment, error) { return d.Enqueue(Waiting{ConversationID: "c3", EnqueuedAt: 300}) }},
		{"online", func() ([]Assignment, error) {
			as, _, err := d.SetAvailability("bob", Online, 400)
			return as, err
		}},
		{"capacity", func() ([]Assignment, error) { return d.SetCapacity("alice", 5) }},
		{"upsert", func() ([]Assignment, error) {
			return d.UpsertOperator(Operator{ID: "carol", Availability: Online, Capacity: 3})
		}},
		{"offline take", func() ([]Assignment, error) {
			if _, _, err := d.SetAvailability("bob", Offline, 450); err != nil {
				return nil, err
			}
			return d.Assigned("c1", "bob", 500)
		}},
		{"release", func() ([]Assignment, error) { return d.Released("c1", 600), nil }},
	}
	for _, s := range steps {
		as, err := s.do()
		if err != nil || as != nil {
			t.Errorf("%s: assignments %v, error %v; want none", s.name, as, err)
		}
		if err := d.check(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if _, err := d.Assigned("c2", "bob", 700); err != nil {
		t.Fatalf("offline bob takes c2: %v", err)
	}
	if _, err := d.Assigned("c3", "bob", 800); !errors.Is(err, ErrAtCapacity) {
		t.Errorf("bob takes c3 over his capacity: %v, want ErrAtCapacity", err)
	}
	if n := d.QueueLen(); n != 1 {
		t.Errorf("queue holds %d, want 1 (c3; the released c1 is the caller's to enqueue)", n)
	}
}

// TestSetPolicy: leaving manual routing offers the waiting conversations to the free operators at once; entering it
// takes nothing back and offers nothing more.
func TestSetPolicy(t *testing.T) {
	d := New(Policy{Manual: true})
	if _, err := d.UpsertOperator(Operator{ID: "a", Capacity: 2}); err != nil {
		t.Fatal(err)
	}
	if as, _, err := d.SetAvailability("a", Online, 1); err != nil || len(as) != 0 {
		t.Fatalf("online under manual: %v %v", as, err)
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if as, err := d.Enqueue(Waiting{ConversationID: id, EnqueuedAt: 2}); err != nil || len(as) != 0 {
			t.Fatalf("enqueue under manual: %v %v", as, err)
		}
	}
	as := d.SetPolicy(Policy{})
	if len(as) != 2 || as[0].ConversationID != "c1" || as[1].ConversationID != "c2" || d.QueueLen() != 1 {
		t.Fatalf("auto again: %v, queue %d", as, d.QueueLen())
	}
	if as := d.SetPolicy(Policy{Manual: true}); len(as) != 0 {
		t.Fatalf("manual again: %v", as)
	}
	if _, held := d.Assignee("c1"); !held {
		t.Error("entering manual routing took a conversation back")
	}
	if as := d.Released("c1", 3); len(as) != 0 || d.QueueLen() != 1 {
		t.Errorf("a release under manual offered the queue: %v, queue %d", as, d.QueueLen())
	}
}
