// Package scenario drives conversations through the real domain rules (conversation.Receive, Assign, ApplyCommand)
// to produce switchboard.events exactly as the router publishes them, for the analytics tests and benchmarks: a
// scripted scenario with known timings, or random lifecycles.
//
// It may import the pure conversation rules, ingest/inbox and the analytics packages; only tests and benchmarks import
// it.
package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/analytics/schema"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Sim is one tenant's channel with its conversations. Each method applies one input at the given time and appends
// the events it publishes to Events; a refused input fails the test. Not safe for concurrent use.
type Sim struct {
	tb      testing.TB
	Tenant  string
	Channel string
	Policy  conversation.Policy
	// Events are the events published so far, in order.
	Events  []conversation.Event
	convs   map[string]conversation.Conversation
	lastOut map[string]conversation.Message
	n       int
}

// New returns a Sim for tenant's channel.
func New(tb testing.TB, tenant, channel string) *Sim {
	return &Sim{tb: tb, Tenant: tenant, Channel: channel, convs: map[string]conversation.Conversation{},
		lastOut: map[string]conversation.Message{}}
}

// Customers returns the customers that have a conversation, in no particular order.
func (s *Sim) Customers() []string {
	out := make([]string, 0, len(s.convs))
	for c := range s.convs {
		out = append(out, c)
	}
	return out
}

// Conversation returns the conversation of customer.
func (s *Sim) Conversation(customer string) conversation.Conversation { return s.convs[customer] }

func (s *Sim) nextID(prefix string) string {
	s.n++
	return prefix + strconv.Itoa(s.n)
}

func (s *Sim) publish(customer string, c conversation.Conversation, effects []conversation.Effect) {
	s.convs[customer] = c
	for _, ef := range effects {
		if ef.Event != nil {
			s.Events = append(s.Events, *ef.Event)
		}
		if m := ef.Message; m != nil && m.Direction == conversation.DirOut {
			s.lastOut[customer] = *m
		}
	}
}

// Customer applies a text message from customer at at.
func (s *Sim) Customer(customer string, at time.Time) {
	s.tb.Helper()
	in := conversation.Inbound{
		TenantID:  s.Tenant,
		ChannelID: s.Channel,
		Message: &inbox.Message{ID: s.nextID("wamid."), From: customer, Type: "text", Text: "hello",
			Timestamp: at.Unix()},
		At: at,
	}
	c, _, effects := conversation.Receive(s.convs[customer], in, s.Policy)
	s.publish(customer, c, effects)
}

// Assign applies the dispatcher's assignment of customer's conversation to op.
func (s *Sim) Assign(customer, op string, at time.Time) {
	s.tb.Helper()
	c, effects, err := conversation.Assign(s.convs[customer], op, s.Policy, at)
	if err != nil {
		s.tb.Fatalf("scenario: assign %s to %s at %v: %v", customer, op, at, err)
	}
	s.publish(customer, c, effects)
}

// Command applies cmd (as an admin when cmd.Role is empty) to customer's conversation. A send or note without a
// MessageID gets one.
func (s *Sim) Command(customer string, cmd conversation.Command, at time.Time) {
	s.tb.Helper()
	if err := s.TryCommand(customer, cmd, at); err != nil {
		s.tb.Fatalf("scenario: %s on %s by %s at %v: %v", cmd.Type, customer, cmd.OperatorID, at, err)
	}
}

// TryCommand is Command that returns the refusal instead of failing the test.
func (s *Sim) TryCommand(customer string, cmd conversation.Command, at time.Time) error {
	if cmd.Role == "" {
		cmd.Role = "admin"
	}
	if (cmd.Type == conversation.CmdSend || cmd.Type == conversation.CmdNote) && cmd.MessageID == "" {
		cmd.MessageID = s.nextID("msg-")
	}
	c, effects, err := conversation.ApplyCommand(s.convs[customer], cmd, s.Policy, at)
	if err != nil {
		return err
	}
	s.publish(customer, c, effects)
	return nil
}

// Reply sends a public text reply by op.
func (s *Sim) Reply(customer, op string, at time.Time) {
	s.tb.Helper()
	s.Command(customer, conversation.Command{Type: conversation.CmdSend, OperatorID: op,
		Message: &conversation.Outbound{Type: "text", Text: "on it"}}, at)
}

// Note writes a private note by op.
func (s *Sim) Note(customer, op string, at time.Time) {
	s.tb.Helper()
	s.Command(customer, conversation.Command{Type: conversation.CmdNote, OperatorID: op, Note: "looking @boss"}, at)
}

// Close closes the conversation as op.
func (s *Sim) Close(customer, op string, at time.Time) {
	s.tb.Helper()
	s.Command(customer, conversation.Command{Type: conversation.CmdClose, OperatorID: op}, at)
}

// Transfer gives the conversation from its holder to to, as op.
func (s *Sim) Transfer(customer, op, to string, at time.Time) {
	s.tb.Helper()
	s.Command(customer, conversation.Command{Type: conversation.CmdTransfer, OperatorID: op, TargetID: to}, at)
}

// Unassign sends the conversation back to the queue, as op.
func (s *Sim) Unassign(customer, op string, at time.Time) {
	s.tb.Helper()
	s.Command(customer, conversation.Command{Type: conversation.CmdUnassign, OperatorID: op}, at)
}

// Labels adds and removes labels, as op.
func (s *Sim) Labels(customer, op string, add, remove []string, at time.Time) {
	s.tb.Helper()
	s.Command(customer, conversation.Command{Type: conversation.CmdLabels, OperatorID: op, AddLabels: add,
		RemoveLabels: remove}, at)
}

// Snooze snoozes the conversation until the customer writes, as op.
func (s *Sim) Snooze(customer, op string, at time.Time) {
	s.tb.Helper()
	s.Command(customer, conversation.Command{Type: conversation.CmdSnooze, OperatorID: op}, at)
}

// Status publishes a delivery status of the last reply in customer's conversation, as the router does.
func (s *Sim) Status(customer string, status conversation.MessageStatus, at time.Time) {
	s.tb.Helper()
	m, ok := s.lastOut[customer]
	if !ok {
		s.tb.Fatalf("scenario: status for %s, which has no reply", customer)
	}
	m.Status = status
	s.Events = append(s.Events, *conversation.StatusEvent(s.convs[customer], m, at))
}

// JSON returns each event encoded as the outbox relays it.
func JSON(tb testing.TB, events []conversation.Event) [][]byte {
	tb.Helper()
	out := make([][]byte, len(events))
	for i := range events {
		b, err := json.Marshal(&events[i])
		if err != nil {
			tb.Fatalf("scenario: encode event: %v", err)
		}
		out[i] = b
	}
	return out
}

// Rows returns the events as the sink stores them (through the sink's own decoder).
func Rows(tb testing.TB, events []conversation.Event) []schema.Event {
	tb.Helper()
	var rows []schema.Event
	for _, b := range JSON(tb, events) {
		e, err := schema.Decode(b)
		if err != nil {
			tb.Fatalf("scenario: decode event %s: %v", b, err)
		}
		rows = append(rows, e)
	}
	return rows
}

// Random plays n random conversation lifecycles on s, starting at start and spread over span: customers write,
// the dispatcher assigns, operators reply, note, label, transfer, unassign, snooze and close, customers come back
// to closed conversations. Every step's time is after the previous one of its conversation.
func Random(s *Sim, rng *rand.Rand, ops []string, labels []string, start time.Time, span time.Duration, n int) {
	s.tb.Helper()
	for i := range n {
		customer := fmt.Sprintf("%s-cust-%d", s.Tenant, i)
		at := start.Add(time.Duration(rng.Int64N(int64(span))))
		step := func() time.Time {
			at = at.Add(time.Duration(1+rng.IntN(600))*time.Second + time.Duration(rng.IntN(1e9)))
			return at
		}
		s.Customer(customer, at)
		try := func(cmd conversation.Command) { _ = s.TryCommand(customer, cmd, step()) }
		for range 3 + rng.IntN(12) {
			c := s.convs[customer]
			op := ops[rng.IntN(len(ops))]
			switch r := rng.IntN(100); {
			case c.Status == conversation.Closed:
				if r < 60 {
					s.Customer(customer, step())
				}
			case r < 25:
				s.Customer(customer, step())
			case c.Status == conversation.Unassigned && r < 55:
				s.Assign(customer, op, step())
			case r < 55 && c.AssigneeID != "":
				s.Reply(customer, c.AssigneeID, step())
				if rng.IntN(3) == 0 {
					s.Status(customer, conversation.Delivered, step())
				}
			case r < 62:
				try(conversation.Command{Type: conversation.CmdLabels, OperatorID: op,
					AddLabels:    []string{labels[rng.IntN(len(labels))]},
					RemoveLabels: []string{labels[rng.IntN(len(labels))]}})
			case r < 66:
				try(conversation.Command{Type: conversation.CmdNote, OperatorID: op, Note: "see @" + op})
			case r < 72:
				try(conversation.Command{Type: conversation.CmdTransfer, OperatorID: op, TargetID: op})
			case r < 76:
				try(conversation.Command{Type: conversation.CmdUnassign, OperatorID: op})
			case r < 79:
				try(conversation.Command{Type: conversation.CmdSnooze, OperatorID: op})
			case r < 92:
				try(conversation.Command{Type: conversation.CmdClose, OperatorID: op})
			default:
				try(conversation.Command{Type: conversation.CmdSend, OperatorID: op,
					Message: &conversation.Outbound{Type: "text", Text: "hi"}})
			}
		}
	}
}
