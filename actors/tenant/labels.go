package tenant

// The labels catalogue, the contact field schema and the routing rules at runtime (issue 13): each is changed by a
// config_set that ApplyChange applies with the functions here.
//
//   - A label is a record of kind "label" (id its name): name, colour, description. The catalogue drives the
//     console's pickers and colours; once a tenant has one, labelling a conversation with a name outside it is
//     refused (conversation rules, unknown_label). Removing a label leaves the conversations that carry it as they
//     are: they keep it as plain text (grey in the console) and it can still be removed from them.
//   - The contact fields are the settings record's contact_fields (the YAML file's settings.contact_fields seed
//     them), replaced whole by a FieldsChange. A change never touches a contact: a value of a removed field, or
//     one the field's new definition refuses (a changed type or choice), is kept in the contact's record and hidden
//     from the API and the console; adding the field back as it was shows it again, and writing the field replaces
//     it.
//   - The routing rules are one record of kind "rules" (id "rules"): the ordered list (routing.Rule), replaced whole
//     by a RulesChange. A rule may only name channels, labels (when there is a catalogue) and contact fields that
//     exist, so removing one a rule names is refused until the rule changes.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/actors/routing"
)

// Kinds of the configuration records of this file.
const (
	KindLabel = "label" // a Label; id its name
	KindRules = "rules" // the routing rules; id RulesID
)

// RulesID is the id of the routing rules' record.
const RulesID = "rules"

// Label is one label of a tenant's catalogue.
type Label struct {
	// Name is what conversations carry: [a-z0-9_-]{1,64}.
	Name string `yaml:"name" json:"name"`
	// Color is how the console shows it: "#rrggbb". DefaultLabelColor when the YAML file or a new label gives none.
	Color string `yaml:"color" json:"color"`
	// Description says what the label is for; at most 200 characters.
	Description string `yaml:"description" json:"description,omitempty"`
}

// DefaultLabelColor is a label's colour when none is given.
const DefaultLabelColor = "#64748b"

// MaxLabels bounds a tenant's catalogue.
const MaxLabels = 500

var colorPattern = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// LabelChange adds a label (Create), changes its colour or description, or removes it (Delete).
type LabelChange struct {
	Name        string  `json:"name"`
	Create      bool    `json:"create,omitempty"`
	Delete      bool    `json:"delete,omitempty"`
	Color       *string `json:"color,omitempty"`
	Description *string `json:"description,omitempty"`
}

// FieldsChange replaces the tenant's contact fields (settings.contact_fields) by Fields, in their order.
type FieldsChange struct {
	Fields []ContactField `json:"fields"`
}

// RulesChange replaces the tenant's routing rules by Rules, in their order.
type RulesChange struct {
	Rules []routing.Rule `json:"rules"`
}

// RuleSet is the item of the routing rules' record: the ordered list.
type RuleSet struct {
	Rules []routing.Rule `json:"rules"`
}

// Codes of refusals of this file's changes.
const (
	CodeLabelNotFound = "label_not_found"
	CodeLabelExists   = "label_exists"
)

// HasLabel reports whether the tenant's catalogue has label name.
func (t *Tenant) HasLabel(name string) bool {
	return slices.ContainsFunc(t.Labels, func(l Label) bool { return l.Name == name })
}

// LabelNames are the names of the tenant's catalogue, nil when it has none.
func (t *Tenant) LabelNames() []string {
	if len(t.Labels) == 0 {
		return nil
	}
	out := make([]string, len(t.Labels))
	for i := range t.Labels {
		out[i] = t.Labels[i].Name
	}
	return out
}

// applyLabel applies c to t.
func applyLabel(t *Tenant, c *LabelChange) error {
	i := slices.IndexFunc(t.Labels, func(l Label) bool { return l.Name == c.Name })
	switch {
	case c.Create && c.Delete:
		return invalid("", "a label change either creates, changes or deletes")
	case c.Create && i >= 0:
		return &Refusal{Code: CodeLabelExists, Message: "label " + c.Name + " exists"}
	case c.Create:
		t.Labels = append(t.Labels, Label{Name: c.Name, Color: DefaultLabelColor})
		i = len(t.Labels) - 1
	case i < 0:
		return &Refusal{Code: CodeLabelNotFound, Message: "no label " + c.Name}
	case c.Delete:
		t.Labels = slices.Delete(t.Labels, i, i+1)
		return nil
	}
	l := &t.Labels[i]
	setIf(&l.Color, c.Color)
	setIf(&l.Description, c.Description)
	return nil
}

// validateCatalogue checks the labels and rules of tenant t (path tp: "tenants[0]").
func validateCatalogue(t *Tenant, tp string) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if len(t.Labels) > MaxLabels {
		return bad(tp+".labels", "at most %d labels", MaxLabels)
	}
	for i := range t.Labels {
		l := &t.Labels[i]
		lp := fmt.Sprintf("%s.labels[%d]", tp, i)
		if !routing.ValidName(l.Name) {
			return bad(lp+".name", "%q is not [a-z0-9_-]{1,64}", l.Name)
		}
		if slices.ContainsFunc(t.Labels[:i], func(o Label) bool { return o.Name == l.Name }) {
			return bad(lp+".name", "duplicate label %q", l.Name)
		}
		if !colorPattern.MatchString(l.Color) {
			return bad(lp+".color", "%q is not a colour #rrggbb (lower case)", l.Color)
		}
		if utf8.RuneCountInString(l.Description) > 200 || !utf8.ValidString(l.Description) {
			return bad(lp+".description", "at most 200 characters of UTF-8")
		}
	}
	known := routing.Known{
		Channel: func(id string) bool {
			return slices.ContainsFunc(t.Channels, func(c Channel) bool { return c.ID == id })
		},
		Field: func(k string) bool {
			return slices.ContainsFunc(t.Settings.ContactFields, func(f ContactField) bool { return f.Key == k })
		},
	}
	if len(t.Labels) > 0 {
		known.Label = t.HasLabel
	}
	if err := routing.ValidateRules(t.Rules, known); err != nil {
		if re, ok := err.(*routing.RuleError); ok {
			return bad(tp+"."+re.Field, "%s", re.Message)
		}
		return bad(tp+".rules", "%v", err)
	}
	return nil
}

// setLabelDefaults gives labels without a colour the default one.
func setLabelDefaults(t *Tenant) {
	for i := range t.Labels {
		if t.Labels[i].Color == "" {
			t.Labels[i].Color = DefaultLabelColor
		}
	}
}

// cloneCatalogue deep-copies the labels and rules of c (a shallow copy of its tenant).
func cloneCatalogue(c *Tenant) {
	c.Labels = slices.Clone(c.Labels)
	c.Rules = cloneRules(c.Rules)
}

func cloneRules(rs []routing.Rule) []routing.Rule {
	if rs == nil {
		return nil
	}
	out := slices.Clone(rs)
	for i := range out {
		r := &out[i]
		r.Skills = slices.Clone(r.Skills)
		if r.Priority != nil {
			r.Priority = new(*r.Priority)
		}
		r.When = slices.Clone(r.When)
		for j := range r.When {
			r.When[j].In = slices.Clone(r.When[j].In)
		}
	}
	return out
}

// diffCatalogue adds to a Diff the differences of the labels and rules of a tenant's YAML and its topic.
func diffCatalogue(yaml, topic *Tenant, add func(kind, id, field, y, t string)) {
	for i := range yaml.Labels {
		y := &yaml.Labels[i]
		j := slices.IndexFunc(topic.Labels, func(l Label) bool { return l.Name == y.Name })
		if j < 0 {
			add(KindLabel, y.Name, "(label)", "present", "absent")
			continue
		}
		add(KindLabel, y.Name, "color", y.Color, topic.Labels[j].Color)
		add(KindLabel, y.Name, "description", y.Description, topic.Labels[j].Description)
	}
	y, _ := json.Marshal(yaml.Rules)
	t, _ := json.Marshal(topic.Rules)
	add(KindRules, RulesID, "routing_rules", string(y), string(t))
}
