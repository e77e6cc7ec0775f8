// Package whatsapp receives WhatsApp Cloud API webhooks (docs/contract.md, "Webhooks"): it answers Meta's subscription
// check, verifies payload signatures, normalises each payload into inbox records — one per tenant — and answers 200
// only once Kafka has acknowledged them.
//
// It may import ingest/inbox, actors/tenant, fasthttp and the Prometheus client; it produces through an interface, not
// a Kafka type.
package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// objectWABA is the only envelope object this package accepts.
const objectWABA = "whatsapp_business_account"

// Status values Meta sends for outbound messages; any other value makes the payload malformed.
const (
	statusSent      = "sent"
	statusDelivered = "delivered"
	statusRead      = "read"
	statusFailed    = "failed"
)

// envelope is the payload decoded in one pass, every change's value as a messages value. That is the common case
// and the cheap one; when it fails (a payload this package rejects, or a change of another field whose value does not
// fit), the payload is decoded again as rawEnvelope to tell the two apart.
type envelope struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"` // the WhatsApp Business Account id
	Changes []change `json:"changes"`
}

type change struct {
	Field string `json:"field"`
	Value value  `json:"value"`
}

// rawEnvelope keeps each change's value undecoded, because Meta writes "value" before "field", and only a
// "messages" value has the shape of value: the others (account_update, message_template_status_update, …) are
// skipped unread.
type rawEnvelope struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string          `json:"field"`
			Value json.RawMessage `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type value struct {
	Metadata struct {
		PhoneNumberID string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []contact `json:"contacts"`
	Messages []message `json:"messages"`
	Statuses []status  `json:"statuses"`
	// read is where normalise decodes a message's readable object: part of the value, which is on the heap anyway,
	// rather than an allocation per message.
	read readable
}

type contact struct {
	WaID    string `json:"wa_id"`
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
}

// message is one element of messages[]. The per-type objects stay raw: they become inbox.Message.Content as sent.
// encoding/json copies what it stores in a json.RawMessage, so none of them aliases the request buffer. Types without
// a field here get their content from otherContents.
type message struct {
	ID        string `json:"id"`
	From      string `json:"from"`
	Timestamp string `json:"timestamp"` // Unix seconds, as a decimal string
	Type      string `json:"type"`
	Context   struct {
		ID string `json:"id"`
	} `json:"context"`

	Text        json.RawMessage `json:"text"`
	Image       json.RawMessage `json:"image"`
	Audio       json.RawMessage `json:"audio"`
	Video       json.RawMessage `json:"video"`
	Document    json.RawMessage `json:"document"`
	Sticker     json.RawMessage `json:"sticker"`
	Location    json.RawMessage `json:"location"`
	Contacts    json.RawMessage `json:"contacts"`
	Button      json.RawMessage `json:"button"`
	Interactive json.RawMessage `json:"interactive"`
	Reaction    json.RawMessage `json:"reaction"`
	System      json.RawMessage `json:"system"`
}

// object returns the raw per-type object of a type this package decodes, or nil.
func (m *message) object() json.RawMessage {
	switch m.Type {
	case "text":
		return m.Text
	case "image":
		return m.Image
	case "audio":
		return m.Audio
	case "video":
		return m.Video
	case "document":
		return m.Document
	case "sticker":
		return m.Sticker
	case "location":
		return m.Location
	case "contacts":
		return m.Contacts
	case "button":
		return m.Button
	case "interactive":
		return m.Interactive
	case "reaction":
		return m.Reaction
	case "system":
		return m.System
	}
	return nil
}

// readable holds the fields of the per-type objects that inbox.Message.Text and ReplyTo are taken from. One struct
// serves every type: each type has at most a few of these keys.
type readable struct {
	Body        string  `json:"body"`    // text, system
	Caption     string  `json:"caption"` // image, video, document
	Text        string  `json:"text"`    // button
	Emoji       string  `json:"emoji"`   // reaction
	MessageID   string  `json:"message_id"`
	ButtonReply *titled `json:"button_reply"` // interactive
	ListReply   *titled `json:"list_reply"`   // interactive
}

type titled struct {
	Title string `json:"title"`
}

type status struct {
	ID          string `json:"id"`
	RecipientID string `json:"recipient_id"`
	Status      string `json:"status"`
	Timestamp   string `json:"timestamp"`
	Errors      []struct {
		Code  int    `json:"code"`
		Title string `json:"title"`
	} `json:"errors"`
}

// Parse normalises a WhatsApp Cloud API webhook payload into inbox records: one per tenant, holding that tenant's
// messages, statuses and template changes in payload order, records ordered by the tenant's first appearance.
// Template changes (fields message_template_status_update, message_template_quality_update and
// template_category_update) become KindTemplate items of the tenant whose channels have the entry's id as waba_id,
// with the change's value as Meta sent it; those of an account no channel has are skipped (Meta sends a business
// account's template webhooks to every app subscribed to it, and refusing them would make Meta retry the whole
// payload, messages included, for days). Changes of other fields are ignored; a payload without messages,
// statuses or template changes gives no records and no error.
//
// Message.Content is the object under the key named by the message's type; a type without such a key (Meta's
// "unsupported" and "unknown" carry only errors[]) gets the whole message object instead. Types other than those
// docs/contract.md lists keep the type Meta gave.
//
// Validation is all-or-nothing: any bad part gives an error wrapping ErrMalformed or ErrUnknownChannel, and no
// records. The records share no memory with body.
func Parse(body []byte, dir *tenant.Directory, ingestAt time.Time) ([]inbox.Record, error) {
	recs, _, err := parse(body, dir, ingestAt, nil, nil)
	return recs, err
}

// templateFields are the change fields of template webhooks.
var templateFields = map[string]bool{
	"message_template_status_update":  true,
	"message_template_quality_update": true,
	"template_category_update":        true,
}

// parseStats counts what parse skipped, for the handler's metrics.
type parseStats struct {
	// unknownAccounts counts template changes of business accounts no channel has.
	unknownAccounts int
	// disabled counts customer messages of channels with two-way chat disabled: acknowledged and dropped.
	disabled int
}

// envelopeSpace is an envelope with room for the usual payload, one entry of one change with one contact and one
// message or one status: encoding/json fills a slice's spare capacity, and fills an element already there in place
// (so the nested slices set below are used too), so a usual payload's envelope is one allocation instead of five. A
// larger payload grows its slices as before; a field the payload lacks keeps an empty slice instead of nil, which
// parse treats alike (it reads lengths).
type envelopeSpace struct {
	env      envelope
	entries  [1]entry
	changes  [1]change
	contacts [1]contact
	messages [1]message
	statuses [1]status
}

func newEnvelope() *envelope {
	sp := new(envelopeSpace)
	sp.env.Entry = sp.entries[:0]
	sp.entries[0].Changes = sp.changes[:0]
	v := &sp.changes[0].Value
	v.Contacts, v.Messages, v.Statuses = sp.contacts[:0], sp.messages[:0], sp.statuses[:0]
	return &sp.env
}

// parse is Parse that also appends to chans every channel the payload names, including those of changes without
// messages or statuses (for a template change, its account's first channel), so the handler can check each one
// against the secret that signed the payload; stats, when not nil, counts what was skipped.
func parse(body []byte, dir *tenant.Directory, ingestAt time.Time, chans []*tenant.Channel, stats *parseStats) ([]inbox.Record, []*tenant.Channel, error) {
	env := newEnvelope()
	if err := json.Unmarshal(body, env); err != nil {
		if err := decodeSlowly(body, env); err != nil {
			return nil, chans, err
		}
	}
	if env.Object != objectWABA {
		return nil, chans, fmt.Errorf("%w: object is %q, want %q", ErrMalformed, env.Object, objectWABA)
	}
	var others *otherContents // rarely needed, so allocated on first use
	var raws *rawEnvelope     // template changes' raw values, decoded on the first one
	at := ingestAt.UnixMilli()
	var recs []inbox.Record
	for i := range env.Entry {
		e := &env.Entry[i]
		if e.ID == "" {
			return nil, chans, fmt.Errorf("%w: entry[%d]: no id", ErrMalformed, i)
		}
		for j := range e.Changes {
			c := &e.Changes[j]
			if templateFields[c.Field] {
				w, ok := dir.WABA(e.ID)
				if !ok {
					if stats != nil {
						stats.unknownAccounts++
					}
					continue
				}
				if raws == nil {
					raws = new(rawEnvelope)
					if err := json.Unmarshal(body, raws); err != nil {
						return nil, chans, fmt.Errorf("%w: %w", ErrMalformed, err)
					}
				}
				if i >= len(raws.Entry) || j >= len(raws.Entry[i].Changes) {
					return nil, chans, errors.New("BUG: template change not found in the raw decoding")
				}
				v := raws.Entry[i].Changes[j].Value
				if len(v) == 0 || v[0] != '{' {
					return nil, chans, fmt.Errorf("%w: entry[%d].changes[%d].value: a %s value must be an object", ErrMalformed, i, j, c.Field)
				}
				ch := w.Channels[0]
				chans = appendChannel(chans, ch)
				r := recordIndex(&recs, w.Tenant.ID, at)
				recs[r].Items = append(recs[r].Items, inbox.Item{Kind: inbox.KindTemplate, Channel: ch.ID,
					Template: &inbox.TemplateChange{WABA: e.ID, Field: c.Field, Value: v}})
				continue
			}
			if c.Field != "messages" {
				continue
			}
			v := &c.Value
			pid := v.Metadata.PhoneNumberID
			if pid == "" {
				return nil, chans, fmt.Errorf("%w: entry[%d].changes[%d]: no metadata.phone_number_id", ErrMalformed, i, j)
			}
			ref, ok := dir.ChannelByPhone(pid)
			if !ok {
				return nil, chans, fmt.Errorf("%w: phone_number_id %q (entry[%d].changes[%d])", ErrUnknownChannel, pid, i, j)
			}
			chans = appendChannel(chans, ref.Channel)
			if ref.Channel.Disabled && len(v.Messages) > 0 {
				// Two-way chat is off on the channel: its customers' messages start or continue nothing. The
				// statuses of what was sent before still apply.
				if stats != nil {
					stats.disabled += len(v.Messages)
				}
				v.Messages = nil
			}
			n := len(v.Messages) + len(v.Statuses)
			if n == 0 {
				continue
			}
			r := recordIndex(&recs, ref.Tenant.ID, at)
			items := recs[r].Items
			if cap(items)-len(items) < n {
				items = append(make([]inbox.Item, 0, len(items)+n), items...)
			}
			// One backing array per change for the messages and one for the statuses, not one allocation each.
			msgs := make([]inbox.Message, len(v.Messages))
			for k := range v.Messages {
				if err := v.normalise(k, &msgs[k]); err != nil {
					return nil, chans, fmt.Errorf("%w: entry[%d].changes[%d].value.messages[%d]: %w", ErrMalformed, i, j, k, err)
				}
				if msgs[k].Content == nil {
					if others == nil {
						others = new(otherContents)
					}
					c, err := others.content(body, i, j, k, v.Messages[k].Type)
					if err != nil {
						return nil, chans, fmt.Errorf("%w: entry[%d].changes[%d].value.messages[%d]: %w", ErrMalformed, i, j, k, err)
					}
					msgs[k].Content = c
				}
				items = append(items, inbox.Item{Kind: inbox.KindMessage, Channel: ref.Channel.ID, Message: &msgs[k]})
			}
			sts := make([]inbox.Status, len(v.Statuses))
			for k := range v.Statuses {
				if err := v.Statuses[k].normalise(&sts[k]); err != nil {
					return nil, chans, fmt.Errorf("%w: entry[%d].changes[%d].value.statuses[%d]: %w", ErrMalformed, i, j, k, err)
				}
				items = append(items, inbox.Item{Kind: inbox.KindStatus, Channel: ref.Channel.ID, Status: &sts[k]})
			}
			recs[r].Items = items
		}
	}
	return recs, chans, nil
}

// decodeSlowly decodes body into env when the one-pass decoding failed: it decodes only the values of "messages"
// changes, so a change of another field cannot make the payload malformed, and it says which value is bad.
func decodeSlowly(body []byte, env *envelope) error {
	var raw rawEnvelope
	if err := json.Unmarshal(body, &raw); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	*env = envelope{Object: raw.Object, Entry: make([]entry, len(raw.Entry))}
	for i, e := range raw.Entry {
		env.Entry[i] = entry{ID: e.ID, Changes: make([]change, len(e.Changes))}
		for j, c := range e.Changes {
			env.Entry[i].Changes[j].Field = c.Field
			if c.Field != "messages" {
				continue
			}
			if err := json.Unmarshal(c.Value, &env.Entry[i].Changes[j].Value); err != nil {
				return fmt.Errorf("%w: entry[%d].changes[%d].value: %w", ErrMalformed, i, j, err)
			}
		}
	}
	return nil
}

// otherContents finds the content of messages whose type has no field in message, or whose object is missing: the
// value under the key named by the type, else the whole message object (Meta's "unsupported" and "unknown"
// messages carry only errors[]), so nothing Meta said is lost. Such messages are rare, so the payload is decoded
// generically only when one turns up.
type otherContents struct {
	entries []struct {
		Changes []struct {
			Value json.RawMessage `json:"value"`
		} `json:"changes"`
	}
	decoded bool
}

func (o *otherContents) content(body []byte, i, j, k int, typ string) (json.RawMessage, error) {
	if !o.decoded {
		var env struct {
			Entry *[]struct {
				Changes []struct {
					Value json.RawMessage `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		env.Entry = &o.entries
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, err
		}
		o.decoded = true
	}
	var v struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if i >= len(o.entries) || j >= len(o.entries[i].Changes) {
		return nil, errors.New("BUG: message not found in the generic decoding")
	}
	if err := json.Unmarshal(o.entries[i].Changes[j].Value, &v); err != nil {
		return nil, err
	}
	if k >= len(v.Messages) {
		return nil, errors.New("BUG: message not found in the generic decoding")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v.Messages[k], &m); err != nil {
		return nil, err
	}
	if c, ok := m[typ]; ok {
		return c, nil
	}
	return v.Messages[k], nil
}

// recordIndex returns the index in *recs of tenant's record, appending it if absent. A payload names few tenants, so
// a scan beats a map.
func recordIndex(recs *[]inbox.Record, tenantID string, at int64) int {
	for i := range *recs {
		if (*recs)[i].Tenant == tenantID {
			return i
		}
	}
	*recs = append(*recs, inbox.Record{V: inbox.Version, Tenant: tenantID, IngestAt: at})
	return len(*recs) - 1
}

func appendChannel(chans []*tenant.Channel, ch *tenant.Channel) []*tenant.Channel {
	for _, c := range chans {
		if c == ch {
			return chans
		}
	}
	return append(chans, ch)
}

// normalise fills out from messages[k].
func (v *value) normalise(k int, out *inbox.Message) error {
	m := &v.Messages[k]
	if m.ID == "" {
		return errors.New("no id")
	}
	if m.From == "" {
		return fmt.Errorf("message %s: no from", m.ID)
	}
	if m.Type == "" {
		return fmt.Errorf("message %s: no type", m.ID)
	}
	ts, err := parseUnix(m.Timestamp)
	if err != nil {
		return fmt.Errorf("message %s: %w", m.ID, err)
	}
	*out = inbox.Message{ID: m.ID, From: m.From, Type: m.Type, Timestamp: ts, ReplyTo: m.Context.ID}
	for i := range v.Contacts {
		if v.Contacts[i].WaID == m.From {
			out.ProfileName = v.Contacts[i].Profile.Name
			break
		}
	}
	content := m.object()
	if content == nil {
		return nil // the caller fills Content from otherContents
	}
	out.Content = content
	switch m.Type {
	case "location", "contacts", "audio", "sticker":
		return nil // nothing to read first; Content has it all
	}
	r := &v.read
	*r = readable{}
	if err := json.Unmarshal(content, r); err != nil {
		return fmt.Errorf("message %s: %s object: %w", m.ID, m.Type, err)
	}
	switch m.Type {
	case "text", "system":
		out.Text = r.Body
	case "image", "video", "document":
		out.Text = r.Caption
	case "button":
		out.Text = r.Text
	case "interactive":
		switch {
		case r.ButtonReply != nil:
			out.Text = r.ButtonReply.Title
		case r.ListReply != nil:
			out.Text = r.ListReply.Title
		}
	case "reaction":
		out.Text = r.Emoji
		if r.MessageID != "" {
			out.ReplyTo = r.MessageID
		}
	}
	return nil
}

// normalise fills out from s.
func (s *status) normalise(out *inbox.Status) error {
	if s.ID == "" {
		return errors.New("no id")
	}
	if s.RecipientID == "" {
		return fmt.Errorf("status of %s: no recipient_id", s.ID)
	}
	// A status value Meta adds later (e.g. "deleted", "warning") is carried as it is, not refused: refusing it would
	// make Meta retry the whole payload for days and keep its messages out. The router ignores values it does not
	// rank.
	if !statusToken(s.Status) {
		return fmt.Errorf("status of %s: %q is not a status (sent, delivered, read, failed, …)", s.ID, s.Status)
	}
	ts, err := parseUnix(s.Timestamp)
	if err != nil {
		return fmt.Errorf("status of %s: %w", s.ID, err)
	}
	*out = inbox.Status{ID: s.ID, RecipientID: s.RecipientID, Status: s.Status, Timestamp: ts}
	if s.Status == statusFailed && len(s.Errors) > 0 {
		out.ErrorCode = s.Errors[0].Code
		out.ErrorTitle = s.Errors[0].Title
	}
	return nil
}

// parseUnix reads Meta's timestamps: Unix seconds as a decimal string.
func parseUnix(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("no timestamp")
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp: %w", err)
	}
	if ts <= 0 {
		return 0, fmt.Errorf("timestamp %d is not after 1970", ts)
	}
	return ts, nil
}

// statusToken reports whether s looks like a status value: 1 to 32 lowercase letters or underscores.
func statusToken(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '_' {
			return false
		}
	}
	return true
}
