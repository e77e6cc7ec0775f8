package operator

// Scenario tests: each testdata/*.txt file is a sequence of commands, each followed by "----" and the output it must
// produce (actors/scenariofile). `go test ./actors/operator -run TestScenarios -rewrite` writes the actual outputs
// into the files, to be reviewed with git diff.
//
// Commands (times are unix ms; skills are comma-separated):
//
//	operator ID [role=R] [capacity=N] [skills=a,b] [online|away|offline] [idle=N]   set an operator's state
//	availability CALLER [TARGET] online|away|offline at=N   CmdAvailability; TARGET defaults to CALLER
//	state ID                                                print the operator
//
// A caller's role is its own state's role, as the tenant actor gives it. A step's output is the operator's state,
// then one "effect KIND" line per effect; "refused CODE" for a refusal.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/scenariofile"
)

func TestScenarios(t *testing.T) {
	for _, path := range scenariofile.Files(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			s := &scenario{ops: map[string]State{}}
			scenariofile.Run(t, path, *scenariofile.Rewrite, func(cmd string) (string, error) { return s.run(cmd), nil })
		})
	}
}

type scenario struct {
	ops map[string]State
}

func (s *scenario) run(cmd string) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("bad command: %v", r)
		}
	}()
	fields := strings.Fields(cmd)
	var pos []string
	kv := map[string]string{}
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	num := func(k string) int64 {
		n, err := strconv.ParseInt(kv[k], 10, 64)
		if err != nil {
			panic(fmt.Sprintf("%s=%q is not an integer", k, kv[k]))
		}
		return n
	}
	skills := func() []string {
		if kv["skills"] == "-" || kv["skills"] == "" {
			return []string{}
		}
		return strings.Split(kv["skills"], ",")
	}
	need := func(n int) {
		if len(pos) < n {
			panic(fmt.Sprintf("want %d positional arguments", n))
		}
	}
	caller := func(id string) Caller { return Caller{ID: s.ops[id].ID, Role: s.ops[id].Role} }
	switch fields[0] {
	case "operator":
		need(1)
		o := State{ID: pos[0], Availability: routing.Offline, Role: RoleOperator}
		if v, ok := kv["role"]; ok {
			o.Role = v
		}
		if _, ok := kv["capacity"]; ok {
			o.Capacity = int(num("capacity"))
		}
		if _, ok := kv["skills"]; ok {
			o.Skills = skills()
		}
		if _, ok := kv["idle"]; ok {
			o.IdleSince = num("idle")
		}
		for _, a := range []routing.Availability{routing.Online, routing.Away, routing.Offline} {
			if slices.Contains(pos, string(a)) {
				o.Availability = a
			}
		}
		s.ops[o.ID] = o
		return format(o)
	case "state":
		need(1)
		return format(s.ops[pos[0]])
	case "availability":
		need(2)
		target, av := pos[0], pos[1]
		if len(pos) > 2 {
			target, av = pos[1], pos[2]
		}
		return s.apply(target, Command{Type: CmdAvailability, Availability: routing.Availability(av)}, caller(pos[0]), num("at"))
	}
	panic("unknown command " + fields[0])
}

func (s *scenario) apply(target string, cmd Command, caller Caller, at int64) string {
	next, effects, err := Apply(s.ops[target], cmd, caller, at)
	if err != nil {
		if r, ok := err.(*Refusal); ok {
			return "refused " + r.Code
		}
		return "error: " + err.Error()
	}
	s.ops[target] = next
	lines := []string{format(next)}
	for _, e := range effects {
		lines = append(lines, "effect "+e.Kind.String())
	}
	return strings.Join(lines, "\n")
}

func format(o State) string {
	if o.ID == "" {
		return "(none)"
	}
	sk := "-"
	if len(o.Skills) > 0 {
		sk = strings.Join(o.Skills, ",")
	}
	return fmt.Sprintf("%s %s role=%s capacity=%d skills=%s idle=%d", o.ID, o.Availability, o.Role, o.Capacity, sk, o.IdleSince)
}
