package api

// The channels an admin manages (README "Channels"): what GET/POST/PATCH /v1/channels answer beyond settings.go's
// view (the address Meta posts webhooks to), removal (DELETE /v1/channels/{id}), and the refusal of a reply on a
// conversation whose channel was removed.

import (
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// codeChannelRemoved refuses a reply on a conversation whose channel was removed (409).
const codeChannelRemoved = "channel_removed"

// WebhookPath is where Meta posts a WhatsApp number's webhooks, on every node that ingests.
const WebhookPath = "/webhooks/whatsapp"

// publicBase is this request's scheme and host: the address the caller reached the node at.
func publicBase(ctx *fasthttp.RequestCtx) string {
	scheme := "http"
	if ctx.IsTLS() || strings.EqualFold(string(ctx.Request.Header.Peek("X-Forwarded-Proto")), "https") {
		scheme = "https"
	}
	return scheme + "://" + string(ctx.Host())
}

// adminChannelAt is an admin's view of c, with the callback URL to paste at Meta as seen from this request.
func adminChannelAt(ctx *fasthttp.RequestCtx, c *tenant.Channel) adminChannelView {
	v := adminChannelOf(c)
	v.WebhookURL = publicBase(ctx) + WebhookPath
	return v
}

// itemPath is the position of the changed item in a tenant's configuration as a validation error names it
// ("channels[2].app_secret"): a change names one channel, so the field alone says which.
var itemPath = regexp.MustCompile(`^channels\[\d+\]\.`)

// configureChannel applies a channel change (configure) after refusing, with the field alone, what the rule
// refuses ("app_secret: required: …", so a form shows it beside that field); remove says whether the route is
// DELETE, the only one that removes.
func (a *API) configureChannel(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, ch *tenant.ChannelChange, remove bool, okStatus int) {
	if ch.Delete != remove {
		fail(ctx, tenant.CodeInvalidSetting, "delete: a channel is removed with DELETE /v1/channels/{id}")
		return
	}
	change := tenant.Change{Channel: ch}
	if _, _, err := tenant.ApplyChange(op.Tenant, change, a.cfg.Now()); err != nil {
		var r *tenant.Refusal
		if errors.As(err, &r) {
			r.Field = itemPath.ReplaceAllString(r.Field, "")
			fail(ctx, r.Code, r.Text())
			return
		}
	}
	a.configure(ctx, op, change, okStatus, func(r *tenant.Record) any {
		if r.Deleted {
			return struct {
				ID      string `json:"id"`
				Removed bool   `json:"removed"`
			}{r.ID, true}
		}
		return adminChannelAt(ctx, r.Channel)
	})
}

// removeChannel answers DELETE /v1/channels/{id}: the channel leaves the configuration on every node (its webhooks
// are then 404, like an unknown number's); its conversations stay, and replies on them are refused.
func (a *API) removeChannel(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if len(ctx.PostBody()) > 0 {
		fail(ctx, codeInvalidJSON, "body: DELETE /v1/channels/{id} takes no body")
		return
	}
	a.configureChannel(ctx, op, &tenant.ChannelChange{ID: id, Delete: true}, true, fasthttp.StatusOK)
}

// checkChannelLive refuses (409 channel_removed) a reply on conversation id when its channel was removed from the
// tenant. An unknown conversation passes: its actor answers conversation_not_found in order. A reply accepted just
// before a removal is failed by the sender instead (actors/sender), with the same reason.
func (a *API) checkChannelLive(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) bool {
	if len(op.Tenant.RemovedChannels) == 0 {
		return true
	}
	c, found, ok := a.storedConversation(ctx, op, id)
	if !found {
		return ok
	}
	if slices.Contains(op.Tenant.RemovedChannels, c.ChannelID) &&
		!slices.ContainsFunc(op.Tenant.Channels, func(ch tenant.Channel) bool { return ch.ID == c.ChannelID }) {
		fail(ctx, codeChannelRemoved, "channel "+c.ChannelID+" was removed: nothing can be sent on this conversation; "+
			"the customer can be reached again once a channel of their number is added")
		return false
	}
	return true
}

// storedConversation reads conversation id of the caller's tenant before a command about it is produced. found is
// false for an invalid or unknown id (the conversation actor answers conversation_not_found, in order with the
// tenant's records); ok is false when the store failed, and the answer is written.
func (a *API) storedConversation(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) (c conversation.Conversation, found, ok bool) {
	if !conversation.ValidID(id) {
		return c, false, true
	}
	c, err := a.cfg.Reader.Conversation(op.Tenant.ID, id)
	if errors.Is(err, ErrNotFound) {
		return c, false, true
	}
	if err != nil {
		a.storeFailed(ctx, op, err)
		return c, false, false
	}
	return c, true, true
}
