package api

// Commands: the API turns each operator action into a command record on switchboard.inbox (keyed by tenant, so it
// is ordered with the tenant's messages), and answers once the actor that applied it reports a durable outcome.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Producer writes records to switchboard.inbox and returns once Kafka acknowledged them.
type Producer interface {
	Produce(ctx context.Context, recs []inbox.Record) error
}

// newID returns a random 128-bit id in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// run produces cmd for the caller's tenant and writes the outcome: a refusal with its code's status, a success with
// okStatus and the outcome's body, passed through present when it is not nil. A success is durable once its outcome
// arrived, so present cannot fail: it answers what it can (never a 5xx for a command that applied).
func (a *API) run(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, cmd inbox.Command, okStatus int, present func(body any) any) {
	a.runOn(ctx, op, "", cmd, okStatus, present)
}

// runOn is run for a command whose item names its channel (a start).
func (a *API) runOn(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, channel string, cmd inbox.Command, okStatus int, present func(body any) any) {
	res, code, msg := a.submit(op, channel, cmd)
	switch {
	case code == codeUnavailable:
		ctx.Response.Header.Set("Retry-After", "1")
		fail(ctx, code, msg)
	case code != "":
		fail(ctx, code, msg)
	case res.Code != "":
		fail(ctx, res.Code, maskText(op, res.Message))
	default:
		body := res.Body
		if present != nil {
			body = present(body)
		}
		body = maskBody(op, body)
		a.writeJSON(ctx, okStatus, body)
	}
}

// submit produces cmd as op's and waits for its outcome. code is set, with a message for the caller, when there is
// none: codeUnavailable when the command could not be queued (or the node takes none), codeOutcomeUnknown when its
// outcome did not arrive within the command timeout.
func (a *API) submit(op tenant.OperatorRef, channel string, cmd inbox.Command) (res outcome.Result, code, msg string) {
	if a.cfg.Producer == nil || a.cfg.Outcomes == nil {
		return res, codeUnavailable, "this node does not take commands"
	}
	cmd.RequestID = newID()
	cmd.OperatorID = op.Operator.ID
	wait, cancel := a.cfg.Outcomes.Register(cmd.RequestID)
	defer cancel()
	rec := inbox.Record{Tenant: op.Tenant.ID, IngestAt: a.cfg.Now().UnixMilli(),
		Items: []inbox.Item{{Kind: inbox.KindCommand, Channel: channel, Command: &cmd}}}
	pctx, pcancel := context.WithTimeout(context.Background(), a.cfg.CommandTimeout)
	defer pcancel()
	if err := a.cfg.Producer.Produce(pctx, []inbox.Record{rec}); err != nil {
		a.log.Warn("queue command", "tenant", op.Tenant.ID, "operator", op.Operator.ID, "command", cmd.Type, "err", err)
		return res, codeUnavailable, "the command could not be queued; retry later"
	}
	select {
	case res = <-wait:
		return res, "", ""
	case <-pctx.Done():
		return res, codeOutcomeUnknown, "the command was queued but its outcome did not arrive in time; it may still apply"
	}
}

// decode reads a JSON body into v; an empty body leaves v as it is when allowEmpty.
func decode(ctx *fasthttp.RequestCtx, v any, allowEmpty bool) bool {
	body := ctx.PostBody()
	if len(body) == 0 && allowEmpty {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(ctx, codeInvalidJSON, "body: "+err.Error())
		return false
	}
	return true
}

// conversationCommand handles POST /v1/conversations/{id}/{action}.
func (a *API) conversationCommand(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id, action string) {
	cmd := inbox.Command{ConversationID: id}
	status := fasthttp.StatusOK
	switch action {
	case "take", "attend", "unassign", "close", "reopen", "unsnooze":
		cmd.Type = action
		if action == "attend" {
			cmd.Type = "take"
		}
	case "assign", "transfer":
		var b struct {
			OperatorID string `json:"operator_id"`
		}
		if !decode(ctx, &b, false) {
			return
		}
		if b.OperatorID == "" {
			fail(ctx, conversation.CodeInvalidOperator, "operator_id is required")
			return
		}
		if _, ok := findOperator(op.Tenant, b.OperatorID); !ok {
			fail(ctx, operator.CodeNotFound, "no operator "+b.OperatorID)
			return
		}
		cmd.Type, cmd.TargetID = action, b.OperatorID
	case "snooze":
		var b struct {
			Until string `json:"until"`
		}
		if !decode(ctx, &b, true) {
			return
		}
		cmd.Type = "snooze"
		if b.Until != "" {
			t, err := time.Parse(time.RFC3339, b.Until)
			if err != nil {
				fail(ctx, conversation.CodeInvalidUntil, "until must be an RFC 3339 time")
				return
			}
			cmd.Until = t.UnixMilli()
		}
	case "labels":
		var b struct {
			Add    []string `json:"add"`
			Remove []string `json:"remove"`
		}
		if !decode(ctx, &b, false) {
			return
		}
		cmd.Type, cmd.AddLabels, cmd.RemoveLabels = "labels", b.Add, b.Remove
	case "messages":
		// The body is {"type":…} with the type's object under its own key, as in Meta's API: {"type":"text",
		// "text":"…"} (text may also be {"body":"…"}), {"type":"template","template":{…}}, {"type":"image",
		// "image":{"id"|"link","caption"}}, {"type":"reaction","reaction":{…}}, {"type":"interactive",…}.
		var raw map[string]json.RawMessage
		if !decode(ctx, &raw, false) {
			return
		}
		b, msg := outboundOf(raw)
		if msg != "" {
			fail(ctx, conversation.CodeInvalidMessage, msg)
			return
		}
		for k := range raw {
			if k != "type" && k != b.Type {
				fail(ctx, codeInvalidJSON, "body: unknown field "+k+" for a "+b.Type+" message")
				return
			}
		}
		if !a.checkChannelLive(ctx, op, id) { // channels.go
			return
		}
		if b.Type == "template" && !a.checkConversationTemplate(ctx, op, id, &b) {
			return
		}
		if !a.resolveMediaLink(ctx, op, id, &b) { // media.go: a link is fetched here and sent by id
			return
		}
		cmd.Type, cmd.Message, cmd.MessageID = "send", &b, "sb."+newID()
		status = fasthttp.StatusCreated
	case "notes":
		var b struct {
			Text string `json:"text"`
		}
		if !decode(ctx, &b, false) {
			return
		}
		if b.Text == "" {
			fail(ctx, codeInvalidNote, "text is required")
			return
		}
		cmd.Type, cmd.Note, cmd.MessageID = "note", b.Text, "sb."+newID()
		status = fasthttp.StatusCreated
	default:
		fail(ctx, codeNotFound, "no such action: "+action)
		return
	}
	// An id that conversation.ID cannot have returned names no conversation: it is answered here, so no record is
	// produced and no actor started for it (an empty id, too, which would be taken for an operator command). Whether
	// a well-formed id exists is the conversation actor's answer (conversation_not_found), not a read here: the
	// command travels in order with the tenant's records, and a read before it would be a second look at the same
	// state (another tenant's id is not found either: the caller's tenant has no such conversation).
	if !conversation.ValidID(id) {
		fail(ctx, conversation.CodeNotFound, "no conversation "+quoteID(id))
		return
	}
	a.run(ctx, op, cmd, status, nil)
}

func findOperator(t *tenant.Tenant, id string) (*tenant.Operator, bool) {
	for i := range t.Operators {
		if t.Operators[i].ID == id {
			return &t.Operators[i], true
		}
	}
	return nil, false
}

// outboundOf reads a reply body; msg explains what is wrong with it.
func outboundOf(raw map[string]json.RawMessage) (b inbox.Outbound, msg string) {
	if err := json.Unmarshal(raw["type"], &b.Type); err != nil || b.Type == "" {
		return b, "type is required"
	}
	switch b.Type {
	case "text":
		if err := json.Unmarshal(raw["text"], &b.Text); err != nil {
			var body struct {
				Body string `json:"body"`
			}
			if json.Unmarshal(raw["text"], &body) != nil {
				return b, "text must be a string or {\"body\": string}"
			}
			b.Text = body.Body
		}
		if b.Text == "" {
			return b, "text is required"
		}
	case "template":
		if err := json.Unmarshal(raw["template"], &b.Template); err != nil {
			return b, "template: " + jsonProblem(err)
		}
		if b.Template == nil || b.Template.Name == "" || b.Template.Language == "" {
			return b, "template needs name and language"
		}
	case "image", "audio", "video", "document", "sticker", "reaction", "interactive":
		if len(raw[b.Type]) == 0 || raw[b.Type][0] != '{' {
			return b, b.Type + " needs its object under \"" + b.Type + "\""
		}
		b.Content = raw[b.Type]
	default:
		return b, "type must be text, template, image, audio, video, document, sticker, reaction or interactive"
	}
	return b, ""
}

// quoteID quotes an id for a message, cut to 40 bytes: a malformed id may be kilobytes long.
func quoteID(id string) string {
	if len(id) > 40 {
		return strconv.Quote(id[:40]) + "…"
	}
	return strconv.Quote(id)
}
