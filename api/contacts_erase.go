package api

// Erasing a contact (issue 12, the right to be forgotten): POST /v1/contacts/{id}/erase, admins only.

import (
	"context"
	"encoding/json"
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
// among them, if any, is the answer. Once the erase succeeded, the node's media cache forgets the files of the
// contact's messages (their ids read before the erase).
func (a *API) eraseContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
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
	// Every channel the contact may have written on, removed ones included: a removed channel's conversations keep
	// what the customer wrote until they are erased.
	chs := op.Tenant.ChannelIDs()
	items := make([]inbox.Item, 0, 1+len(chs))
	items = append(items, inbox.Item{Kind: inbox.KindCommand,
		Command: &inbox.Command{Type: "contact_erase", ContactID: c.ID}})
	for _, ch := range chs {
		items = append(items, inbox.Item{Kind: inbox.KindCommand, Channel: ch, Command: &inbox.Command{
			Type: string(conversation.CmdErase), ConversationID: conversation.ID(ch, c.WaID)}})
	}
	waits := make([]<-chan outcome.Result, len(items))
	for i := range items {
		cmd := items[i].Command
		cmd.RequestID, cmd.OperatorID = newID(), op.Operator.ID
		wait, cancel := a.cfg.Outcomes.Register(cmd.RequestID)
		defer cancel()
		waits[i] = wait
	}
	media := a.contactMedia(op, c.WaID)
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
	if a.cfg.Media != nil {
		for _, m := range media {
			a.cfg.Media.Forget(m.ch, m.id)
		}
	}
	a.writeJSON(ctx, fasthttp.StatusOK, answer)
}

// maxEraseMediaScan bounds the messages per conversation an erase reads for the media ids the node may cache.
const maxEraseMediaScan = 5000

// channelMedia is a media id of a channel's store.
type channelMedia struct {
	ch tenant.Channel
	id string
}

// contactMedia returns the media ids of the messages of waID's conversations (the newest maxEraseMediaScan of
// each), read before the erase deletes them, so the node's cache forgets the files once it is done. A read error
// leaves the rest out: the cache's bound evicts them in time.
func (a *API) contactMedia(op tenant.OperatorRef, waID string) []channelMedia {
	if a.cfg.Media == nil {
		return nil
	}
	var out []channelMedia
	for _, ch := range op.Tenant.Channels {
		conv := conversation.ID(ch.ID, waID)
		var before uint64
		for scanned := 0; scanned < maxEraseMediaScan; {
			msgs, err := a.cfg.Reader.Messages(op.Tenant.ID, conv, before, 500)
			if err != nil || len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				var content struct {
					ID string `json:"id"`
				}
				switch m.Type {
				case "image", "audio", "video", "document", "sticker":
					if json.Unmarshal(m.Content, &content) == nil && validMediaID(content.ID) {
						out = append(out, channelMedia{ch: ch, id: content.ID})
					}
				}
			}
			scanned += len(msgs)
			before = msgs[len(msgs)-1].Seq
			if before <= 1 {
				break
			}
		}
	}
	return out
}
