// Package audit is the shape of the audit log: who changed what and when in a tenant — settings, operators and
// their roles, tokens, channels, takeovers, erasures — and the admin actions refused (docs: README "Audit log").
// An entry is written by the actor that applies the change, in the batch of the change, so it is exactly as
// durable as the change; it is named by the input's position, so a replay writes the same entry again under the
// same id. Entries are stored under t/<tenant>/z/ (actors/store, audit.go) and published as audit.recorded events.
//
// It imports only the standard library and ingest/inbox (actors/domain_test.go).
package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// EventRecorded is the type of the event an entry is published as on switchboard.events.
const EventRecorded = "audit.recorded"

// Actions.
const (
	ActionSettingsChanged   = "settings.changed"
	ActionOperatorAdded     = "operator.added"
	ActionOperatorChanged   = "operator.changed"
	ActionOperatorRemoved   = "operator.removed"
	ActionChannelAdded      = "channel.added"
	ActionChannelChanged    = "channel.changed"
	ActionChannelRemoved    = "channel.removed"
	ActionTokenCreated      = "token.created"
	ActionTokenRevoked      = "token.revoked"
	ActionTakenOver         = "conversation.taken_over"
	ActionContactErased     = "contact.erased"
	ActionConversationErase = "conversation.erased"
	ActionAccessDenied      = "access.denied"
	// ActionPruned records that the tenant's entries older than its retention were removed (README, "Audit log"):
	// by "system", target "audit", changes before (the cut, RFC 3339) and removed (how many).
	ActionPruned = "audit.pruned"
)

// Secret is what an entry shows for a secret's new value: that it changed, never the value or its hash.
const Secret = "(changed)"

// Entry is one audit log entry.
type Entry struct {
	// ID is stable under replay: "<offset>-<index>-<n>", the position of the input that made the change on the
	// tenant's inbox partition and the entry's number among those the input made.
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	// At is the time of the input record (the domain's clock), not the wall clock of the node that applied it.
	At        time.Time `json:"at"`
	ActorID   string    `json:"actor_id"`
	ActorRole string    `json:"actor_role,omitempty"`
	Action    string    `json:"action"`
	// Target names what changed: "settings", "operator/<id>", "channel/<id>", "token/<id>",
	// "conversation/<id>", "contact/<id>"; for access.denied the refused request ("PATCH /v1/settings").
	Target    string   `json:"target"`
	Changes   []Change `json:"changes,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
}

// Change is one field of a change: its value before (null when the item is new) and after (null when removed).
// A secret's values are never shown: To is "(changed)" and From is null.
type Change struct {
	Field string          `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

// ID is the id of the n-th entry made by the input at offset and index.
func ID(offset int64, index, n int) string { return fmt.Sprintf("%d-%d-%d", offset, index, n) }

// secrets are the JSON fields of configuration items whose values an entry never shows.
var secrets = map[string]bool{
	"app_secret": true, "verify_token": true, "access_token": true, "token": true, "token_sha256": true,
	"secret_sha256": true, "password": true, "password_hash": true, "sha256": true, "secret": true,
	"client_secret": true,
}

// IsSecret reports whether field holds a secret.
func IsSecret(field string) bool { return secrets[field] }

var changed = json.RawMessage(`"(changed)"`)

// Diff is the changes between two JSON objects, old and new (either nil for none), by top-level field in name
// order; fields in skip are left out. A field absent on one side compares as null.
func Diff(old, new json.RawMessage, skip ...string) ([]Change, error) {
	var o, n map[string]json.RawMessage
	if len(old) > 0 && !bytes.Equal(old, []byte("null")) {
		if err := json.Unmarshal(old, &o); err != nil {
			return nil, fmt.Errorf("audit: decode old value: %w", err)
		}
	}
	if len(new) > 0 && !bytes.Equal(new, []byte("null")) {
		if err := json.Unmarshal(new, &n); err != nil {
			return nil, fmt.Errorf("audit: decode new value: %w", err)
		}
	}
	fields := make([]string, 0, len(o)+len(n))
	for f := range o {
		fields = append(fields, f)
	}
	for f := range n {
		if _, ok := o[f]; !ok {
			fields = append(fields, f)
		}
	}
	slices.Sort(fields)
	var out []Change
	for _, f := range fields {
		if slices.Contains(skip, f) {
			continue
		}
		a, b := norm(o[f]), norm(n[f])
		if bytes.Equal(a, b) {
			continue
		}
		c := Change{Field: f, From: a, To: b}
		if secrets[f] {
			c.From = json.RawMessage("null")
			c.To = changed
			if b == nil || bytes.Equal(b, []byte("null")) || bytes.Equal(b, []byte(`""`)) {
				c.To = json.RawMessage("null")
			}
		}
		if c.From == nil {
			c.From = json.RawMessage("null")
		}
		if c.To == nil {
			c.To = json.RawMessage("null")
		}
		out = append(out, c)
	}
	return out, nil
}

// norm makes equal values compare equal: empty values (null, "", 0, false, [], {}) compare as absent, and the
// rest is compacted.
func norm(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return v
	}
	switch s := buf.String(); s {
	case "null", `""`, "0", "false", "[]", "{}":
		return nil
	}
	return buf.Bytes()
}

// Event is an entry as the audit.recorded event carries it on switchboard.events: the entry's fields and its type.
type Event struct {
	Type string `json:"type"`
	Entry
}

// NewEvent is the audit.recorded event of e.
func NewEvent(e Entry) Event { return Event{Type: EventRecorded, Entry: e} }

// Matches reports whether e passes a reader's filters: at in [from, to) (zero for no bound), by actor, of action
// ("" for any; an action ending in "." matches its prefix, e.g. "channel.").
func (e *Entry) Matches(from, to time.Time, actor, action string) bool {
	switch {
	case !from.IsZero() && e.At.Before(from), !to.IsZero() && !e.At.Before(to):
		return false
	case actor != "" && e.ActorID != actor:
		return false
	case action != "" && action[len(action)-1] == '.':
		return len(e.Action) >= len(action) && e.Action[:len(action)] == action
	case action != "" && e.Action != action:
		return false
	}
	return true
}

// ConfigAction is the action and target of a change of a configuration item of kind ("tenant" for the settings,
// "channel", "operator", "token", "invite", … as actors/tenant names them) and id: added when there was no item
// before, removed when the record deletes it (or, for a token, revokes it).
func ConfigAction(kind, id string, added, removed bool) (action, target string) {
	target = kind + "/" + id
	verb := "changed"
	switch {
	case removed:
		verb = "removed"
	case added:
		verb = "added"
	}
	switch kind {
	case "tenant":
		return ActionSettingsChanged, "settings"
	case "token":
		if removed {
			return ActionTokenRevoked, target
		}
		if added {
			return ActionTokenCreated, target
		}
	}
	return kind + "." + verb, target
}
