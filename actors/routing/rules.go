package routing

// Routing rules (issue 13): a tenant's ordered list of rules that give a conversation the skills an operator needs to
// be offered it and its priority in the queue, from what is known of it when it enters the queue — its channel, its
// labels and its contact's custom fields. Evaluate is the pure rule; the router calls it where a conversation enters
// or re-enters the queue and stores the result on the conversation record, so a rebuilt dispatcher reads it back
// (docs/design.md, invariant 6).

import (
	"fmt"
	"slices"
)

// Rule is one routing rule: when every condition holds (no condition: always), the conversation needs Skills and
// gets Priority.
type Rule struct {
	// Name describes the rule for people; optional, at most 80 bytes.
	Name string `json:"name,omitempty" yaml:"name"`
	// When are the conditions, all of which must hold.
	When []Condition `json:"when" yaml:"when"`
	// Skills an operator must have (all of them) to be offered the conversation.
	Skills []string `json:"skills,omitempty" yaml:"skills"`
	// Priority is the conversation's priority in the queue (higher first) when the rule matches; nil leaves it.
	Priority *int `json:"priority,omitempty" yaml:"priority"`
}

// Condition is one test of a rule: exactly one of Channel, Label and Field is set.
type Condition struct {
	// Channel holds when the conversation is on this channel.
	Channel string `json:"channel,omitempty" yaml:"channel"`
	// Label holds when the conversation has this label.
	Label string `json:"label,omitempty" yaml:"label"`
	// Field holds when the contact's custom field Field has one of the values In (a value as text: a number in its
	// shortest form, true or false, a date YYYY-MM-DD). A contact without the field never matches.
	Field string   `json:"field,omitempty" yaml:"field"`
	In    []string `json:"in,omitempty" yaml:"in"`
}

// Facts are what the rules test of a conversation.
type Facts struct {
	Channel string
	// Labels are the conversation's labels.
	Labels []string
	// Fields are the contact's custom field values as text (FieldText), nil when the contact has none or is not
	// known.
	Fields map[string]string
}

// Routing is what the rules give a conversation.
type Routing struct {
	// Skills are the skills needed, sorted, without repeats; nil for none.
	Skills []string
	// Priority is the queue priority; 0 when no matching rule sets one.
	Priority int
}

// Bounds of a rule set.
const (
	MaxRules       = 100
	MaxConditions  = 10
	MaxRuleSkills  = 10
	MaxPriority    = 1000
	MinPriority    = -1000
	maxRuleName    = 80
	maxConditionIn = 50
)

// Evaluate applies rules to f. Every matching rule applies, whatever its place in the list: the skills of all of
// them are united, and the priority is the highest any of them sets (0 when none sets one). So adding a rule can only
// add skills and raise a priority set by another rule, and the order of the list is for people to read.
func Evaluate(rules []Rule, f Facts) Routing {
	var out Routing
	set := false
	for i := range rules {
		r := &rules[i]
		if !matches(r.When, &f) {
			continue
		}
		for _, s := range r.Skills {
			if !slices.Contains(out.Skills, s) {
				out.Skills = append(out.Skills, s)
			}
		}
		if r.Priority != nil && (!set || *r.Priority > out.Priority) {
			out.Priority, set = *r.Priority, true
		}
	}
	slices.Sort(out.Skills)
	return out
}

func matches(when []Condition, f *Facts) bool {
	for i := range when {
		c := &when[i]
		switch {
		case c.Channel != "":
			if f.Channel != c.Channel {
				return false
			}
		case c.Label != "":
			if !slices.Contains(f.Labels, c.Label) {
				return false
			}
		case c.Field != "":
			v, ok := f.Fields[c.Field]
			if !ok || !slices.Contains(c.In, v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// UsesFields reports whether any rule tests a contact field: only then does evaluating them need the contact.
func UsesFields(rules []Rule) bool {
	for i := range rules {
		for j := range rules[i].When {
			if rules[i].When[j].Field != "" {
				return true
			}
		}
	}
	return false
}

// RuleError is what is wrong with a rule set: Field names the place ("rules[2].when[0].field").
type RuleError struct {
	Field   string
	Message string
}

func (e *RuleError) Error() string { return e.Field + ": " + e.Message }

// ValidateRules checks a rule set's form: bounds, exactly one test per condition, values for a field test, skills
// and labels as ValidName says. Whether channels, labels and fields exist is the caller's to check (Known).
func ValidateRules(rules []Rule, known Known) error {
	bad := func(field, format string, args ...any) error {
		return &RuleError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if len(rules) > MaxRules {
		return bad("rules", "at most %d rules", MaxRules)
	}
	for i := range rules {
		r := &rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		if len(r.Name) > maxRuleName {
			return bad(p+".name", "at most %d bytes", maxRuleName)
		}
		if len(r.When) > MaxConditions {
			return bad(p+".when", "at most %d conditions", MaxConditions)
		}
		if len(r.Skills) == 0 && r.Priority == nil {
			return bad(p, "a rule sets skills, a priority or both")
		}
		if len(r.Skills) > MaxRuleSkills {
			return bad(p+".skills", "at most %d skills", MaxRuleSkills)
		}
		for j, s := range r.Skills {
			if !ValidName(s) {
				return bad(fmt.Sprintf("%s.skills[%d]", p, j), "%q is not [a-z0-9_-]{1,64}", s)
			}
		}
		if r.Priority != nil && (*r.Priority < MinPriority || *r.Priority > MaxPriority) {
			return bad(p+".priority", "%d is not between %d and %d", *r.Priority, MinPriority, MaxPriority)
		}
		for j := range r.When {
			c := &r.When[j]
			cp := fmt.Sprintf("%s.when[%d]", p, j)
			n := 0
			for _, s := range []string{c.Channel, c.Label, c.Field} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return bad(cp, "a condition tests exactly one of channel, label and field")
			}
			switch {
			case c.Channel != "":
				if len(c.In) > 0 {
					return bad(cp+".in", "only a field condition has values")
				}
				if known.Channel != nil && !known.Channel(c.Channel) {
					return bad(cp+".channel", "no channel %q", c.Channel)
				}
			case c.Label != "":
				if len(c.In) > 0 {
					return bad(cp+".in", "only a field condition has values")
				}
				if !ValidName(c.Label) {
					return bad(cp+".label", "%q is not [a-z0-9_-]{1,64}", c.Label)
				}
				if known.Label != nil && !known.Label(c.Label) {
					return bad(cp+".label", "no label %q in the catalogue", c.Label)
				}
			default:
				if known.Field != nil && !known.Field(c.Field) {
					return bad(cp+".field", "no contact field %q", c.Field)
				}
				if len(c.In) == 0 || len(c.In) > maxConditionIn {
					return bad(cp+".in", "a field condition needs 1 to %d values", maxConditionIn)
				}
				for k, v := range c.In {
					if v == "" || len(v) > 1024 {
						return bad(fmt.Sprintf("%s.in[%d]", cp, k), "a value has 1 to 1024 bytes")
					}
				}
			}
		}
	}
	return nil
}

// Known says which channels, labels and contact fields exist, for ValidateRules; a nil function accepts anything.
type Known struct {
	Channel, Label, Field func(string) bool
}

// ValidName reports whether s is a skill or label name: [a-z0-9_-]{1,64} (conversation.ValidLabel's form).
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}
