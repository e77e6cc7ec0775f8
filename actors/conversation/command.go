package conversation

// Operator commands and the dispatcher's routing decision.

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// CommandType says what a Command asks for.
type CommandType string

// Command types (docs/contract.md, "Operator API").
const (
	CmdTake     CommandType = "take"
	CmdAttend   CommandType = "attend" // an alias of take
	CmdAssign   CommandType = "assign"
	CmdUnassign CommandType = "unassign"
	CmdTransfer CommandType = "transfer"
	CmdClose    CommandType = "close"
	CmdReopen   CommandType = "reopen"
	CmdSnooze   CommandType = "snooze"
	CmdUnsnooze CommandType = "unsnooze"
	CmdLabels   CommandType = "labels"
	CmdSend     CommandType = "send" // a public reply: free-form text or a template
	CmdNote     CommandType = "note" // a private note; @mentions notify
	CmdRead     CommandType = "read" // the operator has read up to a message
)

// MaxTextLength is the longest text, in characters, of a message or a note (WhatsApp's limit for a text body).
const MaxTextLength = 4096

// Command is an operator's request to change a conversation.
type Command struct {
	Type CommandType `json:"type"`
	// OperatorID is the operator who issues the command. Required.
	OperatorID string `json:"operator_id"`
	// Role is the actor's role: admin, builder or operator. Anything else has no more rights than operator.
	Role string `json:"role"`
	// TargetID is the operator an assign or transfer gives the conversation to.
	TargetID string `json:"target_id,omitempty"`
	// Until is when a snooze ends; zero snoozes until the customer writes.
	Until time.Time `json:"until,omitzero"`
	// AddLabels and RemoveLabels change the labels; a label in both ends up removed.
	AddLabels    []string `json:"add_labels,omitempty"`
	RemoveLabels []string `json:"remove_labels,omitempty"`
	// Message is the reply of a send.
	Message *Outbound `json:"message,omitempty"`
	// Note is the text of a note.
	Note string `json:"note,omitempty"`
	// MessageID is the stable id the caller allocated for the message of a send or note, so a replayed command
	// stores the same message. Required for send and note.
	MessageID string `json:"message_id,omitempty"`
	// Seq is the message a read marks read up to; 0 means the latest.
	Seq uint64 `json:"seq,omitempty"`
	// Inbound, for a read up to a Seq before the latest message, is how many customer messages there are up to
	// Seq, which the caller counts from the stored messages.
	Inbound uint64 `json:"inbound,omitempty"`
}

// Outbound is a reply to the customer, as the API receives it and the inbox record carries it: text, an approved
// template, or media, a reaction or interactive reply buttons with their Cloud API object as Content.
type Outbound = inbox.Outbound

// Template is an approved WhatsApp message template with its body parameters and its buttons' parameters.
type Template = inbox.Template

// TemplateButton gives the parameters of one of a template's buttons: SubType is quick_reply (the payload sent back
// when pressed), url (the dynamic suffix of the link) or copy_code (the code), Index its position (0 to 9).
type TemplateButton = inbox.TemplateButton

// ApplyCommand applies an operator's command to c at time at (the command record's time) and returns the new
// conversation and the effects to release. It is pure: c is not modified.
//
// A refused command returns c unchanged, no effects and a *Refusal. A command that would change nothing (take of
// one's own conversation, assign or transfer to the current assignee, labels already as asked, a snooze to the
// same time) succeeds with c unchanged and no effects. Every other command increments Version once.
//
// Checks run in this order, and the first failing one is reported: the actor's role where the command needs one
// regardless of state (403), the command's own input (400), the conversation's state (409), the actor's relation
// to the conversation (403), the window (422).
//
// Who may do what, where the contract is silent: any operator may take an unassigned conversation, reopen, label
// and write notes; close, snooze, unsnooze and send are for the holder — anyone when nobody holds the conversation,
// else its assignee, admins and builders; transfer and unassign are for the assignee, admins and builders; assign
// is for admins and builders. Sending does not assign the conversation.
//
// Capacity is not checked here: the dispatcher checks it first for the commands AssignsTo names.
func ApplyCommand(c Conversation, cmd Command, p Policy, at time.Time) (Conversation, []Effect, error) {
	if c.ID == "" {
		return c, nil, refuse(CodeNotFound, "conversation does not exist")
	}
	if cmd.OperatorID == "" {
		return c, nil, refuse(CodeInvalidOperator, "command without an operator")
	}
	ch := begin(c, p, at, cmd.OperatorID)
	var r *Refusal
	switch cmd.Type {
	case CmdTake, CmdAttend:
		r = ch.take(cmd)
	case CmdAssign:
		r = ch.assignCmd(cmd)
	case CmdTransfer:
		r = ch.transferCmd(cmd)
	case CmdUnassign:
		r = ch.unassignCmd(cmd)
	case CmdClose:
		r = ch.closeCmd(cmd)
	case CmdReopen:
		r = ch.reopenCmd()
	case CmdSnooze:
		r = ch.snoozeCmd(cmd)
	case CmdUnsnooze:
		r = ch.unsnoozeCmd(cmd)
	case CmdLabels:
		r = ch.labels(cmd)
	case CmdSend:
		r = ch.send(cmd)
	case CmdNote:
		r = ch.note(cmd)
	case CmdRead:
		r = ch.readCmd(cmd)
	default:
		r = refuse(CodeInvalidCommand, "unknown command %q", cmd.Type)
	}
	if r != nil {
		return c, nil, r
	}
	if len(ch.effects) == 0 {
		return c, nil, nil
	}
	next, effects := ch.done()
	return next, effects, nil
}

// AssignsTo reports which operator cmd, if accepted, would give c to, so the dispatcher can check that operator's
// capacity before the command reaches ApplyCommand. ok is false when the command gives the conversation to nobody
// new: other command types, and assign-like commands that change nothing or will be refused for c's state. An
// unsnooze returns the conversation to its assignee, so it names the assignee; a start gives the conversation (c is
// the zero Conversation when it does not exist) to the caller unless the caller holds it already.
func AssignsTo(cmd Command, c Conversation) (operatorID string, ok bool) {
	switch cmd.Type {
	case CmdTake, CmdAttend:
		if cmd.OperatorID != "" && (c.Status == Unassigned || c.Status == Assigned && c.AssigneeID != cmd.OperatorID) {
			return cmd.OperatorID, true
		}
	case CmdAssign:
		if cmd.TargetID != "" && (c.Status == Unassigned || c.Status == Assigned && c.AssigneeID != cmd.TargetID) {
			return cmd.TargetID, true
		}
	case CmdTransfer:
		if cmd.TargetID != "" && c.Status == Assigned && c.AssigneeID != cmd.TargetID {
			return cmd.TargetID, true
		}
	case CmdUnsnooze:
		if c.Status == Snoozed && c.AssigneeID != "" {
			return c.AssigneeID, true
		}
	case CmdStart:
		if cmd.OperatorID != "" && (c.Status != Assigned || c.AssigneeID != cmd.OperatorID) {
			return cmd.OperatorID, true
		}
	}
	return "", false
}

// Assign applies the dispatcher's routing decision: an unassigned conversation goes to operatorID at time at. It is
// refused with CodeNotUnassigned when the conversation left the queue since the dispatcher decided. The dispatcher
// has checked the operator's capacity. p is needed for the timers the assignment starts (reservation).
func Assign(c Conversation, operatorID string, p Policy, at time.Time) (Conversation, []Effect, error) {
	if c.ID == "" {
		return c, nil, refuse(CodeNotFound, "conversation does not exist")
	}
	if operatorID == "" {
		return c, nil, refuse(CodeInvalidOperator, "assignment without an operator")
	}
	if c.Status != Unassigned {
		return c, nil, refuse(CodeNotUnassigned, "conversation is %s, not waiting in the queue", c.Status)
	}
	ch := begin(c, p, at, "")
	ch.assign(operatorID)
	next, effects := ch.done()
	return next, effects, nil
}

// mayHandle reports whether the actor may act on the conversation as its holder: nobody holds it, the actor does,
// or the actor is an admin or builder.
func (ch *change) mayHandle(cmd Command) bool {
	return ch.c.AssigneeID == "" || ch.c.AssigneeID == cmd.OperatorID || supervisor(cmd.Role)
}

func badStatus(s Status) *Refusal {
	return refuse(CodeInvalidStatus, "conversation has unknown status %q", s)
}

// take: an unassigned conversation goes to the actor; one another operator holds is taken over when the actor's
// role is in Policy.TakeoverRoles. Taking a snoozed conversation is refused: unsnooze it first.
func (ch *change) take(cmd Command) *Refusal {
	c := &ch.c
	switch c.Status {
	case Closed:
		return refuse(CodeConversationClosed, "conversation is closed")
	case Snoozed:
		return refuse(CodeConversationSnoozed, "conversation is snoozed")
	case Unassigned:
		ch.assign(cmd.OperatorID)
	case Assigned:
		if c.AssigneeID == cmd.OperatorID {
			return nil
		}
		if !ch.p.mayTakeOver(cmd.Role) {
			return refuse(CodeAlreadyAssigned, "conversation is assigned to %s", c.AssigneeID)
		}
		ch.transfer(cmd.OperatorID)
	default:
		return badStatus(c.Status)
	}
	return nil
}

// assignCmd: an admin or builder gives an unassigned or assigned conversation to the target.
func (ch *change) assignCmd(cmd Command) *Refusal {
	c := &ch.c
	if !supervisor(cmd.Role) {
		return refuse(CodeForbidden, "only admins and builders assign conversations")
	}
	if cmd.TargetID == "" {
		return refuse(CodeInvalidOperator, "assign without a target operator")
	}
	switch c.Status {
	case Closed:
		return refuse(CodeConversationClosed, "conversation is closed")
	case Snoozed:
		return refuse(CodeConversationSnoozed, "conversation is snoozed")
	case Unassigned:
		ch.assign(cmd.TargetID)
	case Assigned:
		if c.AssigneeID != cmd.TargetID {
			ch.transfer(cmd.TargetID)
		}
	default:
		return badStatus(c.Status)
	}
	return nil
}

// transferCmd: the assignee, an admin or a builder gives an assigned conversation to the target.
func (ch *change) transferCmd(cmd Command) *Refusal {
	c := &ch.c
	if cmd.TargetID == "" {
		return refuse(CodeInvalidOperator, "transfer without a target operator")
	}
	if r := ch.needAssigned(); r != nil {
		return r
	}
	if c.AssigneeID != cmd.OperatorID && !supervisor(cmd.Role) {
		return refuse(CodeForbidden, "conversation is assigned to %s", c.AssigneeID)
	}
	if c.AssigneeID != cmd.TargetID {
		ch.transfer(cmd.TargetID)
	}
	return nil
}

// unassignCmd: the assignee, an admin or a builder sends an assigned conversation back to the queue.
func (ch *change) unassignCmd(cmd Command) *Refusal {
	c := &ch.c
	if r := ch.needAssigned(); r != nil {
		return r
	}
	if c.AssigneeID != cmd.OperatorID && !supervisor(cmd.Role) {
		return refuse(CodeForbidden, "conversation is assigned to %s", c.AssigneeID)
	}
	ch.release()
	return nil
}

func (ch *change) needAssigned() *Refusal {
	switch ch.c.Status {
	case Assigned:
		return nil
	case Closed:
		return refuse(CodeConversationClosed, "conversation is closed")
	case Unassigned, Snoozed:
		return refuse(CodeNotAssigned, "conversation is %s", ch.c.Status)
	}
	return badStatus(ch.c.Status)
}

// closeCmd closes an unassigned, assigned or snoozed conversation.
func (ch *change) closeCmd(cmd Command) *Refusal {
	switch ch.c.Status {
	case Closed:
		return refuse(CodeAlreadyClosed, "conversation is already closed")
	case Unassigned, Assigned, Snoozed:
	default:
		return badStatus(ch.c.Status)
	}
	if !ch.mayHandle(cmd) {
		return refuse(CodeForbidden, "conversation is assigned to %s", ch.c.AssigneeID)
	}
	ch.close()
	return nil
}

// reopenCmd sends a closed conversation back to the queue, as a customer message would.
func (ch *change) reopenCmd() *Refusal {
	if ch.c.Status != Closed {
		return refuse(CodeNotClosed, "conversation is %s, not closed", ch.c.Status)
	}
	if Erased(&ch.c) {
		return refuse(CodeErased, "the customer was erased: the conversation reopens when they write")
	}
	ch.reopen()
	return nil
}

// snoozeCmd snoozes an open conversation until cmd.Until, or until the customer writes. A snoozed conversation can
// be snoozed again to change its wake-up time.
func (ch *change) snoozeCmd(cmd Command) *Refusal {
	c := &ch.c
	if !cmd.Until.IsZero() && !cmd.Until.After(ch.at) {
		return refuse(CodeInvalidUntil, "snooze until %s is not after %s", cmd.Until.UTC().Format(time.RFC3339), ch.at.UTC().Format(time.RFC3339))
	}
	switch c.Status {
	case Closed:
		return refuse(CodeSnoozeClosed, "a closed conversation cannot be snoozed")
	case Unassigned, Assigned, Snoozed:
	default:
		return badStatus(c.Status)
	}
	if !ch.mayHandle(cmd) {
		return refuse(CodeForbidden, "conversation is assigned to %s", c.AssigneeID)
	}
	if c.Status == Snoozed && c.SnoozedUntil.Equal(cmd.Until) {
		return nil
	}
	ch.snooze(cmd.Until)
	return nil
}

// unsnoozeCmd wakes a snoozed conversation before its time.
func (ch *change) unsnoozeCmd(cmd Command) *Refusal {
	if ch.c.Status != Snoozed {
		return refuse(CodeNotSnoozed, "conversation is %s, not snoozed", ch.c.Status)
	}
	if !ch.mayHandle(cmd) {
		return refuse(CodeForbidden, "conversation is assigned to %s", ch.c.AssigneeID)
	}
	ch.wake()
	return nil
}

// labels adds cmd.AddLabels, then removes cmd.RemoveLabels. Labels are kept sorted and without repeats, and may be
// changed in any status. A label change is not activity: it does not delay auto-close.
func (ch *change) labels(cmd Command) *Refusal {
	for _, l := range slices.Concat(cmd.AddLabels, cmd.RemoveLabels) {
		if !ValidLabel(l) {
			return refuse(CodeInvalidLabel, "label %q is not [a-z0-9_-]{1,64}", l)
		}
	}
	if len(ch.p.Labels) > 0 {
		for _, l := range cmd.AddLabels {
			if !slices.Contains(ch.p.Labels, l) && !slices.Contains(ch.c.Labels, l) {
				return refuse(CodeUnknownLabel, "label %q is not in the labels catalogue", l)
			}
		}
	}
	next := slices.Concat(ch.c.Labels, cmd.AddLabels)
	next = slices.DeleteFunc(next, func(l string) bool { return slices.Contains(cmd.RemoveLabels, l) })
	slices.Sort(next)
	next = slices.Compact(next)
	if len(next) == 0 {
		next = nil
	}
	if slices.Equal(next, ch.c.Labels) {
		return nil
	}
	ch.c.Labels = next
	ch.emit(EventLabelsChanged, Event{Labels: next})
	return nil
}

// ValidLabel reports whether l is a label: [a-z0-9_-]{1,64}, the form of a skill too (routing.ValidName).
func ValidLabel(l string) bool { return routing.ValidName(l) }

// validText reports whether s is a message or note text: 1 to MaxTextLength characters, not all blank.
func validText(s string) bool {
	return strings.TrimSpace(s) != "" && utf8.RuneCountInString(s) <= MaxTextLength
}

// send stores a public reply, pending its send by the channel's sender. Free-form text needs the 24-hour window
// open at the command's time (at ≤ WindowExpiresAt); a template is always allowed and leaves the window as it is.
// Either kind is a public reply: it answers the customer (AwaitingReply), ends the reservation, and the first one
// of a cycle sets FirstResponseAt. Sending into a snoozed conversation is allowed and leaves it snoozed.
func (ch *change) send(cmd Command) *Refusal {
	c := &ch.c
	m, r := outMessage(cmd)
	if r != nil {
		return r
	}
	out := cmd.Message
	switch c.Status {
	case Closed:
		return refuse(CodeConversationClosed, "conversation is closed")
	case Unassigned, Assigned, Snoozed:
	default:
		return badStatus(c.Status)
	}
	if !ch.mayHandle(cmd) {
		return refuse(CodeForbidden, "conversation is assigned to %s", c.AssigneeID)
	}
	if out.Type != "template" && (c.WindowExpiresAt.IsZero() || ch.at.After(c.WindowExpiresAt)) {
		return refuse(CodeWindowClosed, "the 24-hour window is closed: only templates may be sent")
	}
	var first float64
	if c.FirstResponseAt.IsZero() {
		c.FirstResponseAt = ch.at
		first = seconds(c.CycleStartedAt, ch.at)
	}
	c.AwaitingReply = false
	c.RepliedSinceAssigned = c.AssigneeID != ""
	c.LastActivityAt = ch.at
	ch.store(m)
	ch.emit(EventMessageQueued, Event{OperatorID: cmd.OperatorID, MessageID: m.ID, FirstResponseSeconds: first,
		MessageType: m.Type, Preview: c.LastMessage.Preview})
	return nil
}

// outMessage checks the reply of a send (or a start) as input, whatever the conversation's state, and returns the
// message to store.
func outMessage(cmd Command) (Message, *Refusal) {
	out := cmd.Message
	if out == nil {
		return Message{}, refuse(CodeInvalidMessage, "send without a message")
	}
	m := Message{Direction: DirOut, Type: out.Type, Status: Pending, ID: cmd.MessageID, OperatorID: cmd.OperatorID}
	switch out.Type {
	case "text":
		if !validText(out.Text) {
			return m, refuse(CodeInvalidMessage, "text must have 1 to %d characters", MaxTextLength)
		}
		m.Text = out.Text
	case "template":
		t := out.Template
		if t == nil || t.Name == "" || t.Language == "" {
			return m, refuse(CodeInvalidMessage, "template without name or language")
		}
		for _, b := range t.Buttons {
			if (b.SubType != "quick_reply" && b.SubType != "url" && b.SubType != "copy_code") || b.Index < 0 || b.Index > 9 || len(b.Params) == 0 {
				return m, refuse(CodeInvalidMessage, "template buttons need a sub_type (quick_reply, url, copy_code), an index from 0 to 9 and parameters")
			}
		}
		content, err := json.Marshal(t)
		if err != nil {
			panic("BUG: encode template: " + err.Error())
		}
		m.Content = content
		// The body as the customer reads it, when the API filled it in from the catalogue.
		m.Text = cut(out.Text, MaxTextLength)
	case "image", "audio", "video", "document", "sticker", "reaction", "interactive":
		if r := validContent(out.Type, out.Content); r != nil {
			return m, r
		}
		m.Content = out.Content
		m.Text = captionOf(out.Type, out.Content)
	default:
		return m, refuse(CodeInvalidMessage, "message type %q is not text, template, image, audio, video, document, sticker, reaction or interactive", out.Type)
	}
	if cmd.MessageID == "" {
		return m, refuse(CodeInvalidMessage, "send without a message id")
	}
	return m, nil
}

// note stores a private note, in any status. Each operator it mentions (@id, see Mentions) but its author gets an
// operator.mentioned event. A note is activity: it delays auto-close.
func (ch *change) note(cmd Command) *Refusal {
	if !validText(cmd.Note) {
		return refuse(CodeInvalidMessage, "note must have 1 to %d characters", MaxTextLength)
	}
	if cmd.MessageID == "" {
		return refuse(CodeInvalidMessage, "note without a message id")
	}
	mentions := slices.DeleteFunc(Mentions(cmd.Note), func(op string) bool { return op == cmd.OperatorID })
	ch.c.LastActivityAt = ch.at
	ch.store(Message{Direction: DirNote, Type: "note", Text: cmd.Note, ID: cmd.MessageID, OperatorID: cmd.OperatorID})
	ch.mentioned(mentions, ch.c.Messages)
	ch.emit(EventNoteCreated, Event{OperatorID: cmd.OperatorID, MessageID: cmd.MessageID, Mentions: mentions,
		MessageType: "note", Preview: ch.c.LastMessage.Preview})
	for _, op := range mentions {
		ch.emit(EventMentioned, Event{OperatorID: op, MessageID: cmd.MessageID})
	}
	return nil
}

// Mentions returns the operators a text mentions, in order of first mention and without repeats: each "@" followed
// by [a-z0-9-]+, where the "@" does not follow a letter, digit, '.', '_' or '-' (so "bob@example.com" mentions
// nobody).
func Mentions(text string) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		if text[i] != '@' || i > 0 && wordByte(text[i-1]) {
			continue
		}
		j := i + 1
		for j < len(text) && (text[j] >= 'a' && text[j] <= 'z' || text[j] >= '0' && text[j] <= '9' || text[j] == '-') {
			j++
		}
		if id := text[i+1 : j]; id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
		i = j - 1
	}
	return out
}

func wordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}
