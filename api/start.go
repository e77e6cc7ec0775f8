package api

// Starting a conversation: POST /v1/conversations. The tenant writes first, to a customer named by number or by
// contact, on one of its channels; the conversation is created or reopened for the caller and its first message
// queued in one command (actors/conversation.Start).

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
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
	// The customer's contact record, if there is one: its values fill params_from, and its name names a
	// conversation the start creates (the customer's profile name comes with their first message).
	tc := a.templateContact(op.Tenant.ID, &conversation.Conversation{Contact: conversation.Contact{WaID: wa}})
	if out.Type == "template" {
		// The catalogue check of a send (templates.go).
		body, ok := a.checkTemplateText(ctx, op, b.ChannelID, out.Template, tc)
		if !ok {
			return
		}
		out.Text = body
	}
	cmd := inbox.Command{Type: string(conversation.CmdStart), WaID: wa, ConversationID: id, Message: &out,
		MessageID: "sb." + newID()}
	if tc.Name != "" {
		cmd.Contact = &inbox.ContactInput{Name: &tc.Name}
	}
	a.runOn(ctx, op, b.ChannelID, cmd, fasthttp.StatusCreated, func(body any) any {
		if s, ok := body.(*conversation.Started); ok {
			c := *s
			normalise(&c.Conversation)
			maskConversation(op, &c.Conversation)
			return &c
		}
		return body
	})
}

// startAddress returns the WhatsApp address a start writes to, from exactly one of wa_id, phone (E.164, checked as
// contacts check it) and contact_id (a contact of the caller's tenant).
func (a *API) startAddress(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, b startBody) (string, bool) {
	n := 0
	for _, v := range []string{b.WaID, b.Phone, b.ContactID} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		fail(ctx, contact.CodeInvalidPhone, "give exactly one of wa_id, phone and contact_id")
		return "", false
	}
	if b.ContactID != "" {
		c, err := a.cfg.Reader.Contact(op.Tenant.ID, b.ContactID)
		if errors.Is(err, ErrNotFound) {
			fail(ctx, contact.CodeNotFound, "no contact "+quoteID(b.ContactID))
			return "", false
		}
		if err != nil {
			a.storeFailed(ctx, op, err)
			return "", false
		}
		return c.WaID, true
	}
	phone := b.Phone
	if b.WaID != "" {
		if strings.HasPrefix(b.WaID, "+") {
			fail(ctx, contact.CodeInvalidPhone, "wa_id is the number's digits, without +")
			return "", false
		}
		phone = "+" + b.WaID
	}
	_, wa, err := contact.NormalizePhone(phone)
	if err != nil {
		var r *contact.Refusal
		if errors.As(err, &r) {
			fail(ctx, r.Code, r.Message)
		} else {
			fail(ctx, contact.CodeInvalidPhone, err.Error())
		}
		return "", false
	}
	return wa, true
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
