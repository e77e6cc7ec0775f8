package operator

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/routing"
)

func TestApply(t *testing.T) {
	alice := State{ID: "alice", Availability: routing.Offline, Capacity: 2, Role: RoleOperator, Skills: []string{"en"}, IdleSince: 5}
	admin := Caller{ID: "bob", Role: RoleAdmin}
	self := Caller{ID: "alice", Role: RoleOperator}
	for _, tc := range []struct {
		name    string
		s       State
		cmd     Command
		caller  Caller
		want    State
		effects []EffectKind
		code    string // a refusal's code; "" for success
	}{
		{"online", alice, Command{Type: CmdAvailability, Availability: routing.Online}, self,
			State{ID: "alice", Availability: routing.Online, Capacity: 2, Role: RoleOperator, Skills: []string{"en"}, IdleSince: 1000, Version: 1},
			[]EffectKind{EffectAvailability}, ""},
		{"away keeps idle", alice, Command{Type: CmdAvailability, Availability: routing.Away}, self,
			State{ID: "alice", Availability: routing.Away, Capacity: 2, Role: RoleOperator, Skills: []string{"en"}, IdleSince: 5, Version: 1},
			[]EffectKind{EffectAvailability}, ""},
		{"same availability", alice, Command{Type: CmdAvailability, Availability: routing.Offline}, self, alice, nil, ""},
		{"another's availability", alice, Command{Type: CmdAvailability, Availability: routing.Online}, admin, alice, nil, CodeForbidden},
		{"bad availability", alice, Command{Type: CmdAvailability, Availability: "busy"}, self, alice, nil, CodeInvalidAvailability},
		{"empty availability", alice, Command{Type: CmdAvailability}, self, alice, nil, CodeInvalidAvailability},
		{"unknown command", alice, Command{Type: "dance"}, admin, alice, nil, CodeInvalidCommand},
		{"no operator", State{}, Command{Type: CmdAvailability, Availability: routing.Online}, self, State{}, nil, CodeNotFound},
		{"no caller", alice, Command{Type: CmdAvailability, Availability: routing.Online}, Caller{}, alice, nil, CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep := tc.s
			keep.Skills = slices.Clone(tc.s.Skills)
			got, effects, err := Apply(tc.s, tc.cmd, tc.caller, 1000)
			if !reflect.DeepEqual(tc.s, keep) {
				t.Errorf("Apply modified its input: %+v", tc.s)
			}
			if tc.code != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != tc.code || r.Message == "" {
					t.Fatalf("err = %v, want a refusal %s", err, tc.code)
				}
				if !errors.Is(err, &Refusal{Code: tc.code}) {
					t.Error("errors.Is does not match the code")
				}
				if effects != nil || !reflect.DeepEqual(got, tc.s) {
					t.Errorf("refusal changed the state or has effects: %+v %v", got, effects)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("state\n %+v\nwant\n %+v", got, tc.want)
			}
			var kinds []EffectKind
			for _, e := range effects {
				kinds = append(kinds, e.Kind)
			}
			if !slices.Equal(kinds, tc.effects) {
				t.Errorf("effects %v, want %v", kinds, tc.effects)
			}
		})
	}
}

// The state Apply returns shares no slice with its input, so a later change of the input cannot reach it.
func TestApplyCopiesSkills(t *testing.T) {
	s := State{ID: "alice", Role: RoleOperator, Skills: []string{"en"}}
	next, _, err := Apply(s, Command{Type: CmdAvailability, Availability: routing.Online}, Caller{ID: "alice", Role: RoleOperator}, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Skills[0] = "de"
	if next.Skills[0] != "en" {
		t.Errorf("skills %v share memory with the input", next.Skills)
	}
}

func TestRefusalOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("assign c1: %w", routing.ErrAtCapacity), CodeAtCapacity},
		{fmt.Errorf("assign c1: %w", routing.ErrOperatorNotOnline), CodeNotOnline},
		{fmt.Errorf("assign c1: %w", routing.ErrOperatorUnknown), CodeNotFound},
		{routing.ErrConversationAssigned, CodeNotAssignable},
	} {
		r := RefusalOf(tc.err)
		if r.Code != tc.code || r.Message != tc.err.Error() {
			t.Errorf("RefusalOf(%v) = %+v, want code %s and the error's message", tc.err, r, tc.code)
		}
	}
}

func TestValidate(t *testing.T) {
	if r := Validate(Command{Type: CmdAvailability, Availability: routing.Away}, Caller{ID: "a", Role: RoleOperator}, "a"); r != nil {
		t.Errorf("own availability refused: %v", r)
	}
	if r := Validate(Command{Type: "update_operator"}, Caller{ID: "b", Role: RoleAdmin}, "a"); r == nil || r.Code != CodeInvalidCommand {
		t.Errorf("update_operator is a configuration change now, not an operator command: %v", r)
	}
}

// An operator no command changed is offline with its configured capacity, role and skills.
func TestInitial(t *testing.T) {
	got := Initial("ann", 3, RoleBuilder, []string{"es"})
	if got.ID != "ann" || got.Availability != routing.Offline || got.Capacity != 3 || got.Role != RoleBuilder ||
		len(got.Skills) != 1 || got.Skills[0] != "es" || got.IdleSince != 0 {
		t.Errorf("Initial = %+v", got)
	}
}

// TestAvailabilityEvent: the event of a change is named by the operator's version, so the same change gives the
// same id on a replay, and the next change another.
func TestAvailabilityEvent(t *testing.T) {
	s := Initial("alice", 2, RoleOperator, nil)
	self := Caller{ID: "alice", Role: RoleOperator}
	on, _, err := Apply(s, Command{Type: CmdAvailability, Availability: routing.Online}, self, 1500)
	if err != nil {
		t.Fatal(err)
	}
	e := AvailabilityEvent("acme", on, 1500)
	want := Event{ID: "op.acme.alice.1", Type: EventAvailability, TenantID: "acme", OperatorID: "alice",
		Availability: routing.Online, At: time.UnixMilli(1500).UTC()}
	if e != want {
		t.Errorf("event %+v, want %+v", e, want)
	}
	again, _, _ := Apply(s, Command{Type: CmdAvailability, Availability: routing.Online}, self, 1500)
	if AvailabilityEvent("acme", again, 1500).ID != e.ID {
		t.Error("the same change replayed has another event id")
	}
	same, effects, _ := Apply(on, Command{Type: CmdAvailability, Availability: routing.Online}, self, 1600)
	if same.Version != on.Version || effects != nil {
		t.Errorf("a change to the same availability moved the version to %d (effects %v)", same.Version, effects)
	}
	away, _, _ := Apply(on, Command{Type: CmdAvailability, Availability: routing.Away}, self, 1700)
	if id := AvailabilityEvent("acme", away, 1700).ID; id != "op.acme.alice.2" {
		t.Errorf("next change's id = %s, want op.acme.alice.2", id)
	}
}
