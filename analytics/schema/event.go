package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
)

// Event is one row of switchboard.events: one event of the switchboard.events topic (conversation.Event), as the
// sink stores it. ChannelID is empty in events published before events carried channel_id.
type Event struct {
	ID                   string    `json:"id"`
	Type                 string    `json:"type"`
	At                   time.Time `json:"at"`
	TenantID             string    `json:"tenant_id"`
	ChannelID            string    `json:"channel_id,omitempty"`
	ConversationID       string    `json:"conversation_id"`
	ContactID            string    `json:"contact_id,omitempty"`
	ActorID              string    `json:"actor_id,omitempty"`
	OperatorID           string    `json:"operator_id,omitempty"`
	PreviousOperatorID   string    `json:"previous_operator_id,omitempty"`
	AssigneeID           string    `json:"assignee_id,omitempty"`
	MessageID            string    `json:"message_id,omitempty"`
	Status               string    `json:"status"`
	Labels               []string  `json:"labels,omitempty"`
	WaitSeconds          float64   `json:"wait_seconds,omitempty"`
	FirstResponseSeconds float64   `json:"first_response_seconds,omitempty"`
	HandlingSeconds      float64   `json:"handling_seconds,omitempty"`
	MessageStatus        string    `json:"message_status,omitempty"`
	ErrorCode            int32     `json:"error_code,omitempty"`
	ErrorTitle           string    `json:"error_title,omitempty"`
	// Seq is the conversation's version taken from the event id ("<conversation>-<version>-<n>"); 0 for events
	// whose id carries none (message.status). Decode fills it in.
	Seq uint64 `json:"-"`
}

// EventTypes are the event types the schema knows, with their fixed numbers in the type column's Enum8. Decode
// accepts these only. A new event type needs a migration that extends the Enum8 (ALTER TABLE … MODIFY COLUMN type
// with the longer list) and its entry here; never renumber one.
var EventTypes = []struct {
	Name   string
	Number int8
}{
	{conversation.EventCreated, 1},
	{conversation.EventMessageReceived, 2},
	{conversation.EventMessageQueued, 3},
	{conversation.EventNoteCreated, 4},
	{conversation.EventMentioned, 5},
	{conversation.EventAssigned, 6},
	{conversation.EventUnassigned, 7},
	{conversation.EventTransferred, 8},
	{conversation.EventClosed, 9},
	{conversation.EventReopened, 10},
	{conversation.EventSnoozed, 11},
	{conversation.EventUnsnoozed, 12},
	{conversation.EventLabelsChanged, 13},
	{conversation.EventWindowClosing, 14},
	{conversation.EventMessageStatus, 15},
}

// KnownTypes is EventTypes as a set.
var KnownTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range EventTypes {
		m[t.Name] = true
	}
	return m
}()

// NotStoredTypes are the event types of switchboard.events that the raw table (one row per change of a
// conversation) does not keep: operator.availability and contact.* changes are not about a conversation, and
// conversation.read is one operator's read mark (the inbox's unread state, not a change the conversation went through). Decode refuses them
// with ErrNotStored, and the sink skips them. An analysis that needs one adds a table of its own, not a row in
// switchboard.events.
//
// The erasure events (contact.erased, conversation.erased) are not stored either: the sink acts on them (ErasureOf,
// Anonymise).
var NotStoredTypes = map[string]bool{
	operator.EventAvailability: true,
	conversation.EventRead:     true,
	// A contact's changes are not conversations' (actors/contact).
	contact.EventCreated:   true,
	contact.EventUpdated:   true,
	contact.EventDeleted:   true,
	contact.EventBlocked:   true,
	contact.EventUnblocked: true,
	// Erasures (erase.go).
	EventContactErased:      true,
	EventConversationErased: true,
	// Canned responses are the tenant's content, not a conversation's (actors/canned).
	canned.EventChanged: true,
	// The audit log has a table of its own (audit.go).
	EventAuditRecorded: true,
}

// typeEnum is the type column's type: Enum8('conversation.created' = 1, …).
var typeEnum = func() string {
	var b strings.Builder
	b.WriteString("Enum8(")
	for i, t := range EventTypes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s' = %d", t.Name, t.Number)
	}
	b.WriteString(")")
	return b.String()
}()

// Decode parses one record value of switchboard.events. It fails with ErrMalformed, ErrNotStored or ErrUnknownType
// (wrapped).
func Decode(data []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := e.check(); err != nil {
		return Event{}, err
	}
	e.At = e.At.UTC()
	e.Seq = SeqOf(e.ID)
	return e, nil
}

func (e *Event) check() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: no id", ErrMalformed)
	case e.Type == "":
		return fmt.Errorf("%w: event %s has no type", ErrMalformed, e.ID)
	case e.TenantID == "":
		return fmt.Errorf("%w: event %s has no tenant_id", ErrMalformed, e.ID)
	case NotStoredTypes[e.Type]:
		return fmt.Errorf("%w: %q (event %s)", ErrNotStored, e.Type, e.ID)
	case e.ConversationID == "":
		return fmt.Errorf("%w: event %s has no conversation_id", ErrMalformed, e.ID)
	case e.At.Unix() <= 0 || e.At.Unix() > math.MaxUint32:
		return fmt.Errorf("%w: event %s has at %v, outside DateTime's range", ErrMalformed, e.ID, e.At)
	case !KnownTypes[e.Type]:
		return fmt.Errorf("%w: %q (event %s)", ErrUnknownType, e.Type, e.ID)
	}
	return nil
}

// SeqOf returns the conversation version in an event id of the form "<conversation>-<version>-<n>", or 0.
func SeqOf(id string) uint64 {
	last := strings.LastIndexByte(id, '-')
	if last <= 0 {
		return 0
	}
	prev := strings.LastIndexByte(id[:last], '-')
	if prev < 0 {
		return 0
	}
	v, err := strconv.ParseUint(id[prev+1:last], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// columns of switchboard.events in the order Insert appends them. Inserts always name their columns: 18.16 refuses
// a PrepareBatch without a column list.
var columns = []string{
	"id", "type", "at", "at_ns", "seq", "tenant_id", "channel_id", "conversation_id", "contact_id", "actor_id",
	"operator_id", "previous_operator_id", "assignee_id", "message_id", "status", "labels", "wait_seconds",
	"first_response_seconds", "handling_seconds", "message_status", "error_code", "error_title", "inserted_at",
}

var insertEvents = "INSERT INTO switchboard.events (" + strings.Join(columns, ", ") + ")"

// Insert stores events in switchboard.events as one batch. A batch ClickHouse accepted is stored whole; after an
// error some of it may be stored, and storing it again is harmless (queries deduplicate by id).
func Insert(ctx context.Context, conn driver.Conn, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertEvents)
	if err != nil {
		return fmt.Errorf("insert %d events: prepare: %w", len(events), err)
	}
	if err := appendColumns(b, events); err != nil {
		_ = b.Abort()
		return fmt.Errorf("insert %d events: %w", len(events), err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d events: send: %w", len(events), err)
	}
	return nil
}

// appendColumns appends events column by column: one Append per column and batch, not per value.
func appendColumns(b driver.Batch, events []Event) error {
	n := len(events)
	strs := func(f func(*Event) string) []string {
		s := make([]string, n)
		for i := range events {
			s[i] = f(&events[i])
		}
		return s
	}
	floats := func(f func(*Event) float64) []float64 {
		s := make([]float64, n)
		for i := range events {
			s[i] = f(&events[i])
		}
		return s
	}
	at := make([]time.Time, n)
	ns := make([]uint32, n)
	seq := make([]uint64, n)
	labels := make([][]string, n)
	codes := make([]int32, n)
	inserted := make([]time.Time, n)
	now := time.Now().UTC().Truncate(time.Second)
	for i := range events {
		e := &events[i]
		at[i] = e.At
		ns[i] = uint32(e.At.Nanosecond())
		seq[i] = e.Seq
		labels[i] = e.Labels
		if labels[i] == nil {
			labels[i] = []string{}
		}
		codes[i] = e.ErrorCode
		inserted[i] = now
	}
	cols := []any{
		strs(func(e *Event) string { return e.ID }),
		strs(func(e *Event) string { return e.Type }),
		at, ns, seq,
		strs(func(e *Event) string { return e.TenantID }),
		strs(func(e *Event) string { return e.ChannelID }),
		strs(func(e *Event) string { return e.ConversationID }),
		strs(func(e *Event) string { return e.ContactID }),
		strs(func(e *Event) string { return e.ActorID }),
		strs(func(e *Event) string { return e.OperatorID }),
		strs(func(e *Event) string { return e.PreviousOperatorID }),
		strs(func(e *Event) string { return e.AssigneeID }),
		strs(func(e *Event) string { return e.MessageID }),
		strs(func(e *Event) string { return e.Status }),
		labels,
		floats(func(e *Event) float64 { return e.WaitSeconds }),
		floats(func(e *Event) float64 { return e.FirstResponseSeconds }),
		floats(func(e *Event) float64 { return e.HandlingSeconds }),
		strs(func(e *Event) string { return e.MessageStatus }),
		codes,
		strs(func(e *Event) string { return e.ErrorTitle }),
		inserted,
	}
	if len(cols) != len(columns) {
		panic("BUG: switchboard.events columns and values differ")
	}
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("column %s: %w", columns[i], err)
		}
	}
	return nil
}

// ReadAll returns every stored row of switchboard.events for tenant (every tenant when empty), repeats included,
// ordered by time: the raw material to recompute insights from (insights.Compute), and for tests.
func ReadAll(ctx context.Context, conn driver.Conn, tenant string) ([]Event, error) {
	q := `SELECT id, type, at, at_ns, tenant_id, channel_id, conversation_id, contact_id, actor_id, operator_id,
		previous_operator_id, assignee_id, message_id, status, labels, wait_seconds, first_response_seconds,
		handling_seconds, message_status, error_code, error_title, seq
		FROM switchboard.events`
	var args []any
	if tenant != "" {
		q += ` WHERE tenant_id = ?`
		args = append(args, tenant)
	}
	q += ` ORDER BY at, at_ns, id`
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var ns uint32
		if err := rows.Scan(&e.ID, &e.Type, &e.At, &ns, &e.TenantID, &e.ChannelID, &e.ConversationID, &e.ContactID,
			&e.ActorID, &e.OperatorID, &e.PreviousOperatorID, &e.AssigneeID, &e.MessageID, &e.Status, &e.Labels,
			&e.WaitSeconds, &e.FirstResponseSeconds, &e.HandlingSeconds, &e.MessageStatus, &e.ErrorCode,
			&e.ErrorTitle, &e.Seq); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.At = e.At.Add(time.Duration(ns)).UTC()
		if len(e.Labels) == 0 {
			e.Labels = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
