package api

// GET /v1/search: the caller's tenant's conversations found by contact name, phone number and message text.

import (
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// maxQueryRunes is the longest q GET /v1/search accepts.
const maxQueryRunes = 200

// searchResult is one item of GET /v1/search: the conversation as GET /v1/conversations lists it for the caller
// (listItem: last message, the caller's unread count and mention, other operators' marks hidden) and where the
// query matched it.
type searchResult struct {
	listItem
	Match SearchMatch `json:"match"`
}

// searchPage is the body of GET /v1/search.
type searchPage struct {
	Results    []searchResult `json:"results"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func (a *API) search(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	args := ctx.QueryArgs()
	q := SearchQuery{Text: string(args.Peek("q")), After: string(args.Peek("cursor")), Limit: 20}
	if q.Text == "" || !utf8.ValidString(q.Text) || utf8.RuneCountInString(q.Text) > maxQueryRunes {
		fail(ctx, codeInvalidQuery, "q must be 1 to 200 characters of UTF-8")
		return
	}
	text, ok := searchText(op, q.Text)
	if !ok {
		fail(ctx, codeInvalidQuery, errHiddenDigits)
		return
	}
	q.Text = text
	if l := args.Peek("limit"); len(l) > 0 {
		n, err := strconv.Atoi(string(l))
		if err != nil || n < 1 || n > 100 {
			fail(ctx, codeInvalidLimit, "limit must be a number from 1 to 100")
			return
		}
		q.Limit = n
	}
	hits, next, err := a.cfg.Reader.Search(op.Tenant.ID, q)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	page := searchPage{Results: make([]searchResult, 0, len(hits)), NextCursor: next}
	for _, h := range hits {
		if h.Conversation.TenantID != op.Tenant.ID {
			continue // a Reader's bug must not show another tenant's conversation
		}
		maskConversation(op, &h.Conversation)
		if h.Match.Field == "phone" && masks(op) {
			h.Match.Snippet = MaskPhone(h.Match.Snippet)
		}
		page.Results = append(page.Results, searchResult{listItem: itemOf(h.Conversation, op.Operator.ID), Match: h.Match})
	}
	a.writeJSON(ctx, fasthttp.StatusOK, page)
}
