// Package contact holds a tenant's contact record and the pure rules that change it: the phone number check
// (E.164), the custom field schema and the validation of values, the upsert of a contact from a command or an
// import row, and the tokens a contact is found by. The router's catalogue actor (actors/router/catalogue.go) calls
// these functions, persists the result and publishes the outcome.
//
// A contact is identified by its phone number: its id is conversation.ContactID of its WhatsApp address (the
// number's digits), so the contact of a conversation is known without an index, and a contact's conversations are
// conversation.ID(channel, wa_id) for each channel of the tenant.
//
// It imports only the standard library, the inbox record's types (ingest/inbox), the shared refusal type
// (actors/refusal) and the search tokenizer (actors/search); actors/domain_test.go checks it.
package contact

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/switchboard-hq/switchboard/actors/refusal"
	"github.com/switchboard-hq/switchboard/actors/search"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// MaxNameRunes bounds a contact's name.
const MaxNameRunes = 256

// MaxTextRunes bounds a text field's value.
const MaxTextRunes = 1024

// Position is where in the tenant's partition a record was (a Kafka offset and the item's index in the record),
// the same as conversation.Position: the catalogue skips a command at or before a contact's Applied position.
type Position struct {
	Offset int64 `json:"offset"`
	Index  int   `json:"index"`
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Offset < q.Offset || (p.Offset == q.Offset && p.Index < q.Index)
}

// Contact is the durable record of one person a tenant talks to, by phone number.
type Contact struct {
	ID string `json:"id"`
	// Phone is the number in E.164 ("+15551234567"); WaID is its digits, the person's WhatsApp address.
	Phone string `json:"phone"`
	WaID  string `json:"wa_id"`
	// Name is the name operators gave, or the WhatsApp profile name until they give one.
	Name string `json:"name"`
	// ProfileName is the latest WhatsApp profile name the person's messages carried.
	ProfileName string `json:"profile_name,omitempty"`
	// Fields are the custom field values by key, each valid for the schema's type when it was written: a JSON
	// string (text, choice, date "YYYY-MM-DD"), number or boolean.
	Fields  map[string]json.RawMessage `json:"fields,omitempty"`
	Blocked bool                       `json:"blocked,omitempty"`
	// CreatedAt and UpdatedAt are record times (ingest time of the command or message), never the wall clock.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version is incremented by every change.
	Version uint64 `json:"version"`
	// Applied is the position of the last input applied.
	Applied Position `json:"applied"`
	// ImportID and ImportLine name the import row that last wrote the contact, so a phone repeated later in the
	// same import is refused as a duplicate of that line.
	ImportID   string `json:"import_id,omitempty"`
	ImportLine int    `json:"import_line,omitempty"`
}

// Mode says what an upsert may do.
type Mode int

// Upsert modes.
const (
	// Create makes a new contact; a phone that is already a contact is refused (CodeContactExists).
	Create Mode = iota
	// Update changes an existing contact; none is refused (CodeNotFound). The phone cannot change.
	Update
	// Import creates the contact or updates it with what the row gives (fields absent from the row are kept).
	Import
)

// Result is what an upsert did.
type Result string

// Upsert results.
const (
	Created   Result = "created"
	Updated   Result = "updated"
	Unchanged Result = "unchanged"
	Refused   Result = "refused"
)

// Outcome is an upsert's result, with the refusal's code and reason when Refused.
type Outcome struct {
	Result Result `json:"result"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Write is set when the returned contact is to be stored: created, updated, or unchanged for the person
	// importing but newly marked with the import's id and line.
	Write bool `json:"-"`
}

// Change is the context of an upsert: what it may do, when, where in the partition, and for an import its id.
type Change struct {
	Mode     Mode
	At       time.Time
	Pos      Position
	ImportID string
}

// Upsert applies in to prev (nil when no contact has in's phone, or the contact an update names does not exist)
// under schema s, and returns the contact to store and what happened. A refused or unchanged upsert returns prev
// unchanged (the zero Contact when prev is nil). Id is the contact id of in's WhatsApp address
// (conversation.ContactID), given by the caller, which also looked prev up by it.
//
// Values are checked against s (Schema.Check); a name over MaxNameRunes is refused as field "name". On create,
// required fields must be given; on update and import they must not end up missing. A field set to null (or "")
// is removed.
func Upsert(prev *Contact, id string, in *inbox.ContactInput, s Schema, ch Change) (Contact, Outcome) {
	var zero Contact
	if prev != nil {
		zero = *prev
	}
	refused := func(err error) (Contact, Outcome) {
		r, ok := err.(*refusal.Refusal)
		if !ok {
			r = refuse(CodeInvalidCommand, "%v", err)
		}
		return zero, Outcome{Result: Refused, Code: r.Code, Reason: r.Message}
	}
	var phone, wa string
	if in.Phone != "" || ch.Mode != Update {
		var err error
		if phone, wa, err = NormalizePhone(in.Phone); err != nil {
			return refused(err)
		}
	}
	switch ch.Mode {
	case Create:
		if prev != nil {
			return refused(refuse(CodeContactExists, "%s is already a contact (%s)", phone, prev.ID))
		}
	case Update:
		if prev == nil {
			return refused(refuse(CodeNotFound, "no contact %s", id))
		}
		if phone != "" && phone != prev.Phone {
			return refused(refuse(CodeInvalidPhone, "a contact's phone number cannot change: create a contact for %s", phone))
		}
	case Import:
		if prev != nil && ch.ImportID != "" && prev.ImportID == ch.ImportID && prev.ImportLine != in.Line {
			return refused(refuse(CodeDuplicatePhone, "duplicate phone (line %d)", prev.ImportLine))
		}
	}
	var next Contact
	if prev == nil {
		next = Contact{ID: id, Phone: phone, WaID: wa, CreatedAt: ch.At}
	} else {
		next = *prev
		next.Fields = nil
		if len(prev.Fields) > 0 {
			next.Fields = make(map[string]json.RawMessage, len(prev.Fields)+len(in.Fields))
			for k, v := range prev.Fields {
				next.Fields[k] = v
			}
		}
	}
	if in.Name != nil {
		if err := checkName(*in.Name); err != nil {
			return refused(err)
		}
		next.Name = *in.Name
	}
	for k, raw := range in.Fields {
		v, err := s.Check(k, raw)
		if err != nil {
			return refused(err)
		}
		if v == nil {
			delete(next.Fields, k)
			continue
		}
		if next.Fields == nil {
			next.Fields = make(map[string]json.RawMessage, len(in.Fields))
		}
		next.Fields[k] = v
	}
	for _, f := range s {
		if f.Required {
			if _, ok := next.Fields[f.Key]; !ok {
				return refused(refuse(CodeInvalidField, "field %q is required", f.Key))
			}
		}
	}
	if len(next.Fields) == 0 {
		next.Fields = nil
	}
	res := Created
	if prev != nil {
		if sameContent(prev, &next) && (ch.Mode != Import || ch.ImportID == "" || prev.ImportID == ch.ImportID) {
			return zero, Outcome{Result: Unchanged}
		}
		res = Updated
		if sameContent(prev, &next) {
			// Only the import mark moves: the row is unchanged for the person who imports, but a later row of the
			// same import with this phone must be refused.
			res = Unchanged
		}
	}
	if ch.Mode == Import && ch.ImportID != "" {
		next.ImportID, next.ImportLine = ch.ImportID, in.Line
	}
	next.UpdatedAt = ch.At
	next.Version++
	next.Applied = ch.Pos
	return next, Outcome{Result: res, Write: true}
}

// sameContent reports whether a and b hold the same name and field values.
func sameContent(a, b *Contact) bool {
	if a.Name != b.Name || len(a.Fields) != len(b.Fields) {
		return false
	}
	for k, v := range a.Fields {
		w, ok := b.Fields[k]
		if !ok || string(v) != string(w) {
			return false
		}
	}
	return true
}

// Observe applies a customer message's sender to the contact of its WhatsApp address: a new contact is created
// with the profile name as its name; a known one gets the new profile name (and it as its name when it has none).
// It reports whether anything changed. A wa_id that is not a valid number leaves no contact.
func Observe(prev *Contact, id, waID, profileName string, at time.Time, pos Position) (Contact, bool) {
	if prev != nil {
		if profileName == "" || profileName == prev.ProfileName {
			return *prev, false
		}
		next := *prev
		next.ProfileName = profileName
		if next.Name == "" {
			next.Name = profileName
		}
		next.UpdatedAt, next.Applied = at, pos
		next.Version++
		return next, true
	}
	phone, wa, err := NormalizePhone("+" + waID)
	if err != nil || wa != waID {
		return Contact{}, false
	}
	return Contact{ID: id, Phone: phone, WaID: wa, Name: profileName, ProfileName: profileName, CreatedAt: at,
		UpdatedAt: at, Version: 1, Applied: pos}, true
}

// SetBlocked blocks or unblocks c; it reports false when c already was so.
func SetBlocked(c Contact, blocked bool, at time.Time, pos Position) (Contact, bool) {
	if c.Blocked == blocked {
		return c, false
	}
	c.Blocked = blocked
	c.UpdatedAt, c.Applied = at, pos
	c.Version++
	return c, true
}

// Tokens returns the search tokens of a contact: its name's and profile name's words, its phone number (all its
// digits, and its last four), and the words of its text and choice field values; distinct, in that order. A value
// of the form YYYY-MM-DD (a date field's) gives none: its parts (1980, 01, 05) would be postings of most of a tenant
// for no useful search, a third of what an import writes (H-speed).
func Tokens(c *Contact) []string { return tokens(c, false) }

// WrittenTokens returns the tokens whose postings c may have in the store: Tokens, and the parts of its date values,
// which were indexed before (a contact written then still has them). Deleting them keeps an erase complete.
func WrittenTokens(c *Contact) []string { return tokens(c, true) }

func tokens(c *Contact, dates bool) []string {
	out := make([]string, 0, 8)
	add := func(toks []string) {
		for _, t := range toks {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	add(search.Tokens(c.Name))
	if c.ProfileName != c.Name {
		add(search.Tokens(c.ProfileName))
	}
	add(search.PhoneTokens(c.WaID))
	for _, v := range c.Fields {
		if len(v) > 0 && v[0] == '"' {
			if s, ok := unquoteJSON(v); ok && (dates || !isDate(s)) {
				add(search.Tokens(s))
			}
		}
	}
	return out
}

// isDate reports whether s has the form YYYY-MM-DD.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i != 4 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// Matches reports whether c matches every term of q (the last as a prefix of a token when q.Prefix).
func Matches(c *Contact, q search.Query) bool {
	if len(q.Terms) == 0 {
		return false
	}
	toks := Tokens(c)
	for i, term := range q.Terms {
		prefix := q.Prefix && i == len(q.Terms)-1
		found := false
		for _, t := range toks {
			if t == term || prefix && len(t) > len(term) && t[:len(term)] == term {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func refuse(code, format string, args ...any) *refusal.Refusal {
	return refusal.New(code, format, args...)
}

func checkName(name string) error {
	n := 0
	for range name {
		n++
	}
	if n > MaxNameRunes {
		return refuse(CodeInvalidField, "field %q: longer than %d characters", "name", MaxNameRunes)
	}
	return nil
}
