// Package canned holds the canned responses of a tenant — a title, a category and a text with variables, optionally
// a file — and the pure rules that change and render them. The tenant's catalogue actor (actors/router) reads and
// writes them in Pebble and calls these rules; the API (api/canned.go) lists and renders them.
//
// It imports only the standard library, the inbox record's types (ingest/inbox) and the shared refusal type
// (actors/refusal); actors/domain_test.go checks it.
package canned

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/refusal"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Limits of a canned response.
const (
	// MaxTitle is the longest title, in characters; a title has at least one that is not blank.
	MaxTitle = 100
	// MaxText is the longest text, in characters (WhatsApp's limit for a text message).
	MaxText = 4096
	// MaxCategory is the longest category, in characters; a category is optional.
	MaxCategory = 50
	// MaxPerTenant is how many canned responses a tenant may have: the console lists them all at once.
	MaxPerTenant = 1000
)

// Refusal codes. The API maps each to its HTTP status (api/errors.go).
const (
	// CodeInvalid [input]: a title, category, text, variable or media that breaks the rules above; the message
	// names which.
	CodeInvalid = "invalid_canned"
	// CodeNotFound [missing]: no canned response of the tenant has that id.
	CodeNotFound = "canned_not_found"
	// CodeExists [state]: a create names an id that another canned response already has.
	CodeExists = "canned_exists"
	// CodeTooMany [state]: the tenant has MaxPerTenant canned responses already.
	CodeTooMany = "too_many_canned"
	// CodeForbidden [role]: only admins and builders manage canned responses.
	CodeForbidden = "forbidden"
)

// Codes returns every refusal code of this package, so the API's edge can check that it maps each one.
func Codes() []string {
	return []string{CodeInvalid, CodeNotFound, CodeExists, CodeTooMany, CodeForbidden}
}

// Refusal is the error a refused change returns (actors/refusal).
type Refusal = refusal.Refusal

func refuse(code, format string, args ...any) *Refusal { return refusal.New(code, format, args...) }

// Response is a stored canned response.
type Response struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Category string `json:"category"`
	// Text may hold variables (see Render).
	Text string `json:"text"`
	// Media is an optional file sent with the text: {"type":"image|document|video|audio","id":"<media id>"}.
	Media     json.RawMessage `json:"media,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// UpdatedBy is the operator who made the last change.
	UpdatedBy string `json:"updated_by,omitempty"`
	// Version counts the changes; event ids derive from it.
	Version uint64 `json:"version"`
	// Applied is the position of the last command applied, so a replayed command is skipped.
	Applied conversation.Position `json:"applied"`
	// Deleted marks what a delete leaves: a tombstone, so that a create replayed after the delete does not bring
	// the response back. Lists skip tombstones.
	Deleted bool `json:"deleted,omitempty"`
}

// The roles that manage canned responses, as in the tenant config (actors/tenant, which this package may not import).
const (
	roleAdmin   = "admin"
	roleBuilder = "builder"
)

// Kinds of change.
const (
	Create = "canned_create"
	Update = "canned_update"
	Delete = "canned_delete"
)

// Command is a change as the catalogue hands it to Apply.
type Command struct {
	// Type is Create, Update or Delete.
	Type string
	// OperatorID and Role are the caller's; only admins and builders may change canned responses.
	OperatorID, Role string
	// Input is the response to create, the whole new response of an update (the API merges a partial change onto
	// the stored one), or the id of a delete.
	Input inbox.CannedInput
	// At is the command record's time; Pos its position in the tenant's partition.
	At  time.Time
	Pos conversation.Position
}

// Event is the canned.changed event of a change, published on switchboard.events. ID is "<canned id>-<version>",
// the same on every replay.
type Event struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	TenantID string    `json:"tenant_id"`
	At       time.Time `json:"at"`
	CannedID string    `json:"canned_id"`
	// Action is created, updated or deleted.
	Action string `json:"action"`
	// ActorID is the operator who made the change.
	ActorID string `json:"actor_id"`
}

// EventChanged is the type of Event.
const EventChanged = "canned.changed"

// Apply applies cmd to prev, the stored response with the command's id (nil when there is none; it may be a
// tombstone), given how many live responses the tenant has (count). It returns the response to store (a tombstone
// for a delete) and the event to publish. A command that changes nothing returns prev and no event: one at or
// before prev.Applied (a replay), a create or update to what is stored already. A refusal is a *Refusal.
//
// Checks run in this order: the caller's role (forbidden), the input (invalid_canned), the state (canned_not_found,
// canned_exists, too_many_canned).
func Apply(prev *Response, count int, tenant string, cmd Command) (*Response, *Event, error) {
	if prev != nil && prev.Applied != (conversation.Position{}) && !prev.Applied.Less(cmd.Pos) {
		return prev, nil, nil
	}
	if cmd.Role != roleAdmin && cmd.Role != roleBuilder {
		return nil, nil, refuse(CodeForbidden, "only admins and builders manage canned responses")
	}
	in := cmd.Input
	if !ValidID(in.ID) {
		return nil, nil, refuse(CodeNotFound, "no canned response %q", cut(in.ID))
	}
	live := prev
	if prev != nil && prev.Deleted {
		live = nil
	}
	var next *Response
	action := ""
	switch cmd.Type {
	case Create, Update:
		if r := Validate(in); r != nil {
			return nil, nil, r
		}
		r := Response{ID: in.ID, Title: strings.TrimSpace(in.Title), Category: strings.TrimSpace(in.Category),
			Text: in.Text, Media: in.Media, CreatedAt: cmd.At, UpdatedAt: cmd.At, UpdatedBy: cmd.OperatorID}
		if cmd.Type == Create {
			if prev != nil {
				if live != nil && live.same(&r) {
					return prev, nil, nil
				}
				return nil, nil, refuse(CodeExists, "canned response %s exists", in.ID)
			}
			if count >= MaxPerTenant {
				return nil, nil, refuse(CodeTooMany, "a tenant has at most %d canned responses", MaxPerTenant)
			}
			r.Version, action = 1, "created"
		} else {
			if live == nil {
				return nil, nil, refuse(CodeNotFound, "no canned response %s", in.ID)
			}
			if live.same(&r) {
				return prev, nil, nil
			}
			r.CreatedAt, r.Version, action = live.CreatedAt, live.Version+1, "updated"
		}
		next = &r
	case Delete:
		if live == nil {
			return nil, nil, refuse(CodeNotFound, "no canned response %s", in.ID)
		}
		next = &Response{ID: in.ID, CreatedAt: live.CreatedAt, UpdatedAt: cmd.At,
			UpdatedBy: cmd.OperatorID, Version: live.Version + 1, Deleted: true}
		action = "deleted"
	default:
		return nil, nil, refuse(CodeInvalid, "unknown canned response command %q", cut(cmd.Type))
	}
	next.Applied = cmd.Pos
	return next, &Event{ID: in.ID + "-" + strconv.FormatUint(next.Version, 10), Type: EventChanged, TenantID: tenant,
		At: cmd.At, CannedID: in.ID, Action: action, ActorID: cmd.OperatorID}, nil
}

// same reports whether r already says what n says (times and author aside).
func (r *Response) same(n *Response) bool {
	return r.Title == n.Title && r.Category == n.Category && r.Text == n.Text && bytes.Equal(r.Media, n.Media)
}

// Validate checks a response's title, category, text, variables and media.
func Validate(in inbox.CannedInput) *Refusal {
	title := strings.TrimSpace(in.Title)
	if n := utf8.RuneCountInString(title); n == 0 || n > MaxTitle || !utf8.ValidString(title) {
		return refuse(CodeInvalid, "title must have 1 to %d characters", MaxTitle)
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(in.Category)); n > MaxCategory || !utf8.ValidString(in.Category) {
		return refuse(CodeInvalid, "category must have at most %d characters", MaxCategory)
	}
	if strings.TrimSpace(in.Text) == "" || utf8.RuneCountInString(in.Text) > MaxText || !utf8.ValidString(in.Text) {
		return refuse(CodeInvalid, "text must have 1 to %d characters", MaxText)
	}
	for _, v := range Variables(in.Text) {
		if !knownVariable(v) {
			return refuse(CodeInvalid, "unknown variable {{%s}}: use contact.name, contact.phone, contact.fields.<key> or operator.name", cut(v))
		}
	}
	if len(in.Media) > 0 {
		var m struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		dec := json.NewDecoder(bytes.NewReader(in.Media))
		dec.DisallowUnknownFields()
		if dec.Decode(&m) != nil || m.ID == "" || len(m.ID) > 128 {
			return refuse(CodeInvalid, `media must be {"type":"image|document|video|audio","id":"<media id>"}`)
		}
		switch m.Type {
		case "image", "document", "video", "audio":
		default:
			return refuse(CodeInvalid, "media type %q is not image, document, video or audio", cut(m.Type))
		}
	}
	return nil
}

// ValidID reports whether id has the form the API gives canned responses: "d" and 32 lower-case hex digits.
func ValidID(id string) bool {
	if len(id) != 33 || id[0] != 'd' {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Vars are the values Render fills in.
type Vars struct {
	ContactName  string
	ContactPhone string
	// Fields are the contact's custom field values by key, as text.
	Fields       map[string]string
	OperatorName string
}

// Variables returns the variable names text uses, in order, with repeats: what is between "{{" and "}}", trimmed.
func Variables(text string) []string {
	var out []string
	scan(text, func(_, _, name string) { out = append(out, name) })
	return out
}

// scan calls fn for each variable of text with the text before it (since the previous one), the variable as written
// ("{{ name }}") and its name, trimmed, and returns the text after the last one.
func scan(text string, fn func(before, written, name string)) (rest string) {
	rest = text
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			return rest
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return rest
		}
		end := i + 2 + j + 2
		fn(rest[:i], rest[i:end], strings.TrimSpace(rest[i+2:i+2+j]))
		rest = rest[end:]
	}
}

// knownVariable reports whether v is contact.name, contact.phone, operator.name or contact.fields.<key> with a
// field key ([a-z][a-z0-9_]{0,31}).
func knownVariable(v string) bool {
	switch v {
	case "contact.name", "contact.phone", "operator.name":
		return true
	}
	key, ok := strings.CutPrefix(v, "contact.fields.")
	return ok && validKey(key)
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > 32 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 1; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Render fills the variables of text from v. A variable without a value (unknown, or empty: a contact without a
// name, a field not set) is left visible as written and its name listed in missing, once, in order of first use,
// so the operator sees what to fill in by hand.
func Render(text string, v Vars) (out string, missing []string) {
	var b strings.Builder
	b.Grow(len(text))
	rest := scan(text, func(before, written, name string) {
		b.WriteString(before)
		if val := v.value(name); val != "" {
			b.WriteString(val)
			return
		}
		b.WriteString(written)
		if !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	})
	b.WriteString(rest)
	return b.String(), missing
}

func (v Vars) value(name string) string {
	switch name {
	case "contact.name":
		return v.ContactName
	case "contact.phone":
		return v.ContactPhone
	case "operator.name":
		return v.OperatorName
	}
	if key, ok := strings.CutPrefix(name, "contact.fields."); ok {
		return v.Fields[key]
	}
	return ""
}

// cut shortens untrusted text quoted in a message.
func cut(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}
