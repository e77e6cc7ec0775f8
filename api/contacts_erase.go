package api

// Erasing a contact (issue 12, the right to be forgotten): POST /v1/contacts/{id}/erase, admins only.

import (
	"context"
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// ContactErased is the answer of POST /v1/contacts/{id}/erase.
type ContactErased struct {
	Erased bool `json:"erased"`
	// Conversations is how many of the contact's conversations existed (one possible per channel of the tenant);
	// each now holds only anonymous counts.
	Conversations int `json:"conversations"`
}

// eraseContact handles POST /v1/contacts/{id}/erase. It produces one record, so the erase is applied all or
// nothing and in order with the tenant's other inputs: the catalogue's contact_erase of the contact (its record,
// search postings and blocked entry; contact.erased) and an erase of each conversation the contact can have — one
// per channel of the tenant, conversation.ID(channel, wa_id) — each with its own request id. A channel where the
// contact never wrote answers ok and creates nothing. It answers once every outcome arrived; the first refusal
// among them, if any, is the answer.
func (a *API) eraseContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if op.Operator.Role != tenant.RoleAdmin {
		fail(ctx, conversation.CodeForbidden, "only an admin may erase a contact")
		return
	}
	if !conversation.ValidContactID(id) {
		fail(ctx, contact.CodeNotFound, "no contact "+quoteID(id))
		return
	}
	c, ok := a.loadContact(ctx, op, id)
	if !ok {
		return
	}
	if a.cfg.Producer == nil || a.cfg.Outcomes == nil {
		fail(ctx, codeUnavailable, "this node does not take commands")
		return
	}
	items := make([]inbox.Item, 0, 1+len(op.Tenant.Channels))
	items = append(items, inbox.Item{Kind: inbox.KindCommand,
		Command: &inbox.Command{Type: "contact_erase", ContactID: c.ID}})
	for _, ch := range op.Tenant.Channels {
		items = append(items, inbox.Item{Kind: inbox.KindCommand, Channel: ch.ID, Command: &inbox.Command{
			Type: string(conversation.CmdErase), ConversationID: conversation.ID(ch.ID, c.WaID)}})
	}
	waits := make([]<-chan outcome.Result, len(items))
	for i := range items {
		cmd := items[i].Command
		cmd.RequestID, cmd.OperatorID = newID(), op.Operator.ID
		wait, cancel := a.cfg.Outcomes.Register(cmd.RequestID)
		defer cancel()
		waits[i] = wait
	}
	rec := inbox.Record{Tenant: op.Tenant.ID, IngestAt: a.cfg.Now().UnixMilli(), Items: items}
	pctx, pcancel := context.WithTimeout(context.Background(), a.cfg.CommandTimeout)
	defer pcancel()
	if err := a.cfg.Producer.Produce(pctx, []inbox.Record{rec}); err != nil {
		a.log.Warn("queue erase", "tenant", op.Tenant.ID, "operator", op.Operator.ID, "contact", c.ID, "err", err)
		ctx.Response.Header.Set("Retry-After", "1")
		fail(ctx, codeUnavailable, "the erase could not be queued; retry later")
		return
	}
	var refused *outcome.Result
	answer := ContactErased{Erased: true}
	for i, wait := range waits {
		select {
		case res := <-wait:
			if res.Code != "" && refused == nil {
				refused = &res
			}
			if e, ok := res.Body.(conversation.EraseOutcome); ok && e.Existed {
				answer.Conversations++
			}
		case <-pctx.Done():
			fail(ctx, codeOutcomeUnknown, fmt.Sprintf(
				"the erase was queued but %d of its %d outcomes did not arrive in time; it may still apply",
				len(waits)-i, len(waits)))
			return
		}
	}
	if refused != nil {
		fail(ctx, refused.Code, refused.Message)
		return
	}
	a.writeJSON(ctx, fasthttp.StatusOK, answer)
}
