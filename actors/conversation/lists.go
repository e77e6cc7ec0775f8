package conversation

// What the inbox lists show of a conversation without reading its messages: the last message's summary, the
// customer messages counted for unread badges, each operator's read mark, each operator's latest mention, and who
// closed it. The state machine keeps them; the store indexes them.

import (
	"encoding/json"
	"maps"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// PreviewLength is the longest preview, in characters, of a message in lists and events.
const PreviewLength = 120

// LastMessage summarises a conversation's latest message or note, as lists show it.
type LastMessage struct {
	Seq       uint64    `json:"seq"`
	Direction Direction `json:"direction"`
	Type      string    `json:"type"`
	// Preview is what a person reads first, at most PreviewLength characters (see Preview).
	Preview string `json:"preview"`
	// At is when Switchboard stored the message (ingest or command time).
	At     time.Time     `json:"at"`
	Status MessageStatus `json:"status"`
	// OperatorID is the author of an outbound message or a note; empty for customer messages.
	OperatorID string `json:"operator_id,omitempty"`
}

// ReadMark is how far an operator has read a conversation.
type ReadMark struct {
	// Seq is the last message read.
	Seq uint64 `json:"seq"`
	// Inbound is how many customer messages there were up to Seq: Unread subtracts it from InboundCount.
	Inbound uint64 `json:"inbound"`
	// At is the time of the read command.
	At time.Time `json:"at"`
}

// MentionMark is an operator's latest mention in a conversation's notes.
type MentionMark struct {
	// Seq is the note that mentions the operator.
	Seq uint64    `json:"seq"`
	At  time.Time `json:"at"`
}

// Unread is how many customer messages op has not read in c: those after op's read mark.
func Unread(c *Conversation, op string) uint64 {
	read := c.ReadBy[op].Inbound
	if read >= c.InboundCount {
		return 0
	}
	return c.InboundCount - read
}

// MentionUnread reports whether a note mentions op after op's read mark.
func MentionUnread(c *Conversation, op string) bool {
	m, ok := c.MentionMarks[op]
	return ok && m.Seq > c.ReadBy[op].Seq
}

// summarise makes m the conversation's last message.
func (c *Conversation) summarise(m *Message) {
	c.LastMessage = &LastMessage{Seq: m.Seq, Direction: m.Direction, Type: m.Type,
		Preview: Preview(m.Type, m.Text, m.Content), At: m.CreatedAt, Status: m.Status, OperatorID: m.OperatorID}
}

// ApplyLastStatus carries the delivery status of m, just changed, to c's last message summary when m is the last
// message, and reports whether c changed. A delivery status is not a change of the state machine: Version stays.
func ApplyLastStatus(c Conversation, m Message) (Conversation, bool) {
	lm := c.LastMessage
	if lm == nil || lm.Seq != m.Seq || lm.Status == m.Status {
		return c, false
	}
	next := *lm
	next.Status = m.Status
	c.LastMessage = &next
	return c, true
}

// Preview is what lists and events show of a message: its text or caption, or for media without one a label such
// as "📷 Photo", "📄 invoice.pdf" or "🎤 Voice message"; newlines become spaces and it is cut to PreviewLength
// characters (an ellipsis ends a cut one), never inside a character.
func Preview(typ, text string, content json.RawMessage) string {
	var v previewContent
	switch typ {
	case "audio", "document", "location", "reaction", "template":
		v = previewContentOf(content) // the other types read nothing of their content here
	}
	label := func(l string) string {
		if text != "" {
			return l[:strings.IndexByte(l, ' ')+1] + text
		}
		return l
	}
	var p string
	switch typ {
	case "text", "note", "button", "interactive":
		p = text
	case "image":
		p = label("📷 Photo")
	case "video":
		p = label("🎥 Video")
	case "audio":
		if v.Voice {
			p = "🎤 Voice message"
		} else {
			p = "🎵 Audio"
		}
	case "document":
		switch {
		case v.Filename != "":
			p = "📄 " + v.Filename
		default:
			p = label("📄 Document")
		}
	case "sticker":
		p = "💟 Sticker"
	case "location":
		switch {
		case v.Name != "":
			p = "📍 " + v.Name
		case v.Address != "":
			p = "📍 " + v.Address
		default:
			p = "📍 Location"
		}
	case "contacts":
		p = "👤 Contact"
		var cs []struct {
			Name struct {
				FormattedName string `json:"formatted_name"`
			} `json:"name"`
		}
		if json.Unmarshal(content, &cs) == nil && len(cs) > 0 && cs[0].Name.FormattedName != "" {
			p += ": " + cs[0].Name.FormattedName
		}
	case "reaction":
		e := v.Emoji
		if e == "" {
			e = text
		}
		p = "Reacted " + e
	case "template":
		p = "📋 Template: " + v.Name
	default:
		p = text
		if p == "" {
			p = "Unsupported message (" + typ + ")"
		}
	}
	return cut(squash(p), PreviewLength)
}

// previewContent is what Preview reads of a message's content.
type previewContent struct {
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
	Name     string `json:"name"`
	Address  string `json:"address"`
	Emoji    string `json:"emoji"`
	Language any    `json:"language"`
}

// previewContentOf decodes content when it is an object (what a decoding error leaves undecoded stays zero).
func previewContentOf(content json.RawMessage) (v previewContent) {
	if len(content) > 0 && content[0] == '{' {
		_ = json.Unmarshal(content, &v)
	}
	return v
}

// squash returns s with its words separated by single spaces and no space around them, as
// strings.Join(strings.Fields(s), " "), returning s itself when it is so already (a usual short text).
func squash(s string) string {
	prevSpace := true // a space first is not squashed already
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ':
				if prevSpace {
					return strings.Join(strings.Fields(s), " ")
				}
				prevSpace = true
			case c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
				return strings.Join(strings.Fields(s), " ")
			default:
				prevSpace = false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			return strings.Join(strings.Fields(s), " ")
		}
		prevSpace = false
		i += n
	}
	if prevSpace && s != "" {
		return strings.Join(strings.Fields(s), " ") // a space last
	}
	return s
}

// cut returns s with at most n characters: cut ones end in "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// readCmd moves the actor's read mark to cmd.Seq (0: the latest message). A mark only moves forward: reading up to
// an earlier message changes nothing. Any operator of the tenant may mark a conversation read, in any status; it is
// not activity (LastActivityAt stays, auto-close does not move).
//
// The mark's count of customer messages is InboundCount when Seq is the latest message, else cmd.Inbound, which
// the caller counted from the stored messages (the rules hold no messages); a count above InboundCount is refused.
func (ch *change) readCmd(cmd Command) *Refusal {
	c := &ch.c
	seq := cmd.Seq
	if seq == 0 {
		seq = c.Messages
	}
	if seq > c.Messages {
		return refuse(CodeInvalidSeq, "message %d is beyond the conversation's %d messages", seq, c.Messages)
	}
	inbound := c.InboundCount
	if seq < c.Messages {
		if cmd.Inbound > c.InboundCount {
			return refuse(CodeInvalidSeq, "%d customer messages up to %d, but the conversation has %d", cmd.Inbound, seq, c.InboundCount)
		}
		inbound = cmd.Inbound
	}
	if cur, ok := c.ReadBy[cmd.OperatorID]; ok && seq <= cur.Seq {
		return nil
	}
	c.ReadBy = maps.Clone(c.ReadBy)
	if c.ReadBy == nil {
		c.ReadBy = map[string]ReadMark{}
	}
	c.ReadBy[cmd.OperatorID] = ReadMark{Seq: seq, Inbound: inbound, At: ch.at}
	ch.emit(EventRead, Event{OperatorID: cmd.OperatorID, Seq: seq})
	return nil
}

// mentioned records that note seq mentions each of ops.
func (ch *change) mentioned(ops []string, seq uint64) {
	if len(ops) == 0 {
		return
	}
	c := &ch.c
	c.MentionMarks = maps.Clone(c.MentionMarks)
	if c.MentionMarks == nil {
		c.MentionMarks = map[string]MentionMark{}
	}
	for _, op := range ops {
		c.MentionMarks[op] = MentionMark{Seq: seq, At: ch.at}
	}
}
