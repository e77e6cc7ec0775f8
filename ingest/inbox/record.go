// Package inbox holds the records carried on the switchboard.inbox topic: what ingest produces and the router
// consumes. One Record holds every input of one webhook payload for one tenant, so a payload for a single tenant is
// one Kafka record and lands all-or-nothing. A record travels in a binary layout (binary.go) or, from nodes before
// it and for a rolling upgrade, as JSON; Decode reads both.
//
// It imports only the standard library: the rules depend on it (actors/domain_test.go enforces it).
package inbox

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Topic names (docs/contract.md, "Kafka topics").
const (
	Topic       = "switchboard.inbox"
	EventsTopic = "switchboard.events"
)

// Configuration command types (the tenant actor applies them: actors/router/config.go).
const (
	// CmdConfigSet changes the tenant's configuration: Config holds the change (actors/tenant.Change).
	CmdConfigSet = "config_set"
	// CmdUpdateOperator is what PATCH /v1/operators/{id} produced before configuration changes had their own
	// command (TargetID, Capacity, Role, Skills); it is applied as a config_set of that operator.
	CmdUpdateOperator = "update_operator"
	// CmdAudit records an action the API refused (a 403) in the tenant's audit log: Audit says what was tried.
	// Nothing else changes; the tenant actor stores the entry (actors/router/audit.go).
	CmdAudit = "audit"
)

// Version is written in every record; a consumer rejects records of a version it does not know.
const Version = 1

// Kind says what an Item carries.
type Kind string

// Item kinds.
const (
	KindMessage  Kind = "message"  // an inbound customer message
	KindStatus   Kind = "status"   // a delivery status of an outbound message
	KindCommand  Kind = "command"  // an operator's command from the API
	KindTimer    Kind = "timer"    // a due timer (snooze wake-up, auto-close, reservation, window warning)
	KindDelivery Kind = "delivery" // the channel's answer to an outbound message (accepted with its id, or failed)
	KindTemplate Kind = "template" // a change of a message template in the channel's catalogue (Meta's webhooks)
)

// Record is one Kafka record on switchboard.inbox, keyed by Tenant.
type Record struct {
	V      int    `json:"v"`
	Tenant string `json:"tenant"`
	// IngestAt is when ingest accepted the input, in Unix milliseconds: the domain's clock (docs/design.md, invariant 7).
	IngestAt int64  `json:"ingest_at"`
	Items    []Item `json:"items"`
}

// Item is one input inside a Record.
type Item struct {
	Kind     Kind            `json:"kind"`
	Channel  string          `json:"channel"`
	Message  *Message        `json:"message,omitempty"`
	Status   *Status         `json:"status,omitempty"`
	Command  *Command        `json:"command,omitempty"`
	Timer    *Timer          `json:"timer,omitempty"`
	Delivery *Delivery       `json:"delivery,omitempty"`
	Template *TemplateChange `json:"template,omitempty"`
}

// Message is an inbound customer message, normalised from the channel's payload.
type Message struct {
	// ID is the channel's message id (WhatsApp wamid); inbound messages are deduplicated by it.
	ID string `json:"id"`
	// From is the customer's address on the channel (WhatsApp wa_id).
	From        string `json:"from"`
	ProfileName string `json:"profile_name,omitempty"`
	// Type is the channel's message type: text, image, audio, video, document, sticker, location, contacts, button,
	// interactive, reaction, system, or any other type exactly as the channel named it (unsupported, order, …).
	Type string `json:"type"`
	// Timestamp is the channel's own time of the message, Unix seconds; the 24-hour window runs from it.
	Timestamp int64 `json:"timestamp"`
	// Text is the text body, a caption, a button or list title — whatever a person reads first. May be empty.
	Text string `json:"text,omitempty"`
	// Content is the type-specific object exactly as the channel sent it (for WhatsApp, the value under the key
	// named by Type), so nothing the channel said is lost.
	Content json.RawMessage `json:"content,omitempty"`
	// ReplyTo is the id of the message this one answers or reacts to, when the channel says so.
	ReplyTo string `json:"reply_to,omitempty"`
}

// Status is a delivery status of a message the tenant sent.
type Status struct {
	// ID is the channel's id of the outbound message (WhatsApp wamid).
	ID string `json:"id"`
	// RecipientID is the customer's address (WhatsApp wa_id).
	RecipientID string `json:"recipient_id"`
	// Status is sent, delivered, read or failed; a value the channel adds later is carried as it is and ignored by
	// the router.
	Status    string `json:"status"`
	Timestamp int64  `json:"timestamp"`
	// ErrorCode and ErrorTitle explain a failed status (Meta's error code and title).
	ErrorCode  int    `json:"error_code,omitempty"`
	ErrorTitle string `json:"error_title,omitempty"`
}

// Command is an operator's request, produced by the API and answered once its outcome is durable.
type Command struct {
	// RequestID names the API call waiting for the outcome; unique per call.
	RequestID string `json:"request_id"`
	// Type is take, assign, unassign, transfer, close, reopen, snooze, unsnooze, labels, send, note, read, start,
	// erase (conversation commands, with ConversationID); availability (operator command); config_set, update_operator
	// (configuration changes);
	// contact_create, contact_update, contact_delete, contact_block, contact_unblock, contact_erase,
	// contact_import, canned_create, canned_update, canned_delete, template_sync (the tenant's catalogue).
	Type string `json:"type"`
	// OperatorID is the caller.
	OperatorID     string `json:"operator_id"`
	ConversationID string `json:"conversation_id,omitempty"`
	// TargetID is the operator a conversation is assigned or transferred to, or the operator an update is for.
	TargetID     string   `json:"target_id,omitempty"`
	Until        int64    `json:"until,omitempty"` // snooze until, Unix ms; 0 = until the customer writes
	AddLabels    []string `json:"add_labels,omitempty"`
	RemoveLabels []string `json:"remove_labels,omitempty"`
	// MessageID is the stable id the API gave an outbound message or note.
	MessageID    string    `json:"message_id,omitempty"`
	Message      *Outbound `json:"message,omitempty"`
	Note         string    `json:"note,omitempty"`
	Availability string    `json:"availability,omitempty"`
	Capacity     *int      `json:"capacity,omitempty"`
	Role         string    `json:"role,omitempty"`
	Skills       []string  `json:"skills,omitempty"`
	// Seq is the message a read marks read up to; 0 means the latest.
	Seq uint64 `json:"seq,omitempty"`

	// WaID is the customer's address on the item's channel for start (a conversation the tenant begins).
	WaID string `json:"wa_id,omitempty"`
	// ContactID names the contact of contact_update, contact_delete, contact_block, contact_unblock and
	// contact_erase (conversation-less commands, applied by the tenant's catalogue).
	ContactID string `json:"contact_id,omitempty"`
	// Contact is the contact of contact_create and the change of contact_update; on start, its Name is the
	// contact's name for a conversation that has none.
	Contact *ContactInput `json:"contact,omitempty"`
	// Contacts are the rows of one contact_import batch, upserted by phone in order; ImportID names the import
	// they belong to, so a phone that appears twice in one file is refused the second time.
	Contacts []ContactInput `json:"contacts,omitempty"`
	ImportID string         `json:"import_id,omitempty"`
	// Canned is the canned response of canned_create, canned_update (by its ID) and canned_delete (by its ID).
	Canned *CannedInput `json:"canned,omitempty"`
	// Catalogue is the template catalogue of one WhatsApp business account for template_sync: it replaces what
	// was stored for that account.
	Catalogue *TemplateCatalogue `json:"catalogue,omitempty"`
	// Config is the change of config_set, as actors/tenant.Change encodes it.
	Config json.RawMessage `json:"config,omitempty"`
	// Audit is what an audit command records.
	Audit *AuditInput `json:"audit,omitempty"`
}

// AuditInput is a refused action as the API reports it for the audit log.
type AuditInput struct {
	// Action is "access.denied".
	Action string `json:"action"`
	// Target is the refused request: method and route pattern ("PATCH /v1/settings"), never its body.
	Target string `json:"target"`
}

// ContactInput is a contact as a command gives it. On update only what is present changes.
type ContactInput struct {
	// Line is the CSV line of an imported row, reported back with its outcome; 0 otherwise.
	Line int `json:"line,omitempty"`
	// Phone is the number in E.164 ("+15551234567"); the contact's WhatsApp address is its digits.
	Phone string  `json:"phone,omitempty"`
	Name  *string `json:"name,omitempty"`
	// Fields are custom field values by key, as JSON (string, number, boolean; a date is "YYYY-MM-DD"); on update
	// a null removes the field.
	Fields map[string]json.RawMessage `json:"fields,omitempty"`
}

// CannedInput is a canned response as a command gives it.
type CannedInput struct {
	ID       string `json:"id,omitempty"`
	Title    string `json:"title,omitempty"`
	Category string `json:"category,omitempty"`
	// Text may hold variables ({{contact.name}}, {{contact.fields.<key>}}, {{operator.name}}).
	Text string `json:"text,omitempty"`
	// Media optionally attaches a file uploaded with POST /v1/media: {"type":"image|document|video|audio","id"}.
	Media json.RawMessage `json:"media,omitempty"`
}

// TemplateCatalogue is every template of one WhatsApp business account, as Meta's Graph API listed it.
type TemplateCatalogue struct {
	WABA      string            `json:"waba"`
	Templates []json.RawMessage `json:"templates"` // Meta's template objects, as listed
	// SyncedAt is when the list was fetched, Unix ms.
	SyncedAt int64 `json:"synced_at"`
}

// TemplateChange is one of Meta's template webhooks (message_template_status_update,
// message_template_quality_update, template_category_update) for a business account.
type TemplateChange struct {
	WABA string `json:"waba"`
	// Field is the webhook's field name; Value is its value object exactly as Meta sent it.
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// Outbound is a reply an operator sends: free-form text, an approved template, or media, a reaction or
// interactive reply buttons with their Cloud API object as Content.
type Outbound struct {
	Type string `json:"type"`
	// Text is a text message's body; for a template, its body as the customer reads it, filled in by the API from
	// the catalogue (shown in the conversation; what Meta receives is the Template).
	Text     string    `json:"text,omitempty"`
	Template *Template `json:"template,omitempty"`
	// Content is the Cloud API object of the other types, as Meta defines it: media {"id"|"link", "caption",
	// "filename"}, reaction {"message_id", "emoji"}, interactive reply buttons {"type":"button", "body":{"text"},
	// "action":{"buttons":[{"type":"reply","reply":{"id","title"}}]}}.
	Content json.RawMessage `json:"content,omitempty"`
}

// Template names an approved WhatsApp template, its body parameters and its buttons' parameters.
type Template struct {
	Name     string           `json:"name"`
	Language string           `json:"language"`
	Params   []string         `json:"params,omitempty"`
	Buttons  []TemplateButton `json:"buttons,omitempty"`
	// ParamsFrom names, position by position, where a body parameter comes from: "contact.name",
	// "contact.fields.<key>", or "" for Params' value at that position. The API resolves them into Params before
	// the command is produced; a record never carries them.
	ParamsFrom []string `json:"params_from,omitempty"`
	// ParamNames, for a template whose body has named parameters, are their names in the order of Params: the API
	// sets them from the catalogue, and Meta receives each value with its parameter_name.
	ParamNames []string `json:"param_names,omitempty"`
	// Header is the header's parameter: the media of an IMAGE, VIDEO or DOCUMENT header, or the text of a TEXT
	// header with a parameter. nil for a template without one.
	Header *TemplateHeader `json:"header,omitempty"`
}

// TemplateHeader is a template header's parameter: Type image, video or document with a Meta media ID or a Link
// (and a document's Filename), Type text with Text (and, for a named parameter, its ParameterName), or Type
// location with Location.
type TemplateHeader struct {
	Type     string `json:"type"`
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Filename string `json:"filename,omitempty"`
	Text     string `json:"text,omitempty"`
	// ParameterName is the name of a TEXT header's named parameter ({{sale_name}}); the API sets it from the
	// catalogue when the request leaves it out.
	ParameterName string            `json:"parameter_name,omitempty"`
	Location      *TemplateLocation `json:"location,omitempty"`
}

// TemplateLocation is the place a LOCATION header shows: Meta takes it at send, never at template creation.
// Latitude and Longitude are pointers so that 0 (the equator, the prime meridian) differs from missing.
type TemplateLocation struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name"`
	Address   string   `json:"address"`
}

// TemplateButton gives one template button's parameters: sub_type quick_reply (the payload), url (the dynamic
// suffix of a URL button, or an OTP button's code) or copy_code (the code), and its index among the template's
// buttons.
type TemplateButton struct {
	SubType string   `json:"sub_type"`
	Index   int      `json:"index"`
	Params  []string `json:"params"`
}

// Timer is a due time that fired; it travels through the tenant's partition so it is ordered with everything else.
type Timer struct {
	Kind           string `json:"kind"` // auto_close, snooze_wake, reservation, window_warning
	ConversationID string `json:"conversation_id"`
	Due            int64  `json:"due"` // Unix ms
}

// Delivery is the channel's answer to sending an outbound message, recorded by the sender. The record's tenant,
// ConversationID and Seq name the message, and with it the sender's record of the answer that the conversation
// deletes once it has applied it.
type Delivery struct {
	ConversationID string `json:"conversation_id"`
	// Seq is the message's sequence number in its conversation.
	Seq       uint64 `json:"seq"`
	MessageID string `json:"message_id"`
	// WAMID is the channel's id of the accepted message; empty when it failed.
	WAMID      string `json:"wamid,omitempty"`
	ErrorCode  int    `json:"error_code,omitempty"`
	ErrorTitle string `json:"error_title,omitempty"`
}

// decodeJSON parses the JSON form. A function of its own, so that only this path's Record escapes to the heap.
func decodeJSON(b []byte) (Record, error) {
	var r Record
	err := json.Unmarshal(b, &r)
	return r, err
}

// ErrBadRecord is wrapped by every decoding error.
var ErrBadRecord = errors.New("bad inbox record")

// Format is a wire form of inbox records, as a producer writes them; Decode reads both.
type Format string

// Formats.
const (
	// FormatBinary is Encode's binary layout (binary.go), the default.
	FormatBinary Format = "binary"
	// FormatJSON is EncodeJSON's, the only one nodes before the binary layout read: a node keeps producing it until
	// every router node reads FormatBinary (README, "Upgrading").
	FormatJSON Format = "json"
)

// Validate reports a format that is neither FormatBinary nor FormatJSON.
func (f Format) Validate() error {
	if f != FormatBinary && f != FormatJSON {
		return fmt.Errorf("inbox format %q is neither %q nor %q", f, FormatBinary, FormatJSON)
	}
	return nil
}

// Append appends r's wire form in format f to dst: EncodeJSON for FormatJSON, Encode for any other.
func (f Format) Append(dst []byte, r *Record) ([]byte, error) {
	if f == FormatJSON {
		return r.EncodeJSON(dst)
	}
	return r.Encode(dst)
}

// EncodeJSON appends the record's JSON wire form to dst, setting V to Version: the form every node before the
// binary layout wrote and read.
func (r *Record) EncodeJSON(dst []byte) ([]byte, error) {
	r.V = Version
	b, err := json.Marshal(r)
	if err != nil {
		return dst, fmt.Errorf("encode inbox record: %w", err)
	}
	return append(dst, b...), nil
}

// Decode parses a record's wire form, binary (Encode) or JSON (EncodeJSON, and every record of a node before the
// binary layout), and checks that it is complete enough to apply. The record shares no memory with b. Every error
// wraps ErrBadRecord.
func Decode(b []byte) (Record, error) {
	var r Record
	switch {
	case len(b) > 0 && b[0] == formatBinary1:
		var err error
		if r, err = decodeBinary(b); err != nil {
			return Record{}, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
	case len(b) > 0 && b[0] >= 0x80:
		// No JSON text starts with a byte of 0x80 or more: a later binary layout.
		return r, fmt.Errorf("%w: unknown format byte %#x", ErrBadRecord, b[0])
	default:
		var err error
		if r, err = decodeJSON(b); err != nil {
			return r, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
	}
	if r.V != Version {
		return r, fmt.Errorf("%w: version %d, want %d", ErrBadRecord, r.V, Version)
	}
	if r.Tenant == "" {
		return r, fmt.Errorf("%w: no tenant", ErrBadRecord)
	}
	for i, it := range r.Items {
		switch it.Kind {
		case KindMessage:
			if it.Message == nil || it.Message.ID == "" || it.Message.From == "" {
				return r, fmt.Errorf("%w: item %d: message without id or sender", ErrBadRecord, i)
			}
		case KindStatus:
			if it.Status == nil || it.Status.ID == "" || it.Status.RecipientID == "" {
				return r, fmt.Errorf("%w: item %d: status without id or recipient", ErrBadRecord, i)
			}
		case KindCommand:
			if it.Command == nil || it.Command.Type == "" || it.Command.OperatorID == "" {
				return r, fmt.Errorf("%w: item %d: command without type or operator", ErrBadRecord, i)
			}
			continue
		case KindDelivery:
			if it.Delivery == nil || it.Delivery.ConversationID == "" || it.Delivery.Seq == 0 {
				return r, fmt.Errorf("%w: item %d: delivery without conversation or message", ErrBadRecord, i)
			}
			continue
		case KindTemplate:
			if it.Template == nil || it.Template.WABA == "" || it.Template.Field == "" {
				return r, fmt.Errorf("%w: item %d: template change without account or field", ErrBadRecord, i)
			}
			continue
		case KindTimer:
			if it.Timer == nil || it.Timer.Kind == "" || it.Timer.ConversationID == "" {
				return r, fmt.Errorf("%w: item %d: timer without kind or conversation", ErrBadRecord, i)
			}
			continue
		default:
			return r, fmt.Errorf("%w: item %d: unknown kind %q", ErrBadRecord, i, it.Kind)
		}
		if it.Channel == "" {
			return r, fmt.Errorf("%w: item %d: no channel", ErrBadRecord, i)
		}
	}
	return r, nil
}
