package contact

import (
	"strconv"
	"time"

	"github.com/switchboard-hq/switchboard/actors/jsonappend"
)

// Event types published on switchboard.events.
const (
	EventCreated   = "contact.created"
	EventUpdated   = "contact.updated"
	EventDeleted   = "contact.deleted"
	EventBlocked   = "contact.blocked"
	EventUnblocked = "contact.unblocked"
	// EventErased tells consumers (the analytics sink) to drop or anonymise what they hold of the contact.
	EventErased = "contact.erased"
)

// Event is one entry of switchboard.events about a contact. It carries no phone number and no name: consumers
// that need them read the contact.
type Event struct {
	// ID is "ct.<tenant>.<contact>.<offset>.<index>": the position of the input that changed the contact, so a
	// replay writes the same id and consumers drop the repeat.
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	At        time.Time `json:"at"`
	TenantID  string    `json:"tenant_id"`
	ContactID string    `json:"contact_id"`
	// ActorID is the operator whose command caused the change; empty for a customer's message.
	ActorID string `json:"actor_id,omitempty"`
}

// NewEvent is the event of type typ about contact id, caused by the input at pos.
func NewEvent(typ, tenant, id, actor string, at time.Time, pos Position) Event {
	var buf [96]byte
	b := append(append(append(append(buf[:0], "ct."...), tenant...), '.'), id...)
	b = strconv.AppendInt(append(b, '.'), pos.Offset, 10)
	b = strconv.AppendInt(append(b, '.'), int64(pos.Index), 10)
	return Event{ID: string(b), Type: typ, At: at, TenantID: tenant, ContactID: id, ActorID: actor}
}

// AppendJSON appends e's JSON, as json.Marshal(e) writes it, to dst (TestEventAppendJSON compares them); it fails
// where json.Marshal fails (a time whose year is outside 0-9999).
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	var err error
	dst = jsonappend.String(append(dst, `{"id":`...), e.ID)
	dst = jsonappend.String(append(dst, `,"type":`...), e.Type)
	if dst, err = jsonappend.Time(append(dst, `,"at":`...), e.At); err != nil {
		return nil, err
	}
	dst = jsonappend.String(append(dst, `,"tenant_id":`...), e.TenantID)
	dst = jsonappend.String(append(dst, `,"contact_id":`...), e.ContactID)
	if e.ActorID != "" {
		dst = jsonappend.String(append(dst, `,"actor_id":`...), e.ActorID)
	}
	return append(dst, '}'), nil
}

// ImportRow is the outcome of one row of a contact_import batch.
type ImportRow struct {
	Line      int    `json:"line"`
	Phone     string `json:"phone"`
	ContactID string `json:"contact_id,omitempty"`
	Result    Result `json:"result"`
	Code      string `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// ImportResult is the outcome body of a contact_import batch: each row's outcome in order, and the counts.
type ImportResult struct {
	Rows      []ImportRow `json:"rows"`
	Created   int         `json:"created"`
	Updated   int         `json:"updated"`
	Unchanged int         `json:"unchanged"`
	Refused   int         `json:"refused"`
}

// Add appends a row's outcome and counts it.
func (r *ImportResult) Add(row ImportRow) {
	r.Rows = append(r.Rows, row)
	switch row.Result {
	case Created:
		r.Created++
	case Updated:
		r.Updated++
	case Unchanged:
		r.Unchanged++
	default:
		r.Refused++
	}
}
