package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// Limits Meta enforces on a send request, as the Cloud API reference states them.
const (
	minRecipientDigits   = 7
	maxRecipientDigits   = 15
	maxTextBody          = 4096
	maxCaption           = 1024
	maxButtons           = 3
	maxButtonTitle       = 20
	maxButtonID          = 256
	maxInteractiveBody   = 1024
	maxListBody          = 4096
	maxListButton        = 20
	maxListSections      = 10
	maxListRows          = 10
	maxRowTitle          = 24
	maxRowID             = 200
	maxCTADisplayText    = 20
	maxFooterText        = 60
	maxOpaqueCallbackLen = 512
)

// messageTypes are the values of "type" the simulator sends; Meta defaults a missing type to text.
var messageTypes = map[string]bool{
	"text": true, "template": true, "image": true, "audio": true, "video": true, "document": true,
	"sticker": true, "reaction": true, "interactive": true,
}

const typesList = "{AUDIO, DOCUMENT, IMAGE, INTERACTIVE, REACTION, STICKER, TEMPLATE, TEXT, VIDEO}"

// sendRequest is the body of POST /{phone_number_id}/messages, as far as the simulator checks it. Pointers tell a
// missing field from an empty one.
type sendRequest struct {
	MessagingProduct *string         `json:"messaging_product"`
	RecipientType    *string         `json:"recipient_type"`
	To               *string         `json:"to"`
	Type             *string         `json:"type"`
	Context          *contextObj     `json:"context"`
	Text             *textObj        `json:"text"`
	Template         *templateObj    `json:"template"`
	Image            *mediaObj       `json:"image"`
	Audio            *mediaObj       `json:"audio"`
	Video            *mediaObj       `json:"video"`
	Document         *mediaObj       `json:"document"`
	Sticker          *mediaObj       `json:"sticker"`
	Reaction         *reactionObj    `json:"reaction"`
	Interactive      *interactiveObj `json:"interactive"`
	// BizOpaqueCallbackData is an arbitrary string Meta passes back; senders may put their own message id in it,
	// which the simulator takes as the idempotency hint when no Idempotency-Key header is sent.
	BizOpaqueCallbackData *string `json:"biz_opaque_callback_data"`
}

type contextObj struct {
	MessageID *string `json:"message_id"`
}

type textObj struct {
	Body       *string `json:"body"`
	PreviewURL *bool   `json:"preview_url"`
}

type mediaObj struct {
	ID       *string `json:"id"`
	Link     *string `json:"link"`
	Caption  *string `json:"caption"`
	Filename *string `json:"filename"`
}

type reactionObj struct {
	MessageID *string `json:"message_id"`
	Emoji     *string `json:"emoji"`
}

type templateObj struct {
	Name       *string             `json:"name"`
	Language   *templateLanguage   `json:"language"`
	Components []templateComponent `json:"components"`
}

type templateLanguage struct {
	Code   *string `json:"code"`
	Policy *string `json:"policy"`
}

type templateComponent struct {
	Type       *string              `json:"type"`
	SubType    *string              `json:"sub_type"`
	Index      json.RawMessage      `json:"index"`
	Parameters *[]templateParameter `json:"parameters"`
}

type templateParameter struct {
	Type          *string         `json:"type"`
	ParameterName *string         `json:"parameter_name"`
	Text          *string         `json:"text"`
	Payload       *string         `json:"payload"`
	CouponCode    *string         `json:"coupon_code"`
	Currency      *currencyObj    `json:"currency"`
	DateTime      *dateTimeObj    `json:"date_time"`
	Image         *mediaObj       `json:"image"`
	Document      *mediaObj       `json:"document"`
	Video         *mediaObj       `json:"video"`
	Location      json.RawMessage `json:"location"`
	Action        json.RawMessage `json:"action"`
}

type currencyObj struct {
	FallbackValue *string `json:"fallback_value"`
	Code          *string `json:"code"`
	Amount1000    *int64  `json:"amount_1000"`
}

type dateTimeObj struct {
	FallbackValue *string `json:"fallback_value"`
}

type interactiveObj struct {
	Type   *string            `json:"type"`
	Body   *interactiveText   `json:"body"`
	Footer *interactiveText   `json:"footer"`
	Action *interactiveAction `json:"action"`
}

type interactiveText struct {
	Text *string `json:"text"`
}

type interactiveAction struct {
	Buttons    *[]interactiveButton `json:"buttons"`
	Button     *string              `json:"button"`
	Sections   *[]listSection       `json:"sections"`
	Name       *string              `json:"name"`
	Parameters *ctaParameters       `json:"parameters"`
}

type interactiveButton struct {
	Type  *string `json:"type"`
	Reply *struct {
		ID    *string `json:"id"`
		Title *string `json:"title"`
	} `json:"reply"`
}

type listSection struct {
	Title *string `json:"title"`
	Rows  []struct {
		ID          *string `json:"id"`
		Title       *string `json:"title"`
		Description *string `json:"description"`
	} `json:"rows"`
}

type ctaParameters struct {
	DisplayText *string `json:"display_text"`
	URL         *string `json:"url"`
}

// checked is what the send endpoint needs from a valid request.
type checked struct {
	to       string
	typ      string
	template string // template name, for type template
	opaque   string // biz_opaque_callback_data
}

// validate checks a send request the way the Cloud API does and returns the error Meta would answer, or nil. It is
// a pure function of the body (and of SeedTemplates, which are never changed).
func validate(body []byte) (checked, *apiError) {
	var c checked
	var r sendRequest
	if err := json.Unmarshal(body, &r); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return c, invalidParam("Param " + te.Field + " must not be a JSON " + te.Value)
		case errors.As(err, &te):
			return c, invalidParam("The request body must be a JSON object, not a JSON " + te.Value)
		}
		return c, invalidParam("The request body is not valid JSON: " + err.Error())
	}
	switch {
	case r.MessagingProduct == nil:
		return c, invalidParam("The parameter messaging_product is required.")
	case *r.MessagingProduct != "whatsapp":
		return c, invalidParam("Param messaging_product must be whatsapp")
	case r.RecipientType != nil && *r.RecipientType != "individual":
		return c, invalidParam("Param recipient_type must be individual")
	case r.To == nil || *r.To == "":
		return c, invalidParam("The parameter to is required.")
	case !validRecipient(*r.To):
		return c, invalidValue(fmt.Sprintf("Param to must be the recipient's phone number: %d to %d digits",
			minRecipientDigits, maxRecipientDigits))
	case r.BizOpaqueCallbackData != nil && utf8.RuneCountInString(*r.BizOpaqueCallbackData) > maxOpaqueCallbackLen:
		return c, invalidParam(fmt.Sprintf("Param biz_opaque_callback_data must be at most %d characters long", maxOpaqueCallbackLen))
	case r.Context != nil && (r.Context.MessageID == nil || *r.Context.MessageID == ""):
		return c, invalidParam("The parameter context['message_id'] is required.")
	}
	c.to = *r.To
	c.typ = "text"
	if r.Type != nil {
		c.typ = *r.Type
	}
	if r.BizOpaqueCallbackData != nil {
		c.opaque = *r.BizOpaqueCallbackData
	}
	if !messageTypes[c.typ] {
		return c, invalidParam("Param type must be one of " + typesList)
	}
	var e *apiError
	switch c.typ {
	case "text":
		e = checkText(r.Text)
	case "template":
		e = checkTemplate(r.Template)
		if e == nil {
			c.template = *r.Template.Name
			e = matchSeeded(r.Template)
		}
	case "image":
		e = checkMedia("image", r.Image)
	case "audio":
		e = checkMedia("audio", r.Audio)
	case "video":
		e = checkMedia("video", r.Video)
	case "document":
		e = checkMedia("document", r.Document)
	case "sticker":
		e = checkMedia("sticker", r.Sticker)
	case "reaction":
		e = checkReaction(r.Reaction)
	case "interactive":
		e = checkInteractive(r.Interactive)
	}
	return c, e
}

func validRecipient(to string) bool {
	return len(to) >= minRecipientDigits && len(to) <= maxRecipientDigits && allDigits(to)
}

func required(param string) *apiError {
	return invalidParam("The parameter " + param + " is required.")
}

func tooLong(param string, max int) *apiError {
	return invalidParam("Param " + param + " must be at most " + strconv.Itoa(max) + " characters long")
}

// checkLen requires s present, non-empty and at most max characters (runes, as Meta counts).
func checkLen(param string, s *string, max int) *apiError {
	if s == nil || *s == "" {
		return required(param)
	}
	if utf8.RuneCountInString(*s) > max {
		return tooLong(param, max)
	}
	return nil
}

func checkText(t *textObj) *apiError {
	if t == nil {
		return required("text")
	}
	return checkLen("text['body']", t.Body, maxTextBody)
}

func checkMedia(typ string, m *mediaObj) *apiError {
	if m == nil {
		return required(typ)
	}
	hasID := m.ID != nil && *m.ID != ""
	hasLink := m.Link != nil && *m.Link != ""
	switch {
	case !hasID && !hasLink:
		return invalidParam("Param " + typ + " must contain either id or link")
	case hasLink && !httpURL(*m.Link):
		return invalidValue("Param " + typ + "['link'] must be a valid http or https URL")
	case m.Caption != nil && utf8.RuneCountInString(*m.Caption) > maxCaption:
		return tooLong(typ+"['caption']", maxCaption)
	}
	return nil
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func checkReaction(r *reactionObj) *apiError {
	switch {
	case r == nil:
		return required("reaction")
	case r.MessageID == nil || *r.MessageID == "":
		return required("reaction['message_id']")
	case r.Emoji == nil: // "" is allowed: it removes the reaction
		return required("reaction['emoji']")
	}
	return nil
}

var parameterTypes = map[string]bool{
	"text": true, "currency": true, "date_time": true, "image": true, "document": true, "video": true,
	"location": true, "payload": true, "coupon_code": true, "action": true,
}

func checkTemplate(t *templateObj) *apiError {
	switch {
	case t == nil:
		return required("template")
	case t.Name == nil || *t.Name == "":
		return required("template['name']")
	case t.Language == nil:
		return required("template['language']")
	case t.Language.Code == nil || *t.Language.Code == "":
		return required("template['language']['code']")
	case t.Language.Policy != nil && *t.Language.Policy != "deterministic":
		return invalidParam("Param template['language']['policy'] must be deterministic")
	}
	for i, c := range t.Components {
		p := "template['components'][" + strconv.Itoa(i) + "]"
		if c.Type == nil || *c.Type == "" {
			return required(p + "['type']")
		}
		switch *c.Type {
		case "header", "body":
		case "button":
			if c.SubType == nil || *c.SubType == "" {
				return required(p + "['sub_type']")
			}
			if len(c.Index) == 0 {
				return required(p + "['index']")
			}
			if !validIndex(c.Index) {
				return invalidValue("Param " + p + "['index'] must be a button index from 0 to 9")
			}
		default:
			return invalidParam("Param " + p + "['type'] must be one of {HEADER, BODY, BUTTON}")
		}
		if c.Parameters == nil || len(*c.Parameters) == 0 {
			return required(p + "['parameters']")
		}
		for j, prm := range *c.Parameters {
			if e := checkParameter(p+"['parameters']["+strconv.Itoa(j)+"]", &prm); e != nil {
				return e
			}
		}
	}
	return nil
}

// validIndex accepts 0..9 as a number or a string, as Meta does.
func validIndex(raw json.RawMessage) bool {
	n, err := strconv.Atoi(numberText(raw))
	return err == nil && n >= 0 && n <= 9
}

// numberText is a JSON number, or a number written as a JSON string (Meta takes either), as text.
func numberText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	return s
}

func checkParameter(p string, prm *templateParameter) *apiError {
	if prm.Type == nil || *prm.Type == "" {
		return required(p + "['type']")
	}
	typ := *prm.Type
	if !parameterTypes[typ] {
		return invalidParam("Param " + p + "['type'] must be one of {TEXT, CURRENCY, DATE_TIME, IMAGE, DOCUMENT, " +
			"VIDEO, LOCATION, PAYLOAD, COUPON_CODE, ACTION}")
	}
	missing := false
	switch typ {
	case "text":
		missing = prm.Text == nil || *prm.Text == ""
	case "payload":
		missing = prm.Payload == nil || *prm.Payload == ""
	case "coupon_code":
		missing = prm.CouponCode == nil || *prm.CouponCode == ""
	case "currency":
		if prm.Currency == nil {
			missing = true
		} else if prm.Currency.FallbackValue == nil || prm.Currency.Code == nil || prm.Currency.Amount1000 == nil {
			return required(p + "['currency']['fallback_value'], ['code'] and ['amount_1000']")
		}
	case "date_time":
		if prm.DateTime == nil {
			missing = true
		} else if prm.DateTime.FallbackValue == nil {
			return required(p + "['date_time']['fallback_value']")
		}
	case "image":
		return paramMedia(p, "image", prm.Image)
	case "document":
		return paramMedia(p, "document", prm.Document)
	case "video":
		return paramMedia(p, "video", prm.Video)
	case "location":
		missing = len(prm.Location) == 0
	case "action":
		missing = len(prm.Action) == 0
	}
	if missing {
		return required(p + "['" + typ + "']")
	}
	return nil
}

func paramMedia(p, typ string, m *mediaObj) *apiError {
	if m == nil {
		return required(p + "['" + typ + "']")
	}
	return checkMedia(p+"['"+typ+"']", m)
}

func checkInteractive(in *interactiveObj) *apiError {
	switch {
	case in == nil:
		return required("interactive")
	case in.Type == nil || *in.Type == "":
		return required("interactive['type']")
	case *in.Type != "button" && *in.Type != "list" && *in.Type != "cta_url":
		return invalidParam("Param interactive['type'] must be one of {BUTTON, LIST, CTA_URL}")
	case in.Footer != nil && in.Footer.Text != nil && utf8.RuneCountInString(*in.Footer.Text) > maxFooterText:
		return tooLong("interactive['footer']['text']", maxFooterText)
	case in.Body == nil:
		return required("interactive['body']")
	case in.Action == nil:
		return required("interactive['action']")
	}
	switch *in.Type {
	case "button":
		return checkButtons(in)
	case "list":
		return checkList(in)
	default:
		return checkCTA(in)
	}
}

func checkButtons(in *interactiveObj) *apiError {
	if e := checkLen("interactive['body']['text']", in.Body.Text, maxInteractiveBody); e != nil {
		return e
	}
	if in.Action.Buttons == nil {
		return required("interactive['action']['buttons']")
	}
	buttons := *in.Action.Buttons
	if len(buttons) < 1 || len(buttons) > maxButtons {
		return invalidValue(fmt.Sprintf("Param interactive['action']['buttons'] must have 1 to %d buttons, not %d",
			maxButtons, len(buttons)))
	}
	for i, b := range buttons {
		p := "interactive['action']['buttons'][" + strconv.Itoa(i) + "]"
		switch {
		case b.Type == nil || *b.Type != "reply":
			return invalidParam("Param " + p + "['type'] must be reply")
		case b.Reply == nil:
			return required(p + "['reply']")
		}
		if e := checkLen(p+"['reply']['id']", b.Reply.ID, maxButtonID); e != nil {
			return e
		}
		if e := checkLen(p+"['reply']['title']", b.Reply.Title, maxButtonTitle); e != nil {
			return e
		}
		for _, o := range buttons[:i] {
			if *o.Reply.ID == *b.Reply.ID {
				return invalidValue("Param " + p + "['reply']['id'] repeats another button's id")
			}
			if *o.Reply.Title == *b.Reply.Title {
				return invalidValue("Param " + p + "['reply']['title'] repeats another button's title")
			}
		}
	}
	return nil
}

func checkList(in *interactiveObj) *apiError {
	if e := checkLen("interactive['body']['text']", in.Body.Text, maxListBody); e != nil {
		return e
	}
	if e := checkLen("interactive['action']['button']", in.Action.Button, maxListButton); e != nil {
		return e
	}
	if in.Action.Sections == nil {
		return required("interactive['action']['sections']")
	}
	sections := *in.Action.Sections
	if len(sections) < 1 || len(sections) > maxListSections {
		return invalidValue(fmt.Sprintf("Param interactive['action']['sections'] must have 1 to %d sections", maxListSections))
	}
	rows := 0
	for i, s := range sections {
		p := "interactive['action']['sections'][" + strconv.Itoa(i) + "]"
		if len(sections) > 1 && (s.Title == nil || *s.Title == "") {
			return required(p + "['title']")
		}
		if len(s.Rows) == 0 {
			return required(p + "['rows']")
		}
		for j, r := range s.Rows {
			rp := p + "['rows'][" + strconv.Itoa(j) + "]"
			if e := checkLen(rp+"['id']", r.ID, maxRowID); e != nil {
				return e
			}
			if e := checkLen(rp+"['title']", r.Title, maxRowTitle); e != nil {
				return e
			}
		}
		rows += len(s.Rows)
	}
	if rows > maxListRows {
		return invalidValue(fmt.Sprintf("Param interactive['action']['sections'] must have at most %d rows in all", maxListRows))
	}
	return nil
}

func checkCTA(in *interactiveObj) *apiError {
	if e := checkLen("interactive['body']['text']", in.Body.Text, maxInteractiveBody); e != nil {
		return e
	}
	a := in.Action
	switch {
	case a.Name == nil || *a.Name != "cta_url":
		return invalidParam("Param interactive['action']['name'] must be cta_url")
	case a.Parameters == nil:
		return required("interactive['action']['parameters']")
	}
	if e := checkLen("interactive['action']['parameters']['display_text']", a.Parameters.DisplayText, maxCTADisplayText); e != nil {
		return e
	}
	if a.Parameters.URL == nil || !httpURL(*a.Parameters.URL) {
		return invalidValue("Param interactive['action']['parameters']['url'] must be a valid http or https URL")
	}
	return nil
}
