// Package routing holds a tenant's routing policy and its dispatcher's state: which operator gets a waiting
// conversation (Pick), the queue and operator loads that choice is made from (Dispatcher), and what holds an
// operator's capacity (Holds). It does no I/O and imports only the standard library (actors/domain_test.go checks
// it). The tenant dispatcher actor, the single writer of routing
// decisions for its tenant (docs/design.md, invariant 6), feeds it the tenant's records in partition order and carries out
// the decisions it returns.
//
// Times are unix milliseconds taken from records; nothing in this package reads the clock.
package routing

// Availability is whether an operator takes conversations. Only Online operators are offered conversations.
type Availability string

// Availabilities an operator can have (docs/contract.md, PUT /v1/operators/me/availability). The zero value "" is not
// one of them; the Dispatcher stores it as Offline.
const (
	Online  Availability = "online"
	Away    Availability = "away"
	Offline Availability = "offline"
)

// Valid reports whether a is Online, Away or Offline.
func (a Availability) Valid() bool {
	return a == Online || a == Away || a == Offline
}

// Operator is what routing knows of a human operator.
type Operator struct {
	// ID names the operator within its tenant. It must not be empty.
	ID string
	// Availability says whether the operator is offered conversations: only Online is. "" counts as Offline.
	Availability Availability
	// Capacity is the most conversations the operator holds at once. 0 means none are offered, not a default: the
	// tenant config applies its default (5) before an operator reaches routing. Negative capacities are refused by
	// the Dispatcher.
	Capacity int
	// Skills the operator has. nil means none: the operator is offered only conversations that require no skill.
	Skills []string
	// Load is how many open conversations are assigned to the operator. The Dispatcher derives it from the
	// assignments it holds and ignores the value it is given.
	Load int
	// IdleSince is the unix ms when the operator's last assignment ended or when it last came online, whichever is
	// later; among equally loaded operators the one idle longest (smallest IdleSince) is offered first.
	IdleSince int64
}

// Waiting is a conversation that needs an operator.
type Waiting struct {
	// ConversationID names the conversation within its tenant. It must not be empty.
	ConversationID string
	// Priority orders the queue: higher first. The zero value is the ordinary priority.
	Priority int
	// EnqueuedAt is the unix ms when the conversation entered the queue, from its record (never the wall clock).
	// Within a priority, earlier is first.
	EnqueuedAt int64
	// Skills an operator needs to be offered the conversation: all of them. nil means any operator will do.
	Skills []string
	// LastOperator is the operator who last held the conversation, "" if none. With Policy.Sticky it is preferred
	// when it is a candidate.
	LastOperator string
}

// Policy is a tenant's routing settings. The zero Policy offers every conversation to the least loaded operator and
// lets an operator who goes offline keep its conversations.
type Policy struct {
	// Sticky prefers a conversation's LastOperator when that operator is online, has free capacity and has the
	// required skills. false (the default) ignores LastOperator.
	Sticky bool
	// OfflineReleases sends an operator's conversations back to the queue when it goes offline. false (the default)
	// lets the operator keep them. Going away never releases anything.
	OfflineReleases bool
	// Manual turns automatic routing off (the tenant setting routing: manual): nothing is ever offered, so every
	// conversation that needs an operator waits in the queue until an operator takes it, and a hand assignment
	// (CanAssign, Assigned) is bounded by the operator's capacity only, whatever its availability. false (the
	// default) is automatic routing.
	Manual bool
}

// Pick chooses the operator to offer w to, and reports false when nobody can take it.
//
// With p.Manual nobody is a candidate. Otherwise candidates are Online operators with Load < Capacity that have every skill in w.Skills. With p.Sticky, w's
// LastOperator wins if it is a candidate. Otherwise the candidate with the least Load/Capacity wins (compared exactly
// by integer cross-multiplication), then the one with the smallest IdleSince, then the smallest ID, so the choice is
// the same on every replay. Pick does not allocate and does not modify ops.
func Pick(ops []Operator, w Waiting, p Policy) (operatorID string, ok bool) {
	i := pick(ops, &w, p)
	if i < 0 {
		return "", false
	}
	return ops[i].ID, true
}

// pick is Pick returning the index of the chosen operator in ops, -1 when there is none.
func pick(ops []Operator, w *Waiting, p Policy) int {
	if p.Manual {
		return -1
	}
	sticky := p.Sticky && w.LastOperator != ""
	best := -1
	for i := range ops {
		o := &ops[i]
		if o.Load >= o.Capacity || o.Availability != Online {
			continue
		}
		if sticky && o.ID == w.LastOperator {
			if hasSkills(o.Skills, w.Skills) {
				return i
			}
			continue
		}
		// better is a total order and cheaper than comparing skills, so skills are compared only for an
		// operator that would win.
		if (best < 0 || better(o, &ops[best])) && hasSkills(o.Skills, w.Skills) {
			best = i
		}
	}
	return best
}

// hasSkills reports whether have contains every element of need. Skill lists are short, so a nested scan beats
// building a set.
func hasSkills(have, need []string) bool {
next:
	for _, n := range need {
		for _, h := range have {
			if h == n {
				continue next
			}
		}
		return false
	}
	return true
}

// better reports whether a should be offered a conversation before b; both are candidates, so both capacities are
// positive. a.Load/a.Capacity < b.Load/b.Capacity is compared as a.Load*b.Capacity < b.Load*a.Capacity in 64 bits,
// which is exact where floats would call 1/3 and 2/6 different.
func better(a, b *Operator) bool {
	l, r := int64(a.Load)*int64(b.Capacity), int64(b.Load)*int64(a.Capacity)
	if l != r {
		return l < r
	}
	if a.IdleSince != b.IdleSince {
		return a.IdleSince < b.IdleSince
	}
	return a.ID < b.ID
}
