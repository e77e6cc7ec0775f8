package conversation

// Scenario tests: each testdata/*.txt file drives one conversation through customer messages, operator commands,
// routing decisions and timers, each step followed by "----" and the trace it must produce, in the style of
// pebble's datadriven tests. `go test ./actors/conversation -run TestScenarios -rewrite` writes the actual traces
// into the files, to be reviewed with git diff.
//
// Times are Go durations after the scenario's start (at=90s, at=25h); a step without at= happens at the time of the
// step before. Steps:
//
//	policy [reopen=queue|last_operator] [auto_close=D] [reservation=D] [warning=D] [takeover=r1,r2|none]
//	inbound WAMID [type=text] [sent=D]                     Receive; sent is the channel's timestamp (default: at)
//	route OP                                               Assign, the dispatcher's decision
//	fire KIND [due=D]                                      FireTimer; due defaults to the conversation's timer
//	state                                                  print the conversation
//	lists OP…                                              print what lists show: last message, customer messages,
//	                                                       closed by, and each OP's read mark, unread count, mention
//	CMD ACTOR [role=R] [to=OP] [until=D] [add=a,b] [remove=a,b] [text="…"] [template=NAME] [note="…"] [id=ID]
//	    [seq=N] [inbound=N]
//	                                                       ApplyCommand; role defaults to operator, and sends and
//	                                                       notes get ids m1, m2, … unless id= is given
//	start ACTOR [role=R] [wa=DIGITS] [text="…"] [template=NAME] [id=ID]
//	                                                       Start for the scenario's customer (or wa=) on its channel;
//	                                                       role and message ids as for commands
//
// A step's trace is the conversation's status line and its timers, then one line per effect; "refused CODE"
// for a refusal; "no change" when the step changed nothing.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/scenariofile"
)

func TestScenarios(t *testing.T) {
	files := scenariofile.Files(t)
	if len(files) < 4 {
		t.Fatalf("%d scenarios in testdata, want at least 4", len(files))
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			runScenarioFile(t, path)
		})
	}
}

func runScenarioFile(t *testing.T, path string) {
	s := &scenarioRun{at: smT0}
	scenariofile.Run(t, path, *scenariofile.Rewrite, func(cmd string) (string, error) {
		got := s.run(cmd)
		if s.c.ID != "" {
			if err := checkInvariants(s.c, s.p, s.at); err != nil {
				return "", err
			}
		}
		return got, nil
	})
}

// splitWords splits a step into words at spaces outside double quotes, and drops the quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// scenarioRun is the state of a running scenario file.
type scenarioRun struct {
	c   Conversation
	p   Policy
	at  time.Time
	ids int // message ids allocated for sends and notes
}

// stepArgs are a step's words after the first: positional ones in order, key=value ones by key.
type stepArgs struct {
	pos []string
	kv  map[string]string
}

func (a stepArgs) duration(key string) (time.Duration, bool) {
	v, ok := a.kv[key]
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic(fmt.Sprintf("%s=%q is not a duration", key, v))
	}
	return d, true
}

func (a stepArgs) list(key string) []string {
	if v := a.kv[key]; v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// run executes one step and returns its trace. A malformed step is reported as its trace, so the file shows what
// is wrong with it.
func (s *scenarioRun) run(step string) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("bad step: %v", r)
		}
	}()
	words, err := splitWords(step)
	if err != nil {
		panic(err)
	}
	a := stepArgs{kv: map[string]string{}}
	for _, w := range words[1:] {
		if k, v, ok := strings.Cut(w, "="); ok {
			a.kv[k] = v
		} else {
			a.pos = append(a.pos, w)
		}
	}
	if d, ok := a.duration("at"); ok {
		at := smT0.Add(d)
		if at.Before(s.at) {
			panic("time goes backwards")
		}
		s.at = at
	}
	need := func(n int) {
		if len(a.pos) < n {
			panic(fmt.Sprintf("want %d positional arguments", n))
		}
	}
	prev := s.c
	var (
		effects []Effect
		extra   []string
	)
	switch words[0] {
	case "policy":
		s.p = Policy{ReopenTo: a.kv["reopen"]}
		s.p.AutoCloseAfter, _ = a.duration("auto_close")
		s.p.ReservationTimeout, _ = a.duration("reservation")
		s.p.WindowWarning, _ = a.duration("warning")
		switch v := a.kv["takeover"]; v {
		case "":
		case "none":
			s.p.TakeoverRoles = []string{}
		default:
			s.p.TakeoverRoles = strings.Split(v, ",")
		}
		if err := s.p.Validate(); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "state":
		return s.state()
	case "lists":
		return s.lists(a.pos)
	case "inbound":
		need(1)
		sent := s.at
		if d, ok := a.duration("sent"); ok {
			sent = smT0.Add(d)
		}
		typ := a.kv["type"]
		if typ == "" {
			typ = "text"
		}
		var m Message
		s.c, m, effects = Receive(s.c, smIn(a.pos[0], typ, sent, s.at), s.p)
		extra = append(extra, fmt.Sprintf("stored #%d in %s id=%s sent=%s", m.Seq, m.Type, m.ID, s.rel(m.SentAt)))
	case "route":
		need(1)
		s.c, effects, err = Assign(s.c, a.pos[0], s.p, s.at)
	case "fire":
		need(1)
		kind := TimerKind(a.pos[0])
		due := s.c.Timers.Due(kind)
		if d, ok := a.duration("due"); ok {
			due = smT0.Add(d)
		}
		s.c, effects, err = FireTimer(s.c, kind, due, s.p, s.at)
	case "start":
		need(1)
		cmd := Command{Type: CmdStart, OperatorID: a.pos[0], Role: a.kv["role"], MessageID: a.kv["id"]}
		if cmd.Role == "" {
			cmd.Role = "operator"
		}
		if cmd.MessageID == "" {
			s.ids++
			cmd.MessageID = "m" + strconv.Itoa(s.ids)
		}
		if v, ok := a.kv["text"]; ok {
			cmd.Message = &Outbound{Type: "text", Text: v}
		}
		if v, ok := a.kv["template"]; ok {
			cmd.Message = &Outbound{Type: "template", Template: &Template{Name: v, Language: "en"}}
		}
		wa := smCustomer
		if v, ok := a.kv["wa"]; ok {
			wa = v
		}
		s.c, effects, err = Start(s.c, Customer{TenantID: smTenant, ChannelID: smChannel, WaID: wa}, cmd, s.p, s.at)
	default:
		need(1)
		cmd := Command{
			Type:         CommandType(words[0]),
			OperatorID:   a.pos[0],
			Role:         a.kv["role"],
			TargetID:     a.kv["to"],
			AddLabels:    a.list("add"),
			RemoveLabels: a.list("remove"),
			Note:         a.kv["note"],
			MessageID:    a.kv["id"],
		}
		if cmd.Role == "" {
			cmd.Role = "operator"
		}
		if v, ok := a.kv["seq"]; ok {
			cmd.Seq, _ = strconv.ParseUint(v, 10, 64)
		}
		if v, ok := a.kv["inbound"]; ok {
			cmd.Inbound, _ = strconv.ParseUint(v, 10, 64)
		}
		if cmd.MessageID == "" && (cmd.Type == CmdSend || cmd.Type == CmdNote) {
			s.ids++
			cmd.MessageID = "m" + strconv.Itoa(s.ids)
		}
		if d, ok := a.duration("until"); ok {
			cmd.Until = smT0.Add(d)
		}
		if v, ok := a.kv["text"]; ok {
			cmd.Message = &Outbound{Type: "text", Text: v}
		}
		if v, ok := a.kv["template"]; ok {
			cmd.Message = &Outbound{Type: "template", Template: &Template{Name: v, Language: "en"}}
		}
		s.c, effects, err = ApplyCommand(s.c, cmd, s.p, s.at)
	}
	if err != nil {
		if r, ok := err.(*Refusal); ok {
			return "refused " + r.Code
		}
		return "error: " + err.Error()
	}
	if s.c.Version == prev.Version && effects == nil {
		return "no change"
	}
	lines := []string{s.statusLine()}
	if t := s.timersLine(); t != "" {
		lines = append(lines, t)
	}
	lines = append(lines, extra...)
	for _, ef := range effects {
		if m := ef.Message; m != nil {
			l := fmt.Sprintf("stored #%d %s %s id=%s by=%s", m.Seq, m.Direction, m.Type, m.ID, m.OperatorID)
			if m.Text != "" {
				l += fmt.Sprintf(" text=%q", m.Text)
			}
			lines = append(lines, l)
			continue
		}
		lines = append(lines, s.eventLine(ef.Event))
	}
	return strings.Join(lines, "\n")
}

// rel formats t as a duration after the scenario's start, "-" for the zero time.
func (s *scenarioRun) rel(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(smT0).String()
}

func (s *scenarioRun) statusLine() string {
	c := &s.c
	l := fmt.Sprintf("v%d %s", c.Version, c.Status)
	if c.AssigneeID != "" {
		l += " assignee=" + c.AssigneeID
	}
	if c.Status == Snoozed {
		l += " until=" + s.rel(c.SnoozedUntil)
	}
	if c.AwaitingReply {
		l += " awaiting-reply"
	}
	return l
}

func (s *scenarioRun) timersLine() string {
	t := s.c.Timers
	var parts []string
	for _, k := range []TimerKind{TimerAutoClose, TimerSnoozeWake, TimerReservation, TimerWindowWarning} {
		if due := t.Due(k); !due.IsZero() {
			parts = append(parts, fmt.Sprintf("%s=%s", k, s.rel(due)))
		}
	}
	if parts == nil {
		return ""
	}
	return "timers " + strings.Join(parts, " ")
}

func (s *scenarioRun) eventLine(e *Event) string {
	l := e.Type
	add := func(k, v string) {
		if v != "" {
			l += " " + k + "=" + v
		}
	}
	secs := func(v float64) string {
		if v == 0 {
			return ""
		}
		return (time.Duration(v * float64(time.Second))).String()
	}
	add("actor", e.ActorID)
	add("operator", e.OperatorID)
	add("previous", e.PreviousOperatorID)
	add("message", e.MessageID)
	add("mentions", strings.Join(e.Mentions, ","))
	add("labels", strings.Join(e.Labels, ","))
	if e.Seq != 0 {
		add("seq", strconv.FormatUint(e.Seq, 10))
	}
	if e.Sticky {
		l += " sticky"
	}
	if !e.WindowExpiresAt.IsZero() {
		add("window", s.rel(e.WindowExpiresAt))
	}
	add("wait", secs(e.WaitSeconds))
	add("first-response", secs(e.FirstResponseSeconds))
	add("handling", secs(e.HandlingSeconds))
	return l
}

func (s *scenarioRun) state() string {
	c := &s.c
	if c.ID == "" {
		return "no conversation"
	}
	return strings.Join([]string{
		s.statusLine(),
		fmt.Sprintf("last-operator=%s labels=%s messages=%d", orDash(c.LastOperatorID, "-"), orDash(strings.Join(c.Labels, ","), "-"), c.Messages),
		fmt.Sprintf("window=%s last-inbound=%s activity=%s", s.rel(c.WindowExpiresAt), s.rel(c.LastInboundAt), s.rel(c.LastActivityAt)),
		fmt.Sprintf("cycle=%s first-response=%s waiting=%s assigned=%s", s.rel(c.CycleStartedAt), s.rel(c.FirstResponseAt), s.rel(c.WaitingSince), s.rel(c.AssignedAt)),
	}, "\n")
}

func orDash(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// lists prints what the inbox lists show of the conversation, and each of ops' read state.
func (s *scenarioRun) lists(ops []string) string {
	c := &s.c
	if c.ID == "" {
		return "no conversation"
	}
	l := "last=-"
	if m := c.LastMessage; m != nil {
		l = fmt.Sprintf("last=#%d %s %s %s by=%s at=%s preview=%q", m.Seq, m.Direction, m.Type, orDash(string(m.Status), "-"),
			orDash(m.OperatorID, "-"), s.rel(m.At), m.Preview)
	}
	lines := []string{l, fmt.Sprintf("inbound=%d closed-by=%s", c.InboundCount, orDash(c.ClosedBy, "-"))}
	for _, op := range ops {
		r := c.ReadBy[op]
		lines = append(lines, fmt.Sprintf("%s read=#%d/%d unread=%d mention=#%d unread-mention=%t", op, r.Seq, r.Inbound,
			Unread(c, op), c.MentionMarks[op].Seq, MentionUnread(c, op)))
	}
	return strings.Join(lines, "\n")
}
