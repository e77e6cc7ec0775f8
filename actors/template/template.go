// Package template holds the rules of a tenant's WhatsApp message template catalogue: the catalogue record of one
// template (per business account, name and language) made from the object Meta's Graph API lists, how Meta's
// template webhooks (status, quality, category) change it, how many body parameters it takes, what its header and
// buttons take at send, a preview of it filled in, and the check a template message must pass before it is sent.
//
// It imports only the standard library, ingest/inbox and actors/refusal (actors/domain_test.go enforces it).
package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/actors/refusal"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Refusal codes of the send check; api/errors.go maps them to HTTP statuses.
const (
	// CodeNotFound: the channel's catalogue has no template of that name and language. 400.
	CodeNotFound = "template_not_found"
	// CodeNotApproved: the template exists but its status is not APPROVED; the message names the status. 422.
	CodeNotApproved = "template_not_approved"
	// CodeInvalidParams: the number of body parameters, the header or a button's parameters do not fit the
	// template. 400.
	CodeInvalidParams = "invalid_template_params"
)

// Refusal is the error the send check returns.
type Refusal = refusal.Refusal

// Statuses Meta gives a template (Graph API "status"; the status webhook's "event").
const (
	StatusApproved = "APPROVED"
	StatusPending  = "PENDING"
	StatusRejected = "REJECTED"
	StatusPaused   = "PAUSED"
	StatusDisabled = "DISABLED"
)

// Header formats of a template's HEADER component.
const (
	HeaderText     = "TEXT"
	HeaderImage    = "IMAGE"
	HeaderVideo    = "VIDEO"
	HeaderDocument = "DOCUMENT"
	HeaderLocation = "LOCATION"
)

// Webhook fields this package applies (inbox.TemplateChange.Field).
const (
	FieldStatus   = "message_template_status_update"
	FieldQuality  = "message_template_quality_update"
	FieldCategory = "template_category_update"
)

// Template is the catalogue record of one template of one WhatsApp business account, keyed by (WABA, Name,
// Language). Its JSON is what GET /v1/templates answers.
type Template struct {
	// ID is Meta's id of the template.
	ID       string `json:"id"`
	WABA     string `json:"waba"`
	Name     string `json:"name"`
	Language string `json:"language"`
	// Category is MARKETING, UTILITY or AUTHENTICATION.
	Category string `json:"category"`
	// Status is Meta's: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, IN_APPEAL, … Only APPROVED may be sent.
	Status string `json:"status"`
	// Quality is GREEN, YELLOW, RED or UNKNOWN; "" when Meta has not said.
	Quality string `json:"quality,omitempty"`
	// Reason is why the last status webhook changed the status (REJECTED's reason, …), "" when none was given.
	Reason string `json:"reason,omitempty"`
	// Components are Meta's components (HEADER, BODY, FOOTER, BUTTONS) as listed, or null for a template only a
	// webhook has told of (Partial).
	Components json.RawMessage `json:"components"`
	// Params is the number of body parameters ({{1}}, {{2}}, … or named ones, each counted once).
	Params int `json:"params"`
	// ParamNames are the names of a body with named parameters ({{first_name}}), in order of first appearance: the
	// i-th value of a send is sent as parameter_name ParamNames[i]. Empty for positional parameters.
	ParamNames []string `json:"param_names,omitempty"`
	// Header is the header's format and, for a TEXT header, its parameter count; nil without a header.
	Header *Header `json:"header,omitempty"`
	// Buttons are the template's buttons in Meta's order (a send's button index is a position here), with what
	// each takes at send.
	Buttons []Button `json:"buttons,omitempty"`
	// Partial is set for a template known only from a webhook (created after the last sync): its components are
	// unknown until the next sync, so its parameters are not checked.
	Partial bool `json:"partial,omitempty"`
	// UpdatedAt is when the record last changed (the sync's or the webhook's ingest time).
	UpdatedAt time.Time `json:"updated_at"`
}

// Header is a template's header.
type Header struct {
	// Format is TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION.
	Format string `json:"format"`
	// Params is the number of parameters of a TEXT header (0 or 1 at Meta).
	Params int `json:"params,omitempty"`
	// ParamName is the name of a TEXT header's named parameter ({{sale_name}}); "" for a positional one ({{1}}).
	ParamName string `json:"param_name,omitempty"`
}

// Button types of a template's BUTTONS component (Graph API "type").
const (
	ButtonQuickReply = "QUICK_REPLY"
	ButtonURL        = "URL"
	ButtonPhone      = "PHONE_NUMBER"
	ButtonCopyCode   = "COPY_CODE"
	ButtonOTP        = "OTP"
)

// Button is one of a template's buttons.
type Button struct {
	// Type is Meta's: QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, CATALOG, …
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// URL is a URL button's link; a dynamic one ends in {{1}}, which a send fills.
	URL string `json:"url,omitempty"`
	// SubType is the sub_type a send gives this button's parameter with: quick_reply (a payload), url (a dynamic
	// URL's suffix, or an OTP button's code) or copy_code (the code); "" for a button that takes none (a static
	// URL, a phone number, a flow, …).
	SubType string `json:"sub_type,omitempty"`
	// Required is set when a send must give the parameter: a dynamic URL, an OTP code, a COPY_CODE's code. A quick
	// reply's payload may be left out (Meta then sends back the button's text).
	Required bool `json:"required,omitempty"`
}

// Media reports whether the header needs a media parameter (image, video or document) at send.
func (h *Header) Media() bool {
	return h != nil && (h.Format == HeaderImage || h.Format == HeaderVideo || h.Format == HeaderDocument)
}

// Approved reports whether t may be sent.
func (t *Template) Approved() bool { return t.Status == StatusApproved }

// metaTemplate is what this package reads of a Graph API message template object.
type metaTemplate struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Language   string      `json:"language"`
	Status     string      `json:"status"`
	Category   string      `json:"category"`
	Components []component `json:"components"`
	// QualityScore is {"score":"GREEN","date":…} where the listing asks for it.
	QualityScore *struct {
		Score string `json:"score"`
	} `json:"quality_score"`
	RejectedReason string `json:"rejected_reason"`
}

type component struct {
	Type    string `json:"type"`
	Format  string `json:"format"`
	Text    string `json:"text"`
	Buttons []struct {
		Type string `json:"type"`
		Text string `json:"text"`
		URL  string `json:"url"`
	} `json:"buttons"`
}

// ErrInvalid is wrapped by every error of FromMeta and ParseChange.
var ErrInvalid = errors.New("invalid template")

// FromMeta makes the catalogue record of one template object of waba's message_templates listing, updated at at.
func FromMeta(waba string, raw json.RawMessage, at time.Time) (Template, error) {
	var m metaTemplate
	if err := json.Unmarshal(raw, &m); err != nil {
		return Template{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if m.Name == "" || m.Language == "" {
		return Template{}, fmt.Errorf("%w: template %q without name or language", ErrInvalid, m.ID)
	}
	var comps json.RawMessage
	var probe struct {
		Components json.RawMessage `json:"components"`
	}
	if json.Unmarshal(raw, &probe) == nil && len(probe.Components) > 0 {
		comps = probe.Components
	}
	t := Template{ID: m.ID, WABA: waba, Name: m.Name, Language: m.Language, Category: m.Category,
		Status: m.Status, Components: comps, UpdatedAt: at.UTC()}
	if m.QualityScore != nil {
		t.Quality = m.QualityScore.Score
	}
	if m.Status == StatusRejected && m.RejectedReason != "" && m.RejectedReason != "NONE" {
		t.Reason = m.RejectedReason
	}
	t.derive(m.Components)
	return t, nil
}

// Derive sets what t's Components say a send takes (Params, ParamNames, Header, Buttons), as FromMeta does; a
// reader calls it on a stored record, so that one written before a field was derived has it too.
func (t *Template) Derive() {
	if len(t.Components) == 0 {
		return
	}
	var comps []component
	if json.Unmarshal(t.Components, &comps) != nil {
		return // FromMeta decoded them when the record was made
	}
	t.derive(comps)
}

func (t *Template) derive(comps []component) {
	t.Params, t.ParamNames, t.Header, t.Buttons = 0, nil, nil, nil
	for _, c := range comps {
		switch strings.ToUpper(c.Type) {
		case "BODY":
			t.Params = CountParams(c.Text)
			t.ParamNames = namedParams(c.Text)
		case "HEADER":
			h := &Header{Format: strings.ToUpper(c.Format)}
			if h.Format == HeaderText {
				h.Params = CountParams(c.Text)
				if names := namedParams(c.Text); len(names) > 0 {
					h.ParamName = names[0]
				}
			}
			t.Header = h
		case "BUTTONS":
			for _, b := range c.Buttons {
				btn := Button{Type: strings.ToUpper(b.Type), Text: b.Text, URL: b.URL}
				switch btn.Type {
				case ButtonQuickReply:
					btn.SubType = "quick_reply"
				case ButtonURL:
					if CountParams(b.URL) > 0 {
						btn.SubType, btn.Required = "url", true
					}
				case ButtonOTP:
					// Every OTP button (copy code, one tap, zero tap) takes the code as a url parameter.
					btn.SubType, btn.Required = "url", true
				case ButtonCopyCode:
					btn.SubType, btn.Required = "copy_code", true
				}
				t.Buttons = append(t.Buttons, btn)
			}
		}
	}
}

// Key is the catalogue key of a template: its business account, name and language.
type Key struct{ WABA, Name, Language string }

// Key returns t's key.
func (t *Template) Key() Key { return Key{t.WABA, t.Name, t.Language} }

// CountParams counts the parameters of a template text: the highest {{n}} for positional ones, else the distinct
// {{name}}s.
func CountParams(text string) int {
	highest, named := 0, map[string]bool{}
	forEachParam(text, func(name string) {
		if n, err := strconv.Atoi(name); err == nil {
			highest = max(highest, n)
		} else {
			named[name] = true
		}
	})
	if highest > 0 {
		return highest
	}
	return len(named)
}

// namedParams returns the distinct named parameters of text in order of first appearance, or nil when it has
// positional ones (Meta does not mix them).
func namedParams(text string) []string {
	var names []string
	positional := false
	forEachParam(text, func(name string) {
		if _, err := strconv.Atoi(name); err == nil {
			positional = true
		} else if !slices.Contains(names, name) {
			names = append(names, name)
		}
	})
	if positional {
		return nil
	}
	return names
}

// forEachParam calls fn with the name inside each {{…}} of text, in order; a name is digits, or letters, digits
// and underscores.
func forEachParam(text string, fn func(name string)) {
	for {
		i := strings.Index(text, "{{")
		if i < 0 {
			return
		}
		rest := text[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return
		}
		if name := strings.TrimSpace(rest[:j]); paramName(name) {
			fn(name)
		}
		text = rest[j+2:]
	}
}

func paramName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// Change is one of Meta's template webhooks, decoded.
type Change struct {
	Field    string
	ID       string // message_template_id
	Name     string
	Language string
	// Status is the status event's new status (its "event", with REINSTATED and UNLOCKED read as APPROVED);
	// Reason its reason.
	Status, Reason string
	// Quality is the quality event's new score.
	Quality string
	// Category is the category event's new category.
	Category string
}

// ParseChange decodes a template webhook's value (inbox.TemplateChange.Value) of field.
func ParseChange(field string, value json.RawMessage) (Change, error) {
	var v struct {
		Event    string          `json:"event"`
		ID       json.RawMessage `json:"message_template_id"`
		Name     string          `json:"message_template_name"`
		Language string          `json:"message_template_language"`
		Reason   string          `json:"reason"`
		NewScore string          `json:"new_quality_score"`
		NewCat   string          `json:"new_category"`
		// An impending category change (correct_category set, previous_category absent) changes nothing yet.
		PrevCat string `json:"previous_category"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return Change{}, fmt.Errorf("%w: %s value: %v", ErrInvalid, field, err)
	}
	c := Change{Field: field, ID: strings.Trim(string(v.ID), `"`), Name: v.Name, Language: v.Language}
	if c.Name == "" || c.Language == "" {
		return c, fmt.Errorf("%w: %s without message_template_name or message_template_language", ErrInvalid, field)
	}
	switch field {
	case FieldStatus:
		if v.Event == "" {
			return c, fmt.Errorf("%w: %s without event", ErrInvalid, field)
		}
		c.Status = v.Event
		switch v.Event {
		case "REINSTATED", "UNLOCKED":
			c.Status = StatusApproved
		}
		if v.Reason != "" && v.Reason != "NONE" {
			c.Reason = v.Reason
		}
	case FieldQuality:
		if v.NewScore == "" {
			return c, fmt.Errorf("%w: %s without new_quality_score", ErrInvalid, field)
		}
		c.Quality = v.NewScore
	case FieldCategory:
		if v.PrevCat != "" {
			c.Category = v.NewCat
		}
	default:
		return c, fmt.Errorf("%w: field %q is not a template webhook", ErrInvalid, field)
	}
	return c, nil
}

// Apply returns the record after change c at time at. prev is the stored record, or nil when the catalogue has none
// of that name and language (a template created after the last sync): a status webhook then makes a Partial one;
// a quality or category webhook for an unknown template changes nothing (ok false). ok is false also when nothing
// changes.
func Apply(prev *Template, waba string, c Change, at time.Time) (next Template, ok bool) {
	if prev == nil {
		if c.Field != FieldStatus {
			return Template{}, false
		}
		return Template{ID: c.ID, WABA: waba, Name: c.Name, Language: c.Language, Status: c.Status, Reason: c.Reason,
			Partial: true, UpdatedAt: at.UTC()}, true
	}
	next = *prev
	switch c.Field {
	case FieldStatus:
		next.Status, next.Reason = c.Status, c.Reason
		if c.Status == "FLAGGED" {
			// Flagged templates can still be sent until Meta pauses them; the flag is a quality warning.
			next.Status, next.Quality = prev.Status, "RED"
		}
	case FieldQuality:
		next.Quality = c.Quality
	case FieldCategory:
		if c.Category == "" {
			return *prev, false
		}
		next.Category = c.Category
	}
	if c.ID != "" && next.ID == "" {
		next.ID = c.ID
	}
	if next.Status == prev.Status && next.Reason == prev.Reason && next.Quality == prev.Quality &&
		next.Category == prev.Category && next.ID == prev.ID {
		return *prev, false
	}
	next.UpdatedAt = at.UTC()
	return next, true
}

// Check is the send check of template message m against the catalogue's record t (found false when the catalogue
// has none of m's name and language): it refuses an unknown template (CodeNotFound), one that is not APPROVED
// (CodeNotApproved, naming the status), and (CodeInvalidParams) a wrong number of body parameters, a header that
// does not fit the template's (checkHeader) and button parameters that do not fit its buttons (checkButtons). A
// Partial template is checked for its status only.
func Check(t *Template, found bool, m *inbox.Template) *Refusal {
	if !found {
		return refusal.New(CodeNotFound, "no template %q in language %s in the channel's catalogue", m.Name, m.Language)
	}
	if !t.Approved() {
		msg := fmt.Sprintf("template %q (%s) is %s, not APPROVED", t.Name, t.Language, t.Status)
		if t.Reason != "" {
			msg += " (" + t.Reason + ")"
		}
		return refusal.New(CodeNotApproved, "%s", msg)
	}
	if t.Partial {
		return nil
	}
	if len(m.Params) != t.Params {
		return refusal.New(CodeInvalidParams, "template %q takes %d body parameters, %d given", t.Name, t.Params, len(m.Params))
	}
	for i, p := range m.Params {
		if strings.TrimSpace(p) == "" {
			return refusal.New(CodeInvalidParams, "body parameter %d of template %q is empty", i+1, t.Name)
		}
	}
	if r := checkHeader(t, m.Header); r != nil {
		return r
	}
	return checkButtons(t, m.Buttons)
}

// checkHeader refuses a missing or needless media header, a TEXT header's missing parameter or one named other
// than the template names it, and a LOCATION header without a place on Earth (latitude -90 to 90, longitude -180
// to 180, with a name and an address, as Meta requires).
func checkHeader(t *Template, h *inbox.TemplateHeader) *Refusal {
	switch {
	case t.Header.Media():
		want := strings.ToLower(t.Header.Format)
		if h == nil || h.Type != want || (h.ID == "") == (h.Link == "") {
			return refusal.New(CodeInvalidParams, "template %q has a %s header: give header {\"type\":%q, \"id\" or \"link\"}",
				t.Name, want, want)
		}
	case t.Header != nil && t.Header.Format == HeaderText && t.Header.Params > 0:
		if h == nil || h.Type != "text" || strings.TrimSpace(h.Text) == "" {
			return refusal.New(CodeInvalidParams, "template %q has a header parameter: give header {\"type\":\"text\",\"text\"}", t.Name)
		}
		if h.ParameterName != "" && h.ParameterName != t.Header.ParamName {
			if t.Header.ParamName == "" {
				return refusal.New(CodeInvalidParams, "the header parameter of template %q is positional: give no parameter_name", t.Name)
			}
			return refusal.New(CodeInvalidParams, "the header parameter of template %q is named %q, not %q",
				t.Name, t.Header.ParamName, h.ParameterName)
		}
	case t.Header != nil && t.Header.Format == HeaderLocation:
		const want = `give header {"type":"location","location":{"latitude","longitude","name","address"}}`
		if h == nil || h.Type != "location" || h.Location == nil {
			return refusal.New(CodeInvalidParams, "template %q has a location header: %s", t.Name, want)
		}
		l := h.Location
		switch {
		case l.Latitude == nil || l.Longitude == nil:
			return refusal.New(CodeInvalidParams, "the location header of template %q needs a latitude and a longitude: %s", t.Name, want)
		case !(*l.Latitude >= -90 && *l.Latitude <= 90):
			return refusal.New(CodeInvalidParams, "the location header's latitude %v is not between -90 and 90", *l.Latitude)
		case !(*l.Longitude >= -180 && *l.Longitude <= 180):
			return refusal.New(CodeInvalidParams, "the location header's longitude %v is not between -180 and 180", *l.Longitude)
		case strings.TrimSpace(l.Name) == "" || strings.TrimSpace(l.Address) == "":
			return refusal.New(CodeInvalidParams, "the location header of template %q needs a name and an address: %s", t.Name, want)
		}
	default:
		if h != nil {
			return refusal.New(CodeInvalidParams, "template %q takes no header parameter", t.Name)
		}
	}
	return nil
}

// checkButtons refuses a button parameter for a button the template does not have (by index), of another
// sub_type than the button's, for a button that takes none (a static URL, a phone number), with other than one
// non-empty value, or given twice; and a required one left out (a dynamic URL's suffix, an OTP or COPY_CODE
// code). Each refusal names the button.
func checkButtons(t *Template, given []inbox.TemplateButton) *Refusal {
	var seen [10]bool
	for _, b := range given {
		if b.Index < 0 || b.Index >= len(t.Buttons) {
			return refusal.New(CodeInvalidParams, "template %q has no button %d (it has %d)", t.Name, b.Index, len(t.Buttons))
		}
		tb := t.Buttons[b.Index]
		switch {
		case b.Index < len(seen) && seen[b.Index]:
			return refusal.New(CodeInvalidParams, "button %d (%s) of template %q is given twice", b.Index, tb.label(), t.Name)
		case tb.SubType == "":
			return refusal.New(CodeInvalidParams, "button %d (%s) of template %q takes no parameter", b.Index, tb.label(), t.Name)
		case b.SubType != tb.SubType:
			return refusal.New(CodeInvalidParams, "button %d (%s) of template %q takes sub_type %q, not %q",
				b.Index, tb.label(), t.Name, tb.SubType, b.SubType)
		case len(b.Params) != 1 || strings.TrimSpace(b.Params[0]) == "":
			return refusal.New(CodeInvalidParams, "button %d (%s) of template %q takes exactly one non-empty parameter, %d given",
				b.Index, tb.label(), t.Name, len(b.Params))
		}
		if b.Index < len(seen) {
			seen[b.Index] = true
		}
	}
	for i, tb := range t.Buttons {
		if tb.Required && (i >= len(seen) || !seen[i]) {
			return refusal.New(CodeInvalidParams, "button %d (%s) of template %q needs its parameter: give buttons "+
				"[{\"sub_type\":%q,\"index\":%d,\"params\":[…]}]", i, tb.label(), t.Name, tb.SubType, i)
		}
	}
	return nil
}

// label names a button in a refusal: its type and text, and a URL's link.
func (b Button) label() string {
	s := b.Type + " " + strconv.Quote(b.Text)
	if b.URL != "" {
		s += " " + b.URL
	}
	return s
}

// Preview is a template filled in for display.
type Preview struct {
	// Header is the header's text filled in, or "" for a media header (HeaderFormat says which).
	Header       string   `json:"header,omitempty"`
	HeaderFormat string   `json:"header_format,omitempty"`
	Body         string   `json:"body"`
	Footer       string   `json:"footer,omitempty"`
	Buttons      []string `json:"buttons,omitempty"`
}

// Render fills t's body with params ({{1}} is params[0]; named parameters in their order of first appearance) and
// its text header with headerText; a parameter not given stays as it is written ({{2}}).
func Render(t *Template, params []string, headerText string) Preview {
	var comps []struct {
		Type    string `json:"type"`
		Format  string `json:"format"`
		Text    string `json:"text"`
		Buttons []struct {
			Text string `json:"text"`
		} `json:"buttons"`
	}
	_ = json.Unmarshal(t.Components, &comps) // a record's components were decoded once already
	var p Preview
	for _, c := range comps {
		switch strings.ToUpper(c.Type) {
		case "HEADER":
			p.HeaderFormat = strings.ToUpper(c.Format)
			if p.HeaderFormat == HeaderText {
				p.Header = fill(c.Text, []string{headerText})
			}
		case "BODY":
			p.Body = fill(c.Text, params)
		case "FOOTER":
			p.Footer = c.Text
		case "BUTTONS":
			for _, b := range c.Buttons {
				p.Buttons = append(p.Buttons, b.Text)
			}
		}
	}
	return p
}

// fill replaces each parameter of text by its value: {{n}} by params[n-1], a named one by the value in the order
// names first appear.
func fill(text string, params []string) string {
	var b strings.Builder
	names := map[string]int{}
	for {
		i := strings.Index(text, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(text[i+2:], "}}")
		if j < 0 {
			break
		}
		name := strings.TrimSpace(text[i+2 : i+2+j])
		b.WriteString(text[:i])
		idx := -1
		if paramName(name) {
			if n, err := strconv.Atoi(name); err == nil {
				idx = n - 1
			} else {
				k, seen := names[name]
				if !seen {
					k = len(names)
					names[name] = k
				}
				idx = k
			}
		}
		if idx >= 0 && idx < len(params) && params[idx] != "" {
			b.WriteString(params[idx])
		} else {
			b.WriteString(text[i : i+4+j])
		}
		text = text[i+4+j:]
	}
	b.WriteString(text)
	return b.String()
}
