package api

// The inbox lists: GET /v1/conversations (sorted, filtered, paged), GET /v1/inbox/counts (the tabs' counts) and
// POST /v1/conversations/{id}/read (the caller's read mark, which unread counts derive from).

import (
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// listItem is a conversation as GET /v1/conversations shows it: the record plus what the caller's list needs. Its
// fields shadow the record's of the same JSON name, so each is always present (null when there is none), and
// operators' read marks and mentions stay out of it (the caller gets its own unread count).
type listItem struct {
	conversation.Conversation
	LastMessage    *conversation.LastMessage `json:"last_message"`
	Unread         uint64                    `json:"unread"`
	WaitingSince   *time.Time                `json:"waiting_since"`
	LastActivityAt *time.Time                `json:"last_activity_at"`
	ClosedBy       string                    `json:"closed_by"`
	// Mention is the caller's latest mention in the conversation's notes; absent when none.
	Mention      *mention  `json:"mention,omitempty"`
	ReadBy       *struct{} `json:"read_by,omitempty"`
	MentionMarks *struct{} `json:"mention_marks,omitempty"`
}

// mention is a list item's mention of the caller: the note, its time, and whether the caller has read past it.
type mention struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Unread bool      `json:"unread"`
}

func itemOf(c conversation.Conversation, op string) listItem {
	normalise(&c)
	it := listItem{Conversation: c, LastMessage: c.LastMessage, Unread: conversation.Unread(&c, op), ClosedBy: c.ClosedBy}
	if !c.WaitingSince.IsZero() {
		it.WaitingSince = &c.WaitingSince
	}
	if !c.LastActivityAt.IsZero() {
		it.LastActivityAt = &c.LastActivityAt
	}
	if m, ok := c.MentionMarks[op]; ok {
		it.Mention = &mention{Seq: m.Seq, At: m.At, Unread: conversation.MentionUnread(&c, op)}
	}
	return it
}

// conversationList is the body of GET /v1/conversations.
type conversationList struct {
	Conversations []listItem `json:"conversations"`
	NextCursor    string     `json:"next_cursor,omitempty"`
}

// listQuery reads GET /v1/conversations' parameters; a bad value is answered 400 and ok is false.
func listQuery(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) (q ListQuery, ok bool) {
	args := ctx.QueryArgs()
	bad := func(code, msg string) (ListQuery, bool) {
		fail(ctx, code, msg)
		return q, false
	}
	// operatorArg is an operator of the caller's tenant named by a parameter, "me" being the caller.
	operatorArg := func(v string) (string, bool) {
		if v == "me" {
			return op.Operator.ID, true
		}
		_, found := findOperator(op.Tenant, v)
		return v, found
	}
	if s := string(args.Peek("status")); s != "" {
		switch conversation.Status(s) {
		case conversation.Unassigned, conversation.Assigned, conversation.Snoozed, conversation.Closed:
			q.Status = conversation.Status(s)
		default:
			return bad(codeInvalidStatusFilter, "status must be unassigned, assigned, snoozed or closed")
		}
	}
	if v := string(args.Peek("assignee")); v == "none" {
		q.Unassigned = true
	} else if v != "" {
		id, found := operatorArg(v)
		if !found {
			return bad(codeInvalidFilter, "assignee must be me, none or an operator of your tenant")
		}
		q.Assignee = id
	}
	if v := string(args.Peek("closed_by")); v != "" {
		id, found := operatorArg(v)
		if !found {
			return bad(codeInvalidFilter, "closed_by must be me or an operator of your tenant")
		}
		q.ClosedBy = id
	}
	if v := string(args.Peek("label")); v != "" {
		if !conversation.ValidLabel(v) {
			return bad(codeInvalidFilter, "label must match [a-z0-9_-]{1,64}")
		}
		q.Label = v
	}
	if v := string(args.Peek("channel")); v != "" {
		if !slices.Contains(op.Tenant.ChannelIDs(), v) { // a removed channel's conversations are listed too
			return bad(codeInvalidFilter, "channel must be a channel of your tenant")
		}
		q.Channel = v
	}
	switch v := string(args.Peek("unread")); v {
	case "", "false":
	case "true":
		q.UnreadFor = op.Operator.ID
	default:
		return bad(codeInvalidFilter, "unread must be true or false")
	}
	switch v := string(args.Peek("mentions")); v {
	case "":
	case "me":
		q.MentionsOf = op.Operator.ID
	default:
		return bad(codeInvalidFilter, "mentions must be me")
	}
	switch v := string(args.Peek("sort")); v {
	case "", SortLastActivity:
		q.Sort = SortLastActivity
	case SortWaiting, SortCreated:
		q.Sort = v
	default:
		return bad(codeInvalidSort, "sort must be waiting, last_activity or created")
	}
	switch v := string(args.Peek("order")); v {
	case "":
		q.Desc = q.Sort != SortWaiting // the longest waiting first; otherwise the newest first
	case "asc", "desc":
		q.Desc = v == "desc"
	default:
		return bad(codeInvalidOrder, "order must be asc or desc")
	}
	if l := args.Peek("limit"); len(l) > 0 {
		n, err := strconv.Atoi(string(l))
		if err != nil || n < 1 || n > 500 {
			return bad(codeInvalidLimit, "limit must be a number from 1 to 500")
		}
		q.Limit = n
	}
	q.Cursor = string(args.Peek("cursor"))
	return q, true
}

func (a *API) listConversations(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	q, ok := listQuery(ctx, op)
	if !ok {
		return
	}
	list, next, err := a.cfg.Reader.ListConversations(op.Tenant.ID, q)
	if err != nil {
		a.pageFailed(ctx, op, err)
		return
	}
	items := make([]listItem, len(list))
	for i := range list {
		maskConversation(op, &list[i])
		items[i] = itemOf(list[i], op.Operator.ID)
	}
	a.writeJSON(ctx, fasthttp.StatusOK, conversationList{Conversations: items, NextCursor: next})
}

func (a *API) inboxCounts(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	c, err := a.cfg.Reader.InboxCounts(op.Tenant.ID, op.Operator.ID)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	a.writeJSON(ctx, fasthttp.StatusOK, c)
}

// readMark is the body of POST /v1/conversations/{id}/read.
type readMark struct {
	ConversationID string `json:"conversation_id"`
	Seq            uint64 `json:"seq"`
	Unread         uint64 `json:"unread"`
}

// markRead moves the caller's read mark: a conversation command, so it is ordered with the customer's messages.
func (a *API) markRead(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	var b struct {
		Seq *int64 `json:"seq"`
	}
	if !decode(ctx, &b, true) {
		return
	}
	cmd := inbox.Command{Type: string(conversation.CmdRead), ConversationID: id}
	if b.Seq != nil {
		if *b.Seq < 1 {
			fail(ctx, conversation.CodeInvalidSeq, "seq must be a message sequence number from 1")
			return
		}
		cmd.Seq = uint64(*b.Seq)
	}
	if !conversation.ValidID(id) {
		fail(ctx, conversation.CodeNotFound, "no conversation "+quoteID(id))
		return
	}
	a.run(ctx, op, cmd, fasthttp.StatusOK, func(body any) any {
		c, ok := body.(conversation.Conversation)
		if !ok {
			return readMark{ConversationID: id, Seq: cmd.Seq}
		}
		return readMark{ConversationID: id, Seq: c.ReadBy[op.Operator.ID].Seq, Unread: conversation.Unread(&c, op.Operator.ID)}
	})
}
