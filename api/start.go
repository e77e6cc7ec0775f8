package api

// Starting a conversation: POST /v1/conversations. The tenant writes first, to a customer named by number or by
// contact, on one of its channels; the conversation is created or reopened for the caller and its first message
// queued in one command (actors/conversation.Start).

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Error codes of starting a conversation.
const (
	codeInvalidPhone = "invalid_phone" // the number is not an E.164 number
)

// startBody is the body of POST /v1/conversations: the channel, exactly one of wa_id, phone and contact_id, and
// exactly one of template (a template message, as in POST /v1/conversations/{id}/messages) and text (allowed only
// while the customer's 24-hour window is open).
type startBody struct {
	ChannelID string          `json:"channel_id"`
	WaID      string          `json:"wa_id"`
	Phone     string          `json:"phone"`
	ContactID string          `json:"contact_id"`
	Template  json.RawMessage `json:"template"`
	Text      string          `json:"text"`
}

// startConversation handles POST /v1/conversations: 201 {"conversation","message"}.
func (a *API) startConversation(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var b startBody
	if !decode(ctx, &b, false) {
		return
	}
	if _, ok := channelOf(op.Tenant, b.ChannelID); !ok {
		fail(ctx, codeChannelNotFound, "no channel "+quoteID(b.ChannelID))
		return
	}
	wa, ok := a.startAddress(ctx, op, b)
	if !ok {
		return
	}
	var out inbox.Outbound
	var msg string
	switch {
	case len(b.Template) > 0 && b.Text == "":
		out, msg = outboundOf(map[string]json.RawMessage{"type": json.RawMessage(`"template"`), "template": b.Template})
	case b.Text != "" && len(b.Template) == 0:
		out = inbox.Outbound{Type: "text", Text: b.Text}
	default:
		msg = "give exactly one of template and text"
	}
	if msg != "" {
		fail(ctx, conversation.CodeInvalidMessage, msg)
		return
	}
	id := conversation.ID(b.ChannelID, wa)
	if out.Type == "template" {
		// The catalogue check of a send (templates.go), with the contact the conversation knows if it exists.
		var tc TemplateContact
		if c, err := a.cfg.Reader.Conversation(op.Tenant.ID, id); err == nil {
			tc = a.templateContact(op.Tenant.ID, &c)
		} else if !errors.Is(err, ErrNotFound) {
			a.storeFailed(ctx, op, err)
			return
		}
		if !a.checkTemplate(ctx, op, b.ChannelID, out.Template, tc) {
			return
		}
	}
	cmd := inbox.Command{Type: string(conversation.CmdStart), WaID: wa, ConversationID: id, Message: &out,
		MessageID: "sb." + newID()}
	a.runOn(ctx, op, b.ChannelID, cmd, fasthttp.StatusCreated, func(body any) any {
		if s, ok := body.(*conversation.Started); ok {
			normalise(&s.Conversation)
		}
		return body
	})
}

// startAddress returns the WhatsApp address a start writes to, from exactly one of wa_id, phone and contact_id.
func (a *API) startAddress(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, b startBody) (string, bool) {
	n := 0
	for _, v := range []string{b.WaID, b.Phone, b.ContactID} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		fail(ctx, codeInvalidPhone, "give exactly one of wa_id, phone and contact_id")
		return "", false
	}
	switch {
	case b.WaID != "":
		if !validWaID(b.WaID) {
			fail(ctx, codeInvalidPhone, "wa_id must be the 7 to 15 digits of an international number, without +")
			return "", false
		}
		return b.WaID, true
	case b.Phone != "":
		wa, ok := waIDOfPhone(b.Phone)
		if !ok {
			fail(ctx, codeInvalidPhone, "phone must be an international number: + and 7 to 15 digits, such as +15551234567")
			return "", false
		}
		return wa, true
	}
	fail(ctx, codeNotFound, "starting by contact_id needs the contacts store")
	return "", false
}

// channelView is a channel as GET /v1/channels lists it: what an operator needs to pick one, nothing secret.
type channelView struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// listChannels answers GET /v1/channels: {"channels":[{"id","type"}]}, the caller's tenant's channels in
// configuration order, for the console's Start conversation dialog.
func (a *API) listChannels(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	out := make([]channelView, 0, len(op.Tenant.Channels))
	for _, c := range op.Tenant.Channels {
		out = append(out, channelView{ID: c.ID, Type: c.Type})
	}
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Channels []channelView `json:"channels"`
	}{out})
}

// waIDOfPhone returns the WhatsApp address of an E.164 number written with "+" and, for readability, spaces,
// dashes, dots or parentheses between its digits.
func waIDOfPhone(phone string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(phone), "+")
	if !ok {
		return "", false
	}
	wa := make([]byte, 0, 15)
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c >= '0' && c <= '9':
			wa = append(wa, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	if !validWaID(string(wa)) {
		return "", false
	}
	return string(wa), true
}

// validWaID reports whether s is a WhatsApp address: the 7 to 15 digits of an E.164 number (country code first,
// which never starts with 0), without "+".
func validWaID(s string) bool {
	if len(s) < 7 || len(s) > 15 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
