package routing

import (
	"slices"
	"strings"
	"testing"
)

func prio(n int) *int { return &n }

func TestEvaluate(t *testing.T) {
	billing := Rule{Name: "billing number", When: []Condition{{Channel: "acme-billing"}}, Skills: []string{"billing"}, Priority: prio(10)}
	vip := Rule{When: []Condition{{Label: "vip"}}, Priority: prio(50)}
	gold := Rule{When: []Condition{{Field: "tier", In: []string{"gold", "platinum"}}}, Skills: []string{"senior"}, Priority: prio(20)}
	spanish := Rule{When: []Condition{{Field: "language", In: []string{"es"}}, {Channel: "acme-wa"}}, Skills: []string{"es"}}
	low := Rule{When: []Condition{{Label: "spam"}}, Priority: prio(-5)}
	always := Rule{Skills: []string{"any"}}
	for _, tc := range []struct {
		name   string
		rules  []Rule
		facts  Facts
		skills []string
		prio   int
	}{
		{"no rules", nil, Facts{Channel: "acme-wa"}, nil, 0},
		{"no match", []Rule{billing, vip}, Facts{Channel: "acme-wa"}, nil, 0},
		{"channel", []Rule{billing}, Facts{Channel: "acme-billing"}, []string{"billing"}, 10},
		{"label", []Rule{billing, vip}, Facts{Channel: "acme-wa", Labels: []string{"a", "vip"}}, nil, 50},
		{"field in", []Rule{gold}, Facts{Fields: map[string]string{"tier": "platinum"}}, []string{"senior"}, 20},
		{"field not in", []Rule{gold}, Facts{Fields: map[string]string{"tier": "silver"}}, nil, 0},
		{"field missing", []Rule{gold}, Facts{Fields: map[string]string{"city": "gold"}}, nil, 0},
		{"every condition must hold", []Rule{spanish}, Facts{Channel: "acme-billing", Fields: map[string]string{"language": "es"}}, nil, 0},
		{"both conditions hold", []Rule{spanish}, Facts{Channel: "acme-wa", Fields: map[string]string{"language": "es"}}, []string{"es"}, 0},
		{"skills united, sorted, priority the highest", []Rule{vip, billing, gold},
			Facts{Channel: "acme-billing", Labels: []string{"vip"}, Fields: map[string]string{"tier": "gold"}}, []string{"billing", "senior"}, 50},
		{"order does not matter", []Rule{gold, billing, vip},
			Facts{Channel: "acme-billing", Labels: []string{"vip"}, Fields: map[string]string{"tier": "gold"}}, []string{"billing", "senior"}, 50},
		{"a negative priority alone wins over the default", []Rule{low}, Facts{Labels: []string{"spam"}}, nil, -5},
		{"the highest of a negative and a positive", []Rule{low, billing}, Facts{Channel: "acme-billing", Labels: []string{"spam"}}, []string{"billing"}, 10},
		{"no condition always matches", []Rule{always}, Facts{}, []string{"any"}, 0},
		{"a skill named twice once", []Rule{billing, billing}, Facts{Channel: "acme-billing"}, []string{"billing"}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.rules, tc.facts)
			if !slices.Equal(got.Skills, tc.skills) || got.Priority != tc.prio {
				t.Errorf("Evaluate = %v priority %d, want %v priority %d", got.Skills, got.Priority, tc.skills, tc.prio)
			}
		})
	}
}

func TestUsesFields(t *testing.T) {
	if UsesFields([]Rule{{When: []Condition{{Channel: "a"}, {Label: "b"}}, Skills: []string{"x"}}}) {
		t.Error("channel and label conditions need no contact")
	}
	if !UsesFields([]Rule{{When: []Condition{{Channel: "a"}}}, {When: []Condition{{Field: "tier", In: []string{"gold"}}}}}) {
		t.Error("a field condition needs the contact")
	}
}

func TestValidateRules(t *testing.T) {
	known := Known{
		Channel: func(s string) bool { return s == "acme-wa" },
		Label:   func(s string) bool { return s == "vip" },
		Field:   func(s string) bool { return s == "tier" },
	}
	ok := Rule{When: []Condition{{Channel: "acme-wa"}, {Label: "vip"}, {Field: "tier", In: []string{"gold"}}}, Skills: []string{"billing"}, Priority: prio(10)}
	if err := ValidateRules([]Rule{ok}, known); err != nil {
		t.Fatalf("a valid rule: %v", err)
	}
	for _, tc := range []struct {
		name  string
		rule  Rule
		field string
	}{
		{"no action", Rule{When: []Condition{{Channel: "acme-wa"}}}, "rules[0]"},
		{"two tests in one condition", Rule{When: []Condition{{Channel: "acme-wa", Label: "vip"}}, Skills: []string{"x"}}, "rules[0].when[0]"},
		{"empty condition", Rule{When: []Condition{{}}, Skills: []string{"x"}}, "rules[0].when[0]"},
		{"unknown channel", Rule{When: []Condition{{Channel: "other"}}, Skills: []string{"x"}}, "rules[0].when[0].channel"},
		{"unknown label", Rule{When: []Condition{{Label: "gold"}}, Skills: []string{"x"}}, "rules[0].when[0].label"},
		{"bad label", Rule{When: []Condition{{Label: "Gold!"}}, Skills: []string{"x"}}, "rules[0].when[0].label"},
		{"unknown field", Rule{When: []Condition{{Field: "plan", In: []string{"a"}}}, Skills: []string{"x"}}, "rules[0].when[0].field"},
		{"field without values", Rule{When: []Condition{{Field: "tier"}}, Skills: []string{"x"}}, "rules[0].when[0].in"},
		{"values on a channel", Rule{When: []Condition{{Channel: "acme-wa", In: []string{"a"}}}, Skills: []string{"x"}}, "rules[0].when[0].in"},
		{"bad skill", Rule{Skills: []string{"Billing Team"}}, "rules[0].skills[0]"},
		{"priority too high", Rule{Priority: prio(MaxPriority + 1)}, "rules[0].priority"},
		{"priority too low", Rule{Priority: prio(MinPriority - 1)}, "rules[0].priority"},
		{"long name", Rule{Name: strings.Repeat("n", 81), Skills: []string{"x"}}, "rules[0].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRules([]Rule{tc.rule}, known)
			re, isRule := err.(*RuleError)
			if !isRule || re.Field != tc.field {
				t.Errorf("ValidateRules = %v, want an error naming %s", err, tc.field)
			}
		})
	}
	// Without a catalogue any well-formed label is accepted.
	if err := ValidateRules([]Rule{{When: []Condition{{Label: "anything"}}, Priority: prio(1)}}, Known{}); err != nil {
		t.Errorf("no catalogue: %v", err)
	}
	many := make([]Rule, MaxRules+1)
	for i := range many {
		many[i] = Rule{Priority: prio(1)}
	}
	if err := ValidateRules(many, Known{}); err == nil {
		t.Error("more than MaxRules rules accepted")
	}
}
